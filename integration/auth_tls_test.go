package integration

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"testing"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/router/auth"
)

// fingerprint returns the SHA-256 fingerprint of cert, hex.
func fingerprint(cert tls.Certificate) string {
	fp := sha256.Sum256(cert.Leaf.Raw)
	return hex.EncodeToString(fp[:])
}

// TestTLSClientCertificateAuth: over real wss and tcps listeners that
// ask for client certificates and verify those of a client CA, the
// authmethod "tls" admits a certificate pinned by fingerprint (here
// self-issued) and one of the CA named after its principal, with the
// principal's role; without a certificate the client is asked for one,
// and an unknown certificate or one of another principal is refused
// alike (no enumeration). Failures are throttled like the other methods'.
func TestTLSClientCertificateAuth(t *testing.T) {
	clientCA := newCA(t, "client CA")
	selfMade := newCA(t, "device's own CA")
	pinned := selfMade.Issue(t, "device-7", x509.ExtKeyUsageClientAuth)
	named := clientCA.Issue(t, "backend", x509.ExtKeyUsageClientAuth)
	unknown := selfMade.Issue(t, "someone", x509.ExtKeyUsageClientAuth)
	cfg := router.Config{
		AuthThrottle: router.AuthThrottle{AddressFailures: -1, AuthIDFailures: 2},
		Realms: []router.RealmConfig{{Name: realm1, Authenticators: []router.Authenticator{
			&auth.TLS{
				Principals: map[string]auth.TLSPrincipal{
					"device":  {Role: "device", Fingerprints: []string{fingerprint(pinned)}},
					"backend": {Role: "backend"},
				},
				ClientCAs: clientCA.Pool(),
			},
		}}},
	}
	// The listener asks for any certificate; the authenticator checks
	// pinned ones by fingerprint and named ones against the client CA.
	e := startTLSEnv(t, cfg, func(c *tls.Config) { c.ClientAuth = tls.RequestClientCert })
	dial := func(kind string, cert *tls.Certificate, authid string) (*client.Client, error) {
		tc := e.clientTLS()
		if cert != nil {
			tc.Certificates = []tls.Certificate{*cert}
		}
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		c, err := client.Dial(ctx, e.url(kind), client.Config{Realm: realm1, AuthID: authid, TLSConfig: tc, Auth: []client.Authenticator{client.TLSAuth()}, ResponseTimeout: testTimeout})
		if err == nil {
			t.Cleanup(func() { c.Close() })
		}
		return c, err
	}
	for _, kind := range []string{"wss", "tcps"} {
		t.Run(kind, func(t *testing.T) {
			for _, tt := range []struct {
				name             string
				cert             *tls.Certificate
				authid           string
				wantID, wantRole string
			}{
				{"pinned", &pinned, "", "device", "device"},
				{"pinned with authid", &pinned, "device", "device", "device"},
				{"named by the CA", &named, "", "backend", "backend"},
			} {
				c, err := dial(kind, tt.cert, tt.authid)
				if err != nil {
					t.Fatalf("%s: Join: %v", tt.name, err)
				}
				d := c.WelcomeDetails()
				if d.String("authid") != tt.wantID || d.String("authrole") != tt.wantRole || d.String("authmethod") != "tls" {
					t.Errorf("%s: WELCOME authid %q, authrole %q, authmethod %q; want %s, %s, tls", tt.name,
						d.String("authid"), d.String("authrole"), d.String("authmethod"), tt.wantID, tt.wantRole)
				}
			}
			_, err := dial(kind, nil, "")
			wantAbort(t, err, protocol.ErrAuthenticationRequired, "client certificate")
			for _, tt := range []struct {
				name   string
				cert   *tls.Certificate
				authid string
			}{{"unknown", &unknown, ""}, {"unknown with authid", &unknown, "backend"}, {"another principal's", &pinned, "backend"}} {
				_, err := dial(kind, tt.cert, tt.authid)
				wantAbort(t, err, protocol.ErrAuthenticationDenied, "certificate not accepted")
			}
		})
	}
	// The unknown certificate failed twice per transport: its
	// fingerprint (the principal it claims, having no authid) is now
	// throttled, even on the other transport.
	_, err := dial("wss", &unknown, "")
	wantAbort(t, err, protocol.ErrAuthenticationDenied, router.ThrottledMessage)
	if _, err := dial("wss", &pinned, ""); err != nil {
		t.Fatalf("pinned Join after another certificate was throttled: %v", err)
	}
}
