package router_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// streamRoles is the HELLO role announcement of test clients that use
// progressive call invocations as caller and callee.
func streamRoles() protocol.Dict {
	features := map[string]any{
		"progressive_call_results":     true,
		"progressive_call_invocations": true,
		"call_canceling":               true,
	}
	return protocol.Dict{
		"caller": map[string]any{"features": features},
		"callee": map[string]any{"features": features},
	}
}

// joinStreams connects to r and joins realm1 announcing progressive call
// invocations.
func joinStreams(tb testing.TB, r *router.Router) *testPeer {
	tb.Helper()
	c := connect(tb, r)
	c.hello(realm1, protocol.Dict{"roles": streamRoles()})
	return c
}

var progressOpt = protocol.Dict{"progress": true}

// expectInvocation receives an INVOCATION and checks its request ID,
// progress flag and first argument; id 0 accepts any request ID.
func expectInvocation(tb testing.TB, callee *testPeer, id protocol.ID, progress bool, arg any) *protocol.Invocation {
	tb.Helper()
	inv := expect[*protocol.Invocation](callee)
	if id != 0 && inv.Request != id || inv.Details.Bool("progress") != progress || len(inv.Args) == 0 || inv.Args[0] != arg {
		tb.Fatalf("got INVOCATION %d %v %v, want %d progress=%v [%v]", inv.Request, inv.Details, inv.Args, id, progress, arg)
	}
	return inv
}

// quiet requires that nothing arrives at c for a moment: what the router
// discards leaves no trace.
func (c *testPeer) quiet() {
	c.tb.Helper()
	select {
	case m := <-c.in:
		c.tb.Fatalf("unexpected %s", describe(m))
	case <-time.After(20 * time.Millisecond):
	}
}

func TestProgressiveInvocations(t *testing.T) {
	for _, strict := range []bool{false, true} {
		t.Run(fmt.Sprintf("strict=%v", strict), func(t *testing.T) {
			r := newRouter(t, router.Config{StrictRequestIDs: strict})
			callee, caller := joinStreams(t, r), joinStreams(t, r)
			callee.register("com.example.upload", nil)
			callee.register("com.example.other", nil)
			req := caller.next()
			caller.send(&protocol.Call{Request: req, Procedure: "com.example.upload", Options: progressOpt, Args: protocol.List{0}})
			first := expectInvocation(t, callee, 0, true, 0)
			// Another call interleaves with the stream; its request ID
			// is the next new one (spec "Verification of CALL Request
			// IDs").
			caller.callOK("com.example.other", callee, "x")
			for i := 1; i < 5; i++ {
				// Options other than progress are ignored in chunks.
				caller.send(&protocol.Call{Request: req, Procedure: "com.example.upload",
					Options: protocol.Dict{"progress": true, "disclose_me": true, "timeout": "bad"}, Args: protocol.List{i}})
			}
			caller.send(&protocol.Call{Request: req, Procedure: "com.example.upload", Options: protocol.Dict{}, Args: protocol.List{5}})
			for i := 1; i < 5; i++ {
				inv := expectInvocation(t, callee, first.Request, true, i)
				if diff := cmp.Diff(protocol.Dict{"progress": true}, inv.Details); diff != "" {
					t.Errorf("chunk %d Details mismatch (-want +got):\n%s", i, diff)
				}
			}
			final := expectInvocation(t, callee, first.Request, false, 5)
			if len(final.Details) != 0 {
				t.Errorf("final INVOCATION.Details = %v, want none", final.Details)
			}
			callee.send(&protocol.Yield{Request: first.Request, Args: protocol.List{"done"}})
			if res := expect[*protocol.Result](caller); res.Request != req || res.Args[0] != "done" {
				t.Errorf("RESULT = %+v", res)
			}
			// A chunk after the call ended is discarded without reply.
			caller.send(&protocol.Call{Request: req, Procedure: "com.example.upload", Options: progressOpt, Args: protocol.List{6}})
			caller.callOK("com.example.other", callee, "y")
			callee.quiet()
		})
	}
}

func TestProgressiveInvocationsFrozenDetails(t *testing.T) {
	r := newRouter(t, router.Config{})
	callee := joinStreams(t, r)
	caller := connect(t, r)
	caller.hello(realm1, protocol.Dict{"roles": streamRoles()})
	callee.register("com.example.upload", nil)
	caller.send(&protocol.Call{Request: 1, Procedure: "com.example.upload",
		Options: protocol.Dict{"progress": true, "disclose_me": true, "receive_progress": true}, Args: protocol.List{0}})
	base := protocol.Dict{"caller": uint64(caller.session), "caller_authid": caller.welcome.Details.String("authid"),
		"caller_authrole": "anonymous", "receive_progress": true}
	withProgress := protocol.Dict{"progress": true}
	for k, v := range base {
		withProgress[k] = v
	}
	inv := expect[*protocol.Invocation](callee)
	if diff := cmp.Diff(withProgress, inv.Details); diff != "" {
		t.Errorf("first Details mismatch (-want +got):\n%s", diff)
	}
	// Progressive results flow while the caller still streams.
	callee.send(&protocol.Yield{Request: inv.Request, Options: progressOpt, Args: protocol.List{"r0"}})
	if res := expect[*protocol.Result](caller); !res.Details.Bool("progress") || res.Args[0] != "r0" {
		t.Errorf("progressive RESULT = %+v", res)
	}
	caller.send(&protocol.Call{Request: 1, Procedure: "com.example.upload", Options: progressOpt, Args: protocol.List{1}})
	if got := expectInvocation(t, callee, inv.Request, true, 1); !cmp.Equal(withProgress, got.Details) {
		t.Errorf("chunk Details = %v, want %v", got.Details, withProgress)
	}
	callee.send(&protocol.Yield{Request: inv.Request, Options: progressOpt, Args: protocol.List{"r1"}})
	if res := expect[*protocol.Result](caller); !res.Details.Bool("progress") || res.Args[0] != "r1" {
		t.Errorf("progressive RESULT = %+v", res)
	}
	caller.send(&protocol.Call{Request: 1, Procedure: "com.example.upload", Args: protocol.List{2}})
	if got := expectInvocation(t, callee, inv.Request, false, 2); !cmp.Equal(base, got.Details) {
		t.Errorf("final Details = %v, want %v", got.Details, base)
	}
	callee.send(&protocol.Yield{Request: inv.Request, Args: protocol.List{"end"}})
	if res := expect[*protocol.Result](caller); res.Details.Bool("progress") || res.Args[0] != "end" {
		t.Errorf("final RESULT = %+v", res)
	}
}

func TestProgressiveInvocationsSharedRegistration(t *testing.T) {
	r := newRouter(t, router.Config{})
	a, b, caller := joinStreams(t, r), joinStreams(t, r), joinStreams(t, r)
	a.register("com.example.rr", protocol.Dict{"invoke": "roundrobin"})
	b.register("com.example.rr", protocol.Dict{"invoke": "roundrobin"})
	caller.send(&protocol.Call{Request: 1, Procedure: "com.example.rr", Options: progressOpt, Args: protocol.List{0}})
	first := expectInvocation(t, a, 1, true, 0)
	// Every chunk goes to the callee of the first one, whatever the
	// invocation policy (spec "Progressive Call Invocations and Shared
	// Registration").
	for i := 1; i <= 3; i++ {
		caller.send(&protocol.Call{Request: 1, Procedure: "com.example.rr", Options: progressOpt, Args: protocol.List{i}})
	}
	caller.send(&protocol.Call{Request: 1, Procedure: "com.example.rr", Args: protocol.List{4}})
	for i := 1; i <= 3; i++ {
		expectInvocation(t, a, first.Request, true, i)
	}
	expectInvocation(t, a, first.Request, false, 4)
	a.send(&protocol.Yield{Request: first.Request})
	expect[*protocol.Result](caller)
	b.quiet()
}

func TestProgressiveInvocationsBadInput(t *testing.T) {
	t.Run("callee without the feature", func(t *testing.T) {
		r := newRouter(t, router.Config{})
		callee, caller := join(t, r), joinStreams(t, r)
		callee.register("com.example.f", nil)
		caller.send(&protocol.Call{Request: 1, Procedure: "com.example.f", Options: progressOpt, Args: protocol.List{0}})
		caller.send(&protocol.Call{Request: 1, Procedure: "com.example.f", Options: progressOpt, Args: protocol.List{1}})
		caller.send(&protocol.Call{Request: 1, Procedure: "com.example.f", Args: protocol.List{2}})
		caller.expectError(protocol.TypeCall, 1, protocol.ErrFeatureNotSupported)
		// The chunks sent before the ERROR arrived are discarded.
		caller.quiet()
		callee.quiet()
		caller.req = 1
		caller.callOK("com.example.f", callee)
	})
	t.Run("callee without call canceling", func(t *testing.T) {
		r := newRouter(t, router.Config{})
		callee := connect(t, r)
		callee.hello(realm1, protocol.Dict{"roles": protocol.Dict{"callee": map[string]any{
			"features": map[string]any{"progressive_call_invocations": true}}}})
		caller := joinStreams(t, r)
		callee.register("com.example.f", nil)
		caller.send(&protocol.Call{Request: 1, Procedure: "com.example.f", Options: progressOpt})
		caller.expectError(protocol.TypeCall, 1, protocol.ErrFeatureNotSupported)
	})
	t.Run("no such procedure", func(t *testing.T) {
		r := newRouter(t, router.Config{StrictRequestIDs: true})
		caller := joinStreams(t, r)
		caller.send(&protocol.Call{Request: 1, Procedure: "com.example.none", Options: progressOpt})
		caller.send(&protocol.Call{Request: 1, Procedure: "com.example.none"})
		caller.expectError(protocol.TypeCall, 1, protocol.ErrNoSuchProcedure)
		caller.quiet()
	})
	t.Run("meta procedure", func(t *testing.T) {
		r := newRouter(t, router.Config{})
		caller := joinStreams(t, r)
		caller.send(&protocol.Call{Request: 1, Procedure: "wamp.session.count", Options: progressOpt})
		caller.expectError(protocol.TypeCall, 1, protocol.ErrFeatureNotSupported)
	})
	t.Run("caller without the feature", func(t *testing.T) {
		r := newRouter(t, router.Config{})
		callee, caller := joinStreams(t, r), join(t, r)
		callee.register("com.example.f", nil)
		caller.send(&protocol.Call{Request: 1, Procedure: "com.example.f", Options: progressOpt})
		caller.expectAbort(protocol.ErrProtocolViolation)
	})
	t.Run("unknown request strict", func(t *testing.T) {
		// A continuation candidate that continues nothing is a protocol
		// violation when request IDs are checked.
		r := newRouter(t, router.Config{StrictRequestIDs: true})
		callee, caller := joinStreams(t, r), joinStreams(t, r)
		callee.register("com.example.f", nil)
		caller.callOK("com.example.f", callee)
		caller.send(&protocol.Call{Request: 1, Procedure: "com.example.f", Options: progressOpt})
		caller.expectAbort(protocol.ErrProtocolViolation)
	})
	t.Run("gap strict", func(t *testing.T) {
		r := newRouter(t, router.Config{StrictRequestIDs: true})
		caller := joinStreams(t, r)
		caller.send(&protocol.Call{Request: 3, Procedure: "com.example.f", Options: progressOpt})
		caller.expectAbort(protocol.ErrProtocolViolation)
	})
	t.Run("progress on a plain pending call", func(t *testing.T) {
		r := newRouter(t, router.Config{})
		callee, caller := joinStreams(t, r), joinStreams(t, r)
		callee.register("com.example.f", nil)
		caller.send(&protocol.Call{Request: 1, Procedure: "com.example.f"})
		expect[*protocol.Invocation](callee)
		caller.send(&protocol.Call{Request: 1, Procedure: "com.example.f", Options: progressOpt})
		caller.expectAbort(protocol.ErrProtocolViolation)
	})
	t.Run("after the final chunk", func(t *testing.T) {
		r := newRouter(t, router.Config{})
		callee, caller := joinStreams(t, r), joinStreams(t, r)
		callee.register("com.example.f", nil)
		caller.send(&protocol.Call{Request: 1, Procedure: "com.example.f", Options: progressOpt, Args: protocol.List{0}})
		caller.send(&protocol.Call{Request: 1, Procedure: "com.example.f", Args: protocol.List{1}})
		inv := expectInvocation(t, callee, 1, true, 0)
		expectInvocation(t, callee, inv.Request, false, 1)
		// The caller itself ended the stream: another chunk while the
		// call is pending breaks the protocol.
		caller.send(&protocol.Call{Request: 1, Procedure: "com.example.f", Options: progressOpt, Args: protocol.List{2}})
		caller.expectAbort(protocol.ErrProtocolViolation)
	})
	t.Run("procedure changes", func(t *testing.T) {
		for _, strict := range []bool{false, true} {
			r := newRouter(t, router.Config{StrictRequestIDs: strict})
			callee, caller := joinStreams(t, r), joinStreams(t, r)
			callee.register("com.example.f", nil)
			callee.register("com.example.g", nil)
			caller.send(&protocol.Call{Request: 1, Procedure: "com.example.f", Options: progressOpt, Args: protocol.List{0}})
			inv := expectInvocation(t, callee, 0, true, 0)
			caller.send(&protocol.Call{Request: 1, Procedure: "com.example.g", Options: progressOpt, Args: protocol.List{1}})
			if strict {
				caller.expectAbort(protocol.ErrProtocolViolation)
				continue
			}
			// Discarded (spec pseudocode: not a continuation of this
			// call); the stream goes on.
			caller.send(&protocol.Call{Request: 1, Procedure: "com.example.f", Args: protocol.List{2}})
			expectInvocation(t, callee, inv.Request, false, 2)
			callee.send(&protocol.Yield{Request: inv.Request})
			expect[*protocol.Result](caller)
		}
	})
	t.Run("invalid progress option", func(t *testing.T) {
		r := newRouter(t, router.Config{})
		caller := joinStreams(t, r)
		caller.send(&protocol.Call{Request: 1, Procedure: "com.example.f", Options: protocol.Dict{"progress": "yes"}})
		caller.expectError(protocol.TypeCall, 1, protocol.ErrInvalidArgument)
	})
}

func TestProgressiveInvocationsEnd(t *testing.T) {
	// start begins a stream of two chunks and returns the INVOCATION ID.
	start := func(t *testing.T, caller, callee *testPeer, opts protocol.Dict) protocol.ID {
		t.Helper()
		o := protocol.Dict{"progress": true}
		for k, v := range opts {
			o[k] = v
		}
		caller.send(&protocol.Call{Request: 1, Procedure: "com.example.f", Options: o, Args: protocol.List{0}})
		caller.send(&protocol.Call{Request: 1, Procedure: "com.example.f", Options: progressOpt, Args: protocol.List{1}})
		inv := expect[*protocol.Invocation](callee)
		expectInvocation(t, callee, inv.Request, true, 1)
		return inv.Request
	}
	setup := func(t *testing.T) (r *router.Router, caller, callee *testPeer) {
		r = newRouter(t, router.Config{})
		callee, caller = joinStreams(t, r), joinStreams(t, r)
		callee.register("com.example.f", nil)
		return r, caller, callee
	}
	t.Run("callee errors mid-stream", func(t *testing.T) {
		_, caller, callee := setup(t)
		id := start(t, caller, callee, nil)
		callee.send(&protocol.Error{RequestType: protocol.TypeInvocation, Request: id, Details: protocol.Dict{}, URI: "com.example.full"})
		caller.expectError(protocol.TypeCall, 1, "com.example.full")
		// Late chunks are discarded without a reply, on both sides.
		caller.send(&protocol.Call{Request: 1, Procedure: "com.example.f", Options: progressOpt, Args: protocol.List{2}})
		caller.send(&protocol.Call{Request: 1, Procedure: "com.example.f", Args: protocol.List{3}})
		caller.quiet()
		callee.quiet()
	})
	t.Run("cancel killnowait", func(t *testing.T) {
		_, caller, callee := setup(t)
		id := start(t, caller, callee, nil)
		caller.send(&protocol.Cancel{Request: 1, Options: protocol.Dict{"mode": "killnowait"}})
		caller.expectError(protocol.TypeCall, 1, protocol.ErrCanceled)
		if intr := expect[*protocol.Interrupt](callee); intr.Request != id {
			t.Errorf("INTERRUPT %d, want %d", intr.Request, id)
		}
		caller.send(&protocol.Call{Request: 1, Procedure: "com.example.f", Args: protocol.List{2}})
		callee.quiet()
		caller.quiet()
	})
	t.Run("cancel kill", func(t *testing.T) {
		_, caller, callee := setup(t)
		id := start(t, caller, callee, nil)
		caller.send(&protocol.Cancel{Request: 1, Options: protocol.Dict{"mode": "kill"}})
		expect[*protocol.Interrupt](callee)
		// Chunks after the kill are not forwarded; the callee's answer
		// ends the call.
		caller.send(&protocol.Call{Request: 1, Procedure: "com.example.f", Options: progressOpt, Args: protocol.List{2}})
		callee.quiet()
		callee.send(&protocol.Error{RequestType: protocol.TypeInvocation, Request: id, Details: protocol.Dict{}, URI: protocol.ErrCanceled})
		caller.expectError(protocol.TypeCall, 1, protocol.ErrCanceled)
	})
	t.Run("timeout", func(t *testing.T) {
		_, caller, callee := setup(t)
		id := start(t, caller, callee, protocol.Dict{"timeout": 100})
		// Chunks keep the call alive: the timeout bounds the silence.
		for i := 2; i < 6; i++ {
			time.Sleep(40 * time.Millisecond)
			caller.send(&protocol.Call{Request: 1, Procedure: "com.example.f", Options: progressOpt, Args: protocol.List{i}})
			expectInvocation(t, callee, id, true, i)
		}
		caller.expectError(protocol.TypeCall, 1, protocol.ErrTimeout)
		if intr := expect[*protocol.Interrupt](callee); intr.Request != id || intr.Options.String("mode") != "killnowait" {
			t.Errorf("INTERRUPT %+v", intr)
		}
		caller.send(&protocol.Call{Request: 1, Procedure: "com.example.f", Args: protocol.List{9}})
		callee.quiet()
	})
	t.Run("callee leaves", func(t *testing.T) {
		_, caller, callee := setup(t)
		start(t, caller, callee, nil)
		callee.p.Close(nil)
		caller.expectError(protocol.TypeCall, 1, protocol.ErrCanceled)
		caller.send(&protocol.Call{Request: 1, Procedure: "com.example.f", Args: protocol.List{2}})
		caller.quiet()
	})
	t.Run("caller leaves", func(t *testing.T) {
		_, caller, callee := setup(t)
		id := start(t, caller, callee, nil)
		caller.p.Close(nil)
		if intr := expect[*protocol.Interrupt](callee); intr.Request != id || intr.Options.String("mode") != "killnowait" {
			t.Errorf("INTERRUPT %+v", intr)
		}
	})
	t.Run("callee unregisters", func(t *testing.T) {
		_, caller, callee := setup(t)
		id := start(t, caller, callee, nil)
		callee.send(&protocol.Unregister{Request: callee.next(), Registration: 1})
		expect[*protocol.Unregistered](callee)
		// A pending call completes after UNREGISTER; so does its stream.
		caller.send(&protocol.Call{Request: 1, Procedure: "com.example.f", Args: protocol.List{2}})
		expectInvocation(t, callee, id, false, 2)
		callee.send(&protocol.Yield{Request: id})
		expect[*protocol.Result](caller)
	})
}

func TestProgressiveInvocationsMaxPendingCalls(t *testing.T) {
	r := newRouter(t, router.Config{MaxPendingCalls: 1})
	callee, caller := joinStreams(t, r), joinStreams(t, r)
	callee.register("com.example.f", nil)
	caller.send(&protocol.Call{Request: 1, Procedure: "com.example.f", Options: progressOpt, Args: protocol.List{0}})
	inv := expectInvocation(t, callee, 1, true, 0)
	// Chunks are no new calls.
	for i := 1; i < 10; i++ {
		caller.send(&protocol.Call{Request: 1, Procedure: "com.example.f", Options: progressOpt, Args: protocol.List{i}})
		expectInvocation(t, callee, inv.Request, true, i)
	}
	caller.send(&protocol.Call{Request: 2, Procedure: "com.example.f", Options: progressOpt, Args: protocol.List{0}})
	caller.send(&protocol.Call{Request: 2, Procedure: "com.example.f", Args: protocol.List{1}})
	caller.expectError(protocol.TypeCall, 2, router.LimitExceeded)
	caller.quiet()
	caller.send(&protocol.Call{Request: 1, Procedure: "com.example.f", Args: protocol.List{10}})
	expectInvocation(t, callee, inv.Request, false, 10)
	callee.send(&protocol.Yield{Request: inv.Request})
	expect[*protocol.Result](caller)
}

func TestProgressiveInvocationsOrder(t *testing.T) {
	const n = 2000
	// The caller sends as fast as it can: the backlog takes all chunks
	// even if the callee's reader is kept off the processor (chunks that
	// do not fit end the call, see TestProgressiveInvocationsFullCallee).
	r := newRouter(t, router.Config{MaxBacklog: 4 * n})
	callee, caller := joinStreams(t, r), joinStreams(t, r)
	callee.register("com.example.f", nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			opts := progressOpt
			if i == n-1 {
				opts = nil
			}
			caller.send(&protocol.Call{Request: 1, Procedure: "com.example.f", Options: opts, Args: protocol.List{i}})
		}
	}()
	first := expectInvocation(t, callee, 1, true, 0)
	for i := 1; i < n; i++ {
		expectInvocation(t, callee, first.Request, i < n-1, i)
	}
	<-done
	callee.send(&protocol.Yield{Request: first.Request})
	expect[*protocol.Result](caller)
}

// TestProgressiveInvocationsFullCallee checks that a chunk that finds the
// callee's queue and backlog full ends the call on both sides at once:
// ERROR to the caller, INTERRUPT to the callee, and no callee is dropped.
func TestProgressiveInvocationsFullCallee(t *testing.T) {
	const queue, backlog = 4, 8
	r := newRouter(t, router.Config{LocalQueueSize: queue, MaxBacklog: backlog, SlowConsumerWait: time.Hour})
	callee, err := r.Connect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { callee.Close(nil) })
	callee.Send(t.Context(), &protocol.Hello{Realm: realm1, Details: protocol.Dict{"roles": streamRoles()}})
	if m, err := recvWait(t, callee); err != nil || m.Type() != protocol.TypeWelcome {
		t.Fatalf("got %v, %v, want WELCOME", m, err)
	}
	callee.Send(t.Context(), &protocol.Register{Request: 1, Procedure: "com.example.f"})
	if m, err := recvWait(t, callee); err != nil || m.Type() != protocol.TypeRegistered {
		t.Fatalf("got %v, %v, want REGISTERED", m, err)
	}
	caller := joinStreams(t, r)
	// Chunks may fill three quarters of the backlog.
	const taken = queue + backlog - backlog/4
	for i := range taken + 1 {
		caller.send(&protocol.Call{Request: 1, Procedure: "com.example.f", Options: progressOpt, Args: protocol.List{i}})
	}
	caller.expectError(protocol.TypeCall, 1, protocol.ErrNoAvailableCallee)
	caller.send(&protocol.Call{Request: 1, Procedure: "com.example.f", Args: protocol.List{"late"}})
	caller.quiet()
	var id protocol.ID
	for i := range taken {
		m, err := recvWait(t, callee)
		if err != nil {
			t.Fatal(err)
		}
		inv, ok := m.(*protocol.Invocation)
		if !ok || inv.Args[0] != i || !inv.Details.Bool("progress") {
			t.Fatalf("got %s, want chunk %d", describe(m), i)
		}
		id = inv.Request
	}
	m, err := recvWait(t, callee)
	if intr, ok := m.(*protocol.Interrupt); err != nil || !ok || intr.Request != id {
		t.Fatalf("got %v, %v, want INTERRUPT %d", m, err, id)
	}
	// The callee stays and serves the next call.
	caller.send(&protocol.Call{Request: 2, Procedure: "com.example.f"})
	m, err = recvWait(t, callee)
	inv, ok := m.(*protocol.Invocation)
	if err != nil || !ok {
		t.Fatalf("got %v, %v, want INVOCATION", m, err)
	}
	callee.Send(t.Context(), &protocol.Yield{Request: inv.Request})
	if res := expect[*protocol.Result](caller); res.Request != 2 {
		t.Errorf("RESULT %d, want 2", res.Request)
	}
}
