package auth_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/router/auth"
)

// rawClient is a WAMP client over a real WebSocket (JSON) that keeps the
// router's frames as they arrived, to compare them byte for byte.
type rawClient struct {
	tb   testing.TB
	conn *websocket.Conn
}

// dialRaw opens a WebSocket to the router served at url.
func dialRaw(tb testing.TB, url string) *rawClient {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	d := websocket.Dialer{Subprotocols: []string{"wamp.2.json"}}
	conn, _, err := d.DialContext(ctx, url, nil)
	if err != nil {
		tb.Fatalf("dial %s: %v", url, err)
	}
	tb.Cleanup(func() { conn.Close() })
	return &rawClient{tb: tb, conn: conn}
}

// send writes v as one JSON text frame.
func (c *rawClient) send(v any) {
	c.tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.tb.Fatal(err)
	}
	if err := c.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		c.tb.Fatalf("write: %v", err)
	}
}

// recv returns the next frame as sent and decoded.
func (c *rawClient) recv() ([]byte, []any) {
	c.tb.Helper()
	if err := c.conn.SetReadDeadline(time.Now().Add(wait)); err != nil {
		c.tb.Fatal(err)
	}
	_, b, err := c.conn.ReadMessage()
	if err != nil {
		c.tb.Fatalf("read: %v", err)
	}
	var m []any
	if err := json.Unmarshal(b, &m); err != nil || len(m) == 0 {
		c.tb.Fatalf("frame %s is no WAMP message: %v", b, err)
	}
	return b, m
}

// authRound sends HELLO with authmethod, authid (if not "") and authextra
// (if not nil), answers the CHALLENGE with answer(extra) and returns the
// CHALLENGE's extra and the raw frame that ended the handshake.
func authRound(tb testing.TB, url string, realm protocol.URI, method, authid string, authextra map[string]any, answer func(extra map[string]any) string) (map[string]any, []byte) {
	tb.Helper()
	c := dialRaw(tb, url)
	details := map[string]any{"roles": map[string]any{"caller": map[string]any{}}, "authmethods": []any{method}}
	if authid != "" {
		details["authid"] = authid
	}
	if authextra != nil {
		details["authextra"] = authextra
	}
	c.send([]any{1, realm, details})
	raw, m := c.recv()
	if m[0] != float64(protocol.TypeChallenge) {
		tb.Fatalf("got %s, want CHALLENGE", raw)
	}
	extra, _ := m[2].(map[string]any)
	c.send([]any{5, answer(extra), map[string]any{}})
	raw, _ = c.recv()
	return extra, raw
}

// shape replaces the strings and numbers of v by their kind and length,
// so that two values of the same form compare equal.
func shape(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = shape(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = shape(x)
		}
		return out
	case string:
		return fmt.Sprintf("string of %d", len(v))
	case float64:
		return "number"
	}
	return v
}

// craShape is the shape of a WAMP-CRA CHALLENGE.Extra, with the JSON of
// extra.challenge decoded and the values that must be equal kept.
func craShape(tb testing.TB, extra map[string]any) any {
	tb.Helper()
	var c map[string]any
	if err := json.Unmarshal([]byte(extra["challenge"].(string)), &c); err != nil {
		tb.Fatalf("challenge is not JSON: %v", err)
	}
	out := shape(extra).(map[string]any)
	inner := shape(c).(map[string]any)
	for _, k := range []string{"authrole", "authmethod", "authprovider"} {
		inner[k] = c[k]
	}
	out["challenge"] = inner
	for _, k := range []string{"iterations", "keylen"} {
		if v, ok := extra[k]; ok {
			out[k] = v
		}
	}
	if s, ok := extra["salt"].(string); ok {
		b, err := base64.StdEncoding.DecodeString(s)
		out["salt"] = fmt.Sprintf("base64 of %d bytes (%v)", len(b), err)
	}
	return out
}

// TestUnknownAndWrongAlike: for every built-in method, a client cannot
// tell an unknown authid (or cryptosign key) from a known one with a
// wrong secret (security review item 10): both get a CHALLENGE of the
// same form, and then byte-identical ABORTs.
func TestUnknownAndWrongAlike(t *testing.T) {
	saltA, saltB := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef")), base64.StdEncoding.EncodeToString([]byte("fedcba9876543210"))
	keyA, err := auth.DeriveCRAKey("pa55word", saltA, 4096, 32)
	if err != nil {
		t.Fatal(err)
	}
	keyB, err := auth.DeriveCRAKey("pa55word", saltB, 4096, 32)
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]ed25519.PrivateKey, 3)
	for i := range keys {
		keys[i] = ed25519.NewKeyFromSeed(mustHex(t, cryptosignVectors[i].seed))
	}
	pubHex := func(i int) string { return hex.EncodeToString(keys[i].Public().(ed25519.PublicKey)) }
	r := newRouter(t, router.Config{
		AuthThrottle: router.AuthThrottle{Disabled: true},
		Realms: []router.RealmConfig{
			{Name: "ticket", Authenticators: []router.Authenticator{&auth.Ticket{Principals: map[string]auth.Principal{"alice": {Secret: "opensesame"}}}}},
			{Name: "cra", Authenticators: []router.Authenticator{&auth.WAMPCRA{Principals: map[string]auth.Principal{
				"peter": {Secret: "secret1", Role: "member"}, "paula": {Secret: "secret2", Role: "member"}, "admin": {Secret: "secret3", Role: "admin"},
			}}}},
			{Name: "salted", Authenticators: []router.Authenticator{&auth.WAMPCRA{Principals: map[string]auth.Principal{
				"salty1": {Secret: keyA, Role: "member", Salt: saltA, Iterations: 4096, KeyLen: 32},
				"salty2": {Secret: keyB, Role: "member", Salt: saltB, Iterations: 4096, KeyLen: 32},
			}}}},
			{Name: "cryptosign", Authenticators: []router.Authenticator{&auth.Cryptosign{Principals: map[string]auth.CryptosignPrincipal{
				"client01": {PublicKeys: []ed25519.PublicKey{keys[0].Public().(ed25519.PublicKey)}},
			}}}},
		},
	})
	ts := httptest.NewServer(r.Handler())
	t.Cleanup(ts.Close)
	url := "ws" + strings.TrimPrefix(ts.URL, "http")

	ticket := func(s string) func(map[string]any) string { return func(map[string]any) string { return s } }
	cra := func(secret string) func(map[string]any) string {
		return func(e map[string]any) string { return craSignature(t, secret, protocol.Dict(e)) }
	}
	sign := func(i int) func(map[string]any) string {
		return func(e map[string]any) string {
			c := mustHex(t, e["challenge"].(string))
			return hex.EncodeToString(ed25519.Sign(keys[i], c)) + hex.EncodeToString(c)
		}
	}
	type attempt struct {
		authid    string
		authextra map[string]any
		answer    func(map[string]any) string
	}
	tests := []struct {
		name           string
		realm          protocol.URI
		method         string
		known, unknown attempt
		shape          func(testing.TB, map[string]any) any
	}{
		{"ticket", "ticket", "ticket", attempt{"alice", nil, ticket("guess")}, attempt{"alica", nil, ticket("guess")}, nil},
		{"wampcra", "cra", "wampcra", attempt{"peter", nil, cra("guess")}, attempt{"petra", nil, cra("guess")}, craShape},
		{"wampcra salted", "salted", "wampcra", attempt{"salty1", nil, cra("guess")}, attempt{"saltx1", nil, cra("guess")}, craShape},
		{"cryptosign authid", "cryptosign", "cryptosign", attempt{"client01", map[string]any{"pubkey": pubHex(0)}, sign(1)},
			attempt{"client02", map[string]any{"pubkey": pubHex(1)}, sign(1)}, nil},
		{"cryptosign key of another", "cryptosign", "cryptosign", attempt{"client01", map[string]any{"pubkey": pubHex(0)}, sign(1)},
			attempt{"client01", map[string]any{"pubkey": pubHex(2)}, sign(2)}, nil},
		{"cryptosign key only", "cryptosign", "cryptosign", attempt{"", map[string]any{"pubkey": pubHex(0)}, sign(1)},
			attempt{"", map[string]any{"pubkey": pubHex(2)}, sign(2)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.shape == nil {
				tt.shape = func(_ testing.TB, e map[string]any) any { return shape(e) }
			}
			knownExtra, knownAbort := authRound(t, url, tt.realm, tt.method, tt.known.authid, tt.known.authextra, tt.known.answer)
			unknownExtra, unknownAbort := authRound(t, url, tt.realm, tt.method, tt.unknown.authid, tt.unknown.authextra, tt.unknown.answer)
			if diff := cmp.Diff(tt.shape(t, knownExtra), tt.shape(t, unknownExtra)); diff != "" {
				t.Errorf("CHALLENGE.Extra differs in form (-known +unknown):\n%s", diff)
			}
			if !strings.Contains(string(knownAbort), string(protocol.ErrAuthenticationDenied)) {
				t.Errorf("known authid, wrong secret: %s, want ABORT %s", knownAbort, protocol.ErrAuthenticationDenied)
			}
			if string(knownAbort) != string(unknownAbort) {
				t.Errorf("ABORTs differ:\nknown:   %s\nunknown: %s", knownAbort, unknownAbort)
			}
		})
	}

	// The decoy salt of an unknown authid is the same on every probe, so
	// that a repeated probe learns nothing, and differs between authids
	// and from the real salts.
	salt := func(authid string) string {
		extra, _ := authRound(t, url, "salted", "wampcra", authid, nil, cra("guess"))
		s, _ := extra["salt"].(string)
		return s
	}
	first, again, other := salt("saltx1"), salt("saltx1"), salt("saltx2")
	if first == "" || first != again {
		t.Errorf("decoy salt of saltx1: %q, then %q; want one stable salt", first, again)
	}
	if other == first || first == saltA || first == saltB {
		t.Errorf("decoy salts %q (saltx1), %q (saltx2) repeat each other or a real salt", first, other)
	}
	// A plain realm's decoy has the realm's most common role and no salt.
	extra, _ := authRound(t, url, "cra", "wampcra", "nobody", nil, cra("guess"))
	if _, salted := extra["salt"]; salted || !strings.Contains(extra["challenge"].(string), `"authrole":"member"`) {
		t.Errorf("decoy CHALLENGE.Extra %v, want authrole member and no salt", extra)
	}
}
