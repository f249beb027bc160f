package router_test

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// Authorization holds for what is delivered: a pattern subscription or
// registration allowed by a RoleAuthorizer never carries an event or an
// invocation of a URI its role may not subscribe to or register, nor do
// retained events, event history or the meta API hand the role such a
// URI.

// deliveryRoles is the permission table of the delivery tests: "reader"
// may subscribe below com.example.public. but not to its secret topic
// nor below its hidden. part; "writer" may do anything; "backend" may
// register below com.example. but not the admin procedures, which
// "ops" may register; "admin" may call everything below com.example.
func deliveryRoles(tb testing.TB) *router.RoleAuthorizer {
	return mustRoles(tb, map[string][]router.Permission{
		"reader": {
			{URI: "com.example.public.", Match: protocol.MatchPrefix, Subscribe: true},
			{URI: "com.example.public.secret"},
			{URI: "com.example.public.hidden.", Match: protocol.MatchPrefix},
			{URI: "com.example.nobody", Publish: true}, // for expectNothing
			{URI: "wamp.subscription.", Match: protocol.MatchPrefix, Call: true, Subscribe: true},
			{URI: "wamp.registration.", Match: protocol.MatchPrefix, Call: true, Subscribe: true},
		},
		"writer": {{URI: "", Match: protocol.MatchPrefix, Call: true, Register: true, Publish: true, Subscribe: true}},
		"backend": {
			{URI: "com.example.", Match: protocol.MatchPrefix, Call: true, Register: true, Publish: true, Subscribe: true},
			{URI: "com.example.admin"},
			{URI: "com.example.admin.", Match: protocol.MatchPrefix},
		},
		"ops":   {{URI: "com.example.admin.", Match: protocol.MatchPrefix, Register: true}},
		"admin": {{URI: "com.example.", Match: protocol.MatchPrefix, Call: true}},
	})
}

func TestAuthzPatternSubscriptionDelivery(t *testing.T) {
	r := authzRouter(t, router.RealmConfig{Authorizer: deliveryRoles(t)})
	reader := joinAs(t, r, "reader")
	writer := joinAs(t, r, "writer")

	// Every pattern here is allowed: its covering rule is the prefix rule.
	prefix := reader.subscribe("com.example.public.", protocol.Dict{"match": "prefix"})
	hid := reader.subscribe("com.example.public.hid", protocol.Dict{"match": "prefix"})
	wild := reader.subscribe("com.example.public.", protocol.Dict{"match": "wildcard"})

	for _, topic := range []protocol.URI{"com.example.public.news", "com.example.public.secret",
		"com.example.public.hidden.x", "com.example.public.hidden", "com.example.public.end"} {
		writer.publishAck(topic, nil, string(topic))
	}
	var got []string
	for {
		ev := expect[*protocol.Event](reader)
		got = append(got, ev.Args[0].(string)+" "+subName(ev.Subscription, prefix, hid, wild))
		if ev.Args[0] == "com.example.public.end" && len(got) >= 2 && ev.Subscription == wild {
			break
		}
	}
	want := []string{
		"com.example.public.news prefix", "com.example.public.news wildcard",
		// com.example.public.hidden is not below com.example.public.hidden.
		"com.example.public.hidden prefix", "com.example.public.hidden hid", "com.example.public.hidden wildcard",
		"com.example.public.end prefix", "com.example.public.end wildcard",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events delivered to reader mismatch (-want +got):\n%s", diff)
	}
}

func subName(id, prefix, hid, wild protocol.ID) string {
	switch id {
	case prefix:
		return "prefix"
	case hid:
		return "hid"
	case wild:
		return "wildcard"
	}
	return "?"
}

func TestAuthzRetainedDelivery(t *testing.T) {
	r := authzRouter(t, router.RealmConfig{Authorizer: deliveryRoles(t)})
	writer := joinAs(t, r, "writer")
	for _, topic := range []protocol.URI{"com.example.public.secret", "com.example.public.news",
		"com.example.public.hidden.x"} {
		writer.publishAck(topic, protocol.Dict{"retain": true}, string(topic))
	}
	reader := joinAs(t, r, "reader")
	reader.subscribe("com.example.public.", protocol.Dict{"match": "prefix", "get_retained": true})
	ev := expect[*protocol.Event](reader)
	if ev.Args[0] != "com.example.public.news" {
		t.Errorf("retained EVENT = %v, want only com.example.public.news", ev.Args)
	}
	reader.expectNothing()
}

func TestAuthzHistoryDelivery(t *testing.T) {
	r := authzRouter(t, router.RealmConfig{Authorizer: deliveryRoles(t),
		EventHistory: []router.HistoryConfig{{Topic: "com.example.public.", Match: protocol.MatchPrefix}}})
	writer := joinAs(t, r, "writer")
	var news protocol.ID
	for _, topic := range []protocol.URI{"com.example.public.secret", "com.example.public.news",
		"com.example.public.hidden.x"} {
		id := writer.publishAck(topic, nil, string(topic))
		if topic == "com.example.public.news" {
			news = id
		}
	}
	reader := joinAs(t, r, "reader")
	hist := reader.lookup("com.example.public.", "prefix")
	got, _ := reader.getEvents(protocol.List{uint64(hist)}, nil)
	if diff := cmp.Diff([]protocol.ID{news}, got); diff != "" {
		t.Errorf("get_events for reader mismatch (-want +got):\n%s", diff)
	}
	// The writer may see them all.
	if got, _ := writer.getEvents(protocol.List{uint64(hist)}, nil); len(got) != 3 {
		t.Errorf("get_events for writer = %v, want 3 events", got)
	}
}

func TestAuthzPatternRegistrationRouting(t *testing.T) {
	r := authzRouter(t, router.RealmConfig{Authorizer: deliveryRoles(t)})
	backend := joinAs(t, r, "backend")
	admin := joinAs(t, r, "admin")
	backend.register("com.example.", protocol.Dict{"match": "prefix"})

	// The admin's call of an admin procedure never reaches the backend,
	// which may not register it.
	req := admin.next()
	admin.send(&protocol.Call{Request: req, Procedure: "com.example.admin.reset", Args: protocol.List{"secret"}})
	admin.expectError(protocol.TypeCall, req, protocol.ErrNoSuchProcedure)
	req = admin.next()
	admin.send(&protocol.Call{Request: req, Procedure: "com.example.admin"})
	admin.expectError(protocol.TypeCall, req, protocol.ErrNoSuchProcedure)
	// Other calls do.
	admin.callOK("com.example.orders.list", backend)

	// A less specific registration whose callee may take the call gets
	// it: ops's wildcard registration, behind backend's prefix one.
	ops := joinAs(t, r, "ops")
	ops.register("com.example.admin.", protocol.Dict{"match": "wildcard"})
	admin.callOK("com.example.admin.reset", ops)
	// Nothing of the admin calls is queued for the backend before this.
	admin.callOK("com.example.orders.end", backend)
}

// TestAuthzSharedRegistrationRouting checks that a shared pattern
// registration routes a call only to callees that may register its URI.
func TestAuthzSharedRegistrationRouting(t *testing.T) {
	r := authzRouter(t, router.RealmConfig{Authorizer: mustRoles(t, map[string][]router.Permission{
		"a":      {{URI: "com.", Match: protocol.MatchPrefix, Register: true}},
		"b":      {{URI: "com.", Match: protocol.MatchPrefix, Register: true}, {URI: "com.x.secret"}},
		"caller": {{URI: "com.", Match: protocol.MatchPrefix, Call: true}},
	})})
	a, b := joinAs(t, r, "a"), joinAs(t, r, "b")
	caller := joinAs(t, r, "caller")
	for _, c := range []*testPeer{b, a} {
		c.register("com.x.", protocol.Dict{"match": "prefix", "invoke": "roundrobin"})
	}
	for range 4 {
		caller.callOK("com.x.secret", a)
	}
	caller.callOK("com.x.open", b)
	caller.callOK("com.x.open", a)
}

func TestAuthzMetaVisibility(t *testing.T) {
	r := authzRouter(t, router.RealmConfig{Authorizer: deliveryRoles(t)})
	reader := joinAs(t, r, "reader")
	writer := joinAs(t, r, "writer")
	reader.subscribe("wamp.subscription.on_create", nil)
	news := writer.subscribe("com.example.public.news", nil)
	secret := writer.subscribe("com.example.public.secret", nil)
	hidden := writer.subscribe("com.example.public.hidden.", protocol.Dict{"match": "prefix"})
	writer.subscribe("com.example.public.last", nil)

	// on_create carries the URI: the reader hears of the subscriptions it
	// may see only.
	var created []string
	for len(created) == 0 || created[len(created)-1] != "com.example.public.last" {
		ev := expect[*protocol.Event](reader)
		created = append(created, ev.Args[1].(protocol.Dict)["uri"].(string))
	}
	want := []string{"wamp.subscription.on_create", "com.example.public.news", "com.example.public.last"}
	if diff := cmp.Diff(want, created); diff != "" {
		t.Errorf("on_create events for reader mismatch (-want +got):\n%s", diff)
	}

	list := reader.metaResult("wamp.subscription.list")[0].(protocol.Dict)
	exact := list["exact"].([]any)
	for _, id := range []protocol.ID{secret, hidden} {
		if slices.Contains(exact, any(uint64(id))) || slices.Contains(list["prefix"].([]any), any(uint64(id))) {
			t.Errorf("wamp.subscription.list = %v, lists %d, which the reader may not see", list, id)
		}
	}
	if !slices.Contains(exact, any(uint64(news))) {
		t.Errorf("wamp.subscription.list = %v, misses %d", list, news)
	}
	for _, id := range []protocol.ID{secret, hidden} {
		reader.metaError("wamp.subscription.get", protocol.ErrNoSuchSubscription, uint64(id))
		reader.metaError("wamp.subscription.list_subscribers", protocol.ErrNoSuchSubscription, uint64(id))
		reader.metaError("wamp.subscription.count_subscribers", protocol.ErrNoSuchSubscription, uint64(id))
	}
	if got := reader.metaResult("wamp.subscription.get", uint64(news)); got[0].(protocol.Dict)["uri"] != "com.example.public.news" {
		t.Errorf("wamp.subscription.get(news) = %v", got)
	}
	if got := reader.metaResult("wamp.subscription.lookup", "com.example.public.secret"); got[0] != nil {
		t.Errorf("wamp.subscription.lookup(secret) = %v, want null", got)
	}
	if got := reader.metaResult("wamp.subscription.match", "com.example.public.hidden.x"); got[0] != nil {
		t.Errorf("wamp.subscription.match(hidden.x) = %v, want null", got)
	}
	// The writer sees everything.
	if got := writer.metaResult("wamp.subscription.get", uint64(secret)); got[0].(protocol.Dict)["uri"] != "com.example.public.secret" {
		t.Errorf("wamp.subscription.get(secret) for writer = %v", got)
	}

	// Registrations: the backend's admin registration is hidden from a
	// reader that may not call or register it.
	ops := joinAs(t, r, "ops")
	reg := ops.register("com.example.admin.", protocol.Dict{"match": "prefix"})
	reader.metaError("wamp.registration.get", protocol.ErrNoSuchRegistration, uint64(reg))
	reader.metaError("wamp.registration.list_callees", protocol.ErrNoSuchRegistration, uint64(reg))
	if got := reader.metaResult("wamp.registration.lookup", "com.example.admin.", protocol.Dict{"match": "prefix"}); got[0] != nil {
		t.Errorf("wamp.registration.lookup = %v, want null", got)
	}
	if got := reader.metaResult("wamp.registration.match", "com.example.admin.x"); got[0] != nil {
		t.Errorf("wamp.registration.match = %v, want null", got)
	}
	if l := reader.metaResult("wamp.registration.list")[0].(protocol.Dict); len(l["prefix"].([]any)) != 0 {
		t.Errorf("wamp.registration.list = %v, want no prefix registration", l)
	}
	if got := writer.metaResult("wamp.registration.get", uint64(reg)); got[0].(protocol.Dict)["uri"] != "com.example.admin." {
		t.Errorf("wamp.registration.get for writer = %v", got)
	}
}

// TestReservedProceduresNotRouted checks that no client registration
// answers a call in the reserved wamp namespace (spec basic "Reserved
// URIs"), whatever pattern it registered.
func TestReservedProceduresNotRouted(t *testing.T) {
	r := newRouter(t, router.Config{})
	callee, caller := join(t, r), join(t, r)
	callee.register("wam", protocol.Dict{"match": "prefix"})
	callee.register(".registration.remove_callee", protocol.Dict{"match": "wildcard"})
	for _, proc := range []protocol.URI{"wamp.registration.frobnicate", "wamp.session.frobnicate", "wamp.x"} {
		req := caller.next()
		caller.send(&protocol.Call{Request: req, Procedure: proc, Args: protocol.List{"payload"}})
		caller.expectError(protocol.TypeCall, req, protocol.ErrNoSuchProcedure)
	}
	// Calls elsewhere still reach the patterns.
	caller.callOK("wamx.y", callee)
}

// TestOpenRealmPrivilegedMeta checks that a realm without an Authorizer
// refuses the destructive meta procedures and hides transport details,
// and that an Authorizer can allow both.
func TestOpenRealmPrivilegedMeta(t *testing.T) {
	r := newRouter(t, router.Config{})
	victim, attacker := join(t, r), join(t, r)
	for _, call := range []struct {
		proc protocol.URI
		args []any
	}{
		{"wamp.session.kill_all", nil},
		{"wamp.session.kill", []any{uint64(victim.session)}},
		{"wamp.session.kill_by_authid", []any{victim.welcome.Details["authid"]}},
		{"wamp.session.kill_by_authrole", []any{"anonymous"}},
	} {
		attacker.metaError(call.proc, protocol.ErrNotAuthorized, call.args...)
	}
	victim.expectNothing()
	got := attacker.metaResult("wamp.session.get", uint64(victim.session))[0].(protocol.Dict)
	if _, ok := got["transport"]; ok {
		t.Errorf("wamp.session.get in an open realm = %v, shows transport details", got)
	}
	watcher := join(t, r)
	watcher.subscribe("wamp.session.on_join", nil)
	join(t, r)
	ev := expect[*protocol.Event](watcher)
	if d := ev.Args[0].(protocol.Dict); d["transport"] != nil {
		t.Errorf("on_join in an open realm = %v, shows transport details", d)
	}

	// With an Authorizer that allows them explicitly.
	ra := authzRouter(t, router.RealmConfig{Authorizer: mustRoles(t, map[string][]router.Permission{
		"admin": {{URI: "wamp.session.", Match: protocol.MatchPrefix, Call: true}},
		"user":  {},
	})})
	user := joinAs(t, ra, "user")
	admin := joinAs(t, ra, "admin")
	got = admin.metaResult("wamp.session.get", uint64(user.session))[0].(protocol.Dict)
	if _, ok := got["transport"]; !ok {
		t.Errorf("wamp.session.get for an allowed admin = %v, want transport details", got)
	}
	if n := admin.metaResult("wamp.session.kill_all"); n[0] != 1 && n[0] != uint64(1) && n[0] != int64(1) {
		t.Errorf("kill_all = %v, want 1", n)
	}
	expect[*protocol.Goodbye](user)
}
