package router

import (
	"context"
	"time"

	"github.com/wampkit/wampkit/protocol"
)

// ClusterSync is implemented by a [Cluster] whose nodes learn of each
// other's registrations a moment after the registering node answered
// REGISTERED. The router finds it by a type assertion on [Config].Cluster.
//
// A CALL on one node that follows, causally, a REGISTERED on another (the
// callee told the caller it is ready) must reach the callee, as on a
// single router. So when a CALL finds no callee, the router asks the
// cluster to catch up and looks the procedure up again before it answers
// wamp.error.no_such_procedure: a miss costs a round trip to the
// cluster's shared state, a hit costs nothing.
type ClusterSync interface {
	// SyncRegistrations returns once the node has applied every change
	// of the registrations that the cluster had recorded when it was
	// called (each registration of another node is then callable here),
	// or with an error when ctx ends first or the cluster's state cannot
	// be read. It is called from the caller's session goroutine with no
	// lock of the router held.
	SyncRegistrations(ctx context.Context) error
}

// clusterSyncTimeout bounds the wait of a CALL that found no callee for
// the cluster to catch up (see [ClusterSync]).
const clusterSyncTimeout = 2 * time.Second

// resolveAfterSync is resolveFor again, once the cluster has caught up
// with the registrations of the other nodes, for a CALL of procedure by s
// that found no callee (miss, the refusal). It returns miss unless the
// router's cluster implements ClusterSync and the miss was
// wamp.error.no_such_procedure. A cluster session's call resolves to this
// node's own callees only, which no catching up changes.
func (d *dealer) resolveAfterSync(s *session, procedure protocol.URI, miss error) (*registrant, error) {
	if re := asRequestError(miss); re == nil || re.uri != protocol.ErrNoSuchProcedure {
		return nil, miss
	}
	if !d.r.syncRegistrations(s, procedure) {
		return nil, miss
	}
	reg, _ := d.index.lookup(procedure)
	return d.resolveFor(s, reg, procedure)
}

// syncRegistrations waits, for a client's session s of a cluster node
// whose cluster implements ClusterSync, until the node has applied every
// registration the cluster had recorded, for at most clusterSyncTimeout.
// It reports whether it did; when not (no ClusterSync, a session of the
// cluster itself, or the cluster's state not read in time, logged at
// debug with what, the procedure asked for) the node's own view stands.
func (r *Router) syncRegistrations(s *session, what protocol.URI) bool {
	cs, ok := r.cluster.(ClusterSync)
	if !ok || s == nil || s.isCluster() {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterSyncTimeout)
	defer cancel()
	if err := cs.SyncRegistrations(ctx); err != nil {
		r.log.Debug("router: cluster registrations not synced", "procedure", string(what), "error", err)
		return false
	}
	return true
}

// syncRegistrations makes the registration meta procedures of a client
// answer, in a cluster, once the node has caught up with the other nodes'
// registrations (see Router.syncRegistrations): they then show a
// registration whose callee read REGISTERED on another node, as a CALL
// reaches it. The questions of other nodes (q.s nil) are answered from
// this node's view at once.
func (q metaRequest) syncRegistrations() {
	q.rm.r.syncRegistrations(q.s, q.proc)
}
