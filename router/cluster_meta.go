package router

import (
	"errors"
	"hash/fnv"

	"github.com/wampkit/wampkit/protocol"
)

// The meta API over a cluster (spec advanced "Session Meta API",
// "Registration Meta API", "Subscription Meta API", "Session
// Testament"). A Cluster that also implements ClusterMeta extends the
// meta procedures and the testaments of this router to the whole
// cluster; the router finds it by a type assertion on Config.Cluster.
//
// A meta procedure is still authorized, and its answer still filtered
// (seesTopic, seesProcedure), on the caller's node only. What the other
// nodes contribute is asked with ClusterMeta.GatherMeta: each node
// answers with ClusterNode.AnswerMeta from its own sessions,
// registrations and subscriptions only, unfiltered (with the URIs the
// caller's node filters by), and the caller's node merges the answers
// with its own.
//
// Registration and subscription IDs. With a ClusterMeta, the ID of a
// registration or subscription is derived from its realm, kind, URI and
// match policy (clusterObjectID), so the registration of a procedure has
// the same ID on every node that has it (the holding node and the nodes
// whose stand-ins register it), and so has a subscription to a topic on
// every node with a subscriber: an ID that one node's meta API gives
// names the same registration or subscription on any node. Two consequences:
// an ID is reused when a registration or subscription is deleted and
// made again, and, should a derived ID already be taken on the node (a
// 53-bit hash collision), the node falls back to its own sequence for
// that one.

// ClusterMeta is implemented by a [Cluster] that extends the meta API and
// the testaments of its node's router to the whole cluster. The router
// finds it by a type assertion on [Config].Cluster; without it, the meta
// API shows and acts on the node's own sessions only.
type ClusterMeta interface {
	// GatherMeta asks every other live node of the cluster the question
	// q, which each answers with [ClusterNode.AnswerMeta], and returns
	// their answers in no particular order. A node that does not answer
	// within a bound the implementation chooses, or answers with an
	// error, is left out (and logged): the caller still gets the others.
	// It is called on the goroutine of the session that made the meta
	// call.
	GatherMeta(q *ClusterMetaQuery) []protocol.List

	// SaveTestaments stores the testaments of a session of this node,
	// evs in the order they are to be published, replacing what was
	// stored for the session before; an empty evs deletes them. If this
	// node dies, another one publishes them (once), as
	// [ClusterNode.PublishEvent]. An error refuses the add_testament or
	// flush_testaments call with [ClusterUnavailable].
	SaveTestaments(realm protocol.URI, session protocol.ID, evs []*ClusterEvent) error

	// TakeTestaments deletes the stored testaments of a session of this
	// node that is ending, and reports whether the node may publish them
	// itself: false when another node already did, having declared this
	// node gone. It is called only for a session whose SaveTestaments
	// succeeded with testaments.
	TakeTestaments(realm protocol.URI, session protocol.ID) bool

	// SessionJoined tells the cluster of a session that joined a realm
	// of this node, before wamp.session.on_join is published, and
	// SessionLeft of its end, after wamp.session.on_leave (if any). So
	// the cluster can publish the on_leave of the node's sessions, as
	// [ClusterNode.PublishEvent], if the node dies. The cluster's own
	// sessions are not told. They are called on the session's goroutine
	// and must not block.
	SessionJoined(realm protocol.URI, session protocol.ID, authID, authRole string)
	SessionLeft(realm protocol.URI, session protocol.ID)

	// PublishMeta hands the other nodes a meta event published on this
	// node (wamp.session.on_join, wamp.registration.on_create, ...), to
	// deliver to their own subscribers with [ClusterSubscription.Deliver]
	// as any event.
	PublishMeta(ev *ClusterEvent)
}

// ClusterMetaQuery is a question of the meta API that one node asks the
// others (see [ClusterMeta.GatherMeta]): the meta procedure called and
// its arguments. Its fields are read-only.
type ClusterMetaQuery struct {
	Realm     protocol.URI
	Procedure protocol.URI
	Args      protocol.List
	Kwargs    protocol.Dict
}

// clusterMeta returns the router's ClusterMeta, or nil.
func (r *Router) clusterMeta() ClusterMeta {
	if r.cfg.Cluster == nil {
		return nil
	}
	m, _ := r.cfg.Cluster.(ClusterMeta)
	return m
}

// clusterObjectID returns the ID of a registration (reg true) or
// subscription of uri and match in realm that is the same on every node,
// or 0 without a ClusterMeta (see the comment at the top of the file).
func (r *Router) clusterObjectID(realm protocol.URI, reg bool, uri protocol.URI, match protocol.MatchPolicy) protocol.ID {
	if r.clusterMeta() == nil {
		return 0
	}
	h := fnv.New64a()
	kind := "s"
	if reg {
		kind = "r"
	}
	for _, s := range []string{string(realm), kind, string(uri), string(match)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	id := h.Sum64() & (1<<53 - 1)
	if id == 0 {
		id = 1
	}
	return protocol.ID(id)
}

// newIDLocked returns the ID of a new registration of proc and match:
// the cluster's if the router has a ClusterMeta and no registration of
// the dealer has it already, else the router's next. d.mu must be held.
func (d *dealer) newIDLocked(proc protocol.URI, match protocol.MatchPolicy) protocol.ID {
	if id := d.r.clusterObjectID(d.meta.realm, true, proc, match); id != 0 && d.byID[id] == nil {
		return id
	}
	return d.r.regIDs.Next()
}

// newIDLocked returns the ID of a new subscription of topic and match,
// as dealer.newIDLocked does. b.mu must be held (or b not yet shared).
func (b *broker) newIDLocked(topic protocol.URI, match protocol.MatchPolicy) protocol.ID {
	if id := b.r.clusterObjectID(b.realm, false, topic, match); id != 0 && b.byID[id] == nil {
		return id
	}
	return b.r.regIDs.Next()
}

// gather asks the other nodes of the cluster q's procedure with args and
// kwargs; nil without a ClusterMeta.
func (q metaRequest) gather(args protocol.List, kwargs protocol.Dict) []protocol.List {
	m := q.rm.r.clusterMeta()
	if m == nil {
		return nil
	}
	return m.GatherMeta(&ClusterMetaQuery{Realm: q.rm.name, Procedure: q.proc, Args: args, Kwargs: kwargs})
}

// AnswerMeta answers a question of another node's meta API (see
// [ClusterMeta.GatherMeta]) from this node's own sessions, registrations
// and subscriptions; the asking node authorized the call and filters the
// answer. The kill procedures end the sessions of this node they name.
// An unknown realm or procedure, or bad arguments, are an error.
func (n *ClusterNode) AnswerMeta(q *ClusterMetaQuery) (protocol.List, error) {
	rm := n.r.realms[q.Realm]
	if rm == nil {
		return nil, refuse(protocol.ErrNoSuchRealm, "")
	}
	h := clusterAnswers[q.Procedure]
	if h == nil {
		return nil, refuse(protocol.ErrNoSuchProcedure, "")
	}
	return h(metaRequest{rm: rm, proc: q.Procedure, args: q.Args, kwargs: q.Kwargs})
}

// clusterAnswers answer the questions of other nodes. They run without a
// session (q.s is nil) and show everything: the asking node filters.
var clusterAnswers = map[protocol.URI]metaHandler{
	"wamp.session.count":                  answerSessionIDs,
	"wamp.session.list":                   answerSessionIDs,
	"wamp.session.get":                    answerSessionGet,
	"wamp.session.kill":                   answerKill,
	"wamp.session.kill_by_authid":         answerKill,
	"wamp.session.kill_by_authrole":       answerKill,
	"wamp.session.kill_all":               answerKill,
	"wamp.registration.get":               answerCallees,
	"wamp.registration.list_callees":      answerCallees,
	"wamp.registration.count_callees":     answerCallees,
	"wamp.subscription.list":              answerSubscriptions,
	"wamp.subscription.lookup":            answerSubscriptions,
	"wamp.subscription.match":             answerSubscriptions,
	"wamp.subscription.get":               answerSubscriptionGet,
	"wamp.subscription.list_subscribers":  answerSubscribers,
	"wamp.subscription.count_subscribers": answerSubscribers,
	ProcedureStats:                        answerStats,
	ProcedureSessionPage:                  answerSessionPage,
}

// answerSessionIDs answers [IDs] of the node's sessions (of the
// authroles of the first argument, if a list).
func answerSessionIDs(q metaRequest) (protocol.List, error) {
	return protocol.List{sessionIDs(q)}, nil
}

// answerSessionGet answers [details] of the session, or [] if it is not
// on this node.
func answerSessionGet(q metaRequest) (protocol.List, error) {
	t, err := q.session()
	if err != nil || t == nil {
		return protocol.List{}, err
	}
	return protocol.List{t.metaDetails()}, nil
}

// answerKill ends the node's sessions that the kill procedure names and
// answers [IDs of those it ended].
func answerKill(q metaRequest) (protocol.List, error) {
	reason, message, err := q.goodbye()
	if err != nil {
		return nil, err
	}
	var victims []*session
	switch q.proc {
	case "wamp.session.kill":
		t, err := q.session()
		if err != nil {
			return nil, err
		}
		if t != nil {
			victims = []*session{t}
		}
	case "wamp.session.kill_by_authid":
		authID, _ := q.first().(string)
		victims = q.others(func(t *session) bool { return t.authID == authID })
	case "wamp.session.kill_by_authrole":
		role, _ := q.first().(string)
		victims = q.others(func(t *session) bool { return t.authRole == role })
	default: // kill_all
		victims = q.others(func(*session) bool { return true })
		for _, t := range victims {
			t.quiet.Store(true)
		}
	}
	return protocol.List{kill(victims, reason, message)}, nil
}

// EndSessions ends the sessions of this node in realm whose IDs are in
// ids, with GOODBYE wamp.close.killed and message, quietly: the router
// publishes no wamp.session.on_leave and no testaments for them. A
// cluster calls it for sessions that the other nodes took for gone
// while this node was cut off from them, and for which they published
// both already: the sessions end, so that the cluster's view and theirs
// agree again, and their clients join anew. It returns the IDs of the
// sessions it ended (the others were gone or leaving already).
func (n *ClusterNode) EndSessions(realm protocol.URI, ids []protocol.ID, message string) []protocol.ID {
	rm := n.r.realms[realm]
	if rm == nil || len(ids) == 0 {
		return nil
	}
	want := make(map[protocol.ID]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	var victims []*session
	for _, t := range rm.snapshot() {
		if want[t.id] && !t.isCluster() {
			t.quiet.Store(true)
			victims = append(victims, t)
		}
	}
	var ended []protocol.ID
	for _, id := range kill(victims, protocol.CloseKilled, message) {
		ended = append(ended, protocol.ID(id.(uint64)))
	}
	return ended
}

// RevokeRegistration revokes the registration of procedure with match
// in realm from each callee of this node (spec advanced "Registration
// Revocation": a callee that announced the feature gets UNREGISTERED
// with reason) and returns how many it revoked. A cluster calls it when
// another node took the procedure while this node was cut off, in a way
// that excludes this node's callees (a single registration, another
// policy): the procedure then has one holder again, whose callees this
// node's callers reach through the cluster.
func (n *ClusterNode) RevokeRegistration(realm, procedure protocol.URI, match protocol.MatchPolicy, reason string) int {
	rm := n.r.realms[realm]
	if rm == nil {
		return 0
	}
	d := &rm.dealer
	d.mu.Lock()
	defer d.mu.Unlock()
	reg := d.byKey[regKey{procedure, match}]
	if reg == nil {
		return 0
	}
	revoked := 0
	for rg := range reg.callees.load().values() {
		if !rg.callee.isCluster() && d.revokeLocked(rg, reason) {
			revoked++
		}
	}
	return revoked
}

// answerCallees answers [callee IDs, invocations] of the registration
// whose ID is the first argument: the node's own callees (not the
// stand-ins for other nodes), or [] if the node has no such registration.
func answerCallees(q metaRequest) (protocol.List, error) {
	id, err := q.id()
	if err != nil {
		return nil, err
	}
	d := &q.rm.dealer
	d.mu.Lock()
	reg := d.byID[id]
	d.mu.Unlock()
	if reg == nil {
		return protocol.List{}, nil
	}
	ids, n := localCallees(reg)
	return protocol.List{ids, n}, nil
}

// localCallees returns the IDs of reg's callees that are not sessions of
// the cluster, and the invocations they were sent.
func localCallees(reg *registration) ([]any, uint64) {
	ids := []any{}
	var n uint64
	for rg := range reg.callees.load().values() {
		if rg.callee.isCluster() {
			continue
		}
		ids = append(ids, uint64(rg.callee.id))
		rg.callee.mu.Lock()
		n += rg.invocations
		rg.callee.mu.Unlock()
	}
	return ids, n
}

// answerSubscriptions answers [[[id, uri, match], ...]]: the node's
// subscriptions (list), the one of the URI and match (lookup), or those a
// PUBLISH to the URI reaches (match).
func answerSubscriptions(q metaRequest) (protocol.List, error) {
	b := &q.rm.broker
	var subs []*subscription
	switch q.proc {
	case "wamp.subscription.list":
		b.mu.Lock()
		for _, sub := range b.byID {
			subs = append(subs, sub)
		}
		b.mu.Unlock()
	case "wamp.subscription.lookup":
		u, match, err := q.lookupArgs()
		if err != nil {
			return nil, err
		}
		b.mu.Lock()
		if sub := b.byKey[subKey{u, match}]; sub != nil {
			subs = append(subs, sub)
		}
		b.mu.Unlock()
	default: // match
		u, err := q.uri()
		if err != nil {
			return nil, err
		}
		subs = matchingSubscriptions(b, u)
	}
	out := make([]any, len(subs))
	for i, sub := range subs {
		out[i] = protocol.List{uint64(sub.id), string(sub.topic), string(sub.match)}
	}
	return protocol.List{out}, nil
}

// matchingSubscriptions returns the subscriptions of b that a PUBLISH to
// u reaches.
func matchingSubscriptions(b *broker, u protocol.URI) []*subscription {
	var subs []*subscription
	if sub, ok := b.index.lookup(u); ok {
		subs = append(subs, sub)
	}
	return b.index.matchPatterns(string(u), subs)
}

// answerSubscriptionGet answers [details] of the subscription whose ID is
// the first argument, or [] if the node has none.
func answerSubscriptionGet(q metaRequest) (protocol.List, error) {
	sub, err := q.localSubscription()
	if err != nil || sub == nil {
		return protocol.List{}, err
	}
	return protocol.List{sub.metaDetails()}, nil
}

// answerSubscribers answers [subscriber IDs] of the subscription whose ID
// is the first argument, or [] if the node has none.
func answerSubscribers(q metaRequest) (protocol.List, error) {
	sub, err := q.localSubscription()
	if err != nil || sub == nil {
		return protocol.List{}, err
	}
	return protocol.List{subscriberIDs(sub), string(sub.topic), string(sub.match)}, nil
}

// localSubscription returns the node's subscription whose ID is the
// first argument, or nil.
func (q metaRequest) localSubscription() (*subscription, error) {
	id, err := q.id()
	if err != nil {
		return nil, err
	}
	b := &q.rm.broker
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.byID[id], nil
}

// subscriberIDs returns the IDs of sub's subscribers.
func subscriberIDs(sub *subscription) []any {
	subscribers := sub.subscribers.load()
	ids := make([]any, 0, subscribers.len())
	for t := range subscribers.values() {
		ids = append(ids, uint64(t.id))
	}
	return ids
}

// Merging the other nodes' answers on the caller's node.

// callees returns the IDs of the callees of reg over the cluster (the
// stand-ins of other nodes replaced by those nodes' own callees), and the
// invocations they were sent.
func (q metaRequest) callees(reg *registration) ([]any, uint64) {
	ids, n := localCallees(reg)
	answers := q.gather(protocol.List{uint64(reg.id)}, nil)
	for _, a := range answers {
		if len(a) == 2 {
			m, _ := protocol.ToID(a[1])
			n += uint64(m)
		}
	}
	return idsOf(ids, answers), n
}

// subscribers returns the IDs of the subscribers over the cluster of the
// subscription whose ID is the first argument, if the caller may see it.
func (q metaRequest) subscribers() ([]any, error) {
	id, err := q.id()
	if err != nil {
		return nil, err
	}
	var ids []any
	sub, _ := q.localSubscription()
	if sub != nil {
		if !q.s.seesTopic(sub.topic, sub.match) {
			return nil, refuse(protocol.ErrNoSuchSubscription, "")
		}
		ids = subscriberIDs(sub)
	}
	found := sub != nil
	answers := q.gather(protocol.List{uint64(id)}, nil)
	for _, a := range answers {
		if len(a) != 3 {
			continue
		}
		u, _ := a[1].(string)
		m, _ := a[2].(string)
		if !q.s.seesTopic(protocol.URI(u), protocol.MatchPolicy(m)) {
			return nil, refuse(protocol.ErrNoSuchSubscription, "")
		}
		found = true
	}
	if !found {
		return nil, refuse(protocol.ErrNoSuchSubscription, "")
	}
	if ids == nil {
		ids = []any{}
	}
	return idsOf(ids, answers), nil
}

// remoteSubscription returns the details of the subscription whose ID is
// the first argument on another node, if the caller may see it, or nil.
func (q metaRequest) remoteSubscription() protocol.Dict {
	for _, a := range q.gather(q.args, nil) {
		if len(a) == 0 {
			continue
		}
		d, ok := protocol.ToDict(a[0])
		if !ok {
			continue
		}
		if q.s.seesTopic(protocol.URI(d.String("uri")), protocol.MatchPolicy(d.String("match"))) {
			return d
		}
	}
	return nil
}

// isNoSuchSubscription reports whether err refuses with
// wamp.error.no_such_subscription.
func isNoSuchSubscription(err error) bool {
	var e *requestError
	return errors.As(err, &e) && e.uri == protocol.ErrNoSuchSubscription
}

// idsOf returns the IDs in the first element of each answer, appended to
// ids, without duplicates.
func idsOf(ids []any, answers []protocol.List) []any {
	if len(answers) == 0 {
		return ids
	}
	seen := make(map[protocol.ID]bool, len(ids))
	for _, v := range ids {
		id, _ := protocol.ToID(v)
		seen[id] = true
	}
	for _, a := range answers {
		if len(a) == 0 {
			continue
		}
		l, _ := toList(a[0])
		for _, v := range l {
			if id, ok := protocol.ToID(v); ok && !seen[id] {
				seen[id] = true
				ids = append(ids, uint64(id))
			}
		}
	}
	return ids
}

// remoteSub is a subscription of another node, as answerSubscriptions
// describes it.
type remoteSub struct {
	id    protocol.ID
	uri   protocol.URI
	match protocol.MatchPolicy
}

// remoteSubs returns the subscriptions in the answers of
// answerSubscriptions.
func remoteSubs(answers []protocol.List) []remoteSub {
	var out []remoteSub
	for _, a := range answers {
		if len(a) == 0 {
			continue
		}
		l, _ := toList(a[0])
		for _, v := range l {
			t, _ := toList(v)
			if len(t) != 3 {
				continue
			}
			id, ok := protocol.ToID(t[0])
			u, _ := t[1].(string)
			m, _ := t[2].(string)
			if ok && u != "" {
				out = append(out, remoteSub{id, protocol.URI(u), protocol.MatchPolicy(m)})
			}
		}
	}
	return out
}

// PublishEvent publishes ev as if a session of this node published it:
// to this node's subscribers and, through the [Cluster], to the other
// nodes. A ClusterMeta publishes with it the testaments of a node that is
// gone. ev.Publication is ignored: the event gets a new publication ID.
func (n *ClusterNode) PublishEvent(ev *ClusterEvent) error {
	rm := n.r.realms[ev.Realm]
	if rm == nil {
		return refuse(protocol.ErrNoSuchRealm, "")
	}
	b := &rm.broker
	p := publication{msg: &protocol.Publish{Options: ev.Options, Topic: ev.Topic, Args: ev.Args, Kwargs: ev.Kwargs},
		id: protocol.GlobalID(), details: ev.Details}
	if len(ev.Options) > 0 {
		p.filter = newEligibility(ev.Options)
	}
	err := b.forward(&p)
	if sub, ok := b.index.lookup(ev.Topic); ok {
		b.deliver(&p, sub, p.details)
	}
	if b.index.hasPatterns() {
		b.publishPatterns(&p, nil)
	}
	return err
}

// Testaments in the cluster: the router keeps a session's testaments as
// ever (testament.go), and with a ClusterMeta also stores them in the
// cluster whenever they change, as the events they will be, so that
// another node publishes them if this one dies.

// testamentEvents returns the testaments of s as the events to publish,
// detached before destroyed.
func (s *session) testamentEvents() []*ClusterEvent {
	var out []*ClusterEvent
	for _, scope := range s.in.testaments {
		for _, m := range scope {
			var details protocol.Dict
			if m.Options.Bool("disclose_me") {
				details = protocol.Dict{
					"publisher":          uint64(s.id),
					"publisher_authid":   s.authID,
					"publisher_authrole": s.authRole,
				}
			}
			if pptUsed(m.Options) {
				details = withPPT(details, m.Options, 0)
			}
			if s.trust != nil {
				details = withTrust(details, s.trust)
			}
			out = append(out, &ClusterEvent{Realm: s.realm.name, Topic: m.Topic, Details: details,
				Options: m.Options, Args: m.Args, Kwargs: m.Kwargs})
		}
	}
	return out
}

// saveTestaments stores the testaments of s in the cluster, if the router
// has a ClusterMeta; on failure it restores before, the testaments as
// they were, and refuses the call.
func (q metaRequest) saveTestaments(before [2][]*protocol.Publish) error {
	m := q.rm.r.clusterMeta()
	if m == nil {
		return nil
	}
	s := q.s
	evs := s.testamentEvents()
	if len(evs) == 0 && !s.in.testamentsStored {
		return nil
	}
	if err := m.SaveTestaments(q.rm.name, s.id, evs); err != nil {
		s.in.testaments = before
		return refuse(ClusterUnavailable, "testaments not stored in the cluster: "+err.Error())
	}
	s.in.testamentsStored = len(evs) > 0
	return nil
}

// takeTestaments withdraws the testaments of s, which is ending, from the
// cluster, and reports whether this node publishes them.
func (rm *realm) takeTestaments(s *session) bool {
	if !s.in.testamentsStored {
		return true
	}
	s.in.testamentsStored = false
	return rm.r.clusterMeta().TakeTestaments(rm.name, s.id)
}

// Meta events in the cluster: a node publishes its meta events to its own
// subscribers and, with a ClusterMeta, hands them to the other nodes
// (ClusterMeta.PublishMeta), which deliver them to theirs as any event
// from another node. The cluster's own sessions are never announced.

// forwardMeta hands the meta event p to the other nodes, if the router
// has a ClusterMeta.
func (b *broker) forwardMeta(p *publication) {
	if m := b.r.clusterMeta(); m != nil {
		m.PublishMeta(&ClusterEvent{Realm: b.realm, Topic: p.msg.Topic, Publication: p.id, Args: p.msg.Args})
	}
}

// metaViewer returns who may receive ev, an on_create meta event from
// another node (see authz.viewer), or nil for all.
func (b *broker) metaViewer(ev *ClusterEvent) func(*session) bool {
	var d protocol.Dict
	if len(ev.Args) > 1 {
		d, _ = protocol.ToDict(ev.Args[1])
	}
	return b.authz.Load().viewer(ev.Topic == metaSubOnCreate, protocol.URI(d.String("uri")), protocol.MatchPolicy(d.String("match")))
}

// clusterJoined tells the ClusterMeta, if any, that s joined.
func (rm *realm) clusterJoined(s *session) {
	if rm.r.cluster == nil {
		return
	}
	if m := rm.r.clusterMeta(); m != nil {
		m.SessionJoined(rm.name, s.id, s.authID, s.authRole)
	}
}

// clusterLeft tells the ClusterMeta, if any, that s, not one of the
// cluster's own sessions, left.
func (rm *realm) clusterLeft(s *session) {
	if rm.r.cluster == nil || s.isCluster() {
		return
	}
	if m := rm.r.clusterMeta(); m != nil {
		m.SessionLeft(rm.name, s.id)
	}
}
