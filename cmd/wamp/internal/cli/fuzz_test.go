package cli

import (
	"crypto/ed25519"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzParseValue feeds command-line words to the argument rule: it must
// not panic, what it makes must print as valid JSON, and a value printed
// and parsed again must print the same.
func FuzzParseValue(f *testing.F) {
	for _, s := range []string{"2", "-7", "hello", `"2"`, `[1,{"a":null}]`, "1e400", "18446744073709551616", `"\u0000AQI="`,
		`{"a":[1,2,{"b":"\u0000"}]}`, "[1,", "  true  ", "1 2", "\x00", `"\ud800"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, word string) {
		if !utf8.ValidString(word) {
			t.Skip("parseArgs refuses words that are not UTF-8")
		}
		v := parseValue(word, false)
		out := compact(v)
		if !json.Valid([]byte(out)) {
			t.Fatalf("parseValue(%q) = %#v prints as %q, not JSON", word, v, out)
		}
		if again := compact(parseValue(out, false)); again != out {
			t.Fatalf("parseValue(%q) prints as %s, which parses and prints as %s", word, out, again)
		}
	})
}

// FuzzParseCryptosignKey feeds key files to the key parser: it must not
// panic, and a key it accepts must be a whole Ed25519 key.
func FuzzParseCryptosignKey(f *testing.F) {
	seed := make([]byte, ed25519.SeedSize)
	f.Add(seed)
	f.Add([]byte(ed25519.NewKeyFromSeed(seed)))
	f.Add([]byte("0000000000000000000000000000000000000000000000000000000000000000"))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		key, err := parseCryptosignKey(b)
		if err != nil {
			return
		}
		if len(key) != ed25519.PrivateKeySize || !ed25519.NewKeyFromSeed(key.Seed()).Equal(key) {
			t.Fatalf("parseCryptosignKey(%x) = %x: not a consistent Ed25519 key", b, key)
		}
	})
}
