package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/router/auth"
)

// TestMain_Cryptosign joins a realm with cryptosign principals from the
// file: with and without authid, with a rotated key, and is refused with a
// key that is not registered.
func TestMain_Cryptosign(t *testing.T) {
	defer goleak.VerifyNone(t)
	alice, bobOld, bobNew, mallory := newKey(t), newKey(t), newKey(t), newKey(t)
	m, _, _ := mustRunConfig(t, `
realms:
  - name: com.example.secure
    cryptosign:
      alice: {public_key: "`+pubHex(alice)+`", role: admin}
      bob:
        public_keys: ["`+pubHex(bobOld)+`", "`+pubHex(bobNew)+`"]
`)
	tests := []struct {
		name       string
		authid     string
		key        ed25519.PrivateKey
		wantAuthID string // "" means: want ABORT wantAbort
		wantRole   string
		wantAbort  protocol.URI
	}{
		{name: "authid", authid: "alice", key: alice, wantAuthID: "alice", wantRole: "admin"},
		{name: "key only", key: alice, wantAuthID: "alice", wantRole: "admin"},
		{name: "second key", authid: "bob", key: bobNew, wantAuthID: "bob", wantRole: "user"},
		{name: "wrong key", authid: "alice", key: mallory, wantAbort: protocol.ErrAuthenticationDenied},
		// Refused like a wrong key, so that keys cannot be enumerated.
		{name: "unknown key", key: mallory, wantAbort: protocol.ErrAuthenticationDenied},
	}
	for _, tt := range tests {
		cfg := client.Config{Realm: "com.example.secure", AuthID: tt.authid, Auth: []client.Authenticator{client.CryptosignAuth(tt.key)}}
		c, err := join(t, m, cfg)
		if tt.wantAuthID == "" {
			if !isAbort(err, tt.wantAbort) {
				t.Errorf("%s: Join() = %v, want ABORT %s", tt.name, err, tt.wantAbort)
			}
			if c != nil {
				c.Close()
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: Join() = %v", tt.name, err)
			continue
		}
		d := c.WelcomeDetails()
		if d.String("authid") != tt.wantAuthID || d.String("authrole") != tt.wantRole || d.String("authmethod") != "cryptosign" {
			t.Errorf("%s: WELCOME details = %v, want authid %s, authrole %s, authmethod cryptosign", tt.name, d, tt.wantAuthID, tt.wantRole)
		}
		c.Close()
	}
	if _, err := join(t, m, client.Config{Realm: "com.example.secure"}); err == nil {
		t.Errorf("anonymous Join() succeeded in a realm with principals")
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
}

// TestMain_WAMPCRA joins with plain and salted WAMP-CRA principals, the
// salted key given as a password (wampd derives it) or as the derived key,
// and checks that no secret reaches the log.
func TestMain_WAMPCRA(t *testing.T) {
	defer goleak.VerifyNone(t)
	derived, err := auth.DeriveCRAKey("carol's password", "pepper", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	m, _, logs := mustRunConfig(t, `
log:
  level: debug
realms:
  - name: com.example.secure
    wampcra:
      bob: {secret: "bob's shared key", role: backend}
      carol: {salt: pepper, derived_key: "`+derived+`"}
      dave: {salt: salt, iterations: 100, keylen: 16, secret: "dave's password", role: ops}
`)
	tests := []struct {
		authid, secret string
		wantRole       string // "" means: want ABORT wamp.error.authentication_denied
	}{
		{authid: "bob", secret: "bob's shared key", wantRole: "backend"},
		{authid: "carol", secret: "carol's password", wantRole: "user"},
		{authid: "dave", secret: "dave's password", wantRole: "ops"},
		{authid: "carol", secret: derived},           // the key is no password
		{authid: "dave", secret: "carol's password"}, // someone else's
	}
	for _, tt := range tests {
		cfg := client.Config{Realm: "com.example.secure", AuthID: tt.authid, Auth: []client.Authenticator{client.WAMPCRAAuth(tt.secret)}}
		c, err := join(t, m, cfg)
		if tt.wantRole == "" {
			if !isAbort(err, protocol.ErrAuthenticationDenied) {
				t.Errorf("%s with %q: Join() = %v, want ABORT %s", tt.authid, tt.secret, err, protocol.ErrAuthenticationDenied)
			}
			if c != nil {
				c.Close()
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: Join() = %v", tt.authid, err)
			continue
		}
		if d := c.WelcomeDetails(); d.String("authid") != tt.authid || d.String("authrole") != tt.wantRole {
			t.Errorf("%s: WELCOME details = %v, want authid %s, authrole %s", tt.authid, d, tt.authid, tt.wantRole)
		}
		c.Close()
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	for _, secret := range []string{"bob's shared key", "carol's password", derived, "dave's password"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("log contains the secret %q:\n%s", secret, logs.String())
		}
	}
}

// TestConfigErrors feeds malformed realm settings to ParseFlags: each is
// refused with an error naming the realm, the principal or key, and the
// problem, and never the secret.
func TestConfigErrors(t *testing.T) {
	key := pubHex(newKey(t))
	goodKey, err := auth.DeriveCRAKey("pw", "salt", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		realm   string // YAML lines under "  - name: a.b\n"
		wantErr []string
	}{
		{name: "unknown slow_consumer", realm: "    slow_consumer: fast\n",
			wantErr: []string{`realm "a.b"`, `slow_consumer "fast"`, "disconnect or drop-events"}},
		{name: "unknown realm key", realm: "    max_session: 1\n",
			wantErr: []string{"max_session"}},
		{name: "salt on ticket", realm: "    ticket:\n      alice: {secret: x, salt: y}\n",
			wantErr: []string{"salt"}},
		{name: "cryptosign bad hex", realm: "    cryptosign:\n      alice: {public_key: zz" + key[2:] + "}\n",
			wantErr: []string{`realm "a.b"`, `cryptosign principal "alice"`, "64 hex digits"}},
		{name: "cryptosign short key", realm: "    cryptosign:\n      alice: {public_keys: [" + key + ", " + key[:62] + "]}\n",
			wantErr: []string{`realm "a.b"`, `cryptosign principal "alice"`, "64 hex digits"}},
		{name: "cryptosign no key", realm: "    cryptosign:\n      alice: {role: admin}\n",
			wantErr: []string{`realm "a.b"`, `cryptosign principal "alice"`, "no public_key"}},
		{name: "wampcra no secret", realm: "    wampcra:\n      bob: {salt: s}\n",
			wantErr: []string{`realm "a.b"`, `wampcra principal "bob"`, "has no secret"}},
		{name: "wampcra secret and key", realm: "    wampcra:\n      bob: {salt: s, secret: hunter2, derived_key: \"" + goodKey + "\"}\n",
			wantErr: []string{`wampcra principal "bob"`, "not both"}},
		{name: "derived_key without salt", realm: "    wampcra:\n      bob: {derived_key: \"" + goodKey + "\"}\n",
			wantErr: []string{`wampcra principal "bob"`, "needs salt"}},
		{name: "derived_key not base64", realm: "    wampcra:\n      bob: {salt: s, derived_key: \"hunter2!\"}\n",
			wantErr: []string{`realm "a.b"`, `wampcra principal "bob"`, "base64 text of 32 bytes"}},
		{name: "derived_key of other keylen", realm: "    wampcra:\n      bob: {salt: s, keylen: 16, derived_key: \"" + goodKey + "\"}\n",
			wantErr: []string{`wampcra principal "bob"`, "base64 text of 16 bytes"}},
		{name: "iterations without salt", realm: "    wampcra:\n      bob: {secret: hunter2, iterations: 5}\n",
			wantErr: []string{`wampcra principal "bob"`, "need salt"}},
		{name: "negative iterations", realm: "    wampcra:\n      bob: {secret: hunter2, salt: s, iterations: -1}\n",
			wantErr: []string{`wampcra principal "bob"`, "iterations -1"}},
		{name: "huge keylen", realm: "    wampcra:\n      bob: {secret: hunter2, salt: s, keylen: 100000}\n",
			wantErr: []string{`wampcra principal "bob"`, "keylen 100000"}},
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
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), goodKey) {
				t.Errorf("ParseFlags() = %q reveals a secret", err)
			}
		})
	}
}

func newKey(tb testing.TB) ed25519.PrivateKey {
	tb.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return priv
}

// pubHex returns the hex public key of priv, as the config file wants it.
func pubHex(priv ed25519.PrivateKey) string {
	return hex.EncodeToString(priv.Public().(ed25519.PublicKey))
}

// TestMain_AuthThrottle: auth_throttle from the file reaches the router:
// past authid_failures wrong tickets, even the right one is refused
// without a CHALLENGE, and the failures are logged without the tickets.
func TestMain_AuthThrottle(t *testing.T) {
	defer goleak.VerifyNone(t)
	m, _, logs := mustRunConfig(t, `
auth_throttle:
  authid_failures: 2
  authid_window: 1h
realms:
  - name: com.example.secure
    ticket:
      alice: {secret: "alice's ticket"}
`)
	login := func(ticket string) error {
		c, err := join(t, m, client.Config{Realm: "com.example.secure", AuthID: "alice", Auth: []client.Authenticator{client.TicketAuth(ticket)}})
		if c != nil {
			c.Close()
		}
		return err
	}
	for i := range 2 {
		if err := login("guess"); !isAbort(err, protocol.ErrAuthenticationDenied) || strings.Contains(err.Error(), "too many") {
			t.Fatalf("guess %d: %v, want ABORT %s for the wrong ticket", i+1, err, protocol.ErrAuthenticationDenied)
		}
	}
	if err := login("alice's ticket"); !isAbort(err, protocol.ErrAuthenticationDenied) || !strings.Contains(err.Error(), router.ThrottledMessage) {
		t.Fatalf("right ticket after 2 guesses: %v, want ABORT %q", err, router.ThrottledMessage)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if s := logs.String(); strings.Count(s, "authentication failed") != 2 || strings.Contains(s, "guess") || strings.Contains(s, "alice's ticket") {
		t.Errorf("log: want 2 failures without tickets, got:\n%s", s)
	}
}

func TestAuthThrottleConfigInvalid(t *testing.T) {
	for _, thr := range []AuthThrottleConfig{{AuthIDWindow: -time.Second}, {LogInterval: -1}, {MaxEntries: -1}} {
		cfg := DefaultConfig()
		cfg.AuthThrottle = thr
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "auth_throttle") {
			t.Errorf("Validate() with auth_throttle %+v = %v, want an auth_throttle error", thr, err)
		}
	}
}

// TestMain_SCRAM joins with WAMP-SCRAM principals from the file: one
// given by password (keys derived at start), one by salt and keys.
func TestMain_SCRAM(t *testing.T) {
	defer goleak.VerifyNone(t)
	keyed, err := auth.DeriveSCRAMPrincipal("bob's password", auth.SCRAMPBKDF2, "W22ZaJ0SNY7soEsUEjb6gQ==", 4096, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	m, _, logs := mustRunConfig(t, `
realms:
  - name: com.example.secure
    scram:
      alice: {password: "alice's password", iterations: 1, memory: 1024, role: admin}
      bob:
        kdf: pbkdf2
        iterations: 4096
        salt: "W22ZaJ0SNY7soEsUEjb6gQ=="
        stored_key: "`+base64.StdEncoding.EncodeToString(keyed.StoredKey)+`"
        server_key: "`+base64.StdEncoding.EncodeToString(keyed.ServerKey)+`"
`)
	for _, tt := range []struct{ authid, password, role string }{{"alice", "alice's password", "admin"}, {"bob", "bob's password", "user"}} {
		c, err := join(t, m, client.Config{Realm: "com.example.secure", AuthID: tt.authid, Auth: []client.Authenticator{client.SCRAMAuth(tt.password)}})
		if err != nil {
			t.Fatalf("%s: Join() = %v", tt.authid, err)
		}
		if d := c.WelcomeDetails(); d.String("authrole") != tt.role || d.String("authmethod") != "wamp-scram" {
			t.Errorf("%s: WELCOME details %v", tt.authid, d)
		}
		c.Close()
	}
	if _, err := join(t, m, client.Config{Realm: "com.example.secure", AuthID: "alice", Auth: []client.Authenticator{client.SCRAMAuth("guess")}}); !isAbort(err, protocol.ErrAuthenticationDenied) {
		t.Errorf("wrong password: Join() = %v, want ABORT %s", err, protocol.ErrAuthenticationDenied)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if s := logs.String(); strings.Contains(s, "password") {
		t.Errorf("the log names a password:\n%s", s)
	}
}

func TestSCRAMConfigInvalid(t *testing.T) {
	key := Secret(base64.StdEncoding.EncodeToString(make([]byte, 32)))
	tests := []struct {
		name string
		p    SCRAMPrincipalConfig
		want string
	}{
		{"nothing", SCRAMPrincipalConfig{}, "no password"},
		{"both", SCRAMPrincipalConfig{Password: "x", StoredKey: key, ServerKey: key, Salt: "AAAA"}, "not both"},
		{"keys without salt", SCRAMPrincipalConfig{StoredKey: key, ServerKey: key}, "need salt"},
		{"short key", SCRAMPrincipalConfig{StoredKey: "AAAA", ServerKey: key, Salt: "AAAA"}, "stored_key"},
		{"unknown kdf", SCRAMPrincipalConfig{Password: "x", KDF: "scrypt"}, "kdf"},
		{"cheap pbkdf2", SCRAMPrincipalConfig{Password: "x", KDF: "pbkdf2", Iterations: 1000}, "pbkdf2 iterations"},
		{"pbkdf2 with memory", SCRAMPrincipalConfig{Password: "x", KDF: "pbkdf2", Memory: 1024}, "no memory"},
		{"tiny argon2id", SCRAMPrincipalConfig{Password: "x", Memory: 8}, "argon2id13"},
		{"salt not base64", SCRAMPrincipalConfig{Password: "x", Salt: "%%"}, "salt"},
	}
	for _, tt := range tests {
		cfg := DefaultConfig()
		cfg.Realms = []RealmConfig{{Name: "r", SCRAM: map[string]SCRAMPrincipalConfig{"u": tt.p}}}
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate() = %v, want an error about %q", tt.name, err, tt.want)
		}
		if err != nil && tt.p.Password != "" && strings.Contains(err.Error(), string(tt.p.Password)+`"`) {
			t.Errorf("%s: error shows the password: %v", tt.name, err)
		}
	}
}
