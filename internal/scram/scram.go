// Package scram holds the algorithms of WAMP-SCRAM (WAMP spec,
// advanced/authentication_scram.md) that the router and the client share:
// the key derivation functions, the AuthMessage and the proofs of RFC 5802
// with SHA-256 (RFC 7677).
package scram

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/xdg-go/stringprep"
	"golang.org/x/crypto/argon2"
)

// KDF type strings of CHALLENGE.Extra.kdf (spec "Key Derivation
// Functions").
const (
	// Argon2id is Argon2id version 1.3, parallelism 1, 32-byte output.
	Argon2id = "argon2id13"
	// PBKDF2 is PBKDF2 with HMAC-SHA256, 32-byte output.
	PBKDF2 = "pbkdf2"
)

// KeyLen is the length of every key and proof: SHA-256's output.
const KeyLen = sha256.Size

// ErrParams is wrapped by SaltedPassword when the KDF parameters are
// unknown or out of range.
var ErrParams = errors.New("scram: bad KDF parameters")

// Normalize applies SASLprep (RFC 4013) to a password or username, as the
// spec requires ("Username/Password String Normalization").
func Normalize(s string) (string, error) {
	out, err := stringprep.SASLprep.Prepare(s)
	if err != nil {
		return "", fmt.Errorf("scram: SASLprep: %w", err)
	}
	return out, nil
}

// SaltedPassword returns KDF(Normalize(password), salt, params): the
// 32-byte SaltedPassword of RFC 5802. memory is in KiB and used by
// Argon2id only.
func SaltedPassword(kdf, password string, salt []byte, iterations, memory int) ([]byte, error) {
	pw, err := Normalize(password)
	if err != nil {
		return nil, err
	}
	switch kdf {
	case Argon2id:
		if iterations < 1 || memory < 8 || iterations > 1<<16 || memory > 1<<22 {
			return nil, fmt.Errorf("%w: argon2id13 iterations %d, memory %d KiB", ErrParams, iterations, memory)
		}
		return argon2.IDKey([]byte(pw), salt, uint32(iterations), uint32(memory), 1, KeyLen), nil
	case PBKDF2:
		if iterations < 1 {
			return nil, fmt.Errorf("%w: pbkdf2 iterations %d", ErrParams, iterations)
		}
		k, err := pbkdf2.Key(sha256.New, pw, salt, iterations, KeyLen)
		if err != nil {
			return nil, fmt.Errorf("scram: pbkdf2: %w", err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("%w: unknown kdf %q", ErrParams, kdf)
}

// Keys returns ClientKey, StoredKey and ServerKey of a SaltedPassword.
func Keys(salted []byte) (clientKey, storedKey, serverKey []byte) {
	clientKey = mac(salted, []byte("Client Key"))
	sum := sha256.Sum256(clientKey)
	return clientKey, sum[:], mac(salted, []byte("Server Key"))
}

// AuthMessage returns the AuthMessage of RFC 5802 for WAMP-SCRAM without
// channel binding: client-first-message-bare, server-first-message and
// client-final-message-without-proof. authid is HELLO.Details.authid,
// clientNonce HELLO.Details.authextra.nonce, nonce CHALLENGE.Extra.nonce
// (the client's and the server's), salt CHALLENGE.Extra.salt (base64).
func AuthMessage(authid, clientNonce, nonce, salt string, iterations int) []byte {
	var b strings.Builder
	b.WriteString("n=")
	b.WriteString(escape(authid))
	b.WriteString(",r=")
	b.WriteString(clientNonce)
	b.WriteString(",r=")
	b.WriteString(nonce)
	b.WriteString(",s=")
	b.WriteString(salt)
	b.WriteString(",i=")
	b.WriteString(strconv.Itoa(iterations))
	// c= is base64 of the GS2 header "n,," (no channel binding).
	b.WriteString(",c=biws,r=")
	b.WriteString(nonce)
	return []byte(b.String())
}

// escape replaces "=" and "," as RFC 5802 saslname requires.
func escape(s string) string {
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}

// ClientProof returns ClientKey XOR HMAC(StoredKey, AuthMessage).
func ClientProof(clientKey, storedKey, authMessage []byte) []byte {
	sig := mac(storedKey, authMessage)
	for i := range sig {
		sig[i] ^= clientKey[i]
	}
	return sig
}

// VerifyProof reports whether proof proves knowledge of the ClientKey
// whose hash is storedKey: SHA256(proof XOR HMAC(StoredKey,
// AuthMessage)) == StoredKey, in constant time.
func VerifyProof(storedKey, authMessage, proof []byte) bool {
	if len(proof) != KeyLen || len(storedKey) != KeyLen {
		return false
	}
	key := mac(storedKey, authMessage)
	for i := range key {
		key[i] ^= proof[i]
	}
	sum := sha256.Sum256(key)
	return subtle.ConstantTimeCompare(sum[:], storedKey) == 1
}

// ServerSignature returns HMAC(ServerKey, AuthMessage), the verifier.
func ServerSignature(serverKey, authMessage []byte) []byte {
	return mac(serverKey, authMessage)
}

// DecodeBase64 decodes s if it is canonical standard base64 (the spec's
// "Base64 encoding").
func DecodeBase64(s string) ([]byte, bool) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || base64.StdEncoding.EncodeToString(b) != s {
		return nil, false
	}
	return b, true
}

func mac(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}
