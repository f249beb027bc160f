package cluster

// Crash cuts the node off NATS as if its process died: it closes the
// connection without giving up its slot lease, which expires after
// Config.LeaseTTL. Close must still be called after it.
func (c *Cluster) Crash() { c.nc.Close() }
