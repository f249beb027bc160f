package router

import (
	"cmp"
	"slices"
	"time"

	"github.com/wampkit/wampkit/protocol"
)

// The meta API (spec advanced "Session Meta API", "Registration Meta
// API", "Subscription Meta API"): events published by the router in each
// realm, and procedures the dealer answers itself on the caller's
// goroutine, so the meta API needs no session or goroutine of its own.
//
// A meta event costs one map lookup (broker.listening) while nobody
// subscribes to it. The registration and subscription events are
// published under the dealer's or broker's mu, in the order of the
// changes: on_create before on_register (on_subscribe), on_unregister
// (on_unsubscribe) before on_delete.
const (
	metaOnJoin  protocol.URI = "wamp.session.on_join"
	metaOnLeave protocol.URI = "wamp.session.on_leave"

	metaRegOnCreate     protocol.URI = "wamp.registration.on_create"
	metaRegOnRegister   protocol.URI = "wamp.registration.on_register"
	metaRegOnUnregister protocol.URI = "wamp.registration.on_unregister"
	metaRegOnDelete     protocol.URI = "wamp.registration.on_delete"

	metaSubOnCreate      protocol.URI = "wamp.subscription.on_create"
	metaSubOnSubscribe   protocol.URI = "wamp.subscription.on_subscribe"
	metaSubOnUnsubscribe protocol.URI = "wamp.subscription.on_unsubscribe"
	metaSubOnDelete      protocol.URI = "wamp.subscription.on_delete"
)

// metaDetails is the session's description in wamp.session.on_join and
// wamp.session.get.
func (s *session) metaDetails() protocol.Dict {
	d := protocol.Dict{
		"session":      uint64(s.id),
		"authid":       s.authID,
		"authrole":     s.authRole,
		"authmethod":   s.authMethod,
		"authprovider": s.authProvider,
	}
	if s.transport != nil && s.realm != nil && s.realm.authz != nil {
		// Transport details (the peer's address) are shown only in a
		// realm whose Authorizer decides who may read them (who may
		// call wamp.session.get or subscribe to wamp.session.on_join),
		// never to everyone in an open realm.
		d["transport"] = s.transport
	}
	if s.realm != nil && s.realm.dropEvents {
		// Implementation-specific key (spec basic "Extensibility").
		d["_dropped_events"] = s.dropped.Load()
	}
	return d
}

// metaCall answers a CALL of a meta procedure of the realm; it reports
// false if procedure is none.
func (rm *realm) metaCall(s *session, m *protocol.Call) bool {
	result := func(args ...any) {
		s.send(&protocol.Result{Request: m.Request, Args: args})
	}
	fail := func(uri protocol.URI, msg string) {
		var args protocol.List
		if msg != "" {
			args = protocol.List{msg}
		}
		s.send(&protocol.Error{RequestType: protocol.TypeCall, Request: m.Request, URI: uri, Args: args})
	}
	switch m.Procedure {
	case "wamp.session.count", "wamp.session.list":
		var roles []string
		if len(m.Args) > 0 && m.Args[0] != nil {
			roles = strList(m.Args[0])
		}
		ids := []any{}
		for _, t := range rm.snapshot() {
			if roles == nil || containsStr(roles, t.authRole) {
				ids = append(ids, uint64(t.id))
			}
		}
		if m.Procedure == "wamp.session.count" {
			result(len(ids))
		} else {
			result(ids)
		}
	case "wamp.session.get":
		t, ok := rm.target(m)
		if !ok {
			fail(protocol.ErrInvalidArgument, "the argument must be a session ID")
			return true
		}
		if t == nil {
			fail(protocol.ErrNoSuchSession, "")
			return true
		}
		result(t.metaDetails())
	case "wamp.session.kill", "wamp.session.kill_by_authid", "wamp.session.kill_by_authrole", "wamp.session.kill_all":
		if rm.authz == nil {
			// Destructive: only with an explicit permission, which an
			// open realm cannot give.
			fail(protocol.ErrNotAuthorized, string(m.Procedure)+" needs an explicit permission; the realm has no Authorizer")
			return true
		}
		reason := protocol.CloseKilled
		if v, ok := m.Kwargs["reason"]; ok {
			u, _ := v.(string)
			if err := protocol.CheckURI(protocol.URI(u), false); err != nil {
				fail(protocol.ErrInvalidURI, "reason: "+err.Error())
				return true
			}
			reason = protocol.URI(u)
		}
		message := m.Kwargs.String("message")
		var victims []*session
		switch m.Procedure {
		case "wamp.session.kill":
			t, ok := rm.target(m)
			if !ok {
				fail(protocol.ErrInvalidArgument, "the argument must be a session ID")
				return true
			}
			if t == nil || t == s {
				// The caller's own session is no other session.
				fail(protocol.ErrNoSuchSession, "")
				return true
			}
			victims = []*session{t}
		case "wamp.session.kill_by_authid", "wamp.session.kill_by_authrole":
			key, _ := firstArg(m).(string)
			for _, t := range rm.snapshot() {
				if t == s {
					continue
				}
				if m.Procedure == "wamp.session.kill_by_authid" && t.authID == key ||
					m.Procedure == "wamp.session.kill_by_authrole" && t.authRole == key {
					victims = append(victims, t)
				}
			}
		default: // kill_all
			for _, t := range rm.snapshot() {
				if t != s {
					// kill_all emits no on_leave and no testaments (spec
					// advanced "Session Meta API").
					t.quiet.Store(true)
					victims = append(victims, t)
				}
			}
		}
		killed := []any{}
		for _, t := range victims {
			if t.shutdown(reason, message) {
				killed = append(killed, uint64(t.id))
			}
		}
		switch m.Procedure {
		case "wamp.session.kill":
			result()
		case "wamp.session.kill_by_authid":
			result(killed)
		default:
			result(len(killed))
		}
	default:
		return rm.testamentCall(s, m) || rm.dealer.metaCall(s, m) || rm.broker.metaCall(s, m)
	}
	return true
}

// metaTime formats the creation time of a registration or subscription
// as ISO 8601 in UTC, to the millisecond.
func metaTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// metaDetails is the registration's RegistrationDetails in
// wamp.registration.on_create and wamp.registration.get.
func (reg *registration) metaDetails() protocol.Dict {
	return protocol.Dict{
		"id":      uint64(reg.id),
		"created": metaTime(reg.created),
		"uri":     string(reg.procedure),
		"match":   string(reg.match),
		"invoke":  reg.invoke,
	}
}

// metaDetails is the subscription's SubscriptionDetails in
// wamp.subscription.on_create and wamp.subscription.get.
func (sub *subscription) metaDetails() protocol.Dict {
	return protocol.Dict{
		"id":      uint64(sub.id),
		"created": metaTime(sub.created),
		"uri":     string(sub.topic),
		"match":   string(sub.match),
	}
}

// metaReply answers a CALL of a meta procedure. It holds the CALL's
// fields, not the CALL: escape analysis does not tell a struct's fields
// apart, and a *protocol.Call kept beside the session would be moved to
// the heap on every call, meta or not.
type metaReply struct {
	s    *session
	req  protocol.ID   // CALL.Request
	args protocol.List // CALL.Arguments
}

func newMetaReply(s *session, m *protocol.Call) metaReply {
	return metaReply{s, m.Request, m.Args}
}

func (r metaReply) result(args ...any) {
	r.s.send(&protocol.Result{Request: r.req, Args: args})
}

func (r metaReply) fail(uri protocol.URI, msg string) {
	var args protocol.List
	if msg != "" {
		args = protocol.List{msg}
	}
	r.s.send(&protocol.Error{RequestType: protocol.TypeCall, Request: r.req, URI: uri, Args: args})
}

// first returns the first argument, or nil.
func (r metaReply) first() any {
	if len(r.args) == 0 {
		return nil
	}
	return r.args[0]
}

// metaID returns the first argument as a registration or subscription
// ID, or answers ERROR wamp.error.invalid_argument.
func (r metaReply) metaID() (protocol.ID, bool) {
	id, ok := protocol.ToID(r.first())
	if !ok {
		r.fail(protocol.ErrInvalidArgument, "the argument must be an ID")
	}
	return id, ok
}

// metaURI returns the first argument as a URI, or answers ERROR
// wamp.error.invalid_argument.
func (r metaReply) metaURI() (protocol.URI, bool) {
	u, ok := r.first().(string)
	if !ok {
		r.fail(protocol.ErrInvalidArgument, "the first argument must be a URI")
	}
	return protocol.URI(u), ok
}

// metaLookup returns the arguments of wamp.registration.lookup and
// wamp.subscription.lookup: a URI and an optional dict of the options of
// REGISTER or SUBSCRIBE, of which only match counts (default exact). It
// answers ERROR wamp.error.invalid_argument if they are malformed.
func (r metaReply) metaLookup() (protocol.URI, protocol.MatchPolicy, bool) {
	u, ok := r.metaURI()
	if !ok {
		return "", "", false
	}
	match := protocol.MatchExact
	if len(r.args) > 1 && r.args[1] != nil {
		opts, ok := protocol.ToDict(r.args[1])
		if !ok {
			r.fail(protocol.ErrInvalidArgument, "the second argument must be a dict of options")
			return "", "", false
		}
		if v, ok := opts["match"]; ok {
			s, ok := v.(string)
			p := protocol.MatchPolicy(s)
			if !ok || !p.Valid() {
				r.fail(protocol.ErrInvalidArgument, "match must be exact, prefix or wildcard")
				return "", "", false
			}
			if p != "" {
				match = p
			}
		}
	}
	return u, match, true
}

// metaLists is the result of wamp.registration.list and
// wamp.subscription.list: the IDs by match policy, each list in order of
// creation.
func metaLists(ids map[protocol.MatchPolicy][]any) protocol.Dict {
	d := protocol.Dict{}
	for _, p := range []protocol.MatchPolicy{protocol.MatchExact, protocol.MatchPrefix, protocol.MatchWildcard} {
		l := ids[p]
		if l == nil {
			l = []any{}
		}
		slices.SortFunc(l, func(a, b any) int { return cmp.Compare(a.(uint64), b.(uint64)) })
		d[string(p)] = l
	}
	return d
}

// metaCall answers a CALL of a procedure of the registration meta API
// (spec advanced "Registration Meta API"); it reports false if procedure
// is none.
func (d *dealer) metaCall(s *session, m *protocol.Call) bool {
	r := newMetaReply(s, m)
	switch m.Procedure {
	case "wamp.registration.list":
		d.mu.Lock()
		regs := make([]*registration, 0, len(d.byID))
		for _, reg := range d.byID {
			regs = append(regs, reg)
		}
		d.mu.Unlock()
		ids := map[protocol.MatchPolicy][]any{}
		for _, reg := range regs {
			if s.seesProcedure(reg.procedure, reg.match) {
				ids[reg.match] = append(ids[reg.match], uint64(reg.id))
			}
		}
		r.result(metaLists(ids))
	case "wamp.registration.lookup":
		u, match, ok := r.metaLookup()
		if !ok {
			return true
		}
		d.mu.Lock()
		reg := d.byKey[regKey{u, match}]
		d.mu.Unlock()
		if reg == nil || !s.seesProcedure(reg.procedure, reg.match) {
			r.result(nil)
			return true
		}
		r.result(uint64(reg.id))
	case "wamp.registration.match":
		// The registration a CALL of the URI would go to.
		u, ok := r.metaURI()
		if !ok {
			return true
		}
		var reg *registration
		if v, ok := d.exact.Load(u); ok {
			reg = v.(*registration)
		} else {
			reg = d.matchPattern(u)
		}
		if reg == nil || !s.seesProcedure(reg.procedure, reg.match) {
			r.result(nil)
			return true
		}
		r.result(uint64(reg.id))
	case "wamp.registration.get", "wamp.registration.list_callees", "wamp.registration.count_callees":
		id, ok := r.metaID()
		if !ok {
			return true
		}
		d.mu.Lock()
		reg := d.byID[id]
		d.mu.Unlock()
		if reg == nil || !s.seesProcedure(reg.procedure, reg.match) {
			// One the caller may not see does not exist for it.
			r.fail(protocol.ErrNoSuchRegistration, "")
			return true
		}
		callees := *reg.callees.Load()
		switch m.Procedure {
		case "wamp.registration.get":
			r.result(reg.metaDetails())
		case "wamp.registration.list_callees":
			ids := make([]any, len(callees))
			for i, rg := range callees {
				ids[i] = uint64(rg.callee.id)
			}
			r.result(ids)
		default:
			r.result(len(callees))
		}
	default:
		return false
	}
	return true
}

// metaCall answers a CALL of a procedure of the subscription meta API
// (spec advanced "Subscription Meta API"); it reports false if procedure
// is none.
func (b *broker) metaCall(s *session, m *protocol.Call) bool {
	r := newMetaReply(s, m)
	switch m.Procedure {
	case "wamp.subscription.list":
		b.mu.Lock()
		subs := make([]*subscription, 0, len(b.byID))
		for _, sub := range b.byID {
			subs = append(subs, sub)
		}
		b.mu.Unlock()
		ids := map[protocol.MatchPolicy][]any{}
		for _, sub := range subs {
			if s.seesTopic(sub.topic, sub.match) {
				ids[sub.match] = append(ids[sub.match], uint64(sub.id))
			}
		}
		r.result(metaLists(ids))
	case "wamp.subscription.lookup":
		u, match, ok := r.metaLookup()
		if !ok {
			return true
		}
		b.mu.Lock()
		sub := b.byKey[subKey{u, match}]
		b.mu.Unlock()
		if sub == nil || !s.seesTopic(sub.topic, sub.match) {
			r.result(nil)
			return true
		}
		r.result(uint64(sub.id))
	case "wamp.subscription.match":
		// Every subscription a PUBLISH to the URI would reach.
		u, ok := r.metaURI()
		if !ok {
			return true
		}
		var subs []*subscription
		if v, ok := b.exact.Load(u); ok {
			subs = append(subs, v.(*subscription))
		}
		if b.patterns.Load() > 0 {
			subs = b.matchPatterns(string(u), subs)
		}
		subs = slices.DeleteFunc(subs, func(sub *subscription) bool { return !s.seesTopic(sub.topic, sub.match) })
		if len(subs) == 0 {
			r.result(nil)
			return true
		}
		ids := make([]any, len(subs))
		for i, sub := range subs {
			ids[i] = uint64(sub.id)
		}
		r.result(ids)
	case "wamp.subscription.get", "wamp.subscription.list_subscribers", "wamp.subscription.count_subscribers":
		id, ok := r.metaID()
		if !ok {
			return true
		}
		b.mu.Lock()
		sub := b.byID[id]
		b.mu.Unlock()
		if sub == nil || !s.seesTopic(sub.topic, sub.match) {
			// One the caller may not see does not exist for it.
			r.fail(protocol.ErrNoSuchSubscription, "")
			return true
		}
		subscribers := *sub.subscribers.Load()
		switch m.Procedure {
		case "wamp.subscription.get":
			r.result(sub.metaDetails())
		case "wamp.subscription.list_subscribers":
			ids := make([]any, len(subscribers))
			for i, t := range subscribers {
				ids[i] = uint64(t.id)
			}
			r.result(ids)
		default:
			r.result(len(subscribers))
		}
	case "wamp.subscription.get_events":
		// Spec advanced "Event History".
		id, ok := r.metaID()
		if !ok {
			return true
		}
		b.mu.Lock()
		sub := b.byID[id]
		b.mu.Unlock()
		if sub == nil || !s.seesTopic(sub.topic, sub.match) {
			r.fail(protocol.ErrNoSuchSubscription, "")
			return true
		}
		if s.realm.authz != nil {
			// Only who may subscribe to the topic may read its history
			// (spec advanced "Event History", "Security Aspects"); the
			// CALL of get_events itself was authorized as well.
			if uri, msg := s.authorize(ActionSubscribe, sub.topic, sub.match, nil); uri != "" {
				r.fail(uri, msg)
				return true
			}
		}
		if sub.history == nil {
			r.fail(NoEventHistory, "the events of subscription "+string(sub.topic)+" are not kept")
			return true
		}
		q, msg := parseHistoryQuery(m.Args, m.Kwargs)
		if msg != "" {
			r.fail(protocol.ErrInvalidArgument, msg)
			return true
		}
		r.result(q.run(sub.history.entries(time.Now()), s, sub))
	default:
		return false
	}
	return true
}

// snapshot returns the sessions joined to the realm.
func (rm *realm) snapshot() []*session {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	out := make([]*session, 0, len(rm.sessions))
	for _, t := range rm.sessions {
		out = append(out, t)
	}
	return out
}

// target returns the session whose ID is the first argument of m (nil if
// there is none); ok is false if the argument is no session ID.
func (rm *realm) target(m *protocol.Call) (t *session, ok bool) {
	id, ok := protocol.ToID(firstArg(m))
	if !ok {
		return nil, false
	}
	rm.mu.Lock()
	defer rm.mu.Unlock()
	return rm.sessions[id], true
}

func firstArg(m *protocol.Call) any {
	if len(m.Args) == 0 {
		return nil
	}
	return m.Args[0]
}
