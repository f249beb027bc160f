package transport

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

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
	// requests pass only if Origin's host equals the Host header (same
	// origin).
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
// speaks; one from an Origin that Config.CheckOrigin refuses gets HTTP 403
// with a message naming the setting that allows it. Both refusals are
// logged at WARN with the origin and the sub-protocols offered, at most
// one line per 10 seconds for each (the next line counts the others), so
// that a flood cannot fill a disk. A request that is no WebSocket upgrade
// gets HTTP 400.
//
// Set Config and Handler before serving the first request and leave them
// alone afterwards. ServeHTTP and Close may be called from any goroutine.
type WebSocketServer struct {
	// Config configures the server.
	Config WebSocketConfig
	// Handler is called with the peer of every upgraded connection, on
	// a goroutine of the server's own: ServeHTTP returns once the
	// connection is upgraded, so that net/http's goroutine and its
	// buffers and request (some 10 KiB) are not held for the life of the
	// session. The handler owns the peer: it runs the session (one
	// goroutine calls Recv) and the peer is closed when the handler
	// returns. nil closes every connection at once.
	Handler func(Peer)

	once   sync.Once
	peer   PeerConfig // Config.PeerConfig with defaults; set by init
	protos []string   // sub-protocols offered
	up     websocket.Upgrader

	// Log lines about refused upgrades, one limit for each reason.
	originRefusals, protoRefusals logLimiter

	mu     sync.Mutex // guards closed and peers
	closed bool
	peers  map[*wsPeer]struct{}
	wg     sync.WaitGroup // one per upgrading ServeHTTP and per running Handler
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
		ReadBufferSize:    peekBuffer,
		WriteBufferPool:   &wsWriteBuffers,
		HandshakeTimeout:  s.peer.HandshakeTimeout,
		CheckOrigin:       func(*http.Request) bool { return true }, // ServeHTTP has checked
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
// and starts Handler with its peer on a goroutine of its own; it returns
// once the connection is upgraded (or refused).
func (s *WebSocketServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.once.Do(s.init)
	if !websocket.IsWebSocketUpgrade(r) {
		http.Error(w, "transport: this is a WAMP-over-WebSocket endpoint; expected a WebSocket upgrade request", http.StatusBadRequest)
		return
	}
	proto := s.choose(r)
	if proto == "" {
		supported := strings.Join(s.protos, ", ")
		s.logRefusal(&s.protoRefusals, r, "no supported WAMP sub-protocol", "supported", supported)
		msg := fmt.Sprintf("transport: no supported WAMP sub-protocol in Sec-WebSocket-Protocol %q; supported: %s "+
			"(the server's serializers: wampd's websocket.serializers, or WebSocketConfig.Serializers in a program)",
			clip(r.Header.Get("Sec-WebSocket-Protocol")), supported)
		http.Error(w, msg, http.StatusBadRequest)
		return
	}
	if !s.checkOrigin(r) {
		s.logRefusal(&s.originRefusals, r, "origin not allowed",
			"hint", "allow the origin with wampd's websocket.allowed_origins (-allowed-origins), or WebSocketConfig.CheckOrigin in a program")
		msg := fmt.Sprintf("transport: origin %q may not open a WebSocket to %q. To allow it, add it to wampd's "+
			"websocket.allowed_origins setting (or its -allowed-origins flag), or, in a program embedding the "+
			"router, accept it in WebSocketConfig.CheckOrigin (router.Config.WebSocket.CheckOrigin)",
			clip(r.Header.Get("Origin")), clip(r.Host))
		http.Error(w, msg, http.StatusForbidden)
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
	handed := false
	defer func() {
		if !handed {
			s.wg.Done()
		}
	}()

	up := s.up
	up.Subprotocols = []string{proto}
	hj := &corkHijacker{ResponseWriter: w, timeout: s.peer.WriteTimeout}
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
	handed = true
	go s.serve(p)
}

// serve runs Handler with p, then closes p. It holds one count of s.wg.
func (s *WebSocketServer) serve(p *wsPeer) {
	defer s.wg.Done()
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

// checkOrigin reports whether r's Origin may open a WebSocket:
// Config.CheckOrigin, or gorilla's default, which lets requests without
// Origin (non-browser clients) through, and browser requests whose
// Origin's host is the Host header (same origin).
func (s *WebSocketServer) checkOrigin(r *http.Request) bool {
	if s.Config.CheckOrigin != nil {
		return s.Config.CheckOrigin(r)
	}
	origin := r.Header["Origin"]
	if len(origin) == 0 {
		return true
	}
	u, err := url.Parse(origin[0])
	if err != nil {
		return false
	}
	return equalASCIIFold(u.Host, r.Host)
}

// equalASCIIFold reports whether s and t are equal, ASCII letters compared
// without case (as gorilla compares hosts; a Unicode fold would let
// U+212A KELVIN SIGN match k).
func equalASCIIFold(s, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		a, b := s[i], t[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

// refusalLogInterval is the least time between two log lines about
// refused upgrades: a flood of them cannot fill a disk.
const refusalLogInterval = 10 * time.Second

// logRefusal logs at WARN that r's upgrade was refused for reason, with
// the request's origin and offered sub-protocols, and args; at most once
// per refusalLogInterval for each reason (limits), saying how many
// refusals it did not log.
func (s *WebSocketServer) logRefusal(limits *logLimiter, r *http.Request, reason string, args ...any) {
	ok, held := limits.allow(time.Now(), refusalLogInterval)
	if !ok {
		return
	}
	attrs := []any{
		"origin", clip(r.Header.Get("Origin")),
		"offered", clip(strings.Join(websocket.Subprotocols(r), ", ")),
		"host", clip(r.Host),
		"path", clip(r.URL.Path),
		"remote", r.RemoteAddr,
	}
	attrs = append(attrs, args...)
	if held > 0 {
		attrs = append(attrs, "not_logged", held)
	}
	s.peer.Logger.Warn("transport: websocket upgrade refused: "+reason, attrs...)
}

// clip cuts a client's header value for a log line or an error body.
func clip(s string) string {
	const max = 256
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

// Close closes every peer of the server with reason ErrServerClosed (close
// code 1001, going away) and waits until every ServeHTTP call that
// upgraded and every Handler has returned. Later upgrade requests get
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
