package integration

import (
	"context"
	"errors"
	"testing"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// failingAuthorizer fails every decision on com.example.broken and
// defers the rest to a RoleAuthorizer.
type failingAuthorizer struct{ roles *router.RoleAuthorizer }

func (a failingAuthorizer) Authorize(ctx context.Context, req *router.AuthzRequest) (bool, error) {
	if req.URI == "com.example.broken" {
		return false, errors.New("policy store unreachable")
	}
	return a.roles.Authorize(ctx, req)
}

// TestAuthorization checks over every link that the client gets a
// *protocol.Error with the spec's URI for requests the realm's
// Authorizer denies or fails to decide.
func TestAuthorization(t *testing.T) {
	roles, err := router.NewRoleAuthorizer(map[string][]router.Permission{
		"anonymous": {
			{URI: "com.example.ok", Call: true, Register: true, Publish: true, Subscribe: true},
			{URI: "com.example.broken", Call: true},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links() {
		t.Run(l.String(), func(t *testing.T) {
			e := startEnv(t, router.Config{Realms: []router.RealmConfig{{Name: realm1,
				Authorizer: failingAuthorizer{roles}}}})
			c := e.join(t, l)
			ctx := timeout(t)
			register(t, c, "com.example.ok", echo)
			if _, err := c.Call(ctx, "com.example.ok", 1); err != nil {
				t.Fatalf("Call(com.example.ok): %v", err)
			}
			denied := map[string]error{}
			_, denied["call"] = c.Call(ctx, "com.example.denied")
			_, denied["register"] = c.Register(ctx, "com.example.denied", echo, nil)
			_, denied["subscribe"] = c.Subscribe(ctx, "com.example.denied", func(*client.Event) {}, nil)
			_, denied["publish"] = c.DoPublish(ctx, &client.PublishRequest{Topic: "com.example.denied", Acknowledge: true})
			_, denied["meta"] = c.Call(ctx, "wamp.session.count")
			for what, err := range denied {
				if perr := asError(t, err); perr.URI != protocol.ErrNotAuthorized {
					t.Errorf("%s: error URI %s, want %s", what, perr.URI, protocol.ErrNotAuthorized)
				}
			}
			_, err := c.Call(ctx, "com.example.broken")
			if perr := asError(t, err); perr.URI != protocol.ErrAuthorizationFailed {
				t.Errorf("call com.example.broken: error URI %s, want %s", perr.URI, protocol.ErrAuthorizationFailed)
			}
			if n := e.log.count("policy store unreachable"); n != 1 {
				t.Errorf("the Authorizer's error is logged %d times, want 1", n)
			}
		})
	}
}
