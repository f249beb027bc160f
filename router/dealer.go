package router

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wampkit/wampkit/protocol"
)

// dealer routes RPC messages of one realm (spec basic "Remote Procedure
// Calls", advanced "Progressive Call Results", "Progressive Call
// Invocations", "Call Canceling", "Caller Identification").
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
//
// A progressive call (CALL.Options.progress) stays in both tables while
// the caller streams: each further CALL with its request ID is handled on
// the caller's goroutine too and queued to the same callee as another
// INVOCATION with the same ID, so the chunks reach the callee in the order
// the caller sent them.
type dealer struct {
	r     *Router
	meta  *broker // the realm's broker, which publishes the meta events
	authz *authz  // the realm's authorization (see permits); nil allows all

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
	return reg.choose(*reg.callees.Load())
}

// choose picks one of cs by the registration's policy, or nil if cs is
// empty.
func (reg *registration) choose(cs []*registrant) *registrant {
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

// pickWhere chooses, by the registration's policy, among the callees for
// which ok is true; it returns nil if there is none.
func (reg *registration) pickWhere(ok func(*registrant) bool) *registrant {
	var cs []*registrant
	for _, rg := range *reg.callees.Load() {
		if ok(rg) {
			cs = append(cs, rg)
		}
	}
	return reg.choose(cs)
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
	// streaming is set while the caller may send further chunks of a
	// progressive call invocation: from its first CALL with progress=true
	// until the final CALL, or until the call ends. Guarded by caller.mu.
	streaming bool
	// stream is set, once, for a progressive call invocation; nil for
	// other calls, which keeps them small.
	stream *callStream
	// timer ends the call with wamp.error.timeout after timeout (spec
	// advanced "Call Timeouts"); nil without CALL.Options.timeout.
	// Guarded by caller.mu.
	timer   *time.Timer
	timeout time.Duration

	// msg and result are the INVOCATION sent to the callee and the final
	// RESULT sent to the caller, kept here to save two allocations per
	// call. Each is filled in once, before it is sent, and never changed
	// afterwards (sent messages are read-only for everyone, see
	// transport.LocalPair).
	msg    protocol.Invocation
	result protocol.Result
}

// callStream is what the first CALL of a progressive call invocation fixes
// for the whole call (spec advanced "Freezing of Options in Progressive
// Call Invocations"). It is read-only.
type callStream struct {
	procedure    protocol.URI
	registration protocol.ID
	chunkDetails protocol.Dict // INVOCATION.Details of a chunk with progress=true
	finalDetails protocol.Dict // INVOCATION.Details of the final chunk (may be nil)
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

func (d *dealer) init(r *Router, meta *broker, z *authz) {
	d.r = r
	d.meta = meta
	d.authz = z
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
	if s.realm.authz != nil {
		if uri, msg := s.authorize(ActionRegister, m.Procedure, match, m.Options); uri != "" {
			fail(uri, msg)
			return
		}
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
	// on_create names the procedure: only who may see it hears of it.
	if fresh && d.meta.listening(metaRegOnCreate) {
		d.meta.publishMetaFor(metaRegOnCreate, protocol.List{uint64(s.id), reg.metaDetails()},
			d.authz.viewer(false, reg.procedure, reg.match))
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
	var stream bool // the first chunk of a progressive call invocation
	ppt := false    // payload passthru mode (see ppt.go)
	if len(m.Options) > 0 {
		stream = m.Options.Bool("progress")
	}
	if stream || s.streams {
		// A CALL with a known request ID continues a progressive call,
		// and one of a progressive call that ended is discarded.
		if done, msg := d.continueCall(s, m, stream, false); done {
			return msg
		}
	}
	if len(m.Options) > 0 {
		msg := checkOptions(m.Options, callOptions)
		if msg == "" && pptUsed(m.Options) {
			if !s.pptCaller {
				return pptViolation(protocol.TypeCall, protocol.RoleCaller)
			}
			msg, ppt = checkPPT(m.Options, m.Args, m.Kwargs), true
		}
		if msg != "" {
			d.refuse(s, m, stream, protocol.ErrInvalidArgument, msg)
			return ""
		}
	}
	// A registered procedure passed the URI check at REGISTER, so the
	// check is only needed on a miss.
	var reg *registration
	v, found := d.exact.Load(m.Procedure)
	if !found {
		if err := protocol.CheckURI(m.Procedure, d.r.cfg.StrictURIs); err != nil {
			d.refuse(s, m, stream, protocol.ErrInvalidURI, err.Error())
			return ""
		}
	}
	if s.realm.authz != nil {
		// Before the procedure is looked further: a caller that may not
		// call it does not learn whether it exists. The router's meta
		// procedures are authorized like any other.
		if uri, msg := s.authorize(ActionCall, m.Procedure, protocol.MatchExact, m.Options); uri != "" {
			d.refuse(s, m, stream, uri, msg)
			return ""
		}
	}
	if found {
		reg = v.(*registration)
	} else {
		if protocol.IsReserved(m.Procedure) {
			if stream {
				// The router's own procedures take no chunks.
				d.refuse(s, m, stream, protocol.ErrFeatureNotSupported,
					"procedure "+string(m.Procedure)+" does not take progressive call invocations")
				return ""
			}
			if ppt && pptRefused(s, m.Request) || s.realm.metaCall(s, m) {
				return ""
			}
			// The reserved namespace belongs to the router: no client
			// registration, pattern or not, answers it (spec basic
			// "Reserved URIs").
			d.refuse(s, m, stream, protocol.ErrNoSuchProcedure, "")
			return ""
		}
		if reg = d.matchPattern(m.Procedure); reg == nil {
			d.refuse(s, m, stream, protocol.ErrNoSuchProcedure, "")
			return ""
		}
	}
	rg := reg.pick()
	if reg.match != protocol.MatchExact && d.authz.checksDelivery() &&
		(rg == nil || !d.authz.permits(rg.callee, ActionRegister, m.Procedure)) {
		// What a pattern registration carries is authorized procedure by
		// procedure (see authz.permits).
		reg, rg = d.resolvePermitted(m.Procedure)
	}
	if rg == nil {
		d.refuse(s, m, stream, protocol.ErrNoSuchProcedure, "")
		return ""
	}
	callee := rg.callee
	if stream && !callee.calleeStreams {
		// The callee did not announce progressive_call_invocations (or
		// call_canceling), so it would take each chunk for a call of its
		// own (spec advanced "Progressive Call Invocations", "Ignoring
		// Progressive Call Invocations").
		d.refuse(s, m, stream, protocol.ErrFeatureNotSupported,
			"the callee does not support progressive call invocations")
		return ""
	}
	if ppt && !callee.pptCallee && pptRefused(s, m.Request) {
		return ""
	}
	inv := &invocation{callID: m.Request, caller: s, callee: callee}
	var details protocol.Dict
	if len(m.Options) > 0 {
		inv.progress = callee.calleeProgress && m.Options.Bool("receive_progress")
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
	if ppt {
		details = withPPT(details, m.Options, 0)
	}
	if stream {
		// Every chunk gets the Details of the first CALL (spec advanced
		// "Freezing of Options in Progressive Call Invocations").
		pd := make(protocol.Dict, len(details)+1)
		for k, v := range details {
			pd[k] = v
		}
		pd["progress"] = true
		inv.streaming = true
		inv.stream = &callStream{procedure: m.Procedure, registration: reg.id, chunkDetails: pd, finalDetails: details}
		details = pd
	}

	s.mu.Lock()
	if _, dup := s.calls[m.Request]; dup {
		s.mu.Unlock()
		return "CALL reuses the request ID of a pending call"
	}
	if max := d.r.cfg.MaxPendingCalls; max > 0 && len(s.calls) >= max {
		s.send(&protocol.Error{RequestType: protocol.TypeCall, Request: m.Request, URI: LimitExceeded,
			Args: protocol.List{fmt.Sprintf("the session has its maximum of %d calls pending", max)}})
		if stream {
			s.rememberEndedLocked(m.Request)
		}
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
	inv.msg = protocol.Invocation{
		Request:      inv.id,
		Registration: reg.id,
		Details:      details,
		Args:         m.Args,
		Kwargs:       m.Kwargs,
	}
	err := callee.put(&inv.msg, d.r.cfg.MaxBacklog)
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

// refuse answers the first CALL m of a call with ERROR uri (and msg, if
// any, as its argument). For the first chunk of a progressive call
// (stream) the request ID is remembered, so that the chunks the caller
// sent before it saw the ERROR are discarded.
func (d *dealer) refuse(s *session, m *protocol.Call, stream bool, uri protocol.URI, msg string) {
	var args protocol.List
	if msg != "" {
		args = protocol.List{msg}
	}
	s.send(&protocol.Error{RequestType: protocol.TypeCall, Request: m.Request, URI: uri, Args: args})
	if stream {
		s.mu.Lock()
		s.rememberEndedLocked(m.Request)
		s.mu.Unlock()
	}
}

// continueCall handles, on the caller's goroutine, a CALL of a session
// that uses progressive call invocations (spec advanced "Progressive Call
// Invocations", "Verification of CALL Request IDs"). A CALL whose request
// ID is that of a progressive call still streaming is its next chunk; one
// whose request ID is that of a progressive call that ended is a late
// chunk and discarded without reply. stream is the CALL's progress option;
// candidate reports that Config.StrictRequestIDs found the request ID not
// to be a new one, so the CALL must continue a progressive call.
//
// It reports whether m was handled (else it starts a new call), and the
// text of a protocol violation or "".
func (d *dealer) continueCall(s *session, m *protocol.Call, stream, candidate bool) (bool, string) {
	if stream && !s.callerStreams {
		return true, "CALL with progress=true, but the caller did not announce progressive_call_invocations"
	}
	s.mu.Lock()
	inv := s.calls[m.Request]
	ended := inv == nil && s.endedLocked(m.Request)
	s.mu.Unlock()
	switch {
	case inv != nil && !inv.streaming:
		// A call that is not, or no longer, streaming: the caller sent
		// its final chunk, or never a progressive one.
		return true, "CALL reuses the request ID of a pending call"
	case inv != nil && inv.stream.procedure != m.Procedure:
		// Not a continuation of this call (the spec's pseudocode matches
		// request ID and procedure): discarded, or in strict mode a
		// violation.
		if d.r.cfg.StrictRequestIDs {
			return true, fmt.Sprintf("CALL %d continues a progressive call of %s with procedure %s",
				m.Request, inv.stream.procedure, m.Procedure)
		}
		d.r.log.Debug("router: discarding a CALL that changes the procedure of a progressive call",
			"session", uint64(s.id), "request", uint64(m.Request), "procedure", string(m.Procedure))
		return true, ""
	case inv != nil:
		d.chunk(s, inv, m, stream)
		return true, ""
	case ended:
		// A late chunk of a progressive call that ended (answered,
		// canceled, timed out, refused): the caller learns so from that
		// answer (spec "Continuations on Completed Calls").
		return true, ""
	case candidate:
		return true, fmt.Sprintf("CALL request ID %d is neither new nor that of a progressive call", m.Request)
	}
	if stream {
		s.streams = true
	}
	return false, ""
}

// continuation handles a CALL whose request ID Config.StrictRequestIDs
// found not to be new: only the chunk of a progressive call may do that.
func (d *dealer) continuation(s *session, m *protocol.Call) string {
	var stream bool
	if len(m.Options) > 0 {
		stream = m.Options.Bool("progress")
	}
	_, msg := d.continueCall(s, m, stream, true)
	return msg
}

// chunk forwards a further chunk of the progressive call inv to its callee
// as INVOCATION with the first one's request ID and Details; progress is
// the chunk's progress option (false for the final chunk).
func (d *dealer) chunk(s *session, inv *invocation, m *protocol.Call, progress bool) {
	s.mu.Lock()
	if s.calls[inv.callID] != inv || !inv.streaming {
		s.mu.Unlock()
		return
	}
	if !progress {
		inv.streaming = false
	}
	if inv.interrupted {
		// Canceled with mode kill: the callee was told to stop.
		s.mu.Unlock()
		return
	}
	if inv.timer != nil {
		// Like a progressive result, a chunk restarts the timeout: it
		// bounds the silence of the call, not its length.
		inv.timer.Reset(inv.timeout)
	}
	s.mu.Unlock()
	details := inv.stream.chunkDetails
	if !progress {
		details = inv.stream.finalDetails
	}
	callee := inv.callee
	callee.mu.Lock()
	if callee.invocations[inv.id] != inv {
		// Answered, interrupted or gone: the caller hears so from that.
		callee.mu.Unlock()
		return
	}
	// Chunks may fill only three quarters of the callee's backlog, so
	// that the INTERRUPT below, and the callee's other messages, find
	// room.
	limit := d.r.cfg.MaxBacklog
	err := callee.put(&protocol.Invocation{
		Request:      inv.id,
		Registration: inv.stream.registration,
		Details:      details,
		Args:         m.Args,
		Kwargs:       m.Kwargs,
	}, limit-limit/4)
	full := err == errBacklogFull
	if full {
		// The callee cannot take the chunk now; a stream with a hole in
		// it is useless, so the call ends on both sides.
		delete(callee.invocations, inv.id)
		callee.send(&protocol.Interrupt{Request: inv.id, Options: protocol.Dict{"mode": cancelKillNoWait}})
	}
	callee.mu.Unlock()
	if full {
		d.answer(inv, &protocol.Error{RequestType: protocol.TypeCall, Request: inv.callID,
			URI: protocol.ErrNoAvailableCallee, Args: protocol.List{"the callee's outbound queue is full"}}, true)
	}
}

// endedStreams is how many of its progressive calls that ended a session
// remembers, to discard their late chunks (the spec's "grace period
// table", kept by count rather than time).
const endedStreams = 64

// endCallLocked removes inv from its caller's pending calls; s.mu (of
// the caller) must be held.
func (s *session) endCallLocked(inv *invocation) {
	delete(s.calls, inv.callID)
	if inv.stream != nil {
		inv.streaming = false
		s.rememberEndedLocked(inv.callID)
	}
}

// rememberEndedLocked records the request ID of a progressive call that
// ended. s.mu must be held.
func (s *session) rememberEndedLocked(id protocol.ID) {
	if len(s.ended) < endedStreams {
		s.ended = append(s.ended, id)
		return
	}
	s.ended[s.endedNext] = id
	s.endedNext = (s.endedNext + 1) % endedStreams
}

// endedLocked reports whether id is a remembered ended progressive call.
// s.mu must be held.
func (s *session) endedLocked(id protocol.ID) bool {
	return slices.Contains(s.ended, id)
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

// resolvePermitted returns the pattern registration and callee a call of
// procedure goes to when only callees whose role may register procedure
// count (see authz.permits): the first registration, in the spec's order
// of precedence (longest prefix, then the most specific wildcard), with
// such a callee, chosen among those by the registration's policy; or nil
// and nil. It is the slow path of call, taken only when the callee
// chosen first may not take the call.
func (d *dealer) resolvePermitted(procedure protocol.URI) (*registration, *registrant) {
	if d.patterns.Load() == 0 {
		return nil, nil
	}
	d.pmu.RLock()
	prefixes := d.prefix.match(string(procedure), nil)
	wildcards := d.wildcard.match(string(procedure), nil)
	d.pmu.RUnlock()
	slices.Reverse(prefixes) // longest first
	for _, reg := range append(prefixes, wildcards...) {
		if rg := reg.pickWhere(func(rg *registrant) bool {
			return d.authz.permits(rg.callee, ActionRegister, procedure)
		}); rg != nil {
			return reg, rg
		}
	}
	return nil, nil
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
		c.endCallLocked(inv)
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
	ppt := pptUsed(m.Options)
	if ppt {
		if msg := s.checkCalleePPT(protocol.TypeYield, m.Options, m.Args, m.Kwargs); msg != "" {
			return msg
		}
	}
	inv, bad := s.take(m.Request, !progress)
	if inv == nil {
		return bad
	}
	if ppt && !inv.caller.pptCaller {
		d.pptUnsupported(inv, progress)
		return ""
	}
	if progress {
		if !inv.progress {
			return "" // the caller did not ask for progressive results
		}
		details := progressDetails()
		if ppt {
			details = withPPT(details, m.Options, 0)
		}
		d.answer(inv, &protocol.Result{Request: inv.callID, Details: details, Args: m.Args, Kwargs: m.Kwargs}, false)
		return ""
	}
	// take removed inv from s.invocations, so only this goroutine gets
	// here for inv and fills in inv.result, once.
	var details protocol.Dict
	if ppt {
		details = withPPT(nil, m.Options, 0)
	}
	inv.result = protocol.Result{Request: inv.callID, Details: details, Args: m.Args, Kwargs: m.Kwargs}
	d.answer(inv, &inv.result, true)
	return ""
}

// progressDetails returns RESULT.Details of a progressive result.
func progressDetails() protocol.Dict { return protocol.Dict{"progress": true} }

// invocationError handles ERROR(INVOCATION) on the callee's goroutine and
// passes the callee's error URI and payload on to the caller.
func (d *dealer) invocationError(s *session, m *protocol.Error) string {
	ppt := pptUsed(m.Details)
	if ppt {
		if msg := s.checkCalleePPT(protocol.TypeError, m.Details, m.Args, m.Kwargs); msg != "" {
			return msg
		}
	}
	inv, bad := s.take(m.Request, true)
	if inv == nil {
		return bad
	}
	if ppt && !inv.caller.pptCaller {
		d.pptUnsupported(inv, false)
		return ""
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
	s.endCallLocked(inv)
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
	c.endCallLocked(inv)
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
