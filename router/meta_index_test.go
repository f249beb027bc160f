package router_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// metaEvent is a meta event as the tests compare it: its topic and
// arguments.
type metaEvent struct {
	Topic string
	Args  protocol.List
}

// expectMeta receives the next message of c, which must be an EVENT of one
// of subs (subscription ID -> topic), and returns it as a metaEvent. For
// EVENTs of pattern subscriptions the topic is EVENT.Details.topic.
func expectMeta(c *testPeer, subs map[protocol.ID]string) metaEvent {
	c.tb.Helper()
	ev := expect[*protocol.Event](c)
	topic, ok := subs[ev.Subscription]
	if !ok {
		c.tb.Fatalf("EVENT of subscription %d, want one of %v", ev.Subscription, subs)
	}
	if t := ev.Details.String("topic"); t != "" {
		topic = t
	}
	return metaEvent{topic, ev.Args}
}

// checkCreated replaces the "created" value of the details dict in
// args[1] by "CREATED" after checking that it is an ISO 8601 UTC time
// between from and now.
func checkCreated(tb testing.TB, args protocol.List, from time.Time) {
	tb.Helper()
	if len(args) < 2 {
		tb.Fatalf("args %v, want [session, details]", args)
	}
	d, ok := args[1].(protocol.Dict)
	if !ok {
		tb.Fatalf("args[1] = %T %v, want a dict", args[1], args[1])
	}
	created, _ := d["created"].(string)
	at, err := time.Parse("2006-01-02T15:04:05.000Z", created)
	if err != nil || at.Before(from.Truncate(time.Millisecond)) || at.After(time.Now()) {
		tb.Errorf("created %q (%v): not an ISO 8601 UTC time between %v and now", created, err, from)
	}
	c := protocol.Dict{}
	for k, v := range d {
		c[k] = v
	}
	c["created"] = "CREATED"
	args[1] = c
}

func TestRegistrationMetaEvents(t *testing.T) {
	r := newRouter(t, router.Config{})
	watcher := join(t, r)
	subs := map[protocol.ID]string{}
	for _, topic := range []string{"wamp.registration.on_create", "wamp.registration.on_register",
		"wamp.registration.on_unregister", "wamp.registration.on_delete"} {
		subs[watcher.subscribe(protocol.URI(topic), nil)] = topic
	}
	a, b, c := join(t, r), join(t, r), join(t, r)
	from := time.Now()

	// The first registrant creates the shared registration, the second
	// joins it.
	id := a.register("com.example.shared", protocol.Dict{"invoke": "roundrobin"})
	if got := b.register("com.example.shared", protocol.Dict{"invoke": "roundrobin"}); got != id {
		t.Fatalf("second registrant got registration %d, want %d", got, id)
	}
	pid := c.register("com.example.pfx", protocol.Dict{"match": "prefix"})
	var got []metaEvent
	for range 5 {
		got = append(got, expectMeta(watcher, subs))
	}
	checkCreated(t, got[0].Args, from)
	checkCreated(t, got[3].Args, from)
	want := []metaEvent{
		{"wamp.registration.on_create", protocol.List{uint64(a.session), protocol.Dict{
			"id": uint64(id), "created": "CREATED", "uri": "com.example.shared", "match": "exact", "invoke": "roundrobin"}}},
		{"wamp.registration.on_register", protocol.List{uint64(a.session), uint64(id)}},
		{"wamp.registration.on_register", protocol.List{uint64(b.session), uint64(id)}},
		{"wamp.registration.on_create", protocol.List{uint64(c.session), protocol.Dict{
			"id": uint64(pid), "created": "CREATED", "uri": "com.example.pfx", "match": "prefix", "invoke": "single"}}},
		{"wamp.registration.on_register", protocol.List{uint64(c.session), uint64(pid)}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events of REGISTER mismatch (-want +got):\n%s", diff)
	}

	// UNREGISTER of one of two callees; then the last callee leaves with
	// GOODBYE, the other registrant by losing its transport.
	req := a.next()
	a.send(&protocol.Unregister{Request: req, Registration: id})
	expect[*protocol.Unregistered](a)
	b.send(&protocol.Goodbye{Details: protocol.Dict{}, Reason: protocol.CloseGoodbyeAndOut})
	expect[*protocol.Goodbye](b)
	got = got[:0]
	for range 3 {
		got = append(got, expectMeta(watcher, subs))
	}
	c.p.Close(nil)
	for range 2 {
		got = append(got, expectMeta(watcher, subs))
	}
	want = []metaEvent{
		{"wamp.registration.on_unregister", protocol.List{uint64(a.session), uint64(id)}},
		{"wamp.registration.on_unregister", protocol.List{uint64(b.session), uint64(id)}},
		{"wamp.registration.on_delete", protocol.List{uint64(b.session), uint64(id)}},
		{"wamp.registration.on_unregister", protocol.List{uint64(c.session), uint64(pid)}},
		{"wamp.registration.on_delete", protocol.List{uint64(c.session), uint64(pid)}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events of UNREGISTER and leaving mismatch (-want +got):\n%s", diff)
	}

	// A refused REGISTER changes nothing and publishes nothing: the next
	// event is that of the registration after it.
	a.register("com.example.single", nil)
	d := join(t, r)
	req = d.next()
	d.send(&protocol.Register{Request: req, Procedure: "com.example.single"})
	d.expectError(protocol.TypeRegister, req, protocol.ErrProcedureAlreadyExists)
	expectMeta(watcher, subs) // on_create
	expectMeta(watcher, subs) // on_register
	d.register("com.example.other", nil)
	if ev := expectMeta(watcher, subs); ev.Topic != "wamp.registration.on_create" || ev.Args[0] != uint64(d.session) {
		t.Errorf("got %v, want on_create of %d", ev, d.session)
	}
}

func TestSubscriptionMetaEvents(t *testing.T) {
	r := newRouter(t, router.Config{})
	from := time.Now()
	// One prefix subscription sees every subscription meta event in the
	// order the router published them, its own creation included (the
	// spec makes no exception for topics of the wamp namespace).
	watcher := join(t, r)
	wid := watcher.subscribe("wamp.subscription.", protocol.Dict{"match": "prefix"})
	subs := map[protocol.ID]string{wid: ""}
	a, b := join(t, r), join(t, r)
	id := a.subscribe("com.example.topic", nil)
	if got := b.subscribe("com.example.topic", nil); got != id {
		t.Fatalf("second subscriber got subscription %d, want %d", got, id)
	}
	// Subscribing again to the same topic returns the same subscription
	// and publishes nothing.
	if got := b.subscribe("com.example.topic", nil); got != id {
		t.Fatalf("repeated SUBSCRIBE got subscription %d, want %d", got, id)
	}
	var got []metaEvent
	for range 5 {
		got = append(got, expectMeta(watcher, subs))
	}
	checkCreated(t, got[0].Args, from)
	checkCreated(t, got[2].Args, from)
	want := []metaEvent{
		{"wamp.subscription.on_create", protocol.List{uint64(watcher.session), protocol.Dict{
			"id": uint64(wid), "created": "CREATED", "uri": "wamp.subscription.", "match": "prefix"}}},
		{"wamp.subscription.on_subscribe", protocol.List{uint64(watcher.session), uint64(wid)}},
		{"wamp.subscription.on_create", protocol.List{uint64(a.session), protocol.Dict{
			"id": uint64(id), "created": "CREATED", "uri": "com.example.topic", "match": "exact"}}},
		{"wamp.subscription.on_subscribe", protocol.List{uint64(a.session), uint64(id)}},
		{"wamp.subscription.on_subscribe", protocol.List{uint64(b.session), uint64(id)}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events of SUBSCRIBE mismatch (-want +got):\n%s", diff)
	}

	req := a.next()
	a.send(&protocol.Unsubscribe{Request: req, Subscription: id})
	expect[*protocol.Unsubscribed](a)
	wc := b.subscribe("com..x", protocol.Dict{"match": "wildcard"})
	b.p.Close(nil) // b leaves with two subscriptions
	got = got[:0]
	for range 7 {
		got = append(got, expectMeta(watcher, subs))
	}
	checkCreated(t, got[1].Args, from)
	// The order of the two subscriptions of a leaving session is not
	// defined; each one's events are in order.
	first, second := got[3:5], got[5:7]
	if first[0].Args[1] == uint64(wc) {
		first, second = second, first
	}
	got = append(got[:3], append(first, second...)...)
	want = []metaEvent{
		{"wamp.subscription.on_unsubscribe", protocol.List{uint64(a.session), uint64(id)}},
		{"wamp.subscription.on_create", protocol.List{uint64(b.session), protocol.Dict{
			"id": uint64(wc), "created": "CREATED", "uri": "com..x", "match": "wildcard"}}},
		{"wamp.subscription.on_subscribe", protocol.List{uint64(b.session), uint64(wc)}},
		{"wamp.subscription.on_unsubscribe", protocol.List{uint64(b.session), uint64(id)}},
		{"wamp.subscription.on_delete", protocol.List{uint64(b.session), uint64(id)}},
		{"wamp.subscription.on_unsubscribe", protocol.List{uint64(b.session), uint64(wc)}},
		{"wamp.subscription.on_delete", protocol.List{uint64(b.session), uint64(wc)}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events of UNSUBSCRIBE and leaving mismatch (-want +got):\n%s", diff)
	}
}

// metaResult calls a meta procedure that must succeed and returns its
// arguments.
func (c *testPeer) metaResult(proc protocol.URI, args ...any) protocol.List {
	c.tb.Helper()
	m := c.metaCall(proc, args, nil)
	res, ok := m.(*protocol.Result)
	if !ok {
		c.tb.Fatalf("%s%v: got %s, want RESULT", proc, args, describe(m))
	}
	return res.Args
}

// metaError calls a meta procedure that must fail with uri.
func (c *testPeer) metaError(proc protocol.URI, uri protocol.URI, args ...any) {
	c.tb.Helper()
	m := c.metaCall(proc, args, nil)
	if e, ok := m.(*protocol.Error); !ok || e.URI != uri {
		c.tb.Errorf("%s%v: got %s, want ERROR %s", proc, args, describe(m), uri)
	}
}

func ids(l ...protocol.ID) []any {
	out := make([]any, len(l))
	for i, id := range l {
		out[i] = uint64(id)
	}
	return out
}

func TestRegistrationMetaProcedures(t *testing.T) {
	r := newRouter(t, router.Config{Realms: []router.RealmConfig{{Name: realm1}, {Name: "other"}}})
	admin := join(t, r)
	callees := []*testPeer{join(t, r), join(t, r), join(t, r)}
	var shared protocol.ID
	for _, c := range callees {
		shared = c.register("com.example.shared", protocol.Dict{"invoke": "first"})
	}
	c := callees[0]
	exact := c.register("com.example.proc", nil)
	pfx := c.register("com.example.proc.", protocol.Dict{"match": "prefix"})
	pfx2 := c.register("com.example.", protocol.Dict{"match": "prefix"})
	wc := c.register("com..proc.x", protocol.Dict{"match": "wildcard"})
	elsewhere := connect(t, r)
	elsewhere.hello("other", nil)
	otherID := elsewhere.register("com.example.proc", nil)

	args := admin.metaResult("wamp.registration.list")
	want := protocol.List{protocol.Dict{"exact": ids(shared, exact), "prefix": ids(pfx, pfx2), "wildcard": ids(wc)}}
	if diff := cmp.Diff(want, args); diff != "" {
		t.Errorf("list mismatch (-want +got):\n%s", diff)
	}

	tests := []struct {
		proc protocol.URI
		args []any
		want protocol.List
	}{
		{"wamp.registration.lookup", []any{"com.example.proc"}, protocol.List{uint64(exact)}},
		{"wamp.registration.lookup", []any{"com.example.proc", protocol.Dict{}}, protocol.List{uint64(exact)}},
		{"wamp.registration.lookup", []any{"com.example.proc", nil}, protocol.List{uint64(exact)}},
		{"wamp.registration.lookup", []any{"com.example.proc.", map[string]any{"match": "prefix"}}, protocol.List{uint64(pfx)}},
		{"wamp.registration.lookup", []any{"com..proc.x", protocol.Dict{"match": "wildcard"}}, protocol.List{uint64(wc)}},
		// lookup wants the registration of exactly this URI and policy.
		{"wamp.registration.lookup", []any{"com.example.proc.", nil}, protocol.List{nil}},
		{"wamp.registration.lookup", []any{"com.example.proc.a", protocol.Dict{"match": "prefix"}}, protocol.List{nil}},
		{"wamp.registration.lookup", []any{"com.example.nothing"}, protocol.List{nil}},
		// match finds the registration a call would go to: exact, else the
		// longest prefix, else the most specific wildcard.
		{"wamp.registration.match", []any{"com.example.proc"}, protocol.List{uint64(exact)}},
		{"wamp.registration.match", []any{"com.example.proc.x"}, protocol.List{uint64(pfx)}},
		{"wamp.registration.match", []any{"com.example.other"}, protocol.List{uint64(pfx2)}},
		{"wamp.registration.match", []any{"com.other.proc.x"}, protocol.List{uint64(wc)}},
		{"wamp.registration.match", []any{"org.example"}, protocol.List{nil}},
		{"wamp.registration.get", []any{exact}, protocol.List{protocol.Dict{"id": uint64(exact),
			"uri": "com.example.proc", "match": "exact", "invoke": "single", "created": "CREATED", "_invocations": uint64(0)}}},
		{"wamp.registration.get", []any{shared}, protocol.List{protocol.Dict{"id": uint64(shared),
			"uri": "com.example.shared", "match": "exact", "invoke": "first", "created": "CREATED", "_invocations": uint64(0)}}},
		{"wamp.registration.get", []any{wc}, protocol.List{protocol.Dict{"id": uint64(wc),
			"uri": "com..proc.x", "match": "wildcard", "invoke": "single", "created": "CREATED", "_invocations": uint64(0)}}},
		{"wamp.registration.list_callees", []any{shared},
			protocol.List{ids(callees[0].session, callees[1].session, callees[2].session)}},
		{"wamp.registration.list_callees", []any{pfx}, protocol.List{ids(c.session)}},
		{"wamp.registration.count_callees", []any{shared}, protocol.List{3}},
		{"wamp.registration.count_callees", []any{float64(exact)}, protocol.List{1}},
	}
	for _, tt := range tests {
		got := admin.metaResult(tt.proc, tt.args...)
		if tt.proc == "wamp.registration.get" {
			l := protocol.List{nil, got[0]}
			checkCreated(t, l, time.Time{})
			got = protocol.List{l[1]}
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s%v mismatch (-want +got):\n%s", tt.proc, tt.args, diff)
		}
	}

	for _, tt := range []struct {
		proc protocol.URI
		args []any
		uri  protocol.URI
	}{
		{"wamp.registration.get", []any{otherID}, protocol.ErrNoSuchRegistration}, // another realm's
		{"wamp.registration.get", []any{protocol.MaxID}, protocol.ErrNoSuchRegistration},
		{"wamp.registration.list_callees", []any{protocol.MaxID}, protocol.ErrNoSuchRegistration},
		{"wamp.registration.count_callees", []any{protocol.MaxID}, protocol.ErrNoSuchRegistration},
		{"wamp.registration.get", []any{"x"}, protocol.ErrInvalidArgument},
		{"wamp.registration.get", nil, protocol.ErrInvalidArgument},
		{"wamp.registration.lookup", nil, protocol.ErrInvalidArgument},
		{"wamp.registration.lookup", []any{"com.example.proc", "exact"}, protocol.ErrInvalidArgument},
		{"wamp.registration.lookup", []any{"com.example.proc", protocol.Dict{"match": "fuzzy"}}, protocol.ErrInvalidArgument},
		{"wamp.registration.lookup", []any{"com.example.proc", protocol.Dict{"match": 1}}, protocol.ErrInvalidArgument},
		{"wamp.registration.match", []any{7}, protocol.ErrInvalidArgument},
		{"wamp.registration.nonsense", nil, protocol.ErrNoSuchProcedure},
	} {
		admin.metaError(tt.proc, tt.uri, tt.args...)
	}

	// The registration goes when its last callee does.
	for i, c := range callees {
		req := c.next()
		c.send(&protocol.Unregister{Request: req, Registration: shared})
		expect[*protocol.Unregistered](c)
		if i < len(callees)-1 {
			if got := admin.metaResult("wamp.registration.list_callees", shared); !slices.Equal(got[0].([]any), ids(callees[i+1].session, callees[2].session)[:2-i]) {
				t.Errorf("list_callees after %d unregistered: %v", i+1, got)
			}
		}
	}
	admin.metaError("wamp.registration.get", protocol.ErrNoSuchRegistration, shared)
	admin.metaError("wamp.registration.count_callees", protocol.ErrNoSuchRegistration, shared)
	if got := admin.metaResult("wamp.registration.lookup", "com.example.shared"); got[0] != nil {
		t.Errorf("lookup after the last callee left = %v, want [nil]", got)
	}
}

func TestSubscriptionMetaProcedures(t *testing.T) {
	r := newRouter(t, router.Config{Realms: []router.RealmConfig{{Name: realm1}, {Name: "other"}}})
	admin := join(t, r)
	a, b := join(t, r), join(t, r)
	exact := a.subscribe("com.example.topic", nil)
	b.subscribe("com.example.topic", nil)
	pfx := a.subscribe("com.example.", protocol.Dict{"match": "prefix"})
	pfx2 := b.subscribe("com.", protocol.Dict{"match": "prefix"})
	wc := b.subscribe("com..topic", protocol.Dict{"match": "wildcard"})
	elsewhere := connect(t, r)
	elsewhere.hello("other", nil)
	otherID := elsewhere.subscribe("com.example.topic", nil)

	args := admin.metaResult("wamp.subscription.list")
	want := protocol.List{protocol.Dict{"exact": ids(exact), "prefix": ids(pfx, pfx2), "wildcard": ids(wc)}}
	if diff := cmp.Diff(want, args); diff != "" {
		t.Errorf("list mismatch (-want +got):\n%s", diff)
	}

	sorted := func(l protocol.List) protocol.List {
		if s, ok := l[0].([]any); ok {
			slices.SortFunc(s, func(x, y any) int { return int(x.(uint64)) - int(y.(uint64)) })
		}
		return l
	}
	tests := []struct {
		proc protocol.URI
		args []any
		want protocol.List
	}{
		{"wamp.subscription.lookup", []any{"com.example.topic"}, protocol.List{uint64(exact)}},
		{"wamp.subscription.lookup", []any{"com.example.", protocol.Dict{"match": "prefix"}}, protocol.List{uint64(pfx)}},
		{"wamp.subscription.lookup", []any{"com..topic", map[string]any{"match": "wildcard"}}, protocol.List{uint64(wc)}},
		{"wamp.subscription.lookup", []any{"com.example.", nil}, protocol.List{nil}},
		{"wamp.subscription.lookup", []any{"com.example.topic", protocol.Dict{"match": "prefix"}}, protocol.List{nil}},
		// match lists every subscription a publication would reach.
		{"wamp.subscription.match", []any{"com.example.topic"}, protocol.List{ids(exact, pfx, pfx2, wc)}},
		{"wamp.subscription.match", []any{"com.other.topic"}, protocol.List{ids(pfx2, wc)}},
		{"wamp.subscription.match", []any{"com.example.x"}, protocol.List{ids(pfx, pfx2)}},
		{"wamp.subscription.match", []any{"org.example.topic"}, protocol.List{nil}},
		{"wamp.subscription.get", []any{pfx}, protocol.List{protocol.Dict{"id": uint64(pfx),
			"uri": "com.example.", "match": "prefix", "created": "CREATED"}}},
		{"wamp.subscription.list_subscribers", []any{exact}, protocol.List{ids(a.session, b.session)}},
		{"wamp.subscription.list_subscribers", []any{wc}, protocol.List{ids(b.session)}},
		{"wamp.subscription.count_subscribers", []any{exact}, protocol.List{2}},
		{"wamp.subscription.count_subscribers", []any{pfx}, protocol.List{1}},
	}
	for _, tt := range tests {
		got := admin.metaResult(tt.proc, tt.args...)
		if tt.proc == "wamp.subscription.get" {
			l := protocol.List{nil, got[0]}
			checkCreated(t, l, time.Time{})
			got = protocol.List{l[1]}
		}
		if tt.proc == "wamp.subscription.match" || tt.proc == "wamp.subscription.list_subscribers" {
			got, tt.want = sorted(got), sorted(tt.want)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s%v mismatch (-want +got):\n%s", tt.proc, tt.args, diff)
		}
	}

	for _, tt := range []struct {
		proc protocol.URI
		args []any
		uri  protocol.URI
	}{
		{"wamp.subscription.get", []any{otherID}, protocol.ErrNoSuchSubscription}, // another realm's
		{"wamp.subscription.get", []any{protocol.MaxID}, protocol.ErrNoSuchSubscription},
		{"wamp.subscription.list_subscribers", []any{protocol.MaxID}, protocol.ErrNoSuchSubscription},
		{"wamp.subscription.count_subscribers", []any{protocol.MaxID}, protocol.ErrNoSuchSubscription},
		{"wamp.subscription.count_subscribers", []any{-1}, protocol.ErrInvalidArgument},
		{"wamp.subscription.lookup", []any{"com.example.topic", protocol.List{}}, protocol.ErrInvalidArgument},
		{"wamp.subscription.lookup", []any{"com.example.topic", protocol.Dict{"match": "fuzzy"}}, protocol.ErrInvalidArgument},
		{"wamp.subscription.match", nil, protocol.ErrInvalidArgument},
	} {
		admin.metaError(tt.proc, tt.uri, tt.args...)
	}

	// a leaves: exact keeps b, pfx goes.
	a.p.Close(nil)
	deadline := time.Now().Add(wait)
	for {
		m := admin.metaCall("wamp.subscription.get", protocol.List{pfx}, nil)
		if _, ok := m.(*protocol.Error); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("subscription %d still there %v after its subscriber left", pfx, wait)
		}
		time.Sleep(time.Millisecond)
	}
	if got := admin.metaResult("wamp.subscription.list_subscribers", exact); !cmp.Equal(got, protocol.List{ids(b.session)}) {
		t.Errorf("list_subscribers after a left = %v, want [[%d]]", got, b.session)
	}
}

// TestRegistrationMetaEventsConcurrent has sessions register and
// unregister one shared procedure at the same time: however they
// interleave, each registration's events must tell a consistent story
// (on_create first, on_delete last and only once no callee is left).
func TestRegistrationMetaEventsConcurrent(t *testing.T) {
	r := newRouter(t, router.Config{})
	watcher := join(t, r)
	subs := map[protocol.ID]string{}
	for _, topic := range []string{"wamp.registration.on_create", "wamp.registration.on_register",
		"wamp.registration.on_unregister", "wamp.registration.on_delete"} {
		subs[watcher.subscribe(protocol.URI(topic), nil)] = topic
	}
	const sessions, rounds = 6, 40
	peers := make([]*testPeer, sessions)
	for i := range peers {
		peers[i] = join(t, r)
	}
	errs := make(chan error, sessions)
	for _, c := range peers {
		go func() {
			// Raw messages: the helpers' Fatalf must not run off the test's
			// goroutine.
			for i := range rounds {
				req := protocol.ID(2*i + 1)
				if err := c.p.Send(context.Background(), &protocol.Register{Request: req, Procedure: "com.example.shared",
					Options: protocol.Dict{"invoke": "roundrobin"}}); err != nil {
					errs <- fmt.Errorf("session %d: send REGISTER: %w", c.session, err)
					return
				}
				var reg protocol.ID
				select {
				case m := <-c.in:
					rm, ok := m.(*protocol.Registered)
					if !ok {
						errs <- fmt.Errorf("session %d: got %s, want REGISTERED", c.session, describe(m))
						return
					}
					reg = rm.Registration
				case <-time.After(wait):
					errs <- fmt.Errorf("session %d: no REGISTERED", c.session)
					return
				}
				if err := c.p.Send(context.Background(), &protocol.Unregister{Request: req + 1, Registration: reg}); err != nil {
					errs <- fmt.Errorf("session %d: send UNREGISTER: %w", c.session, err)
					return
				}
				select {
				case m := <-c.in:
					if _, ok := m.(*protocol.Unregistered); !ok {
						errs <- fmt.Errorf("session %d: got %s, want UNREGISTERED", c.session, describe(m))
						return
					}
				case <-time.After(wait):
					errs <- fmt.Errorf("session %d: no UNREGISTERED", c.session)
					return
				}
			}
			errs <- nil
		}()
	}
	for range sessions {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// Every REGISTER and UNREGISTER is one on_register and one
	// on_unregister.
	callees := map[protocol.ID]map[uint64]bool{} // live registrations
	deleted := map[protocol.ID]bool{}
	registers, unregisters := 0, 0
	for registers < sessions*rounds || unregisters < sessions*rounds || len(callees) > 0 {
		ev := expectMeta(watcher, subs)
		s := ev.Args[0].(uint64)
		var id protocol.ID
		if ev.Topic == "wamp.registration.on_create" {
			id = protocol.ID(ev.Args[1].(protocol.Dict)["id"].(uint64))
		} else {
			id = protocol.ID(ev.Args[1].(uint64))
		}
		set, live := callees[id]
		switch ev.Topic {
		case "wamp.registration.on_create":
			if live || deleted[id] {
				t.Fatalf("on_create of registration %d seen before", id)
			}
			callees[id] = map[uint64]bool{}
		case "wamp.registration.on_register":
			registers++
			if !live || set[s] {
				t.Fatalf("on_register(%d, %d): registration not created, or session registered already", s, id)
			}
			set[s] = true
		case "wamp.registration.on_unregister":
			unregisters++
			if !live || !set[s] {
				t.Fatalf("on_unregister(%d, %d) of a session not registered", s, id)
			}
			delete(set, s)
		case "wamp.registration.on_delete":
			if !live || len(set) != 0 {
				t.Fatalf("on_delete(%d, %d) with callees %v left", s, id, set)
			}
			delete(callees, id)
			deleted[id] = true
		}
	}
	if registers != sessions*rounds || unregisters != sessions*rounds {
		t.Errorf("%d on_register and %d on_unregister, want %d each", registers, unregisters, sessions*rounds)
	}
}
