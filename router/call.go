package router

import (
	"time"

	"github.com/wampkit/wampkit/protocol"
)

// The life of a call (spec basic "Remote Procedure Calls"): CALL on the
// caller's goroutine (check, resolve, invoke, dispatch), then YIELD or
// ERROR on the callee's goroutine, or CANCEL on the caller's, or the
// timeout on a timer's, or either side leaving, each ending in answer.

// invocation is one pending call. callID and caller are fixed; id is
// set under callee.mu before the invocation is visible to the callee;
// interrupted is guarded by caller.mu.
type invocation struct {
	id          protocol.ID // INVOCATION.Request
	callID      protocol.ID // CALL.Request
	caller      *session
	callee      *session
	progress    bool // the caller asked for progressive results and the callee supports them
	interrupted bool // INTERRUPT (mode kill) sent; guarded by caller.mu
	// streaming is set while the caller may send further chunks of a
	// progressive call invocation: from its first CALL with progress=true
	// until the final CALL, or until the call ends. Guarded by caller.mu.
	streaming bool
	// pooled is set for a record of invocationPool (see localcall.go);
	// fixed. pushed is set, under callee.mu, when the callee's client took
	// msg with its push or carry function. (Beside the other flags, so
	// that they cost no room.)
	pooled bool
	pushed bool
	// stream is set, once, for a progressive call invocation; nil for
	// other calls, which keeps them small.
	stream *callStream
	// timer ends the call with wamp.error.timeout after timeout (spec
	// advanced "Call Timeouts"); nil without CALL.Options.timeout.
	// Guarded by caller.mu.
	timer   *time.Timer
	timeout time.Duration
	// started is when the CALL was dispatched (UnixNano), for the call
	// duration metric, or 0 if the call is not measured.
	started int64

	// msg and result are the INVOCATION sent to the callee and the final
	// RESULT sent to the caller, kept here to save two allocations per
	// call. Each is filled in once, before it is sent, and never changed
	// afterwards (sent messages are read-only for everyone, see
	// transport.LocalPair).
	msg    protocol.Invocation
	result protocol.Result
}

// maxTimeoutMillis caps CALL.Options.timeout so that it fits a
// time.Duration (about 292 years).
const maxTimeoutMillis = int64(1<<63-1) / int64(time.Millisecond)

// Cancel modes (spec advanced "Call Canceling").
const (
	cancelSkip       = "skip"
	cancelKill       = "kill"
	cancelKillNoWait = "killnowait"
)

// call handles CALL on the caller's goroutine.
func (d *dealer) call(s *session, m *protocol.Call) error {
	// The first chunk of a progressive call invocation (see stream.go).
	stream := len(m.Options) > 0 && m.Options.Bool("progress")
	if stream || s.in.streams {
		// A CALL with a known request ID continues a progressive call,
		// and one of a progressive call that ended is discarded.
		if done, err := d.continueCall(s, m, stream, false); done {
			return err
		}
	}
	err := d.startCall(s, m, stream)
	if stream && asRequestError(err) != nil {
		// Refused: the chunks the caller sent before it sees the ERROR
		// are discarded.
		s.mu.Lock()
		s.rpc.ended.Add(m.Request)
		s.mu.Unlock()
	}
	return err
}

// startCall starts a new call: check the CALL, resolve its procedure to a
// callee, make the invocation and dispatch it.
func (d *dealer) startCall(s *session, m *protocol.Call, stream bool) error {
	ppt, err := checkCallOptions(s, m)
	if err != nil {
		return err
	}
	// A registered procedure passed the URI check at REGISTER, so the
	// check is only needed on a miss.
	reg, found := d.index.lookup(m.Procedure)
	if !found {
		if err := protocol.CheckURI(m.Procedure, d.r.cfg.StrictURIs); err != nil {
			return refuse(protocol.ErrInvalidURI, err.Error())
		}
	}
	// Before the procedure is looked up further: a caller that may not
	// call it does not learn whether it exists. The router's meta
	// procedures are authorized like any other.
	if err := s.authorize(ActionCall, m.Procedure, protocol.MatchExact, m.Options); err != nil {
		return err
	}
	if !found && routerProcedure(m.Procedure) {
		// The reserved namespace belongs to the router: no client
		// registration, pattern or not, answers it (spec basic "Reserved
		// URIs"); nor its own procedures (see meta_console.go), which no
		// client may register.
		return s.realm.metaCall(s, m, stream, ppt)
	}
	rg, err := d.resolveFor(s, reg, m.Procedure)
	if err != nil && d.r.cluster != nil {
		rg, err = d.resolveAfterSync(s, m.Procedure, err)
	}
	if err != nil {
		return err
	}
	if err := checkCallee(rg.callee, stream, ppt); err != nil {
		return err
	}
	return d.dispatch(s, newInvocation(s, m, rg, stream, ppt), rg, m)
}

// checkCallOptions checks the options of a CALL and reports whether it
// uses payload passthru mode.
func checkCallOptions(s *session, m *protocol.Call) (bool, error) {
	if len(m.Options) == 0 {
		return false, nil
	}
	if err := checkOptions(m.Options, callOptions); err != nil {
		return false, err
	}
	if !pptUsed(m.Options) {
		return false, nil
	}
	if !s.feat.pptCaller {
		return false, pptViolation(protocol.TypeCall, protocol.RoleCaller)
	}
	return true, checkPPT(m.Options, m.Args, m.Kwargs)
}

// resolve returns the callee a call of procedure goes to: one of the
// exact registration reg, if not nil, else of the best matching pattern
// registration, chosen by the registration's invocation policy. What a
// pattern registration carries is authorized procedure by procedure (see
// authz.permits): when the callee chosen may not register procedure, the
// call goes to another callee, or another matching registration, that
// may.
func (d *dealer) resolve(reg *registration, procedure protocol.URI) (*registrant, error) {
	if reg == nil {
		if reg = d.index.bestPattern(string(procedure)); reg == nil {
			return nil, refuse(protocol.ErrNoSuchProcedure, "")
		}
	}
	rg := reg.pick()
	if reg.match != protocol.MatchExact && d.authz.Load().checksDelivery() &&
		(rg == nil || !d.authz.Load().permits(rg.callee, ActionRegister, procedure)) {
		rg = d.resolvePermitted(procedure)
	}
	if rg == nil {
		return nil, refuse(protocol.ErrNoSuchProcedure, "")
	}
	return rg, nil
}

// resolvePermitted returns the callee a call of procedure goes to when
// only callees whose role may register procedure count: one of the first
// pattern registration with such callees, in the spec's order of
// precedence, chosen among those by the registration's policy; or nil. It
// is the slow path of resolve.
func (d *dealer) resolvePermitted(procedure protocol.URI) *registrant {
	permitted := func(rg *registrant) bool { return d.authz.Load().permits(rg.callee, ActionRegister, procedure) }
	for _, reg := range d.index.patternsByPrecedence(string(procedure)) {
		if rg := reg.pickWhere(permitted); rg != nil {
			return rg
		}
	}
	return nil
}

// checkCallee refuses a call that its callee cannot take.
func checkCallee(callee *session, stream, ppt bool) error {
	if stream && !callee.feat.calleeStreams {
		// The callee did not announce progressive_call_invocations (or
		// call_canceling), so it would take each chunk for a call of its
		// own (spec advanced "Progressive Call Invocations", "Ignoring
		// Progressive Call Invocations").
		return refuse(protocol.ErrFeatureNotSupported, "the callee does not support progressive call invocations")
	}
	if ppt && !callee.feat.pptCallee {
		return errPPTCallee
	}
	return nil
}

// newInvocation makes the invocation of CALL m for the callee of rg, with
// the INVOCATION it will be sent (all but its request ID).
func newInvocation(s *session, m *protocol.Call, rg *registrant, stream, ppt bool) *invocation {
	callee, reg := rg.callee, rg.reg
	inv := newCallRecord(callee, m, stream)
	inv.callID, inv.caller, inv.callee = m.Request, s, callee
	var details protocol.Dict
	if len(m.Options) > 0 {
		inv.progress = callee.feat.calleeProgress && m.Options.Bool("receive_progress")
		if inv.progress {
			details = make(protocol.Dict, 5)
			details["receive_progress"] = true
		}
	}
	if reg.match != protocol.MatchExact {
		// The concrete procedure (spec advanced "Pattern-based
		// Registration").
		if details == nil {
			details = make(protocol.Dict, 4)
		}
		details["procedure"] = string(m.Procedure)
	}
	who := callerOf(s, m) // the caller's own node's view (see cluster.go)
	if rg.discloseCaller || who.disclose {
		// Caller identification (spec advanced "Caller Identification").
		if details == nil {
			details = make(protocol.Dict, 3)
		}
		details["caller"] = uint64(who.id)
		details["caller_authid"] = who.authID
		details["caller_authrole"] = who.authRole
	}
	if ppt {
		details = withPPT(details, m.Options, 0)
	}
	if callee.isCluster() {
		// The callee's node adds the trust level it forwards.
		details = withClusterCaller(details, s, who)
	} else if who.trust != nil {
		details = withTrust(details, who.trust)
	}
	if stream {
		details = inv.startStream(m.Procedure, reg.id, details)
	}
	inv.msg = protocol.Invocation{Registration: reg.id, Details: details, Args: m.Args, Kwargs: m.Kwargs}
	return inv
}

// dispatch records inv as its caller's pending call and queues its
// INVOCATION to the callee of rg, then starts the call's timeout, if any.
func (d *dealer) dispatch(s *session, inv *invocation, rg *registrant, m *protocol.Call) error {
	s.mu.Lock()
	if _, dup := s.rpc.calls[m.Request]; dup {
		s.mu.Unlock()
		return violationf("CALL reuses the request ID of a pending call")
	}
	if max := d.r.cfg.MaxPendingCalls; max > 0 && len(s.rpc.calls) >= max {
		s.mu.Unlock()
		return refusef(LimitExceeded, "the session has its maximum of %d calls pending", max)
	}
	s.rpc.calls[m.Request] = inv
	s.mu.Unlock()

	// The INVOCATION is queued under callee.mu so that INVOCATION.Request
	// IDs reach the callee in sequence (spec basic "IDs"), and in call
	// order for each caller (spec basic "Ordering Guarantees").
	callee := inv.callee
	callee.mu.Lock()
	if callee.rpc.gone || rg.gone {
		callee.mu.Unlock()
		d.answer(s, inv, callError(m.Request, protocol.ErrNoSuchProcedure, ""), true)
		return nil
	}
	callee.rpc.lastInv = protocol.NextID(callee.rpc.lastInv)
	inv.id = callee.rpc.lastInv
	inv.msg.Request = inv.id
	callee.rpc.invocations[inv.id] = inv
	if st := s.st; st != nil && st.calls.load()%callSample == 0 {
		inv.started = time.Now().UnixNano()
	}
	var by *localInbox
	if inv.pooled {
		by = s.carrier()
	}
	pushed, err := callee.putCarried(&inv.msg, d.r.cfg.MaxBacklog, by)
	inv.pushed = pushed
	full := err == errBacklogFull
	if !full {
		rg.invocations++
	}
	if full {
		// The callee cannot take the call now: the caller hears so at
		// once (see SlowConsumerPolicy), and the invocation is forgotten.
		// The callee stays: it may be busy, not dead, and the backlog's
		// own wait disconnects it if it stopped reading.
		delete(callee.rpc.invocations, inv.id)
	}
	callee.mu.Unlock()
	if full {
		d.answer(s, inv, callError(m.Request, protocol.ErrNoAvailableCallee, "the callee's outbound queue is full"), true)
		return nil
	}
	if st := s.st; st != nil {
		st.calls.bump(1)
		st.out[kind(protocol.TypeInvocation)].bump(1)
	}
	// Any other error means the callee is going away; when its goroutine
	// leaves, the caller gets wamp.error.canceled.
	if ms, ok := m.Options.Int("timeout"); ok && ms > 0 {
		// Dealer-initiated call timeout (spec advanced "Call Timeouts"),
		// started once the invocation is in the callee's table so that
		// expire can interrupt it.
		s.mu.Lock()
		if s.rpc.calls[m.Request] == inv {
			inv.timeout = time.Duration(min(ms, maxTimeoutMillis)) * time.Millisecond
			inv.timer = time.AfterFunc(inv.timeout, func() { d.expire(inv) })
		}
		s.mu.Unlock()
	}
	return nil
}

// answer sends the caller's answer for inv if inv is still pending for
// the caller; final removes it. It reports whether the answer was sent.
// by is the session whose goroutine answers (nil: none), for counting.
func (d *dealer) answer(by *session, inv *invocation, m protocol.Message, final bool) bool {
	sent, _ := d.answerTaken(by, inv, m, final)
	return sent
}

// answerTaken is answer, which also reports whether inv may be recycled:
// inv is pooled, final ended the call, and the caller's and the callee's
// clients took the RESULT and the INVOCATION with their push functions
// (see invocationPool).
func (d *dealer) answerTaken(by *session, inv *invocation, m protocol.Message, final bool) (sent, free bool) {
	c := inv.caller
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rpc.calls[inv.callID] != inv {
		return false, false // answered already: canceled, or the caller left
	}
	if inv.timer != nil {
		if final {
			inv.timer.Stop()
		} else {
			// With progressive results the timeout applies to the gap
			// between results (spec advanced "Progressive Call Results").
			inv.timer.Reset(inv.timeout)
		}
	}
	if final {
		c.endCallLocked(inv)
		d.r.metrics.callEnded(inv, m)
	}
	// Sent under caller.mu so that a CANCEL's ERROR and the callee's
	// RESULTs for the same call cannot cross.
	_, taken := c.sendTaken(m)
	d.r.countOut(by, m.Type(), 1)
	return true, final && taken && inv.pooled && inv.pushed && !inv.interrupted
}

// endCallLocked removes inv from its caller's pending calls; s.mu (of
// the caller) must be held.
func (s *session) endCallLocked(inv *invocation) {
	delete(s.rpc.calls, inv.callID)
	if inv.stream != nil {
		inv.streaming = false
		s.rpc.ended.Add(inv.callID)
	}
}

// take looks up the pending invocation id of callee s; final removes it.
// It returns a violation for an ID the router never sent, and nil, nil
// for one that is no longer pending (answered, canceled, or its caller
// left: spec advanced "Call Canceling" — every INVOCATION.Request up to
// the last one sent counts as recently finished).
func (s *session) take(id protocol.ID, final bool) (*invocation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv := s.rpc.invocations[id]
	if inv == nil {
		if id == 0 || id > s.rpc.lastInv {
			return nil, violationf("answer for an INVOCATION never sent")
		}
		return nil, nil
	}
	if final {
		delete(s.rpc.invocations, id)
	}
	return inv, nil
}

// yield handles YIELD on the callee's goroutine.
func (d *dealer) yield(s *session, m *protocol.Yield) error {
	progress := m.Options.Bool("progress")
	ppt := pptUsed(m.Options)
	if ppt {
		if err := s.checkCalleePPT(protocol.TypeYield, m.Options, m.Args, m.Kwargs); err != nil {
			return err
		}
	}
	inv, err := s.take(m.Request, !progress)
	if inv == nil {
		return err
	}
	if ppt && !inv.caller.feat.pptCaller {
		d.pptUnsupported(inv, progress)
		return nil
	}
	if progress {
		if !inv.progress {
			return nil // the caller did not ask for progressive results
		}
		details := protocol.Dict{"progress": true}
		if ppt {
			details = withPPT(details, m.Options, 0)
		}
		d.answer(s, inv, &protocol.Result{Request: inv.callID, Details: details, Args: m.Args, Kwargs: m.Kwargs}, false)
		return nil
	}
	// take removed inv from s.rpc.invocations, so only this goroutine gets
	// here for inv and fills in inv.result, once.
	var details protocol.Dict
	if ppt {
		details = withPPT(nil, m.Options, 0)
	}
	inv.result = protocol.Result{Request: inv.callID, Details: details, Args: m.Args, Kwargs: m.Kwargs}
	if _, free := d.answerTaken(s, inv, &inv.result, true); free {
		inv.recycle()
	}
	return nil
}

// invocationError handles ERROR(INVOCATION) on the callee's goroutine and
// passes the callee's error URI and payload on to the caller.
func (d *dealer) invocationError(s *session, m *protocol.Error) error {
	ppt := pptUsed(m.Details)
	if ppt {
		if err := s.checkCalleePPT(protocol.TypeError, m.Details, m.Args, m.Kwargs); err != nil {
			return err
		}
	}
	inv, err := s.take(m.Request, true)
	if inv == nil {
		return err
	}
	if ppt && !inv.caller.feat.pptCaller {
		d.pptUnsupported(inv, false)
		return nil
	}
	d.answer(s, inv, &protocol.Error{RequestType: protocol.TypeCall, Request: inv.callID,
		Details: m.Details, URI: m.URI, Args: m.Args, Kwargs: m.Kwargs}, true)
	return nil
}

// cancel handles CANCEL on the caller's goroutine (spec advanced "Call
// Canceling"). A CANCEL for a call that is no longer pending is ignored.
func (d *dealer) cancel(s *session, m *protocol.Cancel) error {
	mode := m.Options.String("mode")
	switch mode {
	case cancelSkip, cancelKill, cancelKillNoWait:
	default:
		mode = cancelKillNoWait
	}
	s.mu.Lock()
	inv := s.rpc.calls[m.Request]
	if inv == nil {
		s.mu.Unlock()
		return nil
	}
	if !inv.callee.feat.calleeCancel {
		mode = cancelSkip // the callee cannot be interrupted
	}
	if mode == cancelKill {
		// The callee's answer, whatever it is, goes to the caller.
		send := !inv.interrupted
		inv.interrupted = true
		s.mu.Unlock()
		if send {
			d.interrupt(s, inv, cancelKill, false)
		}
		return nil
	}
	s.endCallLocked(inv)
	if inv.timer != nil {
		inv.timer.Stop()
	}
	canceled := callError(m.Request, protocol.ErrCanceled, "")
	s.sendOwn(canceled)
	d.r.metrics.callEnded(inv, canceled)
	s.mu.Unlock()
	d.interrupt(s, inv, mode, true)
	return nil
}

// expire ends a call whose timeout passed: the caller gets ERROR
// wamp.error.timeout, and the callee INTERRUPT killnowait if it supports
// canceling (spec advanced "Call Timeouts"). It runs on the timer's
// goroutine.
func (d *dealer) expire(inv *invocation) {
	c := inv.caller
	c.mu.Lock()
	if c.rpc.calls[inv.callID] != inv {
		c.mu.Unlock()
		return
	}
	c.endCallLocked(inv)
	timeout := callError(inv.callID, protocol.ErrTimeout, "")
	c.send(timeout)
	d.r.countOut(nil, protocol.TypeError, 1)
	d.r.metrics.callEnded(inv, timeout)
	c.mu.Unlock()
	d.interrupt(nil, inv, cancelKillNoWait, true)
}

// interrupt sends INTERRUPT for inv to its callee if the invocation is
// still pending there (and mode is not skip); forget removes it from the
// callee's table so that a late answer is discarded. by is the session
// whose goroutine interrupts (nil: none), for counting.
func (d *dealer) interrupt(by *session, inv *invocation, mode string, forget bool) {
	callee := inv.callee
	callee.mu.Lock()
	pending := callee.rpc.invocations[inv.id] == inv
	if pending && forget {
		delete(callee.rpc.invocations, inv.id)
	}
	if pending && mode != cancelSkip && callee.feat.calleeCancel {
		callee.send(&protocol.Interrupt{Request: inv.id, Options: protocol.Dict{"mode": mode}})
		d.r.countOut(by, protocol.TypeInterrupt, 1)
	}
	callee.mu.Unlock()
}

// leave runs when s leaves the realm: its registrations go away, its
// callers get wamp.error.canceled, and the invocations of its own pending
// calls are forgotten (with INTERRUPT killnowait to callees that support
// canceling, spec basic "Caller Leaving").
func (d *dealer) leave(s *session) {
	if len(s.in.regs) > 0 {
		d.mu.Lock()
		for _, rg := range s.in.regs {
			d.unregisterLocked(rg)
		}
		d.mu.Unlock()
		clear(s.in.regs)
	}
	s.mu.Lock()
	s.rpc.gone = true
	calls, invs := s.rpc.calls, s.rpc.invocations
	s.rpc.calls, s.rpc.invocations = nil, nil
	s.mu.Unlock()
	for _, inv := range invs {
		d.answer(s, inv, callError(inv.callID, protocol.ErrCanceled, "callee left"), true)
	}
	linkCallsEnded(s, calls)
	for _, inv := range calls {
		if inv.timer != nil {
			inv.timer.Stop()
		}
		if inv.callee != s {
			d.interrupt(s, inv, cancelKillNoWait, true)
		}
	}
}
