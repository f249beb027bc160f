package main

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/wampkit/wampkit/client"
)

// TestMain_CryptosignRouterKey: cryptosign_router_key, in each of its
// formats and read from a file, makes wampd sign the client's challenge;
// a client that verifies the router's key joins when it expects that
// key, and refuses a wampd with another key (or none). The key never
// reaches the log.
func TestMain_CryptosignRouterKey(t *testing.T) {
	defer goleak.VerifyNone(t)
	routerKey, otherKey, clientKey := newKey(t), newKey(t), newKey(t)
	seedHex := hex.EncodeToString(routerKey.Seed())
	der, err := x509.MarshalPKCS8PrivateKey(routerKey)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "router.key")
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
	formats := []struct{ name, yaml string }{
		{"seed", `"` + seedHex + `"`},
		{"seed and public key", `"` + hex.EncodeToString(routerKey) + `"`},
		{"PEM file", `{file: "` + keyFile + `"}`},
	}
	verify := client.Cryptosign{Key: clientKey, RouterKey: routerKey.Public().(ed25519.PublicKey)}
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			m, _, logs := mustRunConfig(t, routerKeyConfig(clientKey, f.yaml))
			c, err := join(t, m, client.Config{Realm: "com.example.secure", Auth: []client.Authenticator{verify}})
			if err != nil {
				t.Fatalf("Join verifying the router's key: %v", err)
			}
			c.Close()
			if err := m.Close(); err != nil {
				t.Fatalf("Close() = %v", err)
			}
			if strings.Contains(logs.String(), seedHex) || strings.Contains(logs.String(), hex.EncodeToString(routerKey)) {
				t.Errorf("the log shows the router key:\n%s", logs)
			}
		})
	}
	for name, yaml := range map[string]string{"other key": `"` + hex.EncodeToString(otherKey.Seed()) + `"`, "no key": ""} {
		t.Run(name, func(t *testing.T) {
			m, _, _ := mustRunConfig(t, routerKeyConfig(clientKey, yaml))
			c, err := join(t, m, client.Config{Realm: "com.example.secure", Auth: []client.Authenticator{verify}})
			if err == nil {
				c.Close()
				t.Fatalf("Join verifying the router's key succeeded against a wampd with %s", name)
			}
			if !strings.Contains(err.Error(), "router authentication failed") {
				t.Errorf("Join() = %v, want router authentication failed", err)
			}
			// A client that does not check the router still joins.
			c, err = join(t, m, client.Config{Realm: "com.example.secure", Auth: []client.Authenticator{client.CryptosignAuth(clientKey)}})
			if err != nil {
				t.Fatalf("Join without router authentication: %v", err)
			}
			c.Close()
			if err := m.Close(); err != nil {
				t.Fatalf("Close() = %v", err)
			}
		})
	}
}

// routerKeyConfig returns a configuration whose realm com.example.secure
// admits clientKey with cryptosign, with cryptosign_router_key key (a
// YAML value; "" leaves it out).
func routerKeyConfig(clientKey ed25519.PrivateKey, key string) string {
	cfg := `
realms:
  - name: com.example.secure
    cryptosign:
      device: {public_key: "` + pubHex(clientKey) + `"}
`
	if key != "" {
		cfg += "    cryptosign_router_key: " + key + "\n"
	}
	return cfg
}

// TestCryptosignRouterKeyInvalid: a malformed key, or one without
// cryptosign principals, stops wampd at start with an error that does
// not quote it.
func TestCryptosignRouterKeyInvalid(t *testing.T) {
	key := newKey(t)
	other := newKey(t)
	principals := "    cryptosign:\n      device: {public_key: \"" + pubHex(key) + "\"}\n"
	mismatched := hex.EncodeToString(key.Seed()) + hex.EncodeToString(other.Public().(ed25519.PublicKey))
	tests := []struct {
		name, realm, secret string
		wantErr             []string
	}{
		{"not hex", principals + "    cryptosign_router_key: \"zz-secret-zz\"\n", "zz-secret-zz", []string{`realm "a.b"`, "cryptosign_router_key", "hex digits"}},
		{"short", principals + "    cryptosign_router_key: \"abcdef\"\n", "abcdef", []string{"cryptosign_router_key", "6 hex digits"}},
		{"public key not the seed's", principals + "    cryptosign_router_key: \"" + mismatched + "\"\n", mismatched, []string{"cryptosign_router_key", "not the seed's public key"}},
		{"PEM of another type", principals + "    cryptosign_router_key: \"-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\\n\"\n", "AAAA", []string{"cryptosign_router_key", "CERTIFICATE"}},
		{"without principals", "    cryptosign_router_key: \"" + hex.EncodeToString(key.Seed()) + "\"\n", hex.EncodeToString(key.Seed()), []string{"cryptosign_router_key without cryptosign principals"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "wampd.yaml")
			writeFile(t, path, "realms:\n  - name: a.b\n"+tt.realm)
			m := NewMain()
			m.Stderr = io.Discard
			err := m.ParseFlags(context.Background(), []string{"-config", path})
			if err == nil {
				t.Fatalf("ParseFlags() with\n%s= nil, want an error", tt.realm)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("ParseFlags() = %q, want it to contain %q", err, want)
				}
			}
			if strings.Contains(err.Error(), tt.secret) {
				t.Errorf("ParseFlags() = %q quotes the key", err)
			}
		})
	}
}

// TestMain_ReloadCryptosignRouterKey: a reload (SIGHUP) that changes
// cryptosign_router_key, here read from a file, makes new sessions see
// the new key: a client that verifies the old key now refuses wampd, one
// that verifies the new key joins, and the session joined before stays.
// The log names the change, never the key.
func TestMain_ReloadCryptosignRouterKey(t *testing.T) {
	defer goleak.VerifyNone(t)
	oldKey, nextKey, clientKey := newKey(t), newKey(t), newKey(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "router.key")
	writeFile(t, keyFile, hex.EncodeToString(oldKey.Seed())+"\n")
	path := filepath.Join(dir, "wampd.yaml")
	writeFile(t, path, "log: {format: json}\n"+routerKeyConfig(clientKey, `{file: "`+keyFile+`"}`))
	m, _, logs := mustRunMain(t, "-config", path, "-ws", "127.0.0.1:0", "-rawsocket", "")
	defer m.Close() // before goleak looks
	verifying := func(k ed25519.PrivateKey) client.Config {
		return client.Config{Realm: "com.example.secure",
			Auth: []client.Authenticator{client.Cryptosign{Key: clientKey, RouterKey: k.Public().(ed25519.PublicKey)}}}
	}
	before := mustJoin(t, m, verifying(oldKey))
	defer before.Close()
	if c, err := join(t, m, verifying(nextKey)); err == nil {
		c.Close()
		t.Fatal("Join verifying the new key succeeded before the reload")
	}

	writeFile(t, keyFile, hex.EncodeToString(nextKey.Seed())+"\n")
	if err := m.Reload(context.Background()); err != nil {
		t.Fatalf("Reload() = %v", err)
	}
	if c, err := join(t, m, verifying(oldKey)); err == nil || !strings.Contains(err.Error(), "router authentication failed") {
		if err == nil {
			c.Close()
		}
		t.Fatalf("Join verifying the old key after the reload = %v, want router authentication failed", err)
	}
	mustJoin(t, m, verifying(nextKey)).Close()
	// The session joined before the reload is still there.
	if _, err := before.Call(context.Background(), "wamp.session.count", nil); err != nil {
		t.Errorf("the session joined before the reload: Call = %v", err)
	}
	select {
	case <-before.Done():
		t.Error("the session joined before the reload ended")
	default:
	}

	if err := m.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	updated := findLog(logLines(t, logs.String()), "reload: realm updated")
	if got := updated["credentials_changed"]; !cmp.Equal(got, []any{"cryptosign_router_key"}) {
		t.Errorf("reload: realm updated line %v, want credentials_changed [cryptosign_router_key]", updated)
	}
	for _, k := range []ed25519.PrivateKey{oldKey, nextKey} {
		if strings.Contains(logs.String(), hex.EncodeToString(k.Seed())) {
			t.Errorf("the log shows a router key:\n%s", logs)
		}
	}
}
