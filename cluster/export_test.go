package cluster

import "sync/atomic"

// Crash cuts the node off NATS as if its process died: it closes the
// connection without giving up its slot lease, which expires after
// Config.LeaseTTL. Close must still be called after it.
func (c *Cluster) Crash() { c.nc.Close() }

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
