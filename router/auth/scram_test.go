package auth_test

import (
	"encoding/base64"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/internal/scram"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/router/auth"
)

// TestSCRAMPrincipalVector: the keys DeriveSCRAMPrincipal stores for the
// RFC 7677 example user (the WAMP spec's WAMP-SCRAM example) verify the
// example's ClientProof and give its ServerSignature.
func TestSCRAMPrincipalVector(t *testing.T) {
	p, err := auth.DeriveSCRAMPrincipal("pencil", auth.SCRAMPBKDF2, "W22ZaJ0SNY7soEsUEjb6gQ==", 4096, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	const nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	am := scram.AuthMessage("user", "rOprNGfwEbeRWgbNEkqO", nonce, p.Salt, p.Iterations)
	proof, _ := base64.StdEncoding.DecodeString("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
	if !scram.VerifyProof(p.StoredKey, am, proof) {
		t.Errorf("the RFC 7677 ClientProof does not verify against the derived StoredKey")
	}
	if got := base64.StdEncoding.EncodeToString(scram.ServerSignature(p.ServerKey, am)); got != "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=" {
		t.Errorf("ServerSignature = %s, want the RFC 7677 verifier", got)
	}
	if p.KDF != "pbkdf2" || p.Memory != 0 {
		t.Errorf("principal %+v, want kdf pbkdf2 and no memory", p)
	}
}

// scramClient answers a wamp-scram CHALLENGE like a client with password
// and the client nonce cnonce, and records what it needs to check the
// verifier.
type scramClient struct {
	tb                testing.TB
	authid, password  string
	cnonce            string
	authMessage, skey []byte
}

func (c *scramClient) answer(extra protocol.Dict) (string, protocol.Dict) {
	c.tb.Helper()
	nonce := extra.String("nonce")
	salt := extra.String("salt")
	iter, _ := extra.Int("iterations")
	mem, _ := extra.Int("memory")
	raw, _ := base64.StdEncoding.DecodeString(salt)
	salted, err := scram.SaltedPassword(extra.String("kdf"), c.password, raw, int(iter), int(mem))
	if err != nil {
		c.tb.Fatalf("SaltedPassword: %v", err)
	}
	ck, sk, svk := scram.Keys(salted)
	c.authMessage = scram.AuthMessage(c.authid, c.cnonce, nonce, salt, int(iter))
	c.skey = svk
	return base64.StdEncoding.EncodeToString(scram.ClientProof(ck, sk, c.authMessage)), protocol.Dict{"nonce": nonce, "channel_binding": nil, "cbind_data": nil}
}

func scramRouter(tb testing.TB, thr router.AuthThrottle) *router.Router {
	tb.Helper()
	argon, err := auth.NewSCRAMPrincipal("secret argon", auth.SCRAMArgon2id, 1, 1024, "admin")
	if err != nil {
		tb.Fatal(err)
	}
	pbkdf, err := auth.NewSCRAMPrincipal("secret pbkdf", auth.SCRAMPBKDF2, 4096, 0, "")
	if err != nil {
		tb.Fatal(err)
	}
	other, err := auth.NewSCRAMPrincipal("x", auth.SCRAMArgon2id, 1, 1024, "")
	if err != nil {
		tb.Fatal(err)
	}
	return newRouter(tb, router.Config{AuthThrottle: thr, Realms: []router.RealmConfig{{Name: realm1, Authenticators: []router.Authenticator{
		&auth.SCRAM{Principals: map[string]auth.SCRAMPrincipal{"argon": argon, "pbkdf": pbkdf, "other": other}},
	}}}})
}

// scramLogin runs a wamp-scram handshake in-process; answer may change
// the AUTHENTICATE. It returns the CHALLENGE's extra (nil if none) and
// the WELCOME or ABORT.
func scramLogin(tb testing.TB, r *router.Router, authextra protocol.Dict, c *scramClient, tweak func(sig string, extra protocol.Dict) (string, protocol.Dict)) (protocol.Dict, protocol.Message) {
	tb.Helper()
	p := connect(tb, r)
	defer p.p.Close(nil)
	d := protocol.Dict{"roles": clientRoles(), "authmethods": []any{"wamp-scram"}}
	if c.authid != "" {
		d["authid"] = c.authid
	}
	if authextra != nil {
		d["authextra"] = map[string]any(authextra)
	}
	p.send(&protocol.Hello{Realm: realm1, Details: d})
	m := p.recv()
	ch, ok := m.(*protocol.Challenge)
	if !ok {
		return nil, m
	}
	if ch.AuthMethod != "wamp-scram" {
		tb.Fatalf("CHALLENGE method %q", ch.AuthMethod)
	}
	sig, extra := c.answer(ch.Extra)
	if tweak != nil {
		sig, extra = tweak(sig, extra)
	}
	p.send(&protocol.Authenticate{Signature: sig, Extra: extra})
	return ch.Extra, p.recv()
}

func TestSCRAMAuthenticator(t *testing.T) {
	r := scramRouter(t, router.AuthThrottle{Disabled: true})
	const cnonce = "egVDf3DMJh0="
	hello := protocol.Dict{"nonce": cnonce, "channel_binding": nil}
	denied := func(msg string) protocol.Message {
		return &protocol.Abort{Details: protocol.Dict{"message": msg}, Reason: protocol.ErrAuthenticationDenied}
	}
	tests := []struct {
		name      string
		authid    string
		password  string
		authextra protocol.Dict
		tweak     func(string, protocol.Dict) (string, protocol.Dict)
		wantRole  string           // "" means refused with want
		want      protocol.Message // the ABORT
		challenge bool
	}{
		{"argon2id", "argon", "secret argon", hello, nil, "admin", nil, true},
		{"pbkdf2", "pbkdf", "secret pbkdf", hello, nil, "user", nil, true},
		{"wrong password", "argon", "secret", hello, nil, "", denied("invalid proof"), true},
		{"unknown authid", "nobody", "secret", hello, nil, "", denied("invalid proof"), true},
		{"nonce not the challenge's", "argon", "secret argon", hello, func(s string, e protocol.Dict) (string, protocol.Dict) {
			e["nonce"] = cnonce + "AAAAAAAAAAAAAAAAAAAAAA=="
			return s, e
		}, "", denied("AUTHENTICATE.Extra.nonce is not the CHALLENGE's"), true},
		{"proof not base64", "argon", "secret argon", hello, func(_ string, e protocol.Dict) (string, protocol.Dict) { return "!!", e }, "", denied("malformed proof: want base64 of 32 bytes"), true},
		{"channel binding in AUTHENTICATE", "argon", "secret argon", hello, func(s string, e protocol.Dict) (string, protocol.Dict) {
			e["channel_binding"] = "tls-unique"
			return s, e
		}, "", denied("channel binding is not supported"), true},
		{"no nonce", "argon", "secret argon", protocol.Dict{}, nil, "",
			&protocol.Abort{Details: protocol.Dict{"message": "wamp-scram authentication needs HELLO.Details.authid and authextra.nonce"}, Reason: protocol.ErrAuthenticationRequired}, false},
		{"no authid", "", "secret argon", hello, nil, "",
			&protocol.Abort{Details: protocol.Dict{"message": "wamp-scram authentication needs HELLO.Details.authid and authextra.nonce"}, Reason: protocol.ErrAuthenticationRequired}, false},
		{"nonce not base64", "argon", "secret argon", protocol.Dict{"nonce": "not base64!"}, nil, "", denied("malformed authextra.nonce: want base64"), false},
		{"channel binding asked", "argon", "secret argon", protocol.Dict{"nonce": cnonce, "channel_binding": "tls-unique"}, nil, "", denied("channel binding tls-unique is not supported"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &scramClient{tb: t, authid: tt.authid, password: tt.password, cnonce: tt.authextra.String("nonce")}
			extra, got := scramLogin(t, r, tt.authextra, c, tt.tweak)
			if (extra != nil) != tt.challenge {
				t.Fatalf("challenged = %v, want %v (got %s)", extra != nil, tt.challenge, describe(got))
			}
			if tt.wantRole == "" {
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("ABORT mismatch (-want +got):\n%s", diff)
				}
				return
			}
			w, ok := got.(*protocol.Welcome)
			if !ok {
				t.Fatalf("got %s, want WELCOME", describe(got))
			}
			for k, want := range map[string]string{"authid": tt.authid, "authrole": tt.wantRole, "authmethod": "wamp-scram", "authprovider": "static"} {
				if g := w.Details.String(k); g != want {
					t.Errorf("WELCOME.Details.%s = %q, want %q", k, g, want)
				}
			}
			verifier := w.Details.Dict("authextra").String("verifier")
			if want := base64.StdEncoding.EncodeToString(scram.ServerSignature(c.skey, c.authMessage)); verifier != want {
				t.Errorf("verifier = %q, want %q", verifier, want)
			}
			if n := extra.String("nonce"); len(n) != len(cnonce)+24 || n[:len(cnonce)] != cnonce {
				t.Errorf("CHALLENGE nonce %q does not extend the client's %q by 16 bytes", n, cnonce)
			}
		})
	}
}

// TestSCRAMUnknownAlike: an unknown authid gets a mock CHALLENGE shaped
// like the realm's principals (kdf, iterations, memory, salt length),
// with a salt stable per authid, and the ABORT of a wrong password.
func TestSCRAMUnknownAlike(t *testing.T) {
	r := scramRouter(t, router.AuthThrottle{Disabled: true})
	hello := protocol.Dict{"nonce": "egVDf3DMJh0=", "channel_binding": nil}
	login := func(authid string) (protocol.Dict, protocol.Message) {
		return scramLogin(t, r, hello, &scramClient{tb: t, authid: authid, password: "guess", cnonce: "egVDf3DMJh0="}, nil)
	}
	form := func(e protocol.Dict) protocol.Dict {
		salt, _ := base64.StdEncoding.DecodeString(e.String("salt"))
		return protocol.Dict{"kdf": e["kdf"], "iterations": e["iterations"], "memory": e["memory"], "salt bytes": len(salt), "nonce length": len(e.String("nonce")), "keys": len(e)}
	}
	knownExtra, knownAbort := login("argon")
	unknownExtra, unknownAbort := login("nobody")
	if diff := cmp.Diff(form(knownExtra), form(unknownExtra)); diff != "" {
		t.Errorf("CHALLENGE of an unknown authid differs in form (-known +unknown):\n%s", diff)
	}
	if diff := cmp.Diff(knownAbort, unknownAbort); diff != "" {
		t.Errorf("ABORT of an unknown authid differs (-known +unknown):\n%s", diff)
	}
	again, _ := login("nobody")
	other, _ := login("nobody2")
	if again.String("salt") != unknownExtra.String("salt") || other.String("salt") == unknownExtra.String("salt") {
		t.Errorf("decoy salts %q, %q (nobody), %q (nobody2): want stable per authid and distinct", unknownExtra["salt"], again["salt"], other["salt"])
	}
}
