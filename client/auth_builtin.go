package client

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/wampkit/wampkit/protocol"
)

// Limits on the salted WAMP-CRA parameters a router may ask for, so that
// a hostile router cannot make the client burn CPU or memory.
const (
	maxCRAIterations = 10_000_000
	maxCRAKeyLen     = 1024
)

// errBadChallenge is wrapped by the built-in authenticators when a
// CHALLENGE lacks what their method needs.
var errBadChallenge = errors.New("client: malformed CHALLENGE")

// TicketAuth returns an [Authenticator] for ticket authentication (WAMP
// spec, advanced/authentication_ticket.md): it answers the CHALLENGE with
// ticket as AUTHENTICATE.Signature. The router needs Config.AuthID. The
// ticket travels in clear text: use it over TLS only.
func TicketAuth(ticket string) Authenticator {
	return AuthFunc("ticket", func(context.Context, *protocol.Challenge) (*protocol.Authenticate, error) {
		return &protocol.Authenticate{Signature: ticket, Extra: protocol.Dict{}}, nil
	})
}

// WAMPCRAAuth returns an [Authenticator] for WAMP Challenge-Response
// Authentication (WAMP spec, advanced/authentication_cra.md): it answers
// with base64(HMAC-SHA256(key, CHALLENGE.Extra.challenge)). The router
// needs Config.AuthID.
//
// key is secret, unless the CHALLENGE carries salt, iterations and keylen
// (salted WAMP-CRA): then key is the base64 text of
// PBKDF2-HMAC-SHA256(secret, salt, iterations, keylen), as in Autobahn and
// Crossbar.io. Missing iterations and keylen mean 1000 and 32; more than
// 10,000,000 iterations or 1024 bytes fail the handshake.
func WAMPCRAAuth(secret string) Authenticator {
	return AuthFunc("wampcra", func(_ context.Context, c *protocol.Challenge) (*protocol.Authenticate, error) {
		challenge, ok := c.Extra["challenge"].(string)
		if !ok {
			return nil, fmt.Errorf("%w: wampcra without Extra.challenge string", errBadChallenge)
		}
		key := secret
		if salt, ok := c.Extra["salt"].(string); ok && salt != "" {
			iter, keylen := int64(1000), int64(32)
			if v, ok := c.Extra.Int("iterations"); ok {
				iter = v
			}
			if v, ok := c.Extra.Int("keylen"); ok {
				keylen = v
			}
			if iter < 1 || iter > maxCRAIterations || keylen < 1 || keylen > maxCRAKeyLen {
				return nil, fmt.Errorf("%w: wampcra iterations %d, keylen %d out of range", errBadChallenge, iter, keylen)
			}
			k, err := pbkdf2.Key(sha256.New, secret, []byte(salt), int(iter), int(keylen))
			if err != nil {
				return nil, fmt.Errorf("client: wampcra key derivation: %w", err)
			}
			key = base64.StdEncoding.EncodeToString(k)
		}
		m := hmac.New(sha256.New, []byte(key))
		m.Write([]byte(challenge))
		return &protocol.Authenticate{Signature: base64.StdEncoding.EncodeToString(m.Sum(nil)), Extra: protocol.Dict{}}, nil
	})
}

// CryptosignAuth returns an [Authenticator] for WAMP-Cryptosign client
// authentication (WAMP spec, advanced/authentication_cryptosign.md): it
// signs the 32 bytes of CHALLENGE.Extra.challenge with priv and answers
// hex(signature || challenge).
//
// The authenticator is an [ExtraAuthenticator]: Join puts the public key
// into HELLO.Details.authextra.pubkey, as the router needs.
// Config.AuthID is optional for cryptosign.
//
// TLS channel binding is not supported: the authenticator fails the
// handshake if the router's CHALLENGE.Extra.channel_binding is anything
// but absent or null, as the spec requires of a client that did not ask
// for binding.
func CryptosignAuth(priv ed25519.PrivateKey) Authenticator {
	return cryptosignAuth{priv: priv}
}

// cryptosignAuth is the Authenticator of [CryptosignAuth].
type cryptosignAuth struct{ priv ed25519.PrivateKey }

var _ ExtraAuthenticator = cryptosignAuth{}

func (cryptosignAuth) Method() string { return "cryptosign" }

// AuthExtra returns {"pubkey": hex public key}, see [CryptosignAuthExtra].
func (a cryptosignAuth) AuthExtra() protocol.Dict { return CryptosignAuthExtra(a.priv) }

func (a cryptosignAuth) Authenticate(_ context.Context, c *protocol.Challenge) (*protocol.Authenticate, error) {
	if len(a.priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("client: cryptosign private key of %d bytes, want %d", len(a.priv), ed25519.PrivateKeySize)
	}
	if cb, ok := c.Extra["channel_binding"]; ok && cb != nil {
		return nil, fmt.Errorf("%w: cryptosign channel_binding %v, want null", errBadChallenge, cb)
	}
	s, _ := c.Extra["challenge"].(string)
	challenge, err := hex.DecodeString(s)
	if err != nil || len(challenge) != 32 {
		return nil, fmt.Errorf("%w: cryptosign Extra.challenge must be 64 hex digits", errBadChallenge)
	}
	sig := ed25519.Sign(a.priv, challenge)
	return &protocol.Authenticate{Signature: hex.EncodeToString(sig) + hex.EncodeToString(challenge), Extra: protocol.Dict{}}, nil
}

// CryptosignAuthExtra returns the HELLO.Details.authextra that
// WAMP-Cryptosign needs, {"pubkey": hex(public key of priv)}, for
// Config.AuthExtra when it is not set by [CryptosignAuth] itself. A priv that is not an Ed25519 private key gives an
// empty pubkey.
func CryptosignAuthExtra(priv ed25519.PrivateKey) protocol.Dict {
	if len(priv) != ed25519.PrivateKeySize {
		return protocol.Dict{"pubkey": ""}
	}
	pub, _ := priv.Public().(ed25519.PublicKey)
	return protocol.Dict{"pubkey": hex.EncodeToString(pub)}
}
