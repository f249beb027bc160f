package cluster_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/cluster"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// register registers handler for procedure on c.
func register(tb testing.TB, c *client.Client, procedure protocol.URI, opts *client.RegisterOptions, h client.InvocationHandler) *client.Registration {
	tb.Helper()
	ctx, cancel := testContext()
	defer cancel()
	reg, err := c.Register(ctx, procedure, h, opts)
	if err != nil {
		tb.Fatalf("Register(%s): %v", procedure, err)
	}
	return reg
}

// registerWhenFree registers handler for procedure on c, retrying while
// the procedure is still registered (its removal elsewhere takes a moment
// to reach c's node).
func registerWhenFree(tb testing.TB, c *client.Client, procedure protocol.URI, h client.InvocationHandler) {
	tb.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		ctx, cancel := testContext()
		_, err := c.Register(ctx, procedure, h, nil)
		cancel()
		if err == nil {
			return
		}
		if !isErrURI(err, protocol.ErrProcedureAlreadyExists) || time.Now().After(deadline) {
			tb.Fatalf("Register(%s): %v", procedure, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// callWhenThere calls procedure on c until it is no longer
// wamp.error.no_such_procedure (the registration takes a moment to reach
// the caller's node), and returns the first other outcome.
func callWhenThere(tb testing.TB, c *client.Client, req *client.CallRequest) (*client.Result, error) {
	tb.Helper()
	return callUntil(tb, c, req, func(_ *client.Result, err error) bool {
		return !isErrURI(err, protocol.ErrNoSuchProcedure)
	})
}

// callUntil makes req on c until done accepts the outcome, which it
// returns; it fails the test if none did within testTimeout.
func callUntil(tb testing.TB, c *client.Client, req *client.CallRequest, done func(*client.Result, error) bool) (*client.Result, error) {
	tb.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		ctx, cancel := testContext()
		res, err := c.Do(ctx, req)
		cancel()
		if done(res, err) {
			return res, err
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: still %v, %v after %v", req.Procedure, res, err, testTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitGone calls procedure on c until it is wamp.error.no_such_procedure.
func waitGone(tb testing.TB, c *client.Client, procedure protocol.URI) {
	tb.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.Call(ctx, procedure)
		cancel()
		if isErrURI(err, protocol.ErrNoSuchProcedure) {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: still callable after %v (last: %v)", procedure, testTimeout, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func echo(_ context.Context, inv *client.Invocation) (*client.Result, error) {
	return &client.Result{Args: inv.Args, Kwargs: inv.Kwargs}, nil
}

// TestCallAcrossNodes calls a procedure of another node: RESULT with the
// payload, ERROR with its URI and payload, the caller's identity when the
// callee asks for it, and progressive results, in order.
func TestCallAcrossNodes(t *testing.T) {
	nodes := startNodes(t, startNATS(t), 3, router.RealmConfig{})
	callee := nodes[1].join(t, client.Config{})
	register(t, callee, "rpc.echo", nil, echo)
	register(t, callee, "rpc.fail", nil, func(context.Context, *client.Invocation) (*client.Result, error) {
		return nil, &protocol.Error{URI: "com.example.oops", Args: protocol.List{"why"}, Kwargs: protocol.Dict{"k": "v"}}
	})
	register(t, callee, "rpc.who", &client.RegisterOptions{Options: protocol.Dict{"disclose_caller": true}},
		func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
			return &client.Result{Args: protocol.List{uint64(inv.Caller), inv.Details["caller_authrole"]}}, nil
		})
	register(t, callee, "rpc.count", nil, func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		for i := 1; i <= 5; i++ {
			if err := inv.SendProgress(ctx, protocol.List{i}, nil); err != nil {
				return nil, err
			}
		}
		return &client.Result{Args: protocol.List{"done"}}, nil
	})
	caller := nodes[0].join(t, client.Config{})

	res, err := callWhenThere(t, caller, &client.CallRequest{Procedure: "rpc.echo", Args: protocol.List{"hi", 2}, Kwargs: protocol.Dict{"a": true}})
	if err != nil || len(res.Args) != 2 || res.Args[0] != "hi" || res.Kwargs["a"] != true {
		t.Errorf("rpc.echo = %+v, %v; want [hi 2] {a: true}", res, err)
	}
	_, err = callWhenThere(t, caller, &client.CallRequest{Procedure: "rpc.fail"})
	var werr *protocol.Error
	if !errors.As(err, &werr) || werr.URI != "com.example.oops" || len(werr.Args) != 1 || werr.Args[0] != "why" || werr.Kwargs["k"] != "v" {
		t.Errorf("rpc.fail = %v, want ERROR com.example.oops [why] {k: v}", err)
	}
	res, err = callWhenThere(t, caller, &client.CallRequest{Procedure: "rpc.who"})
	if err != nil || len(res.Args) != 2 || !sameID(res.Args[0], caller.SessionID()) || res.Args[1] != "anonymous" {
		t.Errorf("rpc.who = %+v, %v; want the caller's session %d and role anonymous", res, err, caller.SessionID())
	}
	var progress []int
	res, err = callWhenThere(t, caller, &client.CallRequest{Procedure: "rpc.count", OnProgress: func(r *client.Result) error {
		progress = append(progress, argIntOf(r.Args))
		return nil
	}})
	if err != nil || len(res.Args) != 1 || res.Args[0] != "done" {
		t.Errorf("rpc.count = %+v, %v; want [done]", res, err)
	}
	if want := []int{1, 2, 3, 4, 5}; !equalInts(progress, want) {
		t.Errorf("progressive results %v, want %v", progress, want)
	}
}

// TestRegistrationUniqueAcrossNodes checks that a procedure registered
// (policy single) on one node cannot be registered on another, nor with a
// different policy, and can once its callee is gone.
func TestRegistrationUniqueAcrossNodes(t *testing.T) {
	nodes := startNodes(t, startNATS(t), 2, router.RealmConfig{})
	a := nodes[0].join(t, client.Config{})
	reg := register(t, a, "rpc.unique", nil, echo)
	b := nodes[1].join(t, client.Config{})
	ctx, cancel := testContext()
	defer cancel()
	for _, opts := range []*client.RegisterOptions{nil, {Invoke: "roundrobin"}} {
		if _, err := b.Register(ctx, "rpc.unique", echo, opts); !isErrURI(err, protocol.ErrProcedureAlreadyExists) {
			t.Errorf("REGISTER %v on another node = %v, want ERROR %s", opts, err, protocol.ErrProcedureAlreadyExists)
		}
	}
	if err := a.Unregister(ctx, reg); err != nil {
		t.Fatal(err)
	}
	registerWhenFree(t, b, "rpc.unique", echo)
}

// TestSharedRegistrationAcrossNodes spreads a roundrobin registration over
// two nodes: calls from a third reach both.
func TestSharedRegistrationAcrossNodes(t *testing.T) {
	nodes := startNodes(t, startNATS(t), 3, router.RealmConfig{})
	var hits [2]atomic.Int64
	for i := range 2 {
		c := nodes[i].join(t, client.Config{})
		register(t, c, "rpc.shared", &client.RegisterOptions{Invoke: "roundrobin"}, func(context.Context, *client.Invocation) (*client.Result, error) {
			hits[i].Add(1)
			return &client.Result{Args: protocol.List{i}}, nil
		})
	}
	caller := nodes[2].join(t, client.Config{})
	// Until both are known on the caller's node.
	deadline := time.Now().Add(testTimeout)
	for hits[0].Load() == 0 || hits[1].Load() == 0 {
		if _, err := callWhenThere(t, caller, &client.CallRequest{Procedure: "rpc.shared"}); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("calls reached the nodes %d and %d times, want both", hits[0].Load(), hits[1].Load())
		}
	}
}

// TestPatternPrecedenceAcrossNodes: an exact registration on one node wins
// over a prefix one on another, as on one node.
func TestPatternPrecedenceAcrossNodes(t *testing.T) {
	nodes := startNodes(t, startNATS(t), 3, router.RealmConfig{})
	tag := func(s string) client.InvocationHandler {
		return func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
			return &client.Result{Args: protocol.List{s, string(inv.Procedure)}}, nil
		}
	}
	register(t, nodes[0].join(t, client.Config{}), "com.app", &client.RegisterOptions{Match: protocol.MatchPrefix}, tag("prefix"))
	register(t, nodes[1].join(t, client.Config{}), "com.app.exact", nil, tag("exact"))
	caller := nodes[2].join(t, client.Config{})
	res, err := callWhenThere(t, caller, &client.CallRequest{Procedure: "com.app.other"})
	if err != nil || res.Args[0] != "prefix" || res.Args[1] != "com.app.other" {
		t.Errorf("com.app.other = %+v, %v; want the prefix registration with the concrete procedure", res, err)
	}
	res, err = callWhenThere(t, caller, &client.CallRequest{Procedure: "com.app.exact"})
	for err == nil && res.Args[0] != "exact" {
		// The exact registration may reach the caller's node after the
		// prefix one.
		time.Sleep(5 * time.Millisecond)
		res, err = callWhenThere(t, caller, &client.CallRequest{Procedure: "com.app.exact"})
	}
	if err != nil {
		t.Errorf("com.app.exact: %v", err)
	}
}

// TestCancelAndTimeoutAcrossNodes cancels a call whose callee is on
// another node, and lets another time out: the callee is interrupted
// both times, and the caller hears back.
func TestCancelAndTimeoutAcrossNodes(t *testing.T) {
	nodes := startNodes(t, startNATS(t), 2, router.RealmConfig{})
	interrupted := make(chan struct{}, 4)
	started := make(chan struct{}, 4)
	register(t, nodes[1].join(t, client.Config{}), "rpc.slow", nil, func(ctx context.Context, _ *client.Invocation) (*client.Result, error) {
		started <- struct{}{}
		<-ctx.Done()
		interrupted <- struct{}{}
		return nil, ctx.Err()
	})
	caller := nodes[0].join(t, client.Config{})
	waitCallable(t, caller, "rpc.slow", started)

	// Cancel: the caller's context ends.
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := caller.Call(ctx, "rpc.slow")
		errc <- err
	}()
	<-started
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("canceled call = %v, want context.Canceled", err)
	}
	waitSignal(t, interrupted, "the callee's interruption after CANCEL")

	// Timeout: the dealer of the caller's node ends the call.
	ctx2, cancel2 := testContext()
	defer cancel2()
	_, err := caller.Do(ctx2, &client.CallRequest{Procedure: "rpc.slow", Timeout: 100 * time.Millisecond})
	if !isErrURI(err, protocol.ErrTimeout) && !isErrURI(err, protocol.ErrCanceled) {
		t.Errorf("call with timeout = %v, want ERROR %s", err, protocol.ErrTimeout)
	}
	waitSignal(t, interrupted, "the callee's interruption after the timeout")
}

// TestCalleeNodeDies: the callee's node loses its link to the cluster in
// the middle of a call: the call fails at once on the caller's node, the
// procedure disappears there, and another node may register it.
func TestCalleeNodeDies(t *testing.T) {
	nodes := startNodes(t, startNATS(t), 3, router.RealmConfig{})
	started := make(chan struct{}, 1)
	register(t, nodes[1].join(t, client.Config{}), "rpc.hang", nil, func(ctx context.Context, _ *client.Invocation) (*client.Result, error) {
		select {
		case started <- struct{}{}:
		default:
		}
		<-ctx.Done()
		return nil, ctx.Err()
	})
	caller := nodes[0].join(t, client.Config{})
	waitCallable(t, caller, "rpc.hang", started)
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := testContext()
		defer cancel()
		_, err := caller.Call(ctx, "rpc.hang")
		errc <- err
	}()
	<-started
	nodes[1].c.Close() // as if the node died: its NATS connection is gone
	select {
	case err := <-errc:
		if !isErrURI(err, protocol.ErrCanceled) {
			t.Errorf("call to the dead node = %v, want ERROR %s", err, protocol.ErrCanceled)
		}
	case <-time.After(testTimeout):
		t.Fatal("the call to the dead node hangs")
	}
	waitGone(t, caller, "rpc.hang")
	registerWhenFree(t, nodes[2].join(t, client.Config{}), "rpc.hang", echo)
	if _, err := callWhenThere(t, caller, &client.CallRequest{Procedure: "rpc.hang"}); err != nil {
		t.Errorf("rpc.hang registered again elsewhere: %v", err)
	}
}

// waitCallable calls procedure (whose handler signals started and then
// blocks until interrupted) until it reached the callee once, with a
// short timeout, and drains the signals.
func waitCallable(tb testing.TB, c *client.Client, procedure protocol.URI, started chan struct{}) {
	tb.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		_, err := c.Call(ctx, procedure)
		cancel()
		if !isErrURI(err, protocol.ErrNoSuchProcedure) {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s never callable", procedure)
		}
		time.Sleep(5 * time.Millisecond)
	}
	waitSignal(tb, started, "the probe call's start")
	time.Sleep(50 * time.Millisecond) // let the probe's interruption pass
	for {
		select {
		case <-started:
			continue
		default:
		}
		return
	}
}

func waitSignal(tb testing.TB, ch chan struct{}, what string) {
	tb.Helper()
	select {
	case <-ch:
	case <-time.After(testTimeout):
		tb.Fatalf("no %s within %v", what, testTimeout)
	}
}

func sameID(v any, id protocol.ID) bool {
	n, ok := protocol.ToID(v)
	return ok && n == id
}

func argIntOf(l protocol.List) int {
	if len(l) == 0 {
		return -1
	}
	return argInt(client.Event{Args: l})
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestClusterAuthMethodRefusedToClients checks that a client cannot pass
// for a session of the cluster: the authmethod is admitted only on the
// links the cluster opens, and a forged caller identity in CALL.Options
// is ignored for everyone else.
func TestClusterAuthMethodRefusedToClients(t *testing.T) {
	nodes := startNodes(t, startNATS(t), 1, router.RealmConfig{})
	ctx, cancel := testContext()
	defer cancel()
	peer, err := nodes[0].r.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.Join(ctx, peer, client.Config{Realm: realm1, AuthID: "intruder", Auth: []client.Authenticator{forgedClusterAuth{}}})
	var abort *client.AbortError
	if !errors.As(err, &abort) {
		t.Fatalf("Join with authmethod %s = %v, want ABORT", router.ClusterAuthMethod, err)
	}

	callee := nodes[0].join(t, client.Config{})
	register(t, callee, "rpc.who", &client.RegisterOptions{Options: protocol.Dict{"disclose_caller": true}},
		func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
			return &client.Result{Args: protocol.List{uint64(inv.Caller), inv.Details["caller_authrole"]}}, nil
		})
	caller := nodes[0].join(t, client.Config{})
	res, err := caller.Do(ctx, &client.CallRequest{Procedure: "rpc.who",
		Options: protocol.Dict{"wampkit_caller": []any{uint64(42), "admin", "admin", true}}})
	if err != nil || !sameID(res.Args[0], caller.SessionID()) || res.Args[1] != "anonymous" {
		t.Errorf("rpc.who with a forged caller = %+v, %v; want the real caller %d", res, err, caller.SessionID())
	}
}

// forgedClusterAuth claims the cluster's authmethod.
type forgedClusterAuth struct{}

func (forgedClusterAuth) Method() string { return router.ClusterAuthMethod }

func (forgedClusterAuth) Authenticate(context.Context, *protocol.Challenge) (*protocol.Authenticate, error) {
	return nil, errors.New("no")
}

// TestSessionMetaHidesClusterSessions: the sessions a node opens for the
// cluster are not counted, listed or killed by the session meta API,
// which sees every node's sessions, so that kill_all leaves calls across
// nodes working.
func TestSessionMetaHidesClusterSessions(t *testing.T) {
	authz, err := router.NewRoleAuthorizer(map[string][]router.Permission{
		"anonymous": {{URI: "", Match: protocol.MatchPrefix, Call: true, Register: true, Publish: true, Subscribe: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	nodes := startNodes(t, startNATS(t), 2, router.RealmConfig{Authorizer: authz})
	register(t, nodes[1].join(t, client.Config{}), "rpc.echo", nil, echo)
	caller := nodes[0].join(t, client.Config{})
	if _, err := callWhenThere(t, caller, &client.CallRequest{Procedure: "rpc.echo"}); err != nil {
		t.Fatal(err)
	}
	// Node 0 now has a stand-in for node 1's callee; node 1 a relay.
	ctx, cancel := testContext()
	defer cancel()
	for i, n := range nodes {
		c := n.join(t, client.Config{})
		// The callee, the caller, and one more session per node so far.
		res, err := c.Call(ctx, "wamp.session.count")
		if want := protocol.ID(3 + i); err != nil || !sameID(res.Args[0], want) {
			t.Errorf("node %d: wamp.session.count = %v, %v; want %d (the test's sessions only)", i, res, err, want)
		}
		if i == 1 {
			res, err := c.Call(ctx, "wamp.session.kill_all")
			if err != nil || !sameID(res.Args[0], 3) {
				t.Fatalf("kill_all = %v, %v; want 3", res, err)
			}
		}
	}
	c := nodes[1].join(t, client.Config{})
	register(t, c, "rpc.echo2", nil, echo)
	if _, err := callWhenThere(t, nodes[0].join(t, client.Config{}), &client.CallRequest{Procedure: "rpc.echo2"}); err != nil {
		t.Errorf("call across nodes after kill_all: %v", err)
	}
}

// TestCallTrustLevelAcrossNodes: a call from another node carries its
// caller's trust level to the callee (spec advanced "Call Trust Levels"),
// and the identity the nodes forward for it never reaches a callee on the
// caller's own node.
func TestCallTrustLevelAcrossNodes(t *testing.T) {
	nodes := startNodes(t, startNATS(t), 2, router.RealmConfig{TrustLevels: map[string]int{"anonymous": 3}})
	details := func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Kwargs: inv.Details}, nil
	}
	register(t, nodes[1].join(t, client.Config{}), "rpc.remote", nil, details)
	register(t, nodes[0].join(t, client.Config{}), "rpc.local", nil, details)
	caller := nodes[0].join(t, client.Config{})
	for range 2 {
		res, err := callWhenThere(t, caller, &client.CallRequest{Procedure: "rpc.remote"})
		if err != nil || !sameID(res.Kwargs["trustlevel"], 3) {
			t.Errorf("remote callee's details = %v, %v; want trustlevel 3", res, err)
		}
		if _, ok := res.Kwargs["wampkit_caller"]; ok {
			t.Errorf("remote callee's details = %v, with the nodes' own keys", res.Kwargs)
		}
		res, err = callWhenThere(t, caller, &client.CallRequest{Procedure: "rpc.local"})
		if err != nil || !sameID(res.Kwargs["trustlevel"], 3) || len(res.Kwargs) != 1 {
			t.Errorf("local callee's details = %v, %v; want {trustlevel: 3} only", res, err)
		}
	}
}

// TestRelayEndsMidCall: the session that makes another node's calls on
// the callee's node (its relay) ends while both nodes stay up, because
// the router aborts it (a protocol violation) or because it closes
// without the cluster's noticing: the calls it made fail at once on the
// caller's node with ERROR wamp.error.canceled, as when a callee leaves
// a single router, their callees are interrupted, and later calls get
// through a new relay.
func TestRelayEndsMidCall(t *testing.T) {
	for _, tt := range []struct {
		name string
		end  func(*cluster.Cluster) int
	}{
		{"abort", (*cluster.Cluster).BreakRelays},
		{"close", (*cluster.Cluster).CloseRelays},
	} {
		t.Run(tt.name, func(t *testing.T) { testRelayEndsMidCall(t, tt.end) })
	}
}

func testRelayEndsMidCall(t *testing.T, end func(*cluster.Cluster) int) {
	nodes := startNodes(t, startNATS(t), 3, router.RealmConfig{})
	started := make(chan struct{}, 4)
	interrupted := make(chan struct{}, 4)
	callee := nodes[1].join(t, client.Config{})
	register(t, callee, "rpc.hang", nil, func(ctx context.Context, _ *client.Invocation) (*client.Result, error) {
		started <- struct{}{}
		<-ctx.Done()
		interrupted <- struct{}{}
		return nil, ctx.Err()
	})
	register(t, callee, "rpc.echo", nil, echo)
	callers := []*client.Client{nodes[0].join(t, client.Config{}), nodes[2].join(t, client.Config{})}
	for _, c := range callers {
		waitCallable(t, c, "rpc.hang", started)
		for len(interrupted) > 0 {
			<-interrupted
		}
	}
	errc := make(chan error, len(callers))
	for _, c := range callers {
		go func() {
			// No timeout: only the relay's end may end the call.
			ctx, cancel := testContext()
			defer cancel()
			_, err := c.Call(ctx, "rpc.hang")
			errc <- err
		}()
	}
	for range callers {
		waitSignal(t, started, "the call's start")
	}
	if n := end(nodes[1].c); n != len(callers) {
		t.Fatalf("broke %d relays, want %d", n, len(callers))
	}
	for range callers {
		if err := <-errc; !isErrURI(err, protocol.ErrCanceled) {
			t.Errorf("call through the relay that ended = %v, want ERROR %s", err, protocol.ErrCanceled)
		}
	}
	for range callers {
		waitSignal(t, interrupted, "the callee's interruption")
	}
	for i, c := range callers {
		ctx, cancel := testContext()
		res, err := c.Call(ctx, "rpc.echo", "again")
		cancel()
		if err != nil || len(res.Args) != 1 || res.Args[0] != "again" {
			t.Errorf("caller %d: call after the relay ended = %+v, %v; want [again]", i, res, err)
		}
	}
}

// TestStandinEndsMidCall: the session that stands for another node's
// callees on the caller's node (its stand-in) ends while both nodes stay
// up, because the router aborts it (a protocol violation) or because its
// link closes without an ABORT: its calls fail at once with ERROR
// wamp.error.canceled, as when a callee leaves a single router, and the
// other node's procedures are registered again by a new stand-in.
func TestStandinEndsMidCall(t *testing.T) {
	for _, tt := range []struct {
		name string
		end  func(*cluster.Cluster) int
	}{
		{"abort", (*cluster.Cluster).BreakStandins},
		{"close", (*cluster.Cluster).CloseStandins},
	} {
		t.Run(tt.name, func(t *testing.T) { testStandinEndsMidCall(t, tt.end) })
	}
}

func testStandinEndsMidCall(t *testing.T, end func(*cluster.Cluster) int) {
	nodes := startNodes(t, startNATS(t), 2, router.RealmConfig{})
	started := make(chan struct{}, 4)
	callee := nodes[1].join(t, client.Config{})
	register(t, callee, "rpc.hang", nil, func(ctx context.Context, _ *client.Invocation) (*client.Result, error) {
		started <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	})
	register(t, callee, "rpc.echo", nil, echo)
	caller := nodes[0].join(t, client.Config{})
	waitCallable(t, caller, "rpc.hang", started)
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := testContext()
		defer cancel()
		_, err := caller.Call(ctx, "rpc.hang")
		errc <- err
	}()
	waitSignal(t, started, "the call's start")
	if n := end(nodes[0].c); n != 1 {
		t.Fatalf("ended %d stand-ins, want 1", n)
	}
	if err := <-errc; !isErrURI(err, protocol.ErrCanceled) {
		t.Errorf("call through the stand-in that ended = %v, want ERROR %s", err, protocol.ErrCanceled)
	}
	res, err := callWhenThere(t, caller, &client.CallRequest{Procedure: "rpc.echo", Args: protocol.List{"again"}})
	if err != nil || len(res.Args) != 1 || res.Args[0] != "again" {
		t.Errorf("call after the stand-in ended = %+v, %v; want [again]", res, err)
	}
}
