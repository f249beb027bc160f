package cluster_test

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/cluster"
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
	c, _ := n.rawJoinAs(tb, rpcRoles())
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

// rawCallPair joins a raw callee of procedure on nodes[1] and a raw
// caller on nodes[0], and calls the procedure until the call reaches the
// callee (answering it): it returns both sessions and the caller's last
// request ID.
func rawCallPair(tb testing.TB, nodes []*node, procedure protocol.URI) (caller, callee *rawPeer, req protocol.ID) {
	tb.Helper()
	callee = nodes[1].rawJoinRPC(tb)
	callee.send(&protocol.Register{Request: 1, Options: protocol.Dict{}, Procedure: procedure})
	expectMsg[*protocol.Registered](callee)
	caller = nodes[0].rawJoinRPC(tb)
	probe := rawCallWhenThere(tb, caller, callee, &req, procedure)
	callee.send(&protocol.Yield{Request: probe.Request, Options: protocol.Dict{}})
	expectMsg[*protocol.Result](caller)
	return caller, callee, req
}

// TestCancelModesAcrossNodes cancels calls whose callee is on another
// node with each mode (spec advanced "Call Canceling"): skip answers the
// caller and leaves the callee alone, killnowait answers the caller and
// interrupts the callee, and kill interrupts the callee with mode kill
// and passes its answer on to the caller.
func TestCancelModesAcrossNodes(t *testing.T) {
	nodes := startNodes(t, startNATS(t), 2, router.RealmConfig{})
	caller, callee, req := rawCallPair(t, nodes, "rpc.cancel")

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

// streamEcho is a callee that reads a progressive call invocation's
// chunks and sends each back as a progressive result, then returns the
// number of chunks. It reports each invocation on started.
func streamEcho(started chan<- struct{}) client.InvocationHandler {
	return func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		if started != nil {
			started <- struct{}{}
		}
		n := 0
		send := func(args protocol.List) error {
			n++
			if inv.ReceiveProgress() {
				return inv.SendProgress(ctx, args, nil)
			}
			return nil
		}
		if err := send(inv.Args); err != nil {
			return nil, err
		}
		for {
			ch, err := inv.Recv(ctx)
			if err == io.EOF {
				return &client.Result{Args: protocol.List{n}}, nil
			}
			if err != nil {
				return nil, err
			}
			if err := send(ch.Args); err != nil {
				return nil, err
			}
		}
	}
}

// TestProgressiveInvocationsAcrossNodes streams the arguments of calls
// from two nodes to a callee on a third (spec advanced "Progressive Call
// Invocations"): every chunk arrives in order, progressive results flow
// back while the caller still streams, and a stream canceled by its
// caller interrupts the callee.
func TestProgressiveInvocationsAcrossNodes(t *testing.T) {
	nodes := startNodes(t, startNATS(t), 3, router.RealmConfig{})
	started := make(chan struct{}, 16)
	register(t, nodes[1].join(t, client.Config{}), "rpc.stream", nil, streamEcho(started))
	holding, interrupted := make(chan struct{}, 1), make(chan struct{}, 1)
	register(t, nodes[1].join(t, client.Config{}), "rpc.hold", nil, func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		holding <- struct{}{}
		for {
			if _, err := inv.Recv(ctx); err != nil {
				if ctx.Err() != nil {
					interrupted <- struct{}{}
				}
				return nil, err
			}
		}
	})
	// Registered last: once it is callable on a node, so are the others
	// (the nodes apply the registrations in order).
	register(t, nodes[1].join(t, client.Config{}), "rpc.plain", nil, echo)
	callers := []*client.Client{nodes[0].join(t, client.Config{}), nodes[2].join(t, client.Config{})}
	for _, c := range callers {
		if _, err := callWhenThere(t, c, &client.CallRequest{Procedure: "rpc.plain"}); err != nil {
			t.Fatal(err)
		}
	}

	const chunks = 50
	var wg sync.WaitGroup
	for i, c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := testContext()
			defer cancel()
			var got []int
			s, err := c.DoStream(ctx, &client.CallRequest{Procedure: "rpc.stream", Args: protocol.List{0},
				OnProgress: func(r *client.Result) error {
					got = append(got, argIntOf(r.Args))
					return nil
				}})
			if err != nil {
				t.Errorf("caller %d: DoStream: %v", i, err)
				return
			}
			for k := 1; k < chunks; k++ {
				if err := s.Send(ctx, protocol.List{k}, nil); err != nil {
					t.Errorf("caller %d: chunk %d: %v", i, k, err)
					return
				}
			}
			if err := s.CloseSend(ctx, protocol.List{chunks}, nil); err != nil {
				t.Errorf("caller %d: final chunk: %v", i, err)
				return
			}
			res, err := s.Result(ctx)
			if err != nil || len(res.Args) != 1 || argIntOf(res.Args) != chunks+1 {
				t.Errorf("caller %d: result %+v, %v; want [%d]", i, res, err, chunks+1)
				return
			}
			for k, v := range got {
				if v != k {
					t.Errorf("caller %d: progressive results %v, want 0..%d in order", i, got, chunks)
					return
				}
			}
			if len(got) != chunks+1 {
				t.Errorf("caller %d: %d progressive results, want %d", i, len(got), chunks+1)
			}
		}()
	}
	wg.Wait()
	for range callers {
		waitSignal(t, started, "the streams' invocations")
	}

	// A stream canceled by its caller interrupts the callee, whose
	// handler sees its context end.
	ctx, cancel := testContext()
	s, err := callers[0].DoStream(ctx, &client.CallRequest{Procedure: "rpc.hold", Args: protocol.List{0}})
	if err != nil {
		t.Fatal(err)
	}
	waitSignal(t, holding, "the held stream's invocation")
	if err := s.Send(ctx, protocol.List{1}, nil); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := s.Result(context.Background()); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled stream = %v, want context.Canceled", err)
	}
	waitSignal(t, interrupted, "the callee's interruption")
}

// TestCalleeNodeDiesMidStream: the callee's node leaves the cluster while
// a caller streams a call's arguments to it: the call fails on the
// caller's node with wamp.error.canceled, later chunks are discarded, and
// the procedure, registered again on another node, takes streams again.
func TestCalleeNodeDiesMidStream(t *testing.T) {
	nodes := startNodes(t, startNATS(t), 3, router.RealmConfig{})
	holding := make(chan struct{}, 1)
	register(t, nodes[1].join(t, client.Config{}), "rpc.upload", nil, func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		holding <- struct{}{}
		for {
			if _, err := inv.Recv(ctx); err != nil {
				return nil, err
			}
		}
	})
	caller := nodes[0].join(t, client.Config{})
	ctx, cancel := testContext()
	defer cancel()
	var s *client.CallStream
	result := make(chan error, 1)
	deadline := time.Now().Add(testTimeout)
	for s == nil {
		st, err := caller.DoStream(ctx, &client.CallRequest{Procedure: "rpc.upload", Args: protocol.List{0}})
		if err != nil {
			t.Fatal(err)
		}
		res := make(chan error, 1)
		go func() {
			_, err := st.Result(ctx)
			res <- err
		}()
		select {
		case <-holding:
			s, result = st, res
		case err := <-res:
			// Not there yet: no such procedure.
			if !isErrURI(err, protocol.ErrNoSuchProcedure) || time.Now().After(deadline) {
				t.Fatalf("stream before the procedure is known: %v", err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	for k := 1; k <= 3; k++ {
		if err := s.Send(ctx, protocol.List{k}, nil); err != nil {
			t.Fatal(err)
		}
	}
	nodes[1].c.Close() // as if the node died: its NATS connection is gone
	if err := <-result; !isErrURI(err, protocol.ErrCanceled) {
		t.Errorf("stream to the dead node = %v, want ERROR %s", err, protocol.ErrCanceled)
	}
	// Chunks after the end are discarded (the client may refuse them).
	_ = s.Send(ctx, protocol.List{4}, nil)
	waitGone(t, caller, "rpc.upload")

	registerWhenFree(t, nodes[2].join(t, client.Config{}), "rpc.upload", streamEcho(nil))
	deadline = time.Now().Add(testTimeout)
	for {
		st, err := caller.DoStream(ctx, &client.CallRequest{Procedure: "rpc.upload", Args: protocol.List{"a"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CloseSend(ctx, protocol.List{"b"}, nil); err != nil {
			t.Fatal(err)
		}
		res, err := st.Result(ctx)
		if isErrURI(err, protocol.ErrNoSuchProcedure) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		if err != nil || argIntOf(res.Args) != 2 {
			t.Errorf("stream to the new callee = %+v, %v; want [2]", res, err)
		}
		break
	}
}

// startNodesConfig is startNodes with a router config of the test's own
// (its Realms default to realm1, its Logger to none).
func startNodesConfig(tb testing.TB, url string, n int, cfg router.Config) []*node {
	tb.Helper()
	return startNodesWith(tb, url, n, cfg, cluster.Config{})
}

// TestCallTooLargeForNATS: a call whose payload is larger than the NATS
// servers take fails at once with ERROR wamp.error.payload_size_exceeded,
// and calls after it go on, also with Config.StrictRequestIDs (the nodes'
// own sessions are not held to the clients' request ID sequence).
func TestCallTooLargeForNATS(t *testing.T) {
	nodes := startNodesConfig(t, startNATS(t), 2, router.Config{StrictRequestIDs: true})
	register(t, nodes[1].join(t, client.Config{}), "rpc.echo", nil, echo)
	caller := nodes[0].join(t, client.Config{})
	if _, err := callWhenThere(t, caller, &client.CallRequest{Procedure: "rpc.echo"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := testContext()
	defer cancel()
	big := make([]byte, 2<<20)
	if _, err := caller.Call(ctx, "rpc.echo", big); !isErrURI(err, protocol.ErrPayloadSizeExceeded) {
		t.Errorf("call of %d bytes = %v, want ERROR %s", len(big), err, protocol.ErrPayloadSizeExceeded)
	}
	for i := range 3 {
		if res, err := caller.Call(ctx, "rpc.echo", i); err != nil || argIntOf(res.Args) != i {
			t.Errorf("call %d after the large one = %+v, %v", i, res, err)
		}
	}
}

// TestLateChunkAfterRelayEnds: a chunk of a progressive call invocation
// that reaches the callee's node after the session that made the call
// there (its relay) ended does not start a call of its own through the
// next relay: its caller got ERROR wamp.error.canceled, and the spec
// (advanced "Progressive Call Invocations", "Continuations on Completed
// Calls") has a dealer discard such a CALL without reply. The callee's
// node's sender is held so that the chunk leaves the caller's node before
// the caller learns that its call ended.
func TestLateChunkAfterRelayEnds(t *testing.T) {
	nodes := startNodes(t, startNATS(t), 2, router.RealmConfig{})
	caller, callee, req := rawCallPair(t, nodes, "rpc.stream")

	req++
	stream := req
	caller.send(&protocol.Call{Request: stream, Options: protocol.Dict{"progress": true}, Procedure: "rpc.stream", Args: protocol.List{"first"}})
	inv := expectMsg[*protocol.Invocation](callee)
	var once sync.Once
	hold := nodes[1].c.HoldSender(1 << 30)
	release := func() { once.Do(hold) }
	defer release()
	if n := nodes[1].c.CloseRelays(); n != 1 {
		t.Fatalf("closed %d relays, want 1", n)
	}
	// The relay's call is interrupted (its caller, the relay, left).
	if i := expectMsg[*protocol.Interrupt](callee); i.Request != inv.Request {
		t.Fatalf("INTERRUPT %d, want %d", i.Request, inv.Request)
	}
	// The caller's node does not know yet: the chunk crosses.
	caller.send(&protocol.Call{Request: stream, Options: protocol.Dict{"progress": true}, Procedure: "rpc.stream", Args: protocol.List{"late"}})
	// Frames to a node are handled in order: once the next call reached
	// the callee, the chunk was handled.
	req++
	caller.send(&protocol.Call{Request: req, Options: protocol.Dict{}, Procedure: "rpc.stream", Args: protocol.List{"next"}})
	next := expectMsg[*protocol.Invocation](callee)
	if len(next.Args) != 1 || next.Args[0] != "next" {
		t.Fatalf("callee got INVOCATION %v %v, want the next call's [next] (the late chunk must not start a call)", next.Details, next.Args)
	}
	release()
	if e := expectMsg[*protocol.Error](caller); e.Request != stream || e.URI != protocol.ErrCanceled {
		t.Errorf("caller got ERROR %d %s, want %d %s", e.Request, e.URI, stream, protocol.ErrCanceled)
	}
	callee.send(&protocol.Yield{Request: next.Request, Options: protocol.Dict{}, Args: protocol.List{"done"}})
	if r := expectMsg[*protocol.Result](caller); r.Request != req {
		t.Errorf("caller got RESULT %d, want %d", r.Request, req)
	}
	callee.quiet()
	if n := nodes[1].c.Stats().LateChunks; n != 1 {
		t.Errorf("Stats().LateChunks = %d, want 1", n)
	}
}
