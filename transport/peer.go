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
	// to be written. A network peer encodes m on the calling goroutine
	// first (a *serialize.Shared at most once per serializer, however
	// many peers it goes to). It returns nil when m is queued, and
	// otherwise, with nothing queued:
	//
	//   - an error wrapping ErrQueueFull when the outbound queue holds
	//     its maximum of messages or bytes: m may fit later (the router
	//     keeps it in the session's backlog);
	//   - an error wrapping ErrEncode when m cannot be encoded in the
	//     peer's serializer (NaN or infinity, or a string that begins
	//     with NUL, for JSON): m will never be delivered, but the peer
	//     works on (the router answers m's sender with an error);
	//   - an error wrapping ErrMessageTooBig when m is larger than the
	//     other end accepts (the maximum it announced in the RawSocket
	//     handshake): the same;
	//   - ErrClosed after a close: the peer is done (the router forgets
	//     the session).
	//
	// ctx bounds any wait the implementation may do; none waits past it.
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
// bounded time before it gives up on a slow peer. It returns the errors of
// Send, with the same meaning; ErrEncode and ErrMessageTooBig come at
// once, without a wait.
type Waiter interface {
	SendWait(ctx context.Context, m protocol.Message) error
}

var (
	// ErrClosed is returned by Peer.Send after the peer was closed, and is
	// wrapped by the error Peer.Recv returns after a close.
	ErrClosed = errors.New("transport: peer closed")
	// ErrQueueFull is returned by Peer.Send when the outbound queue is
	// full: it holds QueueSize messages, or QueueBytes bytes of encoded
	// messages.
	ErrQueueFull = errors.New("transport: outbound queue full")
	// ErrEncode is wrapped, with the serializer's error, by the error
	// Peer.Send and Waiter.SendWait of a network peer return for a
	// message its serializer cannot encode. The message is not sent; the
	// peer works on.
	ErrEncode = errors.New("transport: message cannot be encoded")
	// ErrServerClosed is returned by [RawSocketServer.Serve] after
	// [RawSocketServer.Close], and is the close reason of the peers that
	// [RawSocketServer.Close] and [WebSocketServer.Close] close.
	ErrServerClosed = errors.New("transport: server closed")
	// ErrMessageTooBig is the close reason (wrapped in the error of
	// Peer.Recv) when the other end sent a message over the negotiated
	// maximum; the connection is failed as the spec requires
	// (advanced/transport_rawsocket.md, "Handshake: Router-to-Client Reply").
	// Peer.Send and Waiter.SendWait of a RawSocket peer return it
	// (wrapped) for a message larger than the other end announced: the
	// message is not sent (the spec leaves the choice to the
	// implementation), and the peer works on.
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
	// DefaultQueueSize is the capacity of a network peer's outbound queue,
	// in messages.
	DefaultQueueSize = 256
	// DefaultQueueBytes is the capacity of a network peer's outbound
	// queue in bytes of encoded messages, 2 MiB: a slow client pins at
	// most that much in its queue (whatever the message count), and a
	// writer still finds many 64 KiB writes' worth queued.
	DefaultQueueBytes = 2 << 20
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
	queueBytes   int
	maxRecv      int64 // largest message we accept
	pingInterval time.Duration
	pongTimeout  time.Duration
	writeTimeout time.Duration
	closeTimeout time.Duration
	log          *slog.Logger
}

func newPeerOptions(queue, queueBytes int, maxSize int64, ping, pong, write, closeTO time.Duration, log *slog.Logger) peerOptions {
	o := peerOptions{
		queueSize:    queue,
		queueBytes:   queueBytes,
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
	if o.queueBytes <= 0 {
		o.queueBytes = DefaultQueueBytes
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
