package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"github.com/wampkit/wampkit/client"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wampkit/wampkit/internal/testcert"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/router/auth"
)

// writeFile writes content to a new file in the test's directory and
// returns its path.
func writeFile(tb testing.TB, name string, content []byte) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(p, content, 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// TestAuth joins a realm that requires authentication with every method,
// with the secret on the command line, in a file and in the environment,
// and checks that a wrong secret is refused with exit status 1 and the
// ABORT reason.
func TestAuth(t *testing.T) {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i + 1)
	}
	key := ed25519.NewKeyFromSeed(seed)
	_, otherKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	scram, err := auth.NewSCRAMPrincipal("s3cret pass", auth.SCRAMPBKDF2, 4096, 0, "scrammer")
	if err != nil {
		t.Fatal(err)
	}
	tr := startRouter(t, router.Config{
		AuthThrottle: router.AuthThrottle{Disabled: true}, // wrong secrets on purpose
		Realms: []router.RealmConfig{{Name: "secure", Authenticators: []router.Authenticator{
			&auth.Ticket{Principals: map[string]auth.Principal{"alice": {Secret: "t1cket", Role: "ticketer"}}},
			&auth.WAMPCRA{Principals: map[string]auth.Principal{"alice": {Secret: "cr4", Role: "cra"}}},
			&auth.Cryptosign{Principals: map[string]auth.CryptosignPrincipal{"alice": {Role: "signer", PublicKeys: []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}}}},
			&auth.SCRAM{Principals: map[string]auth.SCRAMPrincipal{"alice": scram}},
		}}},
	})
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyFiles := map[string][]byte{
		"hex seed":        []byte(hex.EncodeToString(seed) + "\n"),
		"hex private key": []byte(hex.EncodeToString(key)),
		"raw seed":        seed,
		"raw private key": key,
		"pem":             pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
	}
	tests := []struct {
		name     string
		args     []string
		env      env
		wantRole string
	}{
		{"ticket", []string{"--ticket", "t1cket"}, nil, "ticketer"},
		{"ticket file", []string{"--ticket-file", writeFile(t, "ticket", []byte("t1cket\nignored"))}, nil, "ticketer"},
		{"ticket env", nil, env{"WAMP_TICKET": "t1cket"}, "ticketer"},
		{"wampcra", []string{"--wampcra", "cr4"}, nil, "cra"},
		{"wampcra file", []string{"--wampcra-file", writeFile(t, "cra", []byte("cr4\r\n"))}, nil, "cra"},
		{"scram", []string{"--scram", "s3cret pass"}, nil, "scrammer"},
		{"scram file env", nil, env{"WAMP_SCRAM_FILE": writeFile(t, "scram", []byte("s3cret pass"))}, "scrammer"},
		{"cryptosign preferred", []string{"--ticket", "t1cket", "--cryptosign-key", writeFile(t, "key", keyFiles["hex seed"])}, nil, "signer"},
	}
	for name, content := range keyFiles {
		tests = append(tests, struct {
			name     string
			args     []string
			env      env
			wantRole string
		}{"cryptosign " + name, []string{"--cryptosign-key", writeFile(t, "key", content)}, nil, "signer"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--url", tr.wsURL, "--realm", "secure", "--authid", "alice"}, tt.args...)
			r := mustRun(t, ExitOK, tt.env, append(args, "sessions", "--json")...)
			if !strings.Contains(r.stdout, `"authrole":"`+tt.wantRole+`"`) {
				t.Errorf("want a session of role %s:\n%s", tt.wantRole, r.stdout)
			}
		})
	}

	refusals := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"wrong ticket", []string{"--ticket", "wrong"}, ExitWAMPError, "ABORT wamp.error.authentication_denied"},
		{"wrong wampcra", []string{"--wampcra", "wrong"}, ExitWAMPError, "ABORT wamp.error.authentication_denied"},
		{"wrong scram", []string{"--scram", "wrong"}, ExitWAMPError, "ABORT wamp.error.authentication_denied"},
		{"wrong key", []string{"--cryptosign-key", writeFile(t, "other", []byte(hex.EncodeToString(otherKey.Seed())))}, ExitWAMPError, "ABORT wamp.error.authentication_denied"},
		{"anonymous", nil, ExitWAMPError, "ABORT wamp.error.no_matching_auth_method"},
		{"missing file", []string{"--ticket-file", filepath.Join(t.TempDir(), "none")}, ExitUsage, "--ticket-file"},
		{"empty file", []string{"--ticket-file", writeFile(t, "empty", []byte("\n"))}, ExitUsage, "first line is empty"},
		{"both", []string{"--ticket", "x", "--ticket-file", writeFile(t, "t", []byte("x"))}, ExitUsage, "give one of them"},
		{"bad key", []string{"--cryptosign-key", writeFile(t, "bad", []byte("not a key"))}, ExitUsage, "--cryptosign-key"},
		{"mismatched key", []string{"--cryptosign-key", writeFile(t, "mm", append(append([]byte{}, seed...), otherKey.Public().(ed25519.PublicKey)...))}, ExitUsage, "does not belong"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--url", tr.wsURL, "--realm", "secure", "--authid", "alice"}, tt.args...)
			r := mustRun(t, tt.wantCode, nil, append(args, "sessions")...)
			if !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("stderr = %q, want it to contain %q", r.stderr, tt.wantStderr)
			}
		})
	}
}

// TestParseCryptosignKey checks the key formats and the refusals.
func TestParseCryptosignKey(t *testing.T) {
	seed := make([]byte, ed25519.SeedSize)
	seed[0] = 9
	key := ed25519.NewKeyFromSeed(seed)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(key)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecPKCS8, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	tests := []struct {
		name    string
		in      []byte
		wantErr string
	}{
		{"hex seed", []byte(hex.EncodeToString(seed)), ""},
		{"hex seed with spaces", []byte(" " + hex.EncodeToString(seed[:16]) + "\n" + hex.EncodeToString(seed[16:]) + "\n"), ""},
		{"hex key", []byte(strings.ToUpper(hex.EncodeToString(key))), ""},
		{"raw seed", seed, ""},
		{"raw key", key, ""},
		{"pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), ""},
		{"pem of another kind", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{1}}), "want PRIVATE KEY"},
		{"pem of an ecdsa key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecPKCS8}), "want Ed25519"},
		{"short", []byte("abcd"), "32-byte seed"},
		{"empty", nil, "32-byte seed"},
		{"bad public half", append(append([]byte{}, seed...), make([]byte, 32)...), "does not belong"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseCryptosignKey(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseCryptosignKey = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(key) {
				t.Errorf("parseCryptosignKey = %x, want %x", got, key)
			}
		})
	}
}

// TestEnvironment checks that WAMP_* variables set the global flags and
// that a flag given wins.
func TestEnvironment(t *testing.T) {
	tr := startRouter(t, router.Config{Realms: []router.RealmConfig{{Name: "realm1"}, {Name: "other"}}})
	c := tr.join(t, "other")
	register(t, c, "com.example.where", func(context.Context, *client.Invocation) (*client.Result, error) {
		return &client.Result{Args: protocol.List{"other"}}, nil
	})
	e := env{"WAMP_URL": tr.tcpURL, "WAMP_REALM": "other", "WAMP_SERIALIZER": "cbor", "WAMP_TIMEOUT": "20s"}
	r := mustRun(t, ExitOK, e, "call", "com.example.where")
	if got := strings.TrimSpace(r.stdout); got != `{"args":["other"],"kwargs":{}}` {
		t.Errorf("stdout = %s", got)
	}
	r = mustRun(t, ExitWAMPError, e, "--realm", "realm1", "call", "com.example.where")
	if !strings.Contains(r.stderr, "no_such_procedure") {
		t.Errorf("--realm did not win over WAMP_REALM: %s", r.stderr)
	}
	r = mustRun(t, ExitUsage, env{"WAMP_TIMEOUT": "soon"}, "call", "com.example.where")
	if !strings.Contains(r.stderr, "$WAMP_TIMEOUT") {
		t.Errorf("stderr = %q, want the variable named", r.stderr)
	}
	r = mustRun(t, ExitOK, nil, "call", "--help")
	if !strings.Contains(r.stdout, "[$WAMP_URL]") {
		t.Errorf("call --help does not name the variables:\n%s", r.stdout)
	}
}

// TestHelp checks that wamp --help documents the exit statuses and the
// argument rule, and that every subcommand has help.
func TestHelp(t *testing.T) {
	r := mustRun(t, ExitOK, nil, "--help")
	for _, want := range []string{"Exit status:", "  0 ", "  1 ", "  2 ", "  3 ", "  4 ", "  130 ", "Arguments:", "WAMP_URL", "--cryptosign-key",
		"call", "publish", "subscribe", "register", "sessions", "bench"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("wamp --help lacks %q", want)
		}
	}
	for _, cmd := range [][]string{{"call"}, {"publish"}, {"subscribe"}, {"register"}, {"sessions"}, {"bench"}, {"bench", "call"}, {"bench", "publish"}} {
		r := mustRun(t, ExitOK, nil, append(cmd, "--help")...)
		if !strings.Contains(r.stdout, "Usage:") {
			t.Errorf("wamp %s --help:\n%s", strings.Join(cmd, " "), r.stdout)
		}
	}
	r = mustRun(t, ExitOK, nil, "register", "--help")
	for _, want := range []string{string(ErrCommandFailed), string(ErrCommandOutput), "WAMP_PROCEDURE", "--argv"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("register --help lacks %q", want)
		}
	}
	r = mustRun(t, ExitOK, nil, "--version")
	if strings.TrimSpace(r.stdout) != "wamp version dev" {
		t.Errorf("--version: %q", r.stdout)
	}
}

// TestTLS runs wss:// and tcps:// with a certificate the system does not
// trust: refused without --tls-ca (exit status 3), accepted with it or
// with --tls-insecure, and a router that requires a client certificate
// gets one with --tls-cert and --tls-key.
func TestTLS(t *testing.T) {
	r, err := router.New(router.Config{Realms: []router.RealmConfig{{Name: "realm1"}}, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	hs := httptest.NewUnstartedServer(r.Handler())
	hs.StartTLS()
	t.Cleanup(hs.Close)
	ca := writeFile(t, "ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hs.Certificate().Raw}))
	wss := "wss" + strings.TrimPrefix(hs.URL, "https") + "/ws"

	res := mustRun(t, ExitConnection, nil, "--url", wss, "sessions")
	if !strings.Contains(res.stderr, "certificate") {
		t.Errorf("stderr = %q, want the certificate error", res.stderr)
	}
	mustRun(t, ExitOK, nil, "--url", wss, "--tls-ca", ca, "sessions")
	mustRun(t, ExitOK, nil, "--url", wss, "--tls-insecure", "sessions")
	mustRun(t, ExitUsage, nil, "--url", wss, "--tls-ca", writeFile(t, "junk.pem", []byte("junk")), "sessions")
	mustRun(t, ExitUsage, nil, "--url", wss, "--tls-cert", ca, "sessions")

	// Mutual TLS: the router's listener asks for a client certificate
	// signed by the client CA.
	clientCert, clientKey, clientPool := selfSigned(t, "wamp client")
	mtls := httptest.NewUnstartedServer(r.Handler())
	mtls.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientPool}
	mtls.StartTLS()
	t.Cleanup(mtls.Close)
	mca := writeFile(t, "mca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: mtls.Certificate().Raw}))
	murl := "wss" + strings.TrimPrefix(mtls.URL, "https") + "/ws"
	mustRun(t, ExitConnection, nil, "--url", murl, "--tls-ca", mca, "sessions")
	out := mustRun(t, ExitOK, nil, "--url", murl, "--tls-ca", mca, "--tls-cert", clientCert, "--tls-key", clientKey, "sessions", "--json")
	if n := len(out.lines()); n != 1 {
		t.Errorf("%d sessions, want 1", n)
	}
}

// selfSigned makes a self-signed client certificate and returns the
// paths of its PEM certificate and key, and a pool that trusts it.
func selfSigned(tb testing.TB, name string) (certFile, keyFile string, pool *x509.CertPool) {
	tb.Helper()
	ca := testcert.NewCA(tb, name)
	certFile, keyFile = testcert.WritePEM(tb, tb.TempDir(), ca.TLS())
	return certFile, keyFile, ca.Pool()
}

// TestValues checks the argument rule and the output conversion on their
// own.
func TestValues(t *testing.T) {
	tests := []struct {
		word string
		want any
	}{
		{"2", int64(2)},
		{"-2", int64(-2)},
		{" 2 ", int64(2)},
		{"2.0", 2.0},
		{"1e400", "1e400"}, // beyond float64: kept as written
		{"hello", "hello"},
		{"", ""},
		{`""`, ""},
		{"2 3", "2 3"},
		{"[1,", "[1,"},
		{`{"a":[true,null]}`, map[string]any{"a": []any{true, nil}}},
		{`"\u0000AQI="`, []byte{1, 2}},
		{`"\u0000not base64"`, "\x00not base64"},
		{`"\u0000AQ\nI="`, "\x00AQ\nI="}, // base64 with a line break is text
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, parseValue(tt.word, false)); diff != "" {
			t.Errorf("parseValue(%q) (-want +got):\n%s", tt.word, diff)
		}
		if got := parseValue(tt.word, true); got != tt.word {
			t.Errorf("parseValue(%q, literal) = %v", tt.word, got)
		}
	}
	out := []struct {
		in   any
		want string
	}{
		{protocol.List{[]byte{0xff}, protocol.Dict{"k": protocol.ID(5)}}, `["\u0000/w==",{"k":5}]`},
		{[]any{math.NaN(), math.Inf(1), math.Inf(-1), float32(1.5)}, `["NaN","Infinity","-Infinity",1.5]`},
		{map[any]any{1: "x"}, `{"1":"x"}`},
		{"<&>", `"<&>"`},
	}
	for _, tt := range out {
		if got := compact(tt.in); got != tt.want {
			t.Errorf("compact(%#v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
