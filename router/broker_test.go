package router_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/transport"
)

func TestPublishSubscribe(t *testing.T) {
	r := newRouter(t, router.Config{})
	sub1, sub2, pub := join(t, r), join(t, r), join(t, r)
	id1 := sub1.subscribe("com.example.topic", nil)
	id2 := sub2.subscribe("com.example.topic", protocol.Dict{"match": "exact"})
	if id1 != id2 {
		t.Errorf("subscription IDs %d and %d differ for the same topic and policy", id1, id2)
	}
	if again := sub1.subscribe("com.example.topic", nil); again != id1 {
		t.Errorf("re-subscribing gave %d, want the existing %d", again, id1)
	}

	// Unacknowledged: no answer to the publisher.
	pub.send(&protocol.Publish{Request: pub.next(), Topic: "com.example.topic", Args: protocol.List{"hello"}, Kwargs: protocol.Dict{"k": 1}})
	pubID := pub.publishAck("com.example.topic", nil, "second")
	var evs [2]*protocol.Event
	for i, c := range []*testPeer{sub1, sub2} {
		ev := expect[*protocol.Event](c)
		want := &protocol.Event{Subscription: id1, Publication: ev.Publication, Args: protocol.List{"hello"}, Kwargs: protocol.Dict{"k": 1}}
		if diff := cmp.Diff(want, ev); diff != "" {
			t.Errorf("EVENT mismatch (-want +got):\n%s", diff)
		}
		if !ev.Publication.Valid() {
			t.Errorf("publication ID %d not valid", ev.Publication)
		}
		evs[i] = ev
		// Re-subscribing did not double the delivery.
		if ev2 := expect[*protocol.Event](c); ev2.Publication != pubID {
			t.Errorf("second EVENT publication = %d, want %d", ev2.Publication, pubID)
		}
	}
	if evs[0] != evs[1] {
		t.Errorf("in-process subscribers got different EVENT values; want one shared value")
	}

	// Unsubscribe: sub1 no longer gets events, sub2 does.
	req := sub1.next()
	sub1.send(&protocol.Unsubscribe{Request: req, Subscription: id1})
	if u := expect[*protocol.Unsubscribed](sub1); u.Request != req {
		t.Errorf("UNSUBSCRIBED request = %d, want %d", u.Request, req)
	}
	pubID = pub.publishAck("com.example.topic", nil)
	if ev := expect[*protocol.Event](sub2); ev.Publication != pubID {
		t.Errorf("EVENT publication = %d, want %d", ev.Publication, pubID)
	}
	// sub1 is still subscribed to another topic and gets only that event.
	other := sub1.subscribe("com.example.other", nil)
	pub.publishAck("com.example.topic", nil)
	pub.publishAck("com.example.other", nil)
	if ev := expect[*protocol.Event](sub1); ev.Subscription != other {
		t.Errorf("EVENT for subscription %d, want %d", ev.Subscription, other)
	}
}

func TestBrokerErrors(t *testing.T) {
	r := newRouter(t, router.Config{})
	c := join(t, r)
	tests := []struct {
		name string
		msg  protocol.Message
		typ  protocol.MessageType
		uri  protocol.URI
	}{
		{"subscribe bad URI", &protocol.Subscribe{Request: 101, Topic: "com..x"}, protocol.TypeSubscribe, protocol.ErrInvalidURI},
		{"subscribe bad prefix", &protocol.Subscribe{Request: 102, Topic: "com..x", Options: protocol.Dict{"match": "prefix"}}, protocol.TypeSubscribe, protocol.ErrInvalidURI},
		{"subscribe bad policy", &protocol.Subscribe{Request: 103, Topic: "com.x", Options: protocol.Dict{"match": "regex"}}, protocol.TypeSubscribe, protocol.ErrInvalidArgument},
		{"unsubscribe unknown", &protocol.Unsubscribe{Request: 104, Subscription: 12345}, protocol.TypeUnsubscribe, protocol.ErrNoSuchSubscription},
		{"publish reserved", &protocol.Publish{Request: 106, Topic: "wamp.session.on_join", Options: protocol.Dict{"acknowledge": true}}, protocol.TypePublish, protocol.ErrInvalidURI},
		{"publish bad URI", &protocol.Publish{Request: 105, Topic: "com.#", Options: protocol.Dict{"acknowledge": true}}, protocol.TypePublish, protocol.ErrInvalidURI},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.tb = t
			c.send(tt.msg)
			e := expect[*protocol.Error](c)
			if e.RequestType != tt.typ || e.URI != tt.uri {
				t.Errorf("got %s, want ERROR(%v, %s)", describe(e), tt.typ, tt.uri)
			}
		})
	}
	// Subscribing in the wamp namespace is fine, publishing there is not.
	c.tb = t
	c.subscribe("wamp.session.on_join", nil)
	c.send(&protocol.Publish{Request: 107, Topic: "wamp.session.on_join", Options: protocol.Dict{"acknowledge": true, "exclude_me": false}})
	c.expectError(protocol.TypePublish, 107, protocol.ErrInvalidURI)
	// An unacknowledged bad publication gets no answer at all.
	c.tb = t
	c.send(&protocol.Publish{Request: c.next(), Topic: "com.#"})
	c.publishAck("com.example.fine", nil)
}

func TestPublisherExclusion(t *testing.T) {
	r := newRouter(t, router.Config{})
	c := join(t, r)
	sub := c.subscribe("com.example.topic", nil)
	// Excluded by default: PUBLISHED is the next message.
	c.publishAck("com.example.topic", nil)
	// exclude_me=false: the EVENT comes before PUBLISHED.
	c.send(&protocol.Publish{Request: c.next(), Topic: "com.example.topic", Options: protocol.Dict{"acknowledge": true, "exclude_me": false}})
	if ev := expect[*protocol.Event](c); ev.Subscription != sub {
		t.Errorf("EVENT subscription = %d, want %d", ev.Subscription, sub)
	}
	expect[*protocol.Published](c)
}

func TestPatternSubscriptions(t *testing.T) {
	r := newRouter(t, router.Config{})
	sub, pub := join(t, r), join(t, r)
	exact := sub.subscribe("com.example.a.b", nil)
	prefix := sub.subscribe("com.example", protocol.Dict{"match": "prefix"})
	prefixDot := sub.subscribe("com.example.", protocol.Dict{"match": "prefix"})
	wild := sub.subscribe("com..a.", protocol.Dict{"match": "wildcard"})
	sub.subscribe("zzz.marker", nil)
	other := join(t, r)
	if id := other.subscribe("com.example", protocol.Dict{"match": "prefix"}); id != prefix {
		t.Errorf("same prefix from another session: ID %d, want shared %d", id, prefix)
	}
	if id := other.subscribe("com.example", nil); id == prefix {
		t.Errorf("exact and prefix subscriptions share ID %d", id)
	}

	tests := []struct {
		topic protocol.URI
		want  map[protocol.ID]string // subscription -> Details.topic ("" for none)
	}{
		{"com.example.a.b", map[protocol.ID]string{exact: "", prefix: "com.example.a.b", prefixDot: "com.example.a.b", wild: "com.example.a.b"}},
		{"com.other.a.z", map[protocol.ID]string{wild: "com.other.a.z"}},
		{"com.example", map[protocol.ID]string{prefix: "com.example"}},
		{"com.examples", map[protocol.ID]string{prefix: "com.examples"}},
		{"com.x.a.b.c", map[protocol.ID]string{}},
		{"org.example.a.b", map[protocol.ID]string{}},
	}
	for _, tt := range tests {
		t.Run(string(tt.topic), func(t *testing.T) {
			sub.tb, pub.tb = t, t
			pubID := pub.publishAck(tt.topic, nil)
			// A marker publication that matches one subscription only, to
			// know when all events of pubID arrived.
			pub.publishAck("zzz.marker", nil, "marker")
			got := map[protocol.ID]string{}
			for {
				ev := expect[*protocol.Event](sub)
				if len(ev.Args) == 1 && ev.Args[0] == "marker" {
					break
				}
				if ev.Publication != pubID {
					t.Fatalf("EVENT of publication %d, want %d", ev.Publication, pubID)
				}
				got[ev.Subscription] = ev.Details.String("topic")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("deliveries for %s (-want +got):\n%s", tt.topic, diff)
			}
		})
	}
}

func TestBlackWhiteListing(t *testing.T) {
	r := newRouter(t, router.Config{})
	pub := join(t, r)
	a := join(t, r)
	b := join(t, r)
	bob := b.welcome.Details.String("authid")
	for _, c := range []*testPeer{a, b} {
		c.subscribe("com.example.topic", nil)
	}
	tests := []struct {
		name  string
		opts  protocol.Dict
		wantA bool
		wantB bool
	}{
		{"none", nil, true, true},
		{"exclude a", protocol.Dict{"exclude": []any{uint64(a.session)}}, false, true},
		{"eligible a", protocol.Dict{"eligible": protocol.List{a.session}}, true, false},
		{"eligible authid of b", protocol.Dict{"eligible_authid": []any{bob}}, false, true},
		{"exclude authid of b", protocol.Dict{"exclude_authid": []string{bob}}, true, false},
		{"eligible authrole", protocol.Dict{"eligible_authrole": []any{"anonymous"}}, true, true},
		{"exclude authrole", protocol.Dict{"exclude_authrole": []any{"anonymous"}}, false, false},
		{"eligible and exclude", protocol.Dict{"eligible": []any{uint64(a.session), uint64(b.session)}, "exclude": []any{float64(b.session)}}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub.tb = t
			id := pub.publishAck("com.example.topic", tt.opts)
			// Each subscriber then gets an unfiltered marker; whether the
			// filtered event came first tells if it was delivered.
			marker := pub.publishAck("com.example.topic", nil)
			for _, s := range []struct {
				c    *testPeer
				want bool
			}{{a, tt.wantA}, {b, tt.wantB}} {
				s.c.tb = t
				ev := expect[*protocol.Event](s.c)
				got := ev.Publication == id
				if got {
					ev = expect[*protocol.Event](s.c)
				}
				if got != s.want {
					t.Errorf("session %d delivered = %v, want %v", s.c.session, got, s.want)
				}
				if ev.Publication != marker {
					t.Errorf("EVENT publication %d, want marker %d", ev.Publication, marker)
				}
			}
		})
	}
}

func TestPublisherDisclosure(t *testing.T) {
	r := newRouter(t, router.Config{})
	sub := join(t, r)
	pub := join(t, r)
	sub.subscribe("com.example.topic", nil)
	pub.publishAck("com.example.topic", protocol.Dict{"disclose_me": true})
	ev := expect[*protocol.Event](sub)
	want := protocol.Dict{"publisher": uint64(pub.session), "publisher_authid": pub.welcome.Details.String("authid"), "publisher_authrole": "anonymous"}
	if diff := cmp.Diff(want, ev.Details); diff != "" {
		t.Errorf("EVENT.Details mismatch (-want +got):\n%s", diff)
	}
}

// TestEventOrder checks the per publisher/subscriber ordering guarantee
// (spec basic "Ordering Guarantees") over 10,000 events on two topics.
func TestEventOrder(t *testing.T) {
	const n = 10000
	r := newRouter(t, router.Config{LocalQueueSize: 2 * n})
	sub, pub := join(t, r), join(t, r)
	s1 := sub.subscribe("com.example.one", nil)
	s2 := sub.subscribe("com.example.two", nil)
	for i := range n {
		topic := protocol.URI("com.example.one")
		if i%3 == 0 {
			topic = "com.example.two"
		}
		pub.send(&protocol.Publish{Request: pub.next(), Topic: topic, Args: protocol.List{i}})
	}
	for i := range n {
		ev := expect[*protocol.Event](sub)
		if got := ev.Args[0].(int); got != i {
			t.Fatalf("event %d carries %d: out of order", i, got)
		}
		want := s1
		if i%3 == 0 {
			want = s2
		}
		if ev.Subscription != want {
			t.Fatalf("event %d on subscription %d, want %d", i, ev.Subscription, want)
		}
	}
}

// stalledSubscriber joins a session through p that subscribes to topic
// and then reads no more; it returns the session ID.
func stalledSubscriber(t *testing.T, r *router.Router, topic protocol.URI) (transport.Peer, protocol.ID) {
	t.Helper()
	p, err := r.Connect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(nil) })
	p.Send(t.Context(), &protocol.Hello{Realm: realm1, Details: protocol.Dict{"roles": clientRoles()}})
	w, ok := recvRaw(t, p).(*protocol.Welcome)
	if !ok {
		t.Fatal("no WELCOME")
	}
	p.Send(t.Context(), &protocol.Subscribe{Request: 1, Topic: topic})
	if m := recvRaw(t, p); m.Type() != protocol.TypeSubscribed {
		t.Fatalf("got %s, want SUBSCRIBED", describe(m))
	}
	return p, w.Session
}

// TestSlowSubscriber checks that a subscriber that stopped reading is
// disconnected once its backlog is full, or once its backlog waited
// Config.SlowConsumerWait for room, and that the publisher and the other
// subscribers are never held back by it.
func TestSlowSubscriber(t *testing.T) {
	const queue, backlog = 8, 16
	cases := []struct {
		name string
		cfg  router.Config
		n    int // events published
	}{
		// The wait would hold the publisher for an hour if anything
		// waited on the sender's side.
		{"backlog full", router.Config{LocalQueueSize: queue, MaxBacklog: backlog, SlowConsumerWait: time.Hour}, 4 * queue},
		{"no room in time", router.Config{LocalQueueSize: queue, SlowConsumerWait: 20 * time.Millisecond}, 2 * queue},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRouter(t, c.cfg)
			pub, fast, watcher := join(t, r), join(t, r), join(t, r)
			fast.subscribe("com.example.topic", nil)
			watcher.subscribe("wamp.session.on_leave", nil)
			p, id := stalledSubscriber(t, r, "com.example.topic")

			for i := range c.n {
				pub.publishAck("com.example.topic", nil, i)
				expect[*protocol.Event](fast) // in lockstep: fast's queue never fills
			}
			// The stalled subscriber leaves without anyone reading it.
			ev := expect[*protocol.Event](watcher)
			if len(ev.Args) == 0 {
				t.Fatalf("got %s, want on_leave", describe(ev))
			}
			if got, _ := protocol.ToInt64(ev.Args[0]); got != int64(id) {
				t.Fatalf("on_leave of session %d, want %d", got, id)
			}
			// It has its queue's worth of events, in order, then the
			// close.
			got := 0
			for m := recvRaw(t, p); m != nil; m = recvRaw(t, p) {
				ev, ok := m.(*protocol.Event)
				if !ok {
					t.Fatalf("got %s, want EVENT", describe(m))
				}
				if v, _ := protocol.ToInt64(ev.Args[0]); v != int64(got) {
					t.Fatalf("event %d carries %v", got, ev.Args[0])
				}
				got++
			}
			if got != queue {
				t.Errorf("stalled subscriber got %d events before the close, want %d", got, queue)
			}
			// The others carry on.
			pub.publishAck("com.example.topic", nil, "after")
			expect[*protocol.Event](fast)
		})
	}
}

// recvRaw receives from p with a deadline; nil means p was closed.
func recvRaw(tb testing.TB, p transport.Peer) protocol.Message {
	tb.Helper()
	type result struct {
		m   protocol.Message
		err error
	}
	c := make(chan result, 1)
	go func() {
		m, err := p.Recv()
		c <- result{m, err}
	}()
	select {
	case r := <-c:
		if r.err != nil {
			if !errors.Is(r.err, transport.ErrClosed) {
				tb.Errorf("Recv error %v does not wrap ErrClosed", r.err)
			}
			return nil
		}
		return r.m
	case <-time.After(wait):
		p.Close(nil)
		tb.Fatalf("nothing received within %v", wait)
	}
	return nil
}

// TestSubscriberBehindIsNotDropped checks that a subscriber whose queue is
// full, but who reads on, is not disconnected and misses nothing: its
// backlog takes the burst, and the publisher is not held back meanwhile
// (with the hour-long SlowConsumerWait, any wait on the publisher's side
// would hang the test).
func TestSubscriberBehindIsNotDropped(t *testing.T) {
	const queue = 8
	r := newRouter(t, router.Config{LocalQueueSize: queue, SlowConsumerWait: time.Hour})
	pub := join(t, r)
	p, _ := stalledSubscriber(t, r, "com.example.topic")
	// Publish four queues' worth, acknowledged, while the subscriber does
	// not read.
	const n = 4 * queue
	for i := range n {
		pub.publishAck("com.example.topic", nil, i)
	}
	for i := range n {
		ev, ok := recvRaw(t, p).(*protocol.Event)
		if !ok {
			t.Fatalf("message %d is not an EVENT: the subscriber was dropped", i)
		}
		if got, _ := protocol.ToInt64(ev.Args[0]); got != int64(i) {
			t.Fatalf("event %d carries %v", i, ev.Args[0])
		}
	}
}
