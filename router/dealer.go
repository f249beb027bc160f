package router

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wampkit/wampkit/protocol"
)

// dealer routes RPC messages of one realm (spec basic "Remote Procedure
// Calls", advanced "Progressive Call Results", "Progressive Call
// Invocations", "Call Canceling", "Caller Identification"). This file
// holds its registrations; call.go the life of a call, stream.go that of
// a progressive call invocation.
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
	r     *Router
	meta  *broker                // the realm's broker, which publishes the meta events
	authz *atomic.Pointer[authz] // the realm's authorization (see permits); nil allows all

	mu    sync.Mutex                    // serializes register and unregister
	byKey map[regKey]*registration      // guarded by mu: every registration
	byID  map[protocol.ID]*registration // guarded by mu: the same by ID
	index uriIndex[registration]        // written under mu
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
	// callees is the current set in registration order (or the
	// cluster's, see cluster_order.go), which callers read without a
	// lock. Written under dealer.mu.
	callees members[*registrant]
	next    atomic.Uint64 // round-robin counter
	// weighted is set once a callee has a weight (see
	// ClusterLink.SetWeight): roundrobin and random then count weights.
	weighted atomic.Bool
}

// registrant is one callee's part of a registration.
type registrant struct {
	reg            *registration
	callee         *session
	discloseCaller bool // REGISTER.Options.disclose_caller
	gone           bool // unregistered; guarded by callee.mu
	// invocations counts the INVOCATIONs queued to the callee for the
	// registration; guarded by callee.mu, under which they are queued
	// anyway, so counting costs no atomic instruction.
	invocations uint64
	// order is the registrant's place in the cluster's order of the
	// registration's callees, 0 if none (see cluster_order.go); guarded
	// by dealer.mu.
	order uint64
	// weight is the number of callees a cluster's stand-in stands for,
	// 0 for any other callee (which counts 1; see cluster_order.go).
	weight atomic.Uint32
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
	cs := reg.callees.load()
	return reg.choose(cs.chunkList(), cs.len())
}

// choose picks one of the n callees in chunks by the registration's
// policy, or nil if n is 0.
func (reg *registration) choose(chunks [][]*registrant, n int) *registrant {
	switch {
	case n == 0:
		return nil
	case n == 1:
		return chunks[0][0]
	}
	weighted := reg.weighted.Load()
	var total uint64
	if weighted {
		total = totalWeight(chunks)
	}
	switch at, k := reg.draw(n, weighted, total); {
	case at == drawFirst:
		return chunks[0][0]
	case at == drawLast:
		last := chunks[len(chunks)-1]
		return last[len(last)-1]
	case weighted:
		return atWeight(chunks, k)
	default:
		return memberAt(chunks, int(k))
	}
}

// What draw tells to take.
const (
	drawFirst = iota // the first callee
	drawLast         // the last one
	drawAt           // the one at k (weighted: whose weight span holds k)
)

// draw decides, by the registration's policy, which of n callees, of
// total weight when weighted, a call goes to (n > 1).
func (reg *registration) draw(n int, weighted bool, total uint64) (at int, k uint64) {
	switch reg.invoke {
	case invokeRoundRobin:
		k = reg.next.Add(1) - 1
		if weighted {
			return drawAt, k % total
		}
		return drawAt, k % uint64(n)
	case invokeRandom:
		if weighted {
			return drawAt, rand.Uint64N(total)
		}
		return drawAt, rand.Uint64N(uint64(n))
	case invokeLast:
		return drawLast, 0
	}
	return drawFirst, 0 // single, first
}

// pickWhere chooses, by the registration's policy, among the callees for
// which ok is true; it returns nil if there is none. It allocates
// nothing: one pass counts the eligible callees (and their weights), and
// a second finds the chosen one, for the policies that need it.
func (reg *registration) pickWhere(ok func(*registrant) bool) *registrant {
	chunks := reg.callees.load().chunkList()
	weighted := reg.weighted.Load()
	var n int
	var total uint64
	var first, last *registrant
	for _, ch := range chunks {
		for _, rg := range ch {
			if !ok(rg) {
				continue
			}
			if first == nil {
				first = rg
			}
			last = rg
			n++
			if weighted {
				total += rg.weightOf()
			}
		}
	}
	if n <= 1 {
		return first
	}
	at, k := reg.draw(n, weighted, total)
	switch at {
	case drawFirst:
		return first
	case drawLast:
		return last
	}
	for _, ch := range chunks {
		for _, rg := range ch {
			if !ok(rg) {
				continue
			}
			w := uint64(1)
			if weighted {
				w = rg.weightOf()
			}
			if k < w {
				return rg
			}
			k -= w
		}
	}
	// Weights or permissions changed between the passes.
	return last
}

func (d *dealer) init(r *Router, meta *broker, z *atomic.Pointer[authz]) {
	d.r = r
	d.meta = meta
	d.authz = z
	d.byKey = make(map[regKey]*registration)
	d.byID = make(map[protocol.ID]*registration)
}

// register handles REGISTER on the callee's goroutine.
func (d *dealer) register(s *session, m *protocol.Register) error {
	match, invoke, err := d.checkRegister(s, m)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	reg := d.byKey[regKey{m.Procedure, match}]
	if reg != nil && (reg.invoke == invokeSingle || reg.invoke != invoke) {
		// The first registrant fixed the policy; single admits nobody
		// else (spec advanced "Shared Registration").
		return refuse(protocol.ErrProcedureAlreadyExists, "")
	}
	if reg != nil {
		// Every callee of reg has its entry in its in.regs (one that
		// reg revoked may still have it).
		if rg := s.in.regs[reg.id]; rg != nil && rg.reg == reg && reg.callees.load().contains(rg) {
			return refuse(protocol.ErrProcedureAlreadyExists, "registered by this session already")
		}
	}
	order, err := d.claimLocked(s, reg, m.Procedure, match, invoke)
	if err != nil {
		return err
	}
	fresh := reg == nil
	if fresh {
		reg = &registration{id: d.newIDLocked(m.Procedure, match), procedure: m.Procedure, match: match, invoke: invoke,
			created: time.Now()}
	}
	rg := &registrant{reg: reg, callee: s, discloseCaller: m.Options.Bool("disclose_caller"), order: order}
	// The registrant becomes callable and REGISTERED is queued under
	// s.mu, which call holds while it sends INVOCATION: no INVOCATION can
	// overtake REGISTERED (spec basic "Ordering Guarantees"), and every
	// call made after the client has read REGISTERED finds it.
	s.mu.Lock()
	if order != 0 {
		next := append(reg.callees.load().all(), rg)
		sortByOrder(next)
		reg.callees.reset(next)
	} else {
		reg.callees.add(rg)
	}
	if fresh {
		d.addLocked(reg)
	}
	ok := s.sendOwn(&protocol.Registered{Request: m.Request, Registration: reg.id})
	if !ok {
		d.removeRegistrantLocked(rg)
		rg.gone = true
	}
	s.mu.Unlock()
	if !ok {
		return nil // the session is being dropped
	}
	s.in.regs[reg.id] = rg
	// After s.mu is released: publishing may take other sessions' mu.
	// on_create names the procedure: only who may see it hears of it.
	if fresh && !s.isCluster() && d.meta.listening(metaRegOnCreate) {
		d.meta.publishMetaFor(metaRegOnCreate, protocol.List{uint64(s.id), reg.metaDetails()},
			d.authz.Load().viewer(false, reg.procedure, reg.match))
	}
	d.metaEventLocked(metaRegOnRegister, s, reg)
	return nil
}

// checkRegister checks a REGISTER and returns its match and invocation
// policies.
func (d *dealer) checkRegister(s *session, m *protocol.Register) (protocol.MatchPolicy, string, error) {
	if err := checkOptions(m.Options, registerOptions); err != nil {
		return "", "", err
	}
	match, err := matchOption(m.Options)
	if err != nil {
		return "", "", err
	}
	invoke := m.Options.String("invoke")
	switch invoke {
	case "":
		invoke = invokeSingle
	case invokeSingle, invokeRoundRobin, invokeRandom, invokeFirst, invokeLast:
	default:
		return "", "", invalidArgument("unknown invocation policy " + invoke)
	}
	if err := protocol.CheckPattern(m.Procedure, match, d.r.cfg.StrictURIs); err != nil {
		return "", "", refuse(protocol.ErrInvalidURI, err.Error())
	}
	if protocol.IsReserved(m.Procedure) {
		// The wamp namespace belongs to the spec and the router's meta
		// API (spec basic "Reserved URIs").
		return "", "", refuse(protocol.ErrInvalidURI, "procedure "+string(m.Procedure)+" is in the reserved wamp namespace")
	}
	if match == protocol.MatchExact && routerProcedure(m.Procedure) {
		return "", "", refuse(protocol.ErrInvalidURI, "procedure "+string(m.Procedure)+" is the router's own")
	}
	if err := s.authorize(ActionRegister, m.Procedure, match, m.Options); err != nil {
		return "", "", err
	}
	if max := d.r.cfg.MaxRegistrations; max > 0 && len(s.in.regs) >= max {
		s.pruneRevoked()
		if len(s.in.regs) >= max {
			return "", "", refusef(LimitExceeded, "the session holds its maximum of %d registrations", max)
		}
	}
	return match, invoke, nil
}

// unregister handles UNREGISTER on the callee's goroutine. Pending
// invocations of the registration still complete.
func (d *dealer) unregister(s *session, m *protocol.Unregister) error {
	rg := s.in.regs[m.Registration]
	if rg == nil {
		return refuse(protocol.ErrNoSuchRegistration, "")
	}
	d.mu.Lock()
	removed := d.unregisterLocked(rg)
	d.mu.Unlock()
	delete(s.in.regs, m.Registration)
	if !removed {
		// Revoked meanwhile (see revokeLocked).
		return refuse(protocol.ErrNoSuchRegistration, "")
	}
	// Calls that picked this callee before it was removed but have not
	// sent their INVOCATION yet see gone and fail, so no INVOCATION for
	// it follows UNREGISTERED.
	s.mu.Lock()
	rg.gone = true
	s.sendOwn(&protocol.Unregistered{Request: m.Request})
	s.mu.Unlock()
	return nil
}

// revokeLocked takes rg out of its registration without its callee
// asking for it (spec advanced "Registration Revocation"):
// wamp.registration.remove_callee, or a change of the realm's
// authorization. Its pending invocations still complete. A callee that
// announced registration_revocation is told with UNREGISTERED [0,
// {registration, reason}]; others learn it only from the meta events. It
// reports whether rg was still registered. The entry in the callee's
// in.regs stays until its goroutine next looks at it. d.mu must be held,
// and no session's mu.
func (d *dealer) revokeLocked(rg *registrant, reason string) bool {
	if !d.unregisterLocked(rg) {
		return false
	}
	callee := rg.callee
	callee.mu.Lock()
	rg.gone = true
	if callee.feat.calleeRevocation {
		details := protocol.Dict{"registration": uint64(rg.reg.id)}
		if reason != "" {
			details["reason"] = reason
		}
		callee.send(&protocol.Unregistered{Details: details})
		d.r.countOut(nil, protocol.TypeUnregistered, 1)
	}
	callee.mu.Unlock()
	return true
}

// pruneRevoked drops from s.in.regs the registrations revokeLocked took
// away. It runs on the session's goroutine.
func (s *session) pruneRevoked() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, rg := range s.in.regs {
		if rg.gone {
			delete(s.in.regs, id)
		}
	}
}

// metaEventLocked publishes a registration meta event with the arguments
// [session, registration]. d.mu must be held, and no session's mu.
func (d *dealer) metaEventLocked(topic protocol.URI, s *session, reg *registration) {
	if !s.isCluster() && d.meta.listening(topic) {
		d.meta.publishMeta(topic, protocol.List{uint64(s.id), uint64(reg.id)})
	}
}

// unregisterLocked takes rg out of its registration, as
// removeRegistrantLocked does, and publishes
// wamp.registration.on_unregister and on_delete; it reports false, and
// does nothing, if rg was taken out already. d.mu must be held, and no
// session's mu.
func (d *dealer) unregisterLocked(rg *registrant) bool {
	removed, deleted := d.removeRegistrantLocked(rg)
	if !removed {
		return false
	}
	d.metaEventLocked(metaRegOnUnregister, rg.callee, rg.reg)
	if deleted {
		d.metaEventLocked(metaRegOnDelete, rg.callee, rg.reg)
	}
	return true
}

// removeRegistrantLocked takes rg out of its registration and drops the
// registration when no callee is left; it reports whether rg was one of
// its callees, and whether it dropped the registration. d.mu must be
// held.
func (d *dealer) removeRegistrantLocked(rg *registrant) (removed, deleted bool) {
	reg := rg.reg
	if !reg.callees.remove(rg) {
		return false, false
	}
	next := reg.callees.load()
	d.releaseLocked(rg, next)
	if next.len() == 0 {
		d.removeLocked(reg)
		return true, true
	}
	return true, false
}

// addLocked makes reg callable. d.mu must be held.
func (d *dealer) addLocked(reg *registration) {
	d.byKey[regKey{reg.procedure, reg.match}] = reg
	d.byID[reg.id] = reg
	d.index.insert(reg.procedure, reg.match, reg)
}

// removeLocked makes reg uncallable. d.mu must be held.
func (d *dealer) removeLocked(reg *registration) {
	key := regKey{reg.procedure, reg.match}
	if d.byKey[key] != reg {
		return
	}
	delete(d.byKey, key)
	delete(d.byID, reg.id)
	d.index.remove(reg.procedure, reg.match, reg)
}

// match returns the registration a CALL of procedure would go to: the
// exact one, else the best pattern by the spec's precedence (see
// uriIndex.bestPattern), else nil. Authorization of the callees is not
// considered (see call.go).
func (d *dealer) match(procedure protocol.URI) *registration {
	if reg, ok := d.index.lookup(procedure); ok {
		return reg
	}
	return d.index.bestPattern(string(procedure))
}
