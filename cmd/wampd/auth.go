package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wampkit/wampkit/bridge"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/router/auth"
)

// Bounds of the salted WAMP-CRA parameters. wampd derives keys from
// passwords at start, and the wampkit client refuses more than this
// (client/auth_builtin.go), so larger values only slow down every login or
// lock clients out.
const (
	maxCRAIterations = 10_000_000
	maxCRAKeyLen     = 1024
)

// Defaults of salted WAMP-CRA, those of auth.DeriveCRAKey (and Autobahn).
const (
	defaultCRAIterations = 1000
	defaultCRAKeyLen     = 32
)

// AuthThrottleConfig is the auth_throttle section: how wampd slows down
// the guessing of credentials and logs failed authentications (see
// router.AuthThrottle, whose defaults apply to zero values).
type AuthThrottleConfig struct {
	// Disabled turns throttling off; failures are still logged.
	Disabled bool `yaml:"disabled"`
	// AuthIDFailures is how many failed authentications one authid of a
	// realm may have per AuthIDWindow. Zero means
	// 5; negative means no limit.
	AuthIDFailures int `yaml:"authid_failures"`
	// AuthIDWindow is the period of AuthIDFailures. Zero means
	// 1m.
	AuthIDWindow time.Duration `yaml:"authid_window"`
	// AddressFailures is how many failed authentications one client
	// address (IPv6: its /64) may have per AddressWindow. Zero means
	// 20; negative means no limit. The HTTP bridge applies it (and
	// AddressWindow, MaxEntries and Disabled) to requests with a wrong
	// bearer token, in a table of its own (bridge.Throttle).
	AddressFailures int `yaml:"address_failures"`
	// AddressWindow is the period of AddressFailures. Zero means
	// 1m.
	AddressWindow time.Duration `yaml:"address_window"`
	// MaxEntries is the most authids, and the most addresses, remembered.
	// Zero means 100,000.
	MaxEntries int `yaml:"max_entries"`
	// LogLines is the most log lines about failed authentications per
	// LogInterval. Zero means 20; negative
	// means no limit.
	LogLines int `yaml:"log_lines"`
	// LogInterval is the period of LogLines. Zero means
	// 1m.
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

// bridge returns the per-address settings of c as the HTTP bridge's
// Throttle of wrong bearer tokens.
func (c AuthThrottleConfig) bridge() bridge.Throttle {
	if c.Disabled {
		return bridge.Throttle{Failures: -1}
	}
	return bridge.Throttle{Failures: c.AddressFailures, Window: c.AddressWindow, MaxEntries: c.MaxEntries}
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
	Secret Secret `yaml:"secret"`
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
	Secret Secret `yaml:"secret,omitempty"`
	// DerivedKey is the salted key: the standard base64 text of the
	// PBKDF2 output, as auth.DeriveCRAKey and Autobahn's derive_key
	// return it. It needs Salt.
	DerivedKey Secret `yaml:"derived_key,omitempty"`
	// Salt, if not empty, selects salted WAMP-CRA; it is sent to the
	// client in the CHALLENGE.
	Salt string `yaml:"salt,omitempty"`
	// Iterations is the PBKDF2 iteration count, with Salt only. Zero
	// means 1000.
	Iterations int `yaml:"iterations,omitempty"`
	// KeyLen is the derived key's length in bytes, with Salt only. Zero
	// means 32.
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
		return fmt.Errorf("iterations %d: want 1 to %d (0 means %d)", p.Iterations, maxCRAIterations, defaultCRAIterations)
	case p.KeyLen < 0 || p.KeyLen > maxCRAKeyLen:
		return fmt.Errorf("keylen %d: want 1 to %d (0 means %d)", p.KeyLen, maxCRAKeyLen, defaultCRAKeyLen)
	}
	if p.DerivedKey != "" {
		keylen := p.KeyLen
		if keylen == 0 {
			keylen = defaultCRAKeyLen
		}
		// The client signs with the base64 text itself as the HMAC key, so
		// it must be exactly the canonical encoding, not just decodable.
		k, err := base64.StdEncoding.DecodeString(string(p.DerivedKey))
		if err != nil || len(k) != keylen || base64.StdEncoding.EncodeToString(k) != string(p.DerivedKey) {
			return fmt.Errorf("derived_key is not the standard base64 text of %d bytes (keylen)", keylen)
		}
	}
	return nil
}

// principal returns p for auth.WAMPCRA, deriving the salted key from
// the password if need be.
func (p CRAPrincipalConfig) principal() (auth.Principal, error) {
	rp := auth.Principal{Secret: string(p.Secret), Role: p.Role, Salt: p.Salt, Iterations: p.Iterations, KeyLen: p.KeyLen}
	switch {
	case p.DerivedKey != "":
		rp.Secret = string(p.DerivedKey)
	case p.Salt != "":
		k, err := auth.DeriveCRAKey(string(p.Secret), p.Salt, p.Iterations, p.KeyLen)
		if err != nil {
			return auth.Principal{}, err
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

// parseRouterKey parses an Ed25519 private key: 64 hex digits (the
// seed), 128 hex digits (seed and public key, which must match) or a PEM
// PKCS #8 "PRIVATE KEY" block. Its errors never quote the text, a
// secret.
func parseRouterKey(text string) (ed25519.PrivateKey, error) {
	text = strings.TrimSpace(text)
	if block, _ := pem.Decode([]byte(text)); block != nil {
		if block.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("PEM block %q: want PRIVATE KEY (PKCS #8)", block.Type)
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("PEM PRIVATE KEY is not PKCS #8")
		}
		priv, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("PEM PRIVATE KEY is a %T, want Ed25519", k)
		}
		return priv, nil
	}
	b, err := hex.DecodeString(text)
	switch {
	case err != nil:
		return nil, errors.New("want 64 or 128 hex digits, or a PEM PRIVATE KEY block")
	case len(b) == ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(b), nil
	case len(b) == ed25519.PrivateKeySize:
		priv := ed25519.NewKeyFromSeed(b[:ed25519.SeedSize])
		if !priv.Public().(ed25519.PublicKey).Equal(ed25519.PublicKey(b[ed25519.SeedSize:])) {
			return nil, errors.New("the last 64 hex digits are not the seed's public key")
		}
		return priv, nil
	}
	return nil, fmt.Errorf("%d hex digits: want 64 (seed) or 128 (seed and public key)", 2*len(b))
}

// TLSPrincipalConfig is one user of TLS client certificate
// authentication (authmethod "tls"). Give Fingerprint or Fingerprints
// (to rotate certificates) to pin certificates, self-signed ones
// included; give neither for a principal known by name: a certificate
// verified against the realm's tls_client_ca, or by the listener
// (tls.client_auth verify_if_given or require_and_verify), whose subject
// common name, or a DNS, email or URI subject alternative name, is the
// authid.
type TLSPrincipalConfig struct {
	// Fingerprint is the SHA-256 fingerprint of a certificate of the
	// user: 64 hex digits, with or without colons (as `openssl x509
	// -noout -fingerprint -sha256` prints it).
	Fingerprint string `yaml:"fingerprint,omitempty"`
	// Fingerprints are more fingerprints of the user's certificates.
	Fingerprints []string `yaml:"fingerprints,omitempty"`
	// Role is the authrole the user gets. Empty means "user".
	Role string `yaml:"role,omitempty"`
}

// principal returns p for auth.TLS, or the first malformed fingerprint.
func (p TLSPrincipalConfig) principal() (auth.TLSPrincipal, error) {
	fps := p.Fingerprints
	if p.Fingerprint != "" {
		fps = append([]string{p.Fingerprint}, fps...)
	}
	for _, f := range fps {
		if _, err := auth.ParseFingerprint(f); err != nil {
			return auth.TLSPrincipal{}, fmt.Errorf("fingerprint %q: want the 64 hex digits of a SHA-256 fingerprint", f)
		}
	}
	return auth.TLSPrincipal{Role: p.Role, Fingerprints: fps}, nil
}

// MaxCAFileSize bounds a file of CA certificates (realms[].tls_client_ca).
const MaxCAFileSize = 1 << 20

// CAFile is the path of a PEM file of CA certificates
// (realms[].tls_client_ca). The file is read when the configuration is
// loaded, at start and on every SIGHUP, so that a reload sees a file
// that changed under the same path. A relative path is relative to
// wampd's working directory, as the TLS files are; the file must hold at
// least one PEM certificate and be at most MaxCAFileSize bytes.
type CAFile struct {
	// Path is the file's path as the configuration gives it.
	Path string
	// PEM is the file's content, read when the configuration was loaded.
	PEM []byte
}

// IsZero reports whether f names no file (for yaml's omitempty).
func (f CAFile) IsZero() bool { return f.Path == "" }

// UnmarshalYAML implements yaml.Unmarshaler: it reads the path, then the
// file, and checks that it holds a certificate.
func (f *CAFile) UnmarshalYAML(n *yaml.Node) error {
	var path string
	if err := n.Decode(&path); err != nil {
		return err
	}
	if path == "" {
		*f = CAFile{}
		return nil
	}
	b, err := readBounded(path, MaxCAFileSize)
	if err != nil {
		return fmt.Errorf("line %d: tls_client_ca: %w", n.Line, err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(b) {
		return fmt.Errorf("line %d: tls_client_ca %s: no PEM certificate in it", n.Line, path)
	}
	*f = CAFile{Path: path, PEM: b}
	return nil
}

// pool returns the certificates of f, or nil if f names no file.
func (f CAFile) pool() *x509.CertPool {
	if f.Path == "" {
		return nil
	}
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(f.PEM) // checked by UnmarshalYAML
	return p
}

// equal reports whether f and g name the same file with the same
// content.
func (f CAFile) equal(g CAFile) bool { return f.Path == g.Path && bytes.Equal(f.PEM, g.PEM) }

// Bounds of the WAMP-SCRAM parameters: the wampkit client refuses costs
// outside them (client/auth_builtin.go), as cracking-prone or abusive.
const (
	minSCRAMPBKDF2Iterations = 4096
	maxSCRAMPBKDF2Iterations = 10_000_000
	maxSCRAMArgon2Iterations = 64
	minSCRAMArgon2Memory     = 1024
	maxSCRAMArgon2Memory     = 1 << 18
)

// Defaults of the WAMP-SCRAM parameters, those of auth.NewSCRAMPrincipal.
const (
	defaultSCRAMArgon2Iterations = 2
	defaultSCRAMArgon2Memory     = 19456 // KiB
	defaultSCRAMPBKDF2Iterations = 600_000
)

// SCRAMPrincipalConfig is one user of WAMP-SCRAM authentication (spec
// advanced/authentication_scram.md). Give either Password, from which
// wampd derives the keys at start (with a new random salt at each start
// unless Salt is set), or Salt, StoredKey and ServerKey, so that the
// password is not kept on the router host (auth.DeriveSCRAMPrincipal
// computes them).
type SCRAMPrincipalConfig struct {
	// Password is the user's password.
	Password Secret `yaml:"password,omitempty"`
	// KDF is argon2id13 or pbkdf2. Empty means argon2id13.
	KDF string `yaml:"kdf,omitempty"`
	// Iterations is the KDF's cost: zero means 2 for argon2id13 and
	// 600000 for pbkdf2, as in auth.NewSCRAMPrincipal.
	Iterations int `yaml:"iterations,omitempty"`
	// Memory is argon2id13's memory in KiB; zero means 19456.
	Memory int `yaml:"memory,omitempty"`
	// Salt is the user's salt, standard base64.
	Salt string `yaml:"salt,omitempty"`
	// StoredKey and ServerKey are the user's keys, standard base64 of 32
	// bytes each.
	StoredKey Secret `yaml:"stored_key,omitempty"`
	ServerKey Secret `yaml:"server_key,omitempty"`
	// Role is the authrole the user gets. Empty means "user".
	Role string `yaml:"role,omitempty"`
}

// params returns p's KDF, iterations and memory with the defaults
// applied, or the first one out of range.
func (p SCRAMPrincipalConfig) params() (kdf string, iter, mem int, err error) {
	kdf, iter, mem = p.KDF, p.Iterations, p.Memory
	switch kdf {
	case "", auth.SCRAMArgon2id:
		kdf = auth.SCRAMArgon2id
		if iter == 0 {
			iter = defaultSCRAMArgon2Iterations
		}
		if mem == 0 {
			mem = defaultSCRAMArgon2Memory
		}
		if iter < 1 || iter > maxSCRAMArgon2Iterations || mem < minSCRAMArgon2Memory || mem > maxSCRAMArgon2Memory {
			return "", 0, 0, fmt.Errorf("argon2id13 iterations %d, memory %d: want 1 to %d, %d to %d KiB",
				iter, mem, maxSCRAMArgon2Iterations, minSCRAMArgon2Memory, maxSCRAMArgon2Memory)
		}
	case auth.SCRAMPBKDF2:
		if iter == 0 {
			iter = defaultSCRAMPBKDF2Iterations
		}
		if iter < minSCRAMPBKDF2Iterations || iter > maxSCRAMPBKDF2Iterations || mem != 0 {
			return "", 0, 0, fmt.Errorf("pbkdf2 iterations %d: want %d to %d, and no memory", iter, minSCRAMPBKDF2Iterations, maxSCRAMPBKDF2Iterations)
		}
	default:
		return "", 0, 0, fmt.Errorf("kdf %q: want argon2id13 or pbkdf2", p.KDF)
	}
	return kdf, iter, mem, nil
}

// base64Of decodes s, the standard base64 text of n bytes (any n > 0 if
// n is 0), or reports that it is not, under name.
func base64Of(name, s string, n int) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) == 0 || n > 0 && len(b) != n || base64.StdEncoding.EncodeToString(b) != s {
		what := "bytes"
		if n > 0 {
			what = fmt.Sprintf("%d bytes", n)
		}
		return nil, fmt.Errorf("%s is not the standard base64 text of %s", name, what)
	}
	return b, nil
}

// check reports the first problem of p, without deriving keys or showing
// secrets.
func (p SCRAMPrincipalConfig) check() error {
	if _, _, _, err := p.params(); err != nil {
		return err
	}
	keyed := p.StoredKey != "" || p.ServerKey != ""
	switch {
	case p.Password != "" && keyed:
		return errors.New("set password or stored_key and server_key, not both")
	case p.Password == "" && !keyed:
		return errors.New("has no password or stored_key and server_key")
	case p.Password == "" && p.Salt == "":
		return errors.New("stored_key and server_key need salt")
	}
	if p.Salt != "" {
		if _, err := base64Of("salt", p.Salt, 0); err != nil {
			return err
		}
	}
	if keyed {
		if _, err := base64Of("stored_key", string(p.StoredKey), 32); err != nil {
			return err
		}
		if _, err := base64Of("server_key", string(p.ServerKey), 32); err != nil {
			return err
		}
	}
	return nil
}

// principal returns p for auth.SCRAM, deriving the keys from the
// password if need be. p must have passed check.
func (p SCRAMPrincipalConfig) principal() (auth.SCRAMPrincipal, error) {
	kdf, iter, mem, err := p.params()
	if err != nil {
		return auth.SCRAMPrincipal{}, err
	}
	switch {
	case p.Password != "" && p.Salt == "":
		return auth.NewSCRAMPrincipal(string(p.Password), kdf, iter, mem, p.Role)
	case p.Password != "":
		return auth.DeriveSCRAMPrincipal(string(p.Password), kdf, p.Salt, iter, mem, p.Role)
	}
	stored, err := base64Of("stored_key", string(p.StoredKey), 32)
	if err != nil {
		return auth.SCRAMPrincipal{}, err
	}
	server, err := base64Of("server_key", string(p.ServerKey), 32)
	if err != nil {
		return auth.SCRAMPrincipal{}, err
	}
	if kdf == auth.SCRAMPBKDF2 {
		mem = 0
	}
	return auth.SCRAMPrincipal{Role: p.Role, KDF: kdf, Salt: p.Salt, Iterations: iter, Memory: mem, StoredKey: stored, ServerKey: server}, nil
}

// checkPrincipals reports the first malformed principal of the realm, in
// the order ticket, wampcra, cryptosign, tls, scram and by authid.
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
	for _, authid := range slices.Sorted(maps.Keys(r.TLS)) {
		if authid == "" {
			return fmt.Errorf("wampd: realm %q: tls principal with empty authid", r.Name)
		}
		if _, err := r.TLS[authid].principal(); err != nil {
			return fmt.Errorf("wampd: realm %q: tls principal %q: %w", r.Name, authid, err)
		}
	}
	if r.TLSClientCA.Path != "" && len(r.TLS) == 0 {
		return fmt.Errorf("wampd: realm %q: tls_client_ca without tls principals", r.Name)
	}
	if r.CryptosignRouterKey != "" {
		if len(r.Cryptosign) == 0 {
			return fmt.Errorf("wampd: realm %q: cryptosign_router_key without cryptosign principals", r.Name)
		}
		if _, err := parseRouterKey(string(r.CryptosignRouterKey)); err != nil {
			return fmt.Errorf("wampd: realm %q: cryptosign_router_key: %w", r.Name, err)
		}
	}
	for _, authid := range slices.Sorted(maps.Keys(r.SCRAM)) {
		if authid == "" {
			return fmt.Errorf("wampd: realm %q: scram principal with empty authid", r.Name)
		}
		if err := r.SCRAM[authid].check(); err != nil {
			return fmt.Errorf("wampd: realm %q: scram principal %q: %w", r.Name, authid, err)
		}
	}
	return nil
}

// authenticators returns the realm's authentication methods. The router
// picks among them in the client's order of HELLO.Details.authmethods.
// The realm must have passed checkPrincipals.
func authenticators(r RealmConfig) ([]router.Authenticator, error) {
	var auths []router.Authenticator
	if len(r.TLS) > 0 {
		ta := &auth.TLS{Principals: make(map[string]auth.TLSPrincipal, len(r.TLS)), ClientCAs: r.TLSClientCA.pool()}
		for authid, p := range r.TLS {
			tp, err := p.principal()
			if err != nil {
				return nil, fmt.Errorf("wampd: realm %q: tls principal %q: %w", r.Name, authid, err)
			}
			ta.Principals[authid] = tp
		}
		auths = append(auths, ta)
	}
	if len(r.Cryptosign) > 0 {
		cs := &auth.Cryptosign{Principals: make(map[string]auth.CryptosignPrincipal, len(r.Cryptosign))}
		for authid, p := range r.Cryptosign {
			keys, err := p.publicKeys()
			if err != nil {
				return nil, fmt.Errorf("wampd: realm %q: cryptosign principal %q: %w", r.Name, authid, err)
			}
			cs.Principals[authid] = auth.CryptosignPrincipal{Role: p.Role, PublicKeys: keys}
		}
		if r.CryptosignRouterKey != "" {
			k, err := parseRouterKey(string(r.CryptosignRouterKey))
			if err != nil {
				return nil, fmt.Errorf("wampd: realm %q: cryptosign_router_key: %w", r.Name, err)
			}
			cs.RouterKey = k
		}
		auths = append(auths, cs)
	}
	if len(r.SCRAM) > 0 {
		s := &auth.SCRAM{Principals: make(map[string]auth.SCRAMPrincipal, len(r.SCRAM))}
		for authid, p := range r.SCRAM {
			rp, err := p.principal()
			if err != nil {
				return nil, fmt.Errorf("wampd: realm %q: scram principal %q: %w", r.Name, authid, err)
			}
			s.Principals[authid] = rp
		}
		auths = append(auths, s)
	}
	if len(r.WAMPCRA) > 0 {
		cra := &auth.WAMPCRA{Principals: make(map[string]auth.Principal, len(r.WAMPCRA))}
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
		t := &auth.Ticket{Principals: make(map[string]auth.Principal, len(r.Ticket))}
		for authid, p := range r.Ticket {
			t.Principals[authid] = auth.Principal{Secret: string(p.Secret), Role: p.Role}
		}
		auths = append(auths, t)
	}
	if r.anonymous() {
		auths = append(auths, router.Anonymous{})
	}
	return auths, nil
}
