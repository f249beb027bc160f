package auth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"
)

// testCA is a certificate authority made for a test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// newCA returns a new self-signed CA named cn.
func newCA(tb testing.TB, cn string) *testCA {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return &testCA{cert: cert, key: key}
}

// pool returns a pool holding only ca.
func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// issue returns a certificate of ca for cn (also its DNS SAN, and
// 127.0.0.1) with the given extended key usage.
func (ca *testCA) issue(tb testing.TB, cn string, usage x509.ExtKeyUsage) tls.Certificate {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     []string{cn},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		tb.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// tlsPair runs a TLS handshake of the given version over an in-memory
// pipe, the client presenting clientCert if it has one, and returns the
// connection state of each end. The server asks for a client certificate
// and accepts any.
func tlsPair(tb testing.TB, version uint16, clientCert *tls.Certificate) (client, server *tls.ConnectionState) {
	tb.Helper()
	ca := newCA(tb, "test CA")
	scfg := &tls.Config{
		Certificates: []tls.Certificate{ca.issue(tb, "router.test", x509.ExtKeyUsageServerAuth)},
		ClientAuth:   tls.RequestClientCert,
		MinVersion:   version,
		MaxVersion:   version,
	}
	ccfg := &tls.Config{RootCAs: ca.pool(), ServerName: "router.test", MinVersion: version, MaxVersion: version}
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
