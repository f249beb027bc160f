package transport

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

// RawSocket wire constants (WAMP spec, advanced/transport_rawsocket.md).
const (
	rawMagic = 0x7F

	frameMessage = 0 // TTT = 0: a regular WAMP message
	framePing    = 1 // TTT = 1: PING, answered by exactly one PONG
	framePong    = 2 // TTT = 2: PONG echoing the PING's payload

	rawMinLength = 1 << 9  // LLLL = 0
	rawMaxLength = 1 << 24 // LLLL = 15, and the longest frame (X bit)

	rawReadBuffer = 32 << 10 // bufio.Reader size; larger payloads use a separate buffer
	flushSize     = 64 << 10 // the writer flushes a batch once it reaches this size
	keepBuffer    = 1 << 20  // buffers that grew past this are dropped after use
)

// RawSocketErrorCode is the error code of a RawSocket handshake error reply
// (WAMP spec, advanced/transport_rawsocket.md, "Handshake: Router-to-Client
// Reply"). The value 0 is never used on the wire.
type RawSocketErrorCode uint8

// The error codes a router may answer a RawSocket handshake with.
const (
	// RawSocketUnsupportedSerializer means the requested serializer is not spoken.
	RawSocketUnsupportedSerializer RawSocketErrorCode = 1
	// RawSocketUnacceptableLength means the announced maximum message length is refused.
	RawSocketUnacceptableLength RawSocketErrorCode = 2
	// RawSocketReservedBits means the request used reserved bits.
	RawSocketReservedBits RawSocketErrorCode = 3
	// RawSocketConnectionLimit means the router's connection limit is reached.
	RawSocketConnectionLimit RawSocketErrorCode = 4
)

// String returns the spec's wording of the code.
func (c RawSocketErrorCode) String() string {
	switch c {
	case RawSocketUnsupportedSerializer:
		return "serializer unsupported"
	case RawSocketUnacceptableLength:
		return "maximum message length unacceptable"
	case RawSocketReservedBits:
		return "use of reserved bits (unsupported feature)"
	case RawSocketConnectionLimit:
		return "maximum connection count reached"
	}
	return "error " + strconv.Itoa(int(c))
}

// RawSocketError is returned (wrapped) by [DialRawSocket] when the router
// answers the handshake with an error reply. It unwraps to [ErrHandshake]:
//
//	var rerr *transport.RawSocketError
//	if errors.As(err, &rerr) && rerr.Code == transport.RawSocketConnectionLimit { ... }
type RawSocketError struct {
	// Code is the error code of the router's reply.
	Code RawSocketErrorCode
}

// Error implements error.
func (e *RawSocketError) Error() string {
	return "transport: rawsocket handshake refused: " + e.Code.String()
}

// Unwrap returns ErrHandshake.
func (e *RawSocketError) Unwrap() error { return ErrHandshake }

// RawSocketConfig configures a [RawSocketServer]. The zero value is a
// valid configuration: all serializers, 1 MiB messages, no connection
// limit, plain TCP or Unix sockets (whatever the listener is).
type RawSocketConfig struct {
	// Serializers lists the serializers the server accepts. nil or empty
	// means JSON, MessagePack and CBOR. Other requests get the error reply
	// "serializer unsupported".
	Serializers []serialize.Serializer
	// MaxMessageSize is the largest message the server accepts from a
	// client. RawSocket can only announce powers of two from 512 B to
	// 16 MiB, so it is rounded down to one of those. Zero or less means
	// DefaultMaxMessageSize (1 MiB). A larger frame fails the connection.
	MaxMessageSize int64
	// MinClientMessageSize is the smallest maximum message length a client
	// may announce; a client announcing less gets the error reply "maximum
	// message length unacceptable". Zero means any (512 B upwards).
	MinClientMessageSize int64
	// MaxConnections limits the number of connections, established or
	// still in their handshake: a connection accepted beyond it gets the
	// error reply "maximum connection count reached" (up to a few such
	// refusals at once; beyond those it is closed at once). Zero or less
	// means no limit. To cap connections before any handshake, and per
	// client address, wrap the listener (see [ConnLimiter]).
	MaxConnections int
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
	// HandshakeTimeout bounds the TLS and RawSocket handshakes of an
	// accepted connection. Zero or less means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// PingInterval is the interval of keep-alive PINGs the server sends.
	// A connection on which nothing arrives (not even a PONG) within
	// PingInterval + PongTimeout is failed with ErrKeepAlive. Zero means
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
	// TLSConfig, if not nil, makes the server speak TLS on every accepted
	// connection (tls.Server). It must hold a certificate.
	TLSConfig *tls.Config
	// Logger receives connection-level diagnostics. nil means slog.Default().
	Logger *slog.Logger
}

// RawSocketServer accepts WAMP-over-RawSocket connections (WAMP spec,
// advanced/transport_rawsocket.md) on any number of listeners: TCP, Unix
// domain sockets, or TLS when Config.TLSConfig is set.
//
// Set Config and Handler before the first Serve and leave them alone
// afterwards. Serve and Close may be called from any goroutine.
type RawSocketServer struct {
	// Config configures the server.
	Config RawSocketConfig
	// Handler is called, each call in its own goroutine, with the peer of
	// every connection that completed the handshake. The handler owns the
	// peer: it runs the session (one goroutine calls Recv) and the peer is
	// closed when the handler returns. Handler must return once the
	// peer's Recv reports an error. nil closes every connection at once.
	Handler func(Peer)

	mu        sync.Mutex // guards the fields below
	inited    bool
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{} // accepted, handshake not finished (refusing included)
	peers     map[*rawPeer]struct{}
	refusing  int            // conns accepted over MaxConnections, being refused
	wg        sync.WaitGroup // one per connection goroutine

	opts       peerOptions // with defaults; set by initLocked
	handshake  time.Duration
	serializer [16]bool // serializer ids accepted
}

// initLocked fills the defaults from Config. s.mu must be held.
func (s *RawSocketServer) initLocked() {
	if s.inited {
		return
	}
	s.inited = true
	cfg := s.Config
	s.listeners = make(map[net.Listener]struct{})
	s.conns = make(map[net.Conn]struct{})
	s.peers = make(map[*rawPeer]struct{})
	s.opts = newPeerOptions(cfg.QueueSize, cfg.QueueBytes, rawRoundDown(cfg.MaxMessageSize, DefaultMaxMessageSize), cfg.PingInterval,
		cfg.PongTimeout, cfg.WriteTimeout, cfg.CloseTimeout, cfg.Logger)
	s.handshake = cfg.HandshakeTimeout
	if s.handshake <= 0 {
		s.handshake = DefaultHandshakeTimeout
	}
	sers := cfg.Serializers
	if len(sers) == 0 {
		sers = []serialize.Serializer{serialize.JSON, serialize.MessagePack, serialize.CBOR}
	}
	for _, ser := range sers {
		if ser.Codec() != nil && ser < 16 {
			s.serializer[ser] = true
		}
	}
}

// Serve accepts connections on l until l fails or the server is closed,
// and runs Handler for each connection that completes the handshake. It
// always returns a non-nil error: ErrServerClosed after Close. Serve
// closes l when it returns.
func (s *RawSocketServer) Serve(l net.Listener) error {
	s.mu.Lock()
	s.initLocked()
	if s.closed {
		s.mu.Unlock()
		_ = l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
		_ = l.Close()
	}()

	var backoff time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("transport: rawsocket accept: %w", err)
			}
			// Like net/http: back off on errors such as EMFILE and retry.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.opts.log.Warn("transport: rawsocket accept failed; retrying", "err", err, "delay", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = c.Close()
			return ErrServerClosed
		}
		// Connections in their handshake count: a client that connects
		// and says nothing holds a connection as much as a session does.
		over := s.Config.MaxConnections > 0 && len(s.conns)-s.refusing+len(s.peers) >= s.Config.MaxConnections
		if over && s.refusing >= maxRefusals {
			s.mu.Unlock()
			_ = c.Close()
			s.opts.log.Debug("transport: rawsocket connection closed: connection limit", "peer", peerAddr(c.RemoteAddr()))
			continue
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		if over {
			s.refusing++
			s.mu.Unlock()
			go s.refuseConn(c)
			continue
		}
		s.mu.Unlock()
		go s.serveConn(c)
	}
}

// maxRefusals is how many connections over MaxConnections a RawSocketServer
// answers with the error reply "maximum connection count reached" at once;
// beyond those it closes them without a reply, so that refusing costs a
// bounded number of goroutines.
const maxRefusals = 8

// refuseConn answers a connection over the limit with the error reply
// "maximum connection count reached" after the client's request (and the
// TLS handshake, if configured), within the handshake timeout, and closes
// it.
func (s *RawSocketServer) refuseConn(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		_ = c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.refusing--
		s.mu.Unlock()
	}()
	_ = c.SetDeadline(time.Now().Add(s.handshake))
	conn := c
	if s.Config.TLSConfig != nil {
		tc := tls.Server(c, s.Config.TLSConfig)
		if tc.Handshake() != nil {
			return
		}
		conn = tc
	}
	var req [4]byte
	if _, err := io.ReadFull(conn, req[:]); err != nil || req[0] != rawMagic {
		return
	}
	_, _ = conn.Write([]byte{rawMagic, byte(RawSocketConnectionLimit) << 4, 0, 0})
	s.opts.log.Debug("transport: rawsocket handshake refused", "peer", peerAddr(c.RemoteAddr()),
		"code", RawSocketConnectionLimit.String())
}

func (s *RawSocketServer) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close closes every listener and connection, with ErrServerClosed as the
// peers' close reason, and waits until every connection's goroutine (and
// so every Handler call) has returned. Further Serve calls return
// ErrServerClosed.
func (s *RawSocketServer) Close() error {
	s.mu.Lock()
	s.initLocked()
	s.closed = true
	for l := range s.listeners {
		_ = l.Close()
	}
	for c := range s.conns {
		_ = c.Close()
	}
	peers := make([]*rawPeer, 0, len(s.peers))
	for p := range s.peers {
		peers = append(peers, p)
	}
	s.mu.Unlock()
	// Start every flush at once, then wait for each.
	for _, p := range peers {
		p.shutdown(ErrServerClosed)
	}
	for _, p := range peers {
		_ = p.Close(ErrServerClosed)
	}
	s.wg.Wait()
	return nil
}

// serveConn runs the handshake on c and then the Handler.
func (s *RawSocketServer) serveConn(c net.Conn) {
	defer s.wg.Done()
	raw := c
	forget := func() {
		s.mu.Lock()
		delete(s.conns, raw)
		s.mu.Unlock()
	}
	p, err := s.handshake1(c)
	if err != nil {
		s.opts.log.Debug("transport: rawsocket handshake failed", "peer", peerAddr(c.RemoteAddr()), "err", err)
		_ = c.Close()
		forget()
		return
	}
	if p == nil { // refused with an error reply
		_ = c.Close()
		forget()
		return
	}
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

// handshake1 performs the TLS (if configured) and RawSocket handshakes. It
// returns the registered peer, or nil and nil after an error reply, or an
// error when the connection is to be dropped without reply.
func (s *RawSocketServer) handshake1(c net.Conn) (*rawPeer, error) {
	raw := c
	_ = c.SetDeadline(time.Now().Add(s.handshake))
	if s.Config.TLSConfig != nil {
		tc := tls.Server(c, s.Config.TLSConfig)
		if err := tc.Handshake(); err != nil {
			return nil, fmt.Errorf("%w: tls: %w", ErrHandshake, err)
		}
		c = tc
	}
	var req [4]byte
	if _, err := io.ReadFull(c, req[:]); err != nil {
		return nil, fmt.Errorf("%w: read request: %w", ErrHandshake, err)
	}
	if req[0] != rawMagic {
		// Not a RawSocket client; the spec says to fail the connection.
		return nil, fmt.Errorf("%w: bad magic octet 0x%02x", ErrHandshake, req[0])
	}
	reply := func(code RawSocketErrorCode) (*rawPeer, error) {
		_, err := c.Write([]byte{rawMagic, byte(code) << 4, 0, 0})
		s.opts.log.Debug("transport: rawsocket handshake refused", "peer", peerAddr(raw.RemoteAddr()), "code", code.String())
		return nil, err
	}
	if req[2] != 0 || req[3] != 0 {
		return reply(RawSocketReservedBits)
	}
	id := req[1] & 0x0F
	if !s.serializer[id] {
		return reply(RawSocketUnsupportedSerializer)
	}
	ser := serialize.Serializer(id)
	maxSend := int64(1) << (9 + req[1]>>4)
	if maxSend < s.Config.MinClientMessageSize {
		return reply(RawSocketUnacceptableLength)
	}

	// The connection was counted against MaxConnections when it was
	// accepted (Serve), and goes on counting as a peer.
	_, err := c.Write([]byte{rawMagic, rawLengthExp(s.opts.maxRecv)<<4 | id, 0, 0})
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("%w: write reply: %w", ErrHandshake, err)
	}
	if s.closed {
		return nil, ErrServerClosed
	}
	_ = c.SetDeadline(time.Time{})
	details := protocol.Dict{"type": "rawsocket", "serializer": ser.String(), "peer": peerAddr(raw.RemoteAddr())}
	if c != raw {
		details["tls"] = true
	}
	p := newRawPeer(c, s.opts, ser, maxSend, details)
	s.peers[p] = struct{}{}
	delete(s.conns, raw)
	return p, nil
}

// RawSocketDialConfig configures [DialRawSocket]. The zero value is a valid
// configuration: JSON over plain TCP or Unix sockets, 16 MiB messages.
type RawSocketDialConfig struct {
	// Serializer is the serializer to request. Zero means serialize.JSON.
	Serializer serialize.Serializer
	// MaxMessageSize is the largest message the client accepts, rounded
	// down to a power of two from 512 B to 16 MiB and announced in the
	// handshake. Zero or less means DefaultDialMaxMessageSize (16 MiB).
	MaxMessageSize int64
	// QueueSize is the capacity of the outbound queue, in messages. Zero
	// or less means DefaultQueueSize.
	QueueSize int
	// QueueBytes is the capacity of the outbound queue in bytes of
	// encoded messages, as in the server's config. Zero or less means
	// DefaultQueueBytes.
	QueueBytes int
	// HandshakeTimeout bounds dialing and the TLS and RawSocket
	// handshakes, in addition to ctx. Zero or less means
	// DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// PingInterval, PongTimeout, WriteTimeout and CloseTimeout mean what
	// they mean in RawSocketConfig.
	PingInterval time.Duration
	PongTimeout  time.Duration
	WriteTimeout time.Duration
	CloseTimeout time.Duration
	// TLSConfig, if not nil, makes the client speak TLS. An empty
	// ServerName is taken from address.
	TLSConfig *tls.Config
	// Logger receives connection-level diagnostics. nil means slog.Default().
	Logger *slog.Logger
}

// DialRawSocket connects to a WAMP-over-RawSocket router at address on
// network ("tcp", "tcp4", "tcp6" or "unix"), over TLS if cfg.TLSConfig is
// set, and performs the handshake. ctx bounds the dial and the handshakes
// only; it does not affect the returned peer. A refusal by the router is
// a *[RawSocketError]; every handshake failure wraps [ErrHandshake].
//
// The caller owns the returned peer and must Close it.
func DialRawSocket(ctx context.Context, network, address string, cfg RawSocketDialConfig) (Peer, error) {
	ser := cfg.Serializer
	if ser == 0 {
		ser = serialize.JSON
	}
	if ser.Codec() == nil {
		return nil, fmt.Errorf("transport: rawsocket dial: unknown serializer %v", ser)
	}
	opts := newPeerOptions(cfg.QueueSize, cfg.QueueBytes, rawRoundDown(cfg.MaxMessageSize, DefaultDialMaxMessageSize), cfg.PingInterval,
		cfg.PongTimeout, cfg.WriteTimeout, cfg.CloseTimeout, cfg.Logger)
	hs := cfg.HandshakeTimeout
	if hs <= 0 {
		hs = DefaultHandshakeTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, hs)
	defer cancel()

	var d net.Dialer
	c, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, fmt.Errorf("transport: rawsocket dial: %w", err)
	}
	raw := c
	// ctx ends any blocking handshake I/O by moving the deadline.
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	fail := func(err error) (Peer, error) {
		stop()
		_ = raw.Close()
		if ctx.Err() != nil {
			err = fmt.Errorf("%w: %w", err, ctx.Err())
		}
		return nil, fmt.Errorf("transport: rawsocket dial %s: %w", address, err)
	}
	if cfg.TLSConfig != nil {
		tcfg := cfg.TLSConfig
		if tcfg.ServerName == "" {
			tcfg = tcfg.Clone()
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				host = address
			}
			tcfg.ServerName = host
		}
		tc := tls.Client(c, tcfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail(fmt.Errorf("%w: tls: %w", ErrHandshake, err))
		}
		c = tc
	}
	exp := rawLengthExp(opts.maxRecv)
	if _, err := c.Write([]byte{rawMagic, exp<<4 | byte(ser), 0, 0}); err != nil {
		return fail(fmt.Errorf("%w: write request: %w", ErrHandshake, err))
	}
	var rep [4]byte
	if _, err := io.ReadFull(c, rep[:]); err != nil {
		return fail(fmt.Errorf("%w: read reply: %w", ErrHandshake, err))
	}
	if !stop() {
		return fail(ctx.Err())
	}
	switch {
	case rep[0] != rawMagic:
		return fail(fmt.Errorf("%w: bad magic octet 0x%02x in reply", ErrHandshake, rep[0]))
	case rep[1]&0x0F == 0:
		return fail(&RawSocketError{Code: RawSocketErrorCode(rep[1] >> 4)})
	case rep[1]&0x0F != byte(ser):
		return fail(fmt.Errorf("%w: router answered serializer %d, requested %d", ErrHandshake, rep[1]&0x0F, ser))
	case rep[2] != 0 || rep[3] != 0:
		return fail(fmt.Errorf("%w: reserved octets set in reply", ErrHandshake))
	}
	_ = c.SetDeadline(time.Time{})
	details := protocol.Dict{"type": "rawsocket", "serializer": ser.String(), "peer": peerAddr(raw.RemoteAddr())}
	if c != raw {
		details["tls"] = true
	}
	return newRawPeer(c, opts, ser, int64(1)<<(9+rep[1]>>4), details), nil
}

// rawRoundDown rounds a configured maximum down to a length RawSocket can
// announce; zero or less means def.
func rawRoundDown(n, def int64) int64 {
	if n <= 0 {
		n = def
	}
	return int64(1) << (9 + rawLengthExp(n))
}

// rawLengthExp is the LLLL of the handshake for a maximum of n bytes: the
// largest L with 2^(9+L) <= n, within 0..15.
func rawLengthExp(n int64) byte {
	var l byte
	for l < 15 && int64(1)<<(9+l+1) <= n {
		l++
	}
	return l
}

// appendFrameHeader appends the 4-octet frame header for a payload of n
// bytes (n <= 2^24; exactly 2^24 sets the X bit).
func appendFrameHeader(b []byte, typ byte, n int) []byte {
	if n == rawMaxLength {
		return append(b, 0x08|typ, 0, 0, 0)
	}
	return append(b, typ, byte(n>>16), byte(n>>8), byte(n))
}

// rawPeer is a Peer over a RawSocket connection.
type rawPeer struct {
	peerCore // its maxSend is the other end's announced maximum

	// Reader side, used only by the goroutine calling Recv.
	br   *bufio.Reader
	rbuf []byte

	pongs chan []byte // PING payloads for the writer to echo

	// Writer side, used only by the writer goroutine.
	seq uint32
}

var (
	_ Peer     = (*rawPeer)(nil)
	_ Detailer = (*rawPeer)(nil)
)

func newRawPeer(c net.Conn, opts peerOptions, ser serialize.Serializer, maxSend int64, details protocol.Dict) *rawPeer {
	p := &rawPeer{pongs: make(chan []byte, 4)}
	p.init(c, opts, ser, min(maxSend, rawMaxLength), details)
	p.br = bufio.NewReaderSize(idleConn{Conn: c, core: &p.peerCore, idle: opts.idleTimeout()}, rawReadBuffer)
	go p.writeLoop()
	return p
}

// Recv implements Peer. It reads and decodes on the calling goroutine and
// answers PINGs on the way. A message that does not decode is returned as
// an error wrapping protocol.ErrMalformed, and the connection stays up; the
// caller decides (usually ABORT with wamp.error.protocol_violation). Framing
// errors, a frame over the limit and a truncated frame fail the connection.
func (p *rawPeer) Recv() (protocol.Message, error) {
	for {
		if p.isClosing() {
			return nil, p.closedErr()
		}
		hdr, err := p.br.Peek(4)
		if err != nil {
			if len(hdr) > 0 && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, p.failRead(p.readErr(err))
		}
		h0 := hdr[0]
		n := int64(hdr[1])<<16 | int64(hdr[2])<<8 | int64(hdr[3])
		if h0&0xF0 != 0 {
			return nil, p.failRead(fmt.Errorf("%w: reserved bits set in frame header 0x%02x", ErrProtocol, h0))
		}
		if h0&0x08 != 0 {
			if n != 0 {
				return nil, p.failRead(fmt.Errorf("%w: X bit with non-zero length", ErrProtocol))
			}
			n = rawMaxLength
		}
		if n > p.opts.maxRecv {
			return nil, p.failRead(fmt.Errorf("%w: frame of %d bytes, limit %d", ErrMessageTooBig, n, p.opts.maxRecv))
		}
		typ := h0 & 0x07
		if typ > framePong {
			return nil, p.failRead(fmt.Errorf("%w: reserved frame type %d", ErrProtocol, typ))
		}
		_, _ = p.br.Discard(4)
		payload, err := p.readPayload(int(n))
		if err != nil {
			return nil, p.failRead(p.readErr(err))
		}
		switch typ {
		case frameMessage:
			m, err := p.codec.Decode(payload)
			if err != nil {
				return nil, fmt.Errorf("transport: rawsocket: %w", err)
			}
			return m, nil
		case framePing:
			echo := append([]byte(nil), payload...)
			select {
			case p.pongs <- echo:
			case <-p.closing:
				return nil, p.closedErr()
			}
		case framePong:
			// Nothing to do: any data read proves the other end alive.
		}
	}
}

// readPayload returns the next n bytes, valid until the next read.
func (p *rawPeer) readPayload(n int) ([]byte, error) {
	if n <= p.br.Size() {
		b, err := p.br.Peek(n)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		_, _ = p.br.Discard(n)
		return b, nil
	}
	if cap(p.rbuf) < n {
		p.rbuf = make([]byte, n)
	}
	b := p.rbuf[:n]
	if n > keepBuffer {
		p.rbuf = nil
	}
	if _, err := io.ReadFull(p.br, b); err != nil {
		if errors.Is(err, io.EOF) { // the header promised a payload
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b, nil
}

// readErr turns a read error into the close reason.
func (p *rawPeer) readErr(err error) error {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("%w: nothing received for %v", ErrKeepAlive, p.opts.idleTimeout())
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("transport: rawsocket: truncated frame: %w", err)
	case errors.Is(err, io.EOF):
		return fmt.Errorf("transport: rawsocket: connection closed by peer: %w", err)
	}
	return fmt.Errorf("transport: rawsocket read: %w", err)
}

// writeLoop is the writer goroutine: it writes the queued frames, many in
// one write, answers PINGs and sends keep-alive PINGs. It closes the
// connection and done when it ends.
func (p *rawPeer) writeLoop() {
	defer close(p.done)
	defer p.conn.Close()
	defer p.q.discard()
	var tick <-chan time.Time
	if p.opts.pingInterval > 0 {
		t := time.NewTicker(p.opts.pingInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		var pong []byte
		ping := false
		select {
		case <-p.q.wake:
		case pong = <-p.pongs:
		case <-tick:
			ping = true
		case <-p.closing:
			// Flush what is queued, bounded by the close deadline.
			for {
				n, err := p.write(nil, false)
				if n == 0 || err != nil {
					return
				}
			}
		}
		if _, err := p.write(pong, ping); err != nil {
			p.shutdown(fmt.Errorf("transport: rawsocket write: %w", err))
			return
		}
	}
}

// writeBatch is how many frames the writer takes from the queue at once.
const writeBatch = 32

// write writes a PONG echoing pong (if not nil), a keep-alive PING if
// ping, the other PONGs due, and queued frames up to about flushSize
// bytes, all in one network write: frames are copied into a pooled write
// buffer, except for a frame larger than half of flushSize, which is
// written from where it is, with what precedes it, in one vectored write.
// It returns how many queued frames it wrote.
func (p *rawPeer) write(pong []byte, ping bool) (int, error) {
	bp := getBuffer(&writeBuffers)
	b := *bp
	if pong != nil {
		b = append(appendFrameHeader(b, framePong, len(pong)), pong...)
	}
	if ping {
		p.seq++
		s := p.seq
		b = append(appendFrameHeader(b, framePing, 4), byte(s>>24), byte(s>>16), byte(s>>8), byte(s))
	}
	var batch [writeBatch]frame
	written := 0
	var err error
	for err == nil && len(b) < flushSize {
		b = p.appendPongs(b)
		fs := p.q.take(batch[:0], flushSize-len(b))
		if len(fs) == 0 {
			break
		}
		for i := 0; i < len(fs) && err == nil; i++ {
			data := fs[i].b
			b = appendFrameHeader(b, frameMessage, len(data))
			if len(data) <= flushSize/2 {
				b = append(b, data...)
				continue
			}
			err = p.flush(b, data)
			b = b[:0]
		}
		written += len(fs)
		p.q.release(fs)
	}
	if err == nil {
		err = p.flush(b, nil)
	}
	putBuffer(&writeBuffers, bp, b, maxPooledWrite)
	return written, err
}

// appendPongs appends a PONG for every PING payload waiting.
func (p *rawPeer) appendPongs(b []byte) []byte {
	for {
		select {
		case pl := <-p.pongs:
			b = append(appendFrameHeader(b, framePong, len(pl)), pl...)
		default:
			return b
		}
	}
}

// flush writes b and then data in one write (a vectored one when data is
// not empty), under the write deadline.
func (p *rawPeer) flush(b, data []byte) error {
	if len(b) == 0 && len(data) == 0 {
		return nil
	}
	_ = p.conn.SetWriteDeadline(p.writeDeadline())
	if len(data) == 0 {
		_, err := p.conn.Write(b)
		return err
	}
	bufs := net.Buffers{b, data}
	_, err := bufs.WriteTo(p.conn)
	return err
}
