package cluster_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/cluster"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// startMetaNodes starts n nodes as startNodes does, with cfg's
// MetaTimeout and LeaseTTL: a meta test waits longer for the other
// nodes' answers than a node does by default, so that a loaded machine
// does not make it leave one out.
func startMetaNodes(tb testing.TB, url string, n int, rc router.RealmConfig, cfg cluster.Config) []*node {
	tb.Helper()
	if cfg.MetaTimeout == 0 {
		cfg.MetaTimeout = 10 * time.Second
	}
	return startNodesWith(tb, url, n, router.Config{Realms: []router.RealmConfig{rc}}, cfg)
}

// openAuthorizer permits everything to everyone, explicitly, as the kill
// procedures need.
func openAuthorizer(tb testing.TB) router.Authorizer {
	tb.Helper()
	authz, err := router.NewRoleAuthorizer(map[string][]router.Permission{
		"anonymous": {{URI: "", Match: protocol.MatchPrefix, Call: true, Register: true, Publish: true, Subscribe: true}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return authz
}

// call calls procedure on c and fails the test on an error.
func call(tb testing.TB, c *client.Client, procedure protocol.URI, args ...any) protocol.List {
	tb.Helper()
	ctx, cancel := testContext()
	defer cancel()
	res, err := c.Call(ctx, procedure, args...)
	if err != nil {
		tb.Fatalf("%s%v: %v", procedure, args, err)
	}
	return res.Args
}

// ids returns the IDs of a list of IDs, sorted.
func ids(tb testing.TB, v any) []protocol.ID {
	tb.Helper()
	l, ok := v.([]any)
	if !ok {
		if pl, ok2 := v.(protocol.List); ok2 {
			l, ok = pl, true
		}
	}
	if !ok {
		tb.Fatalf("%v (%T) is no list", v, v)
	}
	out := make([]protocol.ID, 0, len(l))
	for _, x := range l {
		id, ok := protocol.ToID(x)
		if !ok {
			tb.Fatalf("%v in %v is no ID", x, l)
		}
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

func sortedIDs(l ...protocol.ID) []protocol.ID {
	l = slices.Clone(l)
	slices.Sort(l)
	return l
}

// TestSessionMetaAcrossNodes: wamp.session.count, list and get see the
// sessions of every node, never the cluster's own; on_join and on_leave
// of a session on one node reach a subscriber on another, once.
func TestSessionMetaAcrossNodes(t *testing.T) {
	nodes := startMetaNodes(t, startNATS(t), 3, router.RealmConfig{Authorizer: openAuthorizer(t)}, cluster.Config{})
	watcher := nodes[0].join(t, client.Config{})
	joins, leaves := newRecorder(), newRecorder()
	subscribe(t, watcher, "wamp.session.on_join", protocol.MatchExact, joins)
	subscribe(t, watcher, "wamp.session.on_leave", protocol.MatchExact, leaves)

	callee := nodes[1].join(t, client.Config{})
	register(t, callee, "meta.echo", nil, echo)
	other := nodes[2].join(t, client.Config{})
	// A call across nodes makes the cluster open sessions of its own on
	// nodes 0 and 2 (stand-ins) and 1 (relay): none is announced.
	if _, err := callWhenThere(t, watcher, &client.CallRequest{Procedure: "meta.echo"}); err != nil {
		t.Fatal(err)
	}
	joins.waitFor(t, "on_join of other", func(ev client.Event) bool {
		d, _ := protocol.ToDict(ev.Args[0])
		return sameID(d["session"], other.SessionID())
	})

	want := sortedIDs(watcher.SessionID(), callee.SessionID(), other.SessionID())
	for i, n := range nodes {
		c := n.join(t, client.Config{})
		want := sortedIDs(append(want, c.SessionID())...)
		if got := ids(t, call(t, c, "wamp.session.list")[0]); !slices.Equal(got, want) {
			t.Errorf("node %d: wamp.session.list = %v, want %v", i, got, want)
		}
		if got := call(t, c, "wamp.session.count")[0]; !sameID(got, protocol.ID(len(want))) {
			t.Errorf("node %d: wamp.session.count = %v, want %d", i, got, len(want))
		}
		d, _ := protocol.ToDict(call(t, c, "wamp.session.get", uint64(callee.SessionID()))[0])
		if d.String("authid") != callee.WelcomeDetails().String("authid") || !sameID(d["session"], callee.SessionID()) {
			t.Errorf("node %d: wamp.session.get(callee) = %v", i, d)
		}
		c.Close()
	}
	ctx, cancel := testContext()
	defer cancel()
	if _, err := watcher.Call(ctx, "wamp.session.get", uint64(1)); !isErrURI(err, protocol.ErrNoSuchSession) {
		t.Errorf("wamp.session.get(1) = %v, want %s", err, protocol.ErrNoSuchSession)
	}

	other.Close()
	leaves.waitFor(t, "on_leave of other", func(ev client.Event) bool { return sameID(ev.Args[0], other.SessionID()) })
	// A marker from node 2 comes after anything node 2 announced before.
	marker := nodes[2].join(t, client.Config{})
	joins.waitFor(t, "on_join of marker", func(ev client.Event) bool {
		d, _ := protocol.ToDict(ev.Args[0])
		return sameID(d["session"], marker.SessionID())
	})
	marker.Close()
	leaves.waitFor(t, "on_leave of marker", func(ev client.Event) bool { return sameID(ev.Args[0], marker.SessionID()) })
	for _, ev := range joins.snapshot() {
		d, _ := protocol.ToDict(ev.Args[0])
		if d.String("authrole") == router.ClusterAuthRole {
			t.Errorf("on_join of a cluster session: %v", d)
		}
	}
	seen := map[protocol.ID]int{}
	for _, ev := range leaves.snapshot() {
		id, _ := protocol.ToID(ev.Args[0])
		seen[id]++
		if len(ev.Args) > 2 && ev.Args[2] == router.ClusterAuthRole {
			t.Errorf("on_leave of a cluster session: %v", ev.Args)
		}
	}
	if seen[other.SessionID()] != 1 {
		t.Errorf("on_leave of other received %d times, want 1", seen[other.SessionID()])
	}
}

// TestKillAcrossNodes: the kill procedures end sessions on other nodes,
// with the reason and message given, and never the caller.
func TestKillAcrossNodes(t *testing.T) {
	nodes := startMetaNodes(t, startNATS(t), 3, router.RealmConfig{Authorizer: openAuthorizer(t)}, cluster.Config{})
	killer := nodes[0].join(t, client.Config{})
	victim := nodes[1].join(t, client.Config{})
	ctx, cancel := testContext()
	defer cancel()
	_, err := killer.Do(ctx, &client.CallRequest{Procedure: "wamp.session.kill", Args: protocol.List{uint64(victim.SessionID())},
		Kwargs: protocol.Dict{"reason": "com.example.bye", "message": "go away"}})
	if err != nil {
		t.Fatalf("wamp.session.kill: %v", err)
	}
	select {
	case <-victim.Done():
	case <-time.After(testTimeout):
		t.Fatal("victim not killed")
	}
	var g *client.GoodbyeError
	if !errors.As(victim.Err(), &g) || g.Reason != "com.example.bye" || g.Details.String("message") != "go away" {
		t.Errorf("victim ended with %v, want GOODBYE com.example.bye with message go away", victim.Err())
	}

	a1 := nodes[1].join(t, client.Config{})
	a2 := nodes[2].join(t, client.Config{})
	same := nodes[0].join(t, client.Config{})
	got := ids(t, call(t, same, "wamp.session.kill_by_authid", a1.WelcomeDetails().String("authid"))[0])
	if want := sortedIDs(a1.SessionID()); !slices.Equal(got, want) {
		t.Errorf("kill_by_authid = %v, want %v", got, want)
	}
	// kill_by_authrole: every other anonymous session (a2, same), on
	// every node, but the caller.
	if n := call(t, killer, "wamp.session.kill_by_authrole", "anonymous")[0]; !sameID(n, 2) {
		t.Errorf("kill_by_authrole = %v, want 2", n)
	}
	for _, c := range []*client.Client{a1, a2, same} {
		select {
		case <-c.Done():
		case <-time.After(testTimeout):
			t.Fatal("session not killed")
		}
	}
	nodes[1].join(t, client.Config{})
	nodes[2].join(t, client.Config{})
	if n := call(t, killer, "wamp.session.kill_all")[0]; !sameID(n, 2) {
		t.Errorf("kill_all = %v, want 2", n)
	}
	// The killed sessions leave once they answered GOODBYE.
	for deadline := time.Now().Add(testTimeout); ; time.Sleep(10 * time.Millisecond) {
		n := call(t, killer, "wamp.session.count")[0]
		if sameID(n, 1) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("count after kill_all = %v, want 1", n)
		}
	}
	if _, err := killer.Call(ctx, "wamp.session.kill", uint64(killer.SessionID())); !isErrURI(err, protocol.ErrNoSuchSession) {
		t.Errorf("kill of the caller = %v, want %s", err, protocol.ErrNoSuchSession)
	}
}

// TestRegistrationMetaAcrossNodes: a registration has the same ID on
// every node, and its callees are the real sessions of every node.
func TestRegistrationMetaAcrossNodes(t *testing.T) {
	nodes := startMetaNodes(t, startNATS(t), 3, router.RealmConfig{Authorizer: openAuthorizer(t)}, cluster.Config{})
	c1 := nodes[1].join(t, client.Config{})
	c2 := nodes[2].join(t, client.Config{})
	shared := &client.RegisterOptions{Invoke: "roundrobin"}
	register(t, c1, "meta.shared", shared, echo)
	registerWhenShared(t, c2, "meta.shared", shared)
	asker := nodes[0].join(t, client.Config{})
	if _, err := callWhenThere(t, asker, &client.CallRequest{Procedure: "meta.shared"}); err != nil {
		t.Fatal(err)
	}
	var id protocol.ID
	for i, n := range nodes {
		c := n.join(t, client.Config{})
		deadline := time.Now().Add(testTimeout)
		var got []protocol.ID
		for {
			v := call(t, c, "wamp.registration.lookup", "meta.shared")[0]
			rid, ok := protocol.ToID(v)
			if ok {
				if id == 0 {
					id = rid
				} else if rid != id {
					t.Errorf("node %d: lookup = %d, node 0 said %d", i, rid, id)
				}
				got = ids(t, call(t, c, "wamp.registration.list_callees", uint64(rid))[0])
				if len(got) == 2 || time.Now().After(deadline) {
					break
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		if want := sortedIDs(c1.SessionID(), c2.SessionID()); !slices.Equal(got, want) {
			t.Errorf("node %d: list_callees = %v, want %v", i, got, want)
		}
		if n := call(t, c, "wamp.registration.count_callees", uint64(id))[0]; !sameID(n, 2) {
			t.Errorf("node %d: count_callees = %v, want 2", i, n)
		}
		d, _ := protocol.ToDict(call(t, c, "wamp.registration.get", uint64(id))[0])
		if d.String("uri") != "meta.shared" || d.String("invoke") != "roundrobin" {
			t.Errorf("node %d: get = %v", i, d)
		}
		c.Close()
	}
}

// registerWhenShared registers a second callee of a shared procedure,
// retrying while the first registration has not reached c's node.
func registerWhenShared(tb testing.TB, c *client.Client, procedure protocol.URI, opts *client.RegisterOptions) {
	tb.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		ctx, cancel := testContext()
		_, err := c.Register(ctx, procedure, echo, opts)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("Register(%s): %v", procedure, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSubscriptionMetaAcrossNodes: a subscription has the same ID on
// every node, and the subscription meta procedures see the subscribers of
// every node, from a node that has none.
func TestSubscriptionMetaAcrossNodes(t *testing.T) {
	nodes := startMetaNodes(t, startNATS(t), 3, router.RealmConfig{Authorizer: openAuthorizer(t)}, cluster.Config{})
	s1 := nodes[1].join(t, client.Config{})
	s2 := nodes[2].join(t, client.Config{})
	sub1 := subscribe(t, s1, "meta.topic", protocol.MatchExact, newRecorder())
	sub2 := subscribe(t, s2, "meta.topic", protocol.MatchExact, newRecorder())
	subscribe(t, s2, "meta", protocol.MatchPrefix, newRecorder())
	if sub1.ID() != sub2.ID() {
		t.Errorf("subscription IDs on nodes 1 and 2: %d, %d; want the same", sub1.ID(), sub2.ID())
	}
	id := sub1.ID()
	c := nodes[0].join(t, client.Config{})
	if got := call(t, c, "wamp.subscription.lookup", "meta.topic")[0]; !sameID(got, id) {
		t.Errorf("lookup = %v, want %d", got, id)
	}
	if got := ids(t, call(t, c, "wamp.subscription.list_subscribers", uint64(id))[0]); !slices.Equal(got, sortedIDs(s1.SessionID(), s2.SessionID())) {
		t.Errorf("list_subscribers = %v, want %v", got, sortedIDs(s1.SessionID(), s2.SessionID()))
	}
	if n := call(t, c, "wamp.subscription.count_subscribers", uint64(id))[0]; !sameID(n, 2) {
		t.Errorf("count_subscribers = %v, want 2", n)
	}
	d, _ := protocol.ToDict(call(t, c, "wamp.subscription.get", uint64(id))[0])
	if d.String("uri") != "meta.topic" || !sameID(d["id"], id) {
		t.Errorf("get = %v", d)
	}
	if got := ids(t, call(t, c, "wamp.subscription.match", "meta.topic")[0]); len(got) != 2 || !slices.Contains(got, id) {
		t.Errorf("match = %v, want meta.topic's and meta's", got)
	}
	lists, _ := protocol.ToDict(call(t, c, "wamp.subscription.list")[0])
	if exact := ids(t, lists["exact"]); !slices.Contains(exact, id) {
		t.Errorf("list = %v, want %d among exact", lists, id)
	}
	if prefix := ids(t, lists["prefix"]); len(prefix) != 1 {
		t.Errorf("list = %v, want one prefix subscription", lists)
	}
	ctx, cancel := testContext()
	defer cancel()
	if _, err := c.Call(ctx, "wamp.subscription.get", uint64(1)); !isErrURI(err, protocol.ErrNoSuchSubscription) {
		t.Errorf("get(1) = %v, want %s", err, protocol.ErrNoSuchSubscription)
	}
}

// TestTestamentOfDeadNode: a node that dies (its connection cut, its lease
// left to expire) has its sessions' on_leave and testaments published by
// one of the survivors: each subscriber on every other node gets them
// once, on_leave first, then the testaments, detached before destroyed.
func TestTestamentOfDeadNode(t *testing.T) { testTestamentOfDeadNode(t) }

// TestTestamentOfDeadNodeShortListing is TestTestamentOfDeadNode when the
// survivor's listing of the dead node's session records ends before its
// keys (as nats.go's key lister can while records change): the on_leave
// still comes before the testaments.
func TestTestamentOfDeadNodeShortListing(t *testing.T) {
	cluster.SetSessionListingFilter(func([]string) []string { return nil })
	t.Cleanup(func() { cluster.SetSessionListingFilter(nil) })
	testTestamentOfDeadNode(t)
}

func testTestamentOfDeadNode(t *testing.T) {
	// A short lease, so that the node is found gone soon; not so short
	// that a renewal late on a loaded machine lets it expire.
	nodes := startMetaNodes(t, startNATS(t), 3, router.RealmConfig{}, cluster.Config{LeaseTTL: 2 * time.Second})
	// Raw sessions: the order is the one the router sent in, across
	// subscriptions (a client hands each subscription's events to its
	// own goroutine).
	watched := []protocol.URI{"wamp.session.on_leave", "will.detached", "will.flushed", "will.destroyed", "will.marker"}
	type watcher struct {
		p      *rawPeer
		topics map[protocol.ID]protocol.URI
	}
	var ws []watcher
	for _, n := range []*node{nodes[0], nodes[2]} {
		w := watcher{p: n.rawJoin(t), topics: map[protocol.ID]protocol.URI{}}
		for i, topic := range watched {
			w.topics[w.p.subscribe(protocol.ID(i+1), topic)] = topic
		}
		ws = append(ws, w)
	}
	dying := nodes[1].join(t, client.Config{})
	ctx, cancel := testContext()
	defer cancel()
	for _, tm := range []struct {
		topic protocol.URI
		scope string
	}{{"will.destroyed", "destroyed"}, {"will.detached", "detached"}, {"will.flushed", "detached"}} {
		_, err := dying.Do(ctx, &client.CallRequest{Procedure: "wamp.session.add_testament",
			Args: protocol.List{string(tm.topic), protocol.List{"bye"}}, Kwargs: protocol.Dict{"scope": tm.scope,
				"publish_options": protocol.Dict{"disclose_me": true}}})
		if err != nil {
			t.Fatalf("add_testament %s: %v", tm.topic, err)
		}
	}
	_, err := dying.Do(ctx, &client.CallRequest{Procedure: "wamp.session.flush_testaments", Kwargs: protocol.Dict{"scope": "detached"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = dying.Do(ctx, &client.CallRequest{Procedure: "wamp.session.add_testament",
		Args: protocol.List{"will.detached"}, Kwargs: protocol.Dict{"scope": "detached"}})
	if err != nil {
		t.Fatal(err)
	}

	nodes[1].c.Crash()
	// next returns the topic and event of the next EVENT w gets.
	next := func(w watcher) (protocol.URI, *protocol.Event) {
		t.Helper()
		ev, ok := w.p.recv().(*protocol.Event)
		if !ok {
			t.Fatal("not an EVENT")
		}
		return w.topics[ev.Subscription], ev
	}
	for i, w := range ws {
		topic, ev := next(w)
		if topic != "wamp.session.on_leave" || len(ev.Args) == 0 || !sameID(ev.Args[0], dying.SessionID()) {
			t.Fatalf("subscriber %d: first %s %v, want on_leave of %d", i, topic, ev.Args, dying.SessionID())
		}
		if topic, _ := next(w); topic != "will.detached" {
			t.Fatalf("subscriber %d: second %s, want will.detached", i, topic)
		}
		topic, ev = next(w)
		if topic != "will.destroyed" {
			t.Fatalf("subscriber %d: third %s, want will.destroyed", i, topic)
		}
		if !sameID(ev.Details["publisher"], dying.SessionID()) {
			t.Errorf("subscriber %d: destroyed testament's publisher = %v, want %d", i, ev.Details["publisher"], dying.SessionID())
		}
	}
	// Markers published on both survivors after the testaments were
	// received: whatever a survivor published before reached each
	// subscriber before its marker, so nothing else must come first.
	for i, n := range []*node{nodes[0], nodes[2]} {
		publish(t, n.join(t, client.Config{}), client.PublishRequest{Topic: "will.marker", Args: protocol.List{i}})
	}
	for i, w := range ws {
		for range 2 {
			if topic, _ := next(w); topic != "will.marker" {
				t.Errorf("subscriber %d: %s after the testaments, want only the markers", i, topic)
			}
		}
	}
}

// TestMetaLeavesOutSilentNode: a node that is in the cluster (its lease
// still held) but does not answer is left out of a meta procedure's
// answer, which still comes, with the others' sessions.
func TestMetaLeavesOutSilentNode(t *testing.T) {
	nodes := startMetaNodes(t, startNATS(t), 3, router.RealmConfig{}, cluster.Config{MetaTimeout: time.Second})
	c0 := nodes[0].join(t, client.Config{})
	nodes[1].join(t, client.Config{})
	c2 := nodes[2].join(t, client.Config{})
	if n := call(t, c0, "wamp.session.count")[0]; !sameID(n, 3) {
		t.Fatalf("count = %v, want 3", n)
	}
	nodes[1].c.Crash() // its lease outlives it by LeaseTTL
	got := ids(t, call(t, c0, "wamp.session.list")[0])
	if want := sortedIDs(c0.SessionID(), c2.SessionID()); !slices.Equal(got, want) {
		t.Errorf("list with node 1 silent = %v, want %v", got, want)
	}
}

// TestSweepKeepsLiveNode: a node whose lease is held is not gone, even
// when the listing of the lease bucket misses it (nats.go's key lister
// can end early while leases are renewed): nobody publishes its
// sessions' on_leave or testaments, and its session stays.
func TestSweepKeepsLiveNode(t *testing.T) {
	nodes := startMetaNodes(t, startNATS(t), 3, router.RealmConfig{}, cluster.Config{LeaseTTL: 2 * time.Second})
	// A raw session: events in the order the router sent them, across
	// subscriptions.
	watcher := nodes[0].rawJoin(t)
	marker := watcher.subscribe(1, "will.marker")
	watcher.subscribe(2, "will.destroyed")
	watcher.subscribe(3, "wamp.session.on_leave")
	alive := nodes[1].join(t, client.Config{})
	ctx, cancel := testContext()
	defer cancel()
	if _, err := alive.Do(ctx, &client.CallRequest{Procedure: "wamp.session.add_testament",
		Args: protocol.List{"will.destroyed", protocol.List{"bye"}}, Kwargs: protocol.Dict{"scope": "destroyed"}}); err != nil {
		t.Fatal(err)
	}
	slot := nodes[1].c.Slot()
	listings := cluster.SetListingFilter(func(live map[uint32]string) map[uint32]string {
		delete(live, slot)
		return live
	})
	defer func() { cluster.SetListingFilter(nil) }()
	// Several sweeps of both other nodes, each with node 1 missing from
	// its listing.
	deadline := time.Now().Add(testTimeout)
	for listings() < 6 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d sweeps", listings())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cluster.SetListingFilter(nil)
	// A marker event after the sweeps: what they published is before it.
	publish(t, nodes[0].join(t, client.Config{}), client.PublishRequest{Topic: "will.marker"})
	if m := watcher.recv(); m.Type() != protocol.TypeEvent || m.(*protocol.Event).Subscription != marker {
		t.Errorf("while node 1 lives the watcher got %#v first, want the marker", m)
	}
	if _, err := alive.Call(ctx, "wamp.session.count"); err != nil {
		t.Errorf("the live node's session after the sweeps: %v", err)
	}
}

// TestMetaCountWithShortListing: a listing of the lease bucket that ends
// early (nats.go's key lister can, while leases are renewed) does not
// make a meta procedure leave a live node out: the count of the other
// nodes does not come from a listing.
func TestMetaCountWithShortListing(t *testing.T) {
	nodes := startMetaNodes(t, startNATS(t), 3, router.RealmConfig{}, cluster.Config{})
	c0 := nodes[0].join(t, client.Config{})
	c1 := nodes[1].join(t, client.Config{})
	c2 := nodes[2].join(t, client.Config{})
	want := sortedIDs(c0.SessionID(), c1.SessionID(), c2.SessionID())
	// Node 0 counts the nodes whose leases its watch has seen, a moment
	// after each started: wait for all before the listings go short.
	for deadline := time.Now().Add(testTimeout); !slices.Equal(ids(t, call(t, c0, "wamp.session.list")[0]), want); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("node 0 never saw every node's session")
		}
	}
	others := map[uint32]bool{nodes[1].c.Slot(): true, nodes[2].c.Slot(): true}
	cluster.SetListingFilter(func(live map[uint32]string) map[uint32]string {
		for slot := range others {
			delete(live, slot)
		}
		return live
	})
	defer func() { cluster.SetListingFilter(nil) }()
	for i := range 3 {
		got := ids(t, call(t, c0, "wamp.session.list")[0])
		if !slices.Equal(got, want) {
			t.Fatalf("list %d with short listings = %v, want %v", i, got, want)
		}
	}
}
