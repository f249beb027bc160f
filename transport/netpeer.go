package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

// Sizes of the network peers' buffers and batches.
const (
	flushSize  = 64 << 10 // a writer flushes a batch once it reaches this size
	keepBuffer = 1 << 20  // buffers that grew past this are dropped after use
	writeBatch = 32       // how many frames a writer takes from the queue at once
)

// peerCore is the state every network peer shares: the encoder, the
// bounded outbound queue of encoded frames, the write path (writer.go),
// the close reason and the lifecycle of the peer.
//
// Send encodes on the calling goroutine, so that a message that cannot be
// sent (it does not encode, or is larger than the other end accepts) is
// refused to its sender, who can tell its own sender; the writing is
// bytes only.
//
// Lifecycle: shutdown (from Close, a failed read or a failed write) records
// the first reason and closes closing; a writer goroutine then flushes
// what is queued (bounded by closeDeadline), closes the connection and
// closes done. Close waits for done, and if the writer is stuck past the
// close timeout it closes the connection itself, which unblocks the writer.
type peerCore struct {
	cfg  PeerConfig
	conn net.Conn // the network connection; Close is safe from any goroutine

	// The encoder, read-only after construction.
	ser     serialize.Serializer
	codec   serialize.Codec
	maxSend int64 // the largest encoding the other end accepts; 0 means any

	// The write path, read-only after construction: cw is the peer's
	// kind; rc writes to the socket without blocking, nil when the
	// connection cannot (TLS), and then only the writer goroutine writes.
	cw connWriter
	rc *fdWriter

	q       outQueue      // the outbound queue, and the right to write
	pongs   chan []byte   // RawSocket: PING payloads to echo; nil for WebSocket
	closing chan struct{} // closed once by shutdown
	done    chan struct{} // closed by the writer when it has finished

	// ping is the keep-alive timer; nil when keep-alive is off. q.mu
	// guards it.
	ping *time.Timer
	// failedWrite is set when a write failed; only the holder of the right
	// to write touches it.
	failedWrite bool
	// writers counts the writer goroutines started (tests and
	// benchmarks read it).
	writers atomic.Uint64
	// idleSince is when the last holder of the right to write gave it
	// up (UnixNano): how long the peer's writing has been idle.
	idleSince atomic.Int64
	// inlineGap is defaultInlineGap; read-only after construction
	// (tests set it to 0, to have every message written inline).
	inlineGap time.Duration

	once          sync.Once
	reason        error     // written once, before closing is closed
	closeDeadline time.Time // written once, before closing is closed

	// Interrupting the reader (RecvContext). interrupt is set by the
	// context's AfterFunc, with the past read deadline: every read fails
	// at once until the reader clears it. recvErr is the reader's only:
	// set when a RecvContext was interrupted, it ends every later receive.
	interrupt atomic.Bool
	recvErr   error

	details  protocol.Dict        // read-only after construction
	tlsState *tls.ConnectionState // read-only after construction; nil without TLS
}

// init sets up c for conn, whose handshakes are complete, and cw, whose
// connection rc writes without blocking (nil if none). details gets
// "tls": true when conn is TLS. It starts the keep-alive timer.
func (c *peerCore) init(conn net.Conn, cw connWriter, rc *fdWriter, cfg PeerConfig, ser serialize.Serializer, maxSend int64, details protocol.Dict) {
	c.tlsState = connTLSState(conn)
	if c.tlsState != nil {
		details["tls"] = true
	}
	c.cfg = cfg
	c.conn = conn
	c.ser = ser
	c.codec = ser.Codec()
	c.maxSend = maxSend
	c.cw = cw
	c.rc = rc
	c.inlineGap = defaultInlineGap
	c.q.init(cfg.QueueSize, cfg.QueueBytes)
	c.closing = make(chan struct{})
	c.done = make(chan struct{})
	c.details = details
	c.startPings()
}

// Send implements Peer. It encodes m and queues the encoding; it never
// blocks.
func (c *peerCore) Send(_ context.Context, m protocol.Message) error {
	if m == nil {
		return errNilMessage
	}
	if c.isClosing() {
		return ErrClosed
	}
	if c.q.full() {
		return ErrQueueFull // without encoding what is refused anyway
	}
	f, err := c.encode(m)
	if err != nil {
		return err
	}
	c.q.mu.Lock()
	if err := c.q.putLocked(f); err != nil {
		c.q.mu.Unlock()
		f.release()
		return err
	}
	took := c.takeWriteLocked()
	c.q.mu.Unlock()
	if took {
		c.sent(f)
	}
	return nil
}

// SendWait implements Waiter.
func (c *peerCore) SendWait(ctx context.Context, m protocol.Message) error {
	if m == nil {
		return errNilMessage
	}
	if c.isClosing() {
		return ErrClosed
	}
	f, err := c.encode(m)
	if err != nil {
		return err
	}
	if err := c.q.putWait(ctx, f); err != nil {
		f.release()
		return err
	}
	took := c.takeWriteLocked()
	c.q.mu.Unlock()
	if took {
		c.sent(f)
	}
	return nil
}

// MessagesSent implements SendCounter.
func (c *peerCore) MessagesSent() uint64 {
	c.q.mu.Lock()
	defer c.q.mu.Unlock()
	return c.q.accepted
}

// encode encodes m into a frame: a *serialize.Shared's cached encoding,
// or a pooled buffer. The error wraps ErrEncode or ErrMessageTooBig.
func (c *peerCore) encode(m protocol.Message) (frame, error) {
	var f frame
	if sh, ok := m.(*serialize.Shared); ok {
		b, err := sh.Bytes(c.ser)
		if err != nil {
			return frame{}, fmt.Errorf("%w: %w", ErrEncode, err)
		}
		f.b = b
	} else {
		bp := getBuffer(&frameBuffers)
		b, err := c.codec.Encode((*bp)[:0], m)
		if err != nil {
			putBuffer(&frameBuffers, bp, b, maxPooledFrame)
			return frame{}, fmt.Errorf("%w: %w", ErrEncode, err)
		}
		f.b, f.buf = b, bp
	}
	if c.maxSend > 0 && int64(len(f.b)) > c.maxSend {
		n := len(f.b)
		f.release()
		return frame{}, fmt.Errorf("%w: %v of %d bytes, the other end accepts %d", ErrMessageTooBig, m.Type(), n, c.maxSend)
	}
	return f, nil
}

// Close implements Peer: it stops accepting messages, lets the writer flush
// what is queued within the close timeout, closes the connection and
// returns when the writer goroutine has ended.
func (c *peerCore) Close(reason error) error {
	c.shutdown(reason)
	select {
	case <-c.done:
		return nil
	default:
	}
	t := time.NewTimer(c.cfg.CloseTimeout + c.cfg.CloseTimeout/2)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		// The writer did not finish in time (its deadline should have
		// fired); closing the connection unblocks any write.
		_ = c.conn.Close()
		<-c.done
	}
	return nil
}

// TransportDetails implements Detailer.
func (c *peerCore) TransportDetails() protocol.Dict {
	d := make(protocol.Dict, len(c.details))
	for k, v := range c.details {
		d[k] = v
	}
	return d
}

// TLSConnectionState implements TLSStater.
func (c *peerCore) TLSConnectionState() *tls.ConnectionState { return c.tlsState }

// connTLSState returns the state of conn's TLS connection, or nil: conn is
// a *tls.Conn (RawSocket over TLS, our wss dialer), or a corkConn around
// one (a WebSocket server's connection, hijacked from net/http).
func connTLSState(conn net.Conn) *tls.ConnectionState {
	if cc, ok := conn.(*corkConn); ok {
		conn = cc.Conn
	}
	tc, ok := conn.(*tls.Conn)
	if !ok {
		return nil
	}
	cs := tc.ConnectionState()
	return &cs
}

// shutdown records reason (the first one wins) and has a writer
// goroutine finish (see writer.go). It reports whether this call was the
// first.
func (c *peerCore) shutdown(reason error) bool {
	first := false
	c.once.Do(func() {
		first = true
		c.reason = reason
		c.closeDeadline = time.Now().Add(c.cfg.CloseTimeout)
		c.q.close()
		close(c.closing)
		// Wake the reader (see readDeadline); writes are unaffected.
		_ = c.conn.SetReadDeadline(pastDeadline)
	})
	if first {
		// Whoever holds the right to write sees closing; if nobody
		// does, a writer goroutine takes it now.
		c.kick()
	}
	return first
}

// pastDeadline is a read deadline that has passed: it fails reads at once.
var pastDeadline = time.Unix(1, 0)

// readDeadline sets the connection's read deadline before a read: idle
// from now (none if idle <= 0), or the past once the peer is closing or
// its RecvContext interrupted. With shutdown's (and recvContext's) own
// setting of the past deadline, a Recv blocked in a read, or about to
// read, returns as soon as the peer is closed, whatever the writer still
// flushes: a closed peer's owner does not wait for the other end (a slow
// consumer dropped by the router, say) to stop reading it.
func (c *peerCore) readDeadline(idle time.Duration) {
	if idle > 0 {
		_ = c.conn.SetReadDeadline(time.Now().Add(idle))
	}
	if c.isClosing() || c.interrupt.Load() {
		_ = c.conn.SetReadDeadline(pastDeadline)
	}
}

// recvContext is RecvContext (see RecverContext) for a peer whose receive
// is recv: recv passes done to any wait that is not a read, and returns
// errInterrupted when a read failed for c.interrupt, or done ended a wait.
// Only the reader calls it.
func (c *peerCore) recvContext(ctx context.Context, recv func(done <-chan struct{}) (protocol.Message, error)) (protocol.Message, error) {
	done := ctx.Done()
	if done == nil {
		return recv(nil)
	}
	if err := c.recvDone(); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		c.recvErr = interruptedError(ctx)
		return nil, c.recvErr
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		c.interrupt.Store(true)
		_ = c.conn.SetReadDeadline(pastDeadline)
		close(fired)
	})
	m, err := recv(done)
	if !stop() {
		<-fired
		if err != errInterrupted {
			// ctx ended when the reads were done: later ones must work.
			// The next read sets its own deadline (readDeadline).
			c.interrupt.Store(false)
			_ = c.conn.SetReadDeadline(time.Time{})
		}
	}
	if err == errInterrupted {
		c.recvErr = interruptedError(ctx)
		return nil, c.recvErr
	}
	return m, err
}

// recvDone returns the error that ends every receive once the peer is
// closing or its RecvContext was interrupted; nil while it receives.
func (c *peerCore) recvDone() error {
	if c.isClosing() {
		return c.closedErr()
	}
	return c.recvErr
}

// interruptedRead reports whether the read error err comes from a
// RecvContext's interruption, rather than from the connection or a close.
func (c *peerCore) interruptedRead(err error) bool {
	return c.interrupt.Load() && !c.isClosing() && isTimeout(err)
}

// isClosing reports whether shutdown has been called.
func (c *peerCore) isClosing() bool {
	select {
	case <-c.closing:
		return true
	default:
		return false
	}
}

// closedErr is the error Recv returns once the peer is closed: ErrClosed
// wrapping the recorded reason. Only valid after shutdown.
func (c *peerCore) closedErr() error {
	<-c.closing
	if c.reason == nil {
		return ErrClosed
	}
	return &closedError{reason: c.reason}
}

// closedError is ErrClosed with the reason of the close. Its message says
// "transport:" once, where the reason (a read failure of this package,
// say) starts with it too.
type closedError struct{ reason error }

func (e *closedError) Error() string {
	return ErrClosed.Error() + ": " + strings.TrimPrefix(e.reason.Error(), "transport: ")
}

// Unwrap returns ErrClosed and the reason, for errors.Is and errors.As.
func (e *closedError) Unwrap() []error { return []error{ErrClosed, e.reason} }

// failRead records a read error as the close reason (unless the peer is
// already closing) and returns the error for Recv.
func (c *peerCore) failRead(err error) error {
	c.shutdown(err)
	return c.closedErr()
}

// writeDeadline is the deadline for the next write: the write timeout, cut
// short by the close deadline once the peer is closing.
func (c *peerCore) writeDeadline() time.Time {
	d := time.Now().Add(c.cfg.WriteTimeout)
	if c.isClosing() && c.closeDeadline.Before(d) {
		d = c.closeDeadline
	}
	return d
}

// peerAddr formats a remote address for TransportDetails: "tcp4:1.2.3.4:5",
// "tcp6:[::1]:5" or "unix:/path".
func peerAddr(a net.Addr) string {
	if a == nil {
		return ""
	}
	switch a := a.(type) {
	case *net.TCPAddr:
		if a.IP.To4() != nil {
			return "tcp4:" + a.String()
		}
		return "tcp6:" + a.String()
	case *net.UnixAddr:
		return "unix:" + a.Name
	}
	return strings.ToLower(a.Network()) + ":" + a.String()
}

// idleConn is a peer's connection as its reader sees it: reads fail when
// nothing arrives within idle, which is how a dead peer is detected (our
// keep-alive pings make a live peer send pongs well within that time),
// and at once when the peer is closing (see peerCore.readDeadline).
type idleConn struct {
	net.Conn
	r    io.Reader // reads Conn: newFDReader(Conn)
	core *peerCore
	idle time.Duration
}

func (c idleConn) Read(b []byte) (int, error) {
	c.core.readDeadline(c.idle)
	return c.r.Read(b)
}

// isTimeout reports whether err is a deadline error; gorilla hides the
// net package's error behind its own net.Error.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
