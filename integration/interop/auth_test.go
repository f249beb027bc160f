package interop

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// authRealm admits sessions that authenticate with ticket or WAMP-CRA
// (spec advanced/authentication_ticket.md, authentication_cra.md; SUMMARY
// §17.1, §17.2). The authenticators are test doubles written against the
// router's Authenticator interface; the peers' client side is theirs.
const authRealm = protocol.URI("authrealm")

// The one principal of authRealm, the same secret for both methods.
const (
	authID     = "alice"
	authRole   = "user"
	authSecret = "s3cr3t-ticket"
)

// ticketAuth is a minimal ticket Authenticator.
type ticketAuth struct{}

func (ticketAuth) AuthMethod() string { return "ticket" }

func (ticketAuth) Authenticate(ctx context.Context, req *router.AuthRequest, ch router.Challenger) (*router.Identity, error) {
	if req.AuthID != authID {
		return nil, &router.AuthError{Reason: protocol.ErrNoSuchPrincipal, Message: "unknown authid"}
	}
	a, err := ch.Challenge(ctx, "ticket", protocol.Dict{})
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(a.Signature), []byte(authSecret)) != 1 {
		return nil, &router.AuthError{Reason: protocol.ErrAuthenticationDenied, Message: "wrong ticket"}
	}
	return &router.Identity{AuthID: authID, AuthRole: authRole}, nil
}

// craAuth is a minimal WAMP-CRA Authenticator (unsalted secret): the
// challenge is a JSON string, the signature base64(HMAC-SHA256(secret,
// challenge)).
type craAuth struct{}

func (craAuth) AuthMethod() string { return "wampcra" }

func (craAuth) Authenticate(ctx context.Context, req *router.AuthRequest, ch router.Challenger) (*router.Identity, error) {
	if req.AuthID != authID {
		return nil, &router.AuthError{Reason: protocol.ErrNoSuchPrincipal, Message: "unknown authid"}
	}
	nonce := make([]byte, 16)
	rand.Read(nonce)
	challenge, err := json.Marshal(map[string]any{
		"authid":       authID,
		"authrole":     authRole,
		"authmethod":   "wampcra",
		"authprovider": "static",
		"nonce":        base64.StdEncoding.EncodeToString(nonce),
		"timestamp":    time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		"session":      req.Session,
	})
	if err != nil {
		return nil, err
	}
	a, err := ch.Challenge(ctx, "wampcra", protocol.Dict{"challenge": string(challenge)})
	if err != nil {
		return nil, err
	}
	mac := hmac.New(sha256.New, []byte(authSecret))
	mac.Write(challenge)
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if subtle.ConstantTimeCompare([]byte(a.Signature), []byte(want)) != 1 {
		return nil, &router.AuthError{Reason: protocol.ErrAuthenticationDenied, Message: "wrong signature"}
	}
	return &router.Identity{AuthID: authID, AuthRole: authRole}, nil
}

// TestPeerAuth joins authRealm with each library, method and a right and a
// wrong secret.
func TestPeerAuth(t *testing.T) {
	wr := startRouter(t)
	dir := interopDir(t)
	type authCell struct {
		lib        lib
		serializer string
		transport  string
	}
	var cs []authCell
	for _, l := range libs {
		cs = append(cs, authCell{l, "json", "websocket"}, authCell{l, "cbor", "websocket"})
		if len(l.rawSocket) > 0 {
			cs = append(cs, authCell{l, l.rawSocket[len(l.rawSocket)-1], "rawsocket"})
		}
	}
	for _, c := range cs {
		for _, method := range []string{"ticket", "wampcra"} {
			for _, good := range []bool{true, false} {
				name := fmt.Sprintf("%s/%s/%s/%s/good=%v", c.lib.name, c.serializer, c.transport, method, good)
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					c.lib.require(t)
					url := wr.wsURL
					if c.transport == "rawsocket" {
						url = wr.rsURL
					}
					secret := authSecret
					if !good {
						secret = "wrong"
					}
					argv := c.lib.argv(dir, url, c.serializer, "join", "wampkit.interop.auth")
					for i, a := range argv {
						if a == "--realm" {
							argv[i+1] = string(authRealm)
						}
					}
					argv = append(argv, "--authmethod", method, "--authid", authID, "--secret", secret)
					p := startScript(t, dir, argv...)
					if good {
						res := p.result()
						for k, want := range map[string]string{"authid": authID, "authrole": authRole, "authmethod": method} {
							if res[k] != want {
								t.Errorf("WELCOME.Details.%s = %v, want %s", k, res[k], want)
							}
						}
						return
					}
					m := p.next()
					for range p.lines {
					}
					p.cmd.Wait() //nolint:errcheck // the script is expected to fail
					if m["ok"] != false {
						t.Fatalf("joined with a wrong secret: %v", m)
					}
					if msg, _ := m["error"].(string); !strings.Contains(msg, string(protocol.ErrAuthenticationDenied)) {
						t.Errorf("peer's error %q does not name %s", msg, protocol.ErrAuthenticationDenied)
					}
				})
			}
		}
	}
}
