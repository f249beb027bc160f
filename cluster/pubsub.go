package cluster

import (
	"errors"

	"github.com/nats-io/nats.go"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// realmSubjectLocked returns the subject prefix of realm's events. c.mu
// must be held.
func (c *Cluster) realmSubjectLocked(realm protocol.URI) string {
	rs, ok := c.realms[realm]
	if !ok {
		rs = realmSubject(c.cfg.Prefix, realm)
		c.realms[realm] = rs
	}
	return rs
}

// Subscribe implements [router.Cluster]: the node subscribes to the
// subject of s (see subject.go) and waits up to Config.SyncTimeout for
// the NATS server to confirm, so that events published on other nodes
// after the client read SUBSCRIBED reach it. While NATS is unreachable it
// does not wait: the subscription is made again on reconnection.
func (c *Cluster) Subscribe(s *router.ClusterSubscription) {
	c.mu.Lock()
	if c.node == nil {
		c.mu.Unlock()
		return
	}
	subject := filterSubject(c.realmSubjectLocked(s.Realm), s.Topic, s.Match)
	ns, err := c.nc.ChanSubscribe(subject, c.in)
	if err != nil {
		c.mu.Unlock()
		c.log.Error("cluster: subscribe", "realm", string(s.Realm), "topic", string(s.Topic),
			"match", string(s.Match), "subject", subject, "error", err)
		return
	}
	// Chan subscriptions have no pending limits of their own: the
	// channel's capacity is the limit.
	c.subs[ns] = s
	c.byRouter[s] = ns
	c.mu.Unlock()
	if c.cfg.SyncTimeout > 0 && c.nc.IsConnected() {
		if err := c.nc.FlushTimeout(c.cfg.SyncTimeout); err != nil {
			c.log.Warn("cluster: subscription not confirmed by NATS", "subject", subject, "error", err)
		}
	}
}

// Unsubscribe implements [router.Cluster].
func (c *Cluster) Unsubscribe(s *router.ClusterSubscription) {
	c.mu.Lock()
	ns := c.byRouter[s]
	if ns == nil {
		c.mu.Unlock()
		return
	}
	delete(c.byRouter, s)
	delete(c.subs, ns)
	c.mu.Unlock()
	if n, err := ns.Dropped(); err == nil && n > 0 {
		c.dropped.Add(uint64(n))
	}
	if err := ns.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		c.log.Warn("cluster: unsubscribe", "subject", ns.Subject, "error", err)
	}
}

// Publish implements [router.Cluster]: the event is encoded once and
// published once on its topic's subject; the NATS servers carry it only
// to the nodes that subscribe to a matching subject. While NATS is
// unreachable, the NATS client keeps events in its reconnect buffer and
// sends them on reconnection; an event that does not fit, or is larger
// than the servers accept, is counted, logged and reported.
func (c *Cluster) Publish(ev *router.ClusterEvent) error {
	c.mu.Lock()
	rs := c.realmSubjectLocked(ev.Realm)
	c.mu.Unlock()
	bp := bufs.Get().(*[]byte)
	defer bufs.Put(bp)
	buf, err := encodeEvent((*bp)[:0], ev)
	if err == nil {
		*bp = buf
		err = c.nc.Publish(topicSubject(rs, ev.Topic), buf)
	}
	if err != nil {
		c.forwardFailed.Add(1)
		c.failLog.log(c.log, "cluster: event not forwarded to other nodes", "realm", string(ev.Realm),
			"topic", string(ev.Topic), "error", err)
		return err
	}
	c.forwarded.Add(1)
	return nil
}

// deliver hands the messages of in to the router's subscriptions, one at
// a time and in order, until stop is closed; it closes done when it
// returns.
func (c *Cluster) deliver(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	var ev router.ClusterEvent
	var last []byte // the envelope decoded into ev
	for {
		var m *nats.Msg
		select {
		case <-stop:
			return
		case m = <-c.in:
		}
		c.mu.Lock()
		s := c.subs[m.Sub]
		c.mu.Unlock()
		if s == nil {
			continue // unsubscribed meanwhile
		}
		// A message that matches several subscriptions of the node
		// arrives once for each, one after the other: decode it once.
		if last == nil || ev.Realm != s.Realm || string(last) != string(m.Data) {
			if err := decodeEvent(m.Data, s.Realm, &ev); err != nil {
				last = nil
				c.dropped.Add(1)
				c.failLog.log(c.log, "cluster: event from another node dropped", "subject", m.Subject, "error", err)
				continue
			}
			last = m.Data
		}
		c.received.Add(1)
		s.Deliver(&ev)
	}
}
