package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// The order of the callees of shared registrations with the policies
// first and last over the cluster, and the number of each node's callees
// for roundrobin and random (see router.ClusterOrder). The value of
// the procedure's key in the registrations bucket gives every callee of
// such a registration, on any node, a place when it registers: Seq, one
// more than the last given, written with a compare-and-set like the
// holders, so the places follow the order in which the bucket took the
// registrations. The callee's node sorts its callees by their places;
// every other node gives its stand-in for the callee's node the place of
// that node's first callee (for first) or last (for last), whenever the
// value changes. So first and last pick the same callee from any node,
// once the nodes have the bucket's last value. For roundrobin and random
// the places are not used, but they count each node's callees: every
// other node gives its stand-in for a node the number of that node's
// callees as its weight, so that the policy spreads calls over the
// callees of the whole cluster, not over nodes.

var _ router.ClusterOrder = (*Cluster)(nil)

// slotOf returns the slot of the node of a session ID.
func slotOf(session protocol.ID) uint32 { return uint32(uint64(session) >> randBits) }

// dropOrders removes from v the places of the callees of the nodes for
// which gone is true.
func dropOrders(v *regValue, gone func(slot uint32) bool) {
	for id := range v.Order {
		n, err := strconv.ParseUint(id, 10, 64)
		if err != nil || gone(slotOf(protocol.ID(n))) {
			delete(v.Order, id)
		}
	}
}

// calleesOf returns the number of callees of the node of slot in v (0 if
// it has none with a place: a node that holds the registration counts at
// least one).
func calleesOf(v *regValue, slot uint32) int {
	n := 0
	for id := range v.Order {
		if m, err := strconv.ParseUint(id, 10, 64); err == nil && slotOf(protocol.ID(m)) == slot {
			n++
		}
	}
	return n
}

// placeOf returns the place, in v, of the first (policy first) or last
// (policy last) callee of the node of slot, or 0 if it has none.
func placeOf(v *regValue, slot uint32) uint64 {
	var place uint64
	for id, p := range v.Order {
		n, err := strconv.ParseUint(id, 10, 64)
		if err != nil || slotOf(protocol.ID(n)) != slot {
			continue
		}
		if place == 0 || (v.Invoke == "first") == (p < place) {
			place = p
		}
	}
	return place
}

// RegisterCallee implements [router.ClusterOrder].
func (c *Cluster) RegisterCallee(reg router.ClusterRegistration, callee protocol.ID) (uint64, error) {
	place, err := c.registerCallee(reg, callee)
	if bucketGone(err) {
		if err = c.openRegs(context.Background()); err == nil {
			place, err = c.registerCallee(reg, callee)
		}
	}
	return place, err
}

// registerCallee is RegisterCallee on the bucket as it is.
func (c *Cluster) registerCallee(reg router.ClusterRegistration, callee protocol.ID) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), kvTimeout)
	defer cancel()
	key := regKeyOf(reg.Realm, reg.Procedure, reg.Match)
	me := c.slot.Load()
	id := strconv.FormatUint(uint64(callee), 10)
	for range 16 {
		e, err := c.regsKV().Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			v := regValue{Invoke: reg.Invoke, Holders: []uint32{me}, Seq: 1, Order: map[string]uint64{id: 1}}
			_, err = c.regsKV().Create(ctx, key, encodeReg(v))
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue
			}
			if err == nil {
				c.setPlacing(key, true)
			}
			return 1, err
		}
		if err != nil {
			return 0, err
		}
		v := decodeReg(e.Value())
		others := c.liveHolders(v.Holders, me)
		if len(others) > 0 && v.Invoke != reg.Invoke {
			return 0, fmt.Errorf("%w (node slot %d, policy %s)", router.ErrRegisteredElsewhere, others[0], v.Invoke)
		}
		if v.Invoke != reg.Invoke {
			v = regValue{Invoke: reg.Invoke}
		}
		v.Holders = append(others, me)
		fresh := !c.placing(key)
		dropOrders(&v, func(slot uint32) bool {
			// The places of gone nodes, and those this node left there
			// before it restarted in its slot.
			return !slices.Contains(v.Holders, slot) || fresh && slot == me
		})
		if v.Order == nil {
			v.Order = make(map[string]uint64)
		}
		v.Seq++
		v.Order[id] = v.Seq
		_, err = c.regsKV().Update(ctx, key, encodeReg(v), e.Revision())
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue
		}
		if err == nil {
			c.setPlacing(key, true)
		}
		return v.Seq, err
	}
	return 0, errors.New("cluster: registration contended, try again")
}

// UnregisterCallee implements [router.ClusterOrder].
func (c *Cluster) UnregisterCallee(reg router.ClusterRegistration, callee protocol.ID, last bool) {
	if err := c.unregisterCallee(reg, callee, last); err != nil {
		c.log.Warn("cluster: unregister", "realm", string(reg.Realm), "procedure", string(reg.Procedure), "error", err)
	}
}

// unregisterCallee removes callee's place, and with last this node from
// the holders (the key when none is left).
func (c *Cluster) unregisterCallee(reg router.ClusterRegistration, callee protocol.ID, last bool) error {
	key := regKeyOf(reg.Realm, reg.Procedure, reg.Match)
	if last {
		c.setPlacing(key, false)
	}
	ctx, cancel := context.WithTimeout(context.Background(), kvTimeout)
	defer cancel()
	me := c.slot.Load()
	id := strconv.FormatUint(uint64(callee), 10)
	return c.editReg(ctx, key, func(v *regValue) bool {
		_, placed := v.Order[id]
		if !placed && (!last || !slices.Contains(v.Holders, me)) {
			return false
		}
		delete(v.Order, id)
		if last {
			v.Holders = slices.DeleteFunc(v.Holders, func(s uint32) bool { return s == me })
			dropOrders(v, func(s uint32) bool { return s == me })
		}
		return true
	})
}

// placing reports whether this node has callees with places in key.
func (c *Cluster) placing(key string) bool {
	c.placesMu.Lock()
	defer c.placesMu.Unlock()
	return c.places[key]
}

// setPlacing records whether this node has callees with places in key.
func (c *Cluster) setPlacing(key string, on bool) {
	c.placesMu.Lock()
	defer c.placesMu.Unlock()
	if on {
		c.places[key] = true
	} else {
		delete(c.places, key)
	}
}

// order gives the stand-in of the node of slot in realm the place of
// that node's first or last callee of key (0: none known). Only the watch
// goroutine calls it, after mirror.
func (x *rpc) order(slot uint32, realm protocol.URI, key string, place uint64) {
	if l, id := x.mirrored(slot, realm, key); l != nil {
		l.SetOrder(id, place)
	}
}

// weigh gives the stand-in of the node of slot in realm the number of
// that node's callees of key, for the roundrobin and random policies
// (see router.ClusterLink.SetWeight). Only the watch goroutine calls it,
// after mirror.
func (x *rpc) weigh(slot uint32, realm protocol.URI, key string, callees int) {
	if l, id := x.mirrored(slot, realm, key); l != nil {
		l.SetWeight(id, callees)
	}
}

// mirrored returns the link of the stand-in of the node of slot in realm
// and the ID of its registration of key, or nil if it has none. Only the
// watch goroutine calls it.
func (x *rpc) mirrored(slot uint32, realm protocol.URI, key string) (*router.ClusterLink, protocol.ID) {
	x.mu.Lock()
	st := x.byNode[mirrorKey{slot, realm}]
	x.mu.Unlock()
	if st == nil {
		return nil, 0
	}
	id, ok := st.regs[key]
	if !ok {
		return nil, 0
	}
	return st.linkOf(), id
}
