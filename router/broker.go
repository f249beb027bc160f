package router

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

// broker routes PubSub messages of one realm (spec basic "Publish and
// Subscribe", advanced "Pattern-based Subscription").
//
// Publishing reads the index (a uriIndex) without locks for exact topics,
// and each subscription's subscriber set is an immutable snapshot behind an
// atomic pointer, replaced (copy on write) under mu by subscribe and
// unsubscribe. A publish takes the index's pmu only while at least one
// pattern subscription exists, so exact publishing does not pay for
// patterns.
//
// The subscription meta events (see meta.go) are published under mu, so
// that every subscriber of them sees a subscription's events in the order
// of the changes.
type broker struct {
	r     *Router
	realm protocol.URI
	authz *atomic.Pointer[authz] // the realm's authorization (see permits); nil allows all

	retained retention // retained events (see retain.go)

	// mu serializes changes of the index (subscribe, unsubscribe, leave).
	mu    sync.Mutex
	byKey map[subKey]*subscription      // guarded by mu: every subscription
	byID  map[protocol.ID]*subscription // guarded by mu: the same by ID
	index uriIndex[subscription]        // written under mu
}

type subKey struct {
	topic protocol.URI
	match protocol.MatchPolicy
}

// subscription is one topic+match. All sessions subscribed to the same
// topic with the same policy share it, and so share one subscription ID
// and one EVENT per publication (spec basic "Subscription IDs" allows this).
type subscription struct {
	id      protocol.ID
	topic   protocol.URI
	match   protocol.MatchPolicy
	created time.Time
	// subscribers is the current set, which publishers read without a
	// lock. Written under broker.mu.
	subscribers members[*session]
	// history keeps the subscription's events, or is nil. A subscription
	// with history is made with the realm and never removed (see
	// history.go).
	history *eventLog
	// cluster is the subscription as the router's Cluster knows it, or
	// nil without one (see cluster.go). Written under broker.mu.
	cluster *ClusterSubscription
}

func (b *broker) init(r *Router, rc *RealmConfig, z *atomic.Pointer[authz]) {
	b.r = r
	b.realm = rc.Name
	b.authz = z
	b.retained.max = rc.MaxRetained
	b.retained.maxBytes = rc.MaxRetainedBytes
	b.byKey = make(map[subKey]*subscription)
	b.byID = make(map[protocol.ID]*subscription)
	// The realm's history budget is shared equally by its topics.
	var share int
	if n := len(rc.EventHistory); n > 0 && rc.MaxHistoryBytes > 0 {
		share = int(max(rc.MaxHistoryBytes/int64(n), 1))
	}
	for _, h := range rc.EventHistory {
		sub := &subscription{id: b.newIDLocked(h.Topic, h.Match), topic: h.Topic, match: h.Match, created: time.Now(),
			history: &eventLog{limit: h.Limit, maxAge: h.MaxAge, maxBytes: share, log: r.log}}
		b.addIndexLocked(sub)
	}
}

// subscribe handles SUBSCRIBE on the subscriber's goroutine.
func (b *broker) subscribe(s *session, m *protocol.Subscribe) error {
	if err := checkOptions(m.Options, subscribeOptions); err != nil {
		return err
	}
	match, err := matchOption(m.Options)
	if err != nil {
		return err
	}
	if err := protocol.CheckPattern(m.Topic, match, b.r.cfg.StrictURIs); err != nil {
		return refuse(protocol.ErrInvalidURI, err.Error())
	}
	if err := s.authorize(ActionSubscribe, m.Topic, match, m.Options); err != nil {
		return err
	}
	key := subKey{m.Topic, match}
	b.mu.Lock()
	defer b.mu.Unlock()
	sub := b.byKey[key]
	getRetained := m.Options.Bool("get_retained")
	if sub != nil && s.in.subs[sub.id] == sub && sub.has(s) {
		// Same session, same topic and policy: the existing subscription
		// (spec basic "SUBSCRIBED").
		if !getRetained {
			s.sendOwn(&protocol.Subscribed{Request: m.Request, Subscription: sub.id})
			return nil
		}
		// As below, so that the retained events follow SUBSCRIBED before
		// the EVENTs of publications that start after it (one already
		// under way may still come between).
		s.mu.Lock()
		s.adding.Store(sub)
		if s.sendOwn(&protocol.Subscribed{Request: m.Request, Subscription: sub.id}) {
			b.subscribeRetained(s, sub)
		}
		s.adding.Store(nil)
		s.mu.Unlock()
		return nil
	}
	if max := b.r.cfg.MaxSubscriptions; max > 0 && len(s.in.subs) >= max {
		b.pruneRevokedLocked(s)
		if len(s.in.subs) >= max {
			return refusef(LimitExceeded, "the session holds its maximum of %d subscriptions", max)
		}
	}
	fresh := sub == nil
	if fresh {
		sub = &subscription{id: b.newIDLocked(m.Topic, match), topic: m.Topic, match: match, created: time.Now()}
		b.addIndexLocked(sub)
	}
	// The session joins the snapshot and SUBSCRIBED is queued in one step
	// as far as publishers can tell: while s.adding is sub, a publisher
	// that finds s in the snapshot waits for s.mu before it sends. So no
	// EVENT of the subscription overtakes SUBSCRIBED (spec basic
	// "Ordering Guarantees"), and every publication that starts after the
	// client has read SUBSCRIBED reaches it.
	s.mu.Lock()
	s.adding.Store(sub)
	sub.subscribers.add(s)
	ok := s.sendOwn(&protocol.Subscribed{Request: m.Request, Subscription: sub.id})
	if !ok {
		sub.subscribers.remove(s)
		if sub.subscribers.load().len() == 0 && sub.history == nil {
			b.removeLocked(sub)
		}
	} else if getRetained {
		b.subscribeRetained(s, sub)
	}
	s.adding.Store(nil)
	s.mu.Unlock()
	if !ok {
		return nil // the session is being dropped
	}
	s.in.subs[sub.id] = sub
	// After s.mu is released: publishing may take other sessions' mu.
	// on_create names the topic: only who may see it hears of it.
	if fresh && b.listening(metaSubOnCreate) {
		b.publishMetaFor(metaSubOnCreate, protocol.List{uint64(s.id), sub.metaDetails()},
			b.authz.Load().viewer(true, sub.topic, sub.match))
	}
	b.metaEventLocked(metaSubOnSubscribe, s, sub)
	return nil
}

// unsubscribe handles UNSUBSCRIBE on the subscriber's goroutine.
func (b *broker) unsubscribe(s *session, m *protocol.Unsubscribe) error {
	sub := s.in.subs[m.Subscription]
	if sub == nil {
		return refuse(protocol.ErrNoSuchSubscription, "")
	}
	b.mu.Lock()
	removed := b.removeSubscriberLocked(sub, s)
	b.mu.Unlock()
	delete(s.in.subs, sub.id)
	if !removed {
		// Revoked meanwhile (see revokeLocked).
		return refuse(protocol.ErrNoSuchSubscription, "")
	}
	s.sendOwn(&protocol.Unsubscribed{Request: m.Request})
	return nil
}

// has reports whether s is a subscriber of sub.
func (sub *subscription) has(s *session) bool {
	return sub.subscribers.load().contains(s)
}

// revokeLocked removes s from sub without s asking for it (spec advanced
// "Subscription Revocation"): wamp.subscription.remove_subscriber, or a
// change of the realm's authorization. A subscriber that announced
// subscription_revocation is told with UNSUBSCRIBED [0, {subscription,
// reason}]; others learn it only from the meta events. It reports whether
// s was a subscriber. The entry of sub in s.in.subs stays until the
// session's goroutine next looks at it. b.mu must be held, and no
// session's mu.
func (b *broker) revokeLocked(sub *subscription, s *session, reason string) bool {
	if !b.removeSubscriberLocked(sub, s) {
		return false
	}
	if s.feat.subscriberRevocation {
		d := protocol.Dict{"subscription": uint64(sub.id)}
		if reason != "" {
			d["reason"] = reason
		}
		s.send(&protocol.Unsubscribed{Details: d})
		b.r.countOut(nil, protocol.TypeUnsubscribed, 1)
	}
	return true
}

// pruneRevokedLocked drops from s.in.subs the subscriptions s was removed
// from by revokeLocked. It runs on the session's goroutine; b.mu must be
// held.
func (b *broker) pruneRevokedLocked(s *session) {
	for id, sub := range s.in.subs {
		if !sub.has(s) {
			delete(s.in.subs, id)
		}
	}
}

// leave drops every subscription of s.
func (b *broker) leave(s *session) {
	if len(s.in.subs) == 0 {
		return
	}
	b.mu.Lock()
	for _, sub := range s.in.subs {
		b.removeSubscriberLocked(sub, s)
	}
	b.mu.Unlock()
	clear(s.in.subs)
}

// removeSubscriberLocked removes s from sub, drops sub when it has no
// subscriber left, and publishes wamp.subscription.on_unsubscribe and
// on_delete; it reports false, and does nothing, if s is no subscriber
// of sub (any more). b.mu must be held, and no session's mu.
func (b *broker) removeSubscriberLocked(sub *subscription, s *session) bool {
	if !sub.subscribers.remove(s) {
		return false
	}
	gone := sub.subscribers.load().len() == 0 && sub.history == nil
	if gone {
		b.removeLocked(sub)
	}
	b.metaEventLocked(metaSubOnUnsubscribe, s, sub)
	if gone {
		b.metaEventLocked(metaSubOnDelete, s, sub)
	}
	return true
}

// metaEventLocked publishes a subscription meta event with the arguments
// [session, subscription]. b.mu must be held.
func (b *broker) metaEventLocked(topic protocol.URI, s *session, sub *subscription) {
	if b.listening(topic) {
		b.publishMeta(topic, protocol.List{uint64(s.id), uint64(sub.id)})
	}
}

// addIndexLocked makes sub findable by publish and by the meta
// procedures. b.mu must be held.
func (b *broker) addIndexLocked(sub *subscription) {
	b.byKey[subKey{sub.topic, sub.match}] = sub
	b.byID[sub.id] = sub
	b.index.insert(sub.topic, sub.match, sub)
	b.clusterAddLocked(sub)
}

// removeLocked drops sub from the index. b.mu must be held.
func (b *broker) removeLocked(sub *subscription) {
	delete(b.byKey, subKey{sub.topic, sub.match})
	delete(b.byID, sub.id)
	b.index.remove(sub.topic, sub.match, sub)
	b.clusterRemoveLocked(sub)
}

// publication is what one PUBLISH needs while it is routed.
type publication struct {
	pub       *session
	msg       *protocol.Publish
	id        protocol.ID
	excludeMe bool
	// remote is set for a publication of another node of the cluster:
	// that node records it in the cluster's event history.
	remote  bool
	details protocol.Dict // EVENT.Details for exact subscriptions
	filter  *eligibility  // nil: no black/white lists
	// visible, if not nil, says who may receive a meta event that names
	// a URI (see authz.viewer).
	visible func(*session) bool
}

// publish handles PUBLISH on the publisher's goroutine: it sends the EVENTs
// itself, in order, so events of one publisher reach each subscriber in
// publication order (spec basic "Ordering Guarantees").
//
// A testament (authorized when it was added) is published with
// testament set, and is not authorized again.
func (b *broker) publish(s *session, m *protocol.Publish, testament bool) error {
	opts := m.Options
	ppt := false
	if len(opts) > 0 {
		var err error
		if ppt, err = checkPublishOptions(s, opts, m.Args, m.Kwargs); err != nil {
			return err
		}
	}
	// An exact subscription's topic passed the URI check at SUBSCRIBE, so
	// the check is only needed without one.
	sub, exact := b.index.lookup(m.Topic)
	if !exact {
		if err := protocol.CheckURI(m.Topic, b.r.cfg.StrictURIs); err != nil {
			return refuse(protocol.ErrInvalidURI, err.Error())
		}
	}
	if protocol.IsReserved(m.Topic) {
		// Only the router publishes in the wamp namespace (spec basic
		// "Reserved URIs"); clients may subscribe there.
		return refuse(protocol.ErrInvalidURI, "topic "+string(m.Topic)+" is in the reserved wamp namespace")
	}
	if !testament {
		if err := s.authorize(ActionPublish, m.Topic, protocol.MatchExact, opts); err != nil {
			return err
		}
	}
	p := publication{pub: s, msg: m, id: protocol.GlobalID(), excludeMe: true}
	retain := false
	if len(opts) > 0 {
		retain = opts.Bool("retain")
		if v, ok := opts["exclude_me"].(bool); ok {
			p.excludeMe = v
		}
		p.filter = newEligibility(opts)
		if opts.Bool("disclose_me") {
			// Publisher identification (spec advanced "Publisher
			// Identification").
			p.details = protocol.Dict{
				"publisher":          uint64(s.id),
				"publisher_authid":   s.authID,
				"publisher_authrole": s.authRole,
			}
		}
		if ppt {
			p.details = withPPT(p.details, opts, 0)
		}
	}
	if s.trust != nil {
		p.details = withTrust(p.details, s.trust)
	}
	if retain {
		// Before delivering, so that a concurrent SUBSCRIBE with
		// get_retained gets this event one way or the other (see
		// subscribeRetained).
		b.retain(&p)
	}
	var forwardErr error
	if b.r.cluster != nil {
		forwardErr = b.forward(&p)
	}
	if exact {
		b.deliver(&p, sub, p.details)
	}
	if b.index.hasPatterns() {
		s.in.scratch = b.publishPatterns(&p, s.in.scratch)
	}
	if s.st != nil {
		s.st.published.bump(1)
	}
	if opts.Bool("acknowledge") {
		if forwardErr != nil {
			return forwardErr
		}
		s.sendOwn(&protocol.Published{Request: m.Request, Publication: p.id})
	}
	return nil
}

// countDelivered counts n EVENTs of a publication by pub (nil for the
// router's meta events) for the metrics.
func (b *broker) countDelivered(pub *session, n uint64) {
	if pub != nil && pub.st != nil {
		pub.st.delivered.bump(n)
		pub.st.out[kind(protocol.TypeEvent)].bump(n)
		return
	}
	b.r.metrics.other.delivered.Add(n)
	b.r.metrics.other.out[kind(protocol.TypeEvent)].Add(n)
}

// checkPublishOptions checks the options of a PUBLISH (or of a testament)
// and reports whether it uses payload passthru mode.
func checkPublishOptions(s *session, opts protocol.Dict, args protocol.List, kwargs protocol.Dict) (bool, error) {
	if err := checkOptions(opts, publishOptions); err != nil {
		return false, err
	}
	if !pptUsed(opts) {
		return false, nil
	}
	if !s.feat.pptPublisher {
		return false, pptViolation(protocol.TypePublish, protocol.RolePublisher)
	}
	return true, checkPPT(opts, args, kwargs)
}

// publishPatterns delivers p to every matching prefix and wildcard
// subscription, with EVENT.Details.topic set to the concrete topic (spec
// advanced "Pattern-based Subscription").
//
// The matches go to scratch, which publishPatterns returns for reuse: the
// publisher's session keeps one, which only its goroutine uses, so that
// matching does not allocate.
func (b *broker) publishPatterns(p *publication, scratch []*subscription) []*subscription {
	topic := string(p.msg.Topic)
	subs := b.index.matchPatterns(topic, scratch[:0])
	if len(subs) == 0 {
		return subs
	}
	details := make(protocol.Dict, len(p.details)+1)
	for k, v := range p.details {
		details[k] = v
	}
	details["topic"] = topic
	for i, sub := range subs {
		b.deliver(p, sub, details)
		subs[i] = nil // do not keep subscriptions alive from scratch
	}
	return subs[:0]
}

// listening reports whether a meta event on topic may have subscribers:
// an exact subscription of topic exists, or some pattern subscription. It
// lets the router build a meta event's arguments only when they may be
// sent, so that meta events cost one map lookup while nobody subscribes.
func (b *broker) listening(topic protocol.URI) bool {
	if b.index.hasPatterns() || b.r.cluster != nil && b.r.clusterMeta() != nil {
		return true
	}
	_, ok := b.index.lookup(topic)
	return ok
}

// publishMeta publishes a meta event of the router itself (spec advanced
// "Meta API") in the broker's realm, on the calling goroutine.
func (b *broker) publishMeta(topic protocol.URI, args protocol.List) {
	b.publishMetaFor(topic, args, nil)
}

// publishMetaFor publishes a meta event to the subscribers for which
// visible (if not nil) is true.
func (b *broker) publishMetaFor(topic protocol.URI, args protocol.List, visible func(*session) bool) {
	p := publication{msg: &protocol.Publish{Topic: topic, Args: args}, id: protocol.GlobalID(), visible: visible}
	if sub, ok := b.index.lookup(topic); ok {
		b.deliver(&p, sub, nil)
	}
	if b.index.hasPatterns() {
		b.publishPatterns(&p, nil)
	}
	if b.r.cluster != nil {
		b.forwardMeta(&p)
	}
}

// deliver sends one EVENT to every eligible subscriber of sub. The EVENT
// is one immutable value shared by all of them; when there may be more
// than one, it is wrapped in a serialize.Shared so that it is encoded at
// most once per serializer.
func (b *broker) deliver(p *publication, sub *subscription, details protocol.Dict) {
	if sub.history != nil {
		sub.history.record(p, details)
		if b.r.cluster != nil && !p.remote {
			b.clusterRecord(p, sub, details)
		}
	}
	subs := sub.subscribers.load()
	if n := subs.len(); n == 0 || n == 1 && subs.first() == p.pub && p.excludeMe {
		return
	}
	var ev protocol.Message = &protocol.Event{
		Subscription: sub.id,
		Publication:  p.id,
		Details:      details,
		Args:         p.msg.Args,
		Kwargs:       p.msg.Kwargs,
	}
	if subs.len() > 1 {
		// More than one receiver: encode at most once per serializer.
		ev = serialize.NewShared(ev)
	}
	// What a pattern carries is authorized topic by topic (see permits);
	// subscribers mostly share a few roles, so the last decision is kept.
	sent := uint64(0)
	size := -1 // the EVENT's, computed by the first subscriber that needs it
	check := sub.match != protocol.MatchExact && b.authz.Load().checksDelivery()
	var lastRole string
	var lastOK, decided bool
	for _, ch := range subs.chunkList() {
		for _, t := range ch {
			if t == p.pub && p.excludeMe {
				continue
			}
			if p.filter != nil && !p.filter.allows(t) {
				continue
			}
			if p.visible != nil && !p.visible(t) {
				continue
			}
			if check {
				if !decided || t.authRole != lastRole {
					lastRole, lastOK, decided = t.authRole, b.authz.Load().permits(t, ActionSubscribe, p.msg.Topic), true
				}
				if !lastOK {
					continue
				}
			}
			sent++
			if t.adding.Load() == sub {
				// t is subscribing right now: send once its SUBSCRIBED is
				// queued (see subscribe).
				t.mu.Lock()
				t.sendEvent(ev, &size)
				t.mu.Unlock()
				continue
			}
			t.sendEvent(ev, &size)
		}
	}
	if sent > 0 && b.r.metrics != nil {
		b.countDelivered(p.pub, sent)
	}
}

// eligibility holds the black and white lists of a PUBLISH (spec advanced
// "Subscriber Black- and Whitelisting"). A nil list is absent.
type eligibility struct {
	eligible, exclude                   []protocol.ID
	eligibleAuthID, excludeAuthID       []string
	eligibleAuthRole, excludeAuthRole   []string
	hasEligible, hasEligibleID, hasRole bool
	// bySession is set when the eligible or exclude (session ID) list
	// is present.
	bySession bool
}

// newEligibility returns the lists of opts, or nil if it has none.
func newEligibility(opts protocol.Dict) *eligibility {
	var e eligibility
	var found bool
	if v, ok := opts["eligible"]; ok {
		e.eligible, e.hasEligible, found = idList(v), true, true
		e.bySession = true
	}
	if v, ok := opts["exclude"]; ok {
		e.exclude, found = idList(v), true
		e.bySession = true
	}
	if v, ok := opts["eligible_authid"]; ok {
		e.eligibleAuthID, e.hasEligibleID, found = strList(v), true, true
	}
	if v, ok := opts["exclude_authid"]; ok {
		e.excludeAuthID, found = strList(v), true
	}
	if v, ok := opts["eligible_authrole"]; ok {
		e.eligibleAuthRole, e.hasRole, found = strList(v), true, true
	}
	if v, ok := opts["exclude_authrole"]; ok {
		e.excludeAuthRole, found = strList(v), true
	}
	if !found {
		return nil
	}
	ep := new(eligibility)
	*ep = e
	return ep
}

// allows reports whether s may receive the event: it is in every eligible
// list present and in no exclude list.
func (e *eligibility) allows(s *session) bool {
	if e.hasEligible && !containsID(e.eligible, s.id) ||
		e.hasEligibleID && !containsStr(e.eligibleAuthID, s.authID) ||
		e.hasRole && !containsStr(e.eligibleAuthRole, s.authRole) {
		return false
	}
	return !containsID(e.exclude, s.id) &&
		!containsStr(e.excludeAuthID, s.authID) &&
		!containsStr(e.excludeAuthRole, s.authRole)
}

func containsID(l []protocol.ID, id protocol.ID) bool {
	for _, v := range l {
		if v == id {
			return true
		}
	}
	return false
}

func containsStr(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

// idList converts a decoded list of session IDs; elements that are not
// IDs are skipped.
func idList(v any) []protocol.ID {
	switch l := v.(type) {
	case []protocol.ID:
		return l
	case protocol.List:
		return idList([]any(l))
	case []any:
		out := make([]protocol.ID, 0, len(l))
		for _, x := range l {
			if id, ok := protocol.ToID(x); ok {
				out = append(out, id)
			}
		}
		return out
	case []uint64:
		out := make([]protocol.ID, len(l))
		for i, x := range l {
			out[i] = protocol.ID(x)
		}
		return out
	case []int64:
		out := make([]protocol.ID, 0, len(l))
		for _, x := range l {
			out = append(out, protocol.ID(x))
		}
		return out
	case []int:
		out := make([]protocol.ID, 0, len(l))
		for _, x := range l {
			out = append(out, protocol.ID(x))
		}
		return out
	}
	return nil
}

// strList converts a decoded list of strings; other elements are skipped.
func strList(v any) []string {
	switch l := v.(type) {
	case []string:
		return l
	case protocol.List:
		return strList([]any(l))
	case []any:
		out := make([]string, 0, len(l))
		for _, x := range l {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// withTrust returns details with the trust level of trust (a session's,
// see session.trust) added: trust itself, shared read-only, when details
// is nil; else details, which must be the router's own.
func withTrust(details, trust protocol.Dict) protocol.Dict {
	if details == nil {
		return trust
	}
	details["trustlevel"] = trust["trustlevel"]
	return details
}
