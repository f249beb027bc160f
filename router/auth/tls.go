package auth

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// TLSPrincipal is a user known to [TLS] by its client certificate.
type TLSPrincipal struct {
	// Role is the authrole the principal is welcomed with. Empty means
	// "user".
	Role string
	// Fingerprints are the SHA-256 fingerprints of the principal's
	// certificates (of the DER encoding, as `openssl x509 -fingerprint
	// -sha256` prints them): 64 hex digits, with or without colons, in
	// either case. A certificate with one of them is the principal's,
	// whoever issued it (the TLS handshake proved the client holds its
	// private key), so self-signed certificates work.
	//
	// Empty means the principal is known by name instead: a verified
	// certificate (see [TLS].ClientCAs) whose subject common name, or one
	// of its DNS, email or URI subject alternative names, is the authid.
	Fingerprints []string
}

// TLS is the [router.Authenticator] of TLS client certificate
// authentication, authmethod "tls" as Crossbar.io names it: the client
// presents a certificate in the TLS handshake of a wss:// or tcps://
// connection and asks for "tls" in HELLO.Details.authmethods; the router
// welcomes it at once, without a CHALLENGE (the TLS handshake already
// proved that the client holds the certificate's private key).
//
// HELLO.Details.authid is optional: without it the principal is the one
// whose Fingerprints hold the certificate's, or else the one named by the
// verified certificate (see [TLSPrincipal].Fingerprints). With it, the
// certificate must be that principal's.
//
// The refusals are ABORTs with these reasons:
//   - no TLS, or TLS without a client certificate (TLS ended by a proxy
//     in front of the router looks the same):
//     wamp.error.authentication_required "tls authentication needs a
//     client certificate";
//   - a certificate that belongs to no principal, or not to the authid
//     asked for, or an unknown authid: wamp.error.authentication_denied
//     "certificate not accepted", the same for all, so that clients cannot
//     find out which authids exist;
//   - a certificate of several principals, without an authid:
//     wamp.error.authentication_denied "certificate of several
//     principals: send HELLO.Details.authid".
//
// Ask the TLS listener for client certificates with ClientAuth in its
// tls.Config (transport's doc, "TLS"): RequestClientCert or
// RequireAnyClientCert suffice for principals known by fingerprint;
// principals known by name need a verified certificate: ClientCAs here,
// or a listener that verifies (VerifyClientCertIfGiven or
// RequireAndVerifyClientCert, with its own ClientCAs). The router throttles
// failed attempts as for the other methods ([router.AuthThrottle]),
// counting them against the authid, or else the certificate's
// fingerprint, and the client's address.
//
// A TLS must not be modified once the router is started; it is safe for
// concurrent use.
type TLS struct {
	// Principals maps authid to principal. Used when Lookup is nil.
	Principals map[string]TLSPrincipal
	// Lookup, if not nil, decides instead of Principals whether the
	// client described by req (req.AuthID may be empty; req.TLS holds the
	// connection, its VerifiedChains whether the listener verified the
	// certificate) may authenticate with cert, its leaf certificate, and
	// returns the identity to welcome it with: an empty AuthID means
	// req.AuthID or else the certificate's SHA-256 fingerprint (64 hex
	// digits), an empty AuthRole "user". A nil Identity and nil error
	// mean the certificate is not accepted; an [*router.AuthError] is sent
	// as is; any other error is answered with
	// wamp.error.authentication_failed.
	Lookup func(ctx context.Context, req *router.AuthRequest, cert *x509.Certificate) (*router.Identity, error)
	// ClientCAs, if not nil, are the CAs that vouch for the names of
	// principals known by name: the authenticator verifies the client's
	// certificate (with the intermediates it sent, for client
	// authentication) against them. A certificate that the TLS listener
	// verified itself (tls.Config.ClientCAs with ClientAuth
	// VerifyClientCertIfGiven or RequireAndVerifyClientCert) counts as
	// verified too. Setting ClientCAs here lets a listener that only asks
	// for certificates (RequestClientCert) serve both principals pinned
	// by fingerprint, self-signed ones included, and principals named by
	// a CA. Nil means only the listener's verification counts.
	ClientCAs *x509.CertPool
	// AuthProvider is WELCOME.Details.authprovider. Empty means "static".
	AuthProvider string
}

var _ router.Authenticator = (*TLS)(nil)

// AuthMethod returns "tls".
func (*TLS) AuthMethod() string { return "tls" }

// Authenticate checks the client's certificate; it sends no CHALLENGE.
func (t *TLS) Authenticate(ctx context.Context, req *router.AuthRequest, _ router.Challenger) (*router.Identity, error) {
	if req.TLS == nil || len(req.TLS.PeerCertificates) == 0 {
		return nil, &router.AuthError{Reason: protocol.ErrAuthenticationRequired, Message: "tls authentication needs a client certificate"}
	}
	cert := req.TLS.PeerCertificates[0]
	fp := sha256.Sum256(cert.Raw)
	idn := &router.Identity{AuthMethod: "tls", AuthProvider: provider(t.AuthProvider)}
	if t.Lookup != nil {
		got, err := t.Lookup(ctx, req, cert)
		if err != nil {
			return nil, err
		}
		if got == nil {
			return nil, denied("certificate not accepted")
		}
		out := *got
		if out.AuthID == "" {
			out.AuthID = req.AuthID
		}
		if out.AuthID == "" {
			out.AuthID = hex.EncodeToString(fp[:])
		}
		out.AuthRole = roleOr(out.AuthRole)
		if out.AuthMethod == "" {
			out.AuthMethod = idn.AuthMethod
		}
		if out.AuthProvider == "" {
			out.AuthProvider = idn.AuthProvider
		}
		return &out, nil
	}
	verified := len(req.TLS.VerifiedChains) > 0 || t.verify(req.TLS.PeerCertificates)
	if req.AuthID != "" {
		p, ok := t.Principals[req.AuthID]
		if !ok || !p.accepts(req.AuthID, cert, fp, verified) {
			return nil, denied("certificate not accepted")
		}
		idn.AuthID, idn.AuthRole = req.AuthID, roleOr(p.Role)
		return idn, nil
	}
	// By fingerprint first: a pinned certificate names its principal
	// more precisely than a name does.
	for _, byName := range []bool{false, true} {
		found := 0
		for id, p := range t.Principals {
			if (len(p.Fingerprints) == 0) == byName && p.accepts(id, cert, fp, verified) {
				found++
				idn.AuthID, idn.AuthRole = id, roleOr(p.Role)
			}
		}
		switch {
		case found == 1:
			return idn, nil
		case found > 1:
			return nil, denied("certificate of several principals: send HELLO.Details.authid")
		}
	}
	return nil, denied("certificate not accepted")
}

// verify reports whether ClientCAs vouch for chain[0], a client
// certificate, with the rest of chain as intermediates.
func (t *TLS) verify(chain []*x509.Certificate) bool {
	if t.ClientCAs == nil {
		return false
	}
	opts := x509.VerifyOptions{Roots: t.ClientCAs, Intermediates: x509.NewCertPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	for _, c := range chain[1:] {
		opts.Intermediates.AddCert(c)
	}
	_, err := chain[0].Verify(opts)
	return err == nil
}

// accepts reports whether cert (whose SHA-256 fingerprint is fp, verified
// by the listener or not) is the certificate of principal p with authid.
func (p TLSPrincipal) accepts(authid string, cert *x509.Certificate, fp [sha256.Size]byte, verified bool) bool {
	if len(p.Fingerprints) > 0 {
		for _, f := range p.Fingerprints {
			if b, err := ParseFingerprint(f); err == nil && b == fp {
				return true
			}
		}
		return false
	}
	return verified && certNames(cert, authid)
}

// certNames reports whether name is cert's subject common name or one of
// its DNS, email or URI subject alternative names.
func certNames(cert *x509.Certificate, name string) bool {
	if name == "" {
		return false
	}
	if cert.Subject.CommonName == name {
		return true
	}
	for _, n := range cert.DNSNames {
		if n == name {
			return true
		}
	}
	for _, n := range cert.EmailAddresses {
		if n == name {
			return true
		}
	}
	for _, u := range cert.URIs {
		if u.String() == name {
			return true
		}
	}
	return false
}

// ParseFingerprint parses a SHA-256 certificate fingerprint: 64 hex
// digits, with or without colons between bytes, in either case (as
// `openssl x509 -noout -fingerprint -sha256` prints it).
func ParseFingerprint(s string) ([sha256.Size]byte, error) {
	var out [sha256.Size]byte
	b, err := hex.DecodeString(strings.ReplaceAll(s, ":", ""))
	if err != nil || len(b) != sha256.Size {
		return out, fmt.Errorf("auth: fingerprint %q: want the 64 hex digits of a SHA-256 fingerprint", s)
	}
	copy(out[:], b)
	return out, nil
}
