package router_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/transport"
)

func TestNewInvalidConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  router.Config
	}{
		{"no realms", router.Config{}},
		{"bad realm URI", router.Config{Realms: []router.RealmConfig{{Name: "a..b"}}}},
		{"empty realm", router.Config{Realms: []router.RealmConfig{{}}}},
		{"duplicate realm", router.Config{Realms: []router.RealmConfig{{Name: "r"}, {Name: "r"}}}},
		{"strict URIs", router.Config{StrictURIs: true, Realms: []router.RealmConfig{{Name: "Realm"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := router.New(tt.cfg)
			if !errors.Is(err, router.ErrConfig) {
				if r != nil {
					r.Close()
				}
				t.Fatalf("New() error = %v, want ErrConfig", err)
			}
		})
	}
}

func TestWelcome(t *testing.T) {
	r := newRouter(t, router.Config{})
	c := connect(t, r)
	w := c.hello(realm1, nil)
	if !w.Session.Valid() {
		t.Errorf("session ID %d not in [1, 2^53]", w.Session)
	}
	roles, err := protocol.ParseRoles(w.Details)
	if err != nil {
		t.Fatalf("ParseRoles(WELCOME.Details): %v", err)
	}
	want := protocol.Roles{
		protocol.RoleBroker: {
			protocol.FeaturePatternBasedSubscription:    true,
			protocol.FeaturePublisherExclusion:          true,
			protocol.FeaturePublisherIdentification:     true,
			protocol.FeatureSubscriberBlackWhiteListing: true,
			protocol.FeatureEventRetention:              true,
			protocol.FeatureSessionMetaAPI:              true,
			protocol.FeatureSubscriptionMetaAPI:         true,
			protocol.FeatureSubscriptionRevocation:      true,
			protocol.FeaturePayloadPassthruMode:         true,
		},
		protocol.RoleDealer: {
			protocol.FeatureProgressiveCallResults:     true,
			protocol.FeatureProgressiveCallInvocations: true,
			protocol.FeatureCallCanceling:              true,
			protocol.FeatureCallerIdentification:       true,
			protocol.FeaturePatternBasedRegistration:   true,
			protocol.FeatureSharedRegistration:         true,
			protocol.FeatureCallTimeout:                true,
			protocol.FeatureSessionMetaAPI:             true,
			protocol.FeatureRegistrationMetaAPI:        true,
			protocol.FeatureRegistrationRevocation:     true,
			protocol.FeatureTestamentMetaAPI:           true,
			protocol.FeaturePayloadPassthruMode:        true,
		},
	}
	if diff := cmp.Diff(want, roles); diff != "" {
		t.Errorf("WELCOME roles mismatch (-want +got):\n%s", diff)
	}
	for key, want := range map[string]string{"authrole": "anonymous", "authmethod": "anonymous", "authprovider": "static", "realm": "realm1"} {
		if got := w.Details.String(key); got != want {
			t.Errorf("WELCOME.Details.%s = %q, want %q", key, got, want)
		}
	}
	if w.Details.String("authid") == "" {
		t.Errorf("WELCOME.Details.authid is empty")
	}

	c2 := connect(t, r)
	// The router gives anonymous sessions their authid; HELLO's is
	// ignored, so that nobody can pose as a principal (WELCOME.Details.authid
	// is the identity the router authenticated, spec advanced
	// "Authentication").
	w2 := c2.hello(realm1, protocol.Dict{"authid": "joe"})
	if got := w2.Details.String("authid"); got == "joe" || got == "" || got == w.Details.String("authid") {
		t.Errorf("authid = %q, want a random one, not the HELLO's %q nor another session's", got, "joe")
	}
	if w2.Session == w.Session {
		t.Errorf("two sessions got the same ID %d", w.Session)
	}
}

func TestHelloRefused(t *testing.T) {
	tests := []struct {
		name   string
		hello  *protocol.Hello
		reason protocol.URI
	}{
		{"unknown realm", &protocol.Hello{Realm: "nowhere", Details: protocol.Dict{"roles": clientRoles()}}, protocol.ErrNoSuchRealm},
		{"bad realm URI", &protocol.Hello{Realm: "a..b", Details: protocol.Dict{"roles": clientRoles()}}, protocol.ErrInvalidURI},
		{"no roles", &protocol.Hello{Realm: realm1, Details: protocol.Dict{}}, protocol.ErrProtocolViolation},
		{"router role only", &protocol.Hello{Realm: realm1, Details: protocol.Dict{"roles": map[string]any{"broker": map[string]any{}}}}, protocol.ErrNoSuchRole},
		{"unknown authmethod", &protocol.Hello{Realm: realm1, Details: protocol.Dict{"roles": clientRoles(), "authmethods": []any{"ticket"}}}, protocol.ErrNoMatchingAuthMethod},
	}
	r := newRouter(t, router.Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := connect(t, r)
			c.send(tt.hello)
			c.expectAbort(tt.reason)
		})
	}
}

func TestFirstMessageNotHello(t *testing.T) {
	r := newRouter(t, router.Config{})
	c := connect(t, r)
	c.send(&protocol.Call{Request: 1, Procedure: "com.example.f"})
	c.expectAbort(protocol.ErrProtocolViolation)
}

func TestHandshakeTimeout(t *testing.T) {
	r := newRouter(t, router.Config{HandshakeTimeout: time.Millisecond})
	c := connect(t, r)
	if err := c.expectClosed(); !errors.Is(err, transport.ErrClosed) {
		t.Errorf("Recv error = %v, want ErrClosed", err)
	}
}

func TestGoodbyeFromClient(t *testing.T) {
	r := newRouter(t, router.Config{})
	c := join(t, r)
	c.send(&protocol.Goodbye{Details: protocol.Dict{}, Reason: protocol.CloseSystemShutdown})
	g := expect[*protocol.Goodbye](c)
	if g.Reason != protocol.CloseGoodbyeAndOut {
		t.Errorf("GOODBYE reason = %s, want %s", g.Reason, protocol.CloseGoodbyeAndOut)
	}
	c.expectClosed()
}

func TestAbortFromClient(t *testing.T) {
	r := newRouter(t, router.Config{})
	callee := join(t, r)
	callee.register("com.example.f", nil)
	callee.send(&protocol.Abort{Details: protocol.Dict{}, Reason: protocol.CloseSystemShutdown})
	callee.expectClosed()
	// Its registration is gone.
	c := join(t, r)
	c.send(&protocol.Call{Request: 1, Procedure: "com.example.f"})
	c.expectError(protocol.TypeCall, 1, protocol.ErrNoSuchProcedure)
}

func TestShutdown(t *testing.T) {
	r := newRouter(t, router.Config{GoodbyeTimeout: -1})
	polite := join(t, r)
	mute := join(t, r) // never echoes; Shutdown's ctx ends it
	pending := connect(t, r)

	errc := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	go func() { errc <- r.Shutdown(ctx) }()

	for _, c := range []*testPeer{polite, mute} {
		g := expect[*protocol.Goodbye](c)
		if g.Reason != protocol.CloseSystemShutdown {
			t.Errorf("GOODBYE reason = %s, want %s", g.Reason, protocol.CloseSystemShutdown)
		}
	}
	pending.expectClosed()
	polite.send(&protocol.Goodbye{Details: protocol.Dict{}, Reason: protocol.CloseGoodbyeAndOut})
	polite.expectClosed()
	mute.send(&protocol.Call{Request: 1, Procedure: "ignored.while.shutting.down"})
	cancel() // the mute session never echoes: end the wait
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown() = %v, want context.Canceled", err)
	}
	mute.expectClosed()
	if _, err := r.Connect(context.Background()); !errors.Is(err, router.ErrClosed) {
		t.Errorf("Connect after Shutdown: %v, want ErrClosed", err)
	}
}

func TestShutdownGoodbyeTimeout(t *testing.T) {
	r := newRouter(t, router.Config{GoodbyeTimeout: time.Millisecond})
	mute := join(t, r)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := r.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown() = %v, want nil (GOODBYE timeout ends the session)", err)
	}
	expect[*protocol.Goodbye](mute)
	mute.expectClosed()
}

func TestClose(t *testing.T) {
	r := newRouter(t, router.Config{})
	c := join(t, r)
	if err := r.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if err := c.expectClosed(); !errors.Is(err, transport.ErrClosed) {
		t.Errorf("Recv error = %v, want ErrClosed", err)
	}
	if _, err := r.Connect(context.Background()); !errors.Is(err, router.ErrClosed) {
		t.Errorf("Connect after Close: %v, want ErrClosed", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close() = %v", err)
	}
}

func TestProtocolViolation(t *testing.T) {
	tests := []struct {
		name string
		msg  func(c *testPeer) protocol.Message
	}{
		{"HELLO again", func(*testPeer) protocol.Message {
			return &protocol.Hello{Realm: realm1, Details: protocol.Dict{"roles": clientRoles()}}
		}},
		{"WELCOME from client", func(*testPeer) protocol.Message { return &protocol.Welcome{Session: 1, Details: protocol.Dict{}} }},
		{"EVENT from client", func(*testPeer) protocol.Message { return &protocol.Event{Subscription: 1, Publication: 1} }},
		{"YIELD for unknown invocation", func(*testPeer) protocol.Message { return &protocol.Yield{Request: 99} }},
		{"ERROR for CALL", func(*testPeer) protocol.Message {
			return &protocol.Error{RequestType: protocol.TypeCall, Request: 1, Details: protocol.Dict{}, URI: "com.example.error"}
		}},
		{"nil CALL", func(*testPeer) protocol.Message { return (*protocol.Call)(nil) }},
		{"ERROR for unknown invocation", func(*testPeer) protocol.Message {
			return &protocol.Error{RequestType: protocol.TypeInvocation, Request: 5, Details: protocol.Dict{}, URI: "com.example.error"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRouter(t, router.Config{})
			bystander := join(t, r)
			bystander.register("com.example.other", nil)
			offender := join(t, r)
			offender.register("com.example.f", nil)
			offender.subscribe("com.example.topic", nil)

			offender.send(tt.msg(offender))
			a := offender.expectAbort(protocol.ErrProtocolViolation)
			if a.Details.String("message") == "" {
				t.Errorf("ABORT.Details.message is empty")
			}
			// The offender's registrations are gone, other sessions work.
			c := join(t, r)
			req := c.next()
			c.send(&protocol.Call{Request: req, Procedure: "com.example.f"})
			c.expectError(protocol.TypeCall, req, protocol.ErrNoSuchProcedure)
			c.callOK("com.example.other", bystander)
		})
	}
}

func TestStrictRequestIDs(t *testing.T) {
	for _, strict := range []bool{false, true} {
		t.Run(fmt.Sprintf("strict=%v", strict), func(t *testing.T) {
			r := newRouter(t, router.Config{StrictRequestIDs: strict})
			c := join(t, r)
			c.subscribe("com.example.a", nil)  // request 1
			c.publishAck("com.example.a", nil) // request 2
			c.send(&protocol.Publish{Request: 7, Topic: "com.example.a", Options: protocol.Dict{"acknowledge": true}})
			if strict {
				c.expectAbort(protocol.ErrProtocolViolation)
				return
			}
			expect[*protocol.Published](c)
		})
	}
}

// TestGoodbyeEchoAfterLeave checks that once a client has the echo of its
// GOODBYE, its registrations and subscriptions are gone: a component that
// leaves and at once joins again (or is replaced) can register the same
// procedure without wamp.error.procedure_already_exists.
func TestGoodbyeEchoAfterLeave(t *testing.T) {
	r := newRouter(t, router.Config{})
	for range 200 {
		a := join(t, r)
		a.register("com.example.again", nil)
		a.subscribe("com.example.topic", nil)
		a.send(&protocol.Goodbye{Details: protocol.Dict{}, Reason: protocol.CloseRealm})
		expect[*protocol.Goodbye](a)
		b := join(t, r)
		b.register("com.example.again", nil)
		b.send(&protocol.Goodbye{Details: protocol.Dict{}, Reason: protocol.CloseRealm})
		expect[*protocol.Goodbye](b)
	}
}
