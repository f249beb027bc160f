package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// Principal is a user known to the [Ticket] and [WAMPCRA]
// authenticators, keyed by authid.
type Principal struct {
	// Secret is the ticket ([Ticket]) or the WAMP-CRA shared secret
	// ([WAMPCRA]). For salted WAMP-CRA it is the derived key as returned
	// by [DeriveCRAKey], never the password itself. An empty Secret
	// admits nobody.
	Secret string
	// Role is the authrole the principal is welcomed with. Empty means
	// "user".
	Role string
	// Salt, Iterations and KeyLen, when Salt is not empty, make [WAMPCRA]
	// announce salted WAMP-CRA: they are sent in CHALLENGE.Extra so that
	// the client derives Secret from its password (spec
	// advanced/authentication_cra.md, "Password Salting"). Zero
	// Iterations means 1000, zero KeyLen 32. Ticket ignores them.
	Salt       string
	Iterations int
	KeyLen     int
}

// role returns p.Role or its default.
func (p *Principal) role() string { return roleOr(p.Role) }

// Ticket is the ticket [router.Authenticator] (spec advanced/authentication_ticket.md):
// HELLO.Details.authid is required, the router sends [CHALLENGE, "ticket",
// {}] and the client answers with the ticket as AUTHENTICATE.Signature.
//
// A ticket is checked by Check if set, else against Principals. The
// refusals are ABORTs with these reasons:
//   - no authid in HELLO: wamp.error.authentication_required, before any CHALLENGE;
//   - wrong ticket, or an authid not in Principals:
//     wamp.error.authentication_denied "wrong ticket", after the CHALLENGE.
//
// An unknown authid is challenged and refused exactly like a known one
// with a wrong ticket, so that clients cannot find out which authids
// exist (the spec would allow wamp.error.no_such_principal before any
// CHALLENGE). The router also throttles failed attempts (see
// [router.AuthThrottle]).
//
// The ticket travels in clear text: use it over TLS only. A Ticket must
// not be modified once the router is started; it is safe for concurrent
// use.
type Ticket struct {
	// Principals maps authid to its ticket (Principal.Secret) and role.
	// Used when Check is nil.
	Principals map[string]Principal
	// Check, if not nil, verifies ticket for the client described by req
	// (req.AuthID is never empty) and returns the identity to welcome it
	// with; an empty router.Identity.AuthID means req.AuthID, an empty AuthRole
	// "user". To refuse, it returns an [*router.AuthError] (typically
	// wamp.error.authentication_denied; to keep authids secret, the same
	// for an unknown authid as for a wrong ticket); any other error is
	// answered with wamp.error.authentication_failed.
	Check func(ctx context.Context, req *router.AuthRequest, ticket string) (*router.Identity, error)
	// AuthProvider is WELCOME.Details.authprovider. Empty means "static".
	AuthProvider string
}

var _ router.Authenticator = (*Ticket)(nil)

// AuthMethod returns "ticket".
func (*Ticket) AuthMethod() string { return "ticket" }

// Authenticate runs one ticket round.
func (t *Ticket) Authenticate(ctx context.Context, req *router.AuthRequest, ch router.Challenger) (*router.Identity, error) {
	if req.AuthID == "" {
		return nil, &router.AuthError{Reason: protocol.ErrAuthenticationRequired, Message: "ticket authentication needs HELLO.Details.authid"}
	}
	var p Principal // zero for an unknown authid: it admits nobody
	if t.Check == nil {
		p = t.Principals[req.AuthID]
	}
	a, err := ch.Challenge(ctx, "ticket", protocol.Dict{})
	if err != nil {
		return nil, err
	}
	if t.Check != nil {
		idn, err := t.Check(ctx, req, a.Signature)
		if err != nil {
			return nil, err
		}
		if idn == nil {
			return nil, denied("wrong ticket")
		}
		out := *idn
		if out.AuthID == "" {
			out.AuthID = req.AuthID
		}
		if out.AuthRole == "" {
			out.AuthRole = "user"
		}
		if out.AuthMethod == "" {
			out.AuthMethod = "ticket"
		}
		if out.AuthProvider == "" {
			out.AuthProvider = provider(t.AuthProvider)
		}
		return &out, nil
	}
	// An empty Secret (an unknown authid, or a configuration slip)
	// admits nobody; it is compared all the same, to take the same time.
	if ok := secretEqual(a.Signature, p.Secret); !ok || p.Secret == "" {
		return nil, denied("wrong ticket")
	}
	return &router.Identity{AuthID: req.AuthID, AuthRole: p.role(), AuthMethod: "ticket", AuthProvider: provider(t.AuthProvider)}, nil
}

// secretEqual compares a and b in time independent of their contents and
// of where they differ; hashing first also hides b's length.
func secretEqual(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// provider returns p, or "static" if empty.
func provider(p string) string {
	if p == "" {
		return "static"
	}
	return p
}

// denied returns the refusal for wrong credentials.
func denied(msg string) *router.AuthError {
	return &router.AuthError{Reason: protocol.ErrAuthenticationDenied, Message: msg}
}
