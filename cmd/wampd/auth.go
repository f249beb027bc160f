package main

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/wampkit/wampkit/router"
)

// Bounds of the salted WAMP-CRA parameters. wampd derives keys from
// passwords at start, and the wampkit client refuses more than this
// (client/auth_builtin.go), so larger values only slow down every login or
// lock clients out.
const (
	maxCRAIterations = 10_000_000
	maxCRAKeyLen     = 1024
)

// AuthThrottleConfig is the auth_throttle section: how wampd slows down
// the guessing of credentials and logs failed authentications (see
// router.AuthThrottle, whose defaults apply to zero values).
type AuthThrottleConfig struct {
	// Disabled turns throttling off; failures are still logged.
	Disabled bool `yaml:"disabled"`
	// AuthIDFailures is how many failed authentications one authid of a
	// realm may have per AuthIDWindow. Zero means
	// router.DefaultAuthIDFailures (5); negative means no limit.
	AuthIDFailures int `yaml:"authid_failures"`
	// AuthIDWindow is the period of AuthIDFailures. Zero means
	// router.DefaultAuthThrottleWindow (1m).
	AuthIDWindow time.Duration `yaml:"authid_window"`
	// AddressFailures is how many failed authentications one client
	// address (IPv6: its /64) may have per AddressWindow. Zero means
	// router.DefaultAddressFailures (20); negative means no limit.
	AddressFailures int `yaml:"address_failures"`
	// AddressWindow is the period of AddressFailures. Zero means
	// router.DefaultAuthThrottleWindow (1m).
	AddressWindow time.Duration `yaml:"address_window"`
	// MaxEntries is the most authids, and the most addresses, remembered.
	// Zero means router.DefaultAuthThrottleEntries (100,000).
	MaxEntries int `yaml:"max_entries"`
	// LogLines is the most log lines about failed authentications per
	// LogInterval. Zero means router.DefaultAuthLogLines (20); negative
	// means no limit.
	LogLines int `yaml:"log_lines"`
	// LogInterval is the period of LogLines. Zero means
	// router.DefaultAuthLogInterval (1m).
	LogInterval time.Duration `yaml:"log_interval"`
}

// check reports the first setting out of range.
func (c AuthThrottleConfig) check() error {
	if c.AuthIDWindow < 0 || c.AddressWindow < 0 || c.LogInterval < 0 {
		return errors.New("wampd: auth_throttle: authid_window, address_window and log_interval must not be negative")
	}
	if c.MaxEntries < 0 {
		return errors.New("wampd: auth_throttle: max_entries must not be negative")
	}
	return nil
}

// router returns c as the router's AuthThrottle.
func (c AuthThrottleConfig) router() router.AuthThrottle {
	return router.AuthThrottle{
		Disabled:        c.Disabled,
		AuthIDFailures:  c.AuthIDFailures,
		AuthIDWindow:    c.AuthIDWindow,
		AddressFailures: c.AddressFailures,
		AddressWindow:   c.AddressWindow,
		MaxEntries:      c.MaxEntries,
		LogLines:        c.LogLines,
		LogInterval:     c.LogInterval,
	}
}

// PrincipalConfig is one user of ticket authentication.
type PrincipalConfig struct {
	// Secret is the ticket. Required.
	Secret string `yaml:"secret"`
	// Role is the authrole the user gets. Empty means "user".
	Role string `yaml:"role,omitempty"`
}

// CRAPrincipalConfig is one user of WAMP-CRA authentication (spec
// advanced/authentication_cra.md).
//
// Without Salt, Secret is the key the client shares. With Salt (salted
// WAMP-CRA, "Password Salting") the client derives the key from its
// password with PBKDF2-HMAC-SHA256(password, salt, iterations, keylen);
// give either DerivedKey, that key, so that the password is not stored on
// the router host, or Secret, the password, from which wampd derives the
// key at start.
type CRAPrincipalConfig struct {
	// Secret is the shared key, or with Salt the password. Exactly one of
	// Secret and DerivedKey is required.
	Secret string `yaml:"secret,omitempty"`
	// DerivedKey is the salted key: the standard base64 text of the
	// PBKDF2 output, as router.DeriveCRAKey and Autobahn's derive_key
	// return it. It needs Salt.
	DerivedKey string `yaml:"derived_key,omitempty"`
	// Salt, if not empty, selects salted WAMP-CRA; it is sent to the
	// client in the CHALLENGE.
	Salt string `yaml:"salt,omitempty"`
	// Iterations is the PBKDF2 iteration count, with Salt only. Zero
	// means router.DefaultCRAIterations (1000).
	Iterations int `yaml:"iterations,omitempty"`
	// KeyLen is the derived key's length in bytes, with Salt only. Zero
	// means router.DefaultCRAKeyLen (32).
	KeyLen int `yaml:"keylen,omitempty"`
	// Role is the authrole the user gets. Empty means "user".
	Role string `yaml:"role,omitempty"`
}

// check reports the first problem of p, without its secrets.
func (p CRAPrincipalConfig) check() error {
	switch {
	case p.Secret == "" && p.DerivedKey == "":
		return errors.New("has no secret or derived_key")
	case p.Secret != "" && p.DerivedKey != "":
		return errors.New("set secret or derived_key, not both")
	case p.DerivedKey != "" && p.Salt == "":
		return errors.New("derived_key needs salt")
	case p.Salt == "" && (p.Iterations != 0 || p.KeyLen != 0):
		return errors.New("iterations and keylen need salt")
	case p.Iterations < 0 || p.Iterations > maxCRAIterations:
		return fmt.Errorf("iterations %d: want 1 to %d (0 means %d)", p.Iterations, maxCRAIterations, router.DefaultCRAIterations)
	case p.KeyLen < 0 || p.KeyLen > maxCRAKeyLen:
		return fmt.Errorf("keylen %d: want 1 to %d (0 means %d)", p.KeyLen, maxCRAKeyLen, router.DefaultCRAKeyLen)
	}
	if p.DerivedKey != "" {
		keylen := p.KeyLen
		if keylen == 0 {
			keylen = router.DefaultCRAKeyLen
		}
		// The client signs with the base64 text itself as the HMAC key, so
		// it must be exactly the canonical encoding, not just decodable.
		k, err := base64.StdEncoding.DecodeString(p.DerivedKey)
		if err != nil || len(k) != keylen || base64.StdEncoding.EncodeToString(k) != p.DerivedKey {
			return fmt.Errorf("derived_key is not the standard base64 text of %d bytes (keylen)", keylen)
		}
	}
	return nil
}

// principal returns p for router.WAMPCRA, deriving the salted key from
// the password if need be.
func (p CRAPrincipalConfig) principal() (router.Principal, error) {
	rp := router.Principal{Secret: p.Secret, Role: p.Role, Salt: p.Salt, Iterations: p.Iterations, KeyLen: p.KeyLen}
	switch {
	case p.DerivedKey != "":
		rp.Secret = p.DerivedKey
	case p.Salt != "":
		k, err := router.DeriveCRAKey(p.Secret, p.Salt, p.Iterations, p.KeyLen)
		if err != nil {
			return router.Principal{}, err
		}
		rp.Secret = k
	}
	return rp, nil
}

// CryptosignPrincipalConfig is one user of WAMP-Cryptosign authentication
// (spec advanced/authentication_cryptosign.md), known by its Ed25519
// public keys in hex (64 digits). Give PublicKey, PublicKeys (to rotate
// keys) or both; at least one key is required.
type CryptosignPrincipalConfig struct {
	// PublicKey is a public key the user may authenticate with.
	PublicKey string `yaml:"public_key,omitempty"`
	// PublicKeys are more public keys the user may authenticate with.
	PublicKeys []string `yaml:"public_keys,omitempty"`
	// Role is the authrole the user gets. Empty means "user".
	Role string `yaml:"role,omitempty"`
}

// publicKeys parses the principal's keys.
func (p CryptosignPrincipalConfig) publicKeys() ([]ed25519.PublicKey, error) {
	texts := p.PublicKeys
	if p.PublicKey != "" {
		texts = append([]string{p.PublicKey}, texts...)
	}
	if len(texts) == 0 {
		return nil, errors.New("has no public_key")
	}
	keys := make([]ed25519.PublicKey, len(texts))
	for i, s := range texts {
		k, err := hex.DecodeString(s)
		if err != nil || len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("public key %q: want %d hex digits (an Ed25519 public key)", s, 2*ed25519.PublicKeySize)
		}
		keys[i] = k
	}
	return keys, nil
}

// checkPrincipals reports the first malformed principal of the realm, in
// the order ticket, wampcra, cryptosign and by authid.
func (r RealmConfig) checkPrincipals() error {
	for _, authid := range slices.Sorted(maps.Keys(r.Ticket)) {
		if authid == "" {
			return fmt.Errorf("wampd: realm %q: ticket principal with empty authid", r.Name)
		}
		if r.Ticket[authid].Secret == "" {
			return fmt.Errorf("wampd: realm %q: ticket principal %q has no secret", r.Name, authid)
		}
	}
	for _, authid := range slices.Sorted(maps.Keys(r.WAMPCRA)) {
		if authid == "" {
			return fmt.Errorf("wampd: realm %q: wampcra principal with empty authid", r.Name)
		}
		if err := r.WAMPCRA[authid].check(); err != nil {
			return fmt.Errorf("wampd: realm %q: wampcra principal %q: %w", r.Name, authid, err)
		}
	}
	for _, authid := range slices.Sorted(maps.Keys(r.Cryptosign)) {
		if authid == "" {
			return fmt.Errorf("wampd: realm %q: cryptosign principal with empty authid", r.Name)
		}
		if _, err := r.Cryptosign[authid].publicKeys(); err != nil {
			return fmt.Errorf("wampd: realm %q: cryptosign principal %q: %w", r.Name, authid, err)
		}
	}
	return nil
}

// authenticators returns the realm's authentication methods. The router
// picks among them in the client's order of HELLO.Details.authmethods.
// The realm must have passed checkPrincipals.
func authenticators(r RealmConfig) ([]router.Authenticator, error) {
	var auths []router.Authenticator
	if len(r.Cryptosign) > 0 {
		cs := &router.Cryptosign{Principals: make(map[string]router.CryptosignPrincipal, len(r.Cryptosign))}
		for authid, p := range r.Cryptosign {
			keys, err := p.publicKeys()
			if err != nil {
				return nil, fmt.Errorf("wampd: realm %q: cryptosign principal %q: %w", r.Name, authid, err)
			}
			cs.Principals[authid] = router.CryptosignPrincipal{Role: p.Role, PublicKeys: keys}
		}
		auths = append(auths, cs)
	}
	if len(r.WAMPCRA) > 0 {
		cra := &router.WAMPCRA{Principals: make(map[string]router.Principal, len(r.WAMPCRA))}
		for authid, p := range r.WAMPCRA {
			rp, err := p.principal()
			if err != nil {
				return nil, fmt.Errorf("wampd: realm %q: wampcra principal %q: %w", r.Name, authid, err)
			}
			cra.Principals[authid] = rp
		}
		auths = append(auths, cra)
	}
	if len(r.Ticket) > 0 {
		t := &router.Ticket{Principals: make(map[string]router.Principal, len(r.Ticket))}
		for authid, p := range r.Ticket {
			t.Principals[authid] = router.Principal{Secret: p.Secret, Role: p.Role}
		}
		auths = append(auths, t)
	}
	if r.anonymous() {
		auths = append(auths, router.Anonymous{})
	}
	return auths, nil
}
