package cluster_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/router/auth"
)

// intArg reports whether ev's first argument is the integer n.
func intArg(ev client.Event, n int) bool { return argInt(ev) == n }

// TestEventsAcrossNodes publishes on one node of three and checks that
// every subscriber on every node, exact, prefix and wildcard, gets each
// event exactly once and in publication order, and that the node's own
// subscribers do too.
func TestEventsAcrossNodes(t *testing.T) {
	nodes := startNodes(t, startNATS(t), 3, router.RealmConfig{})
	type sub struct {
		node  int
		topic protocol.URI
		match protocol.MatchPolicy
		rec   *recorder
	}
	var subs []*sub
	for i, n := range nodes {
		c := n.join(t, client.Config{})
		for _, s := range []sub{
			{i, "com.example.temp", protocol.MatchExact, nil},
			{i, "com.ex", protocol.MatchPrefix, nil},
			{i, "com..temp", protocol.MatchWildcard, nil},
		} {
			s.rec = newRecorder()
			subscribe(t, c, s.topic, s.match, s.rec)
			subs = append(subs, &s)
		}
	}
	pub := nodes[0].join(t, client.Config{})
	const count = 200
	for i := 1; i <= count; i++ {
		publish(t, pub, client.PublishRequest{Topic: "com.example.temp", Args: protocol.List{i}})
	}
	// An event nobody subscribes to exactly, then the last one: every
	// event before it has arrived once it has (per-publisher order).
	publish(t, pub, client.PublishRequest{Topic: "com.example.other", Args: protocol.List{-1}})
	publish(t, pub, client.PublishRequest{Topic: "com.example.temp", Args: protocol.List{count + 1}})
	for _, s := range subs {
		got := s.rec.waitFor(t, "last event", func(ev client.Event) bool { return intArg(ev, count+1) })
		var want, have []int
		for i := 1; i <= count; i++ {
			want = append(want, i)
		}
		if s.match == protocol.MatchPrefix {
			want = append(want, -1)
		}
		for _, ev := range got[:len(got)-1] {
			have = append(have, argInt(ev))
			if s.match != protocol.MatchExact && ev.Topic == "" {
				t.Errorf("node %d %s %s: event without Details.topic", s.node, s.match, s.topic)
			}
		}
		if diff := cmp.Diff(want, have); diff != "" {
			t.Errorf("node %d %s %s: events mismatch (-want +got):\n%s", s.node, s.match, s.topic, diff)
		}
	}
	for i, n := range nodes {
		st := n.c.Stats()
		if st.Dropped != 0 || st.ForwardFailed != 0 {
			t.Errorf("node %d: stats %+v, want nothing dropped or failed", i, st)
		}
	}
}

// TestEventOrderAcrossTopics checks the spec's ordering guarantee across
// topics (basic "Ordering Guarantees"): a subscriber of two topics gets a
// publisher's events of both in publication order, when the publisher is
// on another node.
func TestEventOrderAcrossTopics(t *testing.T) {
	nodes := startNodes(t, startNATS(t), 2, router.RealmConfig{})
	sub := nodes[1].rawJoin(t)
	one := sub.subscribe(1, "a.one")
	two := sub.subscribe(2, "a.two")
	pub := nodes[0].join(t, client.Config{})
	const count = 300
	for i := 1; i <= count; i++ {
		topic := protocol.URI("a.one")
		if i%2 == 0 {
			topic = "a.two"
		}
		// Unacknowledged: the publisher does not wait between events.
		ctx, cancel := testContext()
		if err := pub.Publish(ctx, topic, i); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	for i := 1; i <= count; i++ {
		ev, ok := sub.recv().(*protocol.Event)
		if !ok {
			t.Fatalf("message %d is not an EVENT", i)
		}
		want := one
		if i%2 == 0 {
			want = two
		}
		if n, _ := protocol.ToID(ev.Args[0]); int(n) != i || ev.Subscription != want {
			t.Fatalf("event %d is %v of subscription %d, want %d of %d (order across topics lost)",
				i, ev.Args[0], ev.Subscription, i, want)
		}
	}
}

// TestEventsOnlyWhereSubscribed checks that events go only to the nodes
// with a matching subscription: NATS carries them by interest, and a node
// that unsubscribed gets no more.
func TestEventsOnlyWhereSubscribed(t *testing.T) {
	nodes := startNodes(t, startNATS(t), 3, router.RealmConfig{})
	rec := newRecorder()
	c1 := nodes[1].join(t, client.Config{})
	sub := subscribe(t, c1, "only.here", protocol.MatchExact, rec)
	pub := nodes[0].join(t, client.Config{})
	for i := 1; i <= 10; i++ {
		publish(t, pub, client.PublishRequest{Topic: "only.here", Args: protocol.List{i}})
		publish(t, pub, client.PublishRequest{Topic: "no.one.listens", Args: protocol.List{i}})
	}
	rec.waitFor(t, "event 10", func(ev client.Event) bool { return intArg(ev, 10) })
	if got := nodes[1].c.Stats().Received; got != 10 {
		t.Errorf("subscribed node received %d events, want 10", got)
	}
	if got := nodes[2].c.Stats().Received; got != 0 {
		t.Errorf("node without subscribers received %d events, want 0", got)
	}
	if got := nodes[0].c.Stats().Forwarded; got != 20 {
		t.Errorf("publishing node forwarded %d events, want 20", got)
	}

	// After the last local subscriber left, node 1 withdraws its
	// interest: a later event reaches node 2's new subscriber only.
	ctx, cancel := testContext()
	defer cancel()
	if err := c1.Unsubscribe(ctx, sub); err != nil {
		t.Fatal(err)
	}
	rec2 := newRecorder()
	subscribe(t, nodes[2].join(t, client.Config{}), "only.here", protocol.MatchExact, rec2)
	publish(t, pub, client.PublishRequest{Topic: "only.here", Args: protocol.List{11}})
	rec2.waitFor(t, "event 11", func(ev client.Event) bool { return intArg(ev, 11) })
	if got := nodes[1].c.Stats().Received; got != 10 {
		t.Errorf("node after unsubscribing received %d events, want still 10", got)
	}
}

// TestBlackWhiteListsAcrossNodes checks exclusion and eligibility by
// session ID, authid and authrole, publisher exclusion and publisher
// disclosure, with the subscribers on other nodes than the publisher.
func TestBlackWhiteListsAcrossNodes(t *testing.T) {
	principals := map[string]auth.Principal{
		"alice": {Secret: "a", Role: "admin"},
		"bob":   {Secret: "b", Role: "user"},
		"carol": {Secret: "c", Role: "user"},
	}
	rc := router.RealmConfig{Authenticators: []router.Authenticator{&auth.Ticket{Principals: principals}}}
	nodes := startNodes(t, startNATS(t), 3, rc)
	login := func(n *node, who string) *client.Client {
		return n.join(t, client.Config{AuthID: who, Auth: []client.Authenticator{client.TicketAuth(principals[who].Secret)}})
	}
	type subscriber struct {
		name string
		c    *client.Client
		rec  *recorder
	}
	var subs []*subscriber
	for _, who := range []string{"alice", "bob", "carol"} {
		for j, n := range nodes[1:] { // two sessions of each, on nodes 1 and 2
			s := &subscriber{name: fmt.Sprintf("%s@%d", who, j+1), c: login(n, who), rec: newRecorder()}
			subscribe(t, s.c, "lists.topic", protocol.MatchExact, s.rec)
			subs = append(subs, s)
		}
	}
	pubC := login(nodes[0], "alice")
	// The publisher also subscribes on its own node, and on another.
	self := &subscriber{name: "publisher", c: pubC, rec: newRecorder()}
	subscribe(t, pubC, "lists.topic", protocol.MatchExact, self.rec)
	byName := map[string]*subscriber{}
	for _, s := range subs {
		byName[s.name] = s
	}
	no := false
	tests := []struct {
		name string
		req  client.PublishRequest
		want []string // subscribers that get it; the publisher is "publisher"
	}{
		{"exclude session", client.PublishRequest{Exclude: []protocol.ID{byName["bob@1"].c.SessionID()}},
			[]string{"alice@1", "alice@2", "bob@2", "carol@1", "carol@2"}},
		{"eligible session", client.PublishRequest{Eligible: []protocol.ID{byName["carol@2"].c.SessionID(), byName["alice@1"].c.SessionID()}},
			[]string{"alice@1", "carol@2"}},
		{"exclude authid", client.PublishRequest{Options: protocol.Dict{"exclude_authid": []any{"bob"}}},
			[]string{"alice@1", "alice@2", "carol@1", "carol@2"}},
		{"eligible authid", client.PublishRequest{Options: protocol.Dict{"eligible_authid": []any{"bob"}}},
			[]string{"bob@1", "bob@2"}},
		{"exclude authrole", client.PublishRequest{Options: protocol.Dict{"exclude_authrole": []any{"user"}}},
			[]string{"alice@1", "alice@2"}},
		{"eligible authrole, not me", client.PublishRequest{ExcludeMe: &no, Options: protocol.Dict{"eligible_authrole": []any{"admin"}}},
			[]string{"alice@1", "alice@2", "publisher"}},
		{"mixed", client.PublishRequest{Exclude: []protocol.ID{byName["carol@1"].c.SessionID()}, Options: protocol.Dict{"eligible_authrole": []any{"user"}}},
			[]string{"bob@1", "bob@2", "carol@2"}},
	}
	all := append([]*subscriber{self}, subs...)
	for i, tt := range tests {
		req := tt.req
		req.Topic = "lists.topic"
		req.DiscloseMe = true
		req.Args = protocol.List{i + 1}
		id := publish(t, pubC, req)
		// Then an event for everyone, to know the first has arrived
		// wherever it was going to.
		mark := 1000 + i
		no := false
		publish(t, pubC, client.PublishRequest{Topic: "lists.topic", Args: protocol.List{mark}, ExcludeMe: &no})
		var got []string
		for _, s := range all {
			evs := s.rec.waitFor(t, "marker", func(ev client.Event) bool { return intArg(ev, mark) })
			for _, ev := range evs {
				if ev.Publication != id {
					continue
				}
				got = append(got, s.name)
				if ev.Publisher != pubC.SessionID() {
					t.Errorf("%s: %s got publisher %d, want %d", tt.name, s.name, ev.Publisher, pubC.SessionID())
				}
			}
		}
		if diff := cmp.Diff(sorted(tt.want), sorted(got)); diff != "" {
			t.Errorf("%s: receivers mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
}

// TestPatternAuthorizationOnReceivingNode checks that a pattern
// subscription on another node gets only the events of topics its role
// may subscribe to: authorization of what is delivered is the receiving
// node's.
func TestPatternAuthorizationOnReceivingNode(t *testing.T) {
	authz, err := router.NewRoleAuthorizer(map[string][]router.Permission{
		"anonymous": {
			{URI: "pub", Match: protocol.MatchPrefix, Publish: true, Subscribe: true},
			{URI: "pub.secret", Match: protocol.MatchPrefix, Publish: true},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	nodes := startNodes(t, startNATS(t), 2, router.RealmConfig{Authorizer: authz})
	rec := newRecorder()
	subscribe(t, nodes[1].join(t, client.Config{}), "pub", protocol.MatchPrefix, rec)
	pub := nodes[0].join(t, client.Config{})
	publish(t, pub, client.PublishRequest{Topic: "pub.secret.x", Args: protocol.List{1}})
	publish(t, pub, client.PublishRequest{Topic: "pub.open", Args: protocol.List{2}})
	got := rec.waitFor(t, "event 2", func(ev client.Event) bool { return intArg(ev, 2) })
	if len(got) != 1 {
		t.Errorf("got %d events (%v), want only pub.open's", len(got), got)
	}
}

// TestSessionIDsAcrossNodes checks that each node draws its session IDs
// from a range of its own.
func TestSessionIDsAcrossNodes(t *testing.T) {
	nodes := startNodes(t, startNATS(t), 3, router.RealmConfig{})
	ranges := map[uint64]int{}
	for i, n := range nodes {
		var rng uint64
		for j := 0; j < 20; j++ {
			id := uint64(n.join(t, client.Config{}).SessionID())
			if id < 1 || id > uint64(protocol.MaxID) {
				t.Fatalf("session ID %d out of range", id)
			}
			if j == 0 {
				rng = id >> 43
			} else if id>>43 != rng {
				t.Errorf("node %d: session ID %d outside the node's range %d", i, id, rng)
			}
		}
		if other, dup := ranges[rng]; dup {
			t.Errorf("nodes %d and %d share session ID range %d", other, i, rng)
		}
		ranges[rng] = i
	}
}

// TestAcknowledgedPublishWithoutNATS checks that an acknowledged PUBLISH
// that cannot be forwarded to the other nodes is answered with ERROR,
// after the node's own subscribers got it.
func TestAcknowledgedPublishWithoutNATS(t *testing.T) {
	nodes := startNodes(t, startNATS(t), 1, router.RealmConfig{})
	rec := newRecorder()
	c := nodes[0].join(t, client.Config{})
	subscribe(t, c, "t", protocol.MatchExact, rec)
	pub := nodes[0].join(t, client.Config{})
	nodes[0].c.Close() // the node's NATS connection is gone for good
	ctx, cancel := testContext()
	defer cancel()
	_, err := pub.DoPublish(ctx, &client.PublishRequest{Topic: "t", Args: protocol.List{1}, Acknowledge: true})
	if !isErrURI(err, router.ClusterUnavailable) {
		t.Errorf("DoPublish = %v, want ERROR %s", err, router.ClusterUnavailable)
	}
	rec.waitFor(t, "local event", func(ev client.Event) bool { return intArg(ev, 1) })
	if got := nodes[0].c.Stats().ForwardFailed; got != 1 {
		t.Errorf("ForwardFailed = %d, want 1", got)
	}
}
