package router_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// addTestament calls wamp.session.add_testament and requires an empty
// RESULT.
func (c *testPeer) addTestament(topic protocol.URI, args protocol.List, kwargs protocol.Dict, opts protocol.Dict, scope string) {
	c.tb.Helper()
	kw := protocol.Dict{}
	if opts != nil {
		kw["publish_options"] = opts
	}
	if scope != "" {
		kw["scope"] = scope
	}
	m := c.metaCall("wamp.session.add_testament", protocol.List{string(topic), args, kwargs}, kw)
	if res, ok := m.(*protocol.Result); !ok || len(res.Args) != 0 {
		c.tb.Fatalf("add_testament(%s) = %s, want an empty RESULT", topic, describe(m))
	}
}

// expectTestaments receives the events of the prefix subscription sub
// and checks their topics and args, in order.
func expectTestaments(tb testing.TB, c *testPeer, sub protocol.ID, want []string) {
	tb.Helper()
	var got []string
	for range want {
		ev := expect[*protocol.Event](c)
		if ev.Subscription != sub {
			tb.Fatalf("got %s, want an event of subscription %d", describe(ev), sub)
		}
		got = append(got, ev.Details.String("topic")+" "+ev.Args[0].(string))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		tb.Errorf("testaments mismatch (-want +got):\n%s", diff)
	}
}

func TestTestamentScopes(t *testing.T) {
	// Without session resumption every end of a session detaches and
	// destroys it: detached testaments go first, then destroyed ones,
	// each in the order added.
	want := []string{"t.detached 1", "t.detached 2", "t.destroyed 1", "t.destroyed 2"}
	tests := []struct {
		name string
		end  func(t *testing.T, admin, c *testPeer)
	}{
		{"goodbye", func(t *testing.T, _, c *testPeer) {
			c.send(&protocol.Goodbye{Details: protocol.Dict{}, Reason: protocol.CloseGoodbyeAndOut})
			expect[*protocol.Goodbye](c)
		}},
		{"transport lost", func(t *testing.T, _, c *testPeer) {
			c.p.Close(nil)
		}},
		{"killed", func(t *testing.T, admin, c *testPeer) {
			admin.metaCall("wamp.session.kill", protocol.List{c.session}, nil)
			expect[*protocol.Goodbye](c)
			c.send(&protocol.Goodbye{Details: protocol.Dict{}, Reason: protocol.CloseGoodbyeAndOut})
		}},
		{"protocol violation", func(t *testing.T, _, c *testPeer) {
			c.send(&protocol.Welcome{Session: 1, Details: protocol.Dict{}})
			expectAbortOnly(t, c)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRouter(t, router.Config{Realms: []router.RealmConfig{{Name: realm1, Authorizer: allowAll(t)}}})
			watcher := join(t, r)
			sub := watcher.subscribe("t", protocol.Dict{"match": "prefix"})
			admin := join(t, r)
			c := join(t, r)
			c.addTestament("t.destroyed", protocol.List{"1"}, nil, nil, "")
			c.addTestament("t.detached", protocol.List{"1"}, nil, nil, "detached")
			c.addTestament("t.destroyed", protocol.List{"2"}, nil, nil, "destroyed")
			c.addTestament("t.detached", protocol.List{"2"}, nil, nil, "detached")
			tt.end(t, admin, c)
			expectTestaments(t, watcher, sub, want)
		})
	}
}

// expectAbortOnly receives an ABORT wamp.error.protocol_violation.
func expectAbortOnly(tb testing.TB, c *testPeer) {
	tb.Helper()
	if a := expect[*protocol.Abort](c); a.Reason != protocol.ErrProtocolViolation {
		tb.Fatalf("got %s, want ABORT %s", describe(a), protocol.ErrProtocolViolation)
	}
}

func TestTestamentKillAllPublishesNone(t *testing.T) {
	r := newRouter(t, router.Config{Realms: []router.RealmConfig{{Name: realm1, Authorizer: allowAll(t)}}})
	watcher := join(t, r)
	sub := watcher.subscribe("t", protocol.Dict{"match": "prefix"})
	c := join(t, r)
	c.addTestament("t.gone", protocol.List{"x"}, nil, nil, "")
	c.addTestament("t.gone", protocol.List{"x"}, nil, nil, "detached")
	// kill_all spares its caller, so the watcher makes it.
	watcher.metaCall("wamp.session.kill_all", nil, nil)
	expect[*protocol.Goodbye](c)
	c.send(&protocol.Goodbye{Details: protocol.Dict{}, Reason: protocol.CloseGoodbyeAndOut})
	c.expectClosed()
	// A publication after the session ended overtakes no testament.
	marker := join(t, r)
	marker.publishAck("t.marker", nil, "marker")
	expectTestaments(t, watcher, sub, []string{"t.marker marker"})
}

func TestTestamentFlush(t *testing.T) {
	r := newRouter(t, router.Config{})
	watcher := join(t, r)
	sub := watcher.subscribe("t", protocol.Dict{"match": "prefix"})
	c := join(t, r)
	c.addTestament("t.a", protocol.List{"destroyed"}, nil, nil, "")
	c.addTestament("t.a", protocol.List{"detached"}, nil, nil, "detached")
	// Default scope: destroyed.
	if m := c.metaCall("wamp.session.flush_testaments", nil, nil); m.Type() != protocol.TypeResult {
		t.Fatalf("flush_testaments() = %s, want RESULT", describe(m))
	}
	c.addTestament("t.a", protocol.List{"destroyed again"}, nil, nil, "destroyed")
	c.addTestament("t.b", protocol.List{"detached 2"}, nil, nil, "detached")
	if m := c.metaCall("wamp.session.flush_testaments", nil, protocol.Dict{"scope": "detached"}); m.Type() != protocol.TypeResult {
		t.Fatalf("flush_testaments(detached) = %s, want RESULT", describe(m))
	}
	c.addTestament("t.b", protocol.List{"detached 3"}, nil, nil, "detached")
	c.p.Close(nil)
	expectTestaments(t, watcher, sub, []string{"t.b detached 3", "t.a destroyed again"})
}

func TestTestamentPayloadAndOptions(t *testing.T) {
	r := newRouter(t, router.Config{})
	a := join(t, r)
	subA := a.subscribe("t.topic", nil)
	b := join(t, r)
	subB := b.subscribe("t.topic", nil)
	c := join(t, r)
	kwargs := protocol.Dict{"name": "c"}
	// exclude b; disclose the publisher; acknowledge is ignored.
	c.addTestament("t.topic", protocol.List{"bye", 2}, kwargs,
		protocol.Dict{"exclude": []any{uint64(b.session)}, "disclose_me": true, "acknowledge": true}, "")
	// Only b, by eligibility.
	c.addTestament("t.topic", nil, protocol.Dict{"only": "b"},
		protocol.Dict{"eligible": []any{uint64(b.session)}}, "")
	c.send(&protocol.Goodbye{Details: protocol.Dict{}, Reason: protocol.CloseGoodbyeAndOut})
	expect[*protocol.Goodbye](c)
	c.expectClosed()

	ev := expect[*protocol.Event](a)
	want := &protocol.Event{Subscription: subA, Publication: ev.Publication,
		Details: protocol.Dict{"publisher": uint64(c.session), "publisher_authid": c.welcome.Details.String("authid"),
			"publisher_authrole": "anonymous"},
		Args: protocol.List{"bye", 2}, Kwargs: kwargs}
	if diff := cmp.Diff(want, ev); diff != "" {
		t.Errorf("a's EVENT mismatch (-want +got):\n%s", diff)
	}
	ev = expect[*protocol.Event](b)
	want = &protocol.Event{Subscription: subB, Publication: ev.Publication, Args: protocol.List{}, Kwargs: protocol.Dict{"only": "b"}}
	if diff := cmp.Diff(want, ev); diff != "" {
		t.Errorf("b's EVENT mismatch (-want +got):\n%s", diff)
	}
	// Nothing else: a marker publication arrives next for both.
	d := join(t, r)
	d.publishAck("t.topic", nil, "marker")
	for _, p := range []*testPeer{a, b} {
		if ev := expect[*protocol.Event](p); ev.Args[0] != "marker" {
			t.Errorf("got %s, want the marker", describe(ev))
		}
	}
}

func TestTestamentLimit(t *testing.T) {
	r := newRouter(t, router.Config{MaxTestaments: 2})
	c := join(t, r)
	c.addTestament("t.a", nil, nil, nil, "")
	c.addTestament("t.a", nil, nil, nil, "detached")
	m := c.metaCall("wamp.session.add_testament", protocol.List{"t.a"}, nil)
	if e, ok := m.(*protocol.Error); !ok || e.URI != router.LimitExceeded {
		t.Fatalf("third add_testament = %s, want ERROR %s", describe(m), router.LimitExceeded)
	}
	// Flushing makes room again.
	c.metaCall("wamp.session.flush_testaments", nil, protocol.Dict{"scope": "detached"})
	c.addTestament("t.a", nil, nil, nil, "")
}

func TestTestamentDefaultLimit(t *testing.T) {
	r := newRouter(t, router.Config{})
	c := join(t, r)
	for range 64 { // the default of Config.MaxTestaments
		c.addTestament("t.a", nil, nil, nil, "")
	}
	m := c.metaCall("wamp.session.add_testament", protocol.List{"t.a"}, nil)
	if e, ok := m.(*protocol.Error); !ok || e.URI != router.LimitExceeded {
		t.Fatalf("add_testament beyond the default = %s, want ERROR %s", describe(m), router.LimitExceeded)
	}
}

func TestTestamentBadArguments(t *testing.T) {
	tests := []struct {
		name   string
		proc   protocol.URI
		args   protocol.List
		kwargs protocol.Dict
		want   protocol.URI
	}{
		{"no topic", "wamp.session.add_testament", nil, nil, protocol.ErrInvalidArgument},
		{"topic not a string", "wamp.session.add_testament", protocol.List{7}, nil, protocol.ErrInvalidArgument},
		{"invalid topic", "wamp.session.add_testament", protocol.List{"a..b"}, nil, protocol.ErrInvalidURI},
		{"reserved topic", "wamp.session.add_testament", protocol.List{"wamp.session.on_leave"}, nil, protocol.ErrInvalidURI},
		{"args not a list", "wamp.session.add_testament", protocol.List{"t.a", "x"}, nil, protocol.ErrInvalidArgument},
		{"kwargs not a dict", "wamp.session.add_testament", protocol.List{"t.a", protocol.List{}, 3}, nil, protocol.ErrInvalidArgument},
		{"unknown scope", "wamp.session.add_testament", protocol.List{"t.a"}, protocol.Dict{"scope": "later"}, protocol.ErrInvalidArgument},
		{"scope not a string", "wamp.session.add_testament", protocol.List{"t.a"}, protocol.Dict{"scope": true}, protocol.ErrInvalidArgument},
		{"options not a dict", "wamp.session.add_testament", protocol.List{"t.a"}, protocol.Dict{"publish_options": "x"}, protocol.ErrInvalidArgument},
		{"bad option", "wamp.session.add_testament", protocol.List{"t.a"},
			protocol.Dict{"publish_options": protocol.Dict{"exclude_me": "no"}}, protocol.ErrInvalidArgument},
		{"flush unknown scope", "wamp.session.flush_testaments", nil, protocol.Dict{"scope": "later"}, protocol.ErrInvalidArgument},
	}
	r := newRouter(t, router.Config{})
	watcher := join(t, r)
	sub := watcher.subscribe("t", protocol.Dict{"match": "prefix"})
	c := join(t, r)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := c.metaCall(tt.proc, tt.args, tt.kwargs)
			if e, ok := m.(*protocol.Error); !ok || e.URI != tt.want {
				t.Errorf("%s(%v, %v) = %s, want ERROR %s", tt.proc, tt.args, tt.kwargs, describe(m), tt.want)
			}
		})
	}
	// None of them was stored.
	c.p.Close(nil)
	marker := join(t, r)
	marker.publishAck("t.marker", nil, "marker")
	expectTestaments(t, watcher, sub, []string{"t.marker marker"})
}

func TestTestamentAnnounced(t *testing.T) {
	r := newRouter(t, router.Config{})
	c := join(t, r)
	roles, err := protocol.ParseRoles(c.welcome.Details)
	if err != nil {
		t.Fatal(err)
	}
	if !roles.Supports(protocol.RoleDealer, protocol.FeatureTestamentMetaAPI) {
		t.Errorf("WELCOME roles %v: dealer does not announce %s", roles, protocol.FeatureTestamentMetaAPI)
	}
}
