package router_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// roleAuth admits every client with the authrole it names as its authid
// (HELLO.Details.authid).
type roleAuth struct{}

func (roleAuth) AuthMethod() string { return "anonymous" }

func (roleAuth) Authenticate(_ context.Context, req *router.AuthRequest, _ router.Challenger) (*router.Identity, error) {
	return &router.Identity{AuthID: req.AuthID, AuthRole: req.AuthID}, nil
}

// joinAs joins realm1 of r with authid and authrole role (r must use
// roleAuth).
func joinAs(tb testing.TB, r *router.Router, role string) *testPeer {
	tb.Helper()
	c := connect(tb, r)
	c.hello(realm1, protocol.Dict{"authid": role})
	return c
}

// authzFunc is an Authorizer made of a function.
type authzFunc func(ctx context.Context, req *router.AuthzRequest) (bool, error)

func (f authzFunc) Authorize(ctx context.Context, req *router.AuthzRequest) (bool, error) {
	return f(ctx, req)
}

func authzRouter(tb testing.TB, rc router.RealmConfig) *router.Router {
	tb.Helper()
	rc.Name = realm1
	rc.Authenticators = []router.Authenticator{roleAuth{}}
	return newRouter(tb, router.Config{Realms: []router.RealmConfig{rc}})
}

func mustRoles(tb testing.TB, roles map[string][]router.Permission) *router.RoleAuthorizer {
	tb.Helper()
	a, err := router.NewRoleAuthorizer(roles)
	if err != nil {
		tb.Fatalf("NewRoleAuthorizer: %v", err)
	}
	return a
}

func TestRoleAuthorizer(t *testing.T) {
	a := mustRoles(t, map[string][]router.Permission{
		"user": {
			{URI: "com.app.", Match: protocol.MatchPrefix, Call: true, Subscribe: true},
			{URI: "com.app.admin"}, // denies everything
			{URI: "com.app.admin.", Match: protocol.MatchPrefix, Subscribe: true},
			{URI: "com..public", Match: protocol.MatchWildcard, Subscribe: true, Publish: true},
			{URI: "com.app.x", Match: protocol.MatchExact, Register: true},
			{URI: "org..a", Match: protocol.MatchWildcard, Call: true},
			{URI: "org.b.", Match: protocol.MatchWildcard, Register: true},
		},
		"all": {{URI: "", Match: protocol.MatchPrefix, Call: true, Register: true, Publish: true, Subscribe: true}},
	})
	tests := []struct {
		role  string
		act   router.Action
		uri   protocol.URI
		match protocol.MatchPolicy
		want  bool
	}{
		{"user", router.ActionCall, "com.app.y", "", true},                           // prefix
		{"user", router.ActionPublish, "com.app.y", "", false},                       // prefix, not allowed
		{"user", router.ActionCall, "com.app.x", "exact", false},                     // exact beats prefix
		{"user", router.ActionRegister, "com.app.x", "exact", true},                  // exact
		{"user", router.ActionCall, "com.app.admin", "", false},                      // exact deny
		{"user", router.ActionSubscribe, "com.app.admin.logs", "", true},             // longest prefix
		{"user", router.ActionCall, "com.app.admin.logs", "", false},                 // longest prefix decides
		{"user", router.ActionPublish, "com.foo.public", "", true},                   // wildcard
		{"user", router.ActionPublish, "com.app.public", "", false},                  // prefix beats wildcard
		{"user", router.ActionPublish, "com.foo.bar.public", "", false},              // wildcard: length
		{"user", router.ActionCall, "org.x.a", "", true},                             // first wildcard
		{"user", router.ActionRegister, "org.b.a", "", false},                        // first wildcard decides
		{"user", router.ActionRegister, "com.app.x", protocol.MatchPrefix, false},    // exact rules cover no pattern
		{"user", router.ActionSubscribe, "com.app.z", protocol.MatchPrefix, true},    // pattern under a prefix rule
		{"user", router.ActionSubscribe, "com.ap", protocol.MatchPrefix, false},      // pattern wider than the rule
		{"user", router.ActionSubscribe, "com.app..z", protocol.MatchWildcard, true}, // literal part under the prefix
		{"user", router.ActionSubscribe, "com..public", protocol.MatchWildcard, true},
		{"user", router.ActionSubscribe, "..public", protocol.MatchWildcard, false},
		{"user", router.ActionSubscribe, "com.x.", protocol.MatchWildcard, false},
		{"user", router.ActionSubscribe, "com.", protocol.MatchPrefix, false},
		{"all", router.ActionSubscribe, "", protocol.MatchPrefix, true},
		{"all", router.ActionCall, "wamp.session.count", "", true},
		{"nobody", router.ActionCall, "com.app.y", "", false}, // no rules
	}
	for _, tt := range tests {
		req := &router.AuthzRequest{AuthRole: tt.role, Action: tt.act, URI: tt.uri, Match: tt.match}
		got, err := a.Authorize(context.Background(), req)
		if got != tt.want || err != nil {
			t.Errorf("Authorize(%s %v %s %s) = %v, %v, want %v", tt.role, tt.act, tt.match, tt.uri, got, err, tt.want)
		}
	}
	var zero router.RoleAuthorizer
	if ok, err := zero.Authorize(context.Background(), &router.AuthzRequest{AuthRole: "user", Action: router.ActionCall, URI: "a"}); ok || err != nil {
		t.Errorf("zero RoleAuthorizer: Authorize = %v, %v, want false, nil", ok, err)
	}
}

func TestNewRoleAuthorizerErrors(t *testing.T) {
	tests := []struct {
		name  string
		perms []router.Permission
	}{
		{"match", []router.Permission{{URI: "a.b", Match: "regex"}}},
		{"uri", []router.Permission{{URI: "a..b"}}},
		{"empty exact", []router.Permission{{URI: ""}}},
		{"duplicate", []router.Permission{{URI: "a.b", Call: true}, {URI: "a.b", Match: protocol.MatchExact}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := router.NewRoleAuthorizer(map[string][]router.Permission{"r": tt.perms}); err == nil {
				t.Errorf("NewRoleAuthorizer(%v) = nil error", tt.perms)
			}
		})
	}
}

// TestAuthzActions checks every action allowed and denied through a
// router, as well as unacknowledged publications, the meta API, event
// history and testaments.
func TestAuthzActions(t *testing.T) {
	roles := mustRoles(t, map[string][]router.Permission{
		"frontend": {
			{URI: "com.app.", Match: protocol.MatchPrefix, Call: true, Subscribe: true},
			{URI: "wamp.subscription.", Match: protocol.MatchPrefix, Call: true},
			{URI: "wamp.session.add_testament", Call: true},
		},
		"backend": {
			{URI: "com.app.", Match: protocol.MatchPrefix, Register: true, Publish: true},
			{URI: "wamp.subscription.get_events", Call: true},
			{URI: "wamp.session.add_testament", Call: true},
		},
		"admin": {{URI: "wamp.", Match: protocol.MatchPrefix, Call: true, Subscribe: true}},
	})
	r := authzRouter(t, router.RealmConfig{Authorizer: roles,
		EventHistory: []router.HistoryConfig{{Topic: "com.app.history"}}})
	fe := joinAs(t, r, "frontend")
	be := joinAs(t, r, "backend")
	admin := joinAs(t, r, "admin")

	denied := func(c *testPeer, typ protocol.MessageType, req protocol.ID, what string) {
		t.Helper()
		e := c.expectError(typ, req, protocol.ErrNotAuthorized)
		if len(e.Args) != 1 || !strings.Contains(e.Args[0].(string), what) {
			t.Errorf("ERROR args = %v, want a message naming %q", e.Args, what)
		}
	}

	// REGISTER and CALL.
	be.register("com.app.proc", nil)
	req := fe.next()
	fe.send(&protocol.Register{Request: req, Procedure: "com.app.other"})
	denied(fe, protocol.TypeRegister, req, "register com.app.other")
	fe.callOK("com.app.proc", be, "hi")
	req = be.next()
	be.send(&protocol.Call{Request: req, Procedure: "com.app.proc"})
	denied(be, protocol.TypeCall, req, "call com.app.proc")
	// A procedure nobody registered: denied, not no_such_procedure.
	req = be.next()
	be.send(&protocol.Call{Request: req, Procedure: "com.app.none"})
	denied(be, protocol.TypeCall, req, "call com.app.none")

	// SUBSCRIBE and PUBLISH.
	fe.subscribe("com.app.topic", nil)
	req = be.next()
	be.send(&protocol.Subscribe{Request: req, Topic: "com.app.topic"})
	denied(be, protocol.TypeSubscribe, req, "subscribe com.app.topic")
	req = fe.next()
	fe.send(&protocol.Publish{Request: req, Topic: "com.app.topic", Options: protocol.Dict{"acknowledge": true}})
	denied(fe, protocol.TypePublish, req, "publish com.app.topic")
	// Unacknowledged and denied: no answer, and not delivered (not even
	// to the publisher itself).
	fe.send(&protocol.Publish{Request: fe.next(), Topic: "com.app.topic", Options: protocol.Dict{"exclude_me": false},
		Args: protocol.List{"denied"}})
	be.publishAck("com.app.topic", nil, "allowed")
	if ev := expect[*protocol.Event](fe); len(ev.Args) != 1 || ev.Args[0] != "allowed" {
		t.Errorf("EVENT args = %v, want [allowed] (the denied publication must not be routed)", ev.Args)
	}

	// Meta procedures and topics.
	req = fe.next()
	fe.send(&protocol.Call{Request: req, Procedure: "wamp.session.count"})
	denied(fe, protocol.TypeCall, req, "call wamp.session.count")
	if got := admin.metaResult("wamp.session.count"); len(got) != 1 {
		t.Errorf("wamp.session.count = %v", got)
	}
	req = fe.next()
	fe.send(&protocol.Subscribe{Request: req, Topic: "wamp.session.on_join"})
	denied(fe, protocol.TypeSubscribe, req, "subscribe wamp.session.on_join")
	admin.subscribe("wamp.session.on_join", nil)

	// Event history: calling get_events is not enough, the caller must
	// also be allowed to subscribe to the topic.
	be.publishAck("com.app.history", nil, 1)
	hist := fe.lookup("com.app.history", "exact")
	ids, _ := fe.getEvents(protocol.List{uint64(hist)}, nil)
	if len(ids) != 1 {
		t.Errorf("get_events for frontend = %v, want one event", ids)
	}
	be.metaError("wamp.subscription.get_events", protocol.ErrNotAuthorized, uint64(hist))

	// Testaments are authorized when they are added.
	m := fe.metaCall("wamp.session.add_testament", protocol.List{"com.app.will", nil, nil}, nil)
	if e, ok := m.(*protocol.Error); !ok || e.URI != protocol.ErrNotAuthorized {
		t.Errorf("add_testament by frontend = %s, want ERROR not_authorized", describe(m))
	}
	be.addTestament("com.app.will", protocol.List{"bye"}, nil, nil, "")
}

func TestAuthzRequest(t *testing.T) {
	var mu sync.Mutex
	var got []router.AuthzRequest
	a := authzFunc(func(_ context.Context, req *router.AuthzRequest) (bool, error) {
		mu.Lock()
		got = append(got, *req)
		mu.Unlock()
		return true, nil
	})
	r := authzRouter(t, router.RealmConfig{Authorizer: a})
	c := joinAs(t, r, "user")
	c.subscribe("com.x", protocol.Dict{"match": "prefix"})
	c.register("com..y", protocol.Dict{"match": "wildcard"})
	c.publishAck("com.x.t", nil)
	c.metaCall("wamp.session.count", nil, nil)
	s := c.session
	base := router.AuthzRequest{Session: s, Realm: realm1, AuthID: "user", AuthRole: "user", AuthMethod: "anonymous"}
	with := func(act router.Action, uri protocol.URI, match protocol.MatchPolicy, opts protocol.Dict) router.AuthzRequest {
		r := base
		r.Action, r.URI, r.Match, r.Options = act, uri, match, opts
		return r
	}
	want := []router.AuthzRequest{
		with(router.ActionSubscribe, "com.x", protocol.MatchPrefix, protocol.Dict{"match": "prefix"}),
		with(router.ActionRegister, "com..y", protocol.MatchWildcard, protocol.Dict{"match": "wildcard"}),
		with(router.ActionPublish, "com.x.t", protocol.MatchExact, protocol.Dict{"acknowledge": true}),
		with(router.ActionCall, "wamp.session.count", protocol.MatchExact, nil),
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AuthzRequests mismatch (-want +got):\n%s", diff)
	}
}

func TestAuthzFailed(t *testing.T) {
	a := authzFunc(func(_ context.Context, req *router.AuthzRequest) (bool, error) {
		if strings.HasPrefix(string(req.URI), "com.broken") {
			return false, errors.New("database down")
		}
		return true, nil
	})
	r := authzRouter(t, router.RealmConfig{Authorizer: a})
	c := joinAs(t, r, "user")
	req := c.next()
	c.send(&protocol.Call{Request: req, Procedure: "com.broken.proc"})
	e := c.expectError(protocol.TypeCall, req, protocol.ErrAuthorizationFailed)
	if len(e.Args) != 1 || strings.Contains(e.Args[0].(string), "database") {
		t.Errorf("ERROR args = %v, want a message without the internal error", e.Args)
	}
	req = c.next()
	c.send(&protocol.Publish{Request: req, Topic: "com.broken.t", Options: protocol.Dict{"acknowledge": true}})
	c.expectError(protocol.TypePublish, req, protocol.ErrAuthorizationFailed)
	c.send(&protocol.Publish{Request: c.next(), Topic: "com.broken.t"})
	c.expectNothing()
}

// TestAuthzSlow checks that a slow Authorizer holds up only the session
// that asks, for at most AuthorizeTimeout.
func TestAuthzSlow(t *testing.T) {
	started := make(chan struct{}, 1)
	a := authzFunc(func(ctx context.Context, req *router.AuthzRequest) (bool, error) {
		if req.URI != "com.slow" {
			return true, nil
		}
		if _, ok := ctx.Deadline(); !ok {
			return false, errors.New("no deadline")
		}
		started <- struct{}{}
		<-ctx.Done()
		return false, ctx.Err()
	})
	r := authzRouter(t, router.RealmConfig{Authorizer: a, AuthorizeTimeout: 200 * time.Millisecond})
	slow := joinAs(t, r, "user")
	other := joinAs(t, r, "user")
	req := slow.next()
	t0 := time.Now()
	// In a realm whose Authorizer may wait, an in-process session is
	// routed on its own goroutine: Send does not wait for the decision.
	if err := slow.p.Send(context.Background(), &protocol.Subscribe{Request: req, Topic: "com.slow"}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d >= 200*time.Millisecond {
		t.Errorf("Send returned after %v: it waited for the Authorizer", d)
	}
	<-started
	other.subscribe("com.fast", nil) // while slow waits
	slow.expectError(protocol.TypeSubscribe, req, protocol.ErrAuthorizationFailed)
	if d := time.Since(t0); d < 200*time.Millisecond {
		t.Errorf("answered after %v, before the timeout", d)
	}
	slow.subscribe("com.fast", nil) // the session goes on
}

// TestAuthzClose checks that Router.Close ends the context of an
// Authorizer that has no timeout.
func TestAuthzClose(t *testing.T) {
	started := make(chan struct{}, 1)
	a := authzFunc(func(ctx context.Context, _ *router.AuthzRequest) (bool, error) {
		started <- struct{}{}
		<-ctx.Done()
		return false, ctx.Err()
	})
	r, err := router.New(router.Config{Logger: quietLogger, Realms: []router.RealmConfig{{Name: realm1,
		Authorizer: a, AuthorizeTimeout: -1}}})
	if err != nil {
		t.Fatal(err)
	}
	c := join(t, r)
	go c.p.Send(context.Background(), &protocol.Call{Request: c.next(), Procedure: "com.x"})
	<-started
	done := make(chan struct{})
	go func() {
		r.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(wait):
		t.Fatal("Close did not return")
	}
}
