package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// CryptosignPrincipal is a user known to [Cryptosign] by its Ed25519
// public keys.
type CryptosignPrincipal struct {
	// Role is the authrole the principal is welcomed with. Empty means
	// "user".
	Role string
	// PublicKeys are the keys the principal may authenticate with.
	PublicKeys []ed25519.PublicKey
}

// Cryptosign is the WAMP-Cryptosign [router.Authenticator], client authentication
// with Ed25519 (spec advanced/authentication_cryptosign.md, RFC 8032):
// HELLO.Details.authextra.pubkey (hex, 32 bytes) is required and
// HELLO.Details.authid optional; the router sends [CHALLENGE,
// "cryptosign", {"challenge": hex(32 random bytes), "channel_binding":
// null}] and the client answers with hex(signature (64 bytes) || challenge
// (32 bytes)). A fresh challenge per handshake makes a recorded answer
// useless.
//
// Router authentication: if RouterKey is set and the client sends
// HELLO.Details.authextra.challenge (hex, 32 bytes), the CHALLENGE also
// carries the router's "pubkey" and "signature" = hex(signature ||
// client challenge), for the client to check.
//
// Not implemented: TLS channel binding (a client asking for it gets
// channel_binding null, which the spec allows: the client decides whether
// to go on), certificates and trustroots, remote attestation. Without
// RouterKey, a client challenge is ignored.
//
// The refusals are ABORTs with these reasons:
//   - no pubkey in HELLO.Details.authextra: wamp.error.authentication_required;
//   - a pubkey that is not 64 hex digits: wamp.error.authentication_denied;
//   - a key registered for several principals when no authid is given:
//     wamp.error.authentication_denied, before any CHALLENGE;
//   - a client challenge that is not 64 hex digits while RouterKey is set:
//     wamp.error.authentication_denied, before any CHALLENGE;
//   - a malformed signature, or one not over the challenge:
//     wamp.error.authentication_denied, after the CHALLENGE;
//   - a wrong signature, an unknown authid, a key not registered for the
//     authid, or no principal with that key: wamp.error.authentication_denied
//     "wrong signature", after the CHALLENGE.
//
// An unknown authid or key is challenged and refused exactly like a known
// one with a wrong signature (even if the client signs right with its
// unknown key), so that clients cannot find out which authids and keys
// are registered. The router also throttles failed attempts (see
// [router.AuthThrottle]).
//
// A Cryptosign must not be modified once the router is started; it is
// safe for concurrent use.
type Cryptosign struct {
	// Principals maps authid to its public keys and role. When HELLO has
	// no authid, the principal holding the pubkey is used. Used when
	// Lookup is nil.
	Principals map[string]CryptosignPrincipal
	// Lookup, if not nil, decides whether pubkey may authenticate for the
	// client described by req (req.AuthID may be empty) and returns the
	// identity to welcome it with once it proved it holds the private key:
	// an empty AuthID means req.AuthID or else the hex public key, an
	// empty AuthRole "user". A nil router.Identity and nil error mean no such
	// principal: the client is challenged and refused as for a wrong
	// signature. An [*router.AuthError] is sent as is; any other error is
	// answered with wamp.error.authentication_failed.
	Lookup func(ctx context.Context, req *router.AuthRequest, pubkey ed25519.PublicKey) (*router.Identity, error)
	// AuthProvider is WELCOME.Details.authprovider. Empty means "static".
	AuthProvider string
	// RouterKey, if not nil, is the router's Ed25519 key for router
	// authentication (see above). Nil means the router does not
	// authenticate itself.
	RouterKey ed25519.PrivateKey
}

var _ router.Authenticator = (*Cryptosign)(nil)

// AuthMethod returns "cryptosign".
func (*Cryptosign) AuthMethod() string { return "cryptosign" }

// Authenticate runs one cryptosign round.
func (c *Cryptosign) Authenticate(ctx context.Context, req *router.AuthRequest, ch router.Challenger) (*router.Identity, error) {
	hexKey := req.AuthExtra.String("pubkey")
	if hexKey == "" {
		return nil, &router.AuthError{Reason: protocol.ErrAuthenticationRequired, Message: "cryptosign authentication needs HELLO.Details.authextra.pubkey"}
	}
	key, err := hex.DecodeString(hexKey)
	if err != nil || len(key) != ed25519.PublicKeySize {
		return nil, denied("malformed pubkey: want 64 hex digits")
	}
	pub := ed25519.PublicKey(key)
	idn, err := c.identity(ctx, req, pub)
	if err != nil {
		return nil, err
	}
	extra := protocol.Dict{"channel_binding": nil}
	if c.RouterKey != nil {
		if len(c.RouterKey) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("auth: Cryptosign.RouterKey of %d bytes, want %d", len(c.RouterKey), ed25519.PrivateKeySize)
		}
		if s, ok := req.AuthExtra["challenge"].(string); ok {
			cc, err := hex.DecodeString(s)
			if err != nil || len(cc) != 32 {
				return nil, denied("malformed authextra.challenge: want 64 hex digits")
			}
			pub, _ := c.RouterKey.Public().(ed25519.PublicKey)
			extra["pubkey"] = hex.EncodeToString(pub)
			extra["signature"] = hex.EncodeToString(ed25519.Sign(c.RouterKey, cc)) + hex.EncodeToString(cc)
		}
	}
	var challenge [32]byte
	rand.Read(challenge[:])
	extra["challenge"] = hex.EncodeToString(challenge[:])
	a, err := ch.Challenge(ctx, "cryptosign", extra)
	if err != nil {
		return nil, err
	}
	sig, err := hex.DecodeString(a.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize+len(challenge) {
		return nil, denied("malformed signature: want hex of 96 bytes")
	}
	if subtle.ConstantTimeCompare(sig[ed25519.SignatureSize:], challenge[:]) != 1 {
		return nil, denied("signature is not over this challenge")
	}
	// An unknown key is verified all the same, to take the same time.
	if ok := ed25519.Verify(pub, challenge[:], sig[:ed25519.SignatureSize]); !ok || idn == nil {
		return nil, denied("wrong signature")
	}
	return idn, nil
}

// identity returns the identity pub authenticates as, before any
// challenge, or nil if pub may not authenticate for req (an unknown
// authid or key, or a key of another principal).
func (c *Cryptosign) identity(ctx context.Context, req *router.AuthRequest, pub ed25519.PublicKey) (*router.Identity, error) {
	idn := &router.Identity{AuthMethod: "cryptosign", AuthProvider: provider(c.AuthProvider)}
	if c.Lookup != nil {
		got, err := c.Lookup(ctx, req, pub)
		if err != nil {
			return nil, err
		}
		if got == nil {
			return nil, nil
		}
		out := *got
		if out.AuthID == "" {
			out.AuthID = req.AuthID
		}
		if out.AuthID == "" {
			out.AuthID = hex.EncodeToString(pub)
		}
		if out.AuthRole == "" {
			out.AuthRole = "user"
		}
		if out.AuthMethod == "" {
			out.AuthMethod = idn.AuthMethod
		}
		if out.AuthProvider == "" {
			out.AuthProvider = idn.AuthProvider
		}
		return &out, nil
	}
	if req.AuthID != "" {
		p, ok := c.Principals[req.AuthID]
		if !ok || !hasKey(p.PublicKeys, pub) {
			return nil, nil
		}
		idn.AuthID, idn.AuthRole = req.AuthID, roleOr(p.Role)
		return idn, nil
	}
	found := 0
	for id, p := range c.Principals {
		if hasKey(p.PublicKeys, pub) {
			found++
			idn.AuthID, idn.AuthRole = id, roleOr(p.Role)
		}
	}
	switch found {
	case 0:
		return nil, nil
	case 1:
		return idn, nil
	}
	return nil, denied("pubkey registered for several principals: send HELLO.Details.authid")
}

// hasKey reports whether keys holds pub.
func hasKey(keys []ed25519.PublicKey, pub ed25519.PublicKey) bool {
	for _, k := range keys {
		if k.Equal(pub) {
			return true
		}
	}
	return false
}

// roleOr returns role, or "user" if empty.
func roleOr(role string) string {
	if role == "" {
		return "user"
	}
	return role
}
