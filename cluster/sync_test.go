package cluster_test

import (
	"fmt"
	"testing"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// TestCallRightAfterRegistered calls, from the other nodes, procedures
// whose callee has just read REGISTERED, exact and pattern ones: each call
// must reach the callee, as on a single router, and not fail with
// wamp.error.no_such_procedure because the registration has not reached
// the caller's node yet. The interop peers do just that: a peer registers,
// says it is ready, and a caller on another node calls at once.
func TestCallRightAfterRegistered(t *testing.T) {
	nodes := startNodes(t, startNATS(t), 3, router.RealmConfig{})
	callee := nodes[0].join(t, client.Config{})
	callers := []*client.Client{nodes[1].join(t, client.Config{}), nodes[2].join(t, client.Config{})}
	ctx, cancel := testContext()
	defer cancel()
	for i := range 30 {
		for _, tc := range []struct {
			match protocol.MatchPolicy
			reg   string
			call  string
		}{
			{protocol.MatchExact, "rpc.fresh.%d", "rpc.fresh.%d"},
			{protocol.MatchPrefix, "rpc.fresh_pfx.%d", "rpc.fresh_pfx.%d.x"},
			{protocol.MatchWildcard, "rpc.fresh_wc.%d.", "rpc.fresh_wc.%d.y"},
		} {
			register(t, callee, protocol.URI(fmt.Sprintf(tc.reg, i)), &client.RegisterOptions{Match: tc.match}, echo)
			for _, c := range callers {
				procedure := protocol.URI(fmt.Sprintf(tc.call, i))
				if _, err := c.Call(ctx, procedure, i); err != nil {
					t.Fatalf("call %s (%s) right after REGISTERED on another node: %v", procedure, tc.match, err)
				}
			}
		}
	}
}

// TestRegistrationMetaRightAfterRegistered asks, from the other nodes,
// for a registration whose callee has just read REGISTERED:
// wamp.registration.lookup, list and get must show it, as on a single
// router, not miss it because it has not reached the asking node yet.
func TestRegistrationMetaRightAfterRegistered(t *testing.T) {
	nodes := startNodes(t, startNATS(t), 3, router.RealmConfig{})
	callee := nodes[0].join(t, client.Config{})
	askers := []*client.Client{nodes[1].join(t, client.Config{}), nodes[2].join(t, client.Config{})}
	ctx, cancel := testContext()
	defer cancel()
	for i := range 20 {
		procedure := protocol.URI(fmt.Sprintf("rpc.meta_fresh.%d", i))
		register(t, callee, procedure, nil, echo)
		for _, c := range askers {
			res, err := c.Call(ctx, "wamp.registration.lookup", string(procedure))
			if err != nil || len(res.Args) != 1 || res.Args[0] == nil {
				t.Fatalf("lookup %s right after REGISTERED on another node = %v, %v; want its ID", procedure, res, err)
			}
			id := res.Args[0]
			res, err = c.Call(ctx, "wamp.registration.list")
			if err != nil || len(res.Args) != 1 {
				t.Fatalf("list = %v, %v", res, err)
			}
			lists, _ := res.Args[0].(protocol.Dict)
			exact, _ := lists["exact"].([]any)
			found := false
			for _, x := range exact {
				found = found || x == id
			}
			if !found {
				t.Fatalf("list right after REGISTERED on another node = %v, want %v among the exact", res.Args[0], id)
			}
		}
	}
}
