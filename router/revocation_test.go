package router_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/router/auth"
)

// joinRevocable joins realm1 of r announcing registration_revocation and
// subscription_revocation.
func joinRevocable(tb testing.TB, r *router.Router) *testPeer {
	tb.Helper()
	roles := clientRoles()
	roles["subscriber"] = map[string]any{"features": map[string]any{"subscription_revocation": true}}
	roles["callee"] = map[string]any{"features": map[string]any{"registration_revocation": true,
		"call_canceling": true, "progressive_call_results": true}}
	c := connect(tb, r)
	c.hello(realm1, protocol.Dict{"roles": roles})
	return c
}

func TestRemoveSubscriber(t *testing.T) {
	r := newRouter(t, router.Config{Realms: []router.RealmConfig{{Name: realm1, Authorizer: allowAll(t)}}})
	admin, pub, watcher := join(t, r), join(t, r), join(t, r)
	told, untold := joinRevocable(t, r), join(t, r)
	watcher.subscribe("wamp.subscription.on_unsubscribe", nil)
	sub := told.subscribe("com.example.t", nil)
	untold.subscribe("com.example.t", nil)

	admin.metaResult("wamp.subscription.remove_subscriber", uint64(sub), uint64(told.session))
	u := expect[*protocol.Unsubscribed](told)
	if diff := cmp.Diff(protocol.Dict{"subscription": uint64(sub)}, u.Details); u.Request != 0 || diff != "" {
		t.Errorf("UNSUBSCRIBED %+v, want request 0 (-want +got details):\n%s", u, diff)
	}
	ev := expect[*protocol.Event](watcher)
	if diff := cmp.Diff(protocol.List{uint64(told.session), uint64(sub)}, ev.Args); diff != "" {
		t.Errorf("on_unsubscribe mismatch (-want +got):\n%s", diff)
	}
	if m := admin.metaCall("wamp.subscription.remove_subscriber", protocol.List{uint64(sub), uint64(untold.session)},
		protocol.Dict{"reason": "not for you"}); m.Type() != protocol.TypeResult {
		t.Fatalf("remove_subscriber: %s", describe(m))
	}
	expect[*protocol.Event](watcher)

	// Neither gets the events any more; the untold one was not told.
	pub.publishAck("com.example.t", nil, "after")
	told.expectNothing()
	untold.expectNothing()
	req := told.next()
	told.send(&protocol.Unsubscribe{Request: req, Subscription: sub})
	told.expectError(protocol.TypeUnsubscribe, req, protocol.ErrNoSuchSubscription)
	admin.metaError("wamp.subscription.remove_subscriber", protocol.ErrNoSuchSubscription,
		uint64(sub), uint64(told.session))

	// Subscribing again works.
	again := told.subscribe("com.example.t", nil)
	pub.publishAck("com.example.t", nil, "again")
	if ev := expect[*protocol.Event](told); ev.Subscription != again || ev.Args[0] != "again" {
		t.Errorf("EVENT after subscribing again = %+v", ev)
	}
}

func TestRemoveCallee(t *testing.T) {
	r := newRouter(t, router.Config{Realms: []router.RealmConfig{{Name: realm1, Authorizer: allowAll(t)}}})
	admin, caller := join(t, r), join(t, r)
	callee := joinRevocable(t, r)
	reg := callee.register("com.example.p", nil)
	// A call under way when the registration is revoked still completes.
	req := caller.next()
	caller.send(&protocol.Call{Request: req, Procedure: "com.example.p", Args: protocol.List{1}})
	inv := expect[*protocol.Invocation](callee)

	if m := admin.metaCall("wamp.registration.remove_callee", protocol.List{uint64(reg), uint64(callee.session)},
		protocol.Dict{"reason": "moved"}); m.Type() != protocol.TypeResult {
		t.Fatalf("remove_callee: %s", describe(m))
	}
	u := expect[*protocol.Unregistered](callee)
	if diff := cmp.Diff(protocol.Dict{"registration": uint64(reg), "reason": "moved"}, u.Details); u.Request != 0 || diff != "" {
		t.Errorf("UNREGISTERED %+v, want request 0 (-want +got details):\n%s", u, diff)
	}
	callee.send(&protocol.Yield{Request: inv.Request, Args: inv.Args})
	if res := expect[*protocol.Result](caller); res.Request != req {
		t.Errorf("RESULT for %d, want %d", res.Request, req)
	}
	req = caller.next()
	caller.send(&protocol.Call{Request: req, Procedure: "com.example.p"})
	caller.expectError(protocol.TypeCall, req, protocol.ErrNoSuchProcedure)
	req = callee.next()
	callee.send(&protocol.Unregister{Request: req, Registration: reg})
	callee.expectError(protocol.TypeUnregister, req, protocol.ErrNoSuchRegistration)
	admin.metaError("wamp.registration.remove_callee", protocol.ErrNoSuchRegistration, uint64(reg), uint64(callee.session))
	// Registering again works.
	callee.register("com.example.p", nil)
	caller.callOK("com.example.p", callee)
}

// TestRevocationNeedsPermission checks that an open realm refuses the
// revocation procedures, which are destructive.
func TestRevocationNeedsPermission(t *testing.T) {
	r := newRouter(t, router.Config{})
	a, b := join(t, r), join(t, r)
	sub := b.subscribe("com.example.t", nil)
	reg := b.register("com.example.p", nil)
	a.metaError("wamp.subscription.remove_subscriber", protocol.ErrNotAuthorized, uint64(sub), uint64(b.session))
	a.metaError("wamp.registration.remove_callee", protocol.ErrNotAuthorized, uint64(reg), uint64(b.session))
	a.callOK("com.example.p", b)
}

// TestUpdateRealm checks that a new Authorizer and new Authenticators
// take effect at once, that what the new Authorizer refuses is revoked
// from joined sessions, and that those sessions stay.
func TestUpdateRealm(t *testing.T) {
	v1 := mustRoles(t, map[string][]router.Permission{"user": {
		{URI: "com.a.", Match: protocol.MatchPrefix, Subscribe: true, Publish: true},
		{URI: "com.p", Register: true, Call: true},
	}})
	v2 := mustRoles(t, map[string][]router.Permission{"user": {
		{URI: "com.a.x", Subscribe: true, Publish: true},
		{URI: "com.p", Call: true},
	}})
	auth := func(authids ...string) []router.Authenticator {
		p := map[string]auth.Principal{}
		for _, id := range authids {
			p[id] = auth.Principal{Secret: id + "-ticket"}
		}
		return []router.Authenticator{&auth.Ticket{Principals: p}}
	}
	rc := router.RealmConfig{Name: realm1, Authenticators: auth("alice"), Authorizer: v1}
	r := newRouter(t, router.Config{Realms: []router.RealmConfig{rc}, AuthThrottle: router.AuthThrottle{Disabled: true}})
	ticketJoin := func(authid string) (*testPeer, bool) {
		roles := clientRoles()
		roles["subscriber"] = map[string]any{"features": map[string]any{"subscription_revocation": true}}
		roles["callee"] = map[string]any{"features": map[string]any{"registration_revocation": true}}
		c := connect(t, r)
		c.send(&protocol.Hello{Realm: realm1, Details: protocol.Dict{"roles": roles, "authid": authid,
			"authmethods": []any{"ticket"}}})
		if _, ok := c.recv().(*protocol.Challenge); !ok {
			t.Fatalf("%s: no CHALLENGE", authid)
		}
		c.send(&protocol.Authenticate{Signature: authid + "-ticket", Extra: protocol.Dict{}})
		switch m := c.recv().(type) {
		case *protocol.Welcome:
			c.session, c.welcome = m.Session, m
			return c, true
		case *protocol.Abort:
			return c, false
		default:
			t.Fatalf("%s: got %s", authid, describe(m))
		}
		return nil, false
	}
	alice, ok := ticketJoin("alice")
	if !ok {
		t.Fatal("alice refused")
	}
	prefix := alice.subscribe("com.a.", protocol.Dict{"match": "prefix"})
	exact := alice.subscribe("com.a.x", nil)
	reg := alice.register("com.p", nil)

	rc.Authenticators, rc.Authorizer = auth("bob"), v2
	if err := r.UpdateRealm(context.Background(), rc); err != nil {
		t.Fatalf("UpdateRealm: %v", err)
	}
	got := map[string]any{}
	for range 2 {
		switch m := alice.recv().(type) {
		case *protocol.Unsubscribed:
			got["subscription"] = m.Details["subscription"]
			got["subscription reason"] = m.Details["reason"]
		case *protocol.Unregistered:
			got["registration"] = m.Details["registration"]
		default:
			t.Fatalf("got %s, want UNSUBSCRIBED or UNREGISTERED", describe(m))
		}
	}
	want := map[string]any{"subscription": uint64(prefix), "subscription reason": "no longer authorized",
		"registration": uint64(reg)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("revocations mismatch (-want +got):\n%s", diff)
	}
	// alice stays, with what v2 allows, and v2 decides her requests.
	req := alice.next()
	alice.send(&protocol.Publish{Request: req, Topic: "com.a.x", Args: protocol.List{"still"},
		Options: protocol.Dict{"exclude_me": false, "acknowledge": true}})
	if ev := expect[*protocol.Event](alice); ev.Subscription != exact {
		t.Errorf("EVENT for subscription %d, want %d", ev.Subscription, exact)
	}
	if p := expect[*protocol.Published](alice); p.Request != req {
		t.Errorf("PUBLISHED for %d, want %d", p.Request, req)
	}
	req = alice.next()
	alice.send(&protocol.Subscribe{Request: req, Topic: "com.a.", Options: protocol.Dict{"match": "prefix"}})
	alice.expectError(protocol.TypeSubscribe, req, protocol.ErrNotAuthorized)
	// New sessions authenticate with the new principals.
	if _, ok := ticketJoin("alice"); ok {
		t.Error("alice joined after she was removed")
	}
	if _, ok := ticketJoin("bob"); !ok {
		t.Error("bob refused after he was added")
	}

	for _, bad := range []router.RealmConfig{
		{Name: "nope"},
		{Name: realm1, Authorizer: authzFunc(func(context.Context, *router.AuthzRequest) (bool, error) { return true, nil })},
		{Name: realm1, Authenticators: []router.Authenticator{nil}},
	} {
		if err := r.UpdateRealm(context.Background(), bad); !errors.Is(err, router.ErrConfig) {
			t.Errorf("UpdateRealm(%+v) = %v, want ErrConfig", bad, err)
		}
	}
}
