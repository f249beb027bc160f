package scram

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"testing"
)

// TestRFC7677Vector runs the SCRAM-SHA-256 example of RFC 7677, section
// 3, whose ClientProof and ServerSignature are also those of the WAMP
// spec's WAMP-SCRAM example (advanced/authentication_scram.md): the spec
// keeps the RFC's AuthMessage so that its test vectors apply.
func TestRFC7677Vector(t *testing.T) {
	const (
		clientNonce = "rOprNGfwEbeRWgbNEkqO"
		nonce       = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
		salt        = "W22ZaJ0SNY7soEsUEjb6gQ=="
		wantAuthMsg = "n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
		wantProof   = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
		wantVerify  = "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
	)
	rawSalt, _ := DecodeBase64(salt)
	salted, err := SaltedPassword(PBKDF2, "pencil", rawSalt, 4096, 0)
	if err != nil {
		t.Fatal(err)
	}
	clientKey, storedKey, serverKey := Keys(salted)
	am := AuthMessage("user", clientNonce, nonce, salt, 4096)
	if string(am) != wantAuthMsg {
		t.Errorf("AuthMessage = %q, want %q", am, wantAuthMsg)
	}
	proof := ClientProof(clientKey, storedKey, am)
	if got := base64.StdEncoding.EncodeToString(proof); got != wantProof {
		t.Errorf("ClientProof = %s, want %s", got, wantProof)
	}
	if !VerifyProof(storedKey, am, proof) {
		t.Errorf("VerifyProof(right proof) = false")
	}
	proof[0] ^= 1
	if VerifyProof(storedKey, am, proof) {
		t.Errorf("VerifyProof(wrong proof) = true")
	}
	if VerifyProof(storedKey, am, proof[:31]) {
		t.Errorf("VerifyProof(short proof) = true")
	}
	if got := base64.StdEncoding.EncodeToString(ServerSignature(serverKey, am)); got != wantVerify {
		t.Errorf("ServerSignature = %s, want %s", got, wantVerify)
	}
}

// TestArgon2idVector checks the argon2id13 KDF against the Argon2id
// version 1.3 test of the reference implementation (phc-winner-argon2
// src/test.c: t=2, m=2^16 KiB, p=1, "password", "somesalt").
func TestArgon2idVector(t *testing.T) {
	got, err := SaltedPassword(Argon2id, "password", []byte("somesalt"), 2, 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	if want := "09316115d5cf24ed5a15a31a3ba326e5cf32edc24702987c02b6566f61913cf7"; hex.EncodeToString(got) != want {
		t.Errorf("argon2id13 = %x, want %s", got, want)
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"pencil", "pencil"},
		{"I\u00adX", "IX"},  // soft hyphen maps to nothing (RFC 4013 section 3)
		{"\u2168", "IX"},    // Roman numeral nine, NFKC
		{"a\u00a0b", "a b"}, // non-ASCII space maps to SPACE
		{"\u00aa", "a"},     // feminine ordinal, NFKC
	}
	for _, tt := range tests {
		if got, err := Normalize(tt.in); err != nil || got != tt.want {
			t.Errorf("Normalize(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := Normalize("a\u0007b"); err == nil {
		t.Errorf("Normalize of a control character succeeded")
	}
}

func TestSaltedPasswordParams(t *testing.T) {
	for _, tt := range []struct {
		kdf          string
		iter, memory int
	}{
		{"argon2", 2, 1024}, {Argon2id, 0, 1024}, {Argon2id, 1, 4}, {PBKDF2, 0, 0}, {"", 1, 1},
	} {
		if _, err := SaltedPassword(tt.kdf, "pw", []byte("salt"), tt.iter, tt.memory); !errors.Is(err, ErrParams) {
			t.Errorf("SaltedPassword(%q, iterations %d, memory %d) = %v, want ErrParams", tt.kdf, tt.iter, tt.memory, err)
		}
	}
	if got := escape("a=b,c"); got != "a=3Db=2Cc" {
		t.Errorf("escape = %q", got)
	}
}
