package integration

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"strings"
	"testing"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/router/auth"
)

// cryptosignRealm returns a router configuration whose realm1 admits
// the cryptosign principal "device" with key (and nothing else), the
// router authenticating itself with routerKey.
func cryptosignRealm(key, routerKey ed25519.PrivateKey) router.Config {
	return router.Config{Realms: []router.RealmConfig{{Name: realm1, Authenticators: []router.Authenticator{
		&auth.Cryptosign{
			Principals: map[string]auth.CryptosignPrincipal{"device": {Role: "device", PublicKeys: []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}}},
			RouterKey:  routerKey,
		},
	}}}}
}

// dialCryptosign joins realm1 at url with cs and returns the client (closed
// at cleanup) or the error.
func dialCryptosign(tb testing.TB, url string, tc *tls.Config, cs client.Cryptosign) (*client.Client, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := client.Dial(ctx, url, client.Config{Realm: realm1, TLSConfig: tc, Auth: []client.Authenticator{cs}, ResponseTimeout: testTimeout})
	if err == nil {
		tb.Cleanup(func() { c.Close() })
	}
	return c, err
}

// wantAbort requires err to be ABORT reason with msg in its message.
func wantAbort(tb testing.TB, err error, reason protocol.URI, msg string) {
	tb.Helper()
	var ae *client.AbortError
	if !errors.As(err, &ae) || ae.Reason != reason || !strings.Contains(ae.Details.String("message"), msg) {
		tb.Fatalf("Join error = %v, want ABORT %s with %q", err, reason, msg)
	}
}

// TestCryptosignChannelBindingTLS: over real TLS listeners (wss and
// tcps, TLS 1.2 and 1.3), a client that binds its cryptosign signature
// to the TLS channel is admitted with tls-exporter, and with tls-unique
// over TLS 1.2; tls-unique over TLS 1.3 (which does not define it) and a
// binding over a transport without TLS are refused before any CHALLENGE
// with a message that says why. Router authentication works bound too.
func TestCryptosignChannelBindingTLS(t *testing.T) {
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	routerKey := ed25519.NewKeyFromSeed([]byte("router key seed, 32 bytes long!!"))
	routerPub := routerKey.Public().(ed25519.PublicKey)
	for _, v := range []struct {
		name    string
		version uint16
	}{{"TLS1.2", tls.VersionTLS12}, {"TLS1.3", tls.VersionTLS13}} {
		e := startTLSEnv(t, cryptosignRealm(key, routerKey), func(c *tls.Config) { c.MaxVersion = v.version })
		for _, kind := range []string{"wss", "tcps"} {
			for _, binding := range []string{"tls-exporter", "tls-unique", ""} {
				t.Run(v.name+"/"+kind+"/"+binding, func(t *testing.T) {
					c, err := dialCryptosign(t, e.url(kind), e.clientTLS(), client.Cryptosign{Key: key, ChannelBinding: binding, RouterKey: routerPub})
					if binding == "tls-unique" && v.version == tls.VersionTLS13 {
						wantAbort(t, err, protocol.ErrAuthenticationDenied, "TLS 1.3")
						return
					}
					if err != nil {
						t.Fatalf("Join: %v", err)
					}
					if got := c.WelcomeDetails().String("authid"); got != "device" {
						t.Errorf("authid = %q, want device", got)
					}
				})
			}
		}
	}
	t.Run("no TLS", func(t *testing.T) {
		e := startEnv(t, cryptosignRealm(key, nil))
		for _, binding := range []string{"tls-exporter", "tls-unique"} {
			_, err := dialCryptosign(t, e.wsURL, nil, client.Cryptosign{Key: key, ChannelBinding: binding})
			wantAbort(t, err, protocol.ErrAuthenticationDenied, "needs TLS")
		}
	})
}

// TestCryptosignChannelBindingRelay: a man in the middle with a
// certificate the client trusts relays the client's WAMP messages to the
// router over a TLS connection of its own. Without channel binding the
// relayed signature admits the attacker's connection; with it the router
// refuses the signature, made for the client's TLS channel, not the
// relay's.
func TestCryptosignChannelBindingRelay(t *testing.T) {
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	for _, v := range []struct {
		name     string
		version  uint16
		bindings []string
	}{{"TLS1.2", tls.VersionTLS12, []string{"tls-exporter", "tls-unique"}}, {"TLS1.3", tls.VersionTLS13, []string{"tls-exporter"}}} {
		t.Run(v.name, func(t *testing.T) {
			e := startTLSEnv(t, cryptosignRealm(key, nil), func(c *tls.Config) { c.MaxVersion = v.version })
			rl := startRelay(t, e.wssURL, e.clientTLS())
			tc := rl.clientTLS()
			tc.MaxVersion = v.version
			if _, err := dialCryptosign(t, rl.url, tc, client.Cryptosign{Key: key}); err != nil {
				t.Fatalf("unbound Join through the relay: %v, want admitted (the attack binding prevents)", err)
			}
			for _, binding := range v.bindings {
				_, err := dialCryptosign(t, rl.url, tc, client.Cryptosign{Key: key, ChannelBinding: binding})
				wantAbort(t, err, protocol.ErrAuthenticationDenied, "TLS channel")
				// The same client, connected to the router itself, is admitted.
				if _, err := dialCryptosign(t, e.wssURL, e.clientTLS(), client.Cryptosign{Key: key, ChannelBinding: binding}); err != nil {
					t.Fatalf("%s Join without the relay: %v", binding, err)
				}
			}
		})
	}
}

// TestCryptosignRouterAuthentication: a client that knows the router's
// public key joins when the router signs its challenge with the matching
// private key, and refuses a router with another key (or none).
func TestCryptosignRouterAuthentication(t *testing.T) {
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	routerKey := ed25519.NewKeyFromSeed([]byte("router key seed, 32 bytes long!!"))
	otherKey := ed25519.NewKeyFromSeed([]byte("not the router's key, 32 bytes!!"))
	right := startEnv(t, cryptosignRealm(key, routerKey))
	wrong := startEnv(t, cryptosignRealm(key, otherKey))
	unsigned := startEnv(t, cryptosignRealm(key, nil))
	cs := client.Cryptosign{Key: key, RouterKey: routerKey.Public().(ed25519.PublicKey)}
	if _, err := dialCryptosign(t, right.wsURL, nil, cs); err != nil {
		t.Fatalf("Join with the router's key: %v", err)
	}
	for name, e := range map[string]*env{"wrong key": wrong, "no key": unsigned} {
		if _, err := dialCryptosign(t, e.wsURL, nil, cs); err == nil || !strings.Contains(err.Error(), "router authentication failed") {
			t.Errorf("%s: Join error = %v, want router authentication failed", name, err)
		}
	}
}
