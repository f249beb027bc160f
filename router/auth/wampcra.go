package auth

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// Defaults of salted WAMP-CRA, as in Autobahn, documented at
// [Principal] and [DeriveCRAKey].
const (
	defaultCRAIterations = 1000
	defaultCRAKeyLen     = 32
)

// WAMPCRA is the WAMP Challenge-Response [router.Authenticator] (spec
// advanced/authentication_cra.md): HELLO.Details.authid is required; the
// router sends CHALLENGE.Extra.challenge, a JSON object text with authid,
// authrole, authmethod, authprovider, a random nonce, a timestamp and the
// future session ID; the client answers with
// base64(HMAC-SHA256(secret, challenge)). The nonce makes every challenge
// unique, so an answer cannot be replayed; the handshake's deadline
// ([router.Config].AuthTimeout and HandshakeTimeout) bounds its freshness.
//
// With a salted Principal the CHALLENGE also carries salt, iterations and
// keylen, and the HMAC key is the base64 text of
// PBKDF2-HMAC-SHA256(password, salt, iterations, keylen), see
// [DeriveCRAKey]; the router only ever holds that key.
//
// The refusals are ABORTs with these reasons:
//   - no authid in HELLO: wamp.error.authentication_required, before any CHALLENGE;
//   - a signature that is not base64 of 32 bytes:
//     wamp.error.authentication_denied "malformed signature: ...";
//   - wrong signature, or an unknown authid:
//     wamp.error.authentication_denied "wrong signature".
//
// An unknown authid (not in Principals, or nil from Lookup) is challenged
// and refused exactly like a known one with a wrong secret, so that
// clients cannot find out which authids exist: its CHALLENGE carries the
// role most principals have and, if most principals are salted, a decoy
// salt with their most common iterations and keylen and a salt of their
// most common encoding (hex, base64 or text) and length. The decoy salt
// is derived from the authid with HMAC-SHA256 under a random key of the
// WAMPCRA's own, so a repeated probe sees the same salt. The authrole in
// the challenge still tells principals of a rarer role apart from
// unknown authids; that is WAMP-CRA's challenge format. The router also
// throttles failed attempts (see [router.AuthThrottle]).
//
// A WAMPCRA must not be copied or modified once the router is started;
// it is safe for concurrent use.
type WAMPCRA struct {
	// Principals maps authid to its secret (or derived key) and role.
	// Used when Lookup is nil.
	Principals map[string]Principal
	// Lookup, if not nil, returns the principal for req.AuthID (never
	// empty). A nil Principal and nil error mean no such principal: the
	// client gets the decoy described above, shaped by Principals (with
	// no Principals: role "user", no salt). A Lookup whose principals are
	// salted can instead return a Principal without Secret and with a
	// salt of its own that is stable per authid. An [*router.AuthError] is sent
	// as is; any other error is answered with
	// wamp.error.authentication_failed.
	Lookup func(ctx context.Context, req *router.AuthRequest) (*Principal, error)
	// AuthProvider is sent in the challenge and as
	// WELCOME.Details.authprovider. Empty means "static".
	AuthProvider string

	decoyOnce sync.Once
	decoy     craDecoy // set by decoyOnce, from Principals
	decoyKey  decoyKey
}

var _ router.Authenticator = (*WAMPCRA)(nil)

// AuthMethod returns "wampcra".
func (*WAMPCRA) AuthMethod() string { return "wampcra" }

// Authenticate runs one WAMP-CRA round.
func (w *WAMPCRA) Authenticate(ctx context.Context, req *router.AuthRequest, ch router.Challenger) (*router.Identity, error) {
	if req.AuthID == "" {
		return nil, &router.AuthError{Reason: protocol.ErrAuthenticationRequired, Message: "wampcra authentication needs HELLO.Details.authid"}
	}
	var p *Principal
	if w.Lookup != nil {
		var err error
		if p, err = w.Lookup(ctx, req); err != nil {
			return nil, err
		}
	} else if v, ok := w.Principals[req.AuthID]; ok {
		p = &v
	}
	if p == nil {
		w.decoyOnce.Do(func() { w.decoy = newCRADecoy(w.Principals) })
		p = w.decoy.principal(&w.decoyKey, req.AuthID)
	}
	idn := &router.Identity{AuthID: req.AuthID, AuthRole: p.role(), AuthMethod: "wampcra", AuthProvider: provider(w.AuthProvider)}
	var nonce [16]byte
	rand.Read(nonce[:])
	challenge, err := json.Marshal(map[string]any{
		"authid":       idn.AuthID,
		"authrole":     idn.AuthRole,
		"authmethod":   idn.AuthMethod,
		"authprovider": idn.AuthProvider,
		"nonce":        base64.RawURLEncoding.EncodeToString(nonce[:]),
		"timestamp":    time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		"session":      uint64(req.Session),
	})
	if err != nil {
		return nil, fmt.Errorf("auth: wampcra challenge: %w", err)
	}
	extra := protocol.Dict{"challenge": string(challenge)}
	if p.Salt != "" {
		iter, keylen := p.Iterations, p.KeyLen
		if iter <= 0 {
			iter = defaultCRAIterations
		}
		if keylen <= 0 {
			keylen = defaultCRAKeyLen
		}
		extra["salt"], extra["iterations"], extra["keylen"] = p.Salt, iter, keylen
	}
	a, err := ch.Challenge(ctx, "wampcra", extra)
	if err != nil {
		return nil, err
	}
	got, err := base64.StdEncoding.DecodeString(a.Signature)
	if err != nil || len(got) != sha256.Size {
		return nil, denied("malformed signature: want base64 of 32 bytes")
	}
	// An empty Secret (a decoy, or a configuration slip) admits nobody;
	// it is checked all the same, to take the same time.
	if ok := hmac.Equal(got, craSign(p.Secret, challenge)); !ok || p.Secret == "" {
		return nil, denied("wrong signature")
	}
	return idn, nil
}

// craSign returns HMAC-SHA256(key, challenge).
func craSign(key string, challenge []byte) []byte {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(challenge)
	return m.Sum(nil)
}

// DeriveCRAKey returns the salted WAMP-CRA secret for password: the
// standard base64 text of PBKDF2-HMAC-SHA256(password, salt, iterations,
// keylen bytes), the convention of Autobahn and Crossbar.io. Store it in
// Principal.Secret together with the same Salt, Iterations and KeyLen.
// Zero or negative iterations and keylen mean 1000 and 32, as in
// Autobahn. It fails only where crypto/pbkdf2 refuses the parameters
// (FIPS 140-only mode).
func DeriveCRAKey(password, salt string, iterations, keylen int) (string, error) {
	if iterations <= 0 {
		iterations = defaultCRAIterations
	}
	if keylen <= 0 {
		keylen = defaultCRAKeyLen
	}
	k, err := pbkdf2.Key(sha256.New, password, []byte(salt), iterations, keylen)
	if err != nil {
		return "", fmt.Errorf("auth: derive WAMP-CRA key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(k), nil
}
