package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

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
// once the nodes have the bucket's last value.
//
// For roundrobin and random no order is needed, only each node's number
// of callees: every other node gives its stand-in for a node that number
// as its weight, so that the policy spreads calls over the callees of
// the whole cluster, not over nodes. The value's Counts holds them, one
// per node. A node's first callee claims the registration as Register
// does, with its count, 1; the node's other callees come and go without
// waiting for the bucket: the node counts them (Cluster.callees) and
// writeClaims writes its count when it changed, one write for any number
// of changes meanwhile. So growing a pool of workers costs no round trip
// to NATS per REGISTER, under the dealer's lock, and the value grows with
// the nodes, not with the callees; the weights follow a moment later.

var _ router.ClusterOrder = (*Cluster)(nil)

// slotOf returns the slot of the node of a session ID.
func slotOf(session protocol.ID) uint32 { return uint32(uint64(session) >> randBits) }

// dropOrders removes from v the places and counts of the callees of the
// nodes for which gone is true.
func dropOrders(v *regValue, gone func(slot uint32) bool) {
	for id := range v.Order {
		n, err := strconv.ParseUint(id, 10, 64)
		if err != nil || gone(slotOf(protocol.ID(n))) {
			delete(v.Order, id)
		}
	}
	for slot := range v.Counts {
		if gone(slot) {
			delete(v.Counts, slot)
		}
	}
}

// calleesOf returns the number of callees of the node of slot in v (0 if
// it has none counted: a node that holds the registration counts at
// least one).
func calleesOf(v *regValue, slot uint32) int {
	if n := v.Counts[slot]; n > 0 {
		return n
	}
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

// counted reports whether the callees of invoke are counted (see
// Cluster.callees), not placed.
func counted(invoke string) bool { return invoke == "roundrobin" || invoke == "random" }

// registerCallee is RegisterCallee on the bucket as it is.
func (c *Cluster) registerCallee(reg router.ClusterRegistration, callee protocol.ID) (uint64, error) {
	key := regKeyOf(reg.Realm, reg.Procedure, reg.Match)
	count := counted(reg.Invoke)
	if count {
		if n := c.addCallee(key); n > 0 {
			return uint64(n), nil
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), kvTimeout)
	defer cancel()
	me := c.slot.Load()
	id := strconv.FormatUint(uint64(callee), 10)
	for range 16 {
		e, err := c.regsKV().Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			v := regValue{Invoke: reg.Invoke, Holders: []uint32{me}, Seq: 1, Order: map[string]uint64{id: 1}}
			if count {
				v = regValue{Invoke: reg.Invoke, Holders: []uint32{me}, Counts: map[uint32]int{me: 1}}
			}
			_, err = c.regsKV().Create(ctx, key, encodeReg(v))
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue
			}
			if err == nil {
				c.claimedCallee(key, reg, id, 1)
			}
			return 1, err
		}
		if err != nil {
			return 0, err
		}
		v := decodeReg(e.Value())
		others := c.liveHolders(v.Holders, me)
		if len(others) > 0 && excludes(v.Invoke, reg.Invoke) {
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
		place := uint64(1)
		if count {
			if v.Counts == nil {
				v.Counts = make(map[uint32]int)
			}
			v.Counts[me] = 1
		} else {
			if v.Order == nil {
				v.Order = make(map[string]uint64)
			}
			v.Seq++
			v.Order[id] = v.Seq
			place = v.Seq
		}
		_, err = c.regsKV().Update(ctx, key, encodeReg(v), e.Revision())
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue
		}
		if err == nil {
			c.claimedCallee(key, reg, id, place)
		}
		return place, err
	}
	return 0, errors.New("cluster: registration contended, try again")
}

// UnregisterCallee implements [router.ClusterOrder].
func (c *Cluster) UnregisterCallee(reg router.ClusterRegistration, callee protocol.ID, last bool) {
	if err := c.unregisterCallee(reg, callee, last); err != nil {
		c.log.Warn("cluster: unregister", "realm", string(reg.Realm), "procedure", string(reg.Procedure), "error", err)
	}
}

// unregisterCallee removes callee's place (or count), and with last this
// node from the holders (the key when none is left).
func (c *Cluster) unregisterCallee(reg router.ClusterRegistration, callee protocol.ID, last bool) error {
	key := regKeyOf(reg.Realm, reg.Procedure, reg.Match)
	if counted(reg.Invoke) && !last {
		c.dropCallee(key)
		return nil
	}
	id := strconv.FormatUint(uint64(callee), 10)
	if last {
		c.unclaimed(key)
	} else {
		c.unplaced(key, id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), kvTimeout)
	defer cancel()
	me := c.slot.Load()
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

// placing reports whether this node has callees with places in key (a
// first or last registration it claimed).
func (c *Cluster) placing(key string) bool {
	c.claimsMu.Lock()
	defer c.claimsMu.Unlock()
	_, ok := c.claims[key]
	return ok
}

// claimed records that this node's first callee of key claimed reg (for
// first and last, each callee): the node holds it (see writeClaims), and
// counts its callees from 1 (see counted) or has callees with places.
func (c *Cluster) claimed(key string, reg router.ClusterRegistration) {
	c.claimsMu.Lock()
	defer c.claimsMu.Unlock()
	c.claims[key] = reg
	if counted(reg.Invoke) {
		c.callees[key] = 1
		delete(c.pending, key)
	}
}

// unclaimed records that this node's last callee of key left.
func (c *Cluster) unclaimed(key string) {
	c.claimsMu.Lock()
	defer c.claimsMu.Unlock()
	delete(c.claims, key)
	delete(c.callees, key)
	delete(c.places, key)
	delete(c.pending, key)
}

// claimedCallee is claimed for the callee id (as in regValue.Order) of
// key, registered with reg (see RegisterCallee): for first and last, it
// records the callee's place too.
func (c *Cluster) claimedCallee(key string, reg router.ClusterRegistration, id string, place uint64) {
	c.claimed(key, reg)
	if counted(reg.Invoke) {
		return
	}
	c.claimsMu.Lock()
	defer c.claimsMu.Unlock()
	if c.places[key] == nil {
		c.places[key] = make(map[string]uint64)
	}
	c.places[key][id] = place
}

// unplaced records that the callee id of key, not the node's last, left.
func (c *Cluster) unplaced(key, id string) {
	c.claimsMu.Lock()
	defer c.claimsMu.Unlock()
	delete(c.places[key], id)
}

// addCallee counts one more callee of key on this node and returns their
// number, or 0 if the node has none yet (its first callee claims key).
// The bucket gets the count later (writeClaims).
func (c *Cluster) addCallee(key string) int {
	c.claimsMu.Lock()
	defer c.claimsMu.Unlock()
	n := c.callees[key]
	if n == 0 {
		return 0
	}
	c.callees[key] = n + 1
	c.pendLocked(key)
	return n + 1
}

// dropCallee counts one callee of key less on this node, not its last.
func (c *Cluster) dropCallee(key string) {
	c.claimsMu.Lock()
	defer c.claimsMu.Unlock()
	if n := c.callees[key]; n > 1 {
		c.callees[key] = n - 1
		c.pendLocked(key)
	}
}

// reclaim asks writeClaims to check that the bucket has this node among
// the holders of key, if the node holds it: the watch saw a value of key
// without the node, or none. Another node that found this one gone
// withdrew it (it was cut off from NATS, or a NATS server lost the
// bucket): the node claims its registration again, so that it is
// consistent again once back, without its callees registering anew.
func (c *Cluster) reclaim(key string) {
	c.claimsMu.Lock()
	defer c.claimsMu.Unlock()
	if _, ok := c.claims[key]; ok {
		c.pendLocked(key)
	}
}

// reclaimUnseen is reclaim for each key this node holds that seen lacks
// (the keys of the bucket when the watch began).
func (c *Cluster) reclaimUnseen(seen map[string]bool) {
	c.claimsMu.Lock()
	defer c.claimsMu.Unlock()
	for key := range c.claims {
		if !seen[key] {
			c.pendLocked(key)
		}
	}
}

// pendLocked asks writeClaims to write key. claimsMu must be held.
func (c *Cluster) pendLocked(key string) {
	c.pending[key] = true
	select {
	case c.claimWake <- struct{}{}:
	default:
	}
}

// claimsRetry is how long writeClaims waits before it tries again a key
// it could not write.
const claimsRetry = 250 * time.Millisecond

// errCutOff is writeClaim's error while a NATS connection of the node is
// down: other nodes would find it gone again.
var errCutOff = errors.New("cluster: not connected to NATS")

// writeClaims writes into the bucket what it lacks of the keys this node
// holds (see pendLocked): the node's count of callees of a roundrobin or
// random registration that changed, as it is when written, and the node
// itself among the holders of a key that lost it. A key it could not
// write is tried again a moment later, until Close.
func (c *Cluster) writeClaims() {
	defer c.wg.Done()
	for {
		select {
		case <-c.stop:
			return
		case <-c.claimWake:
		}
		for {
			key, ok := c.nextPending()
			if !ok {
				break
			}
			c.claimHold.Lock()
			err := c.writeClaim(key)
			if bucketGone(err) {
				// The NATS servers lost the bucket (restarted without
				// their storage): make it again.
				if err = c.openRegs(context.Background()); err == nil {
					err = c.writeClaim(key)
				}
			}
			c.claimHold.Unlock()
			c.claimsMu.Lock()
			c.writing = false
			if err != nil {
				if _, ok := c.claims[key]; ok {
					c.pendLocked(key)
				}
			}
			c.claimsMu.Unlock()
			if err != nil {
				if !errors.Is(err, errCutOff) {
					c.failLog.log(c.log, "cluster: registration not recorded", "key", key, "error", err)
				}
				select {
				case <-c.stop:
					return
				case <-time.After(claimsRetry):
				}
				break
			}
		}
	}
}

// nextPending takes a key to write, if any.
func (c *Cluster) nextPending() (string, bool) {
	c.claimsMu.Lock()
	defer c.claimsMu.Unlock()
	for key := range c.pending {
		delete(c.pending, key)
		c.writing = true
		return key, true
	}
	return "", false
}

// writeClaim makes the bucket's value of key have this node among its
// holders, and its current count of callees, if it still holds key. If
// another live node holds key meanwhile in a way that excludes this one
// (a single registration, another policy), the node gives key up (see
// yield).
func (c *Cluster) writeClaim(key string) error {
	if !c.nc.IsConnected() || !c.fc.IsConnected() {
		return errCutOff
	}
	ctx, cancel := context.WithTimeout(context.Background(), kvTimeout)
	defer cancel()
	me := c.slot.Load()
	for range 16 {
		c.claimsMu.Lock()
		reg, held := c.claims[key]
		n := c.callees[key]
		places := maps.Clone(c.places[key])
		c.claimsMu.Unlock()
		if !held {
			return nil
		}
		count := counted(reg.Invoke)
		e, err := c.regsKV().Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			v := regValue{Invoke: reg.Invoke, Holders: []uint32{me}}
			if count {
				v.Counts = map[uint32]int{me: n}
			}
			givePlaces(&v, places)
			_, err = c.regsKV().Create(ctx, key, encodeReg(v))
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue
			}
			if err == nil {
				c.log.Warn("cluster: registration claimed again (the cluster had lost it)", "key", key)
			}
			return err
		}
		if err != nil {
			return err
		}
		v := decodeReg(e.Value())
		if slices.Contains(v.Holders, me) {
			if !count || v.Counts[me] == n {
				return nil
			}
		} else {
			others := c.liveHolders(v.Holders, me)
			if len(others) > 0 && excludes(v.Invoke, reg.Invoke) {
				c.yield(key, reg, others[0], v.Invoke)
				return nil
			}
			if v.Invoke != reg.Invoke {
				v = regValue{Invoke: reg.Invoke}
			}
			v.Holders = append(others, me)
			dropOrders(&v, func(slot uint32) bool { return !slices.Contains(v.Holders, slot) })
			givePlaces(&v, places)
			c.log.Warn("cluster: registration claimed again (another node had withdrawn it)", "key", key)
		}
		if count {
			if v.Counts == nil {
				v.Counts = make(map[uint32]int)
			}
			v.Counts[me] = n
		}
		if err := c.writeBackReg(ctx, key, v, e.Revision()); !errors.Is(err, errRegRaced) {
			return err
		}
	}
	return errors.New("cluster: registration contended")
}

// givePlaces puts the places of this node's callees back into v, the
// value of a first or last registration that lost them (places holds
// them, by callee ID): the places were given before, so they are below
// v.Seq, unless the bucket lost the key, whose count starts again above
// them.
func givePlaces(v *regValue, places map[string]uint64) {
	if len(places) == 0 || counted(v.Invoke) {
		return
	}
	if v.Order == nil {
		v.Order = make(map[string]uint64, len(places))
	}
	for id, p := range places {
		v.Order[id] = p
		v.Seq = max(v.Seq, p)
	}
}

// yieldReason is the reason of the UNREGISTERED that revokes a
// registration this node gave up (see yield).
const yieldReason = "another node of the cluster registered the procedure while this node was cut off"

// yield gives key up to the node of slot, which registered it while this
// node was cut off, in a way that excludes this node's callees (policy
// single, or another policy than reg's): the procedure must have one
// holder in the cluster. The router revokes the registration from this
// node's callees (UNREGISTERED with yieldReason, to those that announced
// registration revocation; their last one unclaims key), and the watch
// mirrors the holder's registration anew, which the local one kept out,
// so that this node's callers reach the holder's callees.
func (c *Cluster) yield(key string, reg router.ClusterRegistration, slot uint32, policy string) {
	c.mu.Lock()
	node, x := c.node, c.rpc
	c.mu.Unlock()
	if node == nil || x == nil {
		return
	}
	n := node.RevokeRegistration(reg.Realm, reg.Procedure, reg.Match, yieldReason)
	c.unclaimed(key)
	c.log.Warn("cluster: registration taken by another node while this node was cut off: revoked from this node's callees",
		"key", key, "slot", slot, "policy", policy, "callees", n)
	x.remirror(key)
}

// remirror makes the watch mirror the registrations of key anew, as if
// it had not seen them (a stand-in's REGISTER that the local
// registration refused is then made again).
func (x *rpc) remirror(key string) {
	x.mu.Lock()
	delete(x.held, key)
	x.mu.Unlock()
	select {
	case x.rewatch <- struct{}{}:
	default:
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
