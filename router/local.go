package router

import (
	"context"
	"errors"
	"sync"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
	"github.com/wampkit/wampkit/transport"
)

// An in-process session made by [Router.Connect] runs over a
// [transport.LocalPair], but once it is established the client's messages
// do not cross the link: the goroutine that sends one routes it itself,
// as the session's goroutine would have (an in-process call then costs two
// goroutine hand-offs fewer). The session's rule stays the same: its
// messages are routed one at a time, in the order they were sent. A
// sender routes its message only when nobody is routing one of the session
// and nothing is queued; otherwise it queues the message and returns, and
// the session's goroutine routes the queue. A sender routes its own
// message only, so Send stays short and never waits for another.
//
// The router's messages to the client still cross the link's queue, so
// the slow-consumer handling (outbox) is unchanged; so is the opening
// handshake, which the session's goroutine reads from the link.

// localInbox is the client-to-router direction of an in-process session
// once it is established.
type localInbox struct {
	// peer is the client end of the link: before the switch (direct),
	// sends cross it to the session's goroutine.
	peer  transport.Peer
	limit int           // most messages queued behind a routing goroutine
	wake  chan struct{} // capacity 1: wakes the session's goroutine (serve)

	mu sync.Mutex
	s  *session // set by serve before direct
	// inLink counts the client's messages in the link not yet read by the
	// session's goroutine; only counted before direct.
	inLink int
	// direct is set once the session is established: sends are routed by
	// the sender or queued in q, never sent over the link.
	direct bool
	// routing is set while a goroutine routes a message of the session.
	routing bool
	// carrying is set while a SendCarry routes its message on the
	// sender's goroutine; carried is the work a callee's carry function
	// took meanwhile (see transport.Carrier). Both are the routing
	// goroutine's: set and taken under mu, read by it without.
	carrying bool
	carried  transport.Job
	// q[head:] are the queued messages, in order; the session's goroutine
	// routes them.
	q    []protocol.Message
	head int
	// ended is set when routing ended the session (GOODBYE, ABORT, a
	// violation); reason is the close reason. Later messages are dropped,
	// as if they were queued on a link nobody reads any more.
	ended  bool
	reason error
	// closed is set when either end is closed; later sends fail.
	closed bool
	// strict is set for the session of a ClusterLink, whose messages a
	// cluster handed over for callers on another node: once the session
	// ended, sends fail with ErrClosed rather than being dropped, and
	// the request IDs of the CALLs still queued when it ended are kept
	// in unrouted, for the session's leaving to answer them (see
	// linkCallsEnded). Else the cluster would not learn of a call it
	// handed over that was never made.
	strict   bool
	unrouted []protocol.ID
	// room, if not nil, is closed when q shrinks or the link closes
	// (SendWait waits on it).
	room chan struct{}
}

// localOutbox is the router-to-client direction of an in-process session.
// Once the client installed a push function (transport.Pusher), a message
// for it that nothing is queued ahead of, sent while the client's reader
// is not handling another, is offered to that function on the sender's
// goroutine: a RESULT reaches the waiting caller, an INVOCATION the
// callee's handler, without the client's reader in between (an in-process
// call then costs two goroutine hand-offs fewer). What the function
// declines, and everything while messages are queued or the reader is
// busy, crosses the link as before, in order.
type localOutbox struct {
	mu sync.Mutex
	// push is the client's; nil until it installs it. It is called with
	// mu held: it must not block or send on the link (see
	// transport.Pusher), so the client's messages stay in order.
	push func(protocol.Message) bool
	// carry is the client's carry function (transport.Carrier); nil
	// until it installs it. Called like push.
	carry func(protocol.Message) transport.Job
	// queued counts the messages in the link not yet received by the
	// client's reader (a SendWait's message from before it waits).
	queued int
	// held is set while the client's reader handles a message it
	// received: between its Recv's return and its next Recv.
	held bool
	// sent counts the messages sent, pushed or queued (SendCounter).
	sent uint64
}

// localClient is the client end of an in-process session.
type localClient struct {
	transport.Peer
	in  *localInbox
	out *localOutbox
}

// localServer is the router end of an in-process session.
type localServer struct {
	transport.Peer
	in  *localInbox
	out *localOutbox
}

var (
	_ transport.Peer          = (*localClient)(nil)
	_ transport.Waiter        = (*localClient)(nil)
	_ transport.Detailer      = (*localClient)(nil)
	_ transport.Pusher        = (*localClient)(nil)
	_ transport.Carrier       = (*localClient)(nil)
	_ transport.RecverContext = (*localClient)(nil)
	_ transport.Peer          = (*localServer)(nil)
	_ transport.RecverContext = (*localServer)(nil)
	_ transport.Waiter        = (*localServer)(nil)
	_ transport.Detailer      = (*localServer)(nil)
	_ transport.SendCounter   = (*localServer)(nil)
)

// newLocalLink returns the client and router ends of an in-process session
// whose link queues hold queue messages each way.
func newLocalLink(queue int) (*localClient, *localServer) {
	client, server := transport.LocalPair(queue)
	in := &localInbox{peer: client, limit: queue, wake: make(chan struct{}, 1)}
	out := &localOutbox{}
	return &localClient{Peer: client, in: in, out: out}, &localServer{Peer: server, in: in, out: out}
}

// Send implements transport.Peer: it routes m, or queues it behind the
// message being routed. It never blocks on the router: it returns
// transport.ErrQueueFull when the queue is full.
func (c *localClient) Send(ctx context.Context, m protocol.Message) error {
	_, err := c.send(ctx, m, false)
	return err
}

// SendCarry implements transport.Carrier: it is Send, and returns the
// work a callee's carry function took while m was routed on this
// goroutine.
func (c *localClient) SendCarry(ctx context.Context, m protocol.Message) (transport.Job, error) {
	return c.send(ctx, m, true)
}

// send is Send; with carry, it is SendCarry.
func (c *localClient) send(ctx context.Context, m protocol.Message, carry bool) (transport.Job, error) {
	in := c.in
	if sh, ok := m.(*serialize.Shared); ok {
		m = sh.Message()
	}
	in.mu.Lock()
	switch {
	case in.closed:
		in.mu.Unlock()
		return nil, transport.ErrClosed
	case !in.direct:
		// The handshake: the session's goroutine reads the link.
		err := in.peer.Send(ctx, m)
		if err == nil {
			in.inLink++
		}
		in.mu.Unlock()
		return nil, err
	case m == nil:
		in.mu.Unlock()
		return nil, in.peer.Send(ctx, nil) // the link's error for a nil message
	case in.ended && in.strict:
		in.mu.Unlock()
		return nil, transport.ErrClosed
	case in.ended:
		in.mu.Unlock()
		return nil, nil
	case in.routing || in.pendingLocked() > 0:
		if in.pendingLocked() >= in.limit {
			in.mu.Unlock()
			return nil, transport.ErrQueueFull
		}
		in.pushLocked(m)
		if !in.routing {
			in.signal()
		}
		in.mu.Unlock()
		return nil, nil
	}
	in.routing = true
	in.carrying = carry
	s := in.s
	in.mu.Unlock()

	err := s.route(m)

	in.mu.Lock()
	in.routing = false
	job := in.carried
	in.carrying, in.carried = false, nil
	if err != nil {
		in.endLocked(err)
	}
	if in.pendingLocked() > 0 || in.ended || in.closed {
		in.signal()
	}
	in.mu.Unlock()
	return job, nil
}

// pendingLocked returns the number of queued messages. in.mu must be
// held.
func (in *localInbox) pendingLocked() int { return len(in.q) - in.head }

// pushLocked queues m. in.mu must be held.
func (in *localInbox) pushLocked(m protocol.Message) {
	if in.head > 0 && len(in.q) == cap(in.q) {
		// Reuse the routed front before growing.
		n := copy(in.q, in.q[in.head:])
		clear(in.q[n:])
		in.q, in.head = in.q[:n], 0
	}
	in.q = append(in.q, m)
}

// popLocked removes and returns the first queued message. in.mu must be
// held, and a message queued.
func (in *localInbox) popLocked() protocol.Message {
	m := in.q[in.head]
	in.q[in.head] = nil
	in.head++
	if in.head == len(in.q) {
		in.q, in.head = in.q[:0], 0
	}
	return m
}

// SendWait implements transport.Waiter.
func (c *localClient) SendWait(ctx context.Context, m protocol.Message) error {
	in := c.in
	for {
		err := c.Send(ctx, m)
		if err != transport.ErrQueueFull {
			return err
		}
		in.mu.Lock()
		if !in.direct {
			in.mu.Unlock()
			return c.Peer.(transport.Waiter).SendWait(ctx, m)
		}
		if in.closed || in.pendingLocked() < in.limit {
			in.mu.Unlock()
			continue
		}
		if in.room == nil {
			in.room = make(chan struct{})
		}
		room := in.room
		in.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return transport.ErrQueueFull
		}
	}
}

// Close implements transport.Peer: it closes the link.
func (c *localClient) Close(reason error) error {
	c.in.close()
	return c.Peer.Close(reason)
}

// TransportDetails implements transport.Detailer.
func (c *localClient) TransportDetails() protocol.Dict {
	return c.Peer.(transport.Detailer).TransportDetails()
}

// SetPush implements transport.Pusher.
func (c *localClient) SetPush(push func(protocol.Message) bool) {
	c.out.mu.Lock()
	c.out.push = push
	c.out.mu.Unlock()
}

// SetCarry implements transport.Carrier.
func (c *localClient) SetCarry(carry func(protocol.Message) transport.Job) {
	c.out.mu.Lock()
	c.out.carry = carry
	c.out.mu.Unlock()
}

// Recv implements transport.Peer: the reader is done with the message it
// received before, and holds the one it receives now.
func (c *localClient) Recv() (protocol.Message, error) {
	c.out.release()
	m, err := c.Peer.Recv()
	if err == nil {
		c.out.take()
	}
	return m, err
}

// RecvContext implements transport.RecverContext, like Recv.
func (c *localClient) RecvContext(ctx context.Context) (protocol.Message, error) {
	c.out.release()
	m, err := c.Peer.(transport.RecverContext).RecvContext(ctx)
	if err == nil {
		c.out.take()
	}
	return m, err
}

// release records that the client's reader is done with its message.
func (o *localOutbox) release() {
	o.mu.Lock()
	o.held = false
	o.mu.Unlock()
}

// take records that the client's reader received a message of the link.
func (o *localOutbox) take() {
	o.mu.Lock()
	o.queued--
	o.held = true
	o.mu.Unlock()
}

// Send implements transport.Peer: it pushes m to the client if it may (see
// localOutbox), or queues it on the link.
func (p *localServer) Send(ctx context.Context, m protocol.Message) error {
	_, err := p.send(ctx, m)
	return err
}

// send is Send, which also reports whether the client's push function
// took m: then the client no longer uses m (see transport.Pusher).
func (p *localServer) send(ctx context.Context, m protocol.Message) (pushed bool, err error) {
	o := p.out
	if sh, ok := m.(*serialize.Shared); ok {
		m = sh.Message()
	}
	o.mu.Lock()
	if o.push != nil && o.queued == 0 && !o.held && m != nil && o.push(m) {
		o.sent++
		o.mu.Unlock()
		return true, nil
	}
	err = p.Peer.Send(ctx, m)
	if err == nil {
		o.queued++
		o.sent++
	}
	o.mu.Unlock()
	return false, err
}

// SendWait implements transport.Waiter.
func (p *localServer) SendWait(ctx context.Context, m protocol.Message) error {
	if err := p.Send(ctx, m); !errors.Is(err, transport.ErrQueueFull) {
		return err
	}
	// Counted as queued before it waits for room, so that nothing is
	// pushed ahead of it meanwhile.
	o := p.out
	o.mu.Lock()
	o.queued++
	o.mu.Unlock()
	err := p.Peer.(transport.Waiter).SendWait(ctx, m)
	o.mu.Lock()
	if err != nil {
		o.queued--
	} else {
		o.sent++
	}
	o.mu.Unlock()
	return err
}

// MessagesSent implements transport.SendCounter: the messages the router
// sent the client.
func (p *localServer) MessagesSent() uint64 {
	p.out.mu.Lock()
	defer p.out.mu.Unlock()
	return p.out.sent
}

// Recv implements transport.Peer. It counts the client's messages read
// from the link during the handshake.
func (p *localServer) Recv() (protocol.Message, error) {
	m, err := p.Peer.Recv()
	if err == nil {
		p.in.mu.Lock()
		p.in.inLink--
		p.in.mu.Unlock()
	}
	return m, err
}

// RecvContext implements transport.RecverContext, counting like Recv.
func (p *localServer) RecvContext(ctx context.Context) (protocol.Message, error) {
	m, err := p.Peer.(transport.RecverContext).RecvContext(ctx)
	if err == nil {
		p.in.mu.Lock()
		p.in.inLink--
		p.in.mu.Unlock()
	}
	return m, err
}

// Close implements transport.Peer: it closes the link.
func (p *localServer) Close(reason error) error {
	p.in.close()
	return p.Peer.Close(reason)
}

// TransportDetails implements transport.Detailer.
func (p *localServer) TransportDetails() protocol.Dict {
	return p.Peer.(transport.Detailer).TransportDetails()
}

// signal wakes the session's goroutine; it never blocks. in.mu is held
// or not.
func (in *localInbox) signal() {
	select {
	case in.wake <- struct{}{}:
	default:
	}
}

// endLocked records that routing ended the session with reason (the first
// reason wins). in.mu must be held.
func (in *localInbox) endLocked(reason error) {
	if !in.ended {
		in.ended, in.reason = true, reason
	}
	in.freeRoomLocked()
}

// freeRoomLocked wakes the goroutines waiting in SendWait. in.mu must be
// held.
func (in *localInbox) freeRoomLocked() {
	if in.room != nil {
		close(in.room)
		in.room = nil
	}
}

// close marks the link closed: sends fail from now on, and the session's
// goroutine ends the session once the message being routed (if any) is.
func (in *localInbox) close() {
	in.mu.Lock()
	in.closed = true
	in.freeRoomLocked()
	in.mu.Unlock()
	in.signal()
}

// serve routes the established session s until it ends, on the session's
// goroutine, and returns the close reason for the transport (like
// session.loop). It switches sends to direct routing, routes what the
// client sent over the link before the switch, then routes what senders
// queue, until routing ends the session or the link closes; it returns
// only when no sender is routing any more.
func (in *localInbox) serve(s *session) error {
	in.mu.Lock()
	in.s = s
	in.direct = true
	in.routing = true
	n := in.inLink
	in.mu.Unlock()
	// Messages sent before the switch are in the link, ahead of any
	// queued since (which wait for routing to clear).
	for range n {
		m, err := s.peer.Recv()
		if err == nil {
			err = s.route(m)
		}
		if err != nil {
			in.mu.Lock()
			in.routing = false
			in.endLocked(err)
			in.mu.Unlock()
			break
		}
	}
	in.mu.Lock()
	in.routing = false
	for {
		// After a close, what was queued before it is still routed, as
		// the link would have delivered it.
		for !in.routing && in.pendingLocked() > 0 && !in.ended {
			m := in.popLocked()
			in.freeRoomLocked()
			in.routing = true
			in.mu.Unlock()
			err := s.route(m)
			in.mu.Lock()
			in.routing = false
			if err != nil {
				in.endLocked(err)
			}
		}
		if in.pendingLocked() == 0 && cap(in.q) > keptBacklog {
			in.q, in.head = nil, 0 // a burst's queue is not kept for life
		}
		if !in.routing && (in.ended || in.closed) {
			ended, reason := in.ended, in.reason
			in.ended = true // nothing is routed any more
			if in.strict {
				for _, m := range in.q[in.head:] {
					if c, ok := m.(*protocol.Call); ok {
						in.unrouted = append(in.unrouted, c.Request)
					}
				}
			}
			clear(in.q)
			in.q, in.head = nil, 0
			in.mu.Unlock()
			if ended {
				return reason
			}
			// The link is closed and holds none of the client's
			// messages: Recv returns its close error.
			_, err := s.peer.Recv()
			if err == nil {
				err = transport.ErrClosed
			}
			return err
		}
		in.mu.Unlock()
		<-in.wake
		in.mu.Lock()
	}
}
