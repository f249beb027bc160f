package serialize_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

// fuzzDecode is the property every decoder fuzz target checks: Decode never
// panics, every error wraps protocol.ErrMalformed, and every accepted
// message encodes and decodes back to itself. Each input is also decoded
// in two halves, as a transport that got a short read might do. The
// memory budget is stable: a message accepted in one format, however it
// was written, is accepted again in every format it encodes in (as when a
// router forwards it to other peers).
func fuzzDecode(t *testing.T, s serialize.Serializer, data []byte) {
	c := s.Codec()
	for _, part := range [][]byte{data[:len(data)/2], data[len(data)/2:]} {
		if _, err := c.Decode(part); err != nil && !errors.Is(err, protocol.ErrMalformed) {
			t.Fatalf("Decode(%q) error %v does not wrap ErrMalformed", part, err)
		}
	}
	m, err := c.Decode(data)
	if err != nil {
		if !errors.Is(err, protocol.ErrMalformed) {
			t.Fatalf("Decode(%q) error %v does not wrap ErrMalformed", data, err)
		}
		return
	}
	if err := protocol.ValidateReceived(m); err != nil {
		t.Fatalf("Decode(%q) = %#v, which protocol.ValidateReceived refuses: %v", data, m, err)
	}
	if protocol.Validate(m) != nil {
		// A topic or procedure only the router refuses (ERROR
		// wamp.error.invalid_uri); encoders rightly refuse to send it.
		return
	}
	// What we accept, protocol.FromList accepts too.
	l, err := protocol.ToList(m)
	if err != nil {
		t.Fatalf("Decode(%q) = %#v, which protocol.ToList refuses: %v", data, m, err)
	}
	if m2, err := protocol.FromList(l); err != nil {
		t.Fatalf("Decode(%q) = %#v, which protocol.FromList refuses: %v", data, m, err)
	} else if !sameMessage(m, m2) {
		t.Fatalf("FromList(ToList(Decode(%q))) = %#v, want %#v", data, m2, m)
	}
	b, err := c.Encode(nil, m)
	if err != nil {
		t.Fatalf("Decode(%q) = %#v, which does not encode: %v", data, m, err)
	}
	m2, err := c.Decode(b)
	if err != nil {
		t.Fatalf("Decode(Encode(%#v)) = %q: %v", m, b, err)
	}
	if !sameMessage(m, m2) {
		t.Fatalf("Decode(Encode(m)) = %#v, want %#v (input %q)", m2, m, data)
	}
	// Our own encoding is stable.
	b2, err := c.Encode(nil, m2)
	if err != nil || !bytes.Equal(b, b2) {
		t.Fatalf("Encode(Decode(Encode(m))) = %q, %v; want %q", b2, err, b)
	}
	for _, s2 := range serializers {
		b, err := s2.Codec().Encode(nil, m)
		if err != nil {
			continue // such as NaN or a NUL-led string in JSON
		}
		if _, err := s2.Codec().Decode(b); err != nil {
			t.Fatalf("%v: Decode(Encode(Decode(%q))) = %v", s2, data, err)
		}
	}
}

// sameMessage compares two messages like cmp.Diff with cmpOpts would
// (empty equals nil, NaN equals NaN), in linear time: cmp.Diff takes time
// exponential in the nesting depth of []any values, which the fuzzer
// finds quickly.
func sameMessage(a, b protocol.Message) bool {
	la, erra := protocol.ToList(a)
	lb, errb := protocol.ToList(b)
	if erra != nil || errb != nil {
		return false
	}
	return sameValue([]any(la), []any(lb))
}

func sameValue(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case float64:
		y, ok := b.(float64)
		return ok && (x == y || (math.IsNaN(x) && math.IsNaN(y)))
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case protocol.List:
		return sameValue([]any(x), b)
	case protocol.Dict:
		return sameValue(map[string]any(x), b)
	case []any:
		var y []any
		switch v := b.(type) {
		case []any:
			y = v
		case protocol.List:
			y = v
		default:
			return false
		}
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		var y map[string]any
		switch v := b.(type) {
		case map[string]any:
			y = v
		case protocol.Dict:
			y = v
		default:
			return false
		}
		if len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !sameValue(v, w) {
				return false
			}
		}
		return true
	}
	return a == b // bool, int64, uint64, string and the list's type codes
}

// seeds returns the encodings of the test messages in s, plus a few
// hand-written frames.
func seeds(tb testing.TB, s serialize.Serializer) [][]byte {
	tb.Helper()
	var out [][]byte
	for _, tt := range messages() {
		b, err := s.Codec().Encode(nil, tt.msg)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	for _, v := range loadVectors(tb) {
		out = append(out, v.variants[s]...)
	}
	for _, js := range jsUndefined() {
		switch s {
		case serialize.MessagePack:
			out = append(out, unhex(js.msgpack))
		case serialize.CBOR:
			out = append(out, unhex(js.cbor))
		}
	}
	return out
}

func FuzzDecodeJSON(f *testing.F) {
	for _, b := range seeds(f, serialize.JSON) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, serialize.JSON, data) })
}

func FuzzDecodeMessagePack(f *testing.F) {
	for _, b := range seeds(f, serialize.MessagePack) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, serialize.MessagePack, data) })
}

func FuzzDecodeCBOR(f *testing.F) {
	for _, b := range seeds(f, serialize.CBOR) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, serialize.CBOR, data) })
}

func FuzzSplitJSONBatch(f *testing.F) {
	for _, b := range batchSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		parts, err := serialize.SplitJSONBatch(data)
		if err != nil {
			if !errors.Is(err, protocol.ErrMalformed) {
				t.Fatalf("SplitJSONBatch(%q) error %v does not wrap ErrMalformed", data, err)
			}
			return
		}
		if len(parts) == 0 {
			t.Fatalf("SplitJSONBatch(%q) = no messages, nil error", data)
		}
		var joined []byte
		for _, p := range parts {
			if len(p) == 0 || bytes.IndexByte(p, 0x1e) >= 0 {
				t.Fatalf("SplitJSONBatch(%q): bad part %q", data, p)
			}
			joined = serialize.AppendJSONBatch(joined, p)
			fuzzDecode(t, serialize.JSON, p)
		}
		if !bytes.Equal(joined, data) {
			t.Fatalf("AppendJSONBatch(SplitJSONBatch(%q)...) = %q", data, joined)
		}
	})
}

func batchSeeds(tb testing.TB) [][]byte {
	js := seeds(tb, serialize.JSON)
	out := [][]byte{{}, {0x1e}, []byte("[1]")}
	// Small batches: the fuzzer minimizes every new input it finds, which
	// is slow for inputs built from large seeds.
	for i := 0; i+2 < len(js); i += 5 {
		var b []byte
		for _, m := range js[i : i+2] {
			if len(m) < 200 {
				b = serialize.AppendJSONBatch(b, m)
			}
		}
		if len(b) > 0 {
			out = append(out, b)
		}
	}
	return out
}

// TestWriteFuzzCorpus writes the seed corpus to testdata/fuzz with -update,
// so that `go test` replays it even when the seeds in code change.
func TestWriteFuzzCorpus(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite testdata/fuzz seed files")
	}
	targets := map[string][][]byte{
		"FuzzDecodeJSON":        seeds(t, serialize.JSON),
		"FuzzDecodeMessagePack": seeds(t, serialize.MessagePack),
		"FuzzDecodeCBOR":        seeds(t, serialize.CBOR),
		"FuzzSplitJSONBatch":    batchSeeds(t),
	}
	for name, inputs := range targets {
		dir := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, b := range inputs {
			content := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
			file := filepath.Join(dir, fmt.Sprintf("seed-%03d", i))
			if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestSameValue(t *testing.T) {
	tests := []struct {
		a, b any
		want bool
	}{
		{int64(1), int64(1), true},
		{int64(1), uint64(1), false},
		{int64(1), 1.0, false},
		{math.NaN(), math.NaN(), true},
		{"a", []byte("a"), false},
		{[]byte{}, []byte(nil), true},
		{map[string]any(nil), map[string]any{}, true},
		{protocol.Dict{"a": []any{}}, map[string]any{"a": protocol.List(nil)}, true},
		{map[string]any{"a": nil}, map[string]any{"b": nil}, false},
		{[]any{int64(1)}, []any{int64(1), int64(2)}, false},
		{nil, map[string]any{}, false},
	}
	for _, tt := range tests {
		if got := sameValue(tt.a, tt.b); got != tt.want {
			t.Errorf("sameValue(%#v, %#v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
