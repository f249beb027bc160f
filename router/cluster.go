package router

import (
	"context"
	"errors"
	"log/slog"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/transport"
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

	// Register claims a procedure for this node before the router
	// answers REGISTERED to the first callee of the node that registers
	// it (sessions of the cluster itself, see [ClusterNode.Connect] and
	// [ClusterNode.Link], claim nothing). It returns an error wrapping
	// [ErrRegisteredElsewhere] if another live node holds it with the
	// policy single, or with another policy, so that a registration is
	// unique in the whole cluster (the client gets ERROR
	// wamp.error.procedure_already_exists); any other error refuses
	// the REGISTER with [ClusterUnavailable]. The cluster makes the
	// procedure callable from the other nodes. It is called with the
	// realm's dealer locked.
	Register(reg ClusterRegistration) error

	// Unregister gives up the claim of Register once the node's last
	// callee of the procedure is gone. It is called with the realm's
	// dealer locked.
	Unregister(reg ClusterRegistration)
}

// ClusterRegistration is a procedure (or procedure pattern) that a node
// claims in its cluster (see [Cluster].Register).
type ClusterRegistration struct {
	Realm     protocol.URI
	Procedure protocol.URI
	Match     protocol.MatchPolicy
	// Invoke is the invocation policy: single, roundrobin, random, first
	// or last (spec advanced "Shared Registration").
	Invoke string
}

// ErrRegisteredElsewhere is wrapped by the error of [Cluster].Register
// when another node holds the procedure.
var ErrRegisteredElsewhere = errors.New("router: procedure registered on another node")

// ClusterAuthMethod is the authmethod of the sessions a [Cluster] opens
// with [ClusterNode.Connect] or [ClusterNode.Link]. The router admits it only on those
// sessions' links, whatever the realm's authenticators, with the authrole
// [ClusterAuthRole]; such a session acts for the cluster's other nodes
// (their callers and callees), is not authorized on this node (its
// users were, on theirs), and a CALL of it goes only to this node's own
// callees, with the caller identity and trust level it forwards.
const ClusterAuthMethod = "wampkit-cluster"

// ClusterAuthRole is the authrole of the sessions of [ClusterAuthMethod].
const ClusterAuthRole = "wampkit-cluster"

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

// Connect opens an in-process link to the router for the cluster's own
// sessions: the session joins a realm with HELLO.Details.authmethods
// [ClusterAuthMethod] (any authid; it is welcomed with the authrole
// [ClusterAuthRole]). It fails with [ErrClosed] after the router closed.
// The caller closes the peer.
func (n *ClusterNode) Connect(ctx context.Context) (transport.Peer, error) {
	return n.r.connect(ctx, func(p transport.Peer) transport.Peer { return clusterPeer{p} })
}

// clusterPeer is the router's end of a link made by ClusterNode.Connect:
// its transport type "cluster" is what admits ClusterAuthMethod.
type clusterPeer struct{ transport.Peer }

// TransportDetails implements transport.Detailer.
func (clusterPeer) TransportDetails() protocol.Dict { return protocol.Dict{"type": clusterTransport} }

// SendWait implements transport.Waiter.
func (p clusterPeer) SendWait(ctx context.Context, m protocol.Message) error {
	if w, ok := p.Peer.(transport.Waiter); ok {
		return w.SendWait(ctx, m)
	}
	return p.Peer.Send(ctx, m)
}

const clusterTransport = "cluster"

// clusterAuthenticator admits the sessions of ClusterNode.Connect and
// ClusterNode.Link.
type clusterAuthenticator struct{}

func (clusterAuthenticator) AuthMethod() string { return ClusterAuthMethod }

func (clusterAuthenticator) Authenticate(_ context.Context, req *AuthRequest, _ Challenger) (*Identity, error) {
	if req.Transport["type"] != clusterTransport {
		return nil, &AuthError{Reason: protocol.ErrAuthenticationFailed, Message: "not a link of the cluster"}
	}
	return &Identity{AuthID: req.AuthID, AuthRole: ClusterAuthRole, AuthMethod: ClusterAuthMethod, AuthProvider: "cluster"}, nil
}

// clusterAuthenticator returns the authenticator of the cluster's own
// sessions if the client asks for it first and the router is in a
// cluster, else nil.
func (r *Router) clusterAuthenticator(methods []string) Authenticator {
	if r.cluster == nil || len(methods) == 0 || methods[0] != ClusterAuthMethod {
		return nil
	}
	return clusterAuthenticator{}
}

// isCluster reports whether s is a session of the router's cluster (see
// ClusterNode.Connect and ClusterNode.Link).
func (s *session) isCluster() bool { return s.authMethod == ClusterAuthMethod }

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
		remote: true,
	}
	if ev.Topic == metaRegOnCreate || ev.Topic == metaSubOnCreate {
		p.visible = s.b.metaViewer(ev)
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

// Calls across nodes. A node's cluster session that stands for a remote
// node's callees registers their procedures on this node, so a CALL here
// finds them (with the usual precedence and policies) and its INVOCATION
// goes to that session, which hands it to the remote node. There another
// cluster session CALLs the procedure, and the answers travel back.

// caller is who made a call, as the callee's INVOCATION tells it.
type caller struct {
	id               protocol.ID
	authID, authRole string
	disclose         bool          // CALL.Options.disclose_me
	trust            protocol.Dict // {"trustlevel": n}, or nil
}

// Keys of the caller's identity that cross nodes: in the INVOCATION to a
// cluster session, and in its CALL on the callee's node.
const (
	keyClusterCaller = "wampkit_caller"     // [id, authid, authrole, disclose_me]
	keyClusterTrust  = "wampkit_trustlevel" // the caller's trust level, if any
)

// callerOf returns the caller of CALL m by session s: s itself, or for a
// cluster session the caller it forwards in m's options.
func callerOf(s *session, m *protocol.Call) caller {
	if !s.isCluster() {
		return caller{id: s.id, authID: s.authID, authRole: s.authRole, disclose: m.Options.Bool("disclose_me"), trust: s.trust}
	}
	var c caller
	l, ok := m.Options[keyClusterCaller].([]any)
	if !ok {
		l, ok = m.Options[keyClusterCaller].(protocol.List)
	}
	if ok && len(l) == 4 {
		c.id, _ = protocol.ToID(l[0])
		c.authID, _ = l[1].(string)
		c.authRole, _ = l[2].(string)
		c.disclose, _ = l[3].(bool)
	}
	if v, ok := m.Options[keyClusterTrust]; ok {
		c.trust = protocol.Dict{"trustlevel": v}
	}
	return c
}

// withClusterCaller returns details with the identity of the caller c
// (of session s) for a cluster session, which forwards it to the callee's
// node, where callerOf reads it back. details is nil or the invocation's
// own; without other details the session's calls share one Dict (sent
// messages are read-only).
func withClusterCaller(details protocol.Dict, s *session, c caller) protocol.Dict {
	if details == nil && !c.disclose && !s.isCluster() {
		if s.in.clusterCaller == nil {
			s.in.clusterCaller = clusterCallerDetails(nil, c)
		}
		return s.in.clusterCaller
	}
	return clusterCallerDetails(details, c)
}

// clusterCallerDetails adds the identity of c to details (nil: a new
// Dict) and returns it.
func clusterCallerDetails(details protocol.Dict, c caller) protocol.Dict {
	if details == nil {
		details = make(protocol.Dict, 2)
	}
	details[keyClusterCaller] = protocol.List{uint64(c.id), c.authID, c.authRole, c.disclose}
	if c.trust != nil {
		details[keyClusterTrust] = c.trust["trustlevel"]
	}
	return details
}

// resolveFor returns the callee of a call of procedure by s. A cluster
// session's call comes from another node, which chose this node: it goes
// to this node's own callees only, never back to a cluster session.
func (d *dealer) resolveFor(s *session, reg *registration, procedure protocol.URI) (*registrant, error) {
	if !s.isCluster() {
		return d.resolve(reg, procedure)
	}
	local := func(rg *registrant) bool {
		return !rg.callee.isCluster() &&
			(rg.reg.match == protocol.MatchExact || d.authz.Load().permits(rg.callee, ActionRegister, procedure))
	}
	if reg != nil {
		if rg := reg.pickWhere(local); rg != nil {
			return rg, nil
		}
	}
	for _, reg := range d.index.patternsByPrecedence(string(procedure)) {
		if rg := reg.pickWhere(local); rg != nil {
			return rg, nil
		}
	}
	return nil, refuse(protocol.ErrNoSuchProcedure, "")
}

// claimLocked claims the procedure of a REGISTER by s in the cluster when
// s is the node's first callee of it (reg is the registration so far, or
// nil), or for every callee of a first or last registration with a
// ClusterOrder, which returns the callee's order (see
// cluster_order.go). d.mu must be held.
func (d *dealer) claimLocked(s *session, reg *registration, procedure protocol.URI, match protocol.MatchPolicy, invoke string) (uint64, error) {
	c := d.r.cluster
	if c == nil || s.isCluster() {
		return 0, nil
	}
	cr := ClusterRegistration{Realm: d.meta.realm, Procedure: procedure, Match: match, Invoke: invoke}
	var order uint64
	var err error
	held := reg != nil && hasLocalCallee(reg.callees.load())
	if o := clusterOrder(c, invoke); o != nil {
		order, err = o.RegisterCallee(cr, s.id)
	} else if held {
		return 0, nil
	} else {
		err = c.Register(cr)
	}
	switch {
	case err == nil:
		return order, nil
	case errors.Is(err, ErrRegisteredElsewhere):
		return 0, refuse(protocol.ErrProcedureAlreadyExists, "registered on another node")
	case held:
		// The node holds the registration already: the callee joins it
		// without a place, after those with one, as the newest.
		d.r.log.Warn("router: callee registered without its place in the cluster's order",
			"procedure", string(procedure), "error", err)
		return 0, nil
	}
	return 0, refuse(ClusterUnavailable, err.Error())
}

// releaseLocked gives up the cluster's claim when rg, just removed,
// was the node's last callee of its registration (next are the callees
// left), and with a ClusterOrder rg's place in the order of a first or
// last registration. d.mu must be held.
func (d *dealer) releaseLocked(rg *registrant, next *memberSnap[*registrant]) {
	c := d.r.cluster
	if c == nil || rg.callee.isCluster() {
		return
	}
	reg := rg.reg
	cr := ClusterRegistration{Realm: d.meta.realm, Procedure: reg.procedure, Match: reg.match, Invoke: reg.invoke}
	if o := clusterOrder(c, reg.invoke); o != nil {
		o.UnregisterCallee(cr, rg.callee.id, !hasLocalCallee(next))
		return
	}
	if !hasLocalCallee(next) {
		c.Unregister(cr)
	}
}

// hasLocalCallee reports whether cs has a callee that is not a cluster
// session.
func hasLocalCallee(cs *memberSnap[*registrant]) bool {
	for rg := range cs.values() {
		if !rg.callee.isCluster() {
			return true
		}
	}
	return false
}
