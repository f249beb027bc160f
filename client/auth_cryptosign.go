package client

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/wampkit/wampkit/internal/channelbind"
	"github.com/wampkit/wampkit/protocol"
)

// CryptosignAuth returns an [Authenticator] for WAMP-Cryptosign client
// authentication with priv, without channel binding or router
// authentication: Cryptosign{Key: priv}.
func CryptosignAuth(priv ed25519.PrivateKey) Authenticator {
	return Cryptosign{Key: priv}
}

// Cryptosign is an [Authenticator] for WAMP-Cryptosign (WAMP spec,
// advanced/authentication_cryptosign.md): it signs the 32 bytes of
// CHALLENGE.Extra.challenge with Key and answers hex(signature || the 32
// bytes signed). Join puts the public key (and the channel binding and
// router challenge it asks for) into HELLO.Details.authextra, merged with
// Config.AuthExtra, which wins where both set a key. Config.AuthID is
// optional for cryptosign.
//
// With ChannelBinding, the client signs the challenge XOR'ed with the
// channel ID of its TLS connection, so that its signature is worth
// nothing on any other connection: a man in the middle that the client
// connects to (with a certificate the client trusts, or with TLS
// verification turned off) cannot relay it to the router. With RouterKey,
// the client checks that the router holds the private key of RouterKey
// (router authentication).
//
// Join fails, with ABORT wamp.error.authentication_failed sent to the
// router, when the CHALLENGE's channel_binding is not the one asked for
// (absent or null without ChannelBinding), when the TLS connection cannot
// give the binding, or when RouterKey is set and the CHALLENGE carries no
// valid signature of the router's. A router that cannot give the binding
// typically refuses the HELLO itself (ABORT
// wamp.error.authentication_denied, wampkit's router with a message that
// says why).
type Cryptosign struct {
	// Key is the client's Ed25519 private key. Required.
	Key ed25519.PrivateKey

	// ChannelBinding, if not empty, is the TLS channel binding asked for
	// in HELLO.Details.authextra.channel_binding: "tls-exporter" (RFC
	// 9266: TLS 1.3, and TLS 1.2 with Extended Master Secret, which Go
	// negotiates by default) or "tls-unique" (RFC 5929, TLS 1.2 only; the
	// channel ID is SHA-256 of it, as in Autobahn). It needs a TLS
	// transport (wss://, tcps://) that ends at the router, not at a proxy
	// in front. Empty means no binding.
	ChannelBinding string

	// RouterKey, if not nil, is the router's Ed25519 public key: Join
	// sends a random HELLO.Details.authextra.challenge and requires
	// CHALLENGE.Extra.signature to be this key's signature of it (XOR'ed
	// with the channel ID when bound). Nil means the router is not
	// authenticated this way.
	RouterKey ed25519.PublicKey
}

var (
	_ extraAuthenticator = Cryptosign{}
	_ handshaker         = Cryptosign{}
)

// Method returns "cryptosign".
func (Cryptosign) Method() string { return "cryptosign" }

// AuthExtra returns {"pubkey": hex public key}, with "channel_binding"
// when ChannelBinding is set. Join adds a fresh "challenge" when
// RouterKey is set.
func (a Cryptosign) AuthExtra() protocol.Dict {
	extra := cryptosignAuthExtra(a.Key)
	if a.ChannelBinding != "" {
		extra["channel_binding"] = a.ChannelBinding
	}
	return extra
}

// Authenticate answers c outside Join, which knows of no TLS connection
// and sent no router challenge: it fails when ChannelBinding or RouterKey
// is set.
func (a Cryptosign) Authenticate(ctx context.Context, c *protocol.Challenge) (*protocol.Authenticate, error) {
	if a.ChannelBinding != "" || a.RouterKey != nil {
		return nil, errors.New("client: cryptosign with channel binding or router authentication works only within Join")
	}
	return (&cryptosignHandshake{auth: a}).Authenticate(ctx, c)
}

func (a Cryptosign) forHandshake(hs handshakeInfo) Authenticator {
	h := &cryptosignHandshake{auth: a, tls: hs.tls}
	if a.RouterKey != nil {
		h.challenge = make([]byte, channelbind.Size)
		rand.Read(h.challenge)
	}
	return h
}

// cryptosignHandshake is one WAMP-Cryptosign handshake of the client.
type cryptosignHandshake struct {
	auth      Cryptosign
	tls       *tls.ConnectionState // the transport's, or nil
	challenge []byte               // the router challenge sent in HELLO, with RouterKey
}

var _ extraAuthenticator = (*cryptosignHandshake)(nil)

func (*cryptosignHandshake) Method() string { return "cryptosign" }

// AuthExtra returns the pubkey, channel binding and router challenge.
func (h *cryptosignHandshake) AuthExtra() protocol.Dict {
	extra := h.auth.AuthExtra()
	if h.challenge != nil {
		extra["challenge"] = hex.EncodeToString(h.challenge)
	}
	return extra
}

func (h *cryptosignHandshake) Authenticate(_ context.Context, c *protocol.Challenge) (*protocol.Authenticate, error) {
	a := h.auth
	if len(a.Key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("client: cryptosign private key of %d bytes, want %d", len(a.Key), ed25519.PrivateKeySize)
	}
	// The client must check that the binding in use is the one it asked
	// for (spec "TLS Channel Binding").
	got, _ := c.Extra["channel_binding"].(string)
	if got != a.ChannelBinding || (a.ChannelBinding == "" && c.Extra["channel_binding"] != nil) {
		if a.ChannelBinding == "" {
			return nil, fmt.Errorf("%w: cryptosign channel_binding %v, want null", errBadChallenge, c.Extra["channel_binding"])
		}
		return nil, fmt.Errorf("client: cryptosign: the router did not bind to the TLS channel (channel_binding %v, want %q)", c.Extra["channel_binding"], a.ChannelBinding)
	}
	var channelID []byte
	if a.ChannelBinding != "" {
		var err error
		if channelID, err = channelbind.ID(h.tls, a.ChannelBinding); err != nil {
			return nil, fmt.Errorf("client: cryptosign: %w", err)
		}
	}
	if h.challenge != nil {
		if err := h.checkRouter(c.Extra, channelID); err != nil {
			return nil, fmt.Errorf("client: cryptosign router authentication failed: %w", err)
		}
	}
	s, _ := c.Extra["challenge"].(string)
	msg, err := hex.DecodeString(s)
	if err != nil || len(msg) != channelbind.Size {
		return nil, fmt.Errorf("%w: cryptosign Extra.challenge must be 64 hex digits", errBadChallenge)
	}
	if channelID != nil {
		msg = channelbind.XOR(msg, channelID)
	}
	sig := ed25519.Sign(a.Key, msg)
	return &protocol.Authenticate{Signature: hex.EncodeToString(sig) + hex.EncodeToString(msg), Extra: protocol.Dict{}}, nil
}

// checkRouter checks the router's signature of h.challenge (XOR
// channelID when bound) in CHALLENGE.Extra (spec "Router
// Authentication").
func (h *cryptosignHandshake) checkRouter(extra protocol.Dict, channelID []byte) error {
	if pk, ok := extra["pubkey"].(string); ok {
		if b, err := hex.DecodeString(pk); err != nil || !ed25519.PublicKey(b).Equal(h.auth.RouterKey) {
			return fmt.Errorf("the router's pubkey %.64q is not RouterKey", pk)
		}
	}
	s, _ := extra["signature"].(string)
	sig, err := hex.DecodeString(s)
	if err != nil || len(sig) != ed25519.SignatureSize+channelbind.Size {
		return errors.New("no router signature (CHALLENGE.Extra.signature, hex of 96 bytes)")
	}
	want := h.challenge
	if channelID != nil {
		want = channelbind.XOR(want, channelID)
	}
	if subtle.ConstantTimeCompare(sig[ed25519.SignatureSize:], want) != 1 {
		return errors.New("the router's signature is not over this client's challenge (and TLS channel)")
	}
	if !ed25519.Verify(h.auth.RouterKey, want, sig[:ed25519.SignatureSize]) {
		return errors.New("wrong router signature: the router does not hold RouterKey's private key")
	}
	return nil
}

// cryptosignAuthExtra returns the HELLO.Details.authextra that
// WAMP-Cryptosign needs, {"pubkey": hex(public key of priv)}. A priv that
// is not an Ed25519 private key gives an empty pubkey.
func cryptosignAuthExtra(priv ed25519.PrivateKey) protocol.Dict {
	if len(priv) != ed25519.PrivateKeySize {
		return protocol.Dict{"pubkey": ""}
	}
	pub, _ := priv.Public().(ed25519.PublicKey)
	return protocol.Dict{"pubkey": hex.EncodeToString(pub)}
}
