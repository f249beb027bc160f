package cluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Session ID ranges. The cluster keeps a JetStream key-value bucket,
// "<prefix>_nodes", with one key per claimed range, "slot.N", whose value
// is the node's name. A node claims a free range with a create-if-absent
// write (JetStream refuses the second writer), renews it every LeaseTTL/3
// with a write that names the revision it last wrote (so it notices when
// another node took the range over), and deletes it when it closes. The
// bucket's TTL removes the key of a node that died, LeaseTTL after its
// last renewal. Session IDs are thus unique over the cluster without a
// round trip per session, while each is still drawn at random from 2^43
// values (see Cluster.SessionID).

// slotKey returns the key of slot n.
func slotKey(n uint32) string { return "slot." + strconv.FormatUint(uint64(n), 10) }

// openBucket opens the key-value bucket of cfg, or makes it if it does
// not exist yet. The error wraps ErrNoJetStream when the NATS servers
// have no JetStream.
func (c *Cluster) openBucket(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	js, err := jetstream.New(c.nc)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, cfg)
	if errors.Is(err, jetstream.ErrBucketExists) {
		kv, err = js.KeyValue(ctx, cfg.Bucket)
	}
	if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
		return nil, fmt.Errorf("%w: %w", ErrNoJetStream, err)
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: open bucket %s: %w", cfg.Bucket, err)
	}
	return kv, nil
}

// claim opens the bucket and claims a free slot, starting at a random one
// (or at the node's own, when it claims again).
func (c *Cluster) claim(ctx context.Context) error {
	if c.kv == nil {
		kv, err := c.openBucket(ctx, jetstream.KeyValueConfig{
			Bucket:      c.cfg.Prefix + "_nodes",
			Description: "wampkit cluster: session ID ranges of the nodes",
			TTL:         c.cfg.LeaseTTL,
			Storage:     jetstream.FileStorage, // outlives a restart of NATS
			Replicas:    c.cfg.Replicas,
			History:     1,
		})
		if err != nil {
			return err
		}
		c.kv = kv
	}
	start := rand.Uint32N(slots)
	if c.rev != 0 {
		start = c.slot.Load()
	}
	for i := range uint32(slots) {
		n := (start + i) % slots
		ctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
		rev, err := c.kv.Create(ctx, slotKey(n), []byte(c.name))
		cancel()
		if errors.Is(err, jetstream.ErrKeyExists) {
			continue
		}
		if err != nil {
			return fmt.Errorf("cluster: claim a session ID range: %w", err)
		}
		c.slot.Store(n)
		c.rev = rev
		return nil
	}
	return ErrFull
}

// renew keeps the node's slot claimed until Close, claiming a new one if
// it was lost. It runs on a goroutine of its own.
func (c *Cluster) renew() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.LeaseTTL / 3)
	defer t.Stop()
	var recheckAt time.Time // when to check the session records (see below)
	for {
		select {
		case <-c.stop:
			return
		case now := <-t.C:
			if !recheckAt.IsZero() && now.After(recheckAt) {
				recheckAt = time.Time{}
				c.recheckSessions(true)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.LeaseTTL/3)
		rev, err := c.kv.Update(ctx, slotKey(c.slot.Load()), []byte(c.name), c.rev)
		cancel()
		switch {
		case err == nil:
			c.rev = rev
			continue
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyNotFound):
		default:
			c.failLog.log(c.log, "cluster: cannot renew the node's session ID range", "error", err)
			continue
		}
		// The claim expired (the node was cut off from NATS for longer
		// than LeaseTTL): claim again, the same slot if it is still
		// free. Sessions that joined before keep their IDs.
		old := c.slot.Load()
		ctx, cancel = context.WithTimeout(context.Background(), c.cfg.LeaseTTL)
		err = c.claim(ctx)
		cancel()
		if err != nil {
			c.log.Error("cluster: session ID range lost and not claimed again", "slot", old, "error", err)
			continue
		}
		c.log.Warn("cluster: session ID range claimed again", "old_slot", old, "slot", c.slot.Load())
		// The others may have taken this node for gone meanwhile and
		// published its sessions' on_leave and testaments: check the
		// session records once every sweep that began before the claim
		// is over (a sweep lasts kvTimeout at most).
		recheckAt = time.Now().Add(2 * kvTimeout)
	}
}

// release gives the node's slot up (Close).
func (c *Cluster) release() {
	if !c.nc.IsConnected() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.ConnectTimeout)
	defer cancel()
	if err := c.kv.Delete(ctx, slotKey(c.slot.Load()), jetstream.LastRevision(c.rev)); err != nil {
		c.log.Warn("cluster: release the session ID range", "error", err)
	}
}

// The nodes that hold a lease. A meta procedure waits for an answer from
// each other node, and the sweep (meta.go) checks the nodes it saw: both
// need the nodes of the lease bucket. Listing the bucket for each is
// neither cheap nor reliable: nats.go's key lister can end before its
// last key when leases are renewed while it lists, and a meta answer
// then leaves a live node out. So every node keeps the leases from a
// watch of the bucket, which sees every renewal (each LeaseTTL/3),
// release (a delete) and, as the bucket's TTL removes expired keys
// without a marker, drops a lease not renewed for LeaseTTL itself.

// leaseView is the node's view of the lease bucket.
type leaseView struct {
	mu    sync.Mutex
	nodes map[uint32]lease // guarded by mu; by slot
	// ready is closed once the current watch delivered the bucket's
	// keys, and replaced by an open one when a new watch starts;
	// guarded by mu, as is isReady (ready is closed).
	ready   chan struct{}
	isReady bool
	// rewatch asks the watch to start anew (after a reconnection to
	// NATS, whose servers may have lost the watch).
	rewatch chan struct{}
}

// lease is a slot's lease as the watch last saw it.
type lease struct {
	name string    // of the node that holds it
	seen time.Time // when the watch delivered its last write
}

func newLeaseView() *leaseView {
	return &leaseView{nodes: make(map[uint32]lease), ready: make(chan struct{}), rewatch: make(chan struct{}, 1)}
}

// watchLeases keeps c.leases until c closes. It runs on a goroutine of
// its own.
func (c *Cluster) watchLeases() {
	defer c.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	v := c.leases
	for ctx.Err() == nil {
		// Until the new watch delivers the bucket's keys, the view may
		// miss renewals made while the node was cut off.
		v.mu.Lock()
		if v.isReady {
			v.isReady = false
			v.ready = make(chan struct{})
		}
		v.mu.Unlock()
		w, err := c.kv.WatchAll(ctx)
		if err != nil {
			if ctx.Err() == nil {
				c.failLog.log(c.log, "cluster: cannot watch the nodes", "error", err)
			}
		} else {
			c.followLeases(ctx, w)
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// followLeases applies the updates of w until ctx ends, w ends or a
// rewatch is asked for.
func (c *Cluster) followLeases(ctx context.Context, w jetstream.KeyWatcher) {
	defer func() { _ = w.Stop() }()
	v := c.leases
	for {
		select {
		case <-ctx.Done():
			return
		case <-v.rewatch:
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil {
				v.mu.Lock()
				if !v.isReady {
					v.isReady = true
					close(v.ready)
				}
				v.mu.Unlock()
				continue
			}
			n, err := strconv.ParseUint(strings.TrimPrefix(e.Key(), "slot."), 10, 32)
			if err != nil || n >= slots {
				continue
			}
			v.mu.Lock()
			if e.Operation() == jetstream.KeyValuePut {
				v.nodes[uint32(n)] = lease{name: string(e.Value()), seen: time.Now()}
			} else {
				delete(v.nodes, uint32(n))
			}
			v.mu.Unlock()
		}
	}
}

// liveNodes returns the name of the node of each slot that holds a lease:
// one whose last write the watch saw less than LeaseTTL ago. Before the
// watch delivered the bucket's keys, it waits for them, at most until
// ctx ends; ok is false if they did not come.
func (c *Cluster) liveNodes(ctx context.Context) (live map[uint32]string, ok bool) {
	v := c.leases
	v.mu.Lock()
	ready := v.ready
	v.mu.Unlock()
	select {
	case <-ready:
	case <-ctx.Done():
		return nil, false
	}
	since := time.Now().Add(-c.cfg.LeaseTTL)
	v.mu.Lock()
	defer v.mu.Unlock()
	live = make(map[uint32]string, len(v.nodes))
	for slot, l := range v.nodes {
		if l.seen.After(since) {
			live[slot] = l.name
		} else {
			delete(v.nodes, slot) // expired: the bucket's TTL removed it
		}
	}
	return live, true
}
