package transport

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

// RawSocketConfig configures a [RawSocketServer]. The zero value is a
// valid configuration: all serializers, 1 MiB messages, no connection
// limit, plain TCP or Unix sockets (whatever the listener is).
type RawSocketConfig struct {
	// PeerConfig holds the settings of every peer the server makes. Its
	// MaxMessageSize (by default 1 MiB) is announced to clients in the
	// handshake; a larger frame fails the connection.
	PeerConfig
	// Serializers lists the serializers the server accepts. nil or empty
	// means JSON, MessagePack and CBOR. Other requests get the error reply
	// "serializer unsupported".
	Serializers []serialize.Serializer
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
	// TLSConfig, if not nil, makes the server speak TLS on every accepted
	// connection (tls.Server). It must hold a certificate.
	TLSConfig *tls.Config
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

	peer       PeerConfig // Config.PeerConfig with defaults; set by initLocked
	serializer [16]bool   // serializer ids accepted
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
	s.peer = rawSocketPeerConfig(cfg.PeerConfig, defaultServerMaxMessageSize)
	s.peer.MaxMessageSize = rawRoundDown(s.peer.MaxMessageSize)
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
			s.peer.Logger.Warn("transport: rawsocket accept failed; retrying", "err", err, "delay", backoff)
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
			s.peer.Logger.Debug("transport: rawsocket connection closed: connection limit", "peer", peerAddr(c.RemoteAddr()))
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
	_ = c.SetDeadline(time.Now().Add(s.peer.HandshakeTimeout))
	conn := c
	if s.Config.TLSConfig != nil {
		tc := tls.Server(rawIO(c), s.Config.TLSConfig)
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
	s.peer.Logger.Debug("transport: rawsocket handshake refused", "peer", peerAddr(c.RemoteAddr()),
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
		s.peer.Logger.Debug("transport: rawsocket handshake failed", "peer", peerAddr(c.RemoteAddr()), "err", err)
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
	_ = c.SetDeadline(time.Now().Add(s.peer.HandshakeTimeout))
	if s.Config.TLSConfig != nil {
		tc := tls.Server(rawIO(c), s.Config.TLSConfig)
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
		s.peer.Logger.Debug("transport: rawsocket handshake refused", "peer", peerAddr(raw.RemoteAddr()), "code", code.String())
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
	_, err := c.Write([]byte{rawMagic, rawLengthExp(s.peer.MaxMessageSize)<<4 | id, 0, 0})
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
	p := newRawPeer(c, s.peer, ser, maxSend, details)
	s.peers[p] = struct{}{}
	delete(s.conns, raw)
	return p, nil
}
