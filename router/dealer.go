package router

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wampkit/wampkit/protocol"
)

// dealer routes RPC messages of one realm (spec basic "Remote Procedure
// Calls", advanced "Progressive Call Results", "Call Canceling", "Caller
// Identification").
//
// A CALL is handled on the caller's goroutine: a lock-free lookup of the
// procedure, then the invocation is recorded in the caller's and the
// callee's tables and INVOCATION is queued to the callee. YIELD and ERROR
// are handled on the callee's goroutine, which sends RESULT or ERROR to the
// caller. Whoever removes an invocation from the caller's calls table
// answers the caller, so each call gets exactly one final answer however
// YIELD, CANCEL and either side leaving interleave.
//
// The registration meta events (see meta.go) are published under mu, so
// that every subscriber of them sees a registration's events in the order
// of the changes.
type dealer struct {
	r    *Router
	meta *broker // the realm's broker, which publishes the meta events

	mu    sync.Mutex                    // serializes register and unregister
	byKey map[regKey]*registration      // guarded by mu: every registration
	byID  map[protocol.ID]*registration // guarded by mu: the same by ID

	uriIndex[registration] // written under mu
}

type regKey struct {
	procedure protocol.URI
	match     protocol.MatchPolicy
}

// registration is one registered procedure or procedure pattern with its
// callees: one for the invocation policy single, any number for the
// shared policies (spec advanced "Shared Registration").
type registration struct {
	id        protocol.ID
	procedure protocol.URI
	match     protocol.MatchPolicy
	invoke    string // invocation policy, fixed by the first registrant
	created   time.Time
	// callees is the current set in registration order; the slice is never
	// modified after it is stored. Written under dealer.mu.
	callees atomic.Pointer[[]*registrant]
	next    atomic.Uint64 // round-robin counter
}

// registrant is one callee's part of a registration.
type registrant struct {
	reg            *registration
	callee         *session
	discloseCaller bool // REGISTER.Options.disclose_caller
	gone           bool // unregistered; guarded by callee.mu
}

// Invocation policies (spec advanced "Shared Registration").
const (
	invokeSingle     = "single"
	invokeRoundRobin = "roundrobin"
	invokeRandom     = "random"
	invokeFirst      = "first"
	invokeLast       = "last"
)

// pick chooses the callee of a call by the registration's policy, or
// returns nil if it has none left.
func (reg *registration) pick() *registrant {
	cs := *reg.callees.Load()
	switch {
	case len(cs) == 0:
		return nil
	case len(cs) == 1:
		return cs[0]
	}
	switch reg.invoke {
	case invokeRoundRobin:
		return cs[(reg.next.Add(1)-1)%uint64(len(cs))]
	case invokeRandom:
		return cs[rand.IntN(len(cs))]
	case invokeLast:
		return cs[len(cs)-1]
	}
	return cs[0] // single, first
}

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
	// timer ends the call with wamp.error.timeout after timeout (spec
	// advanced "Call Timeouts"); nil without CALL.Options.timeout.
	// Guarded by caller.mu.
	timer   *time.Timer
	timeout time.Duration
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

func (d *dealer) init(r *Router, meta *broker) {
	d.r = r
	d.meta = meta
	d.byKey = make(map[regKey]*registration)
	d.byID = make(map[protocol.ID]*registration)
}

// register handles REGISTER on the callee's goroutine.
func (d *dealer) register(s *session, m *protocol.Register) {
	fail := func(uri protocol.URI, msg string) {
		var args protocol.List
		if msg != "" {
			args = protocol.List{msg}
		}
		s.send(&protocol.Error{RequestType: protocol.TypeRegister, Request: m.Request, URI: uri, Args: args})
	}
	if msg := checkOptions(m.Options, registerOptions); msg != "" {
		fail(protocol.ErrInvalidArgument, msg)
		return
	}
	match := protocol.MatchPolicy(m.Options.String("match"))
	if match == "" {
		match = protocol.MatchExact
	}
	if !match.Valid() {
		fail(protocol.ErrInvalidArgument, "unknown match policy "+string(match))
		return
	}
	invoke := m.Options.String("invoke")
	switch invoke {
	case "":
		invoke = invokeSingle
	case invokeSingle, invokeRoundRobin, invokeRandom, invokeFirst, invokeLast:
	default:
		fail(protocol.ErrInvalidArgument, "unknown invocation policy "+invoke)
		return
	}
	if err := protocol.CheckPattern(m.Procedure, match, d.r.cfg.StrictURIs); err != nil {
		fail(protocol.ErrInvalidURI, err.Error())
		return
	}
	if protocol.IsReserved(m.Procedure) {
		// The wamp namespace belongs to the spec and the router's meta
		// API (spec basic "Reserved URIs").
		fail(protocol.ErrInvalidURI, "procedure "+string(m.Procedure)+" is in the reserved wamp namespace")
		return
	}
	if max := d.r.cfg.MaxRegistrations; max > 0 && len(s.regs) >= max {
		fail(LimitExceeded, fmt.Sprintf("the session holds its maximum of %d registrations", max))
		return
	}
	key := regKey{m.Procedure, match}
	d.mu.Lock()
	defer d.mu.Unlock()
	reg := d.byKey[key]
	if reg != nil && (reg.invoke == invokeSingle || reg.invoke != invoke) {
		// The first registrant fixed the policy; single admits nobody
		// else (spec advanced "Shared Registration").
		fail(protocol.ErrProcedureAlreadyExists, "")
		return
	}
	if reg != nil {
		for _, rg := range *reg.callees.Load() {
			if rg.callee == s {
				fail(protocol.ErrProcedureAlreadyExists, "registered by this session already")
				return
			}
		}
	}
	fresh := reg == nil
	if fresh {
		reg = &registration{id: d.r.regIDs.Next(), procedure: m.Procedure, match: match, invoke: invoke,
			created: time.Now()}
		reg.callees.Store(&[]*registrant{})
	}
	rg := &registrant{reg: reg, callee: s, discloseCaller: m.Options.Bool("disclose_caller")}
	// The registrant becomes callable and REGISTERED is queued under
	// s.mu, which call holds while it sends INVOCATION: no INVOCATION can
	// overtake REGISTERED (spec basic "Ordering Guarantees"), and every
	// call made after the client has read REGISTERED finds it.
	s.mu.Lock()
	old := *reg.callees.Load()
	next := make([]*registrant, len(old), len(old)+1)
	copy(next, old)
	reg.callees.Store(ptr(append(next, rg)))
	if fresh {
		d.addLocked(reg)
	}
	ok := s.send(&protocol.Registered{Request: m.Request, Registration: reg.id})
	if !ok {
		d.removeRegistrantLocked(rg)
		rg.gone = true
	}
	s.mu.Unlock()
	if !ok {
		return
	}
	s.regs[reg.id] = rg
	// After s.mu is released: publishing may take other sessions' mu.
	if fresh && d.meta.listening(metaRegOnCreate) {
		d.meta.publishMeta(metaRegOnCreate, protocol.List{uint64(s.id), reg.metaDetails()})
	}
	d.metaEventLocked(metaRegOnRegister, s, reg)
}

// metaEventLocked publishes a registration meta event with the arguments
// [session, registration]. d.mu must be held, and no session's mu.
func (d *dealer) metaEventLocked(topic protocol.URI, s *session, reg *registration) {
	if d.meta.listening(topic) {
		d.meta.publishMeta(topic, protocol.List{uint64(s.id), uint64(reg.id)})
	}
}

// unregisterLocked takes rg out of its registration, as
// removeRegistrantLocked does, and publishes
// wamp.registration.on_unregister and on_delete. d.mu must be held, and
// no session's mu.
func (d *dealer) unregisterLocked(rg *registrant) {
	deleted := d.removeRegistrantLocked(rg)
	d.metaEventLocked(metaRegOnUnregister, rg.callee, rg.reg)
	if deleted {
		d.metaEventLocked(metaRegOnDelete, rg.callee, rg.reg)
	}
}

func ptr[T any](v T) *T { return &v }

// removeRegistrantLocked takes rg out of its registration and drops the
// registration when no callee is left; it reports whether it dropped it.
// d.mu must be held.
func (d *dealer) removeRegistrantLocked(rg *registrant) bool {
	reg := rg.reg
	old := *reg.callees.Load()
	next := make([]*registrant, 0, len(old))
	for _, x := range old {
		if x != rg {
			next = append(next, x)
		}
	}
	reg.callees.Store(&next)
	if len(next) == 0 {
		d.removeLocked(reg)
		return true
	}
	return false
}

// unregister handles UNREGISTER on the callee's goroutine. Pending
// invocations of the registration still complete.
func (d *dealer) unregister(s *session, m *protocol.Unregister) {
	rg := s.regs[m.Registration]
	if rg == nil {
		s.send(&protocol.Error{RequestType: protocol.TypeUnregister, Request: m.Request,
			URI: protocol.ErrNoSuchRegistration})
		return
	}
	d.mu.Lock()
	d.unregisterLocked(rg)
	d.mu.Unlock()
	delete(s.regs, m.Registration)
	// Calls that picked this callee before it was removed but have not
	// sent their INVOCATION yet see gone and fail, so no INVOCATION for
	// it follows UNREGISTERED.
	s.mu.Lock()
	rg.gone = true
	s.send(&protocol.Unregistered{Request: m.Request})
	s.mu.Unlock()
}

// call handles CALL on the caller's goroutine. It returns the text of a
// protocol violation, or "".
func (d *dealer) call(s *session, m *protocol.Call) string {
	if len(m.Options) > 0 {
		if m.Options.Bool("progress") {
			// Progressive call invocations are not announced (spec
			// advanced "Progressive Call Invocations").
			return "progressive call invocations are not supported"
		}
		if msg := checkOptions(m.Options, callOptions); msg != "" {
			s.send(&protocol.Error{RequestType: protocol.TypeCall, Request: m.Request,
				URI: protocol.ErrInvalidArgument, Args: protocol.List{msg}})
			return ""
		}
	}
	// A registered procedure passed the URI check at REGISTER, so the
	// check is only needed on a miss.
	var reg *registration
	if v, ok := d.exact.Load(m.Procedure); ok {
		reg = v.(*registration)
	} else {
		if err := protocol.CheckURI(m.Procedure, d.r.cfg.StrictURIs); err != nil {
			s.send(&protocol.Error{RequestType: protocol.TypeCall, Request: m.Request,
				URI: protocol.ErrInvalidURI, Args: protocol.List{err.Error()}})
			return ""
		}
		if protocol.IsReserved(m.Procedure) && s.realm.metaCall(s, m) {
			return ""
		}
		if reg = d.matchPattern(m.Procedure); reg == nil {
			s.send(&protocol.Error{RequestType: protocol.TypeCall, Request: m.Request,
				URI: protocol.ErrNoSuchProcedure})
			return ""
		}
	}
	rg := reg.pick()
	if rg == nil {
		s.send(&protocol.Error{RequestType: protocol.TypeCall, Request: m.Request,
			URI: protocol.ErrNoSuchProcedure})
		return ""
	}
	callee := rg.callee
	inv := &invocation{callID: m.Request, caller: s, callee: callee}
	var details protocol.Dict
	if len(m.Options) > 0 {
		inv.progress = callee.calleeProgress && m.Options.Bool("receive_progress")
		if m.Options.Bool("progress") {
			return "progressive call invocations are not supported"
		}
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
	if rg.discloseCaller || m.Options.Bool("disclose_me") {
		// Caller identification (spec advanced "Caller Identification").
		if details == nil {
			details = make(protocol.Dict, 3)
		}
		details["caller"] = uint64(s.id)
		details["caller_authid"] = s.authID
		details["caller_authrole"] = s.authRole
	}

	s.mu.Lock()
	if _, dup := s.calls[m.Request]; dup {
		s.mu.Unlock()
		return "CALL reuses the request ID of a pending call"
	}
	if max := d.r.cfg.MaxPendingCalls; max > 0 && len(s.calls) >= max {
		s.send(&protocol.Error{RequestType: protocol.TypeCall, Request: m.Request, URI: LimitExceeded,
			Args: protocol.List{fmt.Sprintf("the session has its maximum of %d calls pending", max)}})
		s.mu.Unlock()
		return ""
	}
	s.calls[m.Request] = inv
	s.mu.Unlock()

	// The INVOCATION is queued under callee.mu so that INVOCATION.Request
	// IDs reach the callee in sequence (spec basic "IDs"), and in call
	// order for each caller (spec basic "Ordering Guarantees").
	callee.mu.Lock()
	if callee.gone || rg.gone {
		callee.mu.Unlock()
		d.answer(inv, &protocol.Error{RequestType: protocol.TypeCall, Request: m.Request,
			URI: protocol.ErrNoSuchProcedure}, true)
		return ""
	}
	callee.lastInv = protocol.NextID(callee.lastInv)
	inv.id = callee.lastInv
	callee.invocations[inv.id] = inv
	err := callee.put(&protocol.Invocation{
		Request:      inv.id,
		Registration: reg.id,
		Details:      details,
		Args:         m.Args,
		Kwargs:       m.Kwargs,
	}, d.r.cfg.MaxBacklog)
	full := err == errBacklogFull
	if full {
		// The callee cannot take the call now: the caller hears so at
		// once (see SlowConsumerPolicy), and the invocation is forgotten.
		// The callee stays: it may be busy, not dead, and the backlog's
		// own wait disconnects it if it stopped reading.
		delete(callee.invocations, inv.id)
	}
	callee.mu.Unlock()
	if full {
		d.answer(inv, &protocol.Error{RequestType: protocol.TypeCall, Request: m.Request,
			URI: protocol.ErrNoAvailableCallee, Args: protocol.List{"the callee's outbound queue is full"}}, true)
		return ""
	}
	// Any other error means the callee is going away; when its goroutine
	// leaves, the caller gets wamp.error.canceled.
	if ms, ok := m.Options.Int("timeout"); ok && ms > 0 {
		// Dealer-initiated call timeout (spec advanced "Call Timeouts"),
		// started once the invocation is in the callee's table so that
		// expire can interrupt it.
		s.mu.Lock()
		if s.calls[m.Request] == inv {
			inv.timeout = time.Duration(min(ms, maxTimeoutMillis)) * time.Millisecond
			inv.timer = time.AfterFunc(inv.timeout, func() { d.expire(inv) })
		}
		s.mu.Unlock()
	}
	return ""
}

// matchPattern returns the pattern registration a call to procedure goes
// to: the longest matching prefix registration, else the most specific
// matching wildcard registration, else nil (spec advanced "Pattern-based
// Registration"; exact registrations were tried before).
func (d *dealer) matchPattern(procedure protocol.URI) *registration {
	if d.patterns.Load() == 0 {
		return nil
	}
	var buf [4]*registration
	d.pmu.RLock()
	defer d.pmu.RUnlock()
	if m := d.prefix.match(string(procedure), buf[:0]); len(m) > 0 {
		return m[len(m)-1]
	}
	return d.wildcard.first(string(procedure))
}

// addLocked makes reg callable. d.mu must be held.
func (d *dealer) addLocked(reg *registration) {
	d.byKey[regKey{reg.procedure, reg.match}] = reg
	d.byID[reg.id] = reg
	d.add(reg.procedure, reg.match, reg)
}

// removeLocked makes reg uncallable. d.mu must be held.
func (d *dealer) removeLocked(reg *registration) {
	key := regKey{reg.procedure, reg.match}
	if d.byKey[key] != reg {
		return
	}
	delete(d.byKey, key)
	delete(d.byID, reg.id)
	d.remove(reg.procedure, reg.match, reg)
}

// answer sends the caller's answer for inv if inv is still pending for
// the caller; final removes it. It reports whether the answer was sent.
func (d *dealer) answer(inv *invocation, m protocol.Message, final bool) bool {
	c := inv.caller
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls[inv.callID] != inv {
		return false // answered already: canceled, or the caller left
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
		delete(c.calls, inv.callID)
	}
	// Sent under caller.mu so that a CANCEL's ERROR and the callee's
	// RESULTs for the same call cannot cross.
	c.send(m)
	return true
}

// take looks up the pending invocation id of callee s; final removes it.
// It returns nil and a violation text for an ID the router never sent,
// and nil, "" for one that is no longer pending (answered, canceled, or
// its caller left: spec advanced "Call Canceling" — every
// INVOCATION.Request up to the last one sent counts as recently finished).
func (s *session) take(id protocol.ID, final bool) (*invocation, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv := s.invocations[id]
	if inv == nil {
		if id == 0 || id > s.lastInv {
			return nil, "answer for an INVOCATION never sent"
		}
		return nil, ""
	}
	if final {
		delete(s.invocations, id)
	}
	return inv, ""
}

// yield handles YIELD on the callee's goroutine.
func (d *dealer) yield(s *session, m *protocol.Yield) string {
	progress := m.Options.Bool("progress")
	inv, bad := s.take(m.Request, !progress)
	if inv == nil {
		return bad
	}
	if progress {
		if !inv.progress {
			return "" // the caller did not ask for progressive results
		}
		d.answer(inv, &protocol.Result{Request: inv.callID, Details: progressDetails(), Args: m.Args, Kwargs: m.Kwargs}, false)
		return ""
	}
	d.answer(inv, &protocol.Result{Request: inv.callID, Args: m.Args, Kwargs: m.Kwargs}, true)
	return ""
}

// progressDetails returns RESULT.Details of a progressive result.
func progressDetails() protocol.Dict { return protocol.Dict{"progress": true} }

// invocationError handles ERROR(INVOCATION) on the callee's goroutine and
// passes the callee's error URI and payload on to the caller.
func (d *dealer) invocationError(s *session, m *protocol.Error) string {
	inv, bad := s.take(m.Request, true)
	if inv == nil {
		return bad
	}
	d.answer(inv, &protocol.Error{RequestType: protocol.TypeCall, Request: inv.callID,
		Details: m.Details, URI: m.URI, Args: m.Args, Kwargs: m.Kwargs}, true)
	return ""
}

// cancel handles CANCEL on the caller's goroutine (spec advanced "Call
// Canceling"). A CANCEL for a call that is no longer pending is ignored.
func (d *dealer) cancel(s *session, m *protocol.Cancel) {
	mode := m.Options.String("mode")
	switch mode {
	case cancelSkip, cancelKill, cancelKillNoWait:
	default:
		mode = cancelKillNoWait
	}
	s.mu.Lock()
	inv := s.calls[m.Request]
	if inv == nil {
		s.mu.Unlock()
		return
	}
	callee := inv.callee
	if !callee.calleeCancel {
		mode = cancelSkip // the callee cannot be interrupted
	}
	if mode == cancelKill {
		// The callee's answer, whatever it is, goes to the caller.
		send := !inv.interrupted
		inv.interrupted = true
		s.mu.Unlock()
		if send {
			d.interrupt(inv, cancelKill, false)
		}
		return
	}
	delete(s.calls, m.Request)
	if inv.timer != nil {
		inv.timer.Stop()
	}
	s.send(&protocol.Error{RequestType: protocol.TypeCall, Request: m.Request, URI: protocol.ErrCanceled})
	s.mu.Unlock()
	d.interrupt(inv, mode, true)
}

// expire ends a call whose timeout passed: the caller gets ERROR
// wamp.error.timeout, and the callee INTERRUPT killnowait if it supports
// canceling (spec advanced "Call Timeouts"). It runs on the timer's
// goroutine.
func (d *dealer) expire(inv *invocation) {
	c := inv.caller
	c.mu.Lock()
	if c.calls[inv.callID] != inv {
		c.mu.Unlock()
		return
	}
	delete(c.calls, inv.callID)
	c.send(&protocol.Error{RequestType: protocol.TypeCall, Request: inv.callID, URI: protocol.ErrTimeout})
	c.mu.Unlock()
	d.interrupt(inv, cancelKillNoWait, true)
}

// interrupt sends INTERRUPT for inv to its callee if the invocation is
// still pending there (and mode is not skip); forget removes it from the
// callee's table so that a late answer is discarded.
func (d *dealer) interrupt(inv *invocation, mode string, forget bool) {
	callee := inv.callee
	callee.mu.Lock()
	pending := callee.invocations[inv.id] == inv
	if pending && forget {
		delete(callee.invocations, inv.id)
	}
	if pending && mode != cancelSkip && callee.calleeCancel {
		callee.send(&protocol.Interrupt{Request: inv.id, Options: protocol.Dict{"mode": mode}})
	}
	callee.mu.Unlock()
}

// leave runs when s leaves the realm: its registrations go away, its
// callers get wamp.error.canceled, and the invocations of its own pending
// calls are forgotten (with INTERRUPT killnowait to callees that support
// canceling, spec basic "Caller Leaving").
func (d *dealer) leave(s *session) {
	if len(s.regs) > 0 {
		d.mu.Lock()
		for _, rg := range s.regs {
			d.unregisterLocked(rg)
		}
		d.mu.Unlock()
		clear(s.regs)
	}
	s.mu.Lock()
	s.gone = true
	calls, invs := s.calls, s.invocations
	s.calls, s.invocations = nil, nil
	s.mu.Unlock()
	for _, inv := range invs {
		d.answer(inv, &protocol.Error{RequestType: protocol.TypeCall, Request: inv.callID,
			URI: protocol.ErrCanceled, Args: protocol.List{"callee left"}}, true)
	}
	for _, inv := range calls {
		if inv.timer != nil {
			inv.timer.Stop()
		}
		if inv.callee != s {
			d.interrupt(inv, cancelKillNoWait, true)
		}
	}
}
