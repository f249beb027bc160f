package integration

import (
	"context"
	"slices"
	"sort"
	"testing"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// The security suite, authorization part: each test is an attack found by
// an outside review of wampd, made over real sockets, that must fail.

// roleIsAuthID admits every client with the authrole it names as its
// authid, so that one test can join sessions of several roles.
type roleIsAuthID struct{}

func (roleIsAuthID) AuthMethod() string { return "anonymous" }

func (roleIsAuthID) Authenticate(_ context.Context, req *router.AuthRequest, _ router.Challenger) (*router.Identity, error) {
	return &router.Identity{AuthID: req.AuthID, AuthRole: req.AuthID}, nil
}

// joinRole joins realm1 over l as a session of role.
func (e *env) joinRole(tb testing.TB, l link, role string) *client.Client {
	tb.Helper()
	ctx := timeout(tb)
	cfg := e.clientConfig()
	cfg.AuthID = role
	var c *client.Client
	var err error
	if l.transport == "local" {
		p, perr := e.r.Connect(ctx)
		if perr != nil {
			tb.Fatal(perr)
		}
		c, err = client.Join(ctx, p, cfg)
	} else {
		cfg.Serializer = l.serializer
		c, err = client.Dial(ctx, e.url(l), cfg)
	}
	if err != nil {
		tb.Fatalf("join %s over %v: %v", role, l, err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// attackRoles is shaped like wampd.example.yaml: a reader allowed below
// com.example.public. but denied its secret topic and hidden part, a
// backend allowed below com.example. but denied the admin procedures.
func attackRoles(tb testing.TB) *router.RoleAuthorizer {
	a, err := router.NewRoleAuthorizer(map[string][]router.Permission{
		"reader": {
			{URI: "com.example.public.", Match: protocol.MatchPrefix, Subscribe: true},
			{URI: "com.example.public.secret"},
			{URI: "com.example.public.hidden.", Match: protocol.MatchPrefix},
			{URI: "wamp.subscription.", Match: protocol.MatchPrefix, Call: true},
		},
		"writer": {{URI: "com.example.", Match: protocol.MatchPrefix, Publish: true, Subscribe: true}},
		"backend": {
			{URI: "com.example.", Match: protocol.MatchPrefix, Call: true, Register: true, Publish: true, Subscribe: true},
			{URI: "com.example.admin"},
			{URI: "com.example.admin.", Match: protocol.MatchPrefix},
		},
		"admin": {{URI: "com.example.", Match: protocol.MatchPrefix, Call: true}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// TestAttackPatternsAroundDenyRules: a role allowed a prefix but denied a
// topic and a prefix inside it subscribes with patterns, asks for
// retained events and reads the event history; a backend allowed a
// prefix but denied the admin procedures registers the prefix. None of
// them gets what the deny rules cover.
func TestAttackPatternsAroundDenyRules(t *testing.T) {
	for _, l := range []link{{transport: "local"}, links()[1], links()[5]} { // local, websocket/json, tcp/msgpack
		t.Run(l.String(), func(t *testing.T) {
			e := startEnv(t, router.Config{Realms: []router.RealmConfig{{
				Name: realm1, Authenticators: []router.Authenticator{roleIsAuthID{}}, Authorizer: attackRoles(t),
				EventHistory: []router.HistoryConfig{{Topic: "com.example.public.", Match: protocol.MatchPrefix}},
			}}})
			ctx := timeout(t)
			writer := e.joinRole(t, l, "writer")
			denied := []protocol.URI{"com.example.public.secret", "com.example.public.hidden.plans"}
			for _, topic := range append(denied, "com.example.public.news") {
				if _, err := writer.DoPublish(ctx, &client.PublishRequest{Topic: topic, Args: protocol.List{string(topic)},
					Acknowledge: true, Options: protocol.Dict{"retain": true}}); err != nil {
					t.Fatalf("publish %s: %v", topic, err)
				}
			}

			reader := e.joinRole(t, l, "reader")
			in := newInbox()
			for _, sub := range []struct {
				topic protocol.URI
				match protocol.MatchPolicy
			}{{"com.example.public.", protocol.MatchPrefix}, {"com.example.public.", protocol.MatchWildcard},
				{"com.example.public.hid", protocol.MatchPrefix}} {
				if _, err := reader.Subscribe(ctx, sub.topic, in.handle,
					&client.SubscribeOptions{Match: sub.match, GetRetained: true}); err != nil {
					t.Fatalf("subscribe %s %s: %v", sub.match, sub.topic, err)
				}
			}
			for _, topic := range append(denied, "com.example.public.end") {
				if _, err := writer.DoPublish(ctx, &client.PublishRequest{Topic: topic, Args: protocol.List{string(topic)},
					Acknowledge: true}); err != nil {
					t.Fatalf("publish %s: %v", topic, err)
				}
			}
			// news retained (prefix and wildcard), end (prefix and wildcard).
			if err := in.wait(ctx, 4); err != nil {
				t.Fatalf("reader's events: %v", err)
			}
			var got []string
			for i := range in.len() {
				got = append(got, in.get(i).Args[0].(string))
			}
			sort.Strings(got)
			if want := []string{"com.example.public.end", "com.example.public.end", "com.example.public.news",
				"com.example.public.news"}; !slices.Equal(got, want) {
				t.Errorf("reader got events %v, want %v", got, want)
			}

			// Event history.
			res, err := reader.Call(ctx, "wamp.subscription.lookup", "com.example.public.", protocol.Dict{"match": "prefix"})
			if err != nil {
				t.Fatal(err)
			}
			res, err = reader.Call(ctx, "wamp.subscription.get_events", res.Args[0])
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range res.Args[0].([]any) {
				d, _ := protocol.ToDict(ev)
				args, _ := d["args"].([]any)
				if len(args) > 0 && slices.Contains(denied, protocol.URI(args[0].(string))) {
					t.Errorf("get_events hands the reader %v", args[0])
				}
			}

			// The callee side.
			backend := e.joinRole(t, l, "backend")
			leaked := make(chan protocol.URI, 8)
			if _, err := backend.Register(ctx, "com.example.", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
				leaked <- inv.Procedure
				return &client.Result{}, nil
			}, &client.RegisterOptions{Match: protocol.MatchPrefix}); err != nil {
				t.Fatal(err)
			}
			admin := e.joinRole(t, l, "admin")
			_, err = admin.Call(ctx, "com.example.admin.reset", "the admin's secret")
			if perr := asError(t, err); perr.URI != protocol.ErrNoSuchProcedure {
				t.Errorf("admin's call of com.example.admin.reset: %v, want %s", err, protocol.ErrNoSuchProcedure)
			}
			if _, err := admin.Call(ctx, "com.example.orders"); err != nil {
				t.Errorf("admin's call of com.example.orders: %v", err)
			}
			if p := <-leaked; p != "com.example.orders" {
				t.Errorf("backend was invoked for %s", p)
			}
		})
	}
}

// TestAttackOpenRealmKillAll: in the zero-config open realm a client
// tries to end every other session and to read their addresses.
func TestAttackOpenRealmKillAll(t *testing.T) {
	e := startEnv(t, router.Config{})
	l := links()[1] // websocket/json
	victim := e.join(t, l)
	attacker := e.join(t, l)
	ctx := timeout(t)
	for _, proc := range []protocol.URI{"wamp.session.kill_all", "wamp.session.kill_by_authrole"} {
		_, err := attacker.Call(ctx, proc, "anonymous")
		if perr := asError(t, err); perr.URI != protocol.ErrNotAuthorized {
			t.Errorf("%s: %v, want %s", proc, err, protocol.ErrNotAuthorized)
		}
	}
	_, err := attacker.Call(ctx, "wamp.session.kill", uint64(victim.SessionID()))
	if perr := asError(t, err); perr.URI != protocol.ErrNotAuthorized {
		t.Errorf("wamp.session.kill: %v, want %s", err, protocol.ErrNotAuthorized)
	}
	res, err := attacker.Call(ctx, "wamp.session.get", uint64(victim.SessionID()))
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := protocol.ToDict(res.Args[0]); d["transport"] != nil {
		t.Errorf("wamp.session.get hands out the victim's transport details: %v", d["transport"])
	}
	if _, err := victim.Call(ctx, "wamp.session.count"); err != nil {
		t.Errorf("the victim's session is gone: %v", err)
	}
}

// TestAttackReservedNamespaceRegistration: a client registers patterns
// that match procedures of the reserved wamp namespace, hoping to answer
// calls meant for the router.
func TestAttackReservedNamespaceRegistration(t *testing.T) {
	e := startEnv(t, router.Config{})
	l := links()[1]
	attacker, caller := e.join(t, l), e.join(t, l)
	ctx := timeout(t)
	invoked := make(chan protocol.URI, 4)
	handler := func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		invoked <- inv.Procedure
		return &client.Result{Args: protocol.List{"forged"}}, nil
	}
	if _, err := attacker.Register(ctx, "wam", handler, &client.RegisterOptions{Match: protocol.MatchPrefix}); err != nil {
		t.Fatal(err)
	}
	if _, err := attacker.Register(ctx, ".registration.unknown", handler, &client.RegisterOptions{Match: protocol.MatchWildcard}); err != nil {
		t.Fatal(err)
	}
	for _, call := range []struct {
		proc protocol.URI
		uri  protocol.URI // the router's own answer
	}{
		{"wamp.registration.remove_callee", protocol.ErrNotAuthorized}, // refused in an open realm
		{"wamp.registration.unknown", protocol.ErrNoSuchProcedure},
		{"wamp.session.unknown", protocol.ErrNoSuchProcedure},
	} {
		_, err := caller.Call(ctx, call.proc, 1)
		if perr := asError(t, err); perr.URI != call.uri {
			t.Errorf("call %s: %v, want %s", call.proc, err, call.uri)
		}
	}
	if _, err := caller.Call(ctx, "wamx.ok"); err != nil {
		t.Fatalf("call wamx.ok: %v", err)
	}
	if p := <-invoked; p != "wamx.ok" {
		t.Errorf("the attacker's registration answered %s", p)
	}
}

// TestAttackHistoryTimeBounds (review item 11, not an attack but found by
// the same outside tests): get_events bounds equal to an event's reported
// timestamp select it by the spec's rules (after is >, until is <=).
func TestAttackHistoryTimeBounds(t *testing.T) {
	e := startEnv(t, router.Config{Realms: []router.RealmConfig{{Name: realm1,
		EventHistory: []router.HistoryConfig{{Topic: "com.example.log"}}}}})
	c := e.join(t, links()[1])
	ctx := timeout(t)
	if _, err := c.DoPublish(ctx, &client.PublishRequest{Topic: "com.example.log", Args: protocol.List{1},
		Acknowledge: true}); err != nil {
		t.Fatal(err)
	}
	res, err := c.Call(ctx, "wamp.subscription.lookup", "com.example.log")
	if err != nil {
		t.Fatal(err)
	}
	sub := res.Args[0]
	events := func(kw protocol.Dict) []any {
		t.Helper()
		res, err := c.Do(ctx, &client.CallRequest{Procedure: "wamp.subscription.get_events",
			Args: protocol.List{sub}, Kwargs: kw})
		if err != nil {
			t.Fatal(err)
		}
		return res.Args[0].([]any)
	}
	all := events(nil)
	if len(all) != 1 {
		t.Fatalf("get_events = %v, want one event", all)
	}
	d, _ := protocol.ToDict(all[0])
	ts := d["timestamp"]
	if n := len(events(protocol.Dict{"until_time": ts})); n != 1 {
		t.Errorf("get_events(until_time = the event's timestamp) returned %d events, want 1", n)
	}
	if n := len(events(protocol.Dict{"after_time": ts})); n != 0 {
		t.Errorf("get_events(after_time = the event's timestamp) returned %d events, want 0", n)
	}
}
