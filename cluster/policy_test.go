package cluster_test

import (
	"fmt"
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
				// Every node has applied every registration: the count
				// below sees the cluster as it is.
				ctx, cancel := testContext()
				err := n.c.SyncRegistrations(ctx)
				cancel()
				if err != nil {
					t.Fatal(err)
				}
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
