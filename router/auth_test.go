package router_test

import (
	"context"
	"testing"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
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
