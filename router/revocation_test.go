package router_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
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
