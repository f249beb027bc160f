package cluster

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// Crash cuts the node off NATS as if its process died: it closes the
// connections without giving up its slot lease, which expires after
// Config.LeaseTTL. Close must still be called after it.
func (c *Cluster) Crash() { c.closeConns() }

// SetListingFilter makes every node of the process pass the live nodes
// its sweeps see through f (nil: none), which may drop nodes, as a
// listing of the lease bucket that ended early would; it returns how many
// were filtered so far. It does not touch what a meta procedure counts,
// which no listing decides (see lease.go).
func SetListingFilter(f func(map[uint32]string) map[uint32]string) func() int64 {
	var n atomic.Int64
	if f == nil {
		listingFilter.Store(nil)
		return n.Load
	}
	g := func(live map[uint32]string) map[uint32]string {
		n.Add(1)
		return f(live)
	}
	listingFilter.Store(&g)
	return n.Load
}

// Slot returns the node's slot.
func (c *Cluster) Slot() uint32 { return c.slot.Load() }

// BreakRelays makes the router end every relay session of the node (the
// sessions that make other nodes' calls here) as it ends a session that
// breaks the protocol: each gets a message no session may send once
// established, and the router answers with ABORT. It returns how many it
// broke.
func (c *Cluster) BreakRelays() int {
	x := c.attached()
	if x == nil {
		return 0
	}
	n := 0
	for _, r := range *x.relays.Load() {
		_ = r.link.Load().Send(&protocol.Hello{Realm: "realm1", Details: protocol.Dict{}})
		n++
	}
	return n
}

// CloseRelays ends every relay session of the node as if it ended by
// itself, without the cluster's knowing: the relays stay where calls
// from other nodes find them. It returns how many it closed.
func (c *Cluster) CloseRelays() int {
	x := c.attached()
	if x == nil {
		return 0
	}
	n := 0
	for _, r := range *x.relays.Load() {
		r.link.Load().Close()
		n++
	}
	return n
}

// BreakStandins makes the router end every stand-in session of the node
// (the sessions that register other nodes' procedures here) as it ends a
// session that breaks the protocol, as BreakRelays does. It returns how
// many it broke.
func (c *Cluster) BreakStandins() int {
	x := c.attached()
	if x == nil {
		return 0
	}
	n := 0
	for _, st := range *x.standins.Load() {
		_ = st.link.Load().Send(&protocol.Hello{Realm: "realm1", Details: protocol.Dict{}})
		n++
	}
	return n
}

// CloseStandins ends every stand-in session of the node as if its link
// closed without an ABORT, without the cluster's knowing. It returns how
// many it closed.
func (c *Cluster) CloseStandins() int {
	x := c.attached()
	if x == nil {
		return 0
	}
	n := 0
	for _, st := range *x.standins.Load() {
		st.link.Load().Close()
		n++
	}
	return n
}

// HoldSender lowers the bound of the node's queues to other nodes to
// limit bytes and stops the node's sender from publishing until the
// returned release is called (which also restores the bound).
func (c *Cluster) HoldSender(limit int64) (release func()) {
	x := c.attached()
	x.out.limit.Store(limit)
	x.out.round.Lock()
	return func() {
		x.out.limit.Store(c.cfg.CallQueueBytes)
		x.out.round.Unlock()
	}
}

// FrameSize returns what a frame of m counts against a queue's bound.
func FrameSize(m protocol.Message) int64 {
	return frameCost + int64(router.MessageSize(m))
}

// Queued returns how many frames wait in the node's queues.
func (c *Cluster) Queued() int {
	x := c.attached()
	return x.out.waiting()
}

// attached returns the node's rpc while its router is attached, or nil.
func (c *Cluster) attached() *rpc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rpc
}

// SetSessionListingFilter makes every node of the process pass the keys
// its listings of the session records find through f (nil: none), which
// may drop keys, as a listing that ended early would.
func SetSessionListingFilter(f func([]string) []string) {
	if f == nil {
		sessionListingFilter.Store(nil)
		return
	}
	sessionListingFilter.Store(&f)
}

// LoseFrames makes the nodes of the process drop the next n messages of
// call frames they receive, as if NATS had lost them on the way, and
// returns how many of them are still to drop.
func LoseFrames(n int64) (left func() int64) {
	lostFrames.Store(n)
	return lostFrames.Load
}

// ReconnectFrames makes the node's frames connection reconnect to NATS
// at once, as after losing it.
func (c *Cluster) ReconnectFrames() error { return c.fc.ForceReconnect() }

// HoldCounts stops the node's writes of its callee counts and claims
// (see writeClaims) until release.
func (c *Cluster) HoldCounts() (release func()) {
	c.claimHold.Lock()
	return c.claimHold.Unlock
}

// FlushCounts returns once the node has no callee count or claim left to
// write.
func (c *Cluster) FlushCounts(ctx context.Context) error {
	for {
		c.claimsMu.Lock()
		done := len(c.pending) == 0 && !c.writing
		c.claimsMu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

// RegCounts returns the revision of the bucket's key of a shared
// registration of procedure in realm (exact match) and its counts of
// callees by node slot.
func (c *Cluster) RegCounts(ctx context.Context, realm, procedure protocol.URI) (uint64, map[uint32]int, error) {
	e, err := c.regsKV().Get(ctx, regKeyOf(realm, procedure, protocol.MatchExact))
	if err != nil {
		return 0, nil, err
	}
	return e.Revision(), decodeReg(e.Value()).Counts, nil
}

// FlushRecords waits until the session records queued so far are
// written (or failed).
func (c *Cluster) FlushRecords() { c.flushRecords() }

// HasSessionRecord reports whether the node's record of session is in
// the bucket.
func (c *Cluster) HasSessionRecord(ctx context.Context, session protocol.ID) bool {
	_, err := c.sessions.Get(ctx, c.sessionKey(session))
	return err == nil
}

// FailLeaseReads makes the node's next n reads of another node's lease
// fail, as when the bucket cannot be read (see holdsLease); it returns
// how many are left to fail.
func (c *Cluster) FailLeaseReads(n int64) (left func() int64) {
	c.leaseReadFails.Store(n)
	return c.leaseReadFails.Load
}

// Recheck makes the node check all its session records, as it does when
// it is back after claiming its lease again, and waits until it has; it
// returns how many records the check read one by one.
func (c *Cluster) Recheck(ctx context.Context) (gets int64, err error) {
	n, g := c.rechecked.Load(), c.recheckGets.Load()
	c.recheckSessions(true)
	for c.rechecked.Load() == n {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return c.recheckGets.Load() - g, nil
}

// DeleteSessionRecord deletes the node's record of session, as another
// node that found this one gone does.
func (c *Cluster) DeleteSessionRecord(ctx context.Context, session protocol.ID) error {
	return c.sessions.Delete(ctx, c.sessionKey(session))
}
