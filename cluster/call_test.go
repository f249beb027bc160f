package cluster_test

import (
	"testing"
	"time"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// rpcRoles announces call canceling, progressive call results and
// progressive call invocations, as caller and callee.
func rpcRoles() protocol.Dict {
	features := map[string]any{
		"call_canceling":               true,
		"progressive_call_results":     true,
		"progressive_call_invocations": true,
	}
	return protocol.Dict{
		"caller": map[string]any{"features": features},
		"callee": map[string]any{"features": features},
	}
}

// rawJoinRPC joins the node's realm1 over an in-process link as a caller
// and callee that speaks WAMP messages.
func (n *node) rawJoinRPC(tb testing.TB) *rawPeer {
	tb.Helper()
	ctx, cancel := testContext()
	defer cancel()
	p, err := n.r.Connect(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	c := &rawPeer{tb: tb, p: p, in: make(chan protocol.Message, 1024)}
	go func() {
		defer close(c.in)
		for {
			m, err := p.Recv()
			if err != nil {
				return
			}
			c.in <- m
		}
	}()
	tb.Cleanup(func() {
		p.Close(nil)
		for range c.in {
		}
	})
	c.send(&protocol.Hello{Realm: realm1, Details: protocol.Dict{"roles": rpcRoles()}})
	if _, ok := c.recv().(*protocol.Welcome); !ok {
		tb.Fatal("no WELCOME")
	}
	return c
}

// expectMsg receives the next message of c and requires it to be a T.
func expectMsg[T protocol.Message](c *rawPeer) T {
	c.tb.Helper()
	m := c.recv()
	t, ok := m.(T)
	if !ok {
		c.tb.Fatalf("got %T %+v, want %T", m, m, t)
	}
	return t
}

// quiet requires that nothing arrives at c for a moment.
func (c *rawPeer) quiet() {
	c.tb.Helper()
	select {
	case m := <-c.in:
		c.tb.Fatalf("unexpected %T %+v", m, m)
	case <-time.After(50 * time.Millisecond):
	}
}

// rawCallWhenThere sends CALL req of procedure from c until the answer is
// not wamp.error.no_such_procedure, and returns the INVOCATION callee
// receives for it.
func rawCallWhenThere(tb testing.TB, c, callee *rawPeer, req *protocol.ID, procedure protocol.URI) *protocol.Invocation {
	tb.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		*req++
		c.send(&protocol.Call{Request: *req, Options: protocol.Dict{}, Procedure: procedure})
		select {
		case m := <-c.in:
			e, ok := m.(*protocol.Error)
			if !ok || e.URI != protocol.ErrNoSuchProcedure {
				tb.Fatalf("CALL %s: %T %+v", procedure, m, m)
			}
		case m := <-callee.in:
			inv, ok := m.(*protocol.Invocation)
			if !ok {
				tb.Fatalf("callee got %T %+v, want INVOCATION", m, m)
			}
			return inv
		case <-time.After(testTimeout):
			tb.Fatalf("CALL %s: no answer", procedure)
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: still no such procedure after %v", procedure, testTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCancelModesAcrossNodes cancels calls whose callee is on another
// node with each mode (spec advanced "Call Canceling"): skip answers the
// caller and leaves the callee alone, killnowait answers the caller and
// interrupts the callee, and kill interrupts the callee with mode kill
// and passes its answer on to the caller.
func TestCancelModesAcrossNodes(t *testing.T) {
	nodes := startNodes(t, startNATS(t), 2, router.RealmConfig{})
	callee := nodes[1].rawJoinRPC(t)
	callee.send(&protocol.Register{Request: 1, Options: protocol.Dict{}, Procedure: "rpc.cancel"})
	expectMsg[*protocol.Registered](callee)
	caller := nodes[0].rawJoinRPC(t)
	var req protocol.ID
	probe := rawCallWhenThere(t, caller, callee, &req, "rpc.cancel")
	callee.send(&protocol.Yield{Request: probe.Request, Options: protocol.Dict{}})
	expectMsg[*protocol.Result](caller)

	call := func() *protocol.Invocation {
		req++
		caller.send(&protocol.Call{Request: req, Options: protocol.Dict{}, Procedure: "rpc.cancel"})
		return expectMsg[*protocol.Invocation](callee)
	}
	cancel := func(mode string) {
		caller.send(&protocol.Cancel{Request: req, Options: protocol.Dict{"mode": mode}})
	}

	t.Run("skip", func(t *testing.T) {
		inv := call()
		cancel("skip")
		if e := expectMsg[*protocol.Error](caller); e.Request != req || e.URI != protocol.ErrCanceled {
			t.Errorf("caller got ERROR %d %s, want %d %s", e.Request, e.URI, req, protocol.ErrCanceled)
		}
		callee.quiet()
		// The callee's late answer is dropped.
		callee.send(&protocol.Yield{Request: inv.Request, Options: protocol.Dict{}})
		caller.quiet()
	})
	t.Run("killnowait", func(t *testing.T) {
		inv := call()
		cancel("killnowait")
		if e := expectMsg[*protocol.Error](caller); e.Request != req || e.URI != protocol.ErrCanceled {
			t.Errorf("caller got ERROR %d %s, want %d %s", e.Request, e.URI, req, protocol.ErrCanceled)
		}
		if i := expectMsg[*protocol.Interrupt](callee); i.Request != inv.Request || i.Options.String("mode") != "killnowait" {
			t.Errorf("callee got INTERRUPT %d %v, want %d killnowait", i.Request, i.Options, inv.Request)
		}
		callee.send(&protocol.Error{RequestType: protocol.TypeInvocation, Request: inv.Request, Details: protocol.Dict{}, URI: "com.example.stopped"})
		caller.quiet()
	})
	t.Run("kill", func(t *testing.T) {
		inv := call()
		cancel("kill")
		if i := expectMsg[*protocol.Interrupt](callee); i.Request != inv.Request || i.Options.String("mode") != "kill" {
			t.Errorf("callee got INTERRUPT %d %v, want %d kill", i.Request, i.Options, inv.Request)
		}
		caller.quiet() // the caller waits for the callee's answer
		callee.send(&protocol.Error{RequestType: protocol.TypeInvocation, Request: inv.Request, Details: protocol.Dict{},
			URI: "com.example.stopped", Args: protocol.List{"by request"}})
		e := expectMsg[*protocol.Error](caller)
		if e.Request != req || e.URI != "com.example.stopped" || len(e.Args) != 1 || e.Args[0] != "by request" {
			t.Errorf("caller got ERROR %d %s %v, want the callee's %d com.example.stopped [by request]", e.Request, e.URI, e.Args, req)
		}
	})
}
