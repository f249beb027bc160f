package transport

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/wampkit/wampkit/protocol"
)

// Peer is one end of a WAMP session's message stream. The router and the
// client see only Peer, whatever carries the messages.
//
// One goroutine calls Recv; Send and Close may be called from any goroutine.
type Peer interface {
	// Recv returns the next message from the other end. It blocks until a
	// message arrives or the peer is closed; after a close it returns an
	// error that wraps ErrClosed and, where known, the close reason.
	Recv() (protocol.Message, error)
	// Send queues m for the other end and returns without waiting for it
	// to be written. When the outbound queue is full it returns
	// ErrQueueFull at once; after a close it returns ErrClosed. ctx bounds
	// any wait the implementation may do; none waits past it.
	// The caller must not modify m after Send.
	Send(ctx context.Context, m protocol.Message) error
	// Close ends the stream. Queued messages are flushed within a bounded
	// time; the other end observes the close and reason. Close is
	// idempotent; reason may be nil.
	Close(reason error) error
}

// Detailer is implemented by every peer of this package. TransportDetails
// describes the carrier of the session, for the router's session meta API
// (SUMMARY §16.1, "transport" of wamp.session.get) and for logs, e.g.
// {"type":"rawsocket","serializer":"msgpack","peer":"tcp4:127.0.0.1:5555"}.
// The result is a new map on every call; the caller may keep and modify it.
type Detailer interface {
	TransportDetails() protocol.Dict
}

// A Waiter is a [Peer] whose sends can wait for room in the outbound queue.
// Every Peer of this package implements it. SendWait is Send, except that
// when the queue is full it waits for room until ctx ends and only then
// returns ErrQueueFull. It is how an owner applies backpressure for a
// bounded time before it gives up on a slow peer.
type Waiter interface {
	SendWait(ctx context.Context, m protocol.Message) error
}

var (
	// ErrClosed is returned by Peer.Send after the peer was closed, and is
	// wrapped by the error Peer.Recv returns after a close.
	ErrClosed = errors.New("transport: peer closed")
	// ErrQueueFull is returned by Peer.Send when the outbound queue is full.
	ErrQueueFull = errors.New("transport: outbound queue full")
	// ErrServerClosed is returned by [RawSocketServer.Serve] after
	// [RawSocketServer.Close], and is the close reason of the peers that
	// [RawSocketServer.Close] and [WebSocketServer.Close] close.
	ErrServerClosed = errors.New("transport: server closed")
	// ErrMessageTooBig is the close reason (wrapped in the error of
	// Peer.Recv) when the other end sent a message over the negotiated
	// maximum; the connection is failed as the spec requires
	// (advanced/transport_rawsocket.md, "Handshake: Router-to-Client Reply").
	ErrMessageTooBig = errors.New("transport: message too big")
	// ErrHandshake is wrapped by the errors of DialRawSocket and
	// DialWebSocket when the other end refuses or botches the opening
	// handshake, and is the reason logged for such connections on the
	// server side.
	ErrHandshake = errors.New("transport: handshake failed")
	// ErrProtocol is the close reason when the other end breaks the
	// framing rules of the transport (reserved bits, unknown frame types,
	// an empty batch).
	ErrProtocol = errors.New("transport: framing protocol violation")
	// ErrKeepAlive is the close reason when nothing, not even a pong,
	// arrived within PingInterval + PongTimeout.
	ErrKeepAlive = errors.New("transport: keep-alive timeout")

	// errNilMessage is returned by Send for a nil message.
	errNilMessage = errors.New("transport: Send of a nil message")
)

// Defaults of the Config structs of this package, used when a field is zero.
const (
	// DefaultQueueSize is the capacity of a network peer's outbound queue.
	DefaultQueueSize = 256
	// DefaultMaxMessageSize is the largest message a server
	// ([WebSocketServer], [RawSocketServer], and so a router) accepts from
	// a client, 1 MiB: what users of other WAMP routers expect, and a
	// bound on what one message from a stranger costs to decode.
	DefaultMaxMessageSize = 1 << 20
	// DefaultDialMaxMessageSize is the largest message a dialed peer
	// ([DialWebSocket], [DialRawSocket]) accepts from the router it chose
	// to talk to, 16 MiB (the largest a RawSocket can announce).
	DefaultDialMaxMessageSize = 1 << 24
	// DefaultHandshakeTimeout bounds the opening handshake.
	DefaultHandshakeTimeout = 10 * time.Second
	// DefaultPingInterval is the keep-alive ping interval.
	DefaultPingInterval = 30 * time.Second
	// DefaultPongTimeout is how long past a ping interval the other end
	// may stay silent before it is considered dead.
	DefaultPongTimeout = 10 * time.Second
	// DefaultWriteTimeout bounds each write to the network.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultCloseTimeout bounds the flush of queued messages on Close.
	DefaultCloseTimeout = 2 * time.Second
)

// peerOptions are the settings shared by every network peer, with the
// defaults applied.
type peerOptions struct {
	queueSize    int
	maxRecv      int64 // largest message we accept
	pingInterval time.Duration
	pongTimeout  time.Duration
	writeTimeout time.Duration
	closeTimeout time.Duration
	log          *slog.Logger
}

func newPeerOptions(queue int, maxSize int64, ping, pong, write, closeTO time.Duration, log *slog.Logger) peerOptions {
	o := peerOptions{
		queueSize:    queue,
		maxRecv:      maxSize,
		pingInterval: ping,
		pongTimeout:  pong,
		writeTimeout: write,
		closeTimeout: closeTO,
		log:          log,
	}
	if o.queueSize <= 0 {
		o.queueSize = DefaultQueueSize
	}
	if o.maxRecv <= 0 {
		o.maxRecv = DefaultMaxMessageSize // the callers pass their own default
	}
	if o.pingInterval == 0 {
		o.pingInterval = DefaultPingInterval
	}
	if o.pongTimeout <= 0 {
		o.pongTimeout = DefaultPongTimeout
	}
	if o.writeTimeout <= 0 {
		o.writeTimeout = DefaultWriteTimeout
	}
	if o.closeTimeout <= 0 {
		o.closeTimeout = DefaultCloseTimeout
	}
	if o.log == nil {
		o.log = slog.Default()
	}
	return o
}

// idleTimeout is how long a read may wait for any data before the other end
// is considered dead; zero when keep-alive is off.
func (o *peerOptions) idleTimeout() time.Duration {
	if o.pingInterval < 0 {
		return 0
	}
	return o.pingInterval + o.pongTimeout
}

var (
	_ Waiter = (*localPeer)(nil)
	_ Waiter = (*rawPeer)(nil)
	_ Waiter = (*wsPeer)(nil)
)
