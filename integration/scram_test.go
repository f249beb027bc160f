package integration

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/router/auth"
)

// TestSCRAM joins a real router over WebSocket, RawSocket and in-process
// with client.SCRAMAuth: both KDFs, the router's verifier checked by the
// client, and a wrong password and an unknown user refused alike.
func TestSCRAM(t *testing.T) {
	argon, err := auth.NewSCRAMPrincipal("correct horse", auth.SCRAMArgon2id, 1, 1024, "admin")
	if err != nil {
		t.Fatal(err)
	}
	pbkdf, err := auth.NewSCRAMPrincipal("battery staple", auth.SCRAMPBKDF2, 4096, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	e := startEnv(t, router.Config{AuthThrottle: router.AuthThrottle{Disabled: true}, Realms: []router.RealmConfig{{Name: realm1, Authenticators: []router.Authenticator{
		&auth.SCRAM{Principals: map[string]auth.SCRAMPrincipal{"alice": argon, "bob": pbkdf}},
	}}}})
	dial := func(t *testing.T, l link, authid, password string) (*client.Client, error) {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		cfg := e.clientConfig()
		cfg.AuthID, cfg.Auth = authid, []client.Authenticator{client.SCRAMAuth(password)}
		if l.transport == "local" {
			p, err := e.r.Connect(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return client.Join(ctx, p, cfg)
		}
		cfg.Serializer = l.serializer
		return client.Dial(ctx, e.url(l), cfg)
	}
	for _, l := range links()[:5] { // local, websocket with each serializer, tcp/json
		t.Run(l.String(), func(t *testing.T) {
			for _, u := range []struct{ authid, password, role string }{{"alice", "correct horse", "admin"}, {"bob", "battery staple", "user"}} {
				c, err := dial(t, l, u.authid, u.password)
				if err != nil {
					t.Fatalf("%s: %v", u.authid, err)
				}
				d := c.WelcomeDetails()
				if d.String("authid") != u.authid || d.String("authrole") != u.role || d.String("authmethod") != "wamp-scram" {
					t.Errorf("%s: WELCOME.Details %v", u.authid, d)
				}
				c.Close()
			}
			var wrong, unknown *client.AbortError
			if _, err := dial(t, l, "alice", "wrong horse"); !errors.As(err, &wrong) {
				t.Fatalf("wrong password: %v, want an ABORT", err)
			}
			if _, err := dial(t, l, "mallory", "wrong horse"); !errors.As(err, &unknown) {
				t.Fatalf("unknown user: %v, want an ABORT", err)
			}
			if wrong.Reason != protocol.ErrAuthenticationDenied {
				t.Errorf("wrong password: ABORT %s, want %s", wrong.Reason, protocol.ErrAuthenticationDenied)
			}
			if diff := cmp.Diff(wrong, unknown); diff != "" {
				t.Errorf("ABORTs of a wrong password and an unknown user differ (-wrong +unknown):\n%s", diff)
			}
		})
	}
}
