package serialize_test

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func repeat(b string, n int) []byte { return []byte(strings.Repeat(b, n)) }

// TestDecodeMalformed feeds every decoder broken input: each must return a
// descriptive error that wraps protocol.ErrMalformed, and never panic.
func TestDecodeMalformed(t *testing.T) {
	// Valid message heads to build on: CALL with Request 1, Options {} and
	// Procedure "a.b", before the list length is known.
	mpCall := unhex("30 01 80 a3 612e62")
	cbCall := unhex("18 30 01 a0 63 612e62")
	tests := []struct {
		s    serialize.Serializer
		name string
		in   []byte
		want string
	}{
		{serialize.JSON, "empty", []byte(""), "empty input"},
		{serialize.JSON, "white space", []byte(" \n\t"), "empty input"},
		{serialize.JSON, "not a list", []byte(`{"a":1}`), "message is not a list"},
		{serialize.JSON, "string", []byte(`"[48]"`), "message is not a list"},
		{serialize.JSON, "empty list", []byte(`[]`), "message is an empty list"},
		{serialize.JSON, "truncated", []byte(`[48, 1, {}, "a.b"`), "unexpected end of input"},
		{serialize.JSON, "truncated string", []byte(`[48, 1, {}, "a.b`), "unexpected end of input"},
		{serialize.JSON, "truncated escape", []byte(`[48, 1, {}, "a.b\`), "unexpected end of input"},
		{serialize.JSON, "trailing garbage", []byte(`[48, 1, {}, "a.b"] x`), "trailing data"},
		{serialize.JSON, "two messages", []byte(`[48,1,{},"a.b"][48,1,{},"a.b"]`), "trailing data"},
		{serialize.JSON, "type is a string", []byte(`["48", 1, {}, "a.b"]`), "message type is not a non-negative integer"},
		{serialize.JSON, "negative type", []byte(`[-48, 1, {}, "a.b"]`), "message type is not a non-negative integer"},
		{serialize.JSON, "unknown type", []byte(`[999, 1]`), "unknown message type 999"},
		{serialize.JSON, "too short", []byte(`[48, 1, {}]`), "CALL: list has 3 elements, want 4..6"},
		{serialize.JSON, "too long", []byte(`[48, 1, {}, "a.b", [], {}, 1, 2]`), "CALL: list has 8 elements, want 4..6"},
		{serialize.JSON, "int map key", []byte(`[48, 1, {1: 2}, "a.b"]`), "map key is not a string"},
		{serialize.JSON, "duplicate key", []byte(`[48, 1, {"a": 1, "a": 2}, "a.b"]`), `duplicate map key "a"`},
		{serialize.JSON, "invalid UTF-8", []byte("[48, 1, {}, \"a.b\", [\"\xff\xfe\"]]"), "invalid UTF-8"},
		{serialize.JSON, "invalid UTF-8 after escape", []byte("[48, 1, {}, \"a.b\", [\"\\n\xc3\"]]"), "invalid UTF-8"},
		{serialize.JSON, "invalid UTF-8 key", []byte("[48, 1, {\"\xc0\x80\": 1}, \"a.b\"]"), "invalid UTF-8"},
		{serialize.JSON, "control character", []byte("[48, 1, {}, \"a\tb\"]"), "control character in string"},
		{serialize.JSON, "bad escape", []byte(`[48, 1, {}, "a\x"]`), `invalid escape 'x'`},
		{serialize.JSON, "bad unicode escape", []byte(`[48, 1, {}, "a\u12G4"]`), `invalid \u escape`},
		{serialize.JSON, "bad base64", []byte(`[48, 1, {}, "a.b", ["\u0000!!"]]`), "invalid base64"},
		{serialize.JSON, "binary procedure", []byte(`[48, 1, {}, "\u0000YQ=="]`), "CALL: Procedure: not a string"},
		{serialize.JSON, "deep nesting", cat([]byte(`[48, 1, {}, "a.b", `), repeat("[", 200), repeat("]", 200), []byte("]")), "nesting deeper than 100 levels"},
		{serialize.JSON, "deep dict nesting", cat([]byte(`[48, 1, {}, "a.b", [], `), repeat(`{"a":`, 200), []byte("1"), repeat("}", 200), []byte("]")), "nesting deeper than 100 levels"},
		{serialize.JSON, "number out of range", []byte(`[48, 1, {}, "a.b", [1e999]]`), "number out of range"},
		{serialize.JSON, "leading zero", []byte(`[48, 01, {}, "a.b"]`), "invalid number"},
		{serialize.JSON, "bare minus", []byte(`[48, 1, {}, "a.b", [-]]`), "invalid number"},
		{serialize.JSON, "bad fraction", []byte(`[48, 1, {}, "a.b", [1.]]`), "invalid number"},
		{serialize.JSON, "bad exponent", []byte(`[48, 1, {}, "a.b", [1e]]`), "invalid number"},
		{serialize.JSON, "bad literal", []byte(`[48, 1, {}, "a.b", [tru]]`), "invalid literal, want true"},
		{serialize.JSON, "missing comma", []byte(`[48 1, {}, "a.b"]`), "unexpected character '1'"},
		{serialize.JSON, "empty element", []byte(`[48,, 1, {}, "a.b"]`), "unexpected character ','"},
		{serialize.JSON, "trailing comma", []byte(`[48, 1, {}, "a.b",]`), "unexpected character ']'"},
		{serialize.JSON, "trailing comma in dict", []byte(`[48, 1, {"a":1,}, "a.b"]`), "map key is not a string"},
		{serialize.JSON, "missing colon", []byte(`[48, 1, {"a" 1}, "a.b"]`), "unexpected character '1'"},
		{serialize.JSON, "null options", []byte(`[48, 1, null, "a.b"]`), "CALL: Options: not a dict"},
		{serialize.JSON, "args not a list", []byte(`[48, 1, {}, "a.b", {}]`), "CALL: Args: not a list"},
		{serialize.JSON, "ID zero", []byte(`[48, 0, {}, "a.b"]`), "CALL: Request: ID 0 out of range"},
		{serialize.JSON, "ID above 2^53", []byte(`[48, 9007199254740993, {}, "a.b"]`), "out of range"},
		{serialize.JSON, "fractional ID", []byte(`[48, 1.5, {}, "a.b"]`), "CALL: Request: not a non-negative integer"},
		{serialize.JSON, "bool request type", []byte(`[8, true, 1, {}, "a.b"]`), "ERROR: RequestType: not a non-negative integer"},
		{serialize.JSON, "bad request type", []byte(`[8, 70000, 1, {}, "a.b"]`), "ERROR: RequestType"},
		{serialize.JSON, "revocation without details", []byte(`[35, 0]`), "UNSUBSCRIBED: Request: ID 0 out of range"},
		{serialize.JSON, "unregistered without details", []byte(`[67, 0]`), "UNREGISTERED: Request: ID 0 out of range"},
		{serialize.JSON, "ERROR for CANCEL", []byte(`[8, 49, 1, {}, "a.b"]`), "ERROR: RequestType: ERROR cannot answer message type 49"},
		{serialize.JSON, "NUL byte", []byte("[48, 1, {}, \"a.b\"]\x00"), "trailing data"},

		{serialize.MessagePack, "empty", nil, "empty input"},
		{serialize.MessagePack, "not a list", unhex("81 a1 61 01"), "message is not a list"},
		{serialize.MessagePack, "empty list", unhex("90"), "message is an empty list"},
		{serialize.MessagePack, "truncated", cat(unhex("94"), mpCall[:5]), "unexpected end of input"},
		{serialize.MessagePack, "truncated uint32", unhex("94 30 ce 0000"), "unexpected end of input"},
		{serialize.MessagePack, "trailing garbage", cat(unhex("94"), mpCall, unhex("00")), "trailing data"},
		{serialize.MessagePack, "huge array32", unhex("dd ffffffff 30"), "unexpected end of input"},
		{serialize.MessagePack, "huge array16", unhex("dc ffff 30"), "unexpected end of input"},
		{serialize.MessagePack, "huge map32 in args", cat(unhex("95"), mpCall, unhex("91 df ffffffff")), "unexpected end of input"},
		{serialize.MessagePack, "huge str32", cat(unhex("95"), mpCall, unhex("91 db ffffffff 61")), "unexpected end of input"},
		{serialize.MessagePack, "huge bin32", cat(unhex("95"), mpCall, unhex("91 c6 ffffffff 61")), "unexpected end of input"},
		{serialize.MessagePack, "huge list in args", cat(unhex("95"), mpCall, unhex("dd 7fffffff")), "unexpected end of input"},
		{serialize.MessagePack, "type is a string", unhex("94 a2 3438 01 80 a3 612e62"), "message type is not a non-negative integer"},
		{serialize.MessagePack, "negative type", unhex("94 d0 d0 01 80 a3 612e62"), "message type is not a non-negative integer"},
		{serialize.MessagePack, "unknown type", unhex("92 cd 0151 01"), "unknown message type 337"},
		{serialize.MessagePack, "too short", unhex("93 30 01 80"), "CALL: list has 3 elements, want 4..6"},
		{serialize.MessagePack, "too long", cat(unhex("97"), mpCall, unhex("90 80 01")), "CALL: list has 7 elements, want 4..6"},
		{serialize.MessagePack, "int map key", unhex("94 30 01 81 01 02 a3 612e62"), "map key is not a string"},
		{serialize.MessagePack, "binary map key", unhex("94 30 01 81 c4 01 61 02 a3 612e62"), "map key is not a string"},
		{serialize.MessagePack, "duplicate key", unhex("94 30 01 82 a1 61 01 a1 61 02 a3 612e62"), `duplicate map key "a"`},
		{serialize.MessagePack, "invalid UTF-8", cat(unhex("95"), mpCall, unhex("91 a2 fffe")), "invalid UTF-8"},
		{serialize.MessagePack, "invalid UTF-8 URI", unhex("94 30 01 80 a2 c0 80"), "invalid UTF-8"},
		{serialize.MessagePack, "binary procedure", unhex("94 30 01 80 c4 03 612e62"), "CALL: Procedure: not a string"},
		{serialize.MessagePack, "deep nesting", cat(unhex("95"), mpCall, repeat("\x91", 200), unhex("01")), "nesting deeper than 100 levels"},
		{serialize.MessagePack, "deep dict nesting", cat(unhex("96"), mpCall, unhex("90"), repeat("\x81\xa1a", 200), unhex("01")), "nesting deeper than 100 levels"},
		{serialize.MessagePack, "ext type", cat(unhex("95"), mpCall, unhex("91 d4 01 00")), "unsupported MessagePack type 0xd4"},
		{serialize.MessagePack, "never used", cat(unhex("95"), mpCall, unhex("91 c1")), "unsupported MessagePack type 0xc1"},
		{serialize.MessagePack, "negative ID", unhex("94 30 ff 80 a3 612e62"), "CALL: Request: not a non-negative integer"},
		{serialize.MessagePack, "ID zero", unhex("94 30 00 80 a3 612e62"), "CALL: Request: ID 0 out of range"},
		{serialize.MessagePack, "fractional float ID", unhex("94 30 cb 3ff8000000000000 80 a3 612e62"), "CALL: Request: not a non-negative integer"},
		{serialize.MessagePack, "nil options", unhex("94 30 01 c0 a3 612e62"), "CALL: Options: not a dict"},

		{serialize.CBOR, "empty", nil, "empty input"},
		{serialize.CBOR, "not a list", unhex("a1 61 61 01"), "message is not a list"},
		{serialize.CBOR, "empty list", unhex("80"), "message is an empty list"},
		{serialize.CBOR, "empty indefinite list", unhex("9f ff"), "message is an empty list"},
		{serialize.CBOR, "truncated", cat(unhex("84"), cbCall[:5]), "unexpected end of input"},
		{serialize.CBOR, "truncated head", unhex("84 18"), "unexpected end of input"},
		{serialize.CBOR, "unterminated indefinite list", cat(unhex("9f"), cbCall), "unexpected end of input"},
		{serialize.CBOR, "trailing garbage", cat(unhex("84"), cbCall, unhex("00")), "trailing data"},
		{serialize.CBOR, "huge array", unhex("9b ffffffffffffffff 18 30"), "unexpected end of input"},
		{serialize.CBOR, "huge map in args", cat(unhex("85"), cbCall, unhex("81 bb 7fffffffffffffff")), "unexpected end of input"},
		{serialize.CBOR, "huge text", cat(unhex("85"), cbCall, unhex("81 7b ffffffffffffffff 61")), "unexpected end of input"},
		{serialize.CBOR, "huge bytes", cat(unhex("85"), cbCall, unhex("81 5a ffffffff 61")), "unexpected end of input"},
		{serialize.CBOR, "huge chunk", cat(unhex("85"), cbCall, unhex("81 7f 7b 7fffffffffffffff")), "unexpected end of input"},
		{serialize.CBOR, "type is a string", unhex("84 62 3438 01 a0 63 612e62"), "message type is not a non-negative integer"},
		{serialize.CBOR, "negative type", unhex("84 38 2f 01 a0 63 612e62"), "message type is not a non-negative integer"},
		{serialize.CBOR, "unknown type", unhex("82 19 0151 01"), "unknown message type 337"},
		{serialize.CBOR, "too short", unhex("83 18 30 01 a0"), "CALL: list has 3 elements, want 4..6"},
		{serialize.CBOR, "too long", cat(unhex("87"), cbCall, unhex("80 a0 01")), "CALL: list has 7 elements, want 4..6"},
		{serialize.CBOR, "too long indefinite", cat(unhex("9f"), cbCall, unhex("80 a0 01 ff")), "CALL: list has"},
		{serialize.CBOR, "int map key", unhex("84 18 30 01 a1 01 02 63 612e62"), "map key is not a string"},
		{serialize.CBOR, "bytes map key", unhex("84 18 30 01 a1 41 61 02 63 612e62"), "map key is not a string"},
		{serialize.CBOR, "duplicate key", unhex("84 18 30 01 a2 61 61 01 61 61 02 63 612e62"), `duplicate map key "a"`},
		{serialize.CBOR, "invalid UTF-8", cat(unhex("85"), cbCall, unhex("81 62 fffe")), "invalid UTF-8"},
		{serialize.CBOR, "invalid UTF-8 across chunks", cat(unhex("85"), cbCall, unhex("81 7f 61 c3 ff")), "invalid UTF-8"},
		{serialize.CBOR, "bad chunk", cat(unhex("85"), cbCall, unhex("81 7f 41 61 ff")), "invalid chunk"},
		{serialize.CBOR, "binary procedure", unhex("84 18 30 01 a0 43 612e62"), "CALL: Procedure: not a string"},
		{serialize.CBOR, "deep nesting", cat(unhex("85"), cbCall, repeat("\x81", 200), unhex("01")), "nesting deeper than 100 levels"},
		{serialize.CBOR, "deep tags", cat(unhex("85"), cbCall, unhex("81"), repeat("\xc1", 200), unhex("01")), "nesting deeper than 100 levels"},
		{serialize.CBOR, "reserved info", cat(unhex("85"), cbCall, unhex("81 1c")), "reserved additional information"},
		{serialize.CBOR, "indefinite integer", cat(unhex("85"), cbCall, unhex("81 1f")), "reserved additional information"},
		{serialize.CBOR, "stray break", cat(unhex("85"), cbCall, unhex("81 ff")), "unexpected break"},
		{serialize.CBOR, "simple value", cat(unhex("85"), cbCall, unhex("81 f0")), "unsupported CBOR simple value 16"},
		{serialize.CBOR, "ID zero", unhex("84 18 30 00 a0 63 612e62"), "CALL: Request: ID 0 out of range"},
		{serialize.CBOR, "negative ID", unhex("84 18 30 20 a0 63 612e62"), "CALL: Request: not a non-negative integer"},
		{serialize.CBOR, "null options", unhex("84 18 30 01 f6 63 612e62"), "CALL: Options: not a dict"},
	}
	for _, tt := range tests {
		t.Run(tt.s.String()+"/"+tt.name, func(t *testing.T) {
			m, err := tt.s.Codec().Decode(tt.in)
			if err == nil {
				t.Fatalf("Decode(%q) = %#v, want error containing %q", tt.in, m, tt.want)
			}
			if m != nil {
				t.Errorf("Decode(%q) returned message %#v with error", tt.in, m)
			}
			if !errors.Is(err, protocol.ErrMalformed) {
				t.Errorf("Decode(%q) error %q does not wrap protocol.ErrMalformed", tt.in, err)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "serialize: "+tt.s.String()+": ") {
				t.Errorf("Decode(%q) error = %q, want prefix %q and %q", tt.in, err, "serialize: "+tt.s.String()+": ", tt.want)
			}
			var de *serialize.DecodeError
			if !errors.As(err, &de) || de.Serializer != tt.s {
				t.Errorf("Decode(%q) error %T is not a *DecodeError for %v", tt.in, err, tt.s)
			}
		})
	}
}

// TestDecodeTruncations decodes every prefix of every test message: no
// panic, and an error for each proper prefix.
func TestDecodeTruncations(t *testing.T) {
	for _, s := range serializers {
		for _, tt := range messages() {
			b, err := s.Codec().Encode(nil, tt.msg)
			if err != nil {
				t.Fatal(err)
			}
			for i := range len(b) {
				m, err := s.Codec().Decode(b[:i])
				if err == nil {
					t.Errorf("%v: Decode(%q) (prefix of %s) = %#v, want error", s, b[:i], tt.name, m)
				} else if !errors.Is(err, protocol.ErrMalformed) {
					t.Errorf("%v: Decode(%q) error %v does not wrap ErrMalformed", s, b[:i], err)
				}
			}
		}
	}
}

// TestDecodeLeavesRequestURIs checks that a topic or procedure with bad URI
// syntax decodes: the router answers it with ERROR wamp.error.invalid_uri
// (spec basic "URIs") instead of ending the session for a malformed
// message. protocol.Validate, which guards what is sent, still refuses it.
func TestDecodeLeavesRequestURIs(t *testing.T) {
	tests := []struct {
		s    serialize.Serializer
		name string
		in   []byte
		want string
	}{
		{serialize.JSON, "invalid URI", []byte(`[48, 1, {}, "a..b"]`), `CALL: Procedure: invalid URI "a..b"`},
		{serialize.JSON, "bad match option", []byte(`[32, 1, {"match": 1}, "a.b"]`), "SUBSCRIBE: Options.match"},
		{serialize.JSON, "wildcard without match", []byte(`[64, 1, {}, "a..b"]`), "REGISTER: Procedure: invalid URI"},
		{serialize.MessagePack, "invalid URI", unhex("94 30 01 80 a4 612e2e62"), `CALL: Procedure: invalid URI "a..b"`},
		{serialize.CBOR, "invalid URI", unhex("84 18 30 01 a0 64 612e2e62"), `CALL: Procedure: invalid URI "a..b"`},
	}
	for _, tt := range tests {
		t.Run(tt.s.String()+"/"+tt.name, func(t *testing.T) {
			m, err := tt.s.Codec().Decode(tt.in)
			if err != nil {
				t.Fatalf("Decode(%q) = %v, want the message", tt.in, err)
			}
			if err := protocol.Validate(m); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("protocol.Validate(%#v) = %v, want an error containing %q", m, err, tt.want)
			}
			if _, err := tt.s.Codec().Encode(nil, m); err == nil {
				t.Errorf("Encode(%#v) succeeded, want the URI refused", m)
			}
		})
	}
}
