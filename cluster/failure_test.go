package cluster_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/cluster"
	"github.com/wampkit/wampkit/cluster/clustertest"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// runNATS starts a NATS server with JetStream on 127.0.0.1:port, storing
// in dir, and returns it (shut down when the test ends, unless before).
func runNATS(tb testing.TB, port int, dir string) *server.Server {
	tb.Helper()
	return clustertest.StartNATS(tb, clustertest.Options{Port: port, StoreDir: dir})
}

// TestNATSRestartUnderLoad restarts the NATS server while a publisher on
// one node publishes to a subscriber on another: the nodes reconnect by
// themselves, the subscription is made again, delivery resumes, and the
// events that arrive do so once each and in order.
func TestNATSRestartUnderLoad(t *testing.T) {
	port := freePort(t)
	dir := t.TempDir()
	ns := runNATS(t, port, dir)
	url := ns.ClientURL()
	nodes := startNodes(t, url, 2, router.RealmConfig{})
	rec := newRecorder()
	subscribe(t, nodes[1].join(t, client.Config{}), "load.t", protocol.MatchExact, rec)
	pub := nodes[0].join(t, client.Config{})

	var mu sync.Mutex
	published := 0
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // publishes until stopped, unacknowledged
		defer close(done)
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			err := pub.Publish(ctx, "load.t", i)
			cancel()
			if err != nil {
				t.Errorf("Publish %d: %v", i, err)
				return
			}
			mu.Lock()
			published = i
			mu.Unlock()
			time.Sleep(time.Millisecond)
		}
	}()
	rec.waitFor(t, "an event before the restart", func(ev client.Event) bool { return argInt(ev) > 20 })

	ns.Shutdown()
	ns.WaitForShutdown()
	time.Sleep(300 * time.Millisecond) // the publisher goes on meanwhile
	// The same server again: same port, same store.
	runNATS(t, port, dir)

	mu.Lock()
	after := published
	mu.Unlock()
	rec.waitFor(t, "an event published after the restart", func(ev client.Event) bool { return argInt(ev) > after })
	close(stop)
	<-done

	last := 0
	for _, ev := range rec.snapshot() {
		n := argInt(ev)
		if n <= last {
			t.Fatalf("event %d after event %d: duplicate or out of order", n, last)
		}
		last = n
	}
	if st := nodes[1].c.Stats(); st.Dropped != 0 {
		t.Errorf("subscriber's node: %+v, want nothing dropped", st)
	}
	// A new subscription after the restart works too, and the nodes
	// still draw session IDs from distinct ranges (their claims were
	// lost with the NATS server's memory and made again).
	rec2 := newRecorder()
	subscribe(t, nodes[1].join(t, client.Config{}), "load.after", protocol.MatchExact, rec2)
	publish(t, pub, client.PublishRequest{Topic: "load.after", Args: protocol.List{1}})
	rec2.waitFor(t, "event after restart", func(ev client.Event) bool { return argInt(ev) == 1 })
}

// TestNodeLeavesCluster closes one node's link to the cluster as a crash
// would cut it: the others go on, and stop sending it events.
func TestNodeLeavesCluster(t *testing.T) {
	nodes := startNodes(t, startNATS(t), 3, router.RealmConfig{})
	recB, recC := newRecorder(), newRecorder()
	subscribe(t, nodes[1].join(t, client.Config{}), "leave.t", protocol.MatchExact, recB)
	subscribe(t, nodes[2].join(t, client.Config{}), "leave.t", protocol.MatchExact, recC)
	pub := nodes[0].join(t, client.Config{})
	publish(t, pub, client.PublishRequest{Topic: "leave.t", Args: protocol.List{1}})
	recB.waitFor(t, "event 1", func(ev client.Event) bool { return argInt(ev) == 1 })
	recC.waitFor(t, "event 1", func(ev client.Event) bool { return argInt(ev) == 1 })

	nodes[1].c.Close() // node B's NATS connection is gone
	for i := 2; i <= 50; i++ {
		publish(t, pub, client.PublishRequest{Topic: "leave.t", Args: protocol.List{i}})
	}
	recC.waitFor(t, "event 50", func(ev client.Event) bool { return argInt(ev) == 50 })
	if got := nodes[1].c.Stats().Received; got != 1 {
		t.Errorf("node without NATS received %d events, want 1", got)
	}
	// B still serves its own sessions; an acknowledged PUBLISH there is
	// told that the event did not reach the cluster.
	local := nodes[1].join(t, client.Config{})
	ctx, cancel := testContext()
	defer cancel()
	_, err := local.DoPublish(ctx, &client.PublishRequest{Topic: "leave.t", Args: protocol.List{100}, Acknowledge: true})
	if !isErrURI(err, router.ClusterUnavailable) {
		t.Errorf("acknowledged PUBLISH on the cut-off node = %v, want ERROR %s", err, router.ClusterUnavailable)
	}
	recB.waitFor(t, "local event", func(ev client.Event) bool { return argInt(ev) == 100 })
}

// TestMetaAfterNATSRestart: after the NATS server restarts (with its
// storage), for longer than the leases last, each node's view of the
// nodes comes back: a meta procedure counts every node's sessions again.
func TestMetaAfterNATSRestart(t *testing.T) {
	port := freePort(t)
	dir := t.TempDir()
	ns := runNATS(t, port, dir)
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	nodes := startNodesWith(t, ns.ClientURL(), 3, router.Config{},
		cluster.Config{LeaseTTL: time.Second, MetaTimeout: 10 * time.Second})
	var cs []*client.Client
	for _, n := range nodes {
		cs = append(cs, n.join(t, client.Config{}))
	}
	if n := call(t, cs[0], "wamp.session.count")[0]; !sameID(n, 3) {
		t.Fatalf("count before the restart = %v, want 3", n)
	}
	ns.Shutdown()
	ns.WaitForShutdown()
	time.Sleep(1500 * time.Millisecond) // longer than LeaseTTL
	ns = runNATS(t, port, dir)

	for i, c := range cs {
		deadline := time.Now().Add(testTimeout)
		for {
			n := call(t, c, "wamp.session.count")[0]
			if sameID(n, 3) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %d: count after the restart = %v, want 3", i, n)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// Past a lease's lifetime, the views still hold every node.
	time.Sleep(2 * time.Second)
	for i, c := range cs {
		if n := call(t, c, "wamp.session.count")[0]; !sameID(n, 3) {
			t.Errorf("node %d: count a while after the restart = %v, want 3", i, n)
		}
	}
}

// TestLostCallFailsWhenNodeIsBack: a CALL lost between nodes (as one that
// NATS gets for a node whose frames subscription is not yet back at its
// server after losing NATS) would leave its caller waiting forever, the
// callee never invoked. When that node is back it says so, and the
// caller's node fails the calls waiting on it with wamp.error.canceled.
func TestLostCallFailsWhenNodeIsBack(t *testing.T) {
	nodes := startNodes(t, startNATS(t), 2, router.RealmConfig{})
	invoked := make(chan struct{}, 1)
	register(t, nodes[1].join(t, client.Config{}), "lost.p", nil, func(context.Context, *client.Invocation) (*client.Result, error) {
		invoked <- struct{}{}
		return &client.Result{}, nil
	})
	caller := nodes[0].join(t, client.Config{})
	if _, err := callWhenThere(t, caller, &client.CallRequest{Procedure: "lost.p"}); err != nil {
		t.Fatal(err)
	}
	<-invoked
	left := cluster.LoseFrames(1)
	t.Cleanup(func() { cluster.LoseFrames(0) })
	errc := make(chan error, 1)
	go func() {
		_, err := caller.Call(context.Background(), "lost.p") // no timeout
		errc <- err
	}()
	for deadline := time.Now().Add(testTimeout); left() > 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the CALL never crossed")
		}
	}
	if err := nodes[1].c.ReconnectFrames(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !isErrURI(err, protocol.ErrCanceled) {
			t.Errorf("call whose CALL was lost = %v, want %s", err, protocol.ErrCanceled)
		}
	case <-invoked:
		t.Fatal("the callee was invoked by a lost CALL")
	case <-time.After(testTimeout):
		t.Fatal("the call whose CALL was lost still waits after the callee's node came back")
	}
	// And calls work again.
	if _, err := callWhenThere(t, caller, &client.CallRequest{Procedure: "lost.p"}); err != nil {
		t.Errorf("call after the node came back: %v", err)
	}
}

// TestCallsToStalledNodeFail cuts node B off NATS without closing its
// connections (a proxy stops passing bytes, as a network partition
// does): the NATS server still has B's subscriptions, so B is not gone,
// but it answers no ping. A call from A waiting on B must fail, and one
// from B waiting on A too, rather than wait forever; once the path heals,
// calls cross again.
func TestCallsToStalledNodeFail(t *testing.T) {
	a, b, px := proxiedPair(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	invoked := make(chan struct{}, 2)
	wait := func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		if len(inv.Args) > 0 { // a call that waits
			invoked <- struct{}{}
			select {
			case <-ctx.Done():
			case <-release:
			}
		}
		return &client.Result{}, nil
	}
	register(t, a.join(t, client.Config{}), "stall.on_a", nil, wait)
	register(t, b.join(t, client.Config{}), "stall.on_b", nil, wait)
	type across struct {
		caller *client.Client
		proc   protocol.URI
	}
	calls := []across{{a.join(t, client.Config{}), "stall.on_b"}, {b.join(t, client.Config{}), "stall.on_a"}}
	for _, c := range calls {
		if _, err := callWhenThere(t, c.caller, &client.CallRequest{Procedure: c.proc}); err != nil {
			t.Fatalf("call %s: %v", c.proc, err)
		}
	}

	type outcome struct {
		proc protocol.URI
		err  error
	}
	ended := make(chan outcome, len(calls))
	for _, c := range calls {
		go func() {
			_, err := c.caller.Call(context.Background(), c.proc, "wait") // no timeout
			ended <- outcome{c.proc, err}
		}()
	}
	for range calls {
		select {
		case <-invoked:
		case <-time.After(testTimeout):
			t.Fatal("the calls were not made")
		}
	}
	px.freeze()
	for range calls {
		select {
		case o := <-ended:
			if o.err == nil {
				t.Errorf("call %s across the cut succeeded", o.proc)
			}
		case <-time.After(testTimeout):
			t.Fatal("a call across the cut still waits")
		}
	}
	// B is silent, not gone: it still holds its procedure.
	ctx, cancel := testContext()
	defer cancel()
	_, err := calls[0].caller.Register(ctx, "stall.on_b", func(context.Context, *client.Invocation) (*client.Result, error) {
		return &client.Result{}, nil
	}, nil)
	if !isErrURI(err, protocol.ErrProcedureAlreadyExists) {
		t.Errorf("REGISTER on A of the procedure of silent B = %v, want %s", err, protocol.ErrProcedureAlreadyExists)
	}
	px.thaw()
	for _, c := range calls {
		callUntilOK(t, c.caller, c.proc)
	}
}

// TestPublishWhileStalled publishes on node B, cut off from NATS without
// its connections closing (see TestCallsToStalledNodeFail), more than its
// socket and NATS buffers hold: each acknowledged PUBLISH must still be
// answered (PUBLISHED, or ERROR once the node knows it is cut off), never
// held by a write that waits on the dead path. Once the path heals,
// events cross again.
func TestPublishWhileStalled(t *testing.T) {
	a, b, px := proxiedPair(t)
	rec := newRecorder()
	subscribe(t, a.join(t, client.Config{}), "stall.t", protocol.MatchExact, rec)
	pub := b.join(t, client.Config{})
	crosses := func(what string) {
		t.Helper()
		deadline := time.Now().Add(testTimeout)
		for n := len(rec.snapshot()); len(rec.snapshot()) == n; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no event crossed %s", what)
			}
			ctx, cancel := testContext()
			_, _ = pub.DoPublish(ctx, &client.PublishRequest{Topic: "stall.t", Acknowledge: true})
			cancel()
		}
	}
	crosses("before the cut")

	px.freeze()
	payload := strings.Repeat("x", 64<<10)
	refused := 0
	for i := range 400 { // 25 MiB
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		_, err := pub.DoPublish(ctx, &client.PublishRequest{Topic: "stall.t", Args: protocol.List{payload}, Acknowledge: true})
		cancel()
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			t.Fatalf("publication %d on a node cut off still waits for its answer", i)
		case isErrURI(err, router.ClusterUnavailable):
			refused++
		case err != nil:
			t.Fatalf("publication %d: %v", i, err)
		}
	}
	if refused == 0 {
		t.Error("no publication was refused while the node was cut off")
	}
	px.thaw()
	crosses("after the cut healed")
}

// TestNodeBackAfterCutIsCallable cuts node B off NATS long enough for A
// to find it gone and withdraw its registrations: once B is back, its
// callees are callable from A again, without registering anew (spec'd
// by the issue: a node that rejoins is consistent again).
func TestNodeBackAfterCutIsCallable(t *testing.T) {
	a, b, px := proxiedPair(t)
	echo := func(context.Context, *client.Invocation) (*client.Result, error) { return &client.Result{}, nil }
	register(t, b.join(t, client.Config{}), "cut.single", nil, echo)
	registerShared(t, b.join(t, client.Config{}), "cut.rr", "roundrobin", 1)
	registerShared(t, b.join(t, client.Config{}), "cut.rr", "roundrobin", 2)
	caller := a.join(t, client.Config{})
	for _, p := range []protocol.URI{"cut.single", "cut.rr"} {
		if _, err := callWhenThere(t, caller, &client.CallRequest{Procedure: p}); err != nil {
			t.Fatalf("call %s: %v", p, err)
		}
	}
	px.freeze()
	px.cut()
	for _, p := range []protocol.URI{"cut.single", "cut.rr"} {
		waitGone(t, caller, p)
	}
	px.thaw()
	for _, p := range []protocol.URI{"cut.single", "cut.rr"} {
		callUntilOK(t, caller, p)
	}
}

// TestPlacesBackAfterCut: B's callee of a first registration registered
// before A's, so callers on both nodes reach it. B is cut off until A
// withdraws B's holding, and A's callee answers meanwhile. When B is
// back, its callee, which never left, is first again for A's callers
// too: B puts its place back into the bucket with its holding.
func TestPlacesBackAfterCut(t *testing.T) {
	a, b, px := proxiedPair(t)
	callerA, callerB := a.join(t, client.Config{}), b.join(t, client.Config{})
	registerShared(t, b.join(t, client.Config{}), "cut.first", "first", 1)
	waitPicked(t, []*client.Client{callerA}, "cut.first", 1)
	registerShared(t, a.join(t, client.Config{}), "cut.first", "first", 2)
	waitPicked(t, []*client.Client{callerA, callerB}, "cut.first", 1)

	px.freeze()
	px.cut()
	answeredBy := func(n int) func(*client.Result, error) bool {
		return func(res *client.Result, err error) bool { return err == nil && argIntOf(res.Args) == n }
	}
	callUntil(t, callerA, &client.CallRequest{Procedure: "cut.first"}, answeredBy(2))
	px.thaw()
	callUntil(t, callerA, &client.CallRequest{Procedure: "cut.first"}, answeredBy(1))
	waitPicked(t, []*client.Client{callerA, callerB}, "cut.first", 1)
}

// proxiedPair starts a NATS server and two nodes, A joined to it
// directly and B through a proxy (see proxy), which passes bytes again
// before B closes.
func proxiedPair(tb testing.TB) (a, b *node, px *proxy) {
	tb.Helper()
	return proxiedPairWith(tb, cluster.Config{})
}

// proxiedPairWith is proxiedPair with the nodes' ccfg.
func proxiedPairWith(tb testing.TB, ccfg cluster.Config) (a, b *node, px *proxy) {
	tb.Helper()
	url := startNATS(tb)
	px = startProxy(tb, url)
	rcfg := router.Config{Realms: []router.RealmConfig{{}}}
	a = startNodesWith(tb, url, 1, rcfg, ccfg)[0]
	b = startNodesWith(tb, px.url, 1, rcfg, ccfg)[0]
	tb.Cleanup(px.thaw)
	return a, b, px
}

// callUntilOK calls procedure on c until a call succeeds; any error,
// not only wamp.error.no_such_procedure, means not yet.
func callUntilOK(tb testing.TB, c *client.Client, procedure protocol.URI) {
	tb.Helper()
	callUntil(tb, c, &client.CallRequest{Procedure: procedure}, func(_ *client.Result, err error) bool { return err == nil })
}

// TestRecheckListsRecords: the check of a node's session records after
// it claimed its lease again lists them instead of reading each, and
// still ends the session whose record another node deleted, and only
// that one.
func TestRecheckListsRecords(t *testing.T) {
	n := startNodes(t, startNATS(t), 1, router.RealmConfig{})[0]
	sessions := make([]*client.Client, 200)
	for i := range sessions {
		sessions[i] = n.join(t, client.Config{})
	}
	n.c.FlushRecords()
	ctx, cancel := testContext()
	defer cancel()
	gets, err := n.c.Recheck(ctx)
	if err != nil || gets != 0 {
		t.Fatalf("check of %d listed records: %d read one by one (%v), want 0", len(sessions), gets, err)
	}
	victim := sessions[len(sessions)/2]
	if err := n.c.DeleteSessionRecord(ctx, victim.SessionID()); err != nil {
		t.Fatal(err)
	}
	if gets, err = n.c.Recheck(ctx); err != nil || gets != 1 {
		t.Fatalf("check with one record deleted: %d read one by one (%v), want 1", gets, err)
	}
	select {
	case <-victim.Done():
	case <-ctx.Done():
		t.Fatal("the session whose record another node deleted lives on")
	}
	for i, c := range sessions {
		select {
		case <-c.Done():
			if c != victim {
				t.Errorf("session %d ended too", i)
			}
		default:
		}
	}
}

// TestNodeTakenForGoneEndsItsSessions cuts node B off NATS for longer
// than its lease: A takes it for gone and publishes the on_leave of B's
// session, whose record it claims. When B is back, that session, which
// the cluster announced gone, ends, quietly (no second on_leave), so that
// its client joins anew; a session that joined B while it was cut off,
// which nobody announced gone, stays and gets its record.
func TestNodeTakenForGoneEndsItsSessions(t *testing.T) {
	a, b, px := proxiedPairWith(t, cluster.Config{LeaseTTL: time.Second})
	watcher := a.rawJoin(t)
	watcher.subscribe(1, "wamp.session.on_leave")
	// leaveOf returns the session of the next on_leave at the watcher.
	leaveOf := func() protocol.ID {
		t.Helper()
		ev, ok := watcher.recv().(*protocol.Event)
		if !ok || len(ev.Args) == 0 {
			t.Fatalf("got %v, want an on_leave EVENT", ev)
		}
		id, _ := protocol.ToID(ev.Args[0])
		return id
	}
	victim := b.join(t, client.Config{})
	b.c.FlushRecords()
	ctx, cancel := testContext()
	defer cancel()
	if !b.c.HasSessionRecord(ctx, victim.SessionID()) {
		t.Fatal("the session's record was not written")
	}

	px.freeze()
	if id := leaveOf(); id != victim.SessionID() {
		t.Fatalf("on_leave of %d, want B's session %d", id, victim.SessionID())
	}
	late := b.join(t, client.Config{}) // while B is cut off
	px.thaw()

	select {
	case <-victim.Done():
	case <-time.After(testTimeout):
		t.Fatal("the session the cluster announced gone lives on")
	}
	for deadline := time.Now().Add(testTimeout); !b.c.HasSessionRecord(ctx, late.SessionID()); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the session that joined while B was cut off has no record")
		}
	}
	select {
	case <-late.Done():
		t.Fatal("the session that joined while B was cut off ended")
	default:
	}
	// B's events reach A in order: the on_leave of a session that leaves
	// now comes after any the victim's end would have published.
	probe := b.join(t, client.Config{})
	id := probe.SessionID()
	probe.Close()
	if got := leaveOf(); got != id {
		t.Fatalf("on_leave of %d, want only the probe's (%d)", got, id)
	}
}

// TestRegistrationTakenDuringCut cuts node B, which holds a single
// registration, off NATS until A finds it gone, and registers the
// procedure on A meanwhile: when B is back, the procedure must not have
// two callees. B revokes its own (UNREGISTERED to its callee, which
// announced registration revocation) and its callers reach A's callee.
func TestRegistrationTakenDuringCut(t *testing.T) {
	a, b, px := proxiedPair(t)
	answer := func(who string) client.InvocationHandler {
		return func(context.Context, *client.Invocation) (*client.Result, error) {
			return &client.Result{Args: protocol.List{who}}, nil
		}
	}
	register(t, b.join(t, client.Config{}), "taken.p", nil, answer("b"))
	callerA, callerB := a.join(t, client.Config{}), b.join(t, client.Config{})
	if _, err := callWhenThere(t, callerA, &client.CallRequest{Procedure: "taken.p"}); err != nil {
		t.Fatal(err)
	}
	px.freeze()
	px.cut()
	waitGone(t, callerA, "taken.p")
	registerWhenFree(t, a.join(t, client.Config{}), "taken.p", answer("a"))
	px.thaw()
	for _, c := range []*client.Client{callerA, callerB} { // each must reach A's callee
		callUntil(t, c, &client.CallRequest{Procedure: "taken.p"}, func(res *client.Result, err error) bool {
			return err == nil && len(res.Args) == 1 && res.Args[0] == "a"
		})
	}
}

// TestGoneNodeFoundAfterUnreadableLease crashes node B while A's first
// read of B's lease fails (the bucket cannot tell, under load say): A
// must find B gone at a later sweep and publish its session's on_leave.
// Before, A's sweeps no longer looked at B once the listing lacked it.
func TestGoneNodeFoundAfterUnreadableLease(t *testing.T) {
	nodes := startNodesWith(t, startNATS(t), 2, router.Config{}, cluster.Config{LeaseTTL: time.Second})
	a, b := nodes[0], nodes[1]
	watcher := a.rawJoin(t)
	watcher.subscribe(1, "wamp.session.on_leave")
	victim := b.join(t, client.Config{})
	b.c.FlushRecords()
	left := a.c.FailLeaseReads(1)
	b.c.Crash()
	ev, ok := watcher.recv().(*protocol.Event)
	if !ok || len(ev.Args) == 0 {
		t.Fatalf("got %v, want the on_leave EVENT", ev)
	}
	if id, _ := protocol.ToID(ev.Args[0]); id != victim.SessionID() {
		t.Errorf("on_leave of %d, want B's session %d", id, victim.SessionID())
	}
	if n := left(); n != 0 {
		t.Errorf("A's read of B's lease did not fail (%d failures left): the test missed its path", n)
	}
}
