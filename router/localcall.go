package router

import (
	"errors"
	"sync"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/transport"
)

// A plain call (a CALL without options, not progressive) between two
// in-process clients gets two savings here.
//
// Its INVOCATION may be carried: when the caller sent the CALL with
// SendCarry and it is routed on the caller's goroutine, the callee's
// client may take the INVOCATION as work that the caller's goroutine runs
// once the router is done with the CALL (transport.Carrier): the handler
// then runs on the caller's goroutine, without a goroutine hand-off.
//
// Its invocation record is reused: such a call to a callee over a local
// link takes its record from invocationPool, and the callee's goroutine
// puts it back once it has answered the call, if nothing can refer to the
// record any more:
//
//   - the INVOCATION (inv.msg) and the final RESULT (inv.result) were both
//     taken by the clients' push (or carry) functions, which do not keep
//     them (see transport.Pusher); a message queued on a link, or in a
//     session's backlog, may be read after the call has ended, and the
//     record then stays with it;
//   - the RESULT ended the call: YIELD took the invocation out of the
//     callee's table and answer out of the caller's, both under the
//     sessions' locks, so no CANCEL, timeout, INTERRUPT or leaving session
//     can find it any more; a call has no timer (CALL.Options.timeout is
//     an option), and no INTERRUPT of mode kill was sent for it (cancel
//     holds the record while it sends one).
//
// Every other call keeps its record until the garbage collector takes it.
var invocationPool = sync.Pool{New: func() any { return new(invocation) }}

// newCallRecord returns the invocation record for CALL m to callee: a
// reused one, marked pooled, when the call qualifies (see invocationPool),
// else a new one.
func newCallRecord(callee *session, m *protocol.Call, stream bool) *invocation {
	if stream || len(m.Options) > 0 {
		return new(invocation)
	}
	if _, ok := callee.peer.(*localServer); !ok {
		return new(invocation)
	}
	inv := invocationPool.Get().(*invocation)
	inv.pooled = true
	return inv
}

// recycle puts inv back in invocationPool. Only the goroutine that ended
// the call with a RESULT its caller's client took calls it, when
// answerTaken said so.
func (inv *invocation) recycle() {
	*inv = invocation{}
	invocationPool.Put(inv)
}

// putTaken is put, which also reports whether the client of an in-process
// session took m with its push function (see transport.Pusher): then
// nothing refers to m any more once putTaken returns.
func (s *session) putTaken(m protocol.Message, limit int) (taken bool, err error) {
	if p, ok := s.peer.(*localServer); ok && !s.out.busy.Load() && !s.failed.Load() {
		taken, err := p.send(bg, m)
		if !errors.Is(err, transport.ErrQueueFull) {
			return taken, s.sent(m, err)
		}
	}
	return false, s.put(m, limit)
}

// sendTaken is send, which also reports whether the client took m as
// putTaken does.
func (s *session) sendTaken(m protocol.Message) (ok, taken bool) {
	taken, err := s.putTaken(m, s.r.cfg.MaxBacklog)
	if err == errBacklogFull {
		s.drop("outbound backlog full", errSlowConsumer)
	}
	return err == nil, taken
}

// carrier returns the inbox of s when the message being routed for s was
// sent with SendCarry and routed on its sender's goroutine, which may
// then carry an INVOCATION for an in-process callee (see
// transport.Carrier); else nil. Only the goroutine routing s's message
// calls it.
func (s *session) carrier() *localInbox {
	p, ok := s.peer.(*localServer)
	if !ok || !p.in.carrying || p.in.carried != nil {
		return nil
	}
	return p.in
}

// putCarried is putTaken for an INVOCATION of a call whose caller's
// goroutine may carry it (see carrier): the callee's client may take it
// as work for that goroutine, which then counts as taken.
func (s *session) putCarried(m protocol.Message, limit int, by *localInbox) (taken bool, err error) {
	if by != nil {
		if p, ok := s.peer.(*localServer); ok && !s.out.busy.Load() && !s.failed.Load() {
			if job := p.carry(m); job != nil {
				by.carried = job
				return true, nil
			}
		}
	}
	return s.putTaken(m, limit)
}

// carry offers m to the client's carry function, under the rules of its
// push (see localOutbox), and returns the work it took, or nil.
func (p *localServer) carry(m protocol.Message) transport.Job {
	o := p.out
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.carry == nil || o.queued > 0 || o.held {
		return nil
	}
	job := o.carry(m)
	if job != nil {
		o.sent++
	}
	return job
}
