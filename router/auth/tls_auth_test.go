package auth_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/router/auth"
)

// colonFingerprint returns cert's SHA-256 fingerprint as openssl prints
// it: upper-case hex bytes joined by colons.
func colonFingerprint(cert tls.Certificate) string {
	fp := sha256.Sum256(cert.Leaf.Raw)
	parts := make([]string, len(fp))
	for i, b := range fp {
		parts[i] = strings.ToUpper(hex.EncodeToString([]byte{b}))
	}
	return strings.Join(parts, ":")
}

// TestTLSAuthenticator: client certificates are mapped to principals by
// fingerprint (any issuer) or, for a certificate the listener verified,
// by name; a missing certificate is asked for, and an unknown one, one
// of another authid or an unverified one claiming a name are refused
// alike, without a CHALLENGE.
func TestTLSAuthenticator(t *testing.T) {
	ca := newCA(t, "client CA")
	rogue := newCA(t, "rogue CA")
	pinned := rogue.Issue(t, "device-7", x509.ExtKeyUsageClientAuth) // self-made, pinned by fingerprint
	pinned2 := rogue.Issue(t, "device-8", x509.ExtKeyUsageClientAuth)
	named := ca.Issue(t, "backend.example.com", x509.ExtKeyUsageClientAuth)
	impostor := rogue.Issue(t, "backend.example.com", x509.ExtKeyUsageClientAuth)
	shared := rogue.Issue(t, "shared", x509.ExtKeyUsageClientAuth)
	ta := &auth.TLS{Principals: map[string]auth.TLSPrincipal{
		"device":              {Role: "device", Fingerprints: []string{colonFingerprint(pinned), strings.ToLower(strings.ReplaceAll(colonFingerprint(pinned2), ":", ""))}},
		"backend.example.com": {Role: "backend"},
		"shared1":             {Fingerprints: []string{colonFingerprint(shared)}},
		"shared2":             {Fingerprints: []string{colonFingerprint(shared)}},
	}}
	// state returns the server side of a TLS 1.3 handshake with cert,
	// verified against ca as a listener with ClientCAs would.
	state := func(cert *tls.Certificate) *tls.ConnectionState {
		_, s := tlsPair(t, tls.VersionTLS13, cert)
		if cert != nil {
			if chains, err := s.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
				s.VerifiedChains = chains
			}
		}
		return s
	}
	welcome := func(authid, role string) *router.Identity {
		return &router.Identity{AuthID: authid, AuthRole: role, AuthMethod: "tls", AuthProvider: "static"}
	}
	tests := []struct {
		name       string
		state      *tls.ConnectionState
		authid     string
		want       *router.Identity
		wantReason protocol.URI
		wantMsg    string
	}{
		{"pinned", state(&pinned), "", welcome("device", "device"), "", ""},
		{"pinned second key, lower-case without colons", state(&pinned2), "", welcome("device", "device"), "", ""},
		{"pinned with authid", state(&pinned), "device", welcome("device", "device"), "", ""},
		{"named and verified", state(&named), "", welcome("backend.example.com", "backend"), "", ""},
		{"named with authid", state(&named), "backend.example.com", welcome("backend.example.com", "backend"), "", ""},
		{"pinned claiming another authid", state(&pinned), "backend.example.com", nil, protocol.ErrAuthenticationDenied, "certificate not accepted"},
		{"named claiming another authid", state(&named), "device", nil, protocol.ErrAuthenticationDenied, "certificate not accepted"},
		{"unverified name", state(&impostor), "", nil, protocol.ErrAuthenticationDenied, "certificate not accepted"},
		{"unverified name with authid", state(&impostor), "backend.example.com", nil, protocol.ErrAuthenticationDenied, "certificate not accepted"},
		{"unknown authid", state(&pinned), "nobody", nil, protocol.ErrAuthenticationDenied, "certificate not accepted"},
		{"shared without authid", state(&shared), "", nil, protocol.ErrAuthenticationDenied, "several principals"},
		{"shared with authid", state(&shared), "shared2", welcome("shared2", "user"), "", ""},
		{"no certificate", state(nil), "", nil, protocol.ErrAuthenticationRequired, "client certificate"},
		{"no TLS", nil, "device", nil, protocol.ErrAuthenticationRequired, "client certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := &scriptedChallenger{answer: func(string, protocol.Dict) string { return "" }}
			req := &router.AuthRequest{Realm: realm1, AuthID: tt.authid, AuthMethods: []string{"tls"}, TLS: tt.state}
			got, err := ta.Authenticate(context.Background(), req, ch)
			if len(ch.seen) > 0 {
				t.Errorf("tls sent a CHALLENGE")
			}
			if tt.wantReason != "" {
				var ae *router.AuthError
				if !errors.As(err, &ae) || ae.Reason != tt.wantReason || !strings.Contains(ae.Message, tt.wantMsg) {
					t.Fatalf("Authenticate() = %v, %v; want ABORT %s %q", got, err, tt.wantReason, tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("Authenticate() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Identity mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTLSLookup: Lookup decides, gets the leaf certificate, and its
// empty AuthID means the certificate's fingerprint.
func TestTLSLookup(t *testing.T) {
	ca := newCA(t, "client CA")
	cert := ca.Issue(t, "sensor-1", x509.ExtKeyUsageClientAuth)
	other := ca.Issue(t, "sensor-2", x509.ExtKeyUsageClientAuth)
	ta := &auth.TLS{AuthProvider: "inventory", Lookup: func(_ context.Context, _ *router.AuthRequest, c *x509.Certificate) (*router.Identity, error) {
		if c.Subject.CommonName != "sensor-1" {
			return nil, nil
		}
		return &router.Identity{AuthRole: "sensor"}, nil
	}}
	_, s := tlsPair(t, tls.VersionTLS12, &cert)
	got, err := ta.Authenticate(context.Background(), &router.AuthRequest{Realm: realm1, TLS: s}, nil)
	fp := sha256.Sum256(cert.Leaf.Raw)
	want := &router.Identity{AuthID: hex.EncodeToString(fp[:]), AuthRole: "sensor", AuthMethod: "tls", AuthProvider: "inventory"}
	if err != nil || cmp.Diff(want, got) != "" {
		t.Fatalf("Authenticate() = %+v, %v; want %+v", got, err, want)
	}
	_, s = tlsPair(t, tls.VersionTLS12, &other)
	var ae *router.AuthError
	if _, err := ta.Authenticate(context.Background(), &router.AuthRequest{Realm: realm1, TLS: s}, nil); !errors.As(err, &ae) || ae.Reason != protocol.ErrAuthenticationDenied {
		t.Fatalf("Authenticate() of an unknown certificate: %v, want ABORT %s", err, protocol.ErrAuthenticationDenied)
	}
}

func TestParseFingerprint(t *testing.T) {
	const hexFP = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
	tests := []struct {
		in     string
		wantOK bool
	}{
		{hexFP, true},
		{strings.ToUpper(hexFP), true},
		{"5E:88:48:98:DA:28:04:71:51:D0:E5:6F:8D:C6:29:27:73:60:3D:0D:6A:AB:BD:D6:2A:11:EF:72:1D:15:42:D8", true},
		{hexFP[:62], false},
		{"zz" + hexFP[2:], false},
		{"", false},
	}
	for _, tt := range tests {
		_, err := auth.ParseFingerprint(tt.in)
		if (err == nil) != tt.wantOK {
			t.Errorf("ParseFingerprint(%q) error = %v, want ok %v", tt.in, err, tt.wantOK)
		}
	}
}

// TestTLSClientCAs: with ClientCAs the authenticator verifies names
// itself, for a listener that only requests certificates: a certificate
// of the CA is admitted by name, one of another CA with the same name is
// not.
func TestTLSClientCAs(t *testing.T) {
	ca, rogue := newCA(t, "client CA"), newCA(t, "rogue CA")
	ta := &auth.TLS{Principals: map[string]auth.TLSPrincipal{"backend": {Role: "backend"}}, ClientCAs: ca.Pool()}
	good, bad := ca.Issue(t, "backend", x509.ExtKeyUsageClientAuth), rogue.Issue(t, "backend", x509.ExtKeyUsageClientAuth)
	_, s := tlsPair(t, tls.VersionTLS13, &good)
	if idn, err := ta.Authenticate(context.Background(), &router.AuthRequest{Realm: realm1, TLS: s}, nil); err != nil || idn.AuthID != "backend" {
		t.Fatalf("Authenticate() = %v, %v; want backend", idn, err)
	}
	_, s = tlsPair(t, tls.VersionTLS13, &bad)
	var ae *router.AuthError
	if _, err := ta.Authenticate(context.Background(), &router.AuthRequest{Realm: realm1, TLS: s}, nil); !errors.As(err, &ae) || ae.Reason != protocol.ErrAuthenticationDenied {
		t.Fatalf("Authenticate() of another CA's certificate = %v, want ABORT %s", err, protocol.ErrAuthenticationDenied)
	}
}
