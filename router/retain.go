package router

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wampkit/wampkit/protocol"
)

// Event retention (spec advanced "Event Retention"): a PUBLISH with
// Options.retain = true becomes its topic's retained event, and a
// SUBSCRIBE with Options.get_retained = true is sent, right after
// SUBSCRIBED, the most recent retained event of each matching topic that
// the subscriber would have received had it been subscribed when the
// event was published, with EVENT.Details.retained = true.
//
// A topic keeps its last retained event and, when that one (or a later
// one) has a limited audience (black/white lists), the
// earlier ones back to the last one without limits, at most
// maxRetainedPerTopic in all: so a subscriber left out of the newest
// retained event still gets the newest one it may see (the spec allows
// such "supplemental events that have limited distribution").
//
// Retained events are kept in the broker's retained map, read without
// locks by subscribe; publish replaces a topic's entry under retainMu
// (a leaf lock). The number of topics is bounded by
// RealmConfig.MaxRetained: when it is reached, retention on new topics is
// refused (the spec lets a broker decline) and logged, while topics that
// already have a retained event keep being updated.

// maxRetainedPerTopic bounds the retained events of one topic.
const maxRetainedPerTopic = 8

// retainedEvent is one retained publication, immutable once stored.
type retainedEvent struct {
	seq       uint64 // order of retention in the realm
	id        protocol.ID
	topic     protocol.URI
	details   protocol.Dict // publisher disclosure, or nil
	args      protocol.List
	kwargs    protocol.Dict
	filter    *eligibility // nil: no black/white lists
	publisher protocol.ID  // the publishing session
	excludeMe bool
	size      int // estimated bytes, for RealmConfig.MaxRetainedBytes
}

// allows reports whether s would have received the event.
func (e *retainedEvent) allows(s *session) bool {
	if e.excludeMe && s.id == e.publisher {
		return false
	}
	return e.filter == nil || e.filter.allows(s)
}

// open reports whether every subscriber would have received the event
// but perhaps its publisher (exclude_me, the default, is not counted: it
// would keep a chain for nearly every topic).
func (e *retainedEvent) open() bool {
	return e.filter == nil
}

// retention is the broker's store of retained events.
type retention struct {
	max      int          // RealmConfig.MaxRetained; 0: no limit
	maxBytes int64        // RealmConfig.MaxRetainedBytes; <= 0: no limit
	events   sync.Map     // protocol.URI -> []*retainedEvent, newest last; never modified once stored
	topics   atomic.Int64 // entries in events
	seq      atomic.Uint64
	// mu serializes replacements of entries of events. It is a leaf:
	// nothing else is locked while it is held.
	mu      sync.Mutex
	bytes   int64        // guarded by mu: estimated bytes of every retained event
	warned  atomic.Int64 // UnixNano of the last "retention full" log
	refused atomic.Uint64
}

// retainedOverhead is what a retained event costs beyond its payload and
// details.
const retainedOverhead = 160

// sizeOfAll sums the sizes of l.
func sizeOfAll(l []*retainedEvent) int64 {
	var n int64
	for _, e := range l {
		n += int64(e.size)
	}
	return n
}

// retain stores p as the retained event of its topic. It runs on the
// publisher's goroutine before p is delivered (see subscribeRetained).
func (b *broker) retain(p *publication) {
	ev := newRetainedEvent(p.id, p.msg.Topic, p.details, p.msg.Args, p.msg.Kwargs, p.filter, p.pub.id, p.excludeMe)
	if b.r.cluster != nil && b.clusterRetain(p, ev) {
		return
	}
	b.storeRetained(ev)
}

// newRetainedEvent returns a retained event with its size estimated.
func newRetainedEvent(id protocol.ID, topic protocol.URI, details protocol.Dict, args protocol.List, kwargs protocol.Dict,
	filter *eligibility, publisher protocol.ID, excludeMe bool) *retainedEvent {
	ev := &retainedEvent{
		id:        id,
		topic:     topic,
		details:   details,
		args:      args,
		kwargs:    kwargs,
		filter:    filter,
		publisher: publisher,
		excludeMe: excludeMe,
	}
	ev.size = retainedOverhead + len(ev.topic) + payloadSize(ev.args, ev.kwargs)
	if ev.details != nil {
		ev.size += sizeOf(map[string]any(ev.details), 0)
	}
	return ev
}

// storeRetained makes ev the newest retained event of its topic. An
// earlier event of the topic with the same publication (retained here,
// then given back by the cluster, see ClusterNode.Retained) is dropped.
func (b *broker) storeRetained(ev *retainedEvent) {
	rt := &b.retained
	ev.seq = rt.seq.Add(1)
	rt.mu.Lock()
	defer rt.mu.Unlock()
	var next []*retainedEvent
	var oldBytes int64
	v, had := rt.events.Load(ev.topic)
	if had {
		old := v.([]*retainedEvent)
		oldBytes = sizeOfAll(old)
		if !ev.open() {
			// Keep the earlier events back to the last open one.
			start := 0
			for i := len(old) - 1; i >= 0; i-- {
				if old[i].open() {
					start = i
					break
				}
			}
			old = old[start:]
			if len(old) >= maxRetainedPerTopic {
				old = old[len(old)-maxRetainedPerTopic+1:]
			}
			next = make([]*retainedEvent, 0, len(old)+1)
			for _, e := range old {
				if e.id != ev.id {
					next = append(next, e)
				}
			}
		}
	} else if rt.max > 0 && rt.topics.Load() >= int64(rt.max) {
		b.retainRefused(ev.topic, "max_retained", int64(rt.max))
		return
	}
	next = append(next, ev)
	if rt.maxBytes > 0 && rt.bytes-oldBytes+sizeOfAll(next) > rt.maxBytes {
		// Over the byte budget: keep the newest event only, and if even
		// that does not fit, none, so that no outdated event of the topic
		// is handed out as its retained one.
		next = next[len(next)-1:]
		if rt.bytes-oldBytes+int64(ev.size) > rt.maxBytes {
			if had {
				rt.events.Delete(ev.topic)
				rt.topics.Add(-1)
				rt.bytes -= oldBytes
			}
			b.retainRefused(ev.topic, "max_retained_bytes", rt.maxBytes)
			return
		}
	}
	if !had {
		rt.topics.Add(1)
	}
	rt.bytes += sizeOfAll(next) - oldBytes
	rt.events.Store(ev.topic, next)
}

// retainRefused logs, at most once per DropLogInterval, that a retained
// event was refused because the limit named by what is reached.
func (b *broker) retainRefused(topic protocol.URI, what string, limit int64) {
	rt := &b.retained
	n := rt.refused.Add(1)
	now := time.Now().UnixNano()
	last := rt.warned.Load()
	if (last == 0 || now-last >= int64(DropLogInterval)) && rt.warned.CompareAndSwap(last, now) {
		b.r.log.Warn("router: retained events full, not retaining", "realm", string(b.realm),
			"topic", string(topic), what, limit, "refused", n)
	}
}

// subscribeRetained sends s the retained events for sub (spec advanced
// "Event Retention"): for an exact subscription that of its topic, for a
// pattern subscription those of every matching topic, oldest first. Each
// is the newest retained event of its topic that s may receive, with
// Details.retained = true (and Details.topic for a pattern).
//
// It is called after SUBSCRIBED is queued and s added to sub's
// subscribers, while publishers still wait for s.mu before they send s an
// EVENT of sub (see subscribe): so the retained events follow SUBSCRIBED,
// and precede every EVENT of a publication delivered afterwards. A
// publication retained concurrently is either found here or delivered
// (retain stores before it delivers), possibly both.
func (b *broker) subscribeRetained(s *session, sub *subscription) {
	rt := &b.retained
	if sub.match == protocol.MatchExact {
		if v, ok := rt.events.Load(sub.topic); ok {
			if ev := newestFor(v.([]*retainedEvent), s); ev != nil {
				s.sendEvent(ev.event(sub, false), nil)
				s.r.countOut(s, protocol.TypeEvent, 1)
			}
		}
		return
	}
	if rt.topics.Load() == 0 {
		return
	}
	var found []*retainedEvent
	rt.events.Range(func(k, v any) bool {
		topic := k.(protocol.URI)
		if protocol.MatchURI(sub.topic, sub.match, topic) && b.authz.Load().permits(s, ActionSubscribe, topic) {
			if ev := newestFor(v.([]*retainedEvent), s); ev != nil {
				found = append(found, ev)
			}
		}
		return true
	})
	slices.SortFunc(found, func(a, b *retainedEvent) int { return cmp.Compare(a.seq, b.seq) })
	for _, ev := range found {
		s.sendEvent(ev.event(sub, true), nil)
		s.r.countOut(s, protocol.TypeEvent, 1)
	}
}

// newestFor returns the newest event of l that s may receive, or nil.
func newestFor(l []*retainedEvent, s *session) *retainedEvent {
	for i := len(l) - 1; i >= 0; i-- {
		if l[i].allows(s) {
			return l[i]
		}
	}
	return nil
}

// event returns the EVENT of e for sub.
func (e *retainedEvent) event(sub *subscription, pattern bool) *protocol.Event {
	details := make(protocol.Dict, len(e.details)+2)
	for k, v := range e.details {
		details[k] = v
	}
	details["retained"] = true
	if pattern {
		details["topic"] = string(e.topic)
	}
	return &protocol.Event{
		Subscription: sub.id,
		Publication:  e.id,
		Details:      details,
		Args:         e.args,
		Kwargs:       e.kwargs,
	}
}
