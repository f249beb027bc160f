package router_test

import (
	"context"
	"testing"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/router/auth"
)

// ticketAuth is a toy ticket authenticator (spec advanced "Ticket-based
// Authentication") that shows how a challenge-response method plugs in.
type ticketAuth struct{ tickets map[string]string } // authid -> ticket

func (ticketAuth) AuthMethod() string { return "ticket" }

func (a ticketAuth) Authenticate(ctx context.Context, req *router.AuthRequest, ch router.Challenger) (*router.Identity, error) {
	want, ok := a.tickets[req.AuthID]
	if !ok {
		return nil, &router.AuthError{Reason: protocol.ErrNoSuchPrincipal, Message: "unknown authid"}
	}
	reply, err := ch.Challenge(ctx, "ticket", protocol.Dict{})
	if err != nil {
		return nil, err
	}
	if reply.Signature != want {
		return nil, &router.AuthError{Reason: protocol.ErrAuthenticationDenied, Message: "wrong ticket"}
	}
	return &router.Identity{AuthID: req.AuthID, AuthRole: "user", AuthProvider: "static"}, nil
}

func TestAuthenticator(t *testing.T) {
	r := newRouter(t, router.Config{Realms: []router.RealmConfig{
		{Name: "secure", Authenticators: []router.Authenticator{ticketAuth{tickets: map[string]string{"alice": "secret"}}}},
		{Name: "mixed", Authenticators: []router.Authenticator{router.Anonymous{AuthRole: "guest"}, ticketAuth{tickets: map[string]string{"alice": "secret"}}}},
	}})
	hello := func(realm protocol.URI, authid string, methods ...any) *protocol.Hello {
		d := protocol.Dict{"roles": clientRoles(), "authid": authid}
		if methods != nil {
			d["authmethods"] = methods
		}
		return &protocol.Hello{Realm: realm, Details: d}
	}

	t.Run("ticket ok", func(t *testing.T) {
		c := connect(t, r)
		c.send(hello("secure", "alice", "ticket"))
		ch := expect[*protocol.Challenge](c)
		if ch.AuthMethod != "ticket" {
			t.Errorf("CHALLENGE method %q", ch.AuthMethod)
		}
		c.send(&protocol.Authenticate{Signature: "secret", Extra: protocol.Dict{}})
		w := expect[*protocol.Welcome](c)
		for key, want := range map[string]string{"authid": "alice", "authrole": "user", "authmethod": "ticket", "authprovider": "static"} {
			if got := w.Details.String(key); got != want {
				t.Errorf("WELCOME.Details.%s = %q, want %q", key, got, want)
			}
		}
	})
	t.Run("wrong ticket", func(t *testing.T) {
		c := connect(t, r)
		c.send(hello("secure", "alice", "ticket"))
		expect[*protocol.Challenge](c)
		c.send(&protocol.Authenticate{Signature: "guess", Extra: protocol.Dict{}})
		if a := c.expectAbort(protocol.ErrAuthenticationDenied); a.Details.String("message") != "wrong ticket" {
			t.Errorf("ABORT.Details = %v", a.Details)
		}
	})
	t.Run("unknown principal", func(t *testing.T) {
		c := connect(t, r)
		c.send(hello("secure", "mallory", "ticket"))
		c.expectAbort(protocol.ErrNoSuchPrincipal)
	})
	t.Run("no anonymous on secure realm", func(t *testing.T) {
		c := connect(t, r)
		c.send(hello("secure", ""))
		c.expectAbort(protocol.ErrNoMatchingAuthMethod)
	})
	t.Run("not AUTHENTICATE", func(t *testing.T) {
		c := connect(t, r)
		c.send(hello("secure", "alice", "ticket"))
		expect[*protocol.Challenge](c)
		c.send(&protocol.Call{Request: 1, Procedure: "com.example.f"})
		c.expectAbort(protocol.ErrProtocolViolation)
	})
	t.Run("client order of methods", func(t *testing.T) {
		c := connect(t, r)
		c.send(hello("mixed", "", "cryptosign", "anonymous", "ticket"))
		w := expect[*protocol.Welcome](c)
		if got := w.Details.String("authrole"); got != "guest" {
			t.Errorf("authrole %q, want guest", got)
		}
	})
}

// TestAnonymousAuthIDNotFromHello: an anonymous session cannot take the
// authid of a principal by naming it in HELLO (security review item 6).
// In a realm with anonymous and ticket users, an anonymous "alice" must
// neither receive events whitelisted for the real alice nor appear to
// callees as alice.
func TestAnonymousAuthIDNotFromHello(t *testing.T) {
	r := newRouter(t, router.Config{Realms: []router.RealmConfig{{Name: "mixed", Authenticators: []router.Authenticator{
		router.Anonymous{},
		&auth.Ticket{Principals: map[string]auth.Principal{"alice": {Secret: "secret"}}},
	}}}})
	alice := connect(t, r)
	alice.send(&protocol.Hello{Realm: "mixed", Details: protocol.Dict{"roles": clientRoles(), "authid": "alice", "authmethods": []any{"ticket"}}})
	expect[*protocol.Challenge](alice)
	alice.send(&protocol.Authenticate{Signature: "secret", Extra: protocol.Dict{}})
	if got := expect[*protocol.Welcome](alice).Details.String("authid"); got != "alice" {
		t.Fatalf("ticket user welcomed as %q, want alice", got)
	}

	mallory := connect(t, r)
	w := mallory.hello("mixed", protocol.Dict{"authid": "alice", "authmethods": []any{"anonymous"}})
	if got := w.Details.String("authid"); got == "alice" || got == "" {
		t.Errorf("anonymous HELLO with authid alice welcomed with authid %q, want a random one", got)
	}
	if got := w.Details.String("authmethod"); got != "anonymous" {
		t.Errorf("authmethod %q, want anonymous", got)
	}

	// Events whitelisted for alice do not reach the impostor.
	mallory.subscribe("com.example.private", nil)
	id := alice.publishAck("com.example.private", protocol.Dict{"eligible_authid": []any{"alice"}}, "for alice")
	marker := alice.publishAck("com.example.private", nil, "for all")
	if ev := expect[*protocol.Event](mallory); ev.Publication != marker {
		t.Errorf("anonymous session got publication %d (for alice: %d), want the marker %d first", ev.Publication, id, marker)
	}

	// Callees do not see alice as the caller.
	alice.register("com.example.whoami", protocol.Dict{"disclose_caller": true})
	req := mallory.next()
	mallory.send(&protocol.Call{Request: req, Procedure: "com.example.whoami"})
	inv := expect[*protocol.Invocation](alice)
	if got := inv.Details.String("caller_authid"); got == "alice" {
		t.Errorf("INVOCATION.Details.caller_authid = %q for an anonymous caller", got)
	}
	alice.send(&protocol.Yield{Request: inv.Request})
	expect[*protocol.Result](mallory)
}
