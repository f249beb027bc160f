package client_test

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/transport"
)

// specCRAChallenge is the challenge of the WAMP spec's WAMP-CRA example
// (advanced/authentication_cra.md).
const specCRAChallenge = `{"nonce": "LHRTC9zeOIrt_9U3", "authprovider": "userdb", "authid": "peter", "timestamp": "2014-06-22T16:36:25.448Z", "authrole": "user", "authmethod": "wampcra", "session": 3251278072152162}`

// cryptosignVectors are the test vectors without channel binding of the
// WAMP spec, advanced/authentication_cryptosign.md, "Test Vectors".
var cryptosignVectors = []struct{ seed, challenge, signature string }{
	{"4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510", "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", "b32675b221f08593213737bef8240e7c15228b07028e19595294678c90d11c0cae80a357331bfc5cc9fb71081464e6e75013517c2cf067ad566a6b7b728e5d03ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"},
	{"d511fe78e23934b3dadb52fcd022974b80bd92bccc7c5cf404e46cc0a8a2f5cd", "b26c1f87c13fc1da14997f1b5a71995dff8fbe0a62fae8473c7bdbd05bfb607d", "d4209ad10d5aff6bfbc009d7e924795de138a63515efc7afc6b01b7fe5201372190374886a70207b042294af5bd64ce725cd8dceb344e6d11c09d1aaaf4d660fb26c1f87c13fc1da14997f1b5a71995dff8fbe0a62fae8473c7bdbd05bfb607d"},
	{"6e1fde9cf9e2359a87420b65a87dc0c66136e66945196ba2475990d8a0c3a25b", "b05e6b8ad4d69abf74aa3be3c0ee40ae07d66e1895b9ab09285a2f1192d562d2", "7beb282184baadd08f166f16dd683b39cab53816ed81e6955def951cb2ddad1ec184e206746fd82bda075af03711d3d5658fc84a76196b0fa8d1ebc92ef9f30bb05e6b8ad4d69abf74aa3be3c0ee40ae07d66e1895b9ab09285a2f1192d562d2"},
}

func seedKey(tb testing.TB, seed string) ed25519.PrivateKey {
	tb.Helper()
	b, err := hex.DecodeString(seed)
	if err != nil {
		tb.Fatal(err)
	}
	return ed25519.NewKeyFromSeed(b)
}

func TestBuiltinAuthenticators(t *testing.T) {
	tests := []struct {
		name    string
		auth    client.Authenticator
		method  string
		extra   protocol.Dict
		want    string // AUTHENTICATE.Signature
		wantErr string // substring of the error; "" means none
	}{
		{"ticket", client.TicketAuth("secret!!!"), "ticket", protocol.Dict{}, "secret!!!", ""},
		// Signatures computed with Autobahn|Python's auth.compute_wcs and
		// auth.derive_key.
		{"wampcra", client.WAMPCRAAuth("secret1"), "wampcra", protocol.Dict{"challenge": specCRAChallenge}, "vb/MUq65p6Xs4P09HfsDI4VmI8HWO3whf0vNe4IdogQ=", ""},
		// The spec's salted example: its signature is that of "secret1"
		// salted with "salt123", 1000 iterations, 32 bytes.
		{"wampcra salted", client.WAMPCRAAuth("secret1"), "wampcra",
			protocol.Dict{"challenge": specCRAChallenge, "salt": "salt123", "iterations": int64(1000), "keylen": int64(32)}, "gir1mSx+deCDUV7wRM5SGIn/+R/ClqLZuH4m7FJeBVI=", ""},
		{"wampcra salted, JSON numbers", client.WAMPCRAAuth("secret1"), "wampcra",
			protocol.Dict{"challenge": specCRAChallenge, "salt": "salt123", "iterations": float64(100), "keylen": float64(16)}, "KSjvsv81QFaEUgPoW6k5ylRnmH3ycgMy3TgOMtWr0UQ=", ""},
		{"wampcra salted, defaults", client.WAMPCRAAuth("secret1"), "wampcra",
			protocol.Dict{"challenge": specCRAChallenge, "salt": "salt123"}, "gir1mSx+deCDUV7wRM5SGIn/+R/ClqLZuH4m7FJeBVI=", ""},
		{"wampcra no challenge", client.WAMPCRAAuth("secret1"), "wampcra", protocol.Dict{}, "", "Extra.challenge"},
		{"wampcra too many iterations", client.WAMPCRAAuth("secret1"), "wampcra",
			protocol.Dict{"challenge": specCRAChallenge, "salt": "s", "iterations": int64(1 << 40)}, "", "out of range"},
		{"wampcra zero keylen", client.WAMPCRAAuth("secret1"), "wampcra",
			protocol.Dict{"challenge": specCRAChallenge, "salt": "s", "keylen": int64(0)}, "", "out of range"},
		{"cryptosign vector 1", client.CryptosignAuth(seedKey(t, cryptosignVectors[0].seed)), "cryptosign",
			protocol.Dict{"challenge": cryptosignVectors[0].challenge, "channel_binding": nil}, cryptosignVectors[0].signature, ""},
		{"cryptosign vector 2", client.CryptosignAuth(seedKey(t, cryptosignVectors[1].seed)), "cryptosign",
			protocol.Dict{"challenge": cryptosignVectors[1].challenge}, cryptosignVectors[1].signature, ""},
		{"cryptosign vector 3, upper-case hex", client.CryptosignAuth(seedKey(t, cryptosignVectors[2].seed)), "cryptosign",
			protocol.Dict{"challenge": strings.ToUpper(cryptosignVectors[2].challenge)}, cryptosignVectors[2].signature, ""},
		{"cryptosign unasked channel binding", client.CryptosignAuth(seedKey(t, cryptosignVectors[0].seed)), "cryptosign",
			protocol.Dict{"challenge": cryptosignVectors[0].challenge, "channel_binding": "tls-unique"}, "", "channel_binding"},
		{"cryptosign challenge not hex", client.CryptosignAuth(seedKey(t, cryptosignVectors[0].seed)), "cryptosign",
			protocol.Dict{"challenge": strings.Repeat("zz", 32)}, "", "64 hex digits"},
		{"cryptosign short challenge", client.CryptosignAuth(seedKey(t, cryptosignVectors[0].seed)), "cryptosign",
			protocol.Dict{"challenge": "ffff"}, "", "64 hex digits"},
		{"cryptosign no challenge", client.CryptosignAuth(seedKey(t, cryptosignVectors[0].seed)), "cryptosign",
			protocol.Dict{}, "", "64 hex digits"},
		{"cryptosign bad key", client.CryptosignAuth(ed25519.PrivateKey{1, 2, 3}), "cryptosign",
			protocol.Dict{"challenge": cryptosignVectors[0].challenge}, "", "private key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.auth.Method(); got != tt.method {
				t.Errorf("Method() = %q, want %q", got, tt.method)
			}
			a, err := tt.auth.Authenticate(context.Background(), &protocol.Challenge{AuthMethod: tt.method, Extra: tt.extra})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Authenticate() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Authenticate() error = %v", err)
			}
			if a.Signature != tt.want {
				t.Errorf("Authenticate().Signature = %q, want %q", a.Signature, tt.want)
			}
			if a.Extra == nil {
				t.Errorf("Authenticate().Extra = nil, want {}")
			}
		})
	}
}

func TestCryptosignAuthExtra(t *testing.T) {
	priv := seedKey(t, cryptosignVectors[0].seed)
	got := client.CryptosignAuthExtra(priv).String("pubkey")
	if want := hex.EncodeToString(priv.Public().(ed25519.PublicKey)); got != want {
		t.Errorf("CryptosignAuthExtra().pubkey = %q, want %q", got, want)
	}
	// The authenticator offers the same authextra to Join.
	a, ok := client.CryptosignAuth(priv).(interface{ AuthExtra() protocol.Dict })
	if !ok {
		t.Fatal("CryptosignAuth() has no AuthExtra method")
	}
	if diff := cmp.Diff(client.CryptosignAuthExtra(priv), a.AuthExtra()); diff != "" {
		t.Errorf("AuthExtra() mismatch (-want +got):\n%s", diff)
	}
	if got := client.CryptosignAuthExtra(ed25519.PrivateKey{1}).String("pubkey"); got != "" {
		t.Errorf("CryptosignAuthExtra(bad key).pubkey = %q, want \"\"", got)
	}
}

// TestAuthExtraFromAuthenticator checks that an authenticator's AuthExtra
// reaches HELLO.Details.authextra, merged with Config.AuthExtra, which
// wins where both set a key.
func TestAuthExtraFromAuthenticator(t *testing.T) {
	priv := seedKey(t, cryptosignVectors[0].seed)
	pub := hex.EncodeToString(priv.Public().(ed25519.PublicKey))
	cp, rp := transport.LocalPair(8)
	defer rp.Close(nil)
	cfg := client.Config{
		Realm:     "com.example",
		Auth:      []client.Authenticator{client.CryptosignAuth(priv)},
		AuthExtra: protocol.Dict{"x": "y"},
		Logger:    quietLogger(),
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := client.Join(ctx, cp, cfg)
		done <- err
	}()
	m, err := rp.Recv()
	if err != nil {
		t.Fatal(err)
	}
	hello, ok := m.(*protocol.Hello)
	if !ok {
		t.Fatalf("first message %T, want HELLO", m)
	}
	want := map[string]any{"pubkey": pub, "x": "y"}
	if diff := cmp.Diff(want, hello.Details["authextra"]); diff != "" {
		t.Errorf("HELLO authextra mismatch (-want +got):\n%s", diff)
	}
	rp.Send(context.Background(), &protocol.Abort{Reason: protocol.ErrNoSuchRealm})
	if err := <-done; err == nil {
		t.Error("Join succeeded after ABORT")
	}
}
