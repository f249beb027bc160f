package auth_test

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/router/auth"
)

// scriptedChallenger answers each CHALLENGE with answer and records the
// challenges.
type scriptedChallenger struct {
	answer func(method string, extra protocol.Dict) string
	seen   []protocol.Dict
}

func (c *scriptedChallenger) Challenge(_ context.Context, method string, extra protocol.Dict) (*protocol.Authenticate, error) {
	c.seen = append(c.seen, extra)
	return &protocol.Authenticate{Signature: c.answer(method, extra), Extra: protocol.Dict{}}, nil
}

// authOutcome runs a.Authenticate and returns its identity or the ABORT
// reason it asks for.
func authOutcome(tb testing.TB, a router.Authenticator, req *router.AuthRequest, ch router.Challenger) (*router.Identity, protocol.URI) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	idn, err := a.Authenticate(ctx, req, ch)
	if err == nil {
		return idn, ""
	}
	var ae *router.AuthError
	if !errors.As(err, &ae) {
		tb.Fatalf("Authenticate() error %v is not an *AuthError", err)
	}
	return nil, ae.Reason
}

func TestTicketAuthenticator(t *testing.T) {
	static := &auth.Ticket{Principals: map[string]auth.Principal{
		"alice": {Secret: "opensesame", Role: "admin"},
		"bob":   {Secret: "hunter2"},
		"eve":   {},
	}}
	checked := &auth.Ticket{
		AuthProvider: "tokens",
		Check: func(_ context.Context, req *router.AuthRequest, ticket string) (*router.Identity, error) {
			if ticket != "token-"+req.AuthID {
				return nil, &router.AuthError{Reason: protocol.ErrAuthenticationDenied}
			}
			return &router.Identity{AuthRole: "reader"}, nil
		},
	}
	tests := []struct {
		name          string
		auth          *auth.Ticket
		authid        string
		ticket        string
		want          *router.Identity
		wantReason    protocol.URI
		wantChallenge bool
	}{
		{"right", static, "alice", "opensesame", &router.Identity{AuthID: "alice", AuthRole: "admin", AuthMethod: "ticket", AuthProvider: "static"}, "", true},
		{"default role", static, "bob", "hunter2", &router.Identity{AuthID: "bob", AuthRole: "user", AuthMethod: "ticket", AuthProvider: "static"}, "", true},
		{"wrong ticket", static, "alice", "hunter2", nil, protocol.ErrAuthenticationDenied, true},
		{"prefix of the ticket", static, "alice", "opensesam", nil, protocol.ErrAuthenticationDenied, true},
		{"empty ticket", static, "alice", "", nil, protocol.ErrAuthenticationDenied, true},
		// An unknown authid is challenged and refused like a wrong ticket.
		{"unknown authid", static, "carol", "opensesame", nil, protocol.ErrAuthenticationDenied, true},
		{"empty Secret admits nobody", static, "eve", "", nil, protocol.ErrAuthenticationDenied, true},
		{"missing authid", static, "", "opensesame", nil, protocol.ErrAuthenticationRequired, false},
		{"Check right", checked, "dave", "token-dave", &router.Identity{AuthID: "dave", AuthRole: "reader", AuthMethod: "ticket", AuthProvider: "tokens"}, "", true},
		{"Check wrong", checked, "dave", "token-eve", nil, protocol.ErrAuthenticationDenied, true},
		{"Check missing authid", checked, "", "token-", nil, protocol.ErrAuthenticationRequired, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := &scriptedChallenger{answer: func(method string, extra protocol.Dict) string {
				if method != "ticket" || len(extra) != 0 {
					t.Errorf("CHALLENGE %q %v, want \"ticket\" {}", method, extra)
				}
				return tt.ticket
			}}
			got, reason := authOutcome(t, tt.auth, &router.AuthRequest{Realm: realm1, AuthID: tt.authid, AuthMethods: []string{"ticket"}}, ch)
			if reason != tt.wantReason {
				t.Errorf("ABORT reason = %q, want %q", reason, tt.wantReason)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Identity mismatch (-want +got):\n%s", diff)
			}
			if challenged := len(ch.seen) > 0; challenged != tt.wantChallenge {
				t.Errorf("challenged = %v, want %v", challenged, tt.wantChallenge)
			}
		})
	}
}

// craSignature is what a WAMP-CRA client answers to extra: with salt it
// derives the key from secret first (Autobahn's convention).
func craSignature(tb testing.TB, secret string, extra protocol.Dict) string {
	tb.Helper()
	key := secret
	if salt := extra.String("salt"); salt != "" {
		iter, _ := extra.Int("iterations")
		keylen, _ := extra.Int("keylen")
		var err error
		if key, err = auth.DeriveCRAKey(secret, salt, int(iter), int(keylen)); err != nil {
			tb.Fatal(err)
		}
	}
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(extra.String("challenge")))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func TestDeriveCRAKey(t *testing.T) {
	// The wants are Autobahn|Python's auth.derive_key(password, salt,
	// iterations, keylen).
	tests := []struct {
		password, salt string
		iter, keylen   int
		want           string
	}{
		{"secret123", "salt123", 100, 16, "DpHHRlQ6UNULJlP9J8WkPw=="},
		{"pa55word", "NaCl", 100, 32, "56RCAkWU3wb82TDNArOuWhG7xXWsDFgw5i7XRLYV/jQ="},
	}
	for _, tt := range tests {
		got, err := auth.DeriveCRAKey(tt.password, tt.salt, tt.iter, tt.keylen)
		if err != nil || got != tt.want {
			t.Errorf("DeriveCRAKey(%q, %q, %d, %d) = %q, %v, want %q", tt.password, tt.salt, tt.iter, tt.keylen, got, err, tt.want)
		}
	}
}

func TestWAMPCRAAuthenticator(t *testing.T) {
	salted, err := auth.DeriveCRAKey("pa55word", "NaCl", 100, 32)
	if err != nil {
		t.Fatal(err)
	}
	cra := &auth.WAMPCRA{AuthProvider: "userdb", Principals: map[string]auth.Principal{
		"peter": {Secret: "secret123", Role: "user"},
		"salty": {Secret: salted, Role: "admin", Salt: "NaCl", Iterations: 100, KeyLen: 32},
		"eve":   {Role: "user"},
	}}
	var replayed string // a signature from an earlier round
	tests := []struct {
		name          string
		authid        string
		answer        func(t *testing.T, extra protocol.Dict) string
		wantReason    protocol.URI
		wantChallenge bool
	}{
		{"right", "peter", func(t *testing.T, e protocol.Dict) string { return craSignature(t, "secret123", e) }, "", true},
		{"right salted", "salty", func(t *testing.T, e protocol.Dict) string { return craSignature(t, "pa55word", e) }, "", true},
		{"salted, key as password", "salty", func(t *testing.T, e protocol.Dict) string {
			return craSignature(t, salted, protocol.Dict{"challenge": e["challenge"]})
		}, "", true},
		{"wrong secret", "peter", func(t *testing.T, e protocol.Dict) string { return craSignature(t, "secret124", e) }, protocol.ErrAuthenticationDenied, true},
		{"salted, wrong password", "salty", func(t *testing.T, e protocol.Dict) string { return craSignature(t, "password", e) }, protocol.ErrAuthenticationDenied, true},
		{"salted, salt ignored", "salty", func(t *testing.T, e protocol.Dict) string {
			return craSignature(t, "pa55word", protocol.Dict{"challenge": e["challenge"]})
		}, protocol.ErrAuthenticationDenied, true},
		{"not base64", "peter", func(*testing.T, protocol.Dict) string { return "not base64!" }, protocol.ErrAuthenticationDenied, true},
		{"wrong length", "peter", func(*testing.T, protocol.Dict) string { return base64.StdEncoding.EncodeToString([]byte("short")) }, protocol.ErrAuthenticationDenied, true},
		{"empty signature", "peter", func(*testing.T, protocol.Dict) string { return "" }, protocol.ErrAuthenticationDenied, true},
		{"record", "peter", func(t *testing.T, e protocol.Dict) string {
			replayed = craSignature(t, "secret123", e)
			return replayed
		}, "", true},
		{"replay", "peter", func(*testing.T, protocol.Dict) string { return replayed }, protocol.ErrAuthenticationDenied, true},
		{"empty Secret admits nobody", "eve", func(t *testing.T, e protocol.Dict) string { return craSignature(t, "", e) }, protocol.ErrAuthenticationDenied, true},
		// An unknown authid is challenged and refused like a wrong secret.
		{"unknown authid", "paul", func(t *testing.T, e protocol.Dict) string { return craSignature(t, "secret123", e) }, protocol.ErrAuthenticationDenied, true},
		{"unknown authid, empty secret", "paul", func(t *testing.T, e protocol.Dict) string { return craSignature(t, "", e) }, protocol.ErrAuthenticationDenied, true},
		{"missing authid", "", nil, protocol.ErrAuthenticationRequired, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := &scriptedChallenger{answer: func(method string, extra protocol.Dict) string {
				if method != "wampcra" {
					t.Errorf("CHALLENGE method %q, want wampcra", method)
				}
				return tt.answer(t, extra)
			}}
			const session = protocol.ID(3251278072152162)
			got, reason := authOutcome(t, cra, &router.AuthRequest{Realm: realm1, Session: session, AuthID: tt.authid, AuthMethods: []string{"wampcra"}}, ch)
			if reason != tt.wantReason {
				t.Errorf("ABORT reason = %q, want %q", reason, tt.wantReason)
			}
			if challenged := len(ch.seen) > 0; challenged != tt.wantChallenge {
				t.Fatalf("challenged = %v, want %v", challenged, tt.wantChallenge)
			}
			if !tt.wantChallenge {
				return
			}
			p, ok := cra.Principals[tt.authid]
			if !ok {
				// The decoy of an unknown authid has the realm's most
				// common role and, like most of its principals, no salt.
				p = auth.Principal{Role: "user"}
			}
			var c map[string]any
			if err := json.Unmarshal([]byte(ch.seen[0].String("challenge")), &c); err != nil {
				t.Fatalf("challenge is not JSON: %v", err)
			}
			for k, want := range map[string]any{"authid": tt.authid, "authrole": p.Role, "authmethod": "wampcra", "authprovider": "userdb", "session": float64(session)} {
				if c[k] != want {
					t.Errorf("challenge.%s = %v, want %v", k, c[k], want)
				}
			}
			if n, _ := c["nonce"].(string); len(n) < 16 {
				t.Errorf("challenge.nonce = %q, want 16+ random characters", n)
			}
			if ts, _ := c["timestamp"].(string); !strings.HasSuffix(ts, "Z") || len(ts) != len("2014-06-22T16:36:25.448Z") {
				t.Errorf("challenge.timestamp = %q, want UTC ISO 8601", ts)
			}
			wantSalt := protocol.Dict{}
			if p.Salt != "" {
				wantSalt = protocol.Dict{"salt": p.Salt, "iterations": p.Iterations, "keylen": p.KeyLen}
			}
			gotSalt := protocol.Dict{}
			for _, k := range []string{"salt", "iterations", "keylen"} {
				if v, ok := ch.seen[0][k]; ok {
					gotSalt[k] = v
				}
			}
			if diff := cmp.Diff(wantSalt, gotSalt); diff != "" {
				t.Errorf("CHALLENGE salt parameters mismatch (-want +got):\n%s", diff)
			}
			if reason == "" {
				want := &router.Identity{AuthID: tt.authid, AuthRole: p.Role, AuthMethod: "wampcra", AuthProvider: "userdb"}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("Identity mismatch (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// cryptosignVectors are the test vectors without channel binding of spec
// advanced/authentication_cryptosign.md, "Test Vectors".
var cryptosignVectors = []struct{ seed, challenge, signature string }{
	{"4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510", "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", "b32675b221f08593213737bef8240e7c15228b07028e19595294678c90d11c0cae80a357331bfc5cc9fb71081464e6e75013517c2cf067ad566a6b7b728e5d03ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"},
	{"d511fe78e23934b3dadb52fcd022974b80bd92bccc7c5cf404e46cc0a8a2f5cd", "b26c1f87c13fc1da14997f1b5a71995dff8fbe0a62fae8473c7bdbd05bfb607d", "d4209ad10d5aff6bfbc009d7e924795de138a63515efc7afc6b01b7fe5201372190374886a70207b042294af5bd64ce725cd8dceb344e6d11c09d1aaaf4d660fb26c1f87c13fc1da14997f1b5a71995dff8fbe0a62fae8473c7bdbd05bfb607d"},
	{"6e1fde9cf9e2359a87420b65a87dc0c66136e66945196ba2475990d8a0c3a25b", "b05e6b8ad4d69abf74aa3be3c0ee40ae07d66e1895b9ab09285a2f1192d562d2", "7beb282184baadd08f166f16dd683b39cab53816ed81e6955def951cb2ddad1ec184e206746fd82bda075af03711d3d5658fc84a76196b0fa8d1ebc92ef9f30bb05e6b8ad4d69abf74aa3be3c0ee40ae07d66e1895b9ab09285a2f1192d562d2"},
}

func mustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestCryptosignVectors checks that the router accepts the spec's
// signatures: the vector's challenge is what the router sends.
func TestCryptosignVectors(t *testing.T) {
	for _, v := range cryptosignVectors {
		priv := ed25519.NewKeyFromSeed(mustHex(t, v.seed))
		pub := priv.Public().(ed25519.PublicKey)
		if got := hex.EncodeToString(ed25519.Sign(priv, mustHex(t, v.challenge))) + v.challenge; got != v.signature {
			t.Errorf("sign(%s) = %s, want %s", v.challenge, got, v.signature)
		}
		sig := mustHex(t, v.signature)
		if !ed25519.Verify(pub, sig[64:], sig[:64]) {
			t.Errorf("vector signature %s does not verify", v.signature)
		}
	}
}

func TestCryptosignAuthenticator(t *testing.T) {
	keys := make([]ed25519.PrivateKey, 3)
	for i := range keys {
		keys[i] = ed25519.NewKeyFromSeed(mustHex(t, cryptosignVectors[i].seed))
	}
	pub := func(i int) ed25519.PublicKey { return keys[i].Public().(ed25519.PublicKey) }
	pubHex := func(i int) string { return hex.EncodeToString(pub(i)) }
	unknownKey := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	cs := &auth.Cryptosign{Principals: map[string]auth.CryptosignPrincipal{
		"client01@example.com": {Role: "device", PublicKeys: []ed25519.PublicKey{pub(0), pub(1)}},
		"shared1":              {PublicKeys: []ed25519.PublicKey{pub(2)}},
		"shared2":              {PublicKeys: []ed25519.PublicKey{pub(2)}},
	}}
	lookup := &auth.Cryptosign{AuthProvider: "keyring", Lookup: func(_ context.Context, req *router.AuthRequest, k ed25519.PublicKey) (*router.Identity, error) {
		if !k.Equal(pub(0)) {
			return nil, nil
		}
		return &router.Identity{AuthRole: "robot"}, nil
	}}
	sign := func(i int) func(*testing.T, []byte) string {
		return func(_ *testing.T, c []byte) string {
			return hex.EncodeToString(ed25519.Sign(keys[i], c)) + hex.EncodeToString(c)
		}
	}
	var recorded string
	tests := []struct {
		name          string
		auth          *auth.Cryptosign
		authid        string
		authextra     protocol.Dict
		answer        func(t *testing.T, challenge []byte) string
		want          *router.Identity
		wantReason    protocol.URI
		wantChallenge bool
	}{
		{"right", cs, "client01@example.com", protocol.Dict{"pubkey": pubHex(0)}, sign(0),
			&router.Identity{AuthID: "client01@example.com", AuthRole: "device", AuthMethod: "cryptosign", AuthProvider: "static"}, "", true},
		{"second key", cs, "client01@example.com", protocol.Dict{"pubkey": pubHex(1)}, sign(1),
			&router.Identity{AuthID: "client01@example.com", AuthRole: "device", AuthMethod: "cryptosign", AuthProvider: "static"}, "", true},
		{"no authid", cs, "", protocol.Dict{"pubkey": pubHex(1)}, sign(1),
			&router.Identity{AuthID: "client01@example.com", AuthRole: "device", AuthMethod: "cryptosign", AuthProvider: "static"}, "", true},
		// Without TLS there is no channel to bind to (see
		// TestCryptosignChannelBinding for TLS).
		{"channel binding asked without TLS", cs, "", protocol.Dict{"pubkey": pubHex(0), "channel_binding": "tls-unique"}, sign(0), nil, protocol.ErrAuthenticationDenied, false},
		{"channel binding null", cs, "", protocol.Dict{"pubkey": pubHex(0), "channel_binding": nil}, sign(0),
			&router.Identity{AuthID: "client01@example.com", AuthRole: "device", AuthMethod: "cryptosign", AuthProvider: "static"}, "", true},
		{"signed by another key", cs, "client01@example.com", protocol.Dict{"pubkey": pubHex(0)}, sign(1), nil, protocol.ErrAuthenticationDenied, true},
		{"signature not hex", cs, "client01@example.com", protocol.Dict{"pubkey": pubHex(0)}, func(t *testing.T, c []byte) string {
			return strings.Repeat("zz", 96)
		}, nil, protocol.ErrAuthenticationDenied, true},
		{"signature without challenge", cs, "client01@example.com", protocol.Dict{"pubkey": pubHex(0)}, func(t *testing.T, c []byte) string {
			return hex.EncodeToString(ed25519.Sign(keys[0], c))
		}, nil, protocol.ErrAuthenticationDenied, true},
		{"signature too long", cs, "client01@example.com", protocol.Dict{"pubkey": pubHex(0)}, func(t *testing.T, c []byte) string {
			return sign(0)(t, c) + "00"
		}, nil, protocol.ErrAuthenticationDenied, true},
		{"signature over another message", cs, "client01@example.com", protocol.Dict{"pubkey": pubHex(0)}, func(t *testing.T, c []byte) string {
			other := make([]byte, 32)
			return hex.EncodeToString(ed25519.Sign(keys[0], other)) + hex.EncodeToString(c)
		}, nil, protocol.ErrAuthenticationDenied, true},
		{"record", cs, "client01@example.com", protocol.Dict{"pubkey": pubHex(0)}, func(t *testing.T, c []byte) string {
			recorded = sign(0)(t, c)
			return recorded
		}, &router.Identity{AuthID: "client01@example.com", AuthRole: "device", AuthMethod: "cryptosign", AuthProvider: "static"}, "", true},
		{"replay", cs, "client01@example.com", protocol.Dict{"pubkey": pubHex(0)}, func(*testing.T, []byte) string { return recorded }, nil, protocol.ErrAuthenticationDenied, true},
		{"spec vector against a fresh challenge", cs, "client01@example.com", protocol.Dict{"pubkey": pubHex(0)}, func(*testing.T, []byte) string {
			return cryptosignVectors[0].signature
		}, nil, protocol.ErrAuthenticationDenied, true},
		// Unknown authids and keys are challenged and refused like a
		// wrong signature, even when the client signs right with its key.
		{"key of another authid", cs, "client01@example.com", protocol.Dict{"pubkey": pubHex(2)}, sign(2), nil, protocol.ErrAuthenticationDenied, true},
		{"unknown authid", cs, "nobody", protocol.Dict{"pubkey": pubHex(0)}, sign(0), nil, protocol.ErrAuthenticationDenied, true},
		{"unknown key", cs, "", protocol.Dict{"pubkey": hex.EncodeToString(make([]byte, 32))}, sign(0), nil, protocol.ErrAuthenticationDenied, true},
		{"unknown key signing right", cs, "", protocol.Dict{"pubkey": hex.EncodeToString(unknownKey.Public().(ed25519.PublicKey))}, func(_ *testing.T, c []byte) string {
			return hex.EncodeToString(ed25519.Sign(unknownKey, c)) + hex.EncodeToString(c)
		}, nil, protocol.ErrAuthenticationDenied, true},
		{"ambiguous key", cs, "", protocol.Dict{"pubkey": pubHex(2)}, sign(2), nil, protocol.ErrAuthenticationDenied, false},
		{"ambiguous key with authid", cs, "shared2", protocol.Dict{"pubkey": pubHex(2)}, sign(2),
			&router.Identity{AuthID: "shared2", AuthRole: "user", AuthMethod: "cryptosign", AuthProvider: "static"}, "", true},
		{"missing pubkey", cs, "client01@example.com", nil, sign(0), nil, protocol.ErrAuthenticationRequired, false},
		{"pubkey not hex", cs, "client01@example.com", protocol.Dict{"pubkey": "xyz"}, sign(0), nil, protocol.ErrAuthenticationDenied, false},
		{"pubkey too short", cs, "client01@example.com", protocol.Dict{"pubkey": pubHex(0)[:62]}, sign(0), nil, protocol.ErrAuthenticationDenied, false},
		{"Lookup right", lookup, "", protocol.Dict{"pubkey": pubHex(0)}, sign(0),
			&router.Identity{AuthID: pubHex(0), AuthRole: "robot", AuthMethod: "cryptosign", AuthProvider: "keyring"}, "", true},
		{"Lookup right with authid", lookup, "r2d2", protocol.Dict{"pubkey": pubHex(0)}, sign(0),
			&router.Identity{AuthID: "r2d2", AuthRole: "robot", AuthMethod: "cryptosign", AuthProvider: "keyring"}, "", true},
		{"Lookup unknown key", lookup, "", protocol.Dict{"pubkey": pubHex(1)}, sign(1), nil, protocol.ErrAuthenticationDenied, true},
		{"Lookup wrong signature", lookup, "", protocol.Dict{"pubkey": pubHex(0)}, sign(1), nil, protocol.ErrAuthenticationDenied, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := &scriptedChallenger{answer: func(method string, extra protocol.Dict) string {
				if method != "cryptosign" {
					t.Errorf("CHALLENGE method %q, want cryptosign", method)
				}
				if v, ok := extra["channel_binding"]; !ok || v != nil {
					t.Errorf("CHALLENGE.Extra.channel_binding = %v, want null", v)
				}
				c := mustHex(t, extra.String("challenge"))
				if len(c) != 32 {
					t.Fatalf("challenge of %d bytes, want 32", len(c))
				}
				return tt.answer(t, c)
			}}
			req := &router.AuthRequest{Realm: realm1, AuthID: tt.authid, AuthExtra: tt.authextra, AuthMethods: []string{"cryptosign"}}
			got, reason := authOutcome(t, tt.auth, req, ch)
			if reason != tt.wantReason {
				t.Errorf("ABORT reason = %q, want %q", reason, tt.wantReason)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Identity mismatch (-want +got):\n%s", diff)
			}
			if challenged := len(ch.seen) > 0; challenged != tt.wantChallenge {
				t.Errorf("challenged = %v, want %v", challenged, tt.wantChallenge)
			}
		})
	}
}

// TestBuiltinAuthenticatorsWire runs each built-in through a router: the
// WELCOME and ABORT messages a client sees.
func TestBuiltinAuthenticatorsWire(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(mustHex(t, cryptosignVectors[0].seed))
	r := newRouter(t, router.Config{Realms: []router.RealmConfig{{Name: realm1, Authenticators: []router.Authenticator{
		&auth.Ticket{Principals: map[string]auth.Principal{"joe": {Secret: "secret!!!"}}},
		&auth.WAMPCRA{Principals: map[string]auth.Principal{"peter": {Secret: "secret1", Role: "admin"}}},
		&auth.Cryptosign{Principals: map[string]auth.CryptosignPrincipal{"client01@example.com": {PublicKeys: []ed25519.PublicKey{priv.Public().(ed25519.PublicKey)}}}},
	}}}})
	tests := []struct {
		method, authid string
		authextra      protocol.Dict
		answer         func(extra protocol.Dict) string
		wantRole       string
		wantReason     protocol.URI
	}{
		{"ticket", "joe", nil, func(protocol.Dict) string { return "secret!!!" }, "user", ""},
		{"ticket", "joe", nil, func(protocol.Dict) string { return "secret" }, "", protocol.ErrAuthenticationDenied},
		{"wampcra", "peter", nil, func(e protocol.Dict) string { return craSignature(t, "secret1", e) }, "admin", ""},
		{"wampcra", "peter", nil, func(e protocol.Dict) string { return craSignature(t, "secret2", e) }, "", protocol.ErrAuthenticationDenied},
		{"cryptosign", "", protocol.Dict{"pubkey": hex.EncodeToString(priv.Public().(ed25519.PublicKey))}, func(e protocol.Dict) string {
			c := mustHex(t, e.String("challenge"))
			return hex.EncodeToString(ed25519.Sign(priv, c)) + hex.EncodeToString(c)
		}, "user", ""},
		{"cryptosign", "", protocol.Dict{"pubkey": hex.EncodeToString(priv.Public().(ed25519.PublicKey))}, func(e protocol.Dict) string {
			return cryptosignVectors[0].signature
		}, "", protocol.ErrAuthenticationDenied},
	}
	for _, tt := range tests {
		t.Run(tt.method+"/"+string(tt.wantReason), func(t *testing.T) {
			c := connect(t, r)
			d := protocol.Dict{"roles": clientRoles(), "authmethods": []any{tt.method}}
			if tt.authid != "" {
				d["authid"] = tt.authid
			}
			if tt.authextra != nil {
				d["authextra"] = map[string]any(tt.authextra)
			}
			c.send(&protocol.Hello{Realm: realm1, Details: d})
			ch := expect[*protocol.Challenge](c)
			if ch.AuthMethod != tt.method {
				t.Fatalf("CHALLENGE method %q, want %q", ch.AuthMethod, tt.method)
			}
			c.send(&protocol.Authenticate{Signature: tt.answer(ch.Extra), Extra: protocol.Dict{}})
			if tt.wantReason != "" {
				c.expectAbort(tt.wantReason)
				return
			}
			w := expect[*protocol.Welcome](c)
			wantID := tt.authid
			if wantID == "" {
				wantID = "client01@example.com"
			}
			for key, want := range map[string]string{"authid": wantID, "authrole": tt.wantRole, "authmethod": tt.method, "authprovider": "static"} {
				if got := w.Details.String(key); got != want {
					t.Errorf("WELCOME.Details.%s = %q, want %q", key, got, want)
				}
			}
		})
	}
}

func TestCryptosignRouterAuthentication(t *testing.T) {
	clientKey := ed25519.NewKeyFromSeed(mustHex(t, cryptosignVectors[0].seed))
	routerKey := ed25519.NewKeyFromSeed(mustHex(t, cryptosignVectors[1].seed))
	principals := map[string]auth.CryptosignPrincipal{"c": {PublicKeys: []ed25519.PublicKey{clientKey.Public().(ed25519.PublicKey)}}}
	const clientChallenge = "bbae60ea44cdd7b20dc7010a618b0f0803fab25a817520b4b7f057299b524deb"
	tests := []struct {
		name          string
		routerKey     ed25519.PrivateKey
		challenge     any // HELLO.Details.authextra.challenge; nil = absent
		wantSigned    bool
		wantReason    protocol.URI
		wantFailed    bool // a configuration error, not an *AuthError
		wantChallenge bool
	}{
		{"signed", routerKey, clientChallenge, true, "", false, true},
		{"no client challenge", routerKey, nil, false, "", false, true},
		{"no router key", nil, clientChallenge, false, "", false, true},
		{"malformed client challenge", routerKey, "abcd", false, protocol.ErrAuthenticationDenied, false, false},
		{"bad router key", ed25519.PrivateKey{1, 2, 3}, clientChallenge, false, "", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := &scriptedChallenger{answer: func(_ string, extra protocol.Dict) string {
				c := mustHex(t, extra.String("challenge"))
				return hex.EncodeToString(ed25519.Sign(clientKey, c)) + hex.EncodeToString(c)
			}}
			authextra := protocol.Dict{"pubkey": hex.EncodeToString(clientKey.Public().(ed25519.PublicKey))}
			if tt.challenge != nil {
				authextra["challenge"] = tt.challenge
			}
			cs := &auth.Cryptosign{Principals: principals, RouterKey: tt.routerKey}
			req := &router.AuthRequest{Realm: realm1, AuthID: "c", AuthExtra: authextra}
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			_, err := cs.Authenticate(ctx, req, ch)
			var ae *router.AuthError
			switch {
			case tt.wantFailed:
				if err == nil || errors.As(err, &ae) {
					t.Fatalf("Authenticate() error = %v, want a configuration error", err)
				}
			case tt.wantReason != "":
				if !errors.As(err, &ae) || ae.Reason != tt.wantReason {
					t.Fatalf("Authenticate() error = %v, want ABORT %s", err, tt.wantReason)
				}
			case err != nil:
				t.Fatalf("Authenticate() error = %v", err)
			}
			if challenged := len(ch.seen) > 0; challenged != tt.wantChallenge {
				t.Fatalf("challenged = %v, want %v", challenged, tt.wantChallenge)
			}
			if !tt.wantChallenge {
				return
			}
			extra := ch.seen[0]
			_, hasSig := extra["signature"]
			if hasSig != tt.wantSigned {
				t.Fatalf("CHALLENGE.Extra = %v, signed = %v, want %v", extra, hasSig, tt.wantSigned)
			}
			if !tt.wantSigned {
				return
			}
			pub := mustHex(t, extra.String("pubkey"))
			if !ed25519.PublicKey(pub).Equal(routerKey.Public()) {
				t.Errorf("CHALLENGE.Extra.pubkey = %x, want the router's", pub)
			}
			sig := mustHex(t, extra.String("signature"))
			if len(sig) != 96 || hex.EncodeToString(sig[64:]) != clientChallenge || !ed25519.Verify(pub, sig[64:], sig[:64]) {
				t.Errorf("CHALLENGE.Extra.signature = %x does not sign the client's challenge", sig)
			}
		})
	}
}
