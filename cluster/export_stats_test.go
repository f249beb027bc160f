package cluster

// NATSOutMsgs returns the number of NATS messages the node has published
// so far (its connection's statistics).
func (c *Cluster) NATSOutMsgs() uint64 { return c.nc.Stats().OutMsgs }
