package router_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// getEvents calls wamp.subscription.get_events and returns the
// publication IDs of the result, in its order.
func (c *testPeer) getEvents(args protocol.List, kwargs protocol.Dict) ([]protocol.ID, []any) {
	c.tb.Helper()
	req := c.next()
	c.send(&protocol.Call{Request: req, Procedure: "wamp.subscription.get_events", Args: args, Kwargs: kwargs})
	res := expect[*protocol.Result](c)
	if res.Request != req || len(res.Args) != 1 {
		c.tb.Fatalf("RESULT = %+v, want one list for request %d", res, req)
	}
	list := res.Args[0].([]any)
	ids := []protocol.ID{}
	for _, e := range list {
		id, _ := protocol.ToID(e.(protocol.Dict)["publication"])
		ids = append(ids, id)
	}
	return ids, list
}

// lookup returns the ID of wamp.subscription.lookup(topic, {match}).
func (c *testPeer) lookup(topic protocol.URI, match string) protocol.ID {
	c.tb.Helper()
	req := c.next()
	c.send(&protocol.Call{Request: req, Procedure: "wamp.subscription.lookup", Args: protocol.List{string(topic), protocol.Dict{"match": match}}})
	res := expect[*protocol.Result](c)
	id, ok := protocol.ToID(res.Args[0])
	if !ok {
		c.tb.Fatalf("lookup(%s) = %v, want an ID", topic, res.Args)
	}
	return id
}

func historyRouter(tb testing.TB, hs ...router.HistoryConfig) *router.Router {
	return newRouter(tb, router.Config{Realms: []router.RealmConfig{{Name: realm1, EventHistory: hs}}})
}

func TestEventHistory(t *testing.T) {
	r := historyRouter(t,
		router.HistoryConfig{Topic: "com.mycompany.log.auth"},
		router.HistoryConfig{Topic: "com.mycompany.log.basket", Match: protocol.MatchExact},
		router.HistoryConfig{Topic: "com.mycompany.log", Match: protocol.MatchPrefix},
	)
	pub, c := join(t, r), join(t, r)
	if roles, _ := protocol.ParseRoles(c.welcome.Details); !roles.Supports(protocol.RoleBroker, protocol.FeatureEventHistory) {
		t.Errorf("event_history not announced: %v", c.welcome.Details["roles"])
	}
	// The history subscriptions exist before anybody subscribes.
	auth, prefix := c.lookup("com.mycompany.log.auth", "exact"), c.lookup("com.mycompany.log", "prefix")
	// The example of the spec.
	p1 := pub.publishAck("com.mycompany.log.auth", nil, 1)
	p2 := pub.publishAck("com.mycompany.log.basket", nil, 2)
	p3 := pub.publishAck("com.mycompany.log.basket", nil, 3)
	p4 := pub.publishAck("com.mycompany.log.basket", protocol.Dict{"disclose_me": true}, 4)
	p5 := pub.publishAck("com.mycompany.log.checkout", nil, 5)
	basket := c.subscribe("com.mycompany.log.basket", nil)

	tests := []struct {
		name   string
		args   protocol.List
		kwargs protocol.Dict
		want   []protocol.ID
	}{
		{"auth", protocol.List{uint64(auth)}, nil, []protocol.ID{p1}},
		{"basket", protocol.List{uint64(basket)}, nil, []protocol.ID{p2, p3, p4}},
		{"prefix", protocol.List{uint64(prefix)}, nil, []protocol.ID{p1, p2, p3, p4, p5}},
		{"limit positional", protocol.List{uint64(prefix), 2}, nil, []protocol.ID{p1, p2}},
		{"limit", protocol.List{uint64(prefix)}, protocol.Dict{"limit": 2}, []protocol.ID{p1, p2}},
		{"reverse", protocol.List{uint64(prefix)}, protocol.Dict{"reverse": true, "limit": 2}, []protocol.ID{p5, p4}},
		{"topic", protocol.List{uint64(prefix)}, protocol.Dict{"topic": "com.mycompany.log.basket"}, []protocol.ID{p2, p3, p4}},
		{"from_publication", protocol.List{uint64(prefix)}, protocol.Dict{"from_publication": uint64(p3)}, []protocol.ID{p3, p4, p5}},
		{"after_publication", protocol.List{uint64(prefix)}, protocol.Dict{"after_publication": uint64(p3)}, []protocol.ID{p4, p5}},
		{"before_publication", protocol.List{uint64(prefix)}, protocol.Dict{"before_publication": uint64(p3)}, []protocol.ID{p1, p2}},
		{"until_publication", protocol.List{uint64(prefix)}, protocol.Dict{"until_publication": uint64(p3)}, []protocol.ID{p1, p2, p3}},
		{"unknown publication", protocol.List{uint64(prefix)}, protocol.Dict{"after_publication": 42}, []protocol.ID{}},
		{"page", protocol.List{uint64(prefix)}, protocol.Dict{"reverse": true, "before_publication": uint64(p4), "limit": 2}, []protocol.ID{p3, p2}},
		{"from_time future", protocol.List{uint64(prefix)}, protocol.Dict{"from_time": time.Now().Add(time.Hour).Format(time.RFC3339)}, []protocol.ID{}},
		{"until_time future", protocol.List{uint64(prefix)}, protocol.Dict{"until_time": time.Now().Add(time.Hour).Format(time.RFC3339)}, []protocol.ID{p1, p2, p3, p4, p5}},
		{"before_time past", protocol.List{uint64(prefix)}, protocol.Dict{"before_time": "2001-01-01T00:00:00Z"}, []protocol.ID{}},
		{"after_time past", protocol.List{uint64(auth)}, protocol.Dict{"after_time": "2001-01-01T00:00:00.5Z"}, []protocol.ID{p1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := c.getEvents(tt.args, tt.kwargs)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("get_events(%v, %v) mismatch (-want +got):\n%s", tt.args, tt.kwargs, diff)
			}
		})
	}

	// The format of an entry.
	_, list := c.getEvents(protocol.List{uint64(prefix)}, protocol.Dict{"from_publication": uint64(p4), "limit": 1})
	e := list[0].(protocol.Dict)
	ts, err := time.Parse(time.RFC3339, e["timestamp"].(string))
	if err != nil || time.Since(ts) > time.Minute {
		t.Errorf("timestamp %v: %v", e["timestamp"], err)
	}
	want := protocol.Dict{"timestamp": e["timestamp"], "subscription": uint64(prefix), "publication": uint64(p4),
		"details": protocol.Dict{"topic": "com.mycompany.log.basket", "publisher": uint64(pub.session),
			"publisher_authid": pub.welcome.Details.String("authid"), "publisher_authrole": "anonymous"},
		"args": protocol.List{4}}
	if diff := cmp.Diff(want, e); diff != "" {
		t.Errorf("entry mismatch (-want +got):\n%s", diff)
	}

	// The history subscription outlives its last subscriber.
	req := c.next()
	c.send(&protocol.Unsubscribe{Request: req, Subscription: basket})
	expect[*protocol.Unsubscribed](c)
	if got := c.lookup("com.mycompany.log.basket", "exact"); got != basket {
		t.Errorf("lookup after unsubscribe = %d, want %d", got, basket)
	}
	p6 := pub.publishAck("com.mycompany.log.basket", nil, 6)
	if got, _ := c.getEvents(protocol.List{uint64(basket)}, protocol.Dict{"reverse": true, "limit": 1}); !cmp.Equal(got, []protocol.ID{p6}) {
		t.Errorf("latest basket event = %v, want [%d]", got, p6)
	}
}

func TestEventHistoryRing(t *testing.T) {
	r := historyRouter(t, router.HistoryConfig{Topic: "com.example.t", Limit: 3})
	pub, c := join(t, r), join(t, r)
	id := c.lookup("com.example.t", "exact")
	var ids []protocol.ID
	for i := range 8 {
		ids = append(ids, pub.publishAck("com.example.t", nil, i))
		got, _ := c.getEvents(protocol.List{uint64(id)}, nil)
		want := ids[max(0, len(ids)-3):]
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("after %d publications: get_events mismatch (-want +got):\n%s", i+1, diff)
		}
	}
}

func TestEventHistoryMaxAge(t *testing.T) {
	r := historyRouter(t, router.HistoryConfig{Topic: "com.example.t", MaxAge: 50 * time.Millisecond})
	pub, c := join(t, r), join(t, r)
	id := c.lookup("com.example.t", "exact")
	pub.publishAck("com.example.t", nil, 1)
	time.Sleep(100 * time.Millisecond)
	p2 := pub.publishAck("com.example.t", nil, 2)
	if got, _ := c.getEvents(protocol.List{uint64(id)}, nil); !cmp.Equal(got, []protocol.ID{p2}) {
		t.Errorf("get_events = %v, want only the young [%d]", got, p2)
	}
}

func TestEventHistoryEligibility(t *testing.T) {
	r := newRouter(t, router.Config{Realms: []router.RealmConfig{{Name: realm1,
		Authenticators: []router.Authenticator{router.Anonymous{AuthRole: "guest"}},
		EventHistory:   []router.HistoryConfig{{Topic: "com.example.t"}}}}})
	pub, c := join(t, r), join(t, r)
	id := c.lookup("com.example.t", "exact")
	open := pub.publishAck("com.example.t", nil, 1)
	pub.publishAck("com.example.t", protocol.Dict{"eligible_authrole": []any{"admin"}}, 2)  // kept, hidden from guests
	pub.publishAck("com.example.t", protocol.Dict{"exclude": []any{uint64(c.session)}}, 3)  // not kept
	pub.publishAck("com.example.t", protocol.Dict{"eligible": []any{uint64(c.session)}}, 4) // not kept
	guests := pub.publishAck("com.example.t", protocol.Dict{"eligible_authrole": []any{"guest"}}, 5)
	if got, _ := c.getEvents(protocol.List{uint64(id)}, nil); !cmp.Equal(got, []protocol.ID{open, guests}) {
		t.Errorf("get_events = %v, want [%d %d]", got, open, guests)
	}
}

func TestGetEventsErrors(t *testing.T) {
	r := historyRouter(t, router.HistoryConfig{Topic: "com.example.t"})
	c := join(t, r)
	id := c.lookup("com.example.t", "exact")
	plain := c.subscribe("com.example.plain", nil)
	tests := []struct {
		name   string
		args   protocol.List
		kwargs protocol.Dict
		uri    protocol.URI
	}{
		{"no argument", nil, nil, protocol.ErrInvalidArgument},
		{"not an ID", protocol.List{"x"}, nil, protocol.ErrInvalidArgument},
		{"unknown", protocol.List{uint64(id) + 1000}, nil, protocol.ErrNoSuchSubscription},
		{"no history", protocol.List{uint64(plain)}, nil, router.NoEventHistory},
		{"limit zero", protocol.List{uint64(id), 0}, nil, protocol.ErrInvalidArgument},
		{"limit string", protocol.List{uint64(id)}, protocol.Dict{"limit": "3"}, protocol.ErrInvalidArgument},
		{"limit negative", protocol.List{uint64(id)}, protocol.Dict{"limit": -1}, protocol.ErrInvalidArgument},
		{"reverse not bool", protocol.List{uint64(id)}, protocol.Dict{"reverse": 1}, protocol.ErrInvalidArgument},
		{"bad time", protocol.List{uint64(id)}, protocol.Dict{"from_time": "yesterday"}, protocol.ErrInvalidArgument},
		{"time not string", protocol.List{uint64(id)}, protocol.Dict{"until_time": 5}, protocol.ErrInvalidArgument},
		{"bad publication", protocol.List{uint64(id)}, protocol.Dict{"after_publication": "p"}, protocol.ErrInvalidArgument},
		{"topic not string", protocol.List{uint64(id)}, protocol.Dict{"topic": 1}, protocol.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := c.next()
			c.send(&protocol.Call{Request: req, Procedure: "wamp.subscription.get_events", Args: tt.args, Kwargs: tt.kwargs})
			c.expectError(protocol.TypeCall, req, tt.uri)
		})
	}
}

func TestEventHistoryConfig(t *testing.T) {
	tests := []struct {
		name string
		h    router.HistoryConfig
	}{
		{"empty topic", router.HistoryConfig{}},
		{"bad topic", router.HistoryConfig{Topic: "com..x"}},
		{"bad match", router.HistoryConfig{Topic: "com.x", Match: "regex"}},
		{"negative limit", router.HistoryConfig{Topic: "com.x", Limit: -1}},
		{"negative age", router.HistoryConfig{Topic: "com.x", MaxAge: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := router.New(router.Config{Realms: []router.RealmConfig{{Name: realm1, EventHistory: []router.HistoryConfig{tt.h}}}})
			if !errors.Is(err, router.ErrConfig) {
				t.Errorf("New with %+v: %v, want ErrConfig", tt.h, err)
			}
		})
	}
	dup := []router.HistoryConfig{{Topic: "com.x"}, {Topic: "com.x", Match: protocol.MatchExact}}
	if _, err := router.New(router.Config{Realms: []router.RealmConfig{{Name: realm1, EventHistory: dup}}}); !errors.Is(err, router.ErrConfig) {
		t.Errorf("New with a topic twice: %v, want ErrConfig", err)
	}
	// The same topic with another policy is another subscription.
	ok := []router.HistoryConfig{{Topic: "com.x"}, {Topic: "com.x", Match: protocol.MatchPrefix}}
	r, err := router.New(router.Config{Realms: []router.RealmConfig{{Name: realm1, EventHistory: ok}, {Name: "realm2"}}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer r.Close()
	// event_history is announced only in the realm that keeps history.
	c := connect(t, r)
	w := c.hello("realm2", nil)
	if roles, _ := protocol.ParseRoles(w.Details); roles.Supports(protocol.RoleBroker, protocol.FeatureEventHistory) {
		t.Errorf("realm2 announces event_history")
	}
}

// TestEventHistoryTimeBounds checks that after_time and until_time
// compare with the timestamps get_events reports (spec advanced "Event
// History": after is >, until is <=).
func TestEventHistoryTimeBounds(t *testing.T) {
	r := historyRouter(t, router.HistoryConfig{Topic: "com.log"})
	c := join(t, r)
	id := c.publishAck("com.log", nil, 1)
	hist := c.lookup("com.log", "exact")
	_, list := c.getEvents(protocol.List{uint64(hist)}, nil)
	ts := list[0].(protocol.Dict)["timestamp"].(string)
	if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
		t.Fatalf("timestamp %q: %v", ts, err)
	}
	if got, _ := c.getEvents(protocol.List{uint64(hist)}, protocol.Dict{"until_time": ts}); !slices.Equal(got, []protocol.ID{id}) {
		t.Errorf("get_events(until_time=%s) = %v, want [%d]", ts, got, id)
	}
	if got, _ := c.getEvents(protocol.List{uint64(hist)}, protocol.Dict{"after_time": ts}); len(got) != 0 {
		t.Errorf("get_events(after_time=%s) = %v, want none", ts, got)
	}
	if got, _ := c.getEvents(protocol.List{uint64(hist)}, protocol.Dict{"from_time": ts}); !slices.Equal(got, []protocol.ID{id}) {
		t.Errorf("get_events(from_time=%s) = %v, want [%d]", ts, got, id)
	}
	if got, _ := c.getEvents(protocol.List{uint64(hist)}, protocol.Dict{"before_time": ts}); len(got) != 0 {
		t.Errorf("get_events(before_time=%s) = %v, want none", ts, got)
	}
}

// TestHistoryBytes checks that event history is bounded in bytes per
// realm (RealmConfig.MaxHistoryBytes, shared by the history topics): the
// newest events that fit are kept, and one larger than a topic's share is
// not kept at all.
func TestHistoryBytes(t *testing.T) {
	const budget = 2 << 20 // 1 MiB per topic
	r := newRouter(t, router.Config{Realms: []router.RealmConfig{{Name: realm1, MaxHistoryBytes: budget,
		EventHistory: []router.HistoryConfig{{Topic: "com.a", Limit: 1000}, {Topic: "com.b", Limit: 1000}}}}})
	c := join(t, r)
	var ids []protocol.ID
	for range 10 {
		ids = append(ids, c.publishAck("com.a", nil, make([]byte, 256<<10)))
	}
	small := c.publishAck("com.b", nil, "small")
	c.publishAck("com.b", nil, make([]byte, 2<<20)) // larger than the share
	got, _ := c.getEvents(protocol.List{uint64(c.lookup("com.a", "exact"))}, nil)
	if len(got) == 0 || len(got)*(256<<10) > budget/2 || !slices.Equal(got, ids[len(ids)-len(got):]) {
		t.Errorf("com.a keeps %v, want the newest events of %v within 1 MiB", got, ids)
	}
	if got, _ := c.getEvents(protocol.List{uint64(c.lookup("com.b", "exact"))}, nil); !slices.Equal(got, []protocol.ID{small}) {
		t.Errorf("com.b keeps %v, want only [%d]", got, small)
	}
}
