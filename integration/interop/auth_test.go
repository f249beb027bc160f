package interop

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/router/auth"
)

// authRealm admits sessions that authenticate with the router's built-in
// authenticators: ticket, WAMP-CRA (plain and salted) and cryptosign (spec
// advanced/authentication_ticket.md, authentication_cra.md,
// authentication_cryptosign.md; SUMMARY §17). The peers' client side is
// theirs.
const authRealm = protocol.URI("authrealm")

// The principals of authRealm. authID has authSecret as ticket and
// WAMP-CRA secret and the public key of authSeed for cryptosign;
// saltedID's WAMP-CRA secret is derived from authSecret with a salt.
const (
	authID   = "alice"
	saltedID = "salty"
	authRole = "user"
	// authSecret is the ticket and the WAMP-CRA password.
	authSecret = "s3cr3t-ticket"
	// authSeed and otherSeed are Ed25519 seeds (hex): the first two of the
	// spec's cryptosign test vectors.
	authSeed  = "4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510"
	otherSeed = "d511fe78e23934b3dadb52fcd022974b80bd92bccc7c5cf404e46cc0a8a2f5cd"
)

// seedKey returns the Ed25519 key of a hex seed.
func seedKey(tb testing.TB, seed string) ed25519.PrivateKey {
	tb.Helper()
	b, err := hex.DecodeString(seed)
	if err != nil {
		tb.Fatal(err)
	}
	return ed25519.NewKeyFromSeed(b)
}

// authAuthenticators returns the Authenticators of authRealm.
func authAuthenticators(tb testing.TB) []router.Authenticator {
	tb.Helper()
	salted, err := auth.DeriveCRAKey(authSecret, "pepper-and-salt", 1000, 32)
	if err != nil {
		tb.Fatal(err)
	}
	pub := seedKey(tb, authSeed).Public().(ed25519.PublicKey)
	return []router.Authenticator{
		&auth.Ticket{Principals: map[string]auth.Principal{authID: {Secret: authSecret, Role: authRole}}},
		&auth.WAMPCRA{Principals: map[string]auth.Principal{
			authID:   {Secret: authSecret, Role: authRole},
			saltedID: {Secret: salted, Role: authRole, Salt: "pepper-and-salt", Iterations: 1000, KeyLen: 32},
		}},
		&auth.Cryptosign{Principals: map[string]auth.CryptosignPrincipal{
			authID: {Role: authRole, PublicKeys: []ed25519.PublicKey{pub}},
		}},
	}
}

// authCase is one way to authenticate with the right or a wrong
// credential: the peer's --authmethod, --authid, --secret and --pubkey.
type authCase struct {
	name, method, authid string
	secret, wrongSecret  string
	wrongPubkey          string // announced with wrongSecret, if not ""
}

// authCases lists the methods every library is driven through. Wrong
// cryptosign credentials announce the registered key but sign with
// another, so the router checks a signature.
func authCases(tb testing.TB) []authCase {
	return []authCase{
		{"ticket", "ticket", authID, authSecret, "wrong", ""},
		{"wampcra", "wampcra", authID, authSecret, "wrong", ""},
		{"wampcra_salted", "wampcra", saltedID, authSecret, "wrong", ""},
		{"cryptosign", "cryptosign", authID, authSeed, otherSeed, hex.EncodeToString(seedKey(tb, authSeed).Public().(ed25519.PublicKey))},
	}
}

// TestPeerAuth joins authRealm with each library, method and a right and a
// wrong credential.
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
		for _, ac := range authCases(t) {
			for _, good := range []bool{true, false} {
				name := fmt.Sprintf("%s/%s/%s/%s/good=%v", c.lib.name, c.serializer, c.transport, ac.name, good)
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					c.lib.require(t)
					url := wr.wsURL
					if c.transport == "rawsocket" {
						url = wr.rsURL
					}
					argv := c.lib.argv(dir, url, c.serializer, "join", "wampkit.interop.auth")
					for i, a := range argv {
						if a == "--realm" {
							argv[i+1] = string(authRealm)
						}
					}
					secret := ac.secret
					if !good {
						secret = ac.wrongSecret
						if ac.wrongPubkey != "" {
							argv = append(argv, "--pubkey", ac.wrongPubkey)
						}
					}
					argv = append(argv, "--authmethod", ac.method, "--authid", ac.authid, "--secret", secret)
					p := startScript(t, dir, argv...)
					if good {
						res := p.result()
						for k, want := range map[string]string{"authid": ac.authid, "authrole": authRole, "authmethod": ac.method} {
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
						t.Fatalf("joined with a wrong credential: %v", m)
					}
					if msg, _ := m["error"].(string); !strings.Contains(msg, string(protocol.ErrAuthenticationDenied)) {
						t.Errorf("peer's error %q does not name %s", msg, protocol.ErrAuthenticationDenied)
					}
				})
			}
		}
	}
}

// TestGoClientAuth joins authRealm with the wampkit client's built-in
// authenticators, over WebSocket and RawSocket, with right and wrong
// credentials.
func TestGoClientAuth(t *testing.T) {
	wr := startRouter(t)
	key, other := seedKey(t, authSeed), seedKey(t, otherSeed)
	tests := []struct {
		name       string
		cfg        client.Config
		wantID     string
		wantMethod string
		wantReason protocol.URI // "" means welcomed
	}{
		{"ticket", client.Config{AuthID: authID, Auth: []client.Authenticator{client.TicketAuth(authSecret)}}, authID, "ticket", ""},
		{"ticket wrong", client.Config{AuthID: authID, Auth: []client.Authenticator{client.TicketAuth("wrong")}}, "", "", protocol.ErrAuthenticationDenied},
		// Unknown authids and keys are refused like wrong secrets.
		{"ticket unknown authid", client.Config{AuthID: "mallory", Auth: []client.Authenticator{client.TicketAuth(authSecret)}}, "", "", protocol.ErrAuthenticationDenied},
		{"ticket no authid", client.Config{Auth: []client.Authenticator{client.TicketAuth(authSecret)}}, "", "", protocol.ErrAuthenticationRequired},
		{"wampcra", client.Config{AuthID: authID, Auth: []client.Authenticator{client.WAMPCRAAuth(authSecret)}}, authID, "wampcra", ""},
		{"wampcra wrong", client.Config{AuthID: authID, Auth: []client.Authenticator{client.WAMPCRAAuth("wrong")}}, "", "", protocol.ErrAuthenticationDenied},
		{"wampcra salted", client.Config{AuthID: saltedID, Auth: []client.Authenticator{client.WAMPCRAAuth(authSecret)}}, saltedID, "wampcra", ""},
		{"wampcra salted wrong", client.Config{AuthID: saltedID, Auth: []client.Authenticator{client.WAMPCRAAuth("wrong")}}, "", "", protocol.ErrAuthenticationDenied},
		{"cryptosign", client.Config{AuthID: authID, Auth: []client.Authenticator{client.CryptosignAuth(key)}}, authID, "cryptosign", ""},
		{"cryptosign no authid", client.Config{Auth: []client.Authenticator{client.CryptosignAuth(key)}}, authID, "cryptosign", ""},
		{"cryptosign wrong key", client.Config{AuthID: authID, AuthExtra: protocol.Dict{"pubkey": hex.EncodeToString(key.Public().(ed25519.PublicKey))}, Auth: []client.Authenticator{client.CryptosignAuth(other)}}, "", "", protocol.ErrAuthenticationDenied},
		{"cryptosign unknown key", client.Config{AuthExtra: protocol.Dict{"pubkey": hex.EncodeToString(other.Public().(ed25519.PublicKey))}, Auth: []client.Authenticator{client.CryptosignAuth(other)}}, "", "", protocol.ErrAuthenticationDenied},
		// A plain AuthFunc contributes no authextra, so HELLO lacks the pubkey.
		{"cryptosign no pubkey", client.Config{AuthID: authID, Auth: []client.Authenticator{client.AuthFunc("cryptosign", client.CryptosignAuth(key).Authenticate)}}, "", "", protocol.ErrAuthenticationRequired},
		{"first method the router has", client.Config{AuthID: authID, Auth: []client.Authenticator{client.AuthFunc("scram", nil), client.WAMPCRAAuth(authSecret), client.TicketAuth(authSecret)}}, authID, "wampcra", ""},
	}
	for _, url := range []string{wr.wsURL, wr.rsURL} {
		for _, tt := range tests {
			t.Run(strings.SplitN(url, ":", 2)[0]+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
				defer cancel()
				cfg := tt.cfg
				cfg.Realm = authRealm
				c, err := client.Dial(ctx, url, cfg)
				if tt.wantReason != "" {
					var ae *client.AbortError
					if !errors.As(err, &ae) || ae.Reason != tt.wantReason {
						if err == nil {
							c.Close()
						}
						t.Fatalf("Dial() error = %v, want ABORT %s", err, tt.wantReason)
					}
					return
				}
				if err != nil {
					t.Fatalf("Dial() error = %v", err)
				}
				defer c.Close()
				d := c.WelcomeDetails()
				for k, want := range map[string]string{"authid": tt.wantID, "authrole": authRole, "authmethod": tt.wantMethod, "authprovider": "static"} {
					if got := d.String(k); got != want {
						t.Errorf("WELCOME.Details.%s = %q, want %q", k, got, want)
					}
				}
			})
		}
	}
}
