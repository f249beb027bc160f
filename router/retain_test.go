package router_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// expectNothing requires that c receives nothing more (checked by a
// round trip: an acknowledged publication to a topic nobody has).
func (c *testPeer) expectNothing() {
	c.tb.Helper()
	req := c.next()
	c.send(&protocol.Publish{Request: req, Options: protocol.Dict{"acknowledge": true}, Topic: "com.example.nobody"})
	m := c.recv()
	if p, ok := m.(*protocol.Published); !ok || p.Request != req {
		c.tb.Fatalf("got %s, want nothing (then PUBLISHED %d)", describe(m), req)
	}
}

func TestRetainedEvent(t *testing.T) {
	r := newRouter(t, router.Config{})
	pub := join(t, r)
	pub.publishAck("com.example.t", protocol.Dict{"retain": true}, "old")
	second := pub.publishAck("com.example.t", protocol.Dict{"retain": true, "disclose_me": true}, "new")
	pub.publishAck("com.example.t", nil, "not retained")

	c := join(t, r)
	id := c.subscribe("com.example.t", protocol.Dict{"get_retained": true})
	ev := expect[*protocol.Event](c)
	want := &protocol.Event{Subscription: id, Publication: second, Args: protocol.List{"new"},
		Details: protocol.Dict{"retained": true, "publisher": uint64(pub.session),
			"publisher_authid": pub.welcome.Details.String("authid"), "publisher_authrole": "anonymous"}}
	if diff := cmp.Diff(want, ev); diff != "" {
		t.Errorf("retained EVENT mismatch (-want +got):\n%s", diff)
	}
	// Later events follow, without retained.
	third := pub.publishAck("com.example.t", nil, "live")
	if ev := expect[*protocol.Event](c); ev.Publication != third || ev.Details["retained"] != nil {
		t.Errorf("live EVENT = %+v, want publication %d without retained", ev, third)
	}

	// Without get_retained (or with false): nothing.
	d := join(t, r)
	d.subscribe("com.example.t", protocol.Dict{"get_retained": false})
	d.expectNothing()
	e := join(t, r)
	e.subscribe("com.example.t", nil)
	e.expectNothing()

	// No retained event on the topic: nothing.
	f := join(t, r)
	f.subscribe("com.example.empty", protocol.Dict{"get_retained": true})
	f.expectNothing()

	// Subscribing again with get_retained gets it again.
	c.subscribe("com.example.t", protocol.Dict{"get_retained": true})
	if ev := expect[*protocol.Event](c); ev.Publication != second || ev.Details["retained"] != true {
		t.Errorf("EVENT on re-subscribe = %+v, want the retained %d", ev, second)
	}

	// Kwargs are kept, and an unacknowledged publication is retained too.
	pub.send(&protocol.Publish{Request: pub.next(), Options: protocol.Dict{"retain": true}, Topic: "com.example.k",
		Args: protocol.List{}, Kwargs: protocol.Dict{"v": 1}})
	pub.expectNothing() // the PUBLISH was handled
	g := join(t, r)
	g.subscribe("com.example.k", protocol.Dict{"get_retained": true})
	if ev := expect[*protocol.Event](g); !cmp.Equal(ev.Kwargs, protocol.Dict{"v": 1}) {
		t.Errorf("retained kwargs = %v, want map[v:1]", ev.Kwargs)
	}
}

func TestRetainedEligibility(t *testing.T) {
	r := newRouter(t, router.Config{Realms: []router.RealmConfig{{Name: realm1, Authenticators: []router.Authenticator{
		router.Anonymous{AuthRole: "guest"},
	}}}})
	pub := join(t, r)
	open := pub.publishAck("com.example.t", protocol.Dict{"retain": true}, "all")
	limited := pub.publishAck("com.example.t", protocol.Dict{"retain": true, "eligible_authrole": []any{"admin"}}, "admins")

	// A guest is not eligible for the newest retained event, so it gets
	// the newest it is eligible for.
	c := join(t, r)
	c.subscribe("com.example.t", protocol.Dict{"get_retained": true})
	if ev := expect[*protocol.Event](c); ev.Publication != open {
		t.Errorf("retained publication = %d, want %d (not the admins' %d)", ev.Publication, open, limited)
	}
	c.expectNothing()

	// Excluded by session: nothing (the open one was replaced).
	d := join(t, r)
	pub.publishAck("com.example.u", protocol.Dict{"retain": true, "exclude": []any{uint64(d.session)}}, "x")
	d.subscribe("com.example.u", protocol.Dict{"get_retained": true})
	d.expectNothing()

	// The publisher itself: excluded by default (exclude_me), not with
	// exclude_me false.
	pub.subscribe("com.example.u", protocol.Dict{"get_retained": true})
	pub.expectNothing()
	mine := pub.publishAck("com.example.v", protocol.Dict{"retain": true, "exclude_me": false}, "y")
	pub.subscribe("com.example.v", protocol.Dict{"get_retained": true})
	if ev := expect[*protocol.Event](pub); ev.Publication != mine {
		t.Errorf("retained publication = %d, want %d", ev.Publication, mine)
	}
}

func TestRetainedPattern(t *testing.T) {
	r := newRouter(t, router.Config{})
	pub := join(t, r)
	a := pub.publishAck("com.example.a", protocol.Dict{"retain": true}, "a")
	b := pub.publishAck("com.example.b.x", protocol.Dict{"retain": true}, "b")
	pub.publishAck("org.example.c", protocol.Dict{"retain": true}, "c")

	c := join(t, r)
	id := c.subscribe("com.example", protocol.Dict{"match": "prefix", "get_retained": true})
	for _, want := range []struct {
		pub   protocol.ID
		topic string
	}{{a, "com.example.a"}, {b, "com.example.b.x"}} {
		ev := expect[*protocol.Event](c)
		if ev.Subscription != id || ev.Publication != want.pub || ev.Details["topic"] != want.topic || ev.Details["retained"] != true {
			t.Errorf("EVENT = %+v, want publication %d on %s, retained", ev, want.pub, want.topic)
		}
	}
	c.expectNothing()

	d := join(t, r)
	d.subscribe("com..a", protocol.Dict{"match": "wildcard", "get_retained": true})
	if ev := expect[*protocol.Event](d); ev.Publication != a {
		t.Errorf("wildcard retained publication = %d, want %d", ev.Publication, a)
	}
	d.expectNothing()
}

func TestRetainBadOptions(t *testing.T) {
	r := newRouter(t, router.Config{})
	c := join(t, r)
	req := c.next()
	c.send(&protocol.Publish{Request: req, Options: protocol.Dict{"acknowledge": true, "retain": "yes"}, Topic: "com.example.t"})
	if e := c.expectError(protocol.TypePublish, req, protocol.ErrInvalidArgument); !strings.Contains(e.Args[0].(string), "retain") {
		t.Errorf("ERROR args = %v, want retain named", e.Args)
	}
	req = c.next()
	c.send(&protocol.Subscribe{Request: req, Options: protocol.Dict{"get_retained": 1}, Topic: "com.example.t"})
	if e := c.expectError(protocol.TypeSubscribe, req, protocol.ErrInvalidArgument); !strings.Contains(e.Args[0].(string), "get_retained") {
		t.Errorf("ERROR args = %v, want get_retained named", e.Args)
	}
	// The bad PUBLISH was not retained.
	c.subscribe("com.example.t", protocol.Dict{"get_retained": true})
	c.expectNothing()
	// Retaining in the reserved namespace is refused like publishing.
	req = c.next()
	c.send(&protocol.Publish{Request: req, Options: protocol.Dict{"acknowledge": true, "retain": true}, Topic: "wamp.x"})
	c.expectError(protocol.TypePublish, req, protocol.ErrInvalidURI)
}

func TestMaxRetained(t *testing.T) {
	r := newRouter(t, router.Config{Realms: []router.RealmConfig{{Name: realm1, MaxRetained: 2}}})
	pub := join(t, r)
	pub.publishAck("com.example.1", protocol.Dict{"retain": true}, 1)
	pub.publishAck("com.example.2", protocol.Dict{"retain": true}, 2)
	pub.publishAck("com.example.3", protocol.Dict{"retain": true}, 3) // refused, still published
	last := pub.publishAck("com.example.2", protocol.Dict{"retain": true}, 22)

	c := join(t, r)
	c.subscribe("com.example.3", protocol.Dict{"get_retained": true})
	c.expectNothing()
	c.subscribe("com.example.2", protocol.Dict{"get_retained": true})
	if ev := expect[*protocol.Event](c); ev.Publication != last {
		t.Errorf("retained publication = %d, want %d", ev.Publication, last)
	}
}

// TestRetainedOrder checks that the retained event comes right after
// SUBSCRIBED and before the events of later publications, while a
// publisher keeps publishing (and retaining) concurrently.
func TestRetainedOrder(t *testing.T) {
	r := newRouter(t, router.Config{})
	pub := join(t, r)
	pub.publishAck("com.example.t", protocol.Dict{"retain": true}, 0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i <= 300; i++ {
			pub.send(&protocol.Publish{Request: protocol.ID(1000 + i), Options: protocol.Dict{"retain": true},
				Topic: "com.example.t", Args: protocol.List{i}})
		}
	}()
	for range 20 {
		c := join(t, r)
		req := c.next()
		c.send(&protocol.Subscribe{Request: req, Options: protocol.Dict{"get_retained": true}, Topic: "com.example.t"})
		expect[*protocol.Subscribed](c)
		ev := expect[*protocol.Event](c)
		if ev.Details["retained"] != true {
			t.Fatalf("first EVENT after SUBSCRIBED = %+v, want the retained one", ev)
		}
		last := ev.Args[0].(int)
		// Later events are in order; one may repeat the retained one.
		deadline := time.After(50 * time.Millisecond)
	loop:
		for {
			select {
			case m := <-c.in:
				ev := m.(*protocol.Event)
				if ev.Details["retained"] != nil {
					t.Fatalf("second retained EVENT %+v", ev)
				}
				if n := ev.Args[0].(int); n < last {
					t.Fatalf("EVENT %d after %d", n, last)
				} else {
					last = n
				}
			case <-deadline:
				break loop
			}
		}
	}
	<-done
}

// TestRetainedBytes checks that retained events are bounded in bytes per
// realm (RealmConfig.MaxRetainedBytes), and that a topic whose newest
// retained event does not fit keeps none rather than an outdated one.
func TestRetainedBytes(t *testing.T) {
	const budget = 1 << 20
	r := newRouter(t, router.Config{Realms: []router.RealmConfig{{Name: realm1, MaxRetainedBytes: budget}}})
	pub := join(t, r)
	pub.publishAck("com.example.small", protocol.Dict{"retain": true}, "small")
	big := make([]byte, 256<<10)
	for i := range 10 {
		pub.publishAck(protocol.URI("com.example.big"+strconv.Itoa(i)), protocol.Dict{"retain": true}, big)
	}
	// The budget is full: the small topic's newer, larger event does not
	// fit, and its old one is gone with it.
	pub.publishAck("com.example.small", protocol.Dict{"retain": true}, big)

	sub := join(t, r)
	sub.subscribe("com.example.", protocol.Dict{"match": "prefix", "get_retained": true})
	// The retained events precede the PUBLISHED of a later publication.
	req := sub.next()
	sub.send(&protocol.Publish{Request: req, Options: protocol.Dict{"acknowledge": true}, Topic: "org.marker"})
	kept := 0
	for {
		m := sub.recv()
		if p, ok := m.(*protocol.Published); ok && p.Request == req {
			break
		}
		ev, ok := m.(*protocol.Event)
		if !ok {
			t.Fatalf("got %s, want EVENT or PUBLISHED", describe(m))
		}
		if ev.Details["topic"] == "com.example.small" {
			t.Errorf("com.example.small still has a retained event: %v", ev.Args)
		}
		kept++
	}
	if kept == 0 || kept*(256<<10) > budget {
		t.Errorf("%d retained events of 256 KiB kept, want at least one and at most %d bytes of them", kept, budget)
	}
}
