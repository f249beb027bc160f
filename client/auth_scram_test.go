package client_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/internal/scram"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/transport"
)

// TestSCRAMAuth runs client.SCRAMAuth against a scripted router: HELLO
// carries a fresh base64 nonce, the proof is the one RFC 5802 defines for
// the CHALLENGE, and the client checks the router's verifier and refuses
// challenges it must not answer.
func TestSCRAMAuth(t *testing.T) {
	const salt = "W22ZaJ0SNY7soEsUEjb6gQ==" // RFC 7677's
	rawSalt, _ := base64.StdEncoding.DecodeString(salt)
	salted, err := scram.SaltedPassword(scram.PBKDF2, "pencil", rawSalt, 4096, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, storedKey, serverKey := scram.Keys(salted)
	tests := []struct {
		name     string
		password string
		extra    func(cnonce string) protocol.Dict // CHALLENGE.Extra
		verifier func(sig []byte) string           // "" means the client must not answer
		wantErr  string                            // "" means joined
	}{
		{"joined", "pencil", nil, func(sig []byte) string { return base64.StdEncoding.EncodeToString(sig) }, ""},
		{"verifier with v= prefix", "pencil", nil, func(sig []byte) string { return "v=" + base64.StdEncoding.EncodeToString(sig) }, ""},
		{"wrong verifier", "pencil", nil, func([]byte) string { return base64.StdEncoding.EncodeToString(make([]byte, 32)) }, "verifier"},
		{"no verifier", "pencil", nil, func([]byte) string { return "" }, "verifier"},
		{"nonce not extended", "pencil", func(cnonce string) protocol.Dict {
			return protocol.Dict{"nonce": "AAAA" + cnonce, "salt": salt, "kdf": "pbkdf2", "iterations": 4096}
		}, nil, "nonce"},
		{"cheap pbkdf2", "pencil", func(cnonce string) protocol.Dict {
			return protocol.Dict{"nonce": cnonce + "AAAA", "salt": salt, "kdf": "pbkdf2", "iterations": 1000}
		}, nil, "out of range"},
		{"cheap argon2id", "pencil", func(cnonce string) protocol.Dict {
			return protocol.Dict{"nonce": cnonce + "AAAA", "salt": salt, "kdf": "argon2id13", "iterations": 1, "memory": 64}
		}, nil, "out of range"},
		{"huge argon2id", "pencil", func(cnonce string) protocol.Dict {
			return protocol.Dict{"nonce": cnonce + "AAAA", "salt": salt, "kdf": "argon2id13", "iterations": 1, "memory": 1 << 30}
		}, nil, "out of range"},
		{"unknown kdf", "pencil", func(cnonce string) protocol.Dict {
			return protocol.Dict{"nonce": cnonce + "AAAA", "salt": salt, "kdf": "scrypt", "iterations": 4096}
		}, nil, "kdf"},
		{"salt not base64", "pencil", func(cnonce string) protocol.Dict {
			return protocol.Dict{"nonce": cnonce + "AAAA", "salt": "%%", "kdf": "pbkdf2", "iterations": 4096}
		}, nil, "salt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cp, rp := transport.LocalPair(16)
			w := newWire(t, rp)
			defer func() {
				rp.Close(nil)
				for range w.in {
				}
			}()
			cfg := client.Config{Realm: "realm1", AuthID: "user", Auth: []client.Authenticator{client.SCRAMAuth(tt.password)}, Logger: quietLogger()}
			ch := async(func() (*client.Client, error) { return client.Join(context.Background(), cp, cfg) })
			hello, ok := w.recv().(*protocol.Hello)
			if !ok {
				t.Fatal("first message is not HELLO")
			}
			ax := hello.Details.Dict("authextra")
			cnonce := ax.String("nonce")
			if raw, ok := scram.DecodeBase64(cnonce); !ok || len(raw) != 16 {
				t.Fatalf("HELLO authextra.nonce %q, want base64 of 16 bytes", cnonce)
			}
			if v, ok := ax["channel_binding"]; !ok || v != nil {
				t.Errorf("HELLO authextra.channel_binding = %v, want null", v)
			}
			extra := protocol.Dict{"nonce": cnonce + "SBmkFIh7sSo=", "salt": salt, "kdf": "pbkdf2", "iterations": 4096, "memory": nil}
			if tt.extra != nil {
				extra = tt.extra(cnonce)
			}
			w.send(&protocol.Challenge{AuthMethod: "wamp-scram", Extra: extra})
			m := w.recv()
			if tt.verifier == nil {
				if a, ok := m.(*protocol.Abort); !ok {
					t.Fatalf("client sent %T, want ABORT", m)
				} else if a.Reason != protocol.ErrAuthenticationFailed {
					t.Errorf("ABORT reason %s", a.Reason)
				}
			} else {
				a, ok := m.(*protocol.Authenticate)
				if !ok {
					t.Fatalf("client sent %T, want AUTHENTICATE", m)
				}
				nonce := extra.String("nonce")
				if a.Extra.String("nonce") != nonce {
					t.Errorf("AUTHENTICATE.Extra.nonce = %q, want %q", a.Extra.String("nonce"), nonce)
				}
				am := scram.AuthMessage("user", cnonce, nonce, salt, 4096)
				proof, _ := base64.StdEncoding.DecodeString(a.Signature)
				if !scram.VerifyProof(storedKey, am, proof) {
					t.Errorf("the client's proof does not verify")
				}
				w.send(&protocol.Welcome{Session: 1, Details: protocol.Dict{"authid": "user", "authmethod": "wamp-scram",
					"authextra": map[string]any{"verifier": tt.verifier(scram.ServerSignature(serverKey, am))}}})
			}
			res := <-ch
			if tt.wantErr == "" {
				if res.err != nil {
					t.Fatalf("Join: %v", res.err)
				}
				rp.Close(nil) // the scripted router leaves: no GOODBYE echo to wait for
				res.v.Close()
				return
			}
			if res.err == nil {
				res.v.Close()
				t.Fatalf("Join succeeded, want an error about %s", tt.wantErr)
			}
			if !strings.Contains(res.err.Error(), tt.wantErr) {
				t.Errorf("Join: %v, want an error about %s", res.err, tt.wantErr)
			}
		})
	}
}
