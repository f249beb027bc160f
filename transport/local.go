package transport

import (
	"context"
	"fmt"
	"sync"

	"github.com/wampkit/wampkit/protocol"
)

// DefaultLocalQueue is the queue size of each direction of a local link
// when LocalPair is given a size of zero or less.
const DefaultLocalQueue = 64

// LocalPair returns the two ends of an in-process link. Messages cross as
// the same values, neither serialized nor copied: a message and its payload
// are read-only from the moment it is sent, for sender and receiver alike.
// queue is the capacity of each direction; zero or less means
// DefaultLocalQueue.
func LocalPair(queue int) (Peer, Peer) {
	if queue <= 0 {
		queue = DefaultLocalQueue
	}
	a2b := make(chan protocol.Message, queue)
	b2a := make(chan protocol.Message, queue)
	link := &localLink{done: make(chan struct{})}
	return &localPeer{link: link, in: b2a, out: a2b}, &localPeer{link: link, in: a2b, out: b2a}
}

type localLink struct {
	once   sync.Once
	done   chan struct{}
	reason error // written once before done is closed
}

type localPeer struct {
	link *localLink
	in   <-chan protocol.Message
	out  chan<- protocol.Message
}

var _ Peer = (*localPeer)(nil)

func (p *localPeer) Recv() (protocol.Message, error) {
	// Deliver what was queued before the close, then report the close.
	select {
	case m := <-p.in:
		return m, nil
	default:
	}
	select {
	case m := <-p.in:
		return m, nil
	case <-p.link.done:
		select {
		case m := <-p.in:
			return m, nil
		default:
		}
		return nil, p.closedErr()
	}
}

func (p *localPeer) Send(ctx context.Context, m protocol.Message) error {
	select {
	case <-p.link.done:
		return ErrClosed
	default:
	}
	select {
	case p.out <- m:
		return nil
	default:
		return ErrQueueFull
	}
}

func (p *localPeer) Close(reason error) error {
	p.link.once.Do(func() {
		p.link.reason = reason
		close(p.link.done)
	})
	return nil
}

func (p *localPeer) closedErr() error {
	if p.link.reason != nil {
		return fmt.Errorf("%w: %w", ErrClosed, p.link.reason)
	}
	return ErrClosed
}
