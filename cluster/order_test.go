package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// TestFirstLastAcrossNodes: the callees of a shared registration with
// the policy first or last, registered in turn on three nodes, are
// picked in the order they registered in the cluster, from callers on
// every node, also after the first (or last) one left.
func TestFirstLastAcrossNodes(t *testing.T) {
	for _, tt := range []struct {
		invoke      string
		want, after int // the callee picked, and once it left
	}{
		{"first", 0, 1},
		{"last", 5, 4},
	} {
		t.Run(tt.invoke, func(t *testing.T) {
			nodes := startNodes(t, startNATS(t), 3, router.RealmConfig{})
			procedure := protocol.URI("order." + tt.invoke)
			callees := make([]*client.Client, 6)
			regs := make([]*client.Registration, 6)
			for i := range regs {
				callees[i] = nodes[i%3].join(t, client.Config{})
				regs[i] = registerShared(t, callees[i], procedure, tt.invoke, i)
			}
			var callers []*client.Client
			for _, n := range nodes {
				callers = append(callers, n.join(t, client.Config{}))
			}
			waitPicked(t, callers, procedure, tt.want)
			ctx, cancel := testContext()
			defer cancel()
			if err := callees[tt.want].Unregister(ctx, regs[tt.want]); err != nil {
				t.Fatal(err)
			}
			waitPicked(t, callers, procedure, tt.after)
		})
	}
}

// registerShared registers procedure with policy invoke on c, for a
// callee that answers n.
func registerShared(tb testing.TB, c *client.Client, procedure protocol.URI, invoke string, n int) *client.Registration {
	tb.Helper()
	ctx, cancel := testContext()
	defer cancel()
	reg, err := c.Register(ctx, procedure, func(context.Context, *client.Invocation) (*client.Result, error) {
		return &client.Result{Args: protocol.List{n}}, nil
	}, &client.RegisterOptions{Invoke: invoke})
	if err != nil {
		tb.Fatalf("Register(%s, %s) #%d: %v", procedure, invoke, n, err)
	}
	return reg
}

// waitPicked calls procedure from each of callers until it is callee
// want that answers, then checks that it keeps answering.
func waitPicked(tb testing.TB, callers []*client.Client, procedure protocol.URI, want int) {
	tb.Helper()
	for i, c := range callers {
		deadline := time.Now().Add(testTimeout)
		got := -1
		for got != want {
			res, err := callWhenThere(tb, c, &client.CallRequest{Procedure: procedure})
			if err != nil {
				tb.Fatalf("caller on node %d: %v", i, err)
			}
			got = argIntOf(res.Args)
			if got != want && time.Now().After(deadline) {
				tb.Fatalf("caller on node %d: callee %d answers, want %d", i, got, want)
			}
		}
	}
	for i, c := range callers {
		for range 3 {
			res, err := callWhenThere(tb, c, &client.CallRequest{Procedure: procedure})
			if err != nil || argIntOf(res.Args) != want {
				tb.Errorf("caller on node %d: %v, %v; want callee %d", i, res, err, want)
			}
		}
	}
}
