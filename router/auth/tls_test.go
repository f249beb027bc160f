package auth_test

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"

	"github.com/wampkit/wampkit/internal/testcert"
)

// testCA is a certificate authority made for a test.
type testCA = testcert.CA

// newCA returns a new self-signed CA named cn.
func newCA(tb testing.TB, cn string) *testCA { return testcert.NewCA(tb, cn) }

// tlsPair runs a TLS handshake of the given version over an in-memory
// pipe, the client presenting clientCert if it has one, and returns the
// connection state of each end. The server asks for a client certificate
// and accepts any.
func tlsPair(tb testing.TB, version uint16, clientCert *tls.Certificate) (client, server *tls.ConnectionState) {
	tb.Helper()
	ca := newCA(tb, "test CA")
	scfg := &tls.Config{
		Certificates: []tls.Certificate{ca.Issue(tb, "router.test", x509.ExtKeyUsageServerAuth)},
		ClientAuth:   tls.RequestClientCert,
		MinVersion:   version,
		MaxVersion:   version,
	}
	ccfg := &tls.Config{RootCAs: ca.Pool(), ServerName: "router.test", MinVersion: version, MaxVersion: version}
	if clientCert != nil {
		ccfg.Certificates = []tls.Certificate{*clientCert}
	}
	c, s := net.Pipe()
	tb.Cleanup(func() { c.Close(); s.Close() })
	tc, ts := tls.Client(c, ccfg), tls.Server(s, scfg)
	done := make(chan error, 1)
	go func() { done <- ts.Handshake() }()
	if err := tc.Handshake(); err != nil {
		tb.Fatalf("client handshake: %v", err)
	}
	if err := <-done; err != nil {
		tb.Fatalf("server handshake: %v", err)
	}
	cs, ss := tc.ConnectionState(), ts.ConnectionState()
	return &cs, &ss
}
