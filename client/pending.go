package client

import (
	"context"
	"sync"

	"github.com/wampkit/wampkit/protocol"
)

// pending is a request waiting for the router's reply. The reader appends
// replies to msgs and wakes the waiter through notify; the waiter is the
// goroutine that sent the request (no goroutine per request).
type pending struct {
	id     protocol.ID
	kind   protocol.MessageType // type of the request: TypeCall, TypeSubscribe, ...
	notify chan struct{}        // capacity 1; nil for abandoned clean-up requests

	// Guarded by Client.mu.
	msgs      []protocol.Message // replies; those from head on are not yet taken by the waiter
	head      int                // see take
	err       error              // set when the session ends before the final reply
	abandoned bool               // the waiter gave up; the reader cleans up

	// result is a copy of the final RESULT of a call pushed by an
	// in-process link (see Client.pushResult), whose sender may reuse its
	// own. Guarded by Client.mu.
	result protocol.Result

	sub   *subscriber   // for TypeSubscribe: attached on SUBSCRIBED
	subID protocol.ID   // for TypeUnsubscribe: the subscription id
	reg   *Registration // for TypeRegister: recorded on REGISTERED
}

// queued reports whether a reply waits to be taken. Client.mu must be
// held.
func (p *pending) queued() bool { return p.head < len(p.msgs) }

// take returns the next reply; one must be queued. Client.mu must be
// held. Replies are not shifted down as each is taken, which would cost
// O(n) for each of n progressive results queued behind a slow
// OnProgress: the queue starts again at the front of its array once it is
// empty, and is moved there once half of it is taken.
func (p *pending) take() protocol.Message {
	m := p.msgs[p.head]
	p.msgs[p.head] = nil
	p.head++
	switch {
	case p.head == len(p.msgs):
		p.msgs, p.head = p.msgs[:0], 0
	case p.head >= 64 && 2*p.head >= len(p.msgs):
		n := copy(p.msgs, p.msgs[p.head:])
		clear(p.msgs[n:])
		p.msgs, p.head = p.msgs[:n], 0
	}
	return m
}

// wake signals the waiter; it never blocks.
func (p *pending) wake() {
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

// callPool recycles the pending records of calls, so a call costs no
// channel allocation.
var callPool = sync.Pool{New: func() any {
	return &pending{kind: protocol.TypeCall, notify: make(chan struct{}, 1)}
}}

func getCallPending() *pending { return callPool.Get().(*pending) }

// putCallPending returns p to the pool. p must not be reachable from
// Client.pend any more.
func putCallPending(p *pending) {
	select {
	case <-p.notify:
	default:
	}
	clear(p.msgs)
	p.msgs = p.msgs[:0]
	p.head = 0
	p.err = nil
	p.id = 0
	p.result = protocol.Result{}
	callPool.Put(p)
}

func newPending(kind protocol.MessageType) *pending {
	return &pending{kind: kind, notify: make(chan struct{}, 1)}
}

// next waits for the next reply to p and takes it. It returns the reply, or
// the session's end error, or (with gaveUp set) the context's cause after
// removing p from the pending requests -- unless a reply won the race, which
// is then returned instead. Requests other than calls and publications stay
// recorded as abandoned, so that the reader still handles their reply.
func (c *Client) next(ctx context.Context, p *pending) (m protocol.Message, gaveUp bool, err error) {
	for {
		c.mu.Lock()
		if p.queued() {
			m = p.take()
			c.mu.Unlock()
			return m, false, nil
		}
		if p.err != nil {
			err = p.err
			c.mu.Unlock()
			return nil, false, err
		}
		c.mu.Unlock()

		select {
		case <-p.notify:
			continue
		case <-ctx.Done():
		}
		c.mu.Lock()
		if p.queued() || p.err != nil {
			c.mu.Unlock()
			continue // the reply or the session's end came first
		}
		if c.pend[p.id] == p {
			switch p.kind {
			case protocol.TypeCall, protocol.TypePublish:
				delete(c.pend, p.id)
			default:
				// The reader must still see the reply: to undo a late
				// subscription or registration, or to count an UNSUBSCRIBE
				// as done.
				p.abandoned = true
			}
		}
		c.mu.Unlock()
		return nil, true, context.Cause(ctx)
	}
}

// request sends msg as a new request and waits for its final reply, bounded
// by ctx and Config.ResponseTimeout. A WAMP ERROR reply is returned as the
// error (wrapping the *protocol.Error, naming the request).
func (c *Client) request(ctx context.Context, p *pending, msg protocol.Message) (protocol.Message, error) {
	if ctx.Err() != nil {
		return nil, context.Cause(ctx) // nothing sent
	}
	ctx, cancel := withTimeout(ctx, c.cfg.ResponseTimeout)
	defer cancel()
	c.mu.Lock()
	err := c.sendRequestLocked(ctx, p, msg)
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	m, _, err := c.next(ctx, p)
	if err != nil {
		return nil, err
	}
	if e, ok := m.(*protocol.Error); ok {
		switch msg := msg.(type) {
		case *protocol.Register:
			return nil, wrap(e, "client: register %s", msg.Procedure)
		case *protocol.Subscribe:
			return nil, wrap(e, "client: subscribe %s", msg.Topic)
		case *protocol.Publish:
			return nil, wrap(e, "client: publish %s", msg.Topic)
		}
		return nil, e
	}
	return m, nil
}

// dictID returns d[key] as an ID, or 0 when it is missing or not a valid ID.
func dictID(d protocol.Dict, key string) protocol.ID {
	id, _ := d.ID(key)
	return id
}
