package router

import (
	"slices"

	"github.com/wampkit/wampkit/protocol"
)

// The order of a shared registration's callees over a cluster (spec
// advanced "Shared Registration": first and last pick the callee that
// registered first or last). Each node holds its own callees and one
// stand-in per other node (see ClusterNode.Link); on its own, a node
// would put a stand-in where the other node's first callee was mirrored,
// so first and last would pick per node. With a ClusterOrder, every
// callee of a first or last registration takes a place in one order of
// the cluster when it registers (RegisterCallee), each stand-in takes
// the place of the other node's first callee (for first) or last (for
// last), which the cluster keeps up to date (ClusterLink.SetOrder), and
// the node keeps the registration's callees sorted by those places, so
// that pick stays cs[0] or cs[len-1].

// ClusterOrder is implemented by a [Cluster] that orders the callees of
// shared registrations with the first and last policies over the whole
// cluster, and counts those of the roundrobin and random policies on
// each node (see [ClusterLink.SetWeight]). The router finds it by a type
// assertion on [Config].Cluster; without it, a node orders its callees
// and stand-ins as they register there, and counts a stand-in as one
// callee.
type ClusterOrder interface {
	// RegisterCallee claims reg for callee, a session of this node, as
	// [Cluster].Register does, for every callee of a shared registration
	// (first, last, roundrobin or random; not only the node's first),
	// and returns the callee's place in the cluster's order of the
	// registration's callees: a number greater than those of the callees
	// that registered before, on any node, and never 0. Roundrobin and
	// random need no order: for them any number but 0 will do.
	RegisterCallee(reg ClusterRegistration, callee protocol.ID) (uint64, error)

	// UnregisterCallee withdraws callee's place; with last (the node's
	// last callee of reg left) the node's claim too, as
	// [Cluster].Unregister does.
	UnregisterCallee(reg ClusterRegistration, callee protocol.ID, last bool)
}

// clusterOrder returns c as a ClusterOrder if it is one and invoke is
// first, last, roundrobin or random, else nil.
func clusterOrder(c Cluster, invoke string) ClusterOrder {
	if invoke == invokeSingle {
		return nil
	}
	o, _ := c.(ClusterOrder)
	return o
}

// sortByOrder sorts cs by their places in the cluster's order, those
// without one (0) last, keeping the order of equals. The dealer's mu must
// be held.
func sortByOrder(cs []*registrant) {
	slices.SortStableFunc(cs, func(a, b *registrant) int {
		switch {
		case a.order == b.order:
			return 0
		case a.order == 0:
			return 1
		case b.order == 0:
			return -1
		case a.order < b.order:
			return -1
		}
		return 1
	})
}

// SetOrder gives the link's session, as a callee of its registration
// regID, the place order in the cluster's order of the registration's
// callees (see [ClusterOrder]); a cluster calls it for a stand-in with
// the place of the first (or last) callee of the node it stands for,
// whenever that changes. It does nothing if the session has no such
// registration.
func (l *ClusterLink) SetOrder(regID protocol.ID, order uint64) {
	l.withReg(regID, func(s *session, reg *registration) {
		next := reg.callees.load().all()
		i := slices.IndexFunc(next, func(rg *registrant) bool { return rg.callee == s })
		if i < 0 || next[i].order == order {
			return
		}
		next[i].order = order
		sortByOrder(next)
		reg.callees.reset(next)
	})
}

// withReg calls f with the link's session and its registration regID,
// with the dealer's lock held; it does nothing if the link has no
// session, or the session no such registration.
func (l *ClusterLink) withReg(regID protocol.ID, f func(s *session, reg *registration)) {
	s := l.server.session.Load()
	if s == nil {
		return
	}
	d := &s.realm.dealer
	d.mu.Lock()
	defer d.mu.Unlock()
	if reg := d.byID[regID]; reg != nil {
		f(s, reg)
	}
}

// Weights. On its own, a node's roundrobin and random policies choose
// among its own callees and one stand-in per other node, so with one
// callee here and three on another node a caller here would reach the
// lone callee half of the time. A cluster gives each stand-in the number
// of callees it stands for (SetWeight); once any callee of a
// registration has a weight, random picks each callee with a
// probability proportional to its weight, so uniformly over the callees
// of the whole cluster, and roundrobin gives a stand-in as many turns in
// a row as its weight, so that, as the other node goes round its own
// callees, a cycle visits every callee of the cluster once.

// SetWeight gives the link's session, as a callee of its registration
// regID, the weight callees: the number of callees of the other node it
// stands for, which the roundrobin and random policies count (0 counts
// as 1). It does nothing if the session has no such registration.
func (l *ClusterLink) SetWeight(regID protocol.ID, callees int) {
	w := uint32(min(max(callees, 0), maxWeight))
	l.withReg(regID, func(s *session, reg *registration) {
		for rg := range reg.callees.load().values() {
			if rg.callee == s {
				rg.weight.Store(w)
				if w > 1 {
					reg.weighted.Store(true)
				}
			}
		}
	})
}

// maxWeight bounds the weight of a callee.
const maxWeight = 1 << 24

// weightOf returns the weight rg counts for: 1 unless a cluster gave it
// more.
func (rg *registrant) weightOf() uint64 {
	if w := rg.weight.Load(); w > 1 {
		return uint64(w)
	}
	return 1
}

// totalWeight returns the sum of the weights of the callees in chunks.
func totalWeight(chunks [][]*registrant) uint64 {
	var n uint64
	for _, cs := range chunks {
		for _, rg := range cs {
			n += rg.weightOf()
		}
	}
	return n
}

// atWeight returns the callee in chunks whose span holds k, with each
// callee spanning its weight in order; k is less than
// totalWeight(chunks), or the last callee is returned (weights may change
// meanwhile).
func atWeight(chunks [][]*registrant, k uint64) *registrant {
	for _, cs := range chunks {
		for _, rg := range cs {
			w := rg.weightOf()
			if k < w {
				return rg
			}
			k -= w
		}
	}
	last := chunks[len(chunks)-1]
	return last[len(last)-1]
}
