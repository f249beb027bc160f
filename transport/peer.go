package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
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

// RecverContext is implemented by every peer of this package.
// RecvContext is Recv that also returns when ctx ends: with an error that
// wraps ctx.Err() and context.Cause(ctx), and not ErrClosed, for the peer
// stays open. It is how an owner bounds a wait for the other end without
// closing the peer: the router's handshake timeout interrupts the
// receive, and the session's goroutine itself sends the ABORT and then
// closes the peer.
//
// The interrupted read may have stopped in the middle of a message, so
// the peer receives nothing more: every later Recv and RecvContext
// returns the same error (or, once the peer is closed, one wrapping
// ErrClosed). Send, SendWait and Close work as before, and the owner must
// Close the peer. A ctx that has already ended interrupts at once, even
// with a message waiting; a ctx that cannot end (context.Background())
// makes RecvContext the same as Recv. Like Recv, RecvContext must not be
// called while another Recv or RecvContext of the peer runs.
type RecverContext interface {
	RecvContext(ctx context.Context) (protocol.Message, error)
}

// Pusher is implemented by the client end of an in-process link whose
// other end can hand a message to the receiver on the sending goroutine
// (the links of the router package's Router.Connect; not [LocalPair]).
// After SetPush, a
// message sent to this end while nothing is queued ahead of it and the
// reader is not handling one (it is blocked in Recv, or has not called
// it yet since the handshake) may be offered to push, on the sender's
// goroutine, instead of being queued; push reports whether it took it.
// What push declines is queued for Recv, in order. Offers are serialized,
// and never concurrent with the handling of a received message (between
// a Recv's return and the next Recv).
//
// push is called with locks of the sender held: it must not block, wait
// for a lock another goroutine may hold while sending on the link (use
// TryLock and decline), or send on the link itself. Once push has taken
// an INVOCATION, or a RESULT that is not progressive, it must not use the
// message any more (what it references, such as Args and Details, it may
// keep): the sender may reuse it for another.
type Pusher interface {
	SetPush(push func(protocol.Message) bool)
}

// Carrier is implemented by the client end of an in-process link of the
// router package's Router.Connect, next to [Pusher]. It lets the goroutine
// that sends a request and then waits for its answer do the work the
// request causes for another in-process client itself, rather than wake a
// goroutine of that client and wait for it: an in-process call then runs
// the callee's handler on the caller's goroutine.
type Carrier interface {
	// SetCarry installs carry. While a message sent with SendCarry is
	// routed on the sender's goroutine, a message it causes for this end
	// may be offered to carry (under the same rules as push, see
	// [Pusher], and before push). carry either takes it and returns the
	// work it needs, which the sender runs once SendCarry has returned, or
	// returns nil, and the message is pushed or queued as usual. carry is
	// called with locks of the sender held: it must not block, and the
	// work must not start before Run. It must not keep the message.
	SetCarry(carry func(protocol.Message) Job)
	// SendCarry is Send for a message whose answer the caller waits for
	// on this goroutine. It returns the work, if any, that another end's
	// carry function took on the way (see SetCarry); the caller must run
	// it (Job.Run) once it holds no lock, before it waits for the answer.
	SendCarry(ctx context.Context, m protocol.Message) (Job, error)
}

// A Job is work taken by a [Carrier]'s carry function, to be run on the
// goroutine that sent the message which caused it.
type Job interface {
	// Run does the work. It is called once.
	Run()
}

// SendCounter is implemented by every peer of this package.
// MessagesSent returns how many messages Send and SendWait accepted so
// far (queued for the other end; a message refused with an error is not
// counted). The count is kept under a lock the send takes anyway, so
// counting costs nothing per message; it is safe to call from any
// goroutine, at any time, also after Close.
type SendCounter interface {
	MessagesSent() uint64
}

// TLSStater is implemented by every peer of this package.
// TLSConnectionState returns the state of the TLS connection under the
// peer, or nil when there is none (plain TCP, Unix sockets, in-process,
// or TLS ended by a proxy in front). It is how an owner authenticates the
// other end by its certificate (PeerCertificates, VerifiedChains) or
// binds an authentication to the TLS channel: tls-exporter (RFC 9266)
// with ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32), or
// tls-unique (RFC 5929) in TLSUnique, which only TLS 1.2 has. The state
// is taken once the handshake is complete; every call returns the same
// value, which the caller must not modify.
type TLSStater interface {
	TLSConnectionState() *tls.ConnectionState
}

var (
	// ErrClosed is returned by Peer.Send after the peer was closed, and is
	// wrapped by the error Peer.Recv returns after a close.
	ErrClosed = errors.New("transport: peer closed")
	// ErrQueueFull is returned by Peer.Send when the outbound queue is
	// full: it holds [PeerConfig].QueueSize messages, or QueueBytes bytes
	// of encoded messages.
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
	// arrived within [PeerConfig].PingInterval + PongTimeout.
	ErrKeepAlive = errors.New("transport: keep-alive timeout")

	// errNilMessage is returned by Send for a nil message.
	errNilMessage = errors.New("transport: Send of a nil message")
)

// PeerConfig holds the settings of a network peer, the same on either
// side of a connection. It is embedded in [WebSocketConfig],
// [RawSocketConfig] (for every peer a server makes), [WebSocketDialConfig]
// and [RawSocketDialConfig]. The zero value is a valid configuration; the
// comment of each field gives its default.
type PeerConfig struct {
	// MaxMessageSize is the largest message accepted from the other end,
	// in bytes. A larger one fails the connection with ErrMessageTooBig
	// (WebSocket: close code 1009). With permessage-deflate it applies to
	// the inflated message, and reading stops at the first byte over it.
	// RawSocket can only announce powers of two from 512 B to 16 MiB, so
	// it is rounded down to one of those. Zero or less means 1 MiB for a
	// server (what users of other WAMP routers expect, and a bound on
	// what one message from a stranger costs to decode) and 16 MiB for a
	// dialer, which talks to a router it chose (16 MiB is the most a
	// RawSocket can announce).
	MaxMessageSize int64
	// QueueSize is the capacity of the outbound queue, in messages. Zero
	// or less means 256.
	QueueSize int
	// QueueBytes is the capacity of the outbound queue in bytes of
	// encoded messages: a message that would take the queue past it is
	// refused with ErrQueueFull, unless the queue is empty (so one
	// message of any size fits). It bounds what an other end that stops
	// reading costs, whatever the size of its messages. Zero or less
	// means 2 MiB, which still leaves a writer many 64 KiB writes' worth
	// queued.
	QueueBytes int
	// HandshakeTimeout bounds the opening handshake: for a dialer, the
	// dial, the TLS handshake and the WebSocket upgrade or RawSocket
	// handshake (ctx may end them sooner); for a RawSocketServer, the TLS
	// and RawSocket handshakes of an accepted connection; for a
	// WebSocketServer, the write of the upgrade response (bound the read
	// of the request with http.Server.ReadHeaderTimeout). Zero or less
	// means 10 s.
	HandshakeTimeout time.Duration
	// PingInterval is the interval of keep-alive pings (WebSocket ping
	// frames, RawSocket PING frames). A connection on which nothing
	// arrives, not even a pong, within PingInterval + PongTimeout is
	// failed with ErrKeepAlive. Negative turns keep-alive off. Zero means
	// 30 s for WebSocket and off for RawSocket: Autobahn|Python's RawSocket
	// transports cannot answer a RawSocket PING (asyncio fails the
	// connection on one, Twisted reads its header as a message length),
	// so RawSocket pings are for peers known to answer them; TCP
	// keep-alive, on by default in Go's listeners and dialers, still finds
	// a dead RawSocket connection.
	PingInterval time.Duration
	// PongTimeout is how long past a PingInterval the other end may stay
	// silent before it is considered dead. Zero or less means 10 s.
	PongTimeout time.Duration
	// WriteTimeout bounds each write to the network: an other end that
	// stops reading fails its own connection after it, and blocks nobody
	// else. Zero or less means 10 s.
	WriteTimeout time.Duration
	// CloseTimeout bounds the flush of queued messages when the peer is
	// closed. Zero or less means 2 s.
	CloseTimeout time.Duration
	// Logger receives connection-level diagnostics. nil means
	// slog.Default().
	Logger *slog.Logger
}

// The defaults of PeerConfig, as its field comments give them.
const (
	defaultServerMaxMessageSize = 1 << 20
	defaultDialMaxMessageSize   = 1 << 24
	defaultQueueSize            = 256
	defaultQueueBytes           = 2 << 20
	defaultHandshakeTimeout     = 10 * time.Second
	defaultPingInterval         = 30 * time.Second
	defaultPongTimeout          = 10 * time.Second
	defaultWriteTimeout         = 10 * time.Second
	defaultCloseTimeout         = 2 * time.Second
)

// withDefaults returns c with every zero (or, where zero or less means the
// default, negative) field set to its default; maxMessageSize is the
// default of MaxMessageSize, which depends on the side.
func (c PeerConfig) withDefaults(maxMessageSize int64) PeerConfig {
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = maxMessageSize
	}
	if c.QueueSize <= 0 {
		c.QueueSize = defaultQueueSize
	}
	if c.QueueBytes <= 0 {
		c.QueueBytes = defaultQueueBytes
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = defaultHandshakeTimeout
	}
	if c.PingInterval == 0 {
		c.PingInterval = defaultPingInterval
	}
	if c.PongTimeout <= 0 {
		c.PongTimeout = defaultPongTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = defaultWriteTimeout
	}
	if c.CloseTimeout <= 0 {
		c.CloseTimeout = defaultCloseTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// rawSocketPeerConfig is c.withDefaults for a RawSocket peer, whose
// keep-alive pings are off unless PingInterval asks for them.
func rawSocketPeerConfig(c PeerConfig, maxMessageSize int64) PeerConfig {
	if c.PingInterval == 0 {
		c.PingInterval = -1
	}
	return c.withDefaults(maxMessageSize)
}

// idleTimeout is how long a read may wait for any data before the other end
// is considered dead; zero when keep-alive is off. Only after withDefaults.
func (c *PeerConfig) idleTimeout() time.Duration {
	if c.PingInterval < 0 {
		return 0
	}
	return c.PingInterval + c.PongTimeout
}

var (
	_ Waiter        = (*localPeer)(nil)
	_ Waiter        = (*rawPeer)(nil)
	_ Waiter        = (*wsPeer)(nil)
	_ RecverContext = (*localPeer)(nil)
	_ RecverContext = (*rawPeer)(nil)
	_ RecverContext = (*wsPeer)(nil)
	_ TLSStater     = (*localPeer)(nil)
	_ TLSStater     = (*rawPeer)(nil)
	_ TLSStater     = (*wsPeer)(nil)
)

// errInterrupted is returned inside a peer when a read failed because the
// context of RecvContext ended; RecvContext turns it into
// interruptedError's error.
var errInterrupted = errors.New("transport: receive interrupted")

// interruptedError is the error RecvContext returns when ctx ended: it
// wraps ctx.Err() and, when it differs, context.Cause(ctx).
func interruptedError(ctx context.Context) error {
	err, cause := ctx.Err(), context.Cause(ctx)
	if cause == nil || cause == err {
		return fmt.Errorf("%w: %w", errInterrupted, err)
	}
	return fmt.Errorf("%w: %w: %w", errInterrupted, err, cause)
}
