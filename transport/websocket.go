package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
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
	// Serializers lists the serializers offered, as sub-protocols
	// wamp.2.json, wamp.2.msgpack and wamp.2.cbor (WAMP spec,
	// basic/building_blocks.md, "WebSocket Transport"). nil or empty means
	// all three. When JSON is offered, wamp.2.json.batched is offered too
	// unless DisableBatched is set.
	Serializers []serialize.Serializer
	// DisableBatched turns off the wamp.2.json.batched sub-protocol
	// (advanced/transport_batched_websocket.md).
	DisableBatched bool
	// MaxMessageSize is the largest WebSocket message accepted. A larger
	// one is answered with close code 1009 (message too big) and ends the
	// session. Zero or less means DefaultMaxMessageSize (1 MiB).
	MaxMessageSize int64
	// QueueSize is the capacity of each peer's outbound queue, in
	// messages. Zero or less means DefaultQueueSize.
	QueueSize int
	// QueueBytes is the capacity of each peer's outbound queue in bytes
	// of encoded messages: a message that would take the queue past it
	// is refused with ErrQueueFull, unless the queue is empty (so one
	// message of any size fits). It bounds what a client that stops
	// reading costs, whatever the size of its messages. Zero or less
	// means DefaultQueueBytes.
	QueueBytes int
	// HandshakeTimeout bounds the write of the upgrade response. Bound
	// the read of the request with http.Server.ReadHeaderTimeout. Zero or
	// less means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// PingInterval is the interval of keep-alive pings. A connection on
	// which nothing arrives (not even a pong) within PingInterval +
	// PongTimeout is failed with ErrKeepAlive. Zero means
	// DefaultPingInterval; negative turns keep-alive off.
	PingInterval time.Duration
	// PongTimeout, see PingInterval. Zero or less means DefaultPongTimeout.
	PongTimeout time.Duration
	// WriteTimeout bounds each write; a client that does not read fails
	// its connection after it. Zero or less means DefaultWriteTimeout.
	WriteTimeout time.Duration
	// CloseTimeout bounds the flush of queued messages when a peer closes.
	// Zero or less means DefaultCloseTimeout.
	CloseTimeout time.Duration
	// CheckOrigin decides whether a request's Origin header is
	// acceptable; a refused request gets HTTP 403. nil means gorilla's
	// default: requests without Origin (non-browser clients) pass, browser
	// requests pass only if Origin's host equals the Host header.
	CheckOrigin func(r *http.Request) bool
	// EnableCompression negotiates permessage-deflate (RFC 7692) when the
	// client offers it. MaxMessageSize then applies to the inflated
	// message, and reading stops at the first byte over it.
	EnableCompression bool
	// Logger receives connection-level diagnostics. nil means slog.Default().
	Logger *slog.Logger
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
	opts   peerOptions // with defaults; set by init
	protos []string    // sub-protocols offered
	up     websocket.Upgrader

	mu     sync.Mutex // guards closed and peers
	closed bool
	peers  map[*wsPeer]struct{}
	wg     sync.WaitGroup // one per running ServeHTTP that upgraded
}

var _ http.Handler = (*WebSocketServer)(nil)

func (s *WebSocketServer) init() {
	cfg := s.Config
	s.opts = newPeerOptions(cfg.QueueSize, cfg.QueueBytes, cfg.MaxMessageSize, cfg.PingInterval,
		cfg.PongTimeout, cfg.WriteTimeout, cfg.CloseTimeout, cfg.Logger)
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
	hs := cfg.HandshakeTimeout
	if hs <= 0 {
		hs = DefaultHandshakeTimeout
	}
	s.up = websocket.Upgrader{
		HandshakeTimeout:  hs,
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
		s.opts.log.Debug("transport: websocket upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	ser, _ := serialize.BySubProtocol(proto)
	details := protocol.Dict{
		"type":       "websocket",
		"serializer": ser.String(),
		"protocol":   proto,
		"peer":       peerAddr(ws.RemoteAddr()),
	}
	if r.TLS != nil {
		details["tls"] = true
	}
	p := newWSPeer(ws, hj.conn, s.opts, ser, proto == serialize.JSONBatchedSubProtocol, details)
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

// WebSocketDialConfig configures [DialWebSocket]. The zero value is a valid
// configuration: wamp.2.json, 16 MiB messages, keep-alive pings every 30 s.
type WebSocketDialConfig struct {
	// Serializer is the serializer to ask for. Zero means serialize.JSON.
	Serializer serialize.Serializer
	// Batched asks for wamp.2.json.batched; Serializer must be JSON.
	Batched bool
	// TLSConfig is used for wss:// URLs. nil means the zero tls.Config.
	TLSConfig *tls.Config
	// Header holds extra HTTP headers for the upgrade request (e.g.
	// Origin, Authorization, Cookie).
	Header http.Header
	// MaxMessageSize is the largest WebSocket message accepted; a larger
	// one is answered with close code 1009 and ends the session. Zero or
	// less means DefaultDialMaxMessageSize (16 MiB).
	MaxMessageSize int64
	// QueueSize is the capacity of the outbound queue, in messages. Zero
	// or less means DefaultQueueSize.
	QueueSize int
	// QueueBytes is the capacity of the outbound queue in bytes of
	// encoded messages, as in the server's config. Zero or less means
	// DefaultQueueBytes.
	QueueBytes int
	// HandshakeTimeout bounds the dial, the TLS handshake and the upgrade,
	// in addition to ctx. Zero or less means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// PingInterval, PongTimeout, WriteTimeout and CloseTimeout mean what
	// they mean in WebSocketConfig.
	PingInterval time.Duration
	PongTimeout  time.Duration
	WriteTimeout time.Duration
	CloseTimeout time.Duration
	// EnableCompression offers permessage-deflate (RFC 7692);
	// MaxMessageSize applies to the inflated message.
	EnableCompression bool
	// Logger receives connection-level diagnostics. nil means slog.Default().
	Logger *slog.Logger
}

// DialWebSocket connects to a WAMP-over-WebSocket router at url (ws:// or
// wss://) and negotiates the sub-protocol of cfg.Serializer. ctx bounds the
// dial and the handshake only; it does not affect the returned peer. A
// refused upgrade wraps [ErrHandshake] and quotes the HTTP status and body.
//
// The caller owns the returned peer and must Close it.
func DialWebSocket(ctx context.Context, url string, cfg WebSocketDialConfig) (Peer, error) {
	ser := cfg.Serializer
	if ser == 0 {
		ser = serialize.JSON
	}
	if ser.Codec() == nil {
		return nil, fmt.Errorf("transport: websocket dial: unknown serializer %v", ser)
	}
	proto := ser.SubProtocol()
	if cfg.Batched {
		if ser != serialize.JSON {
			return nil, fmt.Errorf("transport: websocket dial: batching is only supported with JSON, not %v", ser)
		}
		proto = serialize.JSONBatchedSubProtocol
	}
	maxSize := cfg.MaxMessageSize
	if maxSize <= 0 {
		maxSize = DefaultDialMaxMessageSize
	}
	opts := newPeerOptions(cfg.QueueSize, cfg.QueueBytes, maxSize, cfg.PingInterval,
		cfg.PongTimeout, cfg.WriteTimeout, cfg.CloseTimeout, cfg.Logger)
	hs := cfg.HandshakeTimeout
	if hs <= 0 {
		hs = DefaultHandshakeTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, hs)
	defer cancel()
	var cork *corkConn
	d := websocket.Dialer{
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var nd net.Dialer
			c, err := nd.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			cork = &corkConn{Conn: c}
			return cork, nil
		},
		Proxy:             http.ProxyFromEnvironment,
		HandshakeTimeout:  hs,
		TLSClientConfig:   cfg.TLSConfig,
		Subprotocols:      []string{proto},
		EnableCompression: cfg.EnableCompression,
	}
	ws, resp, err := d.DialContext(ctx, url, cfg.Header)
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			_ = resp.Body.Close()
			return nil, fmt.Errorf("transport: websocket dial %s: %w: HTTP %s: %s",
				url, ErrHandshake, resp.Status, bytes.TrimSpace(body))
		}
		return nil, fmt.Errorf("transport: websocket dial %s: %w", url, err)
	}
	if got := ws.Subprotocol(); got != proto {
		_ = ws.Close()
		return nil, fmt.Errorf("transport: websocket dial %s: %w: server chose sub-protocol %q, asked for %q",
			url, ErrHandshake, got, proto)
	}
	details := protocol.Dict{
		"type":       "websocket",
		"serializer": ser.String(),
		"protocol":   proto,
		"peer":       peerAddr(ws.RemoteAddr()),
	}
	if strings.HasPrefix(strings.ToLower(url), "wss:") {
		details["tls"] = true
	}
	return newWSPeer(ws, cork, opts, ser, cfg.Batched, details), nil
}

// wsPeer is a Peer over a WebSocket connection.
type wsPeer struct {
	peerCore
	ws      *websocket.Conn
	cork    *corkConn // the connection under ws, when we made it; may be nil
	batched bool
	msgType int // websocket.TextMessage for JSON, else BinaryMessage

	// Reader side, used only by the goroutine calling Recv.
	rbuf    []byte   // the last message read; dropped when it grew past keepBuffer
	pending [][]byte // rest of a batch, aliasing rbuf
}

var (
	_ Peer     = (*wsPeer)(nil)
	_ Detailer = (*wsPeer)(nil)
)

func newWSPeer(ws *websocket.Conn, cork *corkConn, opts peerOptions, ser serialize.Serializer, batched bool, details protocol.Dict) *wsPeer {
	p := &wsPeer{ws: ws, cork: cork, batched: batched, msgType: websocket.BinaryMessage}
	if !ser.Binary() {
		p.msgType = websocket.TextMessage
	}
	p.init(ws.NetConn(), opts, ser, 0, details)
	ws.SetReadLimit(opts.maxRecv)
	if idle := opts.idleTimeout(); idle > 0 {
		extend := func() { p.readDeadline(idle) }
		ws.SetPongHandler(func(string) error { extend(); return nil })
		ws.SetPingHandler(func(data string) error {
			extend()
			err := ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(opts.writeTimeout))
			if err == websocket.ErrCloseSent || isTimeout(err) {
				return nil
			}
			return err
		})
	}
	go p.writeLoop()
	return p
}

// Recv implements Peer. It reads and decodes on the calling goroutine; the
// messages of a batch are returned one by one. A message that does not
// decode, or that came in a WebSocket message of the wrong kind (binary
// for JSON, text for MessagePack and CBOR), is returned as an error
// wrapping protocol.ErrMalformed and the connection stays up; a message
// over the limit, an empty batch or a close from the other end fail the
// connection.
func (p *wsPeer) Recv() (protocol.Message, error) {
	for {
		if len(p.pending) > 0 {
			b := p.pending[0]
			p.pending[0] = nil
			p.pending = p.pending[1:]
			m, err := p.codec.Decode(b)
			if len(p.pending) == 0 {
				p.releaseReadBuffer()
			}
			if err != nil {
				return nil, fmt.Errorf("transport: websocket: %w", err)
			}
			return m, nil
		}
		if p.isClosing() {
			return nil, p.closedErr()
		}
		p.readDeadline(p.opts.idleTimeout())
		typ, r, err := p.ws.NextReader()
		if err != nil {
			return nil, p.failRead(p.readErr(err))
		}
		if typ != p.msgType {
			// The spec ties the frame type to the serializer (basic
			// "WebSocket Transport"); the rest of the message is
			// discarded unread by the next NextReader.
			return nil, p.frameTypeErr(typ)
		}
		data, err := p.readMessage(r)
		if err != nil {
			return nil, p.failRead(p.readErr(err))
		}
		if !p.batched {
			m, err := p.codec.Decode(data)
			p.releaseReadBuffer()
			if err != nil {
				return nil, fmt.Errorf("transport: websocket: %w", err)
			}
			return m, nil
		}
		msgs, err := serialize.SplitJSONBatch(data)
		if err != nil {
			// An empty batch MUST fail the transport
			// (advanced/transport_batched_websocket.md); so does any
			// batch we cannot split.
			return nil, p.failRead(fmt.Errorf("%w: %w", ErrProtocol, err))
		}
		p.pending = msgs
	}
}

// readMessage reads the rest of the WebSocket message r into p.rbuf and
// returns it. The limit applies to what r yields, which with
// permessage-deflate is the inflated message (gorilla's SetReadLimit
// counts the bytes on the wire only): reading stops at the first byte
// over the limit, so a message of a few KiB that inflates to gigabytes
// (a compression bomb) costs no more than the limit; the connection is
// then failed with ErrMessageTooBig (close 1009, sent by the writer).
func (p *wsPeer) readMessage(r io.Reader) ([]byte, error) {
	limit := p.opts.maxRecv
	b := p.rbuf[:0]
	for {
		if len(b) == cap(b) {
			// Grow by doubling, but never past limit+1 bytes.
			n := int(min(max(2*int64(cap(b)), 4096), limit+1))
			nb := make([]byte, len(b), n)
			copy(nb, b)
			b = nb
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if int64(len(b)) > limit {
			p.rbuf = b[:0]
			p.releaseReadBuffer()
			return nil, errInflatedTooBig
		}
		if err == io.EOF {
			p.rbuf = b
			return b, nil
		}
		if err != nil {
			p.rbuf = b[:0]
			return nil, err
		}
	}
}

// errInflatedTooBig is readMessage's error for a message over the limit.
var errInflatedTooBig = errors.New("message over the limit")

// releaseReadBuffer drops the read buffer if it grew past keepBuffer: an
// idle peer does not keep a large message's buffer.
func (p *wsPeer) releaseReadBuffer() {
	if cap(p.rbuf) > keepBuffer {
		p.rbuf = nil
	}
}

// frameTypeErr describes a WebSocket message of the wrong kind for the
// sub-protocol: a malformed message, as one that does not decode.
func (p *wsPeer) frameTypeErr(typ int) error {
	got, want := "binary", "text"
	if typ == websocket.TextMessage {
		got, want = want, got
	}
	return fmt.Errorf("transport: websocket: %w: %s message on %s, which carries %s messages only",
		protocol.ErrMalformed, got, p.details["protocol"], want)
}

// readErr turns a read error into the close reason.
func (p *wsPeer) readErr(err error) error {
	var ce *websocket.CloseError
	switch {
	case errors.Is(err, websocket.ErrReadLimit), errors.Is(err, errInflatedTooBig):
		// gorilla has sent close 1009 already, or the writer will.
		return fmt.Errorf("%w: limit %d bytes (close 1009)", ErrMessageTooBig, p.opts.maxRecv)
	case errors.As(err, &ce):
		return fmt.Errorf("transport: websocket closed by peer: %w", err)
	case isTimeout(err):
		return fmt.Errorf("%w: nothing received for %v: %w", ErrKeepAlive, p.opts.idleTimeout(), err)
	}
	return fmt.Errorf("transport: websocket read: %w", err)
}

// writeLoop is the writer goroutine. It writes each queued frame as one
// WebSocket message (or, batched, many as one), sends keep-alive pings,
// and on close flushes the queue, sends a close frame, closes the
// connection and done.
func (p *wsPeer) writeLoop() {
	defer close(p.done)
	defer p.ws.Close()
	defer p.q.discard()
	var tick <-chan time.Time
	if p.opts.pingInterval > 0 {
		t := time.NewTicker(p.opts.pingInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-p.q.wake:
			if _, err := p.write(); err != nil {
				p.shutdown(fmt.Errorf("transport: websocket write: %w", err))
				return
			}
		case <-tick:
			if err := p.ws.WriteControl(websocket.PingMessage, nil, p.writeDeadline()); err != nil {
				p.shutdown(fmt.Errorf("transport: websocket ping: %w", err))
				return
			}
		case <-p.closing:
			p.flushOnClose()
			return
		}
	}
}

// flushOnClose writes what is queued, bounded by the close deadline, then
// the close frame with a code and text for the close reason.
func (p *wsPeer) flushOnClose() {
	for {
		n, err := p.write()
		if err != nil {
			return
		}
		if n == 0 {
			break
		}
	}
	code, text := websocket.CloseNormalClosure, ""
	switch r := p.reason; {
	case r == nil:
	case errors.Is(r, ErrServerClosed):
		code = websocket.CloseGoingAway
	case errors.Is(r, ErrMessageTooBig):
		// When gorilla's read limit fired it has sent 1009 itself, and
		// this write fails with ErrCloseSent.
		code = websocket.CloseMessageTooBig
	case errors.Is(r, ErrProtocol):
		code, text = websocket.CloseProtocolError, r.Error()
	default:
		text = r.Error()
	}
	if len(text) > 123 { // a close frame's payload is at most 125 bytes
		text = text[:123]
	}
	_ = p.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), p.writeDeadline())
}

// write writes the frames queued, up to about flushSize bytes, under one
// write deadline and in one network write (the connection is corked):
// each as one WebSocket message, as the spec requires, or batched, joined
// with 0x1e separators in one message. It returns how many frames it
// wrote; when frames are left, the queue gives the writer a token to come
// back for them, so that pings get their turn.
func (p *wsPeer) write() (int, error) {
	_ = p.ws.SetWriteDeadline(p.writeDeadline())
	var batch [writeBatch]frame
	written, total := 0, 0
	var bp *[]byte // the batched message, from writeBuffers
	var b []byte
	if p.batched {
		bp = getBuffer(&writeBuffers)
		b = *bp
	}
	p.cork.cork()
	var err error
	for err == nil && total < flushSize {
		fs := p.q.take(batch[:0], flushSize-total)
		if len(fs) == 0 {
			break
		}
		for i := 0; i < len(fs) && err == nil; i++ {
			total += len(fs[i].b)
			if p.batched {
				b = serialize.AppendJSONBatch(b, fs[i].b)
				continue
			}
			err = p.ws.WriteMessage(p.msgType, fs[i].b)
		}
		written += len(fs)
		p.q.release(fs)
	}
	if p.batched {
		if err == nil && len(b) > 0 {
			err = p.ws.WriteMessage(websocket.TextMessage, b)
		}
		putBuffer(&writeBuffers, bp, b, maxPooledWrite)
	}
	if uerr := p.cork.uncork(); err == nil {
		err = uerr
	}
	return written, err
}

// isTimeout reports whether err is a deadline error; gorilla hides the
// net package's error behind its own net.Error.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
