package cluster_test

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/cluster"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// rawJoinID joins the node's realm1 like rawJoin and also returns the
// session ID.
func (n *node) rawJoinID(tb testing.TB) (*rawPeer, protocol.ID) {
	tb.Helper()
	return n.rawJoinAs(tb, protocol.Dict{"subscriber": map[string]any{}, "publisher": map[string]any{}})
}

// getRetained subscribes p to topic with match and get_retained and
// returns the retained events it is sent (up to an acknowledged
// publication of its own, which follows them on the wire).
func (c *rawPeer) getRetained(topic protocol.URI, match protocol.MatchPolicy) []*protocol.Event {
	c.tb.Helper()
	opts := protocol.Dict{"get_retained": true}
	if match != protocol.MatchExact {
		opts["match"] = string(match)
	}
	c.send(&protocol.Subscribe{Request: 1, Options: opts, Topic: topic})
	sub, ok := c.recv().(*protocol.Subscribed)
	if !ok {
		c.tb.Fatalf("no SUBSCRIBED for %s", topic)
	}
	c.send(&protocol.Publish{Request: 2, Options: protocol.Dict{"acknowledge": true}, Topic: "com.example.nobody"})
	var out []*protocol.Event
	for {
		switch m := c.recv().(type) {
		case *protocol.Event:
			out = append(out, m)
		case *protocol.Published:
			c.send(&protocol.Unsubscribe{Request: 3, Subscription: sub.Subscription})
			for {
				switch m := c.recv().(type) {
				case *protocol.Unsubscribed:
					return out
				case *protocol.Event:
					// A live event that came after the acknowledgement.
				default:
					c.tb.Fatalf("got %s waiting for UNSUBSCRIBED", describeMsg(m))
				}
			}
		default:
			c.tb.Fatalf("got %s waiting for PUBLISHED", describeMsg(m))
		}
	}
}

// describeMsg returns m's type and, for an ERROR, its URI.
func describeMsg(m protocol.Message) string {
	if e, ok := m.(*protocol.Error); ok {
		return fmt.Sprintf("ERROR %s %v", e.URI, e.Args)
	}
	return fmt.Sprintf("%T", m)
}

// retainedArgs returns the first argument of each event, or -1.
func retainedArgs(evs []*protocol.Event) []int {
	out := make([]int, 0, len(evs))
	for _, ev := range evs {
		v := -1
		if len(ev.Args) > 0 {
			if n, ok := protocol.ToInt64(ev.Args[0]); ok {
				v = int(n)
			}
		}
		out = append(out, v)
	}
	return out
}

// waitRetained subscribes to topic with get_retained on n, with a new
// session, until the retained events' first arguments are want (in any
// order for a pattern: the order of topics retained on different nodes
// at about the same time is JetStream's); it fails the test if that
// does not happen within testTimeout.
func waitRetained(tb testing.TB, n *node, topic protocol.URI, match protocol.MatchPolicy, want []int) []*protocol.Event {
	tb.Helper()
	p := n.rawJoin(tb)
	deadline := time.Now().Add(testTimeout)
	if match != protocol.MatchExact {
		want = slices.Sorted(slices.Values(want))
	}
	for {
		evs := p.getRetained(topic, match)
		got := retainedArgs(evs)
		if match != protocol.MatchExact {
			slices.SortFunc(evs, func(a, b *protocol.Event) int {
				return cmp.Compare(retainedArgs([]*protocol.Event{a})[0], retainedArgs([]*protocol.Event{b})[0])
			})
			got = retainedArgs(evs)
		}
		if slices.Equal(got, want) {
			return evs
		}
		if time.Now().After(deadline) {
			tb.Fatalf("retained events of %s (%s) = %v, want %v", topic, match, got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRetainedAcrossNodes checks that a retained event published on one
// node is sent to get_retained subscribers that join later on the other
// nodes, with the publisher disclosed as on one node, and to one on a
// node that starts after the publisher's node is gone.
func TestRetainedAcrossNodes(t *testing.T) {
	url := startNATS(t)
	nodes := startNodes(t, url, 3, router.RealmConfig{})
	pub := nodes[0].join(t, client.Config{})
	publish(t, pub, client.PublishRequest{Topic: "rt.a", Args: protocol.List{1}, Retain: true})
	id := publish(t, pub, client.PublishRequest{Topic: "rt.a", Args: protocol.List{2}, Retain: true, DiscloseMe: true})
	publish(t, pub, client.PublishRequest{Topic: "rt.a", Args: protocol.List{3}}) // not retained

	for i, n := range nodes[1:] {
		evs := waitRetained(t, n, "rt.a", protocol.MatchExact, []int{2})
		want := protocol.Dict{"retained": true, "publisher": pub.SessionID(),
			"publisher_authid": pub.WelcomeDetails().String("authid"), "publisher_authrole": "anonymous"}
		got := maps.Clone(evs[0].Details)
		// In process, the ID is whatever integer type the envelope's
		// decoder made; on the wire it is the same number.
		got["publisher"], _ = protocol.ToID(got["publisher"])
		if diff := gocmp.Diff(want, got); diff != "" {
			t.Errorf("node %d: retained EVENT.Details mismatch (-want +got):\n%s", i+1, diff)
		}
		if evs[0].Publication != id {
			t.Errorf("node %d: retained publication %d, want %d", i+1, evs[0].Publication, id)
		}
	}

	// The publisher's node goes away; a node that starts afterwards has
	// the event from JetStream alone.
	nodes[0].r.Close()
	nodes[0].c.Close()
	late := startNodes(t, url, 1, router.RealmConfig{})[0]
	p := late.rawJoin(t)
	if got := retainedArgs(p.getRetained("rt.a", protocol.MatchExact)); !slices.Equal(got, []int{2}) {
		t.Errorf("retained on a node started later = %v, want [2] at once", got)
	}
}

// TestRetainedNewestWins has two nodes publish retained events on one
// topic at the same time: afterwards every node, and a node started
// later, holds the same one, the last that JetStream stored.
func TestRetainedNewestWins(t *testing.T) {
	url := startNATS(t)
	nodes := startNodes(t, url, 3, router.RealmConfig{})
	const perNode = 50
	var wg sync.WaitGroup
	for i, n := range nodes[:2] {
		c := n.join(t, client.Config{})
		wg.Go(func() {
			for j := range perNode {
				publish(t, c, client.PublishRequest{Topic: "rt.race", Args: protocol.List{i*1000 + j}, Retain: true})
			}
		})
	}
	wg.Wait()
	// PUBLISHED does not wait for JetStream: wait until it stored every
	// event, so that the stream holds its last.
	for _, n := range nodes[:2] {
		deadline := time.Now().Add(testTimeout)
		for st := n.c.StoreStats(); st.Retained+st.RetainFailed < perNode; st = n.c.StoreStats() {
			if time.Now().After(deadline) {
				t.Fatalf("JetStream acknowledged %+v of %d", st, perNode)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if st := n.c.StoreStats(); st.RetainFailed != 0 {
			t.Fatalf("retained events failed: %+v", st)
		}
	}
	// The node started now reads the stream: its retained event is the
	// stream's last; the others converge to it.
	late := startNodes(t, url, 1, router.RealmConfig{})[0]
	want := retainedArgs(late.rawJoin(t).getRetained("rt.race", protocol.MatchExact))
	if len(want) != 1 {
		t.Fatalf("a node started later has retained %v, want one event", want)
	}
	for i, n := range nodes {
		t.Logf("node %d (stats %+v)", i, n.c.StoreStats())
		waitRetained(t, n, "rt.race", protocol.MatchExact, want)
	}
	if want[0]%1000 != perNode-1 {
		t.Errorf("retained %d is not a node's last publication", want[0])
	}
}

// TestRetainedEligibilityAcrossNodes checks that a subscriber on
// another node left out of the newest retained event by a black list
// gets the newest one it may receive, and that the publisher's own
// exclusion applies.
func TestRetainedEligibilityAcrossNodes(t *testing.T) {
	nodes := startNodes(t, startNATS(t), 2, router.RealmConfig{})
	left, leftID := nodes[1].rawJoinID(t)
	pub := nodes[0].join(t, client.Config{})
	publish(t, pub, client.PublishRequest{Topic: "rt.e", Args: protocol.List{1}, Retain: true})
	publish(t, pub, client.PublishRequest{Topic: "rt.e", Args: protocol.List{2}, Retain: true, Exclude: []protocol.ID{leftID}})
	waitRetained(t, nodes[1], "rt.e", protocol.MatchExact, []int{2})
	if got := retainedArgs(left.getRetained("rt.e", protocol.MatchExact)); !slices.Equal(got, []int{1}) {
		t.Errorf("excluded subscriber got retained %v, want [1]", got)
	}
	// A retained event with exclude_me (the default) is not sent to its
	// publisher, even through another node's copy; with exclude_me false
	// it is.
	self, selfID := nodes[0].rawJoinID(t)
	self.send(&protocol.Publish{Request: 9, Options: protocol.Dict{"retain": true, "acknowledge": true}, Topic: "rt.me", Args: protocol.List{5}})
	if _, ok := self.recv().(*protocol.Published); !ok {
		t.Fatal("no PUBLISHED")
	}
	waitRetained(t, nodes[1], "rt.me", protocol.MatchExact, []int{5})
	if got := retainedArgs(self.getRetained("rt.me", protocol.MatchExact)); len(got) != 0 {
		t.Errorf("publisher %d got its own retained event %v", selfID, got)
	}
}

// TestRetainedPatternAcrossNodes checks get_retained with a prefix
// subscription: the retained events of every matching topic, from every
// node, each with its topic, and only of topics the subscriber may
// subscribe to.
func TestRetainedPatternAcrossNodes(t *testing.T) {
	authz, err := router.NewRoleAuthorizer(map[string][]router.Permission{
		"anonymous": {
			{URI: "rp", Match: protocol.MatchPrefix, Publish: true, Subscribe: true},
			{URI: "rp.secret", Match: protocol.MatchPrefix, Publish: true},
			{URI: "com.example.nobody", Publish: true},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	nodes := startNodes(t, startNATS(t), 3, router.RealmConfig{Authorizer: authz})
	publish(t, nodes[0].join(t, client.Config{}), client.PublishRequest{Topic: "rp.a", Args: protocol.List{1}, Retain: true})
	publish(t, nodes[1].join(t, client.Config{}), client.PublishRequest{Topic: "rp.b", Args: protocol.List{2}, Retain: true})
	publish(t, nodes[1].join(t, client.Config{}), client.PublishRequest{Topic: "rp.secret.c", Args: protocol.List{3}, Retain: true})
	evs := waitRetained(t, nodes[2], "rp", protocol.MatchPrefix, []int{1, 2})
	for i, topic := range []string{"rp.a", "rp.b"} {
		if got := evs[i].Details["topic"]; got != topic {
			t.Errorf("retained event %d: topic %v, want %s", i, got, topic)
		}
	}
}

// historyOf returns the events of the history of topic (match) as
// wamp.subscription.get_events on node n answers, without the
// subscription IDs, which are each node's own.
func historyOf(tb testing.TB, n *node, topic protocol.URI, match protocol.MatchPolicy) ([]any, error) {
	tb.Helper()
	c := n.join(tb, client.Config{})
	ctx, cancel := testContext()
	defer cancel()
	res, err := c.Call(ctx, "wamp.subscription.lookup", string(topic), protocol.Dict{"match": string(match)})
	if err != nil {
		tb.Fatalf("lookup %s: %v", topic, err)
	}
	res, err = c.Call(ctx, "wamp.subscription.get_events", res.Args[0])
	if err != nil {
		return nil, err
	}
	l, _ := res.Args[0].([]any)
	var evs []any
	for _, e := range l {
		d := maps.Clone(asDict(e))
		delete(d, "subscription")
		evs = append(evs, d)
	}
	c.Close()
	return evs, nil
}

// asDict returns v as a map, as in-process meta results hold them.
func asDict(v any) map[string]any {
	switch d := v.(type) {
	case protocol.Dict:
		return d
	case map[string]any:
		return d
	}
	return nil
}

// asList returns v as a list.
func asList(v any) []any {
	switch l := v.(type) {
	case protocol.List:
		return l
	case []any:
		return l
	}
	return nil
}

// historyArgs returns the first argument of each history event.
func historyArgs(evs []any) []int {
	out := make([]int, 0, len(evs))
	for _, e := range evs {
		v := -1
		if args := asList(asDict(e)["args"]); len(args) > 0 {
			if n, ok := protocol.ToInt64(args[0]); ok {
				v = int(n)
			}
		}
		out = append(out, v)
	}
	return out
}

// waitHistory polls the history of topic on n until its first arguments
// are want.
func waitHistory(tb testing.TB, n *node, topic protocol.URI, match protocol.MatchPolicy, want []int) []any {
	tb.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		evs, err := historyOf(tb, n, topic, match)
		if err != nil {
			tb.Fatalf("get_events %s: %v", topic, err)
		}
		got := historyArgs(evs)
		if slices.Equal(got, want) {
			return evs
		}
		if time.Now().After(deadline) {
			tb.Fatalf("history of %s (%s) = %v, want %v", topic, match, got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestHistoryAcrossNodes publishes on every node in turn: the history
// read on any node, and on one started later after a publisher's node
// is gone, is the same, in publication order, limited as configured.
func TestHistoryAcrossNodes(t *testing.T) {
	url := startNATS(t)
	rc := router.RealmConfig{EventHistory: []router.HistoryConfig{
		{Topic: "hi.t", Limit: 5},
		{Topic: "hp", Match: protocol.MatchPrefix, Limit: 10},
	}}
	nodes := startNodes(t, url, 3, rc)
	pubs := make([]*client.Client, len(nodes))
	for i, n := range nodes {
		pubs[i] = n.join(t, client.Config{})
	}
	var want []int
	for i := 1; i <= 7; i++ {
		publish(t, pubs[i%3], client.PublishRequest{Topic: "hi.t", Args: protocol.List{i}})
		want = append(want, i)
		// Published on three nodes, the order is the cluster's: make it
		// the order of the loop by waiting for each.
		waitHistory(t, nodes[(i+1)%3], "hi.t", protocol.MatchExact, want[max(len(want)-5, 0):])
	}
	ref := waitHistory(t, nodes[0], "hi.t", protocol.MatchExact, []int{3, 4, 5, 6, 7})
	for i, n := range nodes[1:] {
		got, err := historyOf(t, n, "hi.t", protocol.MatchExact)
		if err != nil {
			t.Fatal(err)
		}
		if diff := gocmp.Diff(ref, got); diff != "" {
			t.Errorf("node %d: history differs from node 0's (-0 +%d):\n%s", i+1, i+1, diff)
		}
	}

	publish(t, pubs[1], client.PublishRequest{Topic: "hp.a", Args: protocol.List{1}})
	waitHistory(t, nodes[2], "hp", protocol.MatchPrefix, []int{1})
	publish(t, pubs[2], client.PublishRequest{Topic: "hp.b.c", Args: protocol.List{2}})
	evs := waitHistory(t, nodes[0], "hp", protocol.MatchPrefix, []int{1, 2})
	if got := asDict(asDict(evs[1])["details"])["topic"]; got != "hp.b.c" {
		t.Errorf("pattern history event topic = %v, want hp.b.c", got)
	}
	// An event with a session-ID list is not kept, as on one router.
	publish(t, pubs[2], client.PublishRequest{Topic: "hp.x", Args: protocol.List{99}, Exclude: []protocol.ID{pubs[0].SessionID()}})
	publish(t, pubs[2], client.PublishRequest{Topic: "hp.y", Args: protocol.List{3}})
	waitHistory(t, nodes[1], "hp", protocol.MatchPrefix, []int{1, 2, 3})

	nodes[1].r.Close()
	nodes[1].c.Close()
	late := startNodes(t, url, 1, rc)[0]
	got, err := historyOf(t, late, "hi.t", protocol.MatchExact)
	if err != nil {
		t.Fatal(err)
	}
	if diff := gocmp.Diff(ref, got); diff != "" {
		t.Errorf("node started later: history differs (-old +late):\n%s", diff)
	}
}

// TestStoreWithoutJetStream checks what happens when JetStream is gone
// but core NATS is not: a retained event is still delivered live to the
// other nodes and its acknowledged PUBLISH succeeds (the spec lets a
// broker decline retention), the failure is counted; get_events fails
// with wampkit.error.cluster_unavailable rather than showing a partial
// history.
func TestStoreWithoutJetStream(t *testing.T) {
	ns := runNATS(t, freePort(t), t.TempDir())
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	rc := router.RealmConfig{EventHistory: []router.HistoryConfig{{Topic: "nj.h"}}}
	nodes := startNodes(t, ns.ClientURL(), 2, rc)
	rec := newRecorder()
	subscribe(t, nodes[1].join(t, client.Config{}), "nj.t", protocol.MatchExact, rec)
	pub := nodes[0].join(t, client.Config{})
	publish(t, pub, client.PublishRequest{Topic: "nj.h", Args: protocol.List{0}})
	waitHistory(t, nodes[1], "nj.h", protocol.MatchExact, []int{0})

	if err := ns.DisableJetStream(); err != nil {
		t.Fatal(err)
	}
	publish(t, pub, client.PublishRequest{Topic: "nj.t", Args: protocol.List{1}, Retain: true})
	rec.waitFor(t, "live event", func(ev client.Event) bool { return intArg(ev, 1) })
	deadline := time.Now().Add(testTimeout)
	for nodes[0].c.StoreStats().RetainFailed == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("RetainFailed still 0: %+v", nodes[0].c.StoreStats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := historyOf(t, nodes[1], "nj.h", protocol.MatchExact); !isErrURI(err, router.ClusterUnavailable) {
		t.Errorf("get_events without JetStream = %v, want ERROR %s", err, router.ClusterUnavailable)
	}
}

// TestRetainedReadYourWrites checks that a node's own retained event is
// what get_retained on that node returns right after the acknowledged
// PUBLISH, although JetStream gives the node its earlier retained events
// back afterwards.
func TestRetainedReadYourWrites(t *testing.T) {
	nodes := startNodes(t, startNATS(t), 2, router.RealmConfig{})
	pub := nodes[0].join(t, client.Config{})
	p := nodes[0].rawJoin(t)
	for i := 1; i <= 100; i++ {
		publish(t, pub, client.PublishRequest{Topic: "rt.ryw", Args: protocol.List{i}, Retain: true})
		if got := retainedArgs(p.getRetained("rt.ryw", protocol.MatchExact)); !slices.Equal(got, []int{i}) {
			t.Fatalf("after retaining %d, get_retained on the same node = %v", i, got)
		}
	}
	waitRetained(t, nodes[1], "rt.ryw", protocol.MatchExact, []int{100})
}

// TestStoreBounds checks that the streams are bounded as the router's
// own stores are (any peer can fill them): the retained stream by the
// realm's MaxRetainedBytes, in all and per event, with 8 events per
// topic; a history stream by its entry's Limit and byte share; oldest
// discarded first. A retained event over the bound is refused and
// counted.
func TestStoreBounds(t *testing.T) {
	ns := runNATS(t, freePort(t), t.TempDir())
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	rc := router.RealmConfig{MaxRetainedBytes: 4096, MaxHistoryBytes: 2 * 3000,
		EventHistory: []router.HistoryConfig{{Topic: "b.h", Limit: 7}, {Topic: "b.p", Match: protocol.MatchPrefix}}}
	nodes := startNodes(t, ns.ClientURL(), 1, rc)

	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := testContext()
	defer cancel()
	type bounds struct {
		MaxMsgs, MaxBytes, MaxMsgsPerSubject int64
		MaxMsgSize                           int32
		Discard                              jetstream.DiscardPolicy
	}
	got := map[string]bounds{}
	for name := range js.StreamNames(ctx).Name() {
		st, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		c := st.CachedInfo().Config
		key := "history"
		switch {
		case strings.HasPrefix(name, cluster.DefaultPrefix+"_retained_"):
			key = "retained"
		case strings.HasPrefix(name, "KV_"):
			continue
		case c.MaxMsgs == 7:
			key = "history b.h"
		case c.MaxMsgs == 100:
			key = "history b.p"
		}
		got[key] = bounds{c.MaxMsgs, c.MaxBytes, c.MaxMsgsPerSubject, c.MaxMsgSize, c.Discard}
	}
	want := map[string]bounds{
		"retained":    {-1, 4096, 8, 4096, jetstream.DiscardOld},
		"history b.h": {7, 3000, -1, 3000, jetstream.DiscardOld},
		"history b.p": {100, 3000, -1, 3000, jetstream.DiscardOld},
	}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("stream bounds mismatch (-want +got):\n%s", diff)
	}

	pub := nodes[0].join(t, client.Config{})
	publish(t, pub, client.PublishRequest{Topic: "b.big", Args: protocol.List{strings.Repeat("x", 8192)}, Retain: true})
	deadline := time.Now().Add(testTimeout)
	for nodes[0].c.StoreStats().RetainFailed == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("RetainFailed still 0: %+v", nodes[0].c.StoreStats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
