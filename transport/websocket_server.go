package transport

import (
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/gorilla/websocket"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

// WebSocketConfig configures a [WebSocketServer]. The zero value is a valid
// configuration: every sub-protocol, 1 MiB messages, keep-alive pings
// every 30 s, same-origin check for browsers, no compression.
type WebSocketConfig struct {
	// PeerConfig holds the settings of every peer the server makes.
	// Its MaxMessageSize is the largest WebSocket message accepted from
	// a client (by default 1 MiB); a larger one is answered with close
	// code 1009 (message too big) and ends the session.
	PeerConfig
	// Serializers lists the serializers offered, as sub-protocols
	// wamp.2.json, wamp.2.msgpack and wamp.2.cbor (WAMP spec,
	// basic/building_blocks.md, "WebSocket Transport"). nil or empty means
	// all three. When JSON is offered, wamp.2.json.batched is offered too
	// unless DisableBatched is set.
	Serializers []serialize.Serializer
	// DisableBatched turns off the wamp.2.json.batched sub-protocol
	// (advanced/transport_batched_websocket.md).
	DisableBatched bool
	// CheckOrigin decides whether a request's Origin header is
	// acceptable; a refused request gets HTTP 403. nil means gorilla's
	// default: requests without Origin (non-browser clients) pass, browser
	// requests pass only if Origin's host equals the Host header.
	CheckOrigin func(r *http.Request) bool
	// EnableCompression negotiates permessage-deflate (RFC 7692) when the
	// client offers it. MaxMessageSize then applies to the inflated
	// message, and reading stops at the first byte over it.
	EnableCompression bool
}

// WebSocketServer is the router side of WAMP-over-WebSocket, an
// http.Handler to mount on any mux or http.Server; serve it over TLS
// (http.Server.ServeTLS) for wss. A request that offers none of its
// sub-protocols gets HTTP 400 with a message naming the sub-protocols it
// speaks; a request that is no WebSocket upgrade gets HTTP 400 too.
//
// Set Config and Handler before serving the first request and leave them
// alone afterwards. ServeHTTP and Close may be called from any goroutine.
type WebSocketServer struct {
	// Config configures the server.
	Config WebSocketConfig
	// Handler is called on the HTTP request's goroutine with the peer of
	// every upgraded connection. The handler owns the peer: it runs the
	// session (one goroutine calls Recv) and the peer is closed when the
	// handler returns. nil closes every connection at once.
	Handler func(Peer)

	once   sync.Once
	peer   PeerConfig // Config.PeerConfig with defaults; set by init
	protos []string   // sub-protocols offered
	up     websocket.Upgrader

	mu     sync.Mutex // guards closed and peers
	closed bool
	peers  map[*wsPeer]struct{}
	wg     sync.WaitGroup // one per running ServeHTTP that upgraded
}

var _ http.Handler = (*WebSocketServer)(nil)

func (s *WebSocketServer) init() {
	cfg := s.Config
	s.peer = cfg.PeerConfig.withDefaults(defaultServerMaxMessageSize)
	sers := cfg.Serializers
	if len(sers) == 0 {
		sers = []serialize.Serializer{serialize.JSON, serialize.MessagePack, serialize.CBOR}
	}
	for _, ser := range sers {
		if ser.Codec() == nil {
			continue
		}
		s.protos = append(s.protos, ser.SubProtocol())
		if ser == serialize.JSON && !cfg.DisableBatched {
			s.protos = append(s.protos, serialize.JSONBatchedSubProtocol)
		}
	}
	s.up = websocket.Upgrader{
		HandshakeTimeout:  s.peer.HandshakeTimeout,
		CheckOrigin:       cfg.CheckOrigin,
		EnableCompression: cfg.EnableCompression,
	}
	s.peers = make(map[*wsPeer]struct{})
}

// choose returns the first sub-protocol of the client's offer that the
// server speaks, or "".
func (s *WebSocketServer) choose(r *http.Request) string {
	for _, offered := range websocket.Subprotocols(r) {
		for _, p := range s.protos {
			if offered == p {
				return p
			}
		}
	}
	return ""
}

// ServeHTTP upgrades the request to a WebSocket with a WAMP sub-protocol
// and runs Handler with its peer.
func (s *WebSocketServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.once.Do(s.init)
	if !websocket.IsWebSocketUpgrade(r) {
		http.Error(w, "transport: this is a WAMP-over-WebSocket endpoint; expected a WebSocket upgrade request", http.StatusBadRequest)
		return
	}
	proto := s.choose(r)
	if proto == "" {
		msg := fmt.Sprintf("transport: no supported WAMP sub-protocol in Sec-WebSocket-Protocol %q; supported: %s",
			r.Header.Get("Sec-WebSocket-Protocol"), strings.Join(s.protos, ", "))
		http.Error(w, msg, http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "transport: server closed", http.StatusServiceUnavailable)
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	up := s.up
	up.Subprotocols = []string{proto}
	hj := &corkHijacker{ResponseWriter: w}
	ws, err := up.Upgrade(hj, r, nil) // on error Upgrade has replied
	if err != nil {
		s.peer.Logger.Debug("transport: websocket upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	ser, _ := serialize.BySubProtocol(proto)
	details := protocol.Dict{
		"type":       "websocket",
		"serializer": ser.String(),
		"protocol":   proto,
		"peer":       peerAddr(ws.RemoteAddr()),
	}
	p := newWSPeer(ws, hj.conn, s.peer, ser, proto == serialize.JSONBatchedSubProtocol, details)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = p.Close(ErrServerClosed)
		return
	}
	s.peers[p] = struct{}{}
	s.mu.Unlock()
	defer func() {
		_ = p.Close(nil)
		s.mu.Lock()
		delete(s.peers, p)
		s.mu.Unlock()
	}()
	if s.Handler != nil {
		s.Handler(p)
	}
}

// Close closes every peer of the server with reason ErrServerClosed (close
// code 1001, going away) and waits until every ServeHTTP call that
// upgraded has returned, so every Handler too. Later upgrade requests get
// HTTP 503. Close does not stop the http.Server; shut that down yourself.
func (s *WebSocketServer) Close() error {
	s.once.Do(s.init)
	s.mu.Lock()
	s.closed = true
	peers := make([]*wsPeer, 0, len(s.peers))
	for p := range s.peers {
		peers = append(peers, p)
	}
	s.mu.Unlock()
	for _, p := range peers {
		p.shutdown(ErrServerClosed)
	}
	for _, p := range peers {
		_ = p.Close(ErrServerClosed)
	}
	s.wg.Wait()
	return nil
}
