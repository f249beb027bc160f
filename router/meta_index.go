package router

import (
	"cmp"
	"slices"
	"time"

	"github.com/wampkit/wampkit/protocol"
)

// The registration and subscription meta procedures (spec advanced
// "Registration Meta API", "Subscription Meta API", "Event History"),
// entries of metaProcedures (meta.go). A session is shown only the
// registrations and subscriptions whose URIs it may see (see seesTopic,
// seesProcedure): the others do not exist for it.

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

// lookupArgs returns the arguments of wamp.registration.lookup and
// wamp.subscription.lookup: a URI and an optional dict of the options of
// REGISTER or SUBSCRIBE, of which only match counts (default exact).
func (q metaRequest) lookupArgs() (protocol.URI, protocol.MatchPolicy, error) {
	u, err := q.uri()
	if err != nil {
		return "", "", err
	}
	match := protocol.MatchExact
	if len(q.args) > 1 && q.args[1] != nil {
		opts, ok := protocol.ToDict(q.args[1])
		if !ok {
			return "", "", invalidArgument("the second argument must be a dict of options")
		}
		if v, ok := opts["match"]; ok {
			s, ok := v.(string)
			p := protocol.MatchPolicy(s)
			if !ok || !p.Valid() {
				return "", "", invalidArgument("match must be exact, prefix or wildcard")
			}
			if p != "" {
				match = p
			}
		}
	}
	return u, match, nil
}

// metaLists is the result of wamp.registration.list and
// wamp.subscription.list: the IDs by match policy, each list in order of
// creation.
func metaLists(ids map[protocol.MatchPolicy][]any) protocol.List {
	d := protocol.Dict{}
	for _, p := range []protocol.MatchPolicy{protocol.MatchExact, protocol.MatchPrefix, protocol.MatchWildcard} {
		l := ids[p]
		if l == nil {
			l = []any{}
		}
		slices.SortFunc(l, func(a, b any) int { return cmp.Compare(a.(uint64), b.(uint64)) })
		d[string(p)] = l
	}
	return protocol.List{d}
}

// idOrNull is the result of a lookup or match: the ID, or null.
func idOrNull(id protocol.ID, found bool) protocol.List {
	if !found {
		return protocol.List{nil}
	}
	return protocol.List{uint64(id)}
}

// registration returns the registration whose ID is the first argument,
// if the caller may see it.
func (q metaRequest) registration() (*registration, error) {
	id, err := q.id()
	if err != nil {
		return nil, err
	}
	q.syncRegistrations()
	d := &q.rm.dealer
	d.mu.Lock()
	reg := d.byID[id]
	d.mu.Unlock()
	if reg == nil || !q.s.seesProcedure(reg.procedure, reg.match) {
		return nil, refuse(protocol.ErrNoSuchRegistration, "")
	}
	return reg, nil
}

func registrationList(q metaRequest) (protocol.List, error) {
	q.syncRegistrations()
	d := &q.rm.dealer
	d.mu.Lock()
	regs := make([]*registration, 0, len(d.byID))
	for _, reg := range d.byID {
		regs = append(regs, reg)
	}
	d.mu.Unlock()
	ids := map[protocol.MatchPolicy][]any{}
	for _, reg := range regs {
		if q.s.seesProcedure(reg.procedure, reg.match) {
			ids[reg.match] = append(ids[reg.match], uint64(reg.id))
		}
	}
	return metaLists(ids), nil
}

func registrationLookup(q metaRequest) (protocol.List, error) {
	q.syncRegistrations()
	u, match, err := q.lookupArgs()
	if err != nil {
		return nil, err
	}
	d := &q.rm.dealer
	d.mu.Lock()
	reg := d.byKey[regKey{u, match}]
	d.mu.Unlock()
	if reg == nil || !q.s.seesProcedure(reg.procedure, reg.match) {
		return idOrNull(0, false), nil
	}
	return idOrNull(reg.id, true), nil
}

// registrationMatch returns the registration a CALL of the URI would go
// to.
func registrationMatch(q metaRequest) (protocol.List, error) {
	u, err := q.uri()
	if err != nil {
		return nil, err
	}
	q.syncRegistrations()
	reg := q.rm.dealer.match(u)
	if reg == nil || !q.s.seesProcedure(reg.procedure, reg.match) {
		return idOrNull(0, false), nil
	}
	return idOrNull(reg.id, true), nil
}

func registrationGet(q metaRequest) (protocol.List, error) {
	reg, err := q.registration()
	if err != nil {
		return nil, err
	}
	d := reg.metaDetails()
	// Implementation-specific key for operators' consoles: the calls its
	// current callees were sent.
	var n uint64
	if q.rm.r.clusterMeta() != nil {
		_, n = q.callees(reg)
	} else {
		for rg := range reg.callees.load().values() {
			rg.callee.mu.Lock()
			n += rg.invocations
			rg.callee.mu.Unlock()
		}
	}
	d["_invocations"] = n
	return protocol.List{d}, nil
}

func registrationListCallees(q metaRequest) (protocol.List, error) {
	reg, err := q.registration()
	if err != nil {
		return nil, err
	}
	if q.rm.r.clusterMeta() != nil {
		ids, _ := q.callees(reg)
		return protocol.List{ids}, nil
	}
	callees := reg.callees.load()
	ids := make([]any, 0, callees.len())
	for rg := range callees.values() {
		ids = append(ids, uint64(rg.callee.id))
	}
	return protocol.List{ids}, nil
}

func registrationCountCallees(q metaRequest) (protocol.List, error) {
	reg, err := q.registration()
	if err != nil {
		return nil, err
	}
	if q.rm.r.clusterMeta() != nil {
		ids, _ := q.callees(reg)
		return protocol.List{len(ids)}, nil
	}
	return protocol.List{reg.callees.load().len()}, nil
}

// subscription returns the subscription whose ID is the first argument,
// if the caller may see it.
func (q metaRequest) subscription() (*subscription, error) {
	id, err := q.id()
	if err != nil {
		return nil, err
	}
	b := &q.rm.broker
	b.mu.Lock()
	sub := b.byID[id]
	b.mu.Unlock()
	if sub == nil || !q.s.seesTopic(sub.topic, sub.match) {
		return nil, refuse(protocol.ErrNoSuchSubscription, "")
	}
	return sub, nil
}

// subscriptionEverywhere returns, in a cluster, the details of the
// subscription whose ID is the first argument, if the caller may see it,
// on this node (sub) or another (details only).
func (q metaRequest) subscriptionEverywhere() (*subscription, protocol.Dict, error) {
	sub, err := q.subscription()
	if sub != nil {
		return sub, sub.metaDetails(), nil
	}
	if q.rm.r.clusterMeta() == nil || !isNoSuchSubscription(err) {
		return nil, nil, err
	}
	d := q.remoteSubscription()
	if d == nil {
		return nil, nil, err
	}
	return nil, d, nil
}

func subscriptionList(q metaRequest) (protocol.List, error) {
	b := &q.rm.broker
	b.mu.Lock()
	subs := make([]*subscription, 0, len(b.byID))
	for _, sub := range b.byID {
		subs = append(subs, sub)
	}
	b.mu.Unlock()
	ids := map[protocol.MatchPolicy][]any{}
	seen := map[protocol.ID]bool{}
	for _, sub := range subs {
		if q.s.seesTopic(sub.topic, sub.match) {
			ids[sub.match] = append(ids[sub.match], uint64(sub.id))
			seen[sub.id] = true
		}
	}
	for _, sub := range remoteSubs(q.gather(q.args, q.kwargs)) {
		if !seen[sub.id] && sub.match.Valid() && q.s.seesTopic(sub.uri, sub.match) {
			ids[sub.match] = append(ids[sub.match], uint64(sub.id))
			seen[sub.id] = true
		}
	}
	return metaLists(ids), nil
}

func subscriptionLookup(q metaRequest) (protocol.List, error) {
	u, match, err := q.lookupArgs()
	if err != nil {
		return nil, err
	}
	b := &q.rm.broker
	b.mu.Lock()
	sub := b.byKey[subKey{u, match}]
	b.mu.Unlock()
	if sub == nil && q.s.seesTopic(u, match) {
		// Another node's, if any.
		if remote := remoteSubs(q.gather(q.args, q.kwargs)); len(remote) > 0 {
			return idOrNull(remote[0].id, true), nil
		}
	}
	if sub == nil || !q.s.seesTopic(sub.topic, sub.match) {
		return idOrNull(0, false), nil
	}
	return idOrNull(sub.id, true), nil
}

// subscriptionMatch returns every subscription a PUBLISH to the URI would
// reach, or null.
func subscriptionMatch(q metaRequest) (protocol.List, error) {
	u, err := q.uri()
	if err != nil {
		return nil, err
	}
	subs := matchingSubscriptions(&q.rm.broker, u)
	subs = slices.DeleteFunc(subs, func(sub *subscription) bool { return !q.s.seesTopic(sub.topic, sub.match) })
	ids := make([]any, len(subs))
	seen := map[protocol.ID]bool{}
	for i, sub := range subs {
		ids[i] = uint64(sub.id)
		seen[sub.id] = true
	}
	for _, sub := range remoteSubs(q.gather(q.args, q.kwargs)) {
		if !seen[sub.id] && q.s.seesTopic(sub.uri, sub.match) {
			ids = append(ids, uint64(sub.id))
			seen[sub.id] = true
		}
	}
	if len(ids) == 0 {
		return protocol.List{nil}, nil
	}
	return protocol.List{ids}, nil
}

func subscriptionGet(q metaRequest) (protocol.List, error) {
	_, d, err := q.subscriptionEverywhere()
	if err != nil {
		return nil, err
	}
	return protocol.List{d}, nil
}

func subscriptionListSubscribers(q metaRequest) (protocol.List, error) {
	if q.rm.r.clusterMeta() != nil {
		ids, err := q.subscribers()
		if err != nil {
			return nil, err
		}
		return protocol.List{ids}, nil
	}
	sub, err := q.subscription()
	if err != nil {
		return nil, err
	}
	return protocol.List{subscriberIDs(sub)}, nil
}

func subscriptionCountSubscribers(q metaRequest) (protocol.List, error) {
	if q.rm.r.clusterMeta() != nil {
		ids, err := q.subscribers()
		if err != nil {
			return nil, err
		}
		return protocol.List{len(ids)}, nil
	}
	sub, err := q.subscription()
	if err != nil {
		return nil, err
	}
	return protocol.List{sub.subscribers.load().len()}, nil
}

// subscriptionGetEvents answers wamp.subscription.get_events (spec
// advanced "Event History").
func subscriptionGetEvents(q metaRequest) (protocol.List, error) {
	sub, err := q.subscription()
	if err != nil {
		return nil, err
	}
	// Only who may subscribe to the topic may read its history (spec
	// advanced "Event History", "Security Aspects"); the CALL of
	// get_events itself was authorized as well.
	if err := q.s.authorize(ActionSubscribe, sub.topic, sub.match, nil); err != nil {
		return nil, err
	}
	if sub.history == nil {
		return nil, refuse(NoEventHistory, "the events of subscription "+string(sub.topic)+" are not kept")
	}
	hq, msg := parseHistoryQuery(q.args, q.kwargs)
	if msg != "" {
		return nil, invalidArgument(msg)
	}
	es, err := q.rm.broker.historyEntries(sub, time.Now())
	if err != nil {
		return nil, err
	}
	return protocol.List{hq.run(es, q.s, sub)}, nil
}

// The revocation procedures take a session out of a registration or a
// subscription (spec advanced "Registration Revocation", "Subscription
// Revocation"; the procedures are Crossbar's): arguments [registration or
// subscription ID, session ID], keyword argument reason (a string sent to
// the session in UNREGISTERED or UNSUBSCRIBED, if it announced
// revocation). They are destructive, so an open realm refuses them.

// revocationArgs returns the session ID (second argument) and reason of
// a revocation procedure.
func (q metaRequest) revocationArgs() (protocol.ID, string, error) {
	var id protocol.ID
	ok := len(q.args) > 1
	if ok {
		id, ok = protocol.ToID(q.args[1])
	}
	if !ok {
		return 0, "", invalidArgument("the second argument must be a session ID")
	}
	reason := ""
	if v, present := q.kwargs["reason"]; present && v != nil {
		if reason, ok = v.(string); !ok {
			return 0, "", invalidArgument("reason must be a string")
		}
	}
	return id, reason, nil
}

func registrationRemoveCallee(q metaRequest) (protocol.List, error) {
	if err := q.explicit("wamp.registration.remove_callee"); err != nil {
		return nil, err
	}
	reg, err := q.registration()
	if err != nil {
		return nil, err
	}
	callee, reason, err := q.revocationArgs()
	if err != nil {
		return nil, err
	}
	d := &q.rm.dealer
	d.mu.Lock()
	defer d.mu.Unlock()
	for rg := range reg.callees.load().values() {
		if rg.callee.id == callee {
			d.revokeLocked(rg, reason)
			return nil, nil
		}
	}
	return nil, refuse(protocol.ErrNoSuchSession, "")
}

func subscriptionRemoveSubscriber(q metaRequest) (protocol.List, error) {
	if err := q.explicit("wamp.subscription.remove_subscriber"); err != nil {
		return nil, err
	}
	sub, err := q.subscription()
	if err != nil {
		return nil, err
	}
	subscriber, reason, err := q.revocationArgs()
	if err != nil {
		return nil, err
	}
	b := &q.rm.broker
	b.mu.Lock()
	defer b.mu.Unlock()
	for t := range sub.subscribers.load().values() {
		if t.id == subscriber {
			b.revokeLocked(sub, t, reason)
			return nil, nil
		}
	}
	return nil, refuse(protocol.ErrNoSuchSession, "")
}
