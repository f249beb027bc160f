package client

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/wampkit/wampkit/internal/scram"
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

// Bounds of the WAMP-SCRAM parameters the client accepts: below the
// lower ones a rogue router could obtain a hash that is cheap to crack
// (the spec's "unusually low" cost), above the upper ones it could make
// the client burn CPU or memory.
const (
	minSCRAMPBKDF2Iterations = 4096 // RFC 7677 section 4
	maxSCRAMPBKDF2Iterations = 10_000_000
	maxSCRAMArgon2Iterations = 64
	minSCRAMArgon2Memory     = 1024    // KiB
	maxSCRAMArgon2Memory     = 1 << 18 // KiB: 256 MiB
)

// SCRAMAuth returns an [Authenticator] for WAMP-SCRAM (WAMP spec,
// advanced/authentication_scram.md; RFC 5802 with SHA-256): Join sends a
// random client nonce in HELLO.Details.authextra, answers the CHALLENGE
// with the ClientProof derived from password (SASLprep'd) with the
// router's KDF (argon2id13 or pbkdf2), salt and cost, and checks
// WELCOME.Details.authextra.verifier, the router's ServerSignature:
// a router that cannot prove it holds the user's ServerKey fails the
// Join. The router needs Config.AuthID, the (SASLprep'd) username.
//
// The client refuses costs that are unusually low (PBKDF2 below 4096
// iterations, Argon2id below 1 MiB of memory) or too high (PBKDF2 above
// 10,000,000 iterations, Argon2id above 64 iterations or 256 MiB).
// Channel binding is not supported.
func SCRAMAuth(password string) Authenticator { return scramAuth{password: password} }

// scramAuth is the Authenticator of [SCRAMAuth]; Join authenticates with
// a scramHandshake made by forHandshake.
type scramAuth struct{ password string }

var _ handshaker = scramAuth{}

func (scramAuth) Method() string { return "wamp-scram" }

// Authenticate fails: a SCRAM handshake needs the state Join makes.
func (scramAuth) Authenticate(context.Context, *protocol.Challenge) (*protocol.Authenticate, error) {
	return nil, errors.New("client: wamp-scram authenticates only within Join")
}

func (a scramAuth) forHandshake(hs handshakeInfo) Authenticator {
	var nonce [16]byte
	rand.Read(nonce[:])
	return &scramHandshake{password: a.password, authid: hs.authID, nonce: base64.StdEncoding.EncodeToString(nonce[:])}
}

// scramHandshake is one WAMP-SCRAM handshake of the client. It is used by
// one Join only.
type scramHandshake struct {
	password, authid string
	nonce            string // the client nonce of HELLO
	authMessage      []byte // set by Authenticate
	serverKey        []byte // set by Authenticate
}

var (
	_ extraAuthenticator = (*scramHandshake)(nil)
	_ welcomeChecker     = (*scramHandshake)(nil)
)

func (*scramHandshake) Method() string { return "wamp-scram" }

// AuthExtra returns {"nonce": client nonce, "channel_binding": null}.
func (h *scramHandshake) AuthExtra() protocol.Dict {
	return protocol.Dict{"nonce": h.nonce, "channel_binding": nil}
}

func (h *scramHandshake) Authenticate(_ context.Context, c *protocol.Challenge) (*protocol.Authenticate, error) {
	if h.authid == "" {
		return nil, errors.New("client: wamp-scram needs Config.AuthID")
	}
	nonce, _ := c.Extra["nonce"].(string)
	if len(nonce) <= len(h.nonce) || nonce[:len(h.nonce)] != h.nonce {
		return nil, fmt.Errorf("%w: wamp-scram nonce does not extend the client's", errBadChallenge)
	}
	salt, _ := c.Extra["salt"].(string)
	rawSalt, ok := scram.DecodeBase64(salt)
	if !ok || len(rawSalt) == 0 {
		return nil, fmt.Errorf("%w: wamp-scram salt is not base64", errBadChallenge)
	}
	kdf, _ := c.Extra["kdf"].(string)
	iter, _ := c.Extra.Int("iterations")
	memory, _ := c.Extra.Int("memory")
	switch {
	case kdf == scram.PBKDF2 && (iter < minSCRAMPBKDF2Iterations || iter > maxSCRAMPBKDF2Iterations),
		kdf == scram.Argon2id && (iter < 1 || iter > maxSCRAMArgon2Iterations || memory < minSCRAMArgon2Memory || memory > maxSCRAMArgon2Memory):
		return nil, fmt.Errorf("%w: wamp-scram %s iterations %d, memory %d out of range", errBadChallenge, kdf, iter, memory)
	case kdf != scram.PBKDF2 && kdf != scram.Argon2id:
		return nil, fmt.Errorf("%w: wamp-scram kdf %q", errBadChallenge, kdf)
	}
	salted, err := scram.SaltedPassword(kdf, h.password, rawSalt, int(iter), int(memory))
	if err != nil {
		return nil, fmt.Errorf("client: wamp-scram: %w", err)
	}
	clientKey, storedKey, serverKey := scram.Keys(salted)
	h.authMessage = scram.AuthMessage(h.authid, h.nonce, nonce, salt, int(iter))
	h.serverKey = serverKey
	proof := scram.ClientProof(clientKey, storedKey, h.authMessage)
	return &protocol.Authenticate{
		Signature: base64.StdEncoding.EncodeToString(proof),
		Extra:     protocol.Dict{"nonce": nonce, "channel_binding": nil, "cbind_data": nil},
	}, nil
}

// checkWelcome checks WELCOME.Details.authextra.verifier, the base64
// ServerSignature (the "v=" prefix of RFC 5802, which the spec's example
// shows, is accepted too).
func (h *scramHandshake) checkWelcome(details protocol.Dict) error {
	if h.authMessage == nil {
		return errors.New("WELCOME without a wamp-scram CHALLENGE")
	}
	v := details.Dict("authextra").String("verifier")
	if len(v) > 2 && v[:2] == "v=" {
		v = v[2:]
	}
	sig, ok := scram.DecodeBase64(v)
	if !ok || !hmac.Equal(sig, scram.ServerSignature(h.serverKey, h.authMessage)) {
		return errors.New("the router's verifier is wrong: it does not hold this user's ServerKey")
	}
	return nil
}
