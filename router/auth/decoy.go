package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"sync"
)

// decoyKey derives the values that stand in for a principal that does
// not exist (see [WAMPCRA]): the same for an authid on every probe, so
// that repeating one learns nothing, and unpredictable without the key,
// which is random and made on first use, so one per [router.Authenticator] and
// thus per router. (After a restart the decoys change; real salts stay.)
type decoyKey struct {
	once sync.Once
	key  [32]byte // set by once
}

// bytes returns n bytes derived from label and authid:
// HMAC-SHA256(key, label || 0 || i || authid) for i = 0, 1, ...
func (d *decoyKey) bytes(label, authid string, n int) []byte {
	d.once.Do(func() { rand.Read(d.key[:]) })
	out := make([]byte, 0, n+sha256.Size)
	for i := byte(0); len(out) < n; i++ {
		m := hmac.New(sha256.New, d.key[:])
		m.Write([]byte(label))
		m.Write([]byte{0, i})
		m.Write([]byte(authid))
		out = m.Sum(out)
	}
	return out[:n]
}

// Encodings of salts, as [craDecoy] recognizes them in the real ones.
const (
	saltText   = iota // any text: letters and digits are made up
	saltBase64        // standard base64 of bytes
	saltHex           // lower-case hex of bytes
)

// craDecoy is the shape of the WAMP-CRA principal that stands in for an
// unknown authid: that of most principals of the realm, so that its
// CHALLENGE does not stand out.
type craDecoy struct {
	role               string
	salted             bool
	iterations, keylen int // with salted
	saltEnc            int // saltText, saltBase64 or saltHex
	saltLen            int // bytes (base64, hex) or characters (text)
}

// newCRADecoy returns the most common shape of principals: role, salted
// or not, and for salted ones iterations and keylen, and the encoding and
// length of the salt. Ties go to the smaller value, so that the shape
// does not depend on map order.
func newCRADecoy(principals map[string]Principal) craDecoy {
	d := craDecoy{role: "user", iterations: defaultCRAIterations, keylen: defaultCRAKeyLen, saltEnc: saltBase64, saltLen: 16}
	roles := map[string]int{}
	params := map[[2]int]int{}
	lens := map[int]int{}
	allHex, allBase64 := true, true
	salted := 0
	for _, p := range principals {
		roles[p.role()]++
		if p.Salt == "" {
			continue
		}
		salted++
		iter, keylen := p.Iterations, p.KeyLen
		if iter <= 0 {
			iter = defaultCRAIterations
		}
		if keylen <= 0 {
			keylen = defaultCRAKeyLen
		}
		params[[2]int{iter, keylen}]++
		if b, err := hex.DecodeString(p.Salt); err != nil || hex.EncodeToString(b) != p.Salt {
			allHex = false
		}
		if b, err := base64.StdEncoding.DecodeString(p.Salt); err != nil || base64.StdEncoding.EncodeToString(b) != p.Salt {
			allBase64 = false
		}
	}
	if len(roles) > 0 {
		d.role = mostCommon(roles, func(a, b string) bool { return a < b })
	}
	if salted == 0 || 2*salted < len(principals) {
		return d
	}
	d.salted = true
	pair := mostCommon(params, func(a, b [2]int) bool { return a[0] < b[0] || a[0] == b[0] && a[1] < b[1] })
	d.iterations, d.keylen = pair[0], pair[1]
	switch {
	case allHex:
		d.saltEnc = saltHex
	case allBase64:
		d.saltEnc = saltBase64
	default:
		d.saltEnc = saltText
	}
	for _, p := range principals {
		switch {
		case p.Salt == "":
		case d.saltEnc == saltHex:
			lens[len(p.Salt)/2]++
		case d.saltEnc == saltBase64:
			lens[base64.StdEncoding.DecodedLen(len(p.Salt))-padding(p.Salt)]++
		default:
			lens[len(p.Salt)]++
		}
	}
	if d.saltLen = mostCommon(lens, func(a, b int) bool { return a < b }); d.saltLen <= 0 {
		d.saltLen = 16
	}
	return d
}

// padding returns the number of '=' that end s.
func padding(s string) int {
	n := 0
	for n < len(s) && s[len(s)-1-n] == '=' {
		n++
	}
	return n
}

// mostCommon returns the key of counts with the highest count, the least
// by less among ties. counts must not be empty.
func mostCommon[K comparable](counts map[K]int, less func(a, b K) bool) K {
	var best K
	n := -1
	for k, c := range counts {
		if c > n || c == n && less(k, best) {
			best, n = k, c
		}
	}
	return best
}

// principal returns the decoy for authid, with a salt derived from key.
// Its empty Secret admits nobody.
func (d *craDecoy) principal(key *decoyKey, authid string) *Principal {
	p := &Principal{Role: d.role}
	if !d.salted {
		return p
	}
	p.Iterations, p.KeyLen = d.iterations, d.keylen
	b := key.bytes("wampcra salt", authid, d.saltLen)
	switch d.saltEnc {
	case saltHex:
		p.Salt = hex.EncodeToString(b)
	case saltBase64:
		p.Salt = base64.StdEncoding.EncodeToString(b)
	default:
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
		for i := range b {
			b[i] = alphabet[int(b[i])%len(alphabet)]
		}
		p.Salt = string(b)
	}
	return p
}
