package router

import (
	"log/slog"

	"github.com/wampkit/wampkit/protocol"
)

// Cluster joins a router to other routers, its nodes, that serve the same
// realms, so that they act as one router: an event published on any node
// reaches the subscribers on every node, and session IDs are unique over
// all of them. The router knows nothing of how the nodes talk to each
// other; the cluster package of the wampkit/cluster module implements
// Cluster on NATS.
//
// With [Config].Cluster nil, which is the default, the router is a single
// node and pays one nil check per publication and per session.
//
// A Cluster serves one router. The router calls Attach once from [New],
// the other methods from the goroutines of its sessions (Subscribe and
// Unsubscribe under a lock of the realm's broker, so they must not block
// for long), and Detach once from [Router.Close] or [Router.Shutdown]
// after its last session ended. The cluster calls back the router only
// through the [ClusterSubscription] values it was given, from goroutines
// of its own, and never after Detach returned. The router does not close
// the Cluster: whoever made it closes it after the router.
type Cluster interface {
	// Attach connects the router's node to the cluster. An error makes
	// New fail with it.
	Attach(node *ClusterNode) error

	// Detach withdraws the node's subscriptions from the cluster and
	// returns once no call of ClusterSubscription.Deliver is under way
	// or will be made.
	Detach()

	// SessionID returns a session ID (global scope, spec basic "IDs")
	// that no session of another node holds. The router draws again if
	// one of its own sessions holds it. It is called with a lock of the
	// router held and must not block.
	SessionID() protocol.ID

	// Subscribe tells the cluster that the node has a subscription: the
	// cluster delivers to it, with ClusterSubscription.Deliver, the
	// events published on other nodes that may match it. Delivering an
	// event that does not match is harmless (the router filters), but
	// each matching event must be delivered once and in the order its
	// publisher published it, relative to the publisher's other events
	// delivered to any subscription of this node (spec basic "Ordering
	// Guarantees"). Subscribe is called with the realm's broker locked.
	Subscribe(s *ClusterSubscription)

	// Unsubscribe withdraws a subscription given to Subscribe. It is
	// called with the realm's broker locked.
	Unsubscribe(s *ClusterSubscription)

	// Publish hands the other nodes an event published on this node,
	// on the publisher's goroutine; the calls of one publisher are in
	// publication order. It returns an error if the event cannot be
	// forwarded; the cluster logs and counts it.
	Publish(ev *ClusterEvent) error
}

// ClusterUnavailable is the error URI of an acknowledged PUBLISH that the
// router delivered to its own subscribers but could not forward to the
// other nodes of its [Cluster] (for example while its connection to them
// is down). Args[0] says why. It is implementation-specific, outside the
// reserved wamp namespace (spec basic "Reserved URIs").
const ClusterUnavailable protocol.URI = "wampkit.error.cluster_unavailable"

// ClusterNode is a router as a [Cluster] sees it. Its methods may be
// called concurrently.
type ClusterNode struct {
	r *Router
}

// Logger returns the router's logger ([Config].Logger).
func (n *ClusterNode) Logger() *slog.Logger { return n.r.log }

// Realms returns the names of the router's realms, in no particular
// order.
func (n *ClusterNode) Realms() []protocol.URI {
	out := make([]protocol.URI, 0, len(n.r.realms))
	for name := range n.r.realms {
		out = append(out, name)
	}
	return out
}

// ClusterSubscription is a subscription of the router (a topic and match
// policy in a realm, shared by all its local subscribers) as a [Cluster]
// sees it. Its fields are read-only.
type ClusterSubscription struct {
	Realm protocol.URI
	Topic protocol.URI
	Match protocol.MatchPolicy

	b   *broker
	sub *subscription
}

// Deliver sends an event published on another node to the subscribers of
// s on this node that may receive it: those the event's black and white
// lists admit and, for a pattern subscription, whose authorization
// permits the concrete topic (see [Authorizer]). An event whose topic
// does not match s is ignored. Deliver never blocks for a subscriber
// (slow ones are handled by the realm's [SlowConsumerPolicy]); it may be
// called concurrently, but the events of one publisher must be delivered
// in order, as [Cluster] says.
func (s *ClusterSubscription) Deliver(ev *ClusterEvent) {
	sub := s.sub
	if ev.Realm != s.Realm || !protocol.MatchURI(sub.topic, sub.match, ev.Topic) {
		return
	}
	p := publication{
		msg: &protocol.Publish{Topic: ev.Topic, Args: ev.Args, Kwargs: ev.Kwargs},
		id:  ev.Publication,
		// The publisher's session is on another node, so exclude_me
		// never applies here: exclude covers the rest.
		filter: newEligibility(ev.Options),
	}
	details := ev.Details
	if sub.match != protocol.MatchExact {
		details = make(protocol.Dict, len(ev.Details)+1)
		for k, v := range ev.Details {
			details[k] = v
		}
		details["topic"] = string(ev.Topic)
	}
	s.b.deliver(&p, sub, details)
}

// ClusterEvent is one publication on its way between the nodes of a
// [Cluster]. Its maps and lists are read-only: the router shares them
// with the publisher, and the receiving router with its subscribers.
type ClusterEvent struct {
	// Realm and Topic are where it was published.
	Realm protocol.URI
	Topic protocol.URI
	// Publication is the publication ID (global scope), the same on every
	// node.
	Publication protocol.ID
	// Details is EVENT.Details for an exact subscription: the publisher's
	// identity if disclosed, its trust level, payload passthru keys; nil
	// if none. A pattern subscription's EVENT adds the topic.
	Details protocol.Dict
	// Options is the PUBLISH's options, or nil; the receiving router
	// reads only the black and white lists of subscribers from it (spec
	// advanced "Subscriber Black- and Whitelisting").
	Options protocol.Dict
	// Args and Kwargs are the payload.
	Args   protocol.List
	Kwargs protocol.Dict
}

// attachCluster attaches r to c at the end of New and tells c of the
// subscriptions the realms already have (those of the event history).
func (r *Router) attachCluster(c Cluster) error {
	if err := c.Attach(&ClusterNode{r: r}); err != nil {
		return err
	}
	r.cluster = c
	for _, rm := range r.realms {
		b := &rm.broker
		b.mu.Lock()
		for _, sub := range b.byID {
			b.clusterAddLocked(sub)
		}
		b.mu.Unlock()
	}
	return nil
}

// clusterAddLocked tells the cluster of sub, if the router has one.
// b.mu must be held.
func (b *broker) clusterAddLocked(sub *subscription) {
	c := b.r.cluster
	if c == nil {
		return
	}
	sub.cluster = &ClusterSubscription{Realm: b.realm, Topic: sub.topic, Match: sub.match, b: b, sub: sub}
	c.Subscribe(sub.cluster)
}

// clusterRemoveLocked withdraws sub from the cluster. b.mu must be held.
func (b *broker) clusterRemoveLocked(sub *subscription) {
	if sub.cluster != nil {
		b.r.cluster.Unsubscribe(sub.cluster)
		sub.cluster = nil
	}
}

// forward hands p to the other nodes of the cluster. It reports an error
// for the publisher's PUBLISHED, if it asked for one.
func (b *broker) forward(p *publication) error {
	m := p.msg
	ev := &ClusterEvent{
		Realm:       b.realm,
		Topic:       m.Topic,
		Publication: p.id,
		Details:     p.details,
		Options:     m.Options,
		Args:        m.Args,
		Kwargs:      m.Kwargs,
	}
	if err := b.r.cluster.Publish(ev); err != nil {
		return refuse(ClusterUnavailable, err.Error())
	}
	return nil
}

// newSessionID draws a session ID: the cluster's, if the router has one.
// r.mu is held.
func (r *Router) newSessionID() protocol.ID {
	if r.cluster != nil {
		return r.cluster.SessionID()
	}
	return protocol.GlobalID()
}

// detachCluster detaches the router from its cluster once its sessions
// have ended (Close, Shutdown); it does nothing the second time.
func (r *Router) detachCluster() {
	if r.cluster != nil && r.detached.CompareAndSwap(false, true) {
		r.cluster.Detach()
	}
}
