package client_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
)

func TestPublishWire(t *testing.T) {
	no := false
	tests := []struct {
		name string
		do   func(c *client.Client) error
		want *protocol.Publish
	}{
		{
			name: "Publish",
			do:   func(c *client.Client) error { return c.Publish(context.Background(), "com.t", "a", 1) },
			want: &protocol.Publish{Request: 1, Options: protocol.Dict{}, Topic: "com.t", Args: protocol.List{"a", 1}},
		},
		{
			name: "Publish with Kwargs last: keyword arguments",
			do: func(c *client.Client) error {
				return c.Publish(context.Background(), "com.t", "a", client.Kwargs{"k": "v"})
			},
			want: &protocol.Publish{Request: 1, Options: protocol.Dict{}, Topic: "com.t", Args: protocol.List{"a"}, Kwargs: protocol.Dict{"k": "v"}},
		},
		{
			name: "Publish with only Kwargs",
			do:   func(c *client.Client) error { return c.Publish(context.Background(), "com.t", client.Kwargs{"k": "v"}) },
			want: &protocol.Publish{Request: 1, Options: protocol.Dict{}, Topic: "com.t", Args: protocol.List{}, Kwargs: protocol.Dict{"k": "v"}},
		},
		{
			name: "Publish with a protocol.Dict: positional",
			do: func(c *client.Client) error {
				return c.Publish(context.Background(), "com.t", protocol.Dict{"k": "v"})
			},
			want: &protocol.Publish{Request: 1, Options: protocol.Dict{}, Topic: "com.t", Args: protocol.List{protocol.Dict{"k": "v"}}},
		},
		{
			name: "DoPublish with options",
			do: func(c *client.Client) error {
				_, err := c.DoPublish(context.Background(), &client.PublishRequest{
					Topic: "com.t", Kwargs: protocol.Dict{"k": 1}, ExcludeMe: &no,
					Exclude: []protocol.ID{3}, Eligible: []protocol.ID{4, 5}, DiscloseMe: true,
					Options: protocol.Dict{"_x": 1},
				})
				return err
			},
			want: &protocol.Publish{Request: 1, Topic: "com.t", Args: protocol.List{}, Kwargs: protocol.Dict{"k": 1},
				Options: protocol.Dict{"exclude_me": false, "exclude": []any{uint64(3)}, "eligible": []any{uint64(4), uint64(5)},
					"disclose_me": true, "_x": 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, w := join(t, routerWelcome(false), client.Config{})
			// Unacknowledged: returns once queued, without any answer.
			if err := tt.do(c); err != nil {
				t.Fatalf("publish: %v", err)
			}
			w.expect(tt.want)
		})
	}
}

func TestPublishAcknowledged(t *testing.T) {
	c, w := join(t, routerWelcome(false), client.Config{})
	ctx := context.Background()
	ch := async(func() (protocol.ID, error) {
		return c.DoPublish(ctx, &client.PublishRequest{Topic: "com.t", Acknowledge: true})
	})
	w.expect(&protocol.Publish{Request: 1, Options: protocol.Dict{"acknowledge": true}, Topic: "com.t"})
	w.send(&protocol.Published{Request: 1, Publication: 1234})
	if id, err := await(t, ch); id != 1234 || err != nil {
		t.Errorf("DoPublish = %d, %v; want 1234, nil", id, err)
	}
	ch = async(func() (protocol.ID, error) {
		return c.DoPublish(ctx, &client.PublishRequest{Topic: "com.t", Acknowledge: true})
	})
	w.recv()
	w.send(&protocol.Error{RequestType: protocol.TypePublish, Request: 2, Details: protocol.Dict{}, URI: protocol.ErrNotAuthorized})
	_, err := await(t, ch)
	var werr *protocol.Error
	if !errors.As(err, &werr) || werr.URI != protocol.ErrNotAuthorized {
		t.Errorf("DoPublish = %v, want not_authorized", err)
	}
}

// subscribed joins and subscribes h to topic as subscription subID.
func subscribe(t *testing.T, c *client.Client, w *wire, req protocol.ID, topic protocol.URI, subID protocol.ID, h client.EventHandler, opts *client.SubscribeOptions) *client.Subscription {
	t.Helper()
	ch := async(func() (*client.Subscription, error) { return c.Subscribe(context.Background(), topic, h, opts) })
	m, ok := w.recv().(*protocol.Subscribe)
	if !ok || m.Request != req || m.Topic != topic {
		t.Fatalf("client sent %#v, want SUBSCRIBE %d %s", m, req, topic)
	}
	w.send(&protocol.Subscribed{Request: req, Subscription: subID})
	s, err := await(t, ch)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	return s
}

func TestSubscribeWire(t *testing.T) {
	c, w := join(t, routerWelcome(false), client.Config{})
	events := make(chan *client.Event, 10)
	ch := async(func() (*client.Subscription, error) {
		return c.Subscribe(context.Background(), "com.", func(ev *client.Event) { events <- ev },
			&client.SubscribeOptions{Match: protocol.MatchPrefix, Options: protocol.Dict{"_x": 1}})
	})
	w.expect(&protocol.Subscribe{Request: 1, Options: protocol.Dict{"match": "prefix", "_x": 1}, Topic: "com."})
	w.send(&protocol.Subscribed{Request: 1, Subscription: 11})
	// An event right behind SUBSCRIBED is not lost.
	w.send(&protocol.Event{Subscription: 11, Publication: 100, Details: protocol.Dict{"topic": "com.a", "publisher": 7},
		Args: protocol.List{"x"}, Kwargs: protocol.Dict{"k": 1}})
	s, err := await(t, ch)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	if s.ID() != 11 || s.Topic() != "com." {
		t.Errorf("subscription = %d %q, want 11 com.", s.ID(), s.Topic())
	}
	want := &client.Event{Subscription: 11, Publication: 100, Topic: "com.a", Publisher: 7,
		Args: protocol.List{"x"}, Kwargs: protocol.Dict{"k": 1}, Details: protocol.Dict{"topic": "com.a", "publisher": 7}}
	if diff := cmp.Diff(want, recvEvent(t, events)); diff != "" {
		t.Errorf("event mismatch (-want +got):\n%s", diff)
	}

	done := async(func() (struct{}, error) { return struct{}{}, c.Unsubscribe(context.Background(), s) })
	w.expect(&protocol.Unsubscribe{Request: 2, Subscription: 11})
	w.send(&protocol.Unsubscribed{Request: 2})
	if _, err := await(t, done); err != nil {
		t.Errorf("Unsubscribe: %v", err)
	}
	if err := c.Unsubscribe(context.Background(), s); !errors.Is(err, client.ErrNotActive) {
		t.Errorf("second Unsubscribe = %v, want ErrNotActive", err)
	}
}

func recvEvent(t *testing.T, ch <-chan *client.Event) *client.Event {
	t.Helper()
	o := async(func() (*client.Event, error) { return <-ch, nil })
	ev, _ := await(t, o)
	return ev
}

func TestSubscribeError(t *testing.T) {
	c, w := join(t, routerWelcome(false), client.Config{})
	ch := async(func() (*client.Subscription, error) {
		return c.Subscribe(context.Background(), "com.t", func(*client.Event) {}, nil)
	})
	w.recv()
	w.send(&protocol.Error{RequestType: protocol.TypeSubscribe, Request: 1, Details: protocol.Dict{}, URI: protocol.ErrNotAuthorized})
	_, err := await(t, ch)
	var werr *protocol.Error
	if !errors.As(err, &werr) || werr.URI != protocol.ErrNotAuthorized {
		t.Errorf("Subscribe = %v, want not_authorized", err)
	}
}

func TestEventsInOrderAndIndependent(t *testing.T) {
	// Subscription A's handler blocks; B's events and a call still flow.
	// Then A receives all its events, in order.
	c, w := join(t, routerWelcome(false), client.Config{})
	release := make(chan struct{})
	var gotA []any
	aDone := make(chan struct{})
	const n = 100
	subscribe(t, c, w, 1, "com.a", 1, func(ev *client.Event) {
		<-release
		gotA = append(gotA, ev.Args[0])
		if len(gotA) == n {
			close(aDone)
		}
	}, nil)
	gotB := make(chan any, n)
	subscribe(t, c, w, 2, "com.b", 2, func(ev *client.Event) { gotB <- ev.Args[0] }, nil)

	for i := range n {
		w.send(&protocol.Event{Subscription: 1, Publication: protocol.ID(i + 1), Details: protocol.Dict{}, Args: protocol.List{i}})
		w.send(&protocol.Event{Subscription: 2, Publication: protocol.ID(i + 1), Details: protocol.Dict{}, Args: protocol.List{i}})
	}
	for i := range n {
		v, _ := await(t, async(func() (any, error) { return <-gotB, nil }))
		if v != i {
			t.Fatalf("B event %d = %v", i, v)
		}
	}
	ch := async(func() (*client.Result, error) { return c.Call(context.Background(), "com.p") })
	w.expect(&protocol.Call{Request: 3, Options: protocol.Dict{}, Procedure: "com.p"})
	w.send(&protocol.Result{Request: 3, Details: protocol.Dict{}})
	if _, err := await(t, ch); err != nil {
		t.Fatalf("Call while a handler blocks: %v", err)
	}
	close(release)
	await(t, async(func() (struct{}, error) { <-aDone; return struct{}{}, nil }))
	for i, v := range gotA {
		if v != i {
			t.Fatalf("A event %d = %v, want %d (out of order)", i, v, i)
		}
	}
}

func TestSharedSubscriptionID(t *testing.T) {
	// Two Subscribe calls on one topic get the same id from the router:
	// both handlers get each event; UNSUBSCRIBE goes out with the last one.
	c, w := join(t, routerWelcome(false), client.Config{})
	e1, e2 := make(chan *client.Event, 4), make(chan *client.Event, 4)
	s1 := subscribe(t, c, w, 1, "com.t", 5, func(ev *client.Event) { e1 <- ev }, nil)
	s2 := subscribe(t, c, w, 2, "com.t", 5, func(ev *client.Event) { e2 <- ev }, nil)
	w.send(&protocol.Event{Subscription: 5, Publication: 1, Details: protocol.Dict{}})
	recvEvent(t, e1)
	recvEvent(t, e2)
	if err := c.Unsubscribe(context.Background(), s1); err != nil {
		t.Fatalf("Unsubscribe s1: %v", err)
	}
	done := async(func() (struct{}, error) { return struct{}{}, c.Unsubscribe(context.Background(), s2) })
	w.expect(&protocol.Unsubscribe{Request: 3, Subscription: 5})
	w.send(&protocol.Unsubscribed{Request: 3})
	if _, err := await(t, done); err != nil {
		t.Errorf("Unsubscribe s2: %v", err)
	}
}

func TestSubscribeAbandoned(t *testing.T) {
	c, w := join(t, routerWelcome(false), client.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	ch := async(func() (*client.Subscription, error) {
		return c.Subscribe(ctx, "com.t", func(*client.Event) { t.Error("handler of an abandoned subscription called") }, nil)
	})
	w.recv()
	cancel()
	if _, err := await(t, ch); !errors.Is(err, context.Canceled) {
		t.Fatalf("Subscribe = %v, want context.Canceled", err)
	}
	w.send(&protocol.Subscribed{Request: 1, Subscription: 4})
	w.send(&protocol.Event{Subscription: 4, Publication: 1, Details: protocol.Dict{}})
	w.expect(&protocol.Unsubscribe{Request: 2, Subscription: 4})
}

func TestSubscriptionRevoked(t *testing.T) {
	c, w := join(t, routerWelcome(false), client.Config{})
	s := subscribe(t, c, w, 1, "com.t", 4, func(*client.Event) {}, nil)
	w.send(&protocol.Unsubscribed{Request: 0, Details: protocol.Dict{"subscription": 4, "reason": "wamp.error.revoked"}})
	// The revocation is processed before the next reply (one reader).
	ch := async(func() (*client.Result, error) { return c.Call(context.Background(), "com.p") })
	w.recv()
	w.send(&protocol.Result{Request: 2, Details: protocol.Dict{}})
	await(t, ch)
	if err := c.Unsubscribe(context.Background(), s); !errors.Is(err, client.ErrNotActive) {
		t.Errorf("Unsubscribe after revocation = %v, want ErrNotActive", err)
	}
}

func TestBoundedEventQueue(t *testing.T) {
	// Queue 1: while the handler blocks, only one event waits; the rest
	// are dropped, and the session is not blocked.
	c, w := join(t, routerWelcome(false), client.Config{})
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	handled := make(chan any, 10)
	subscribe(t, c, w, 1, "com.t", 1, func(ev *client.Event) {
		if ev.Args[0] == 0 {
			entered <- struct{}{}
			<-release
		}
		handled <- ev.Args[0]
	}, &client.SubscribeOptions{Queue: 1})
	next := func() any {
		t.Helper()
		v, _ := await(t, async(func() (any, error) { return <-handled, nil }))
		return v
	}
	w.send(&protocol.Event{Subscription: 1, Publication: 1, Details: protocol.Dict{}, Args: protocol.List{0}})
	await(t, async(func() (struct{}, error) { <-entered; return struct{}{}, nil }))
	for i := 1; i <= 5; i++ {
		w.send(&protocol.Event{Subscription: 1, Publication: 1, Details: protocol.Dict{}, Args: protocol.List{i}})
	}
	// A call round trip proves the reader went past the events.
	ch := async(func() (*client.Result, error) { return c.Call(context.Background(), "com.p") })
	w.recv()
	w.send(&protocol.Result{Request: 2, Details: protocol.Dict{}})
	await(t, ch)
	close(release)
	got := []any{next(), next()}
	w.send(&protocol.Event{Subscription: 1, Publication: 1, Details: protocol.Dict{}, Args: protocol.List{"last"}})
	got = append(got, next())
	if diff := cmp.Diff([]any{0, 1, "last"}, got); diff != "" {
		t.Errorf("delivered events mismatch (-want +got):\n%s", diff)
	}
	if len(handled) != 0 {
		t.Errorf("%d dropped events were delivered", len(handled))
	}
}

func TestSubscribeCrossingUnsubscribe(t *testing.T) {
	// A SUBSCRIBE for a topic crosses the UNSUBSCRIBE of the same shared
	// subscription id: the router answers SUBSCRIBED with the old id, then
	// removes it. The client subscribes again, so the new Subscription
	// really receives events.
	c, w := join(t, routerWelcome(false), client.Config{})
	ctx := context.Background()
	a := subscribe(t, c, w, 1, "com.t", 5, func(*client.Event) {}, nil)
	events := make(chan *client.Event, 1)
	sub := async(func() (*client.Subscription, error) {
		return c.Subscribe(ctx, "com.t", func(ev *client.Event) { events <- ev }, nil)
	})
	w.expect(&protocol.Subscribe{Request: 2, Options: protocol.Dict{}, Topic: "com.t"})
	unsub := async(func() (struct{}, error) { return struct{}{}, c.Unsubscribe(ctx, a) })
	w.expect(&protocol.Unsubscribe{Request: 3, Subscription: 5})
	// The router handles them in order.
	w.send(&protocol.Subscribed{Request: 2, Subscription: 5})
	w.send(&protocol.Unsubscribed{Request: 3})
	if _, err := await(t, unsub); err != nil {
		t.Fatalf("Unsubscribe: %v", err)
	}
	w.expect(&protocol.Subscribe{Request: 4, Options: protocol.Dict{}, Topic: "com.t"})
	w.send(&protocol.Subscribed{Request: 4, Subscription: 6})
	s, err := await(t, sub)
	if err != nil || s.ID() != 6 {
		t.Fatalf("Subscribe = %v, %v; want subscription 6", s, err)
	}
	w.send(&protocol.Event{Subscription: 6, Publication: 1, Details: protocol.Dict{}, Args: protocol.List{"x"}})
	if ev := recvEvent(t, events); ev.Args[0] != "x" {
		t.Errorf("event = %v", ev.Args)
	}
}
