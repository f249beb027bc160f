package router_test

import (
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// metaCall calls a meta procedure and returns the RESULT or ERROR.
func (c *testPeer) metaCall(proc protocol.URI, args protocol.List, kwargs protocol.Dict) protocol.Message {
	c.tb.Helper()
	req := c.next()
	c.send(&protocol.Call{Request: req, Procedure: proc, Args: args, Kwargs: kwargs})
	m := c.recv()
	switch m := m.(type) {
	case *protocol.Result:
		if m.Request == req {
			return m
		}
	case *protocol.Error:
		if m.Request == req {
			return m
		}
	}
	c.tb.Fatalf("got %s, want the answer to %s", describe(m), proc)
	return nil
}

// allowAll is a RoleAuthorizer that lets anonymous sessions do anything.
func allowAll(tb testing.TB) *router.RoleAuthorizer {
	return mustRoles(tb, map[string][]router.Permission{"anonymous": {
		{URI: "", Match: protocol.MatchPrefix, Call: true, Register: true, Publish: true, Subscribe: true}}})
}

func TestSessionMetaEvents(t *testing.T) {
	r := newRouter(t, router.Config{})
	watcher := join(t, r)
	joins := watcher.subscribe("wamp.session.on_join", nil)
	leaves := watcher.subscribe("wamp.session.on_leave", nil)

	c := join(t, r)
	dave := c.welcome.Details.String("authid")
	ev := expect[*protocol.Event](watcher)
	if ev.Subscription != joins || len(ev.Args) != 1 {
		t.Fatalf("got %+v, want on_join with one argument", ev)
	}
	want := map[string]any{"session": uint64(c.session), "authid": dave, "authrole": "anonymous",
		"authmethod": "anonymous", "authprovider": "static"} // no transport details in an open realm
	got := map[string]any(ev.Args[0].(protocol.Dict))
	if joined, _ := got["_joined"].(string); len(joined) != len("2006-01-02T15:04:05.000Z") || joined[len(joined)-1] != 'Z' {
		t.Errorf("on_join _joined = %v, want an ISO 8601 UTC time", got["_joined"])
	}
	delete(got, "_joined")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("on_join details mismatch (-want +got):\n%s", diff)
	}

	c.send(&protocol.Goodbye{Details: protocol.Dict{}, Reason: protocol.CloseSystemShutdown})
	expect[*protocol.Goodbye](c)
	ev = expect[*protocol.Event](watcher)
	if diff := cmp.Diff(protocol.List{uint64(c.session), dave, "anonymous"}, ev.Args); ev.Subscription != leaves || diff != "" {
		t.Errorf("on_leave %+v mismatch (-want +got):\n%s", ev, diff)
	}
}

func TestSessionMetaProcedures(t *testing.T) {
	// The kill procedures need an explicit permission.
	r := newRouter(t, router.Config{Realms: []router.RealmConfig{
		{Name: realm1, Authenticators: []router.Authenticator{router.Anonymous{}}, Authorizer: allowAll(t)},
		{Name: "other"},
	}})
	admin := join(t, r)
	a := join(t, r)
	alice := a.welcome.Details.String("authid")
	b := join(t, r)
	bob := b.welcome.Details.String("authid")
	elsewhere := connect(t, r)
	elsewhere.hello("other", nil)

	res := admin.metaCall("wamp.session.count", nil, nil).(*protocol.Result)
	if diff := cmp.Diff(protocol.List{3}, res.Args); diff != "" {
		t.Errorf("count mismatch (-want +got):\n%s", diff)
	}
	res = admin.metaCall("wamp.session.count", protocol.List{[]any{"nobody"}}, nil).(*protocol.Result)
	if diff := cmp.Diff(protocol.List{0}, res.Args); diff != "" {
		t.Errorf("count with filter mismatch (-want +got):\n%s", diff)
	}
	res = admin.metaCall("wamp.session.list", nil, nil).(*protocol.Result)
	ids := res.Args[0].([]any)
	slices.SortFunc(ids, func(x, y any) int { return int(x.(uint64)>>1) - int(y.(uint64)>>1) })
	want := []any{uint64(admin.session), uint64(a.session), uint64(b.session)}
	slices.SortFunc(want, func(x, y any) int { return int(x.(uint64)>>1) - int(y.(uint64)>>1) })
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("list mismatch (-want +got):\n%s", diff)
	}
	res = admin.metaCall("wamp.session.get", protocol.List{a.session}, nil).(*protocol.Result)
	if got := res.Args[0].(protocol.Dict).String("authid"); got != alice {
		t.Errorf("get: authid %q, want %q", got, alice)
	}
	for _, tt := range []struct {
		proc protocol.URI
		args protocol.List
		kw   protocol.Dict
		uri  protocol.URI
	}{
		{"wamp.session.get", protocol.List{elsewhere.session}, nil, protocol.ErrNoSuchSession}, // other realm
		{"wamp.session.get", protocol.List{"x"}, nil, protocol.ErrInvalidArgument},
		{"wamp.session.kill", protocol.List{admin.session}, nil, protocol.ErrNoSuchSession}, // own session
		{"wamp.session.kill", protocol.List{a.session}, protocol.Dict{"reason": "not a uri"}, protocol.ErrInvalidURI},
		{"wamp.session.nonsense", nil, nil, protocol.ErrNoSuchProcedure},
	} {
		e, ok := admin.metaCall(tt.proc, tt.args, tt.kw).(*protocol.Error)
		if !ok || e.URI != tt.uri {
			t.Errorf("%s %v: got %v, want ERROR %s", tt.proc, tt.args, e, tt.uri)
		}
	}

	// kill: GOODBYE with reason and message, then the echo ends it.
	res = admin.metaCall("wamp.session.kill", protocol.List{a.session}, protocol.Dict{"reason": "com.example.bye", "message": "go away"}).(*protocol.Result)
	if len(res.Args) != 0 {
		t.Errorf("kill result %v, want none", res.Args)
	}
	g := expect[*protocol.Goodbye](a)
	if g.Reason != "com.example.bye" || g.Details.String("message") != "go away" {
		t.Errorf("killed session got %+v", g)
	}
	a.send(&protocol.Goodbye{Details: protocol.Dict{}, Reason: protocol.CloseGoodbyeAndOut})
	a.expectClosed()

	res = admin.metaCall("wamp.session.kill_by_authid", protocol.List{bob}, nil).(*protocol.Result)
	if diff := cmp.Diff(protocol.List{[]any{uint64(b.session)}}, res.Args); diff != "" {
		t.Errorf("kill_by_authid mismatch (-want +got):\n%s", diff)
	}
	if g := expect[*protocol.Goodbye](b); g.Reason != protocol.CloseKilled {
		t.Errorf("GOODBYE reason %s, want %s", g.Reason, protocol.CloseKilled)
	}
	// The other realm is untouched, the caller is never killed.
	res = admin.metaCall("wamp.session.kill_all", nil, nil).(*protocol.Result)
	if n := res.Args[0].(int); n > 1 { // b may still be waiting to echo
		t.Errorf("kill_all killed %d sessions, want at most 1", n)
	}
	res = admin.metaCall("wamp.session.kill_by_authrole", protocol.List{"anonymous"}, nil).(*protocol.Result)
	if n := res.Args[0].(int); n != 0 {
		t.Errorf("kill_by_authrole killed %d sessions, want 0 (only the caller is left)", n)
	}
	_ = elsewhere
}

// TestMetaConsoleKeys checks the implementation-specific keys of the
// meta API that consoles show: when a session joined and how many
// messages it exchanged (with metrics), and how many calls a
// registration's callees were sent.
func TestMetaConsoleKeys(t *testing.T) {
	r := newRouter(t, router.Config{Metrics: prometheus.NewRegistry()})
	admin := join(t, r)
	callee := join(t, r)
	callee.send(&protocol.Register{Request: 1, Options: protocol.Dict{}, Procedure: "com.example.proc"})
	reg := expect[*protocol.Registered](callee).Registration
	caller := join(t, r)
	for i := range 3 {
		caller.send(&protocol.Call{Request: protocol.ID(i + 1), Options: protocol.Dict{}, Procedure: "com.example.proc"})
		inv := expect[*protocol.Invocation](callee)
		callee.send(&protocol.Yield{Request: inv.Request, Options: protocol.Dict{}})
		expect[*protocol.Result](caller)
	}
	got := admin.metaResult("wamp.registration.get", reg)[0].(protocol.Dict)
	if got["_invocations"] != uint64(3) {
		t.Errorf("wamp.registration.get _invocations = %v, want 3", got["_invocations"])
	}
	// HELLO and 3 CALLs in; WELCOME and the 3 INVOCATIONs its calls
	// caused out (the RESULTs count for the callee, which yielded them).
	// A message is counted just after it is sent: the last count may
	// trail the RESULT the caller read.
	var d protocol.Dict
	for deadline := time.Now().Add(wait); ; time.Sleep(time.Millisecond) {
		d = admin.metaResult("wamp.session.get", caller.session)[0].(protocol.Dict)
		if d["_messages_in"] == uint64(4) && d["_messages_out"] == uint64(4) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("wamp.session.get _messages_in, _messages_out = %v, %v, want 4, 4", d["_messages_in"], d["_messages_out"])
		}
	}
	joined, err := time.Parse("2006-01-02T15:04:05.000Z", d.String("_joined"))
	if err != nil || time.Since(joined) < -time.Second {
		t.Errorf("wamp.session.get _joined = %q (%v), want the time it joined", d["_joined"], err)
	}
}
