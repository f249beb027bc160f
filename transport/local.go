package transport

import (
	"context"
	"crypto/tls"
	"sync"
	"sync/atomic"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

// defaultLocalQueue is the queue size of each direction of a local link
// when LocalPair is given a size of zero or less.
const defaultLocalQueue = 64

// LocalPair returns the two ends of an in-process link. Messages cross as
// the same values, neither serialized nor copied; a *serialize.Shared is
// unwrapped, so receivers get its inner message. queue is the capacity of
// each direction; zero or less means 64.
//
// Ownership: a message and everything it references (Details, Args,
// Kwargs, nested maps and slices) belong to nobody once sent. The sender
// must not modify it after Send, and the receiver must treat it as
// read-only, because the same value may also have been sent to other
// peers (a router hands one EVENT to every subscriber).
//
// Closing either end closes the link: both ends' Send return ErrClosed,
// and both ends' Recv first return what was already queued to them, then
// an error wrapping ErrClosed and the reason given to Close.
func LocalPair(queue int) (Peer, Peer) {
	if queue <= 0 {
		queue = defaultLocalQueue
	}
	a2b := make(chan protocol.Message, queue)
	b2a := make(chan protocol.Message, queue)
	link := &localLink{done: make(chan struct{}), a2b: a2b, b2a: b2a}
	return &localPeer{link: link, in: b2a, out: a2b}, &localPeer{link: link, in: a2b, out: b2a}
}

// localLink is the state both ends of a local link share.
type localLink struct {
	once sync.Once
	done chan struct{}
	err  error // Recv's error after the close; written once before done is closed
	a2b  chan protocol.Message
	b2a  chan protocol.Message
}

// closeMark is queued by Close to wake a Recv blocked on an empty queue;
// Recv never returns it. (A plain channel receive is cheaper than a select
// on the queue and done, and the local round trip is on every in-process
// call.)
var closeMark protocol.Message = (*closeMarker)(nil)

type closeMarker struct{}

func (*closeMarker) Type() protocol.MessageType { return 0 }

// localPeer is one end of a local link.
type localPeer struct {
	link *localLink
	in   <-chan protocol.Message
	out  chan<- protocol.Message
	// recvErr is the reader's only: set when a RecvContext was
	// interrupted, it ends every later receive.
	recvErr error
	// sent counts the messages queued to the other end (SendCounter).
	// One uncontended atomic add beside a channel send.
	sent atomic.Uint64
}

var (
	_ Peer        = (*localPeer)(nil)
	_ Detailer    = (*localPeer)(nil)
	_ SendCounter = (*localPeer)(nil)
)

// Recv implements Peer.
func (p *localPeer) Recv() (protocol.Message, error) {
	return p.recv(nil)
}

// RecvContext implements RecverContext.
func (p *localPeer) RecvContext(ctx context.Context) (protocol.Message, error) {
	done := ctx.Done()
	if p.recvErr == nil && done != nil && ctx.Err() != nil {
		p.recvErr = interruptedError(ctx)
	}
	m, err := p.recv(done)
	if err == errInterrupted {
		p.recvErr = interruptedError(ctx)
		return nil, p.recvErr
	}
	return m, err
}

// recv is Recv, which gives up with errInterrupted when done ends.
func (p *localPeer) recv(done <-chan struct{}) (protocol.Message, error) {
	if p.recvErr != nil {
		select {
		case <-p.link.done:
			return nil, p.link.err
		default:
			return nil, p.recvErr
		}
	}
	// Deliver what was queued before the close, then report the close.
	select {
	case m := <-p.in:
		return p.got(m)
	default:
	}
	select {
	case <-p.link.done:
		// The other end may have sent and closed between the two checks:
		// what it queued before the close is still delivered.
		select {
		case m := <-p.in:
			return p.got(m)
		default:
		}
		return nil, p.link.err
	default:
	}
	// The queue was empty and the link open. If Close comes now, it queues
	// closeMark unless the queue is full, and then this receive does not
	// block either.
	if done == nil {
		return p.got(<-p.in)
	}
	select {
	case m := <-p.in:
		return p.got(m)
	case <-done:
		return nil, errInterrupted
	}
}

// got returns a received message, or the close error for closeMark. The
// mark is put back so that it also ends every later (or, against the
// rules, concurrent) Recv.
func (p *localPeer) got(m protocol.Message) (protocol.Message, error) {
	if m != closeMark {
		return m, nil
	}
	in := p.link.a2b
	if p.out == p.link.a2b {
		in = p.link.b2a
	}
	select {
	case in <- closeMark:
	default:
	}
	return nil, p.link.err
}

// Send implements Peer. It never blocks and does not use ctx.
func (p *localPeer) Send(_ context.Context, m protocol.Message) error {
	if sh, ok := m.(*serialize.Shared); ok {
		m = sh.Message()
	}
	if m == nil {
		return errNilMessage
	}
	select {
	case <-p.link.done:
		return ErrClosed
	default:
	}
	select {
	case p.out <- m:
		p.sent.Add(1)
		return nil
	default:
		return ErrQueueFull
	}
}

// MessagesSent implements SendCounter.
func (p *localPeer) MessagesSent() uint64 { return p.sent.Load() }

// SendWait implements Waiter.
func (p *localPeer) SendWait(ctx context.Context, m protocol.Message) error {
	if err := p.Send(ctx, m); err != ErrQueueFull {
		return err
	}
	if sh, ok := m.(*serialize.Shared); ok {
		m = sh.Message()
	}
	select {
	case p.out <- m:
		p.sent.Add(1)
		return nil
	case <-p.link.done:
		return ErrClosed
	case <-ctx.Done():
		return ErrQueueFull
	}
}

// Close implements Peer. It closes both ends at once; it never blocks.
func (p *localPeer) Close(reason error) error {
	p.link.once.Do(func() {
		p.link.err = ErrClosed
		if reason != nil {
			p.link.err = &closedError{reason: reason}
		}
		close(p.link.done)
		for _, ch := range []chan protocol.Message{p.link.a2b, p.link.b2a} {
			select {
			case ch <- closeMark:
			default:
			}
		}
	})
	return nil
}

// TLSConnectionState implements TLSStater: nil, there is no TLS.
func (p *localPeer) TLSConnectionState() *tls.ConnectionState { return nil }

// TransportDetails implements Detailer: {"type": "local"}.
func (p *localPeer) TransportDetails() protocol.Dict {
	return protocol.Dict{"type": "local"}
}
