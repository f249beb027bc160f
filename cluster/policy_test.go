package cluster_test

import (
	"fmt"
	"maps"
	"math"
	"sync"
	"testing"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// TestSharedPoliciesSpreadOverCallees: a shared registration with one
// callee on one node and three on another spreads the calls of a caller
// on either node over the four callees alike (spec advanced "Shared
// Registration"): random picks each callee with probability 1/4, not the
// lone callee's node half of the time, and roundrobin visits every callee
// of the cluster once per cycle. It counts picks over many calls and
// checks each callee's share within a wide bound (for random, over 7
// standard deviations).
func TestSharedPoliciesSpreadOverCallees(t *testing.T) {
	for _, invoke := range []string{"random", "roundrobin"} {
		t.Run(invoke, func(t *testing.T) {
			nodes := startNodes(t, startNATS(t), 2, router.RealmConfig{})
			procedure := protocol.URI("spread." + invoke)
			// Callee 0 on node 0, callees 1 to 3 on node 1.
			for i := range 4 {
				registerShared(t, nodes[min(i, 1)].join(t, client.Config{}), procedure, invoke, i)
			}
			for i, n := range nodes {
				caller := n.join(t, client.Config{})
				if _, err := callWhenThere(t, caller, &client.CallRequest{Procedure: procedure}); err != nil {
					t.Fatal(err)
				}
				// Every node has recorded its count of callees, and this
				// one has applied every registration: the count below
				// sees the cluster as it is.
				syncCounts(t, nodes, n)
				t.Run(fmt.Sprintf("caller on node %d", i), func(t *testing.T) {
					checkSpread(t, caller, procedure, 4)
				})
			}
		})
	}
}

// checkSpread makes 4000 calls of procedure from c, 8 at a time, and
// checks that each of the callees (answering 0 to n-1) got its share.
func checkSpread(t *testing.T, c *client.Client, procedure protocol.URI, n int) {
	const calls, parallel = 4000, 8
	counts := make([]int, n)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := testContext()
			defer cancel()
			for range calls / parallel {
				res, err := c.Call(ctx, procedure)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				counts[argIntOf(res.Args)]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	want := float64(calls) / float64(n)
	// p = 1/4: sd = sqrt(4000 x 1/4 x 3/4) = 27 calls; 200 is 7 sd.
	for i, got := range counts {
		if math.Abs(float64(got)-want) > 200 {
			t.Errorf("callee %d got %d of %d calls, want about %.0f (all: %v)", i, got, calls, want, counts)
		}
	}
}

// syncCounts waits until every node recorded its counts of callees and
// then until n has applied them.
func syncCounts(tb testing.TB, nodes []*node, n *node) {
	tb.Helper()
	ctx, cancel := testContext()
	defer cancel()
	for _, m := range nodes {
		if err := m.c.FlushCounts(ctx); err != nil {
			tb.Fatal(err)
		}
	}
	if err := n.c.SyncRegistrations(ctx); err != nil {
		tb.Fatal(err)
	}
}

// TestPoolGrowsWithoutBucketWrites registers a pool of roundrobin
// callees on one node, with its writes of callee counts held: only the
// node's first callee writes the registrations bucket, the others wait
// for nothing (a REGISTER holds the realm's dealer lock), and the value
// holds one count per node, not one entry per callee. Once the writes
// go on, the node's count reaches the bucket in a write or two, and the
// other node spreads its calls over all the callees.
func TestPoolGrowsWithoutBucketWrites(t *testing.T) {
	const pool = 60
	nodes := startNodes(t, startNATS(t), 2, router.RealmConfig{})
	procedure := protocol.URI("pool.rr")
	registerShared(t, nodes[1].join(t, client.Config{}), procedure, "roundrobin", 0)
	caller := nodes[1].join(t, client.Config{})
	release := nodes[0].c.HoldCounts()
	registerShared(t, nodes[0].join(t, client.Config{}), procedure, "roundrobin", 1)
	ctx, cancel := testContext()
	defer cancel()
	first, counts, err := nodes[0].c.RegCounts(ctx, realm1, procedure)
	if err != nil {
		t.Fatal(err)
	}
	slot0, slot1 := nodes[0].c.Slot(), nodes[1].c.Slot()
	if want := map[uint32]int{slot0: 1, slot1: 1}; !maps.Equal(counts, want) {
		t.Fatalf("counts after the first callee of each node: %v, want %v", counts, want)
	}
	for i := 2; i <= pool; i++ {
		registerShared(t, nodes[0].join(t, client.Config{}), procedure, "roundrobin", i)
	}
	rev, _, err := nodes[0].c.RegCounts(ctx, realm1, procedure)
	if err != nil {
		t.Fatal(err)
	}
	if rev != first {
		t.Errorf("the registrations of the pool wrote the bucket %d times, want none", rev-first)
	}
	release()
	syncCounts(t, nodes, nodes[1])
	rev, counts, err = nodes[0].c.RegCounts(ctx, realm1, procedure)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[uint32]int{slot0: pool, slot1: 1}; !maps.Equal(counts, want) {
		t.Errorf("counts: %v, want %v", counts, want)
	}
	if rev-first > 2 {
		t.Errorf("the pool's count took %d writes, want 1 or 2", rev-first)
	}
	// The other node weighs the first node by its callees: 1 in pool+1
	// calls goes to its own callee.
	const calls = (pool + 1) * 40
	own := 0
	for range calls {
		res, err := caller.Call(ctx, procedure)
		if err != nil {
			t.Fatal(err)
		}
		if argIntOf(res.Args) == 0 {
			own++
		}
	}
	if own != calls/(pool+1) {
		t.Errorf("node 1's own callee got %d of %d roundrobin calls, want %d", own, calls, calls/(pool+1))
	}
}
