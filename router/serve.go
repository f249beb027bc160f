package router

import (
	"errors"
	"net"
	"net/http"

	"github.com/wampkit/wampkit/transport"
)

// Handler returns the router's WebSocket endpoint (spec basic "WebSocket
// Transport"): an http.Handler that upgrades requests to WebSocket,
// negotiates the WAMP sub-protocol (wamp.2.json, wamp.2.msgpack,
// wamp.2.cbor and the batched variants, as [Config.WebSocket] allows) and
// serves one session per connection on a goroutine of its own. Mount it
// on any mux; every call returns the same handler.
//
// After [Router.Close] or [Router.Shutdown] the handler closes new
// connections at once.
func (r *Router) Handler() http.Handler {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ws == nil {
		r.ws = &transport.WebSocketServer{Config: r.cfg.WebSocket, Handler: r.serve}
		r.servers[r.ws] = struct{}{}
	}
	return r.ws
}

// ServeRawSocket accepts RawSocket connections on l (spec advanced
// "RawSocket Transport"; TCP, Unix sockets, or TLS if
// [Config.RawSocket].TLSConfig is set) and serves one session per
// connection, until l fails or the router is closed. It runs on the
// calling goroutine and may be called for several listeners. It closes l
// when it returns, and always returns a non-nil error: [ErrClosed] after
// [Router.Close] or [Router.Shutdown].
func (r *Router) ServeRawSocket(l net.Listener) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		l.Close()
		return ErrClosed
	}
	if r.raw == nil {
		r.raw = &transport.RawSocketServer{Config: r.cfg.RawSocket, Handler: r.serve}
		r.servers[r.raw] = struct{}{}
	}
	srv := r.raw
	r.mu.Unlock()
	err := srv.Serve(l)
	if errors.Is(err, transport.ErrServerClosed) {
		return ErrClosed
	}
	return err
}
