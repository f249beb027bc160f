package router

import (
	"time"

	"github.com/wampkit/wampkit/protocol"
)

// ClusterRetention is implemented by a [Cluster] that keeps the retained
// events of its realms (spec advanced "Event Retention") for the whole
// cluster rather than for each node. The router finds it by a type
// assertion on [Config].Cluster; without it each node keeps its own.
//
// A node still retains each event of its own publishers itself, as a
// single router does, through Retain; the cluster stores it and gives
// every node, this one included, the retained events of every node
// through [ClusterNode.Retained], in the one order in which it stored
// them. So each node ends up with the same retained events, the newest
// in the cluster's order winning, and a node that starts later, or whose
// publisher's node died, still has them.
type ClusterRetention interface {
	// Retain stores ev, published with Options.retain by the session
	// publisher of this node, as its topic's retained event in the
	// cluster. It must call store exactly once, before it hands the
	// event on: store retains the event on this node, and the cluster
	// decides when, so that it can tell the node's own events from the
	// earlier ones it gives back. Retain is called on the publisher's
	// goroutine and must not block for long. Retention is best effort
	// (the spec lets a broker decline it): a failure is the cluster's to
	// count and log, and the PUBLISH succeeds.
	Retain(ev *ClusterEvent, publisher protocol.ID, store func())
}

// ClusterHistory is implemented by a [Cluster] that keeps the event
// history of its realms (spec advanced "Event History",
// [RealmConfig].EventHistory) for the whole cluster rather than for each
// node. The router finds it by a type assertion on [Config].Cluster;
// without it wamp.subscription.get_events answers from the node's own
// history.
//
// Every node records the events its own sessions (and the router itself)
// publish, once per history topic that they match; events from other
// nodes are recorded by theirs. wamp.subscription.get_events then asks
// the cluster, on whichever node it is called.
type ClusterHistory interface {
	// Record adds ev, published on this node, to the history log h in
	// the cluster. ev.Details is what the subscription of h delivered
	// (for a pattern, with the topic). It is called on the publisher's
	// goroutine and must not block for long; a failure is the cluster's
	// to count and log.
	Record(h ClusterHistoryLog, ev *ClusterEvent)

	// Events returns the events of the history log h in the cluster,
	// oldest first, at most h.Limit of them. An error makes
	// wamp.subscription.get_events fail with [ClusterUnavailable].
	Events(h ClusterHistoryLog) ([]ClusterHistoryEvent, error)
}

// ClusterHistoryLog is the event history of one topic and match policy
// of a realm (an entry of [RealmConfig].EventHistory) as a
// [ClusterHistory] sees it, with the limits the router applies to it:
// every node of a cluster must configure it alike.
type ClusterHistoryLog struct {
	Realm protocol.URI
	Topic protocol.URI
	Match protocol.MatchPolicy
	// Limit is the most events kept ([HistoryConfig].Limit).
	Limit int
	// MaxAge, if positive, is how long an event is kept.
	MaxAge time.Duration
	// MaxBytes, if positive, bounds the estimated size of the events
	// kept (the topic's share of [RealmConfig].MaxHistoryBytes).
	MaxBytes int64
}

// ClusterHistoryEvent is an event of a [ClusterHistoryLog].
type ClusterHistoryEvent struct {
	// Time is when the cluster stored it.
	Time  time.Time
	Event ClusterEvent
}

// Retained makes ev, retained by the session publisher on some node of
// the cluster, the retained event of its topic on this node, as if it
// had been published here with Options.retain (see [ClusterRetention]).
// An event of a realm the node does not serve is ignored. Calls must be
// in the cluster's order; a second call with the same publication
// moves it to the newest place rather than retaining it twice.
func (n *ClusterNode) Retained(ev *ClusterEvent, publisher protocol.ID) {
	rm := n.r.realms[ev.Realm]
	if rm == nil {
		return
	}
	excludeMe := true
	if v, ok := ev.Options["exclude_me"].(bool); ok {
		excludeMe = v
	}
	var filter *eligibility
	if len(ev.Options) > 0 {
		filter = newEligibility(ev.Options)
	}
	rm.broker.storeRetained(newRetainedEvent(ev.Publication, ev.Topic, ev.Details, ev.Args, ev.Kwargs, filter, publisher, excludeMe))
}

// clusterRetain retains p (whose retained event is ev) through the
// cluster, if it keeps retained events, and reports whether it did.
func (b *broker) clusterRetain(p *publication, ev *retainedEvent) bool {
	cr, ok := b.r.cluster.(ClusterRetention)
	if !ok {
		return false
	}
	m := p.msg
	cr.Retain(&ClusterEvent{Realm: b.realm, Topic: m.Topic, Publication: p.id, Details: p.details,
		Options: m.Options, Args: m.Args, Kwargs: m.Kwargs}, p.pub.id, func() { b.storeRetained(ev) })
	return true
}

// clusterHistoryLog returns the history log of sub (which has history)
// as the cluster sees it.
func (b *broker) clusterHistoryLog(sub *subscription) ClusterHistoryLog {
	h := sub.history
	return ClusterHistoryLog{Realm: b.realm, Topic: sub.topic, Match: sub.match, Limit: h.limit,
		MaxAge: h.maxAge, MaxBytes: int64(h.maxBytes)}
}

// clusterRecord records p, published on this node and delivered to sub
// (which has history) with details, in the cluster's history, if it
// keeps one. Events with session-ID lists are not kept (see
// eventLog.record).
func (b *broker) clusterRecord(p *publication, sub *subscription, details protocol.Dict) {
	ch, ok := b.r.cluster.(ClusterHistory)
	if !ok || p.filter != nil && p.filter.bySession {
		return
	}
	m := p.msg
	ch.Record(b.clusterHistoryLog(sub), &ClusterEvent{Realm: b.realm, Topic: m.Topic, Publication: p.id,
		Details: details, Options: m.Options, Args: m.Args, Kwargs: m.Kwargs})
}

// historyEntries returns the kept events of sub (which has history),
// oldest first: the cluster's, if it keeps them, else the node's own.
func (b *broker) historyEntries(sub *subscription, now time.Time) ([]historyEntry, error) {
	ch, ok := b.r.cluster.(ClusterHistory)
	if !ok {
		return sub.history.entries(now), nil
	}
	h := b.clusterHistoryLog(sub)
	evs, err := ch.Events(h)
	if err != nil {
		return nil, refuse(ClusterUnavailable, err.Error())
	}
	out := make([]historyEntry, 0, len(evs))
	for i := range evs {
		e := &evs[i]
		at := e.Time.Truncate(time.Millisecond) // as eventLog.record
		if h.MaxAge > 0 && at.Before(now.Add(-h.MaxAge)) {
			continue
		}
		var filter *eligibility
		if len(e.Event.Options) > 0 {
			filter = newEligibility(e.Event.Options)
		}
		out = append(out, historyEntry{at: at, id: e.Event.Publication, topic: e.Event.Topic,
			details: e.Event.Details, args: e.Event.Args, kwargs: e.Event.Kwargs, filter: filter})
	}
	return out, nil
}

// MaxRetainedBytes returns the realm's [RealmConfig].MaxRetainedBytes,
// defaults applied: the bound of its retained events in bytes, none if
// not positive. It is 0 for a realm the router does not serve.
func (n *ClusterNode) MaxRetainedBytes(realm protocol.URI) int64 {
	if rm := n.r.realms[realm]; rm != nil {
		return rm.broker.retained.maxBytes
	}
	return 0
}

// HistoryLogs returns the event history logs of every realm of the
// router ([RealmConfig].EventHistory), so that a [ClusterHistory] can
// prepare their storage when it attaches.
func (n *ClusterNode) HistoryLogs() []ClusterHistoryLog {
	var out []ClusterHistoryLog
	for _, rm := range n.r.realms {
		b := &rm.broker
		b.mu.Lock()
		for _, sub := range b.byID {
			if sub.history != nil {
				out = append(out, b.clusterHistoryLog(sub))
			}
		}
		b.mu.Unlock()
	}
	return out
}
