package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"sync"

	"github.com/wampkit/wampkit/internal/scram"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// KDF names of WAMP-SCRAM principals (CHALLENGE.Extra.kdf).
const (
	// SCRAMArgon2id is Argon2id version 1.3 with parallelism 1, the
	// spec's recommended KDF.
	SCRAMArgon2id = scram.Argon2id
	// SCRAMPBKDF2 is PBKDF2-HMAC-SHA256.
	SCRAMPBKDF2 = scram.PBKDF2
)

// Defaults of [NewSCRAMPrincipal], documented there (OWASP's password
// storage minimums).
const (
	defaultSCRAMArgon2Iterations = 2
	defaultSCRAMArgon2Memory     = 19456 // KiB
	defaultSCRAMPBKDF2Iterations = 600_000
)

// SCRAMPrincipal is a user known to [SCRAM]: what the spec's
// "Data Stored on the Server" lists, never the password.
type SCRAMPrincipal struct {
	// Role is the authrole the principal is welcomed with. Empty means
	// "user".
	Role string
	// KDF is [SCRAMArgon2id] or [SCRAMPBKDF2].
	KDF string
	// Salt is the principal's random salt, standard base64.
	Salt string
	// Iterations is the KDF's iteration count (time cost).
	Iterations int
	// Memory is Argon2id's memory cost in KiB; unused with PBKDF2.
	Memory int
	// StoredKey is SHA256(HMAC(SaltedPassword, "Client Key")), 32 bytes.
	StoredKey []byte
	// ServerKey is HMAC(SaltedPassword, "Server Key"), 32 bytes.
	ServerKey []byte
}

// NewSCRAMPrincipal derives the SCRAMPrincipal of password (SASLprep'd)
// with kdf and a new random 16-byte salt. An empty kdf means
// [SCRAMArgon2id]. Zero iterations mean OWASP's password storage
// minimums: 2 for Argon2id and 600,000 for PBKDF2; zero memory means
// 19456 KiB (19 MiB) for Argon2id (PBKDF2 has none). It fails if the
// parameters are out of range or password is not valid for SASLprep.
func NewSCRAMPrincipal(password, kdf string, iterations, memory int, role string) (SCRAMPrincipal, error) {
	var salt [16]byte
	rand.Read(salt[:])
	return DeriveSCRAMPrincipal(password, kdf, base64.StdEncoding.EncodeToString(salt[:]), iterations, memory, role)
}

// DeriveSCRAMPrincipal is [NewSCRAMPrincipal] with a given salt (standard
// base64), for keys that must stay the same across restarts.
func DeriveSCRAMPrincipal(password, kdf, salt string, iterations, memory int, role string) (SCRAMPrincipal, error) {
	if kdf == "" {
		kdf = SCRAMArgon2id
	}
	switch {
	case kdf == SCRAMArgon2id && iterations == 0:
		iterations = defaultSCRAMArgon2Iterations
	case kdf == SCRAMPBKDF2 && iterations == 0:
		iterations = defaultSCRAMPBKDF2Iterations
	}
	if kdf == SCRAMArgon2id && memory == 0 {
		memory = defaultSCRAMArgon2Memory
	}
	if kdf == SCRAMPBKDF2 {
		memory = 0
	}
	raw, ok := scram.DecodeBase64(salt)
	if !ok || len(raw) == 0 {
		return SCRAMPrincipal{}, fmt.Errorf("auth: SCRAM salt %q is not canonical standard base64", salt)
	}
	salted, err := scram.SaltedPassword(kdf, password, raw, iterations, memory)
	if err != nil {
		return SCRAMPrincipal{}, fmt.Errorf("auth: derive SCRAM keys: %w", err)
	}
	_, stored, server := scram.Keys(salted)
	return SCRAMPrincipal{Role: role, KDF: kdf, Salt: salt, Iterations: iterations, Memory: memory, StoredKey: stored, ServerKey: server}, nil
}

// SCRAM is the WAMP-SCRAM [router.Authenticator], authmethod "wamp-scram" (spec
// advanced/authentication_scram.md; RFC 5802 and RFC 7677 with SHA-256):
// HELLO.Details.authid and authextra.nonce (base64) are required; the
// router sends [CHALLENGE, "wamp-scram", {nonce (the client's nonce and
// 16 random bytes of the router's), salt, kdf, iterations, memory}]; the
// client answers with the base64 ClientProof as AUTHENTICATE.Signature
// and Extra.nonce; WELCOME.Details.authextra.verifier is the base64
// ServerSignature, with which the client can check the router. The
// router holds only StoredKey and ServerKey (see [SCRAMPrincipal]).
//
// Channel binding is not implemented: a HELLO asking for one is refused
// before any CHALLENGE, as the spec requires of a router without it.
//
// The refusals are ABORTs with these reasons:
//   - no authid or no authextra.nonce in HELLO:
//     wamp.error.authentication_required, before any CHALLENGE;
//   - a nonce that is not canonical base64, or a channel_binding:
//     wamp.error.authentication_denied, before any CHALLENGE;
//   - an AUTHENTICATE whose nonce is not the CHALLENGE's, or with channel
//     binding: wamp.error.authentication_denied;
//   - a wrong proof, or an unknown authid: wamp.error.authentication_denied
//     "invalid proof".
//
// An unknown authid (not in Principals, or nil from Lookup) gets a decoy
// CHALLENGE (the spec's "mock CHALLENGE"): the KDF, iterations and memory
// most principals have, and a salt of their most common length derived
// from the authid with HMAC-SHA256 under a random key of the SCRAM's own,
// the same on every probe; it is refused exactly like a wrong proof. The
// router also throttles failed attempts (see [router.AuthThrottle]).
//
// A SCRAM must not be copied or modified once the router is started; it
// is safe for concurrent use.
type SCRAM struct {
	// Principals maps authid to its keys and role. Used when Lookup is
	// nil.
	Principals map[string]SCRAMPrincipal
	// Lookup, if not nil, returns the principal for req.AuthID (never
	// empty). A nil principal and nil error mean no such principal (the
	// client gets the decoy, shaped by Principals); an [*router.AuthError] is
	// sent as is; any other error is answered with
	// wamp.error.authentication_failed.
	Lookup func(ctx context.Context, req *router.AuthRequest) (*SCRAMPrincipal, error)
	// AuthProvider is WELCOME.Details.authprovider. Empty means "static".
	AuthProvider string

	decoyOnce sync.Once
	decoy     scramDecoy // set by decoyOnce, from Principals
	decoyKey  decoyKey
}

var _ router.Authenticator = (*SCRAM)(nil)

// AuthMethod returns "wamp-scram".
func (*SCRAM) AuthMethod() string { return "wamp-scram" }

// Authenticate runs one WAMP-SCRAM round.
func (s *SCRAM) Authenticate(ctx context.Context, req *router.AuthRequest, ch router.Challenger) (*router.Identity, error) {
	clientNonce, _ := req.AuthExtra["nonce"].(string)
	if req.AuthID == "" || clientNonce == "" {
		return nil, &router.AuthError{Reason: protocol.ErrAuthenticationRequired, Message: "wamp-scram authentication needs HELLO.Details.authid and authextra.nonce"}
	}
	if _, ok := scram.DecodeBase64(clientNonce); !ok {
		return nil, denied("malformed authextra.nonce: want base64")
	}
	if cb, ok := req.AuthExtra["channel_binding"]; ok && cb != nil {
		return nil, denied(fmt.Sprintf("channel binding %v is not supported", cb))
	}
	var p *SCRAMPrincipal
	if s.Lookup != nil {
		var err error
		if p, err = s.Lookup(ctx, req); err != nil {
			return nil, err
		}
	} else if v, ok := s.Principals[req.AuthID]; ok {
		p = &v
	}
	known := p != nil
	if !known {
		s.decoyOnce.Do(func() { s.decoy = newSCRAMDecoy(s.Principals) })
		p = s.decoy.principal(&s.decoyKey, req.AuthID)
	}
	var serverNonce [16]byte
	rand.Read(serverNonce[:])
	nonce := clientNonce + base64.StdEncoding.EncodeToString(serverNonce[:])
	extra := protocol.Dict{"nonce": nonce, "salt": p.Salt, "kdf": p.KDF, "iterations": p.Iterations, "memory": nil}
	if p.KDF == SCRAMArgon2id {
		extra["memory"] = p.Memory
	}
	a, err := ch.Challenge(ctx, "wamp-scram", extra)
	if err != nil {
		return nil, err
	}
	if got, _ := a.Extra["nonce"].(string); got != nonce {
		return nil, denied("AUTHENTICATE.Extra.nonce is not the CHALLENGE's")
	}
	if a.Extra["channel_binding"] != nil || a.Extra["cbind_data"] != nil {
		return nil, denied("channel binding is not supported")
	}
	proof, ok := scram.DecodeBase64(a.Signature)
	if !ok || len(proof) != scram.KeyLen {
		return nil, denied("malformed proof: want base64 of 32 bytes")
	}
	am := scram.AuthMessage(req.AuthID, clientNonce, nonce, p.Salt, p.Iterations)
	// A decoy is verified all the same, to take the same time.
	if ok := scram.VerifyProof(p.StoredKey, am, proof); !ok || !known {
		return nil, denied("invalid proof")
	}
	return &router.Identity{
		AuthID:       req.AuthID,
		AuthRole:     roleOr(p.Role),
		AuthMethod:   "wamp-scram",
		AuthProvider: provider(s.AuthProvider),
		AuthExtra:    protocol.Dict{"verifier": base64.StdEncoding.EncodeToString(scram.ServerSignature(p.ServerKey, am))},
	}, nil
}

// scramDecoy is the shape of the SCRAM principal that stands in for an
// unknown authid: that of most principals of the realm.
type scramDecoy struct {
	kdf                string
	iterations, memory int
	saltLen            int // bytes
}

// newSCRAMDecoy returns the most common KDF parameters and salt length
// of principals (ties to the smaller), or the defaults of
// [NewSCRAMPrincipal] with no principals.
func newSCRAMDecoy(principals map[string]SCRAMPrincipal) scramDecoy {
	d := scramDecoy{kdf: SCRAMArgon2id, iterations: defaultSCRAMArgon2Iterations, memory: defaultSCRAMArgon2Memory, saltLen: 16}
	if len(principals) == 0 {
		return d
	}
	type params struct {
		kdf                string
		iterations, memory int
	}
	counts := map[params]int{}
	lens := map[int]int{}
	for _, p := range principals {
		counts[params{p.KDF, p.Iterations, p.Memory}]++
		lens[base64.StdEncoding.DecodedLen(len(p.Salt))-padding(p.Salt)]++
	}
	best := mostCommon(counts, func(a, b params) bool {
		return a.kdf < b.kdf || a.kdf == b.kdf && (a.iterations < b.iterations || a.iterations == b.iterations && a.memory < b.memory)
	})
	d.kdf, d.iterations, d.memory = best.kdf, best.iterations, best.memory
	if n := mostCommon(lens, func(a, b int) bool { return a < b }); n > 0 {
		d.saltLen = n
	}
	return d
}

// principal returns the decoy for authid. Its keys match no proof.
func (d *scramDecoy) principal(key *decoyKey, authid string) *SCRAMPrincipal {
	return &SCRAMPrincipal{
		KDF:        d.kdf,
		Iterations: d.iterations,
		Memory:     d.memory,
		Salt:       base64.StdEncoding.EncodeToString(key.bytes("wamp-scram salt", authid, d.saltLen)),
		StoredKey:  make([]byte, scram.KeyLen),
		ServerKey:  make([]byte, scram.KeyLen),
	}
}
