package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/internal/testcert"
	"github.com/wampkit/wampkit/protocol"
)

// TestMain_TLSAuth: a wampd whose wss listener verifies client
// certificates of client_ca admits, with authmethod tls, a principal
// pinned by fingerprint and one known by the certificate's name, asks a
// client without a certificate for one, and refuses an unknown one.
func TestMain_TLSAuth(t *testing.T) {
	defer goleak.VerifyNone(t)
	certFile, keyFile, pool := writeServerCert(t)
	ca := testcert.NewCA(t, "client CA")
	caFile := ca.WritePEM(t, t.TempDir())
	device := ca.Issue(t, "device-7", x509.ExtKeyUsageClientAuth)
	backend := ca.Issue(t, "backend", x509.ExtKeyUsageClientAuth)
	stranger := ca.Issue(t, "stranger", x509.ExtKeyUsageClientAuth)
	fp := sha256.Sum256(device.Leaf.Raw)
	m, _, _ := mustRunConfig(t, `
websocket:
  address: 127.0.0.1:0
  tls:
    cert: "`+certFile+`"
    key: "`+keyFile+`"
    client_auth: verify_if_given
    client_ca: "`+caFile+`"
realms:
  - name: com.example.secure
    tls:
      device: {fingerprint: "`+hex.EncodeToString(fp[:])+`", role: device}
      backend: {role: backend}
`)
	join := func(cert *tls.Certificate) (*client.Client, error) {
		tc := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
		if cert != nil {
			tc.Certificates = []tls.Certificate{*cert}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return client.Dial(ctx, m.WebSocketURL(), client.Config{Realm: "com.example.secure", TLSConfig: tc, Auth: []client.Authenticator{client.TLSAuth()}})
	}
	for _, tt := range []struct {
		cert             *tls.Certificate
		wantID, wantRole string
	}{{&device, "device", "device"}, {&backend, "backend", "backend"}} {
		c, err := join(tt.cert)
		if err != nil {
			t.Fatalf("Join with %s's certificate: %v", tt.wantID, err)
		}
		if d := c.WelcomeDetails(); d.String("authid") != tt.wantID || d.String("authrole") != tt.wantRole || d.String("authmethod") != "tls" {
			t.Errorf("WELCOME details = %v, want authid %s, authrole %s, authmethod tls", d, tt.wantID, tt.wantRole)
		}
		c.Close()
	}
	if _, err := join(nil); !isAbort(err, protocol.ErrAuthenticationRequired) {
		t.Errorf("Join without a certificate = %v, want ABORT %s", err, protocol.ErrAuthenticationRequired)
	}
	if _, err := join(&stranger); !isAbort(err, protocol.ErrAuthenticationDenied) {
		t.Errorf("Join with an unknown certificate = %v, want ABORT %s", err, protocol.ErrAuthenticationDenied)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
}

// TestMain_TLSClientCA: realms[].tls_client_ca lets a listener that only
// asks for certificates (client_auth request, no client_ca) serve both a
// principal pinned by fingerprint (a self-signed certificate) and one
// known by name, whose certificate wampd checks against the realm's CA.
// A named certificate of another CA is refused. A reload (SIGHUP) that
// rotates the CA file makes new logins check against the new CA.
func TestMain_TLSClientCA(t *testing.T) {
	defer goleak.VerifyNone(t)
	certFile, keyFile, pool := writeServerCert(t)
	dir := t.TempDir()
	caA, caB := testcert.NewCA(t, "client CA A"), testcert.NewCA(t, "client CA B")
	caFile := filepath.Join(dir, "client-ca.pem")
	writeCA := func(ca *testcert.CA) {
		writeFile(t, caFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})))
	}
	writeCA(caA)
	selfSigned := testcert.NewCA(t, "device-7").TLS()
	backendA := caA.Issue(t, "backend", x509.ExtKeyUsageClientAuth)
	backendB := caB.Issue(t, "backend", x509.ExtKeyUsageClientAuth)
	fp := sha256.Sum256(selfSigned.Leaf.Raw)
	path := filepath.Join(dir, "wampd.yaml")
	writeFile(t, path, `
log: {format: json}
websocket:
  address: 127.0.0.1:0
  tls:
    cert: "`+certFile+`"
    key: "`+keyFile+`"
    client_auth: request
realms:
  - name: com.example.secure
    tls_client_ca: "`+caFile+`"
    tls:
      device: {fingerprint: "`+hex.EncodeToString(fp[:])+`", role: device}
      backend: {role: backend}
`)
	m, _, logs := mustRunMain(t, "-config", path, "-rawsocket", "")
	defer m.Close() // before goleak looks
	join := func(cert *tls.Certificate) (*client.Client, error) {
		tc := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", Certificates: []tls.Certificate{*cert}}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return client.Dial(ctx, m.WebSocketURL(), client.Config{Realm: "com.example.secure", TLSConfig: tc, Auth: []client.Authenticator{client.TLSAuth()}})
	}
	wantJoin := func(cert *tls.Certificate, wantID string) {
		t.Helper()
		c, err := join(cert)
		if err != nil {
			t.Fatalf("Join as %s: %v", wantID, err)
		}
		if d := c.WelcomeDetails(); d.String("authid") != wantID || d.String("authrole") != wantID {
			t.Errorf("WELCOME details = %v, want authid and authrole %s", d, wantID)
		}
		c.Close()
	}
	wantRefused := func(cert *tls.Certificate, what string) {
		t.Helper()
		if c, err := join(cert); !isAbort(err, protocol.ErrAuthenticationDenied) {
			if err == nil {
				c.Close()
			}
			t.Errorf("Join with %s = %v, want ABORT %s", what, err, protocol.ErrAuthenticationDenied)
		}
	}
	wantJoin(&selfSigned, "device")
	wantJoin(&backendA, "backend")
	wantRefused(&backendB, "a certificate of CA B before the reload")

	writeCA(caB)
	if err := m.Reload(context.Background()); err != nil {
		t.Fatalf("Reload() = %v", err)
	}
	wantJoin(&backendB, "backend")
	wantRefused(&backendA, "a certificate of CA A after the reload")
	wantJoin(&selfSigned, "device")
	if err := m.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	updated := findLog(logLines(t, logs.String()), "reload: realm updated")
	if got := updated["credentials_changed"]; !cmp.Equal(got, []any{"tls_client_ca"}) {
		t.Errorf("reload: realm updated line %v, want credentials_changed [tls_client_ca]", updated)
	}
}

// TestTLSAuthConfigInvalid: listener and principal settings of the tls
// authmethod that cannot work stop wampd at start.
func TestTLSAuthConfigInvalid(t *testing.T) {
	certFile, keyFile, _ := writeServerCert(t)
	tls := func(extra string) string {
		return "websocket:\n  tls:\n    cert: " + certFile + "\n    key: " + keyFile + "\n" + extra
	}
	tests := []struct{ name, config, wantErr string }{
		{"unknown client_auth", tls("    client_auth: maybe\n"), `client_auth "maybe"`},
		{"verify without client_ca", tls("    client_auth: require_and_verify\n"), "needs client_ca"},
		{"client_ca without client_auth", tls("    client_ca: ca.pem\n"), "client_ca without client_auth"},
		{"client_auth without TLS", "rawsocket:\n  tls:\n    client_auth: request\n", "need cert and key"},
		{"bad fingerprint", "realms:\n  - name: a.b\n    tls:\n      dev: {fingerprint: \"ab:cd\"}\n", `tls principal "dev"`},
		{"tls_client_ca missing", "realms:\n  - name: a.b\n    tls_client_ca: " + filepath.Join(t.TempDir(), "nope.pem") + "\n    tls:\n      dev: {}\n", "tls_client_ca: open"},
		{"tls_client_ca without certificates", "realms:\n  - name: a.b\n    tls_client_ca: " + keyFile + "\n    tls:\n      dev: {}\n", "no PEM certificate"},
		{"tls_client_ca without tls principals", "realms:\n  - name: a.b\n    tls_client_ca: " + certFile + "\n", "tls_client_ca without tls principals"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "wampd.yaml")
			writeFile(t, path, tt.config)
			m := NewMain()
			m.Stderr = io.Discard
			err := m.ParseFlags(context.Background(), []string{"-config", path})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseFlags() = %v, want an error with %q", err, tt.wantErr)
			}
		})
	}
}
