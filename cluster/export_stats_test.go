package cluster

// NATSOutMsgs returns the number of messages the node has published on
// its NATS connections so far.
func (c *Cluster) NATSOutMsgs() uint64 { return c.nc.Stats().OutMsgs + c.fc.Stats().OutMsgs }
