package router

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
	"github.com/wampkit/wampkit/transport"
)

// outbox is the slack between the router and a session's transport: the
// messages that did not fit the transport's outbound queue, in order. A
// sender never waits on it. While it holds messages, every new message for
// the session is appended behind them (so that what one goroutine sends
// reaches the client in the order it was sent), and one goroutine, the
// drainer, moves them into the transport as its writer makes room.
//
// The backlog is bounded by Config.MaxBacklog; what happens when it is
// full, or when the drainer waits too long for room, is the realm's
// SlowConsumerPolicy.
type outbox struct {
	// busy is set while the backlog holds messages or the drainer runs;
	// senders then take mu. When it is clear a send goes straight to the
	// transport without locking.
	busy atomic.Bool
	// dropped counts the EVENTs dropped for a full backlog
	// (SlowConsumerDropEvents); dropLog is when that was last logged
	// (UnixNano).
	dropped atomic.Uint64
	dropLog atomic.Int64

	mu sync.Mutex
	q  []queued // the backlog; q[head:] are pending
	// bytes is the estimated size of the pending messages (see
	// messageSize), for Config.MaxBacklogBytes.
	bytes int
	// head is the index of the next message of q to drain; the drainer
	// leaves it in place while it waits for the transport to take it.
	head int
	// draining is set while the drainer goroutine runs; idle is closed
	// when it ends.
	draining bool
	idle     chan struct{}
	// dead is set once the transport refused a message for good (closed,
	// or the session was dropped as a slow consumer): the backlog is gone
	// and every later send fails.
	dead bool
}

// errBacklogFull means a session's outbound queue and its backlog are both
// full.
var errBacklogFull = errors.New("router: outbound backlog full")

// keptBacklog is the largest backlog capacity a session keeps once its
// backlog is drained.
const keptBacklog = 64

// queued is a message of the backlog and its estimated size.
type queued struct {
	m    protocol.Message
	size int
}

// pending returns the number of messages in the backlog; o.mu held.
func (o *outbox) pending() int { return len(o.q) - o.head }

// messageOverhead is the fixed part of messageSize.
const messageOverhead = 64

// messageSize estimates the bytes m holds (see payloadSize).
func messageSize(m protocol.Message) int {
	const overhead = messageOverhead
	switch m := m.(type) {
	case *serialize.Shared:
		return messageSize(m.Message())
	case *protocol.Event:
		return overhead + payloadSize(m.Args, m.Kwargs) + dictSize(m.Details)
	case *protocol.Invocation:
		return overhead + payloadSize(m.Args, m.Kwargs) + dictSize(m.Details)
	case *protocol.Result:
		return overhead + payloadSize(m.Args, m.Kwargs) + dictSize(m.Details)
	case *protocol.Error:
		return overhead + payloadSize(m.Args, m.Kwargs) + dictSize(m.Details)
	}
	return overhead
}

func dictSize(d protocol.Dict) int {
	if d == nil {
		return 0
	}
	return sizeOf(map[string]any(d), 0)
}

// put queues m for the client behind everything queued before it. It never
// blocks. It returns nil when m was queued (to the transport or to the
// backlog), errBacklogFull when the backlog already holds limit messages
// (then m is not queued and the caller applies its policy), and the
// transport's error otherwise: ErrClosed, or an error wrapping
// transport.ErrEncode or transport.ErrMessageTooBig for a message the
// transport cannot deliver (logged; the session goes on, see
// undeliverable).
func (s *session) put(m protocol.Message, limit int) error {
	return s.putSized(m, limit, nil)
}

// putSized is put for a message whose estimated size, if it is queued in
// the backlog, is *size; a negative *size is computed then and stored
// (deliver shares one among the subscribers of a publication). nil means
// the size is computed if needed. The backlog is bounded in bytes as in
// messages: limit is the part of Config.MaxBacklog the message may use,
// and it may use the same part of Config.MaxBacklogBytes.
func (s *session) putSized(m protocol.Message, limit int, size *int) error {
	o := &s.out
	if !o.busy.Load() && !s.failed.Load() {
		err := s.peer.Send(bg, m)
		if !errors.Is(err, transport.ErrQueueFull) {
			return s.sent(m, err)
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.dead || s.failed.Load() {
		// Once the session is being dropped nothing more is queued for
		// it: what its client reads before the close has no gap.
		return transport.ErrClosed
	}
	if !o.draining {
		// Nothing queued ahead of m: the transport may have made room
		// since the check above.
		err := s.peer.Send(bg, m)
		if !errors.Is(err, transport.ErrQueueFull) {
			return s.sent(m, err)
		}
	}
	if o.pending() >= limit {
		return errBacklogFull
	}
	n := -1
	if size != nil {
		n = *size
	}
	if n < 0 {
		n = messageSize(m)
		if size != nil {
			*size = n
		}
	}
	if maxBytes := s.r.cfg.MaxBacklogBytes; maxBytes > 0 && o.pending() > 0 {
		if max := s.r.cfg.MaxBacklog; limit < max {
			maxBytes = maxBytes / int64(max) * int64(limit)
		}
		if int64(o.bytes+n) > maxBytes {
			return errBacklogFull
		}
	}
	if o.head > 0 && len(o.q) == cap(o.q) {
		// Reuse the drained front before growing.
		n := copy(o.q, o.q[o.head:])
		clear(o.q[n:])
		o.q, o.head = o.q[:n], 0
	}
	o.q = append(o.q, queued{m, n})
	o.bytes += n
	if !o.draining {
		o.draining = true
		o.busy.Store(true)
		o.idle = make(chan struct{})
		s.r.closers.Add(1)
		go s.drain(o.idle)
	}
	return nil
}

// drain moves the backlog into the transport, in order, waiting for room
// as long as the policy allows: Config.SlowConsumerWait per message under
// SlowConsumerDisconnect (then the session is dropped), until the
// transport closes under SlowConsumerDropEvents (whose clients are allowed
// to fall behind; a dead connection is closed by the transport's own
// timeouts). It ends when the backlog is empty or the transport failed.
func (s *session) drain(idle chan struct{}) {
	defer s.r.closers.Done()
	defer close(idle)
	o := &s.out
	o.mu.Lock()
	for o.pending() > 0 {
		// m stays in the backlog, counted, until the transport took it.
		m := o.q[o.head].m
		o.mu.Unlock()
		err := s.waitSend(m)
		if undeliverable(err) {
			// Only this message is lost: it is skipped, the session
			// and the rest of the backlog go on.
			s.checkSent(m, err)
			s.undelivered(m, err)
			err = nil
		}
		o.mu.Lock()
		if err != nil {
			o.dead = true
			clear(o.q)
			o.q, o.head, o.bytes = nil, 0, 0
			o.draining = false
			o.mu.Unlock()
			if errors.Is(err, transport.ErrQueueFull) {
				s.drop("no room in the outbound queue for SlowConsumerWait", errSlowConsumer)
			}
			return
		}
		o.bytes -= o.q[o.head].size
		o.q[o.head] = queued{}
		o.head++
	}
	o.q, o.head = o.q[:0], 0
	if cap(o.q) > keptBacklog {
		o.q = nil // a burst's backlog is not kept for life
	}
	o.draining = false
	o.busy.Store(false)
	o.mu.Unlock()
}

// undeliverable reports whether err means that the transport refused one
// message for good while the session goes on: the message does not
// encode in the client's serializer (a NaN for a JSON client, say), or it
// is larger than the client accepts (RawSocket).
func undeliverable(err error) bool {
	return err != nil && (errors.Is(err, transport.ErrEncode) || errors.Is(err, transport.ErrMessageTooBig))
}

// sent handles the transport's answer err to a Send of m that did not
// wait: an undeliverable message is logged, and handled by undelivered
// on a goroutine of its own, since the sender may hold locks that
// undelivered takes. It returns err.
func (s *session) sent(m protocol.Message, err error) error {
	if !undeliverable(err) {
		return err
	}
	s.checkSent(m, err)
	s.r.closers.Add(1)
	go func() {
		defer s.r.closers.Done()
		s.undelivered(m, err)
	}()
	return err
}

// checkSent logs m when err says it is undeliverable, and returns err.
func (s *session) checkSent(m protocol.Message, err error) error {
	if undeliverable(err) {
		s.r.log.Warn("router: message not delivered", "session", uint64(s.id), "realm", s.realmName(),
			"type", m.Type().String(), "error", err)
	}
	return err
}

// waitSend queues m in the transport, waiting for room as the realm's
// policy allows (see drain).
func (s *session) waitSend(m protocol.Message) error {
	w, ok := s.peer.(transport.Waiter)
	if !ok {
		return s.peer.Send(bg, m)
	}
	if s.realm != nil && s.realm.dropEvents {
		return w.SendWait(bg, m)
	}
	ctx, cancel := context.WithTimeout(bg, s.r.cfg.SlowConsumerWait)
	defer cancel()
	return w.SendWait(ctx, m)
}

// maxFlush bounds the wait of flush, whatever Config.SlowConsumerWait is.
const maxFlush = 2 * time.Second

// flush waits up to d for the backlog to reach the transport; the session
// calls it before it closes its transport, so that its last messages
// (GOODBYE, ABORT, results) are not cut off.
func (s *session) flush(d time.Duration) {
	o := &s.out
	o.mu.Lock()
	idle := o.idle
	draining := o.draining
	o.mu.Unlock()
	if !draining {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
	}
}
