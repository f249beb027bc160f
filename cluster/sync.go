package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wampkit/wampkit/router"
)

// Catching up with the registrations (router.ClusterSync).
//
// A node learns of another node's registrations from its watch of the
// registrations bucket, a moment after the other node answered
// REGISTERED. A CALL that finds no callee asks the bucket for its last
// revision (one JetStream request, STREAM.INFO) and waits until the
// watch has applied that revision, which includes every registration
// recorded before the CALL arrived: the watch registers another node's
// procedure here (mirror) before it counts the revision as applied. Only
// misses pay; they are rare in a working system, and each session makes
// at most one at a time. This was chosen over a REGISTERED that waits
// until every node has the procedure, because REGISTER holds the realm's
// dealer while the cluster claims the procedure: two nodes registering at
// once would each wait for the other's dealer.

var _ router.ClusterSync = (*Cluster)(nil)

// regSync is the revision of the registrations bucket that the watch has
// applied.
type regSync struct {
	mu       sync.Mutex
	applied  uint64        // guarded by mu: the revision of the last change applied
	advanced chan struct{} // guarded by mu: closed, and replaced, when applied grows
}

// advance records that the watch applied revision rev.
func (s *regSync) advance(rev uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rev <= s.applied {
		return
	}
	s.applied = rev
	if s.advanced != nil {
		close(s.advanced)
		s.advanced = nil
	}
}

// wait returns once the watch has applied revision rev, or ctx ended.
func (s *regSync) wait(ctx context.Context, rev uint64) error {
	for {
		s.mu.Lock()
		if s.applied >= rev {
			s.mu.Unlock()
			return nil
		}
		if s.advanced == nil {
			s.advanced = make(chan struct{})
		}
		ch := s.advanced
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("cluster: registrations revision %d not applied: %w", rev, ctx.Err())
		}
	}
}

// SyncRegistrations implements [router.ClusterSync]: it returns once the
// node has applied every change of the registrations bucket made before
// the call, or ctx ended first, or the bucket cannot be read.
func (c *Cluster) SyncRegistrations(ctx context.Context) error {
	c.mu.Lock()
	x := c.rpc
	c.mu.Unlock()
	if x == nil {
		return ErrClosed
	}
	st, err := c.regsKV().Status(ctx)
	if err != nil {
		return fmt.Errorf("cluster: registrations bucket: %w", err)
	}
	bs, ok := st.(*jetstream.KeyValueBucketStatus)
	if !ok {
		return errors.New("cluster: registrations bucket: no stream state")
	}
	return x.synced.wait(ctx, bs.StreamInfo().State.LastSeq)
}
