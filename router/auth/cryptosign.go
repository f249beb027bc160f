package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"

	"github.com/wampkit/wampkit/internal/channelbind"
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

// Cryptosign is the WAMP-Cryptosign [router.Authenticator], client
// authentication with Ed25519 (spec advanced/authentication_cryptosign.md,
// RFC 8032): HELLO.Details.authextra.pubkey (hex, 32 bytes) is required and
// HELLO.Details.authid optional; the router sends [CHALLENGE,
// "cryptosign", {"challenge": hex(32 random bytes), "channel_binding":
// null}] and the client answers with hex(signature (64 bytes) || the 32
// bytes signed). A fresh challenge per handshake makes a recorded answer
// useless.
//
// TLS channel binding: a client that sends
// HELLO.Details.authextra.channel_binding "tls-unique" or "tls-exporter"
// signs the challenge XOR'ed with the TLS connection's channel ID, so
// that its answer is worth nothing on any other connection (one relayed
// by a man in the middle who holds a certificate the client trusts). The
// CHALLENGE then carries the channel_binding in use. The channel ID is:
//
//   - tls-exporter (RFC 9266): 32 bytes exported from the TLS connection
//     with the label "EXPORTER-Channel-Binding" and no context. TLS 1.3
//     has it, and TLS 1.2 with Extended Master Secret (RFC 7627).
//   - tls-unique (RFC 5929): SHA-256 of the first TLS Finished message,
//     as Autobahn computes it. Only TLS 1.2 has it: RFC 9266 leaves it
//     undefined for TLS 1.3, whose clients must ask for tls-exporter.
//
// The spec lets a router that cannot give the binding a client asks for
// go on without it (a CHALLENGE without channel_binding, which the client
// must notice). Cryptosign refuses instead, before any CHALLENGE, so that
// the client learns why: a client that asked for a binding wants its
// authentication tied to its TLS connection, and over a transport without
// TLS (plain TCP, Unix sockets, in-process, or TLS ended by a proxy in
// front of the router) or with the wrong TLS version there is none to tie
// it to.
//
// Router authentication: if RouterKey is set and the client sends
// HELLO.Details.authextra.challenge (hex, 32 bytes), the CHALLENGE also
// carries the router's "pubkey" and "signature" = hex(signature || the
// 32 bytes signed): the client's challenge, XOR'ed with the channel ID
// when a channel binding is in use.
//
// Not implemented: certificates and trustroots, remote attestation.
// Without RouterKey, a client challenge is ignored.
//
// The refusals are ABORTs with these reasons:
//   - no pubkey in HELLO.Details.authextra: wamp.error.authentication_required;
//   - a pubkey that is not 64 hex digits: wamp.error.authentication_denied;
//   - a channel_binding other than null, "tls-unique" or "tls-exporter",
//     or one the transport cannot give (no TLS; tls-unique over TLS 1.3):
//     wamp.error.authentication_denied "channel binding ...: ..." (which
//     says why), before any CHALLENGE;
//   - a key registered for several principals when no authid is given:
//     wamp.error.authentication_denied, before any CHALLENGE;
//   - a client challenge that is not 64 hex digits while RouterKey is set:
//     wamp.error.authentication_denied, before any CHALLENGE;
//   - a malformed signature, or one not over the challenge (XOR'ed with
//     this connection's channel ID when bound): wamp.error.authentication_denied,
//     after the CHALLENGE;
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
	binding, channelID, err := channelBinding(req)
	if err != nil {
		return nil, err
	}
	idn, err := c.identity(ctx, req, pub)
	if err != nil {
		return nil, err
	}
	extra := protocol.Dict{"channel_binding": nil}
	if binding != "" {
		extra["channel_binding"] = binding
	}
	if c.RouterKey != nil {
		if len(c.RouterKey) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("auth: Cryptosign.RouterKey of %d bytes, want %d", len(c.RouterKey), ed25519.PrivateKeySize)
		}
		if s, ok := req.AuthExtra["challenge"].(string); ok {
			cc, err := hex.DecodeString(s)
			if err != nil || len(cc) != channelbind.Size {
				return nil, denied("malformed authextra.challenge: want 64 hex digits")
			}
			if channelID != nil {
				cc = channelbind.XOR(cc, channelID)
			}
			pub, _ := c.RouterKey.Public().(ed25519.PublicKey)
			extra["pubkey"] = hex.EncodeToString(pub)
			extra["signature"] = hex.EncodeToString(ed25519.Sign(c.RouterKey, cc)) + hex.EncodeToString(cc)
		}
	}
	challenge := make([]byte, channelbind.Size)
	rand.Read(challenge)
	extra["challenge"] = hex.EncodeToString(challenge)
	a, err := ch.Challenge(ctx, "cryptosign", extra)
	if err != nil {
		return nil, err
	}
	signed := challenge
	if channelID != nil {
		signed = channelbind.XOR(challenge, channelID)
	}
	sig, err := hex.DecodeString(a.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize+len(signed) {
		return nil, denied("malformed signature: want hex of 96 bytes")
	}
	if subtle.ConstantTimeCompare(sig[ed25519.SignatureSize:], signed) != 1 {
		if channelID != nil {
			return nil, denied("signature is not over this challenge and this TLS channel")
		}
		return nil, denied("signature is not over this challenge")
	}
	// An unknown key is verified all the same, to take the same time.
	if ok := ed25519.Verify(pub, signed, sig[:ed25519.SignatureSize]); !ok || idn == nil {
		return nil, denied("wrong signature")
	}
	return idn, nil
}

// channelBinding returns the channel binding type the client of req asks
// for and the channel ID of its TLS connection, or "" and nil for none;
// or the refusal of a binding that is unknown or that the transport
// cannot give.
func channelBinding(req *router.AuthRequest) (string, []byte, error) {
	v, ok := req.AuthExtra["channel_binding"]
	if !ok || v == nil {
		return "", nil, nil
	}
	kind, ok := v.(string)
	if !ok {
		return "", nil, denied(fmt.Sprintf("channel binding %v: want %q or %q", v, channelbind.TLSUnique, channelbind.TLSExporter))
	}
	id, err := channelbind.ID(req.TLS, kind)
	if err != nil {
		return "", nil, denied(err.Error())
	}
	return kind, id, nil
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
