package serialize_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

func TestSerializerNames(t *testing.T) {
	tests := []struct {
		s          serialize.Serializer
		name, sub  string
		binary     bool
		rawSocketI byte
	}{
		{serialize.JSON, "json", "wamp.2.json", false, 1},
		{serialize.MessagePack, "msgpack", "wamp.2.msgpack", true, 2},
		{serialize.CBOR, "cbor", "wamp.2.cbor", true, 3},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.name {
			t.Errorf("%d.String() = %q, want %q", tt.s, got, tt.name)
		}
		if got := tt.s.SubProtocol(); got != tt.sub {
			t.Errorf("%v.SubProtocol() = %q, want %q", tt.s, got, tt.sub)
		}
		if got := tt.s.Binary(); got != tt.binary {
			t.Errorf("%v.Binary() = %v, want %v", tt.s, got, tt.binary)
		}
		if tt.s.Codec() == nil {
			t.Errorf("%v.Codec() = nil", tt.s)
		}
		if got, ok := serialize.BySubProtocol(tt.sub); !ok || got != tt.s {
			t.Errorf("BySubProtocol(%q) = %v, %v, want %v, true", tt.sub, got, ok, tt.s)
		}
		if got := serialize.Serializer(tt.rawSocketI); got != tt.s {
			t.Errorf("Serializer(%d) = %v, want %v", tt.rawSocketI, got, tt.s)
		}
	}
	if got, ok := serialize.BySubProtocol(serialize.JSONBatchedSubProtocol); !ok || got != serialize.JSON {
		t.Errorf("BySubProtocol(%q) = %v, %v, want json, true", serialize.JSONBatchedSubProtocol, got, ok)
	}
	for _, name := range []string{"", "wamp.2.ubjson", "wamp.2.msgpack.batched", "WAMP.2.JSON", "wamp.2.json "} {
		if got, ok := serialize.BySubProtocol(name); ok {
			t.Errorf("BySubProtocol(%q) = %v, true, want false", name, got)
		}
	}
	for _, id := range []byte{0, 4, 5, 15, 255} {
		if c := serialize.Serializer(id).Codec(); c != nil {
			t.Errorf("Serializer(%d).Codec() = %T, want nil", id, c)
		}
	}
	var bad serialize.Serializer = 9
	if bad.Codec() != nil || bad.SubProtocol() != "" || bad.String() != "serializer(9)" || bad.Binary() {
		t.Errorf("unknown serializer: Codec %v, SubProtocol %q, String %q", bad.Codec(), bad.SubProtocol(), bad.String())
	}
}

func TestRoundTrip(t *testing.T) {
	for _, s := range serializers {
		for _, tt := range messages() {
			t.Run(s.String()+"/"+tt.name, func(t *testing.T) {
				c := s.Codec()
				b, err := c.Encode(nil, tt.msg)
				if err != nil {
					t.Fatalf("Encode(%+v) error: %v", tt.msg, err)
				}
				got, err := c.Decode(b)
				if err != nil {
					t.Fatalf("Decode(%q) error: %v", b, err)
				}
				if diff := cmp.Diff(tt.msg, got, cmpOpts); diff != "" {
					t.Errorf("Decode(Encode(m)) mismatch (-want +got):\n%s", diff)
				}
				// Encode appends to dst.
				prefix := []byte("prefix")
				b2, err := c.Encode(prefix, tt.msg)
				if err != nil || !bytes.Equal(b2[:6], prefix) || !bytes.Equal(b2[6:], b) {
					t.Errorf("Encode(prefix, m) = %q, %v; want prefix + %q", b2, err, b)
				}
			})
		}
	}
}

// TestCrossSerializer decodes in one format and re-encodes in another, as a
// router does between peers with different serializers.
func TestCrossSerializer(t *testing.T) {
	for _, from := range serializers {
		for _, to := range serializers {
			for _, tt := range messages() {
				b, err := from.Codec().Encode(nil, tt.msg)
				if err != nil {
					t.Fatalf("%v: Encode(%s): %v", from, tt.name, err)
				}
				m, err := from.Codec().Decode(b)
				if err != nil {
					t.Fatalf("%v: Decode(%s): %v", from, tt.name, err)
				}
				b2, err := to.Codec().Encode(nil, m)
				if err != nil {
					t.Fatalf("%v->%v: Encode(%s): %v", from, to, tt.name, err)
				}
				got, err := to.Codec().Decode(b2)
				if err != nil {
					t.Fatalf("%v->%v: Decode(%s): %v", from, to, tt.name, err)
				}
				if diff := cmp.Diff(tt.msg, got, cmpOpts); diff != "" {
					t.Errorf("%v->%v %s mismatch (-want +got):\n%s", from, to, tt.name, diff)
				}
			}
		}
	}
}

// TestEncodeGoTypes checks that Go values other than the decoded forms
// encode like their decoded equivalents.
func TestEncodeGoTypes(t *testing.T) {
	type inner struct {
		Blob []byte `json:"blob"`
	}
	type point struct {
		X       int      `json:"x"`
		Y       float32  `json:"y"`
		Name    string   `json:"name,omitempty"`
		Tags    []string `json:"tags"`
		In      inner    `json:"in"`
		private int      // not encoded
	}
	in := protocol.List{
		int8(-8), int16(-16), int32(-32), uint(1), uint8(8), uint16(16), uint32(32), float32(0.5),
		protocol.ID(7), protocol.URI("com.example"), protocol.List{protocol.Dict{"k": "v"}},
		[]string{"a", "b"}, map[string]int{"one": 1}, []int{1, 2},
		point{X: 1, Y: 2.5, Tags: []string{"t"}, In: inner{Blob: []byte{1, 2}}, private: 9},
		&point{X: 3},
	}
	want := protocol.List{
		int64(-8), int64(-16), int64(-32), int64(1), int64(8), int64(16), int64(32), 0.5,
		int64(7), "com.example", []any{map[string]any{"k": "v"}},
		[]any{"a", "b"}, map[string]any{"one": int64(1)}, []any{int64(1), int64(2)},
		map[string]any{"x": int64(1), "y": 2.5, "tags": []any{"t"}, "in": map[string]any{"blob": []byte{1, 2}}},
		map[string]any{"x": int64(3), "y": 0.0, "tags": nil, "in": map[string]any{"blob": nil}},
	}
	for _, s := range serializers {
		b, err := s.Codec().Encode(nil, &protocol.Call{Request: 1, Procedure: "p", Args: in})
		if err != nil {
			t.Fatalf("%v: Encode: %v", s, err)
		}
		m, err := s.Codec().Decode(b)
		if err != nil {
			t.Fatalf("%v: Decode(%q): %v", s, b, err)
		}
		if diff := cmp.Diff(want, m.(*protocol.Call).Args, cmpOpts); diff != "" {
			t.Errorf("%v: Args mismatch (-want +got):\n%s", s, diff)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	deep := any("x")
	for range 150 {
		deep = []any{deep}
	}
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	tests := []struct {
		name string
		msg  protocol.Message
		only serialize.Serializer // 0: every serializer
		want string
	}{
		{"nil message", nil, 0, "nil message"},
		{"unknown type", unknownMessage{}, 0, "unsupported message type"},
		{"NaN", &protocol.Call{Request: 1, Procedure: "p", Args: protocol.List{math.NaN()}}, serialize.JSON, "NaN"},
		{"Inf", &protocol.Call{Request: 1, Procedure: "p", Kwargs: protocol.Dict{"x": math.Inf(1)}}, serialize.JSON, "Kwargs.x: NaN and infinity"},
		{"NUL string", &protocol.Call{Request: 1, Procedure: "p", Args: protocol.List{"\x00abc"}}, serialize.JSON, "U+0000"},
		{"invalid UTF-8 arg", &protocol.Call{Request: 1, Procedure: "p", Args: protocol.List{"a", []any{"\xff"}}}, 0, "Args[1][0]: invalid UTF-8"},
		{"invalid UTF-8 URI", &protocol.Call{Request: 1, Procedure: "p\xfe"}, 0, "Procedure: invalid URI"},
		{"invalid ID", &protocol.Call{Request: protocol.MaxID + 1, Procedure: "p"}, 0, "Request: ID"},
		{"invalid UTF-8 AuthMethod", &protocol.Challenge{AuthMethod: "\xff"}, 0, "AuthMethod: invalid UTF-8"},
		{"invalid UTF-8 key", &protocol.Call{Request: 1, Procedure: "p", Options: protocol.Dict{"\xff": 1}}, 0, "invalid UTF-8"},
		{"channel", &protocol.Call{Request: 1, Procedure: "p", Args: protocol.List{make(chan int)}}, 0, "chan int"},
		{"func", &protocol.Call{Request: 1, Procedure: "p", Kwargs: protocol.Dict{"f": func() {}}}, 0, "func"},
		{"too deep", &protocol.Call{Request: 1, Procedure: "p", Args: protocol.List{deep}}, 0, "nesting deeper than"},
		{"cyclic", &protocol.Call{Request: 1, Procedure: "p", Kwargs: cyclic}, 0, "nesting deeper than"},
	}
	for _, s := range serializers {
		for _, tt := range tests {
			if tt.only != 0 && tt.only != s {
				continue
			}
			t.Run(s.String()+"/"+tt.name, func(t *testing.T) {
				b, err := s.Codec().Encode([]byte("x"), tt.msg)
				if err == nil {
					t.Fatalf("Encode() = %q, want error containing %q", b, tt.want)
				}
				if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "serialize: ") {
					t.Errorf("Encode() error = %q, want it to start with \"serialize: \" and contain %q", err, tt.want)
				}
			})
		}
	}
}

type unknownMessage struct{}

func (unknownMessage) Type() protocol.MessageType { return 999 }

// TestBinaryJSON checks the spec's example of binary data in JSON
// (basic/serializations, "Binary conversion of JSON Strings").
func TestBinaryJSON(t *testing.T) {
	raw, _ := hex.DecodeString("10e3ff9053075c526f5fc06d4fe37cdb")
	const wire = `"\u0000EOP/kFMHXFJvX8BtT+N82w=="`
	c := serialize.JSON.Codec()
	b, err := c.Encode(nil, &protocol.Event{Subscription: 1, Publication: 2, Args: protocol.List{raw}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `[36,1,2,{},[` + wire + `]]`; string(b) != want {
		t.Errorf("Encode() = %s, want %s", b, want)
	}
	in := `[36,1,2,{"nested":{"bin":` + wire + `,"list":[` + wire + `]}},[` + wire + `,"\u0000"],{"k":` + wire + `}]`
	m, err := c.Decode([]byte(in))
	if err != nil {
		t.Fatalf("Decode(%s) error: %v", in, err)
	}
	want := &protocol.Event{Subscription: 1, Publication: 2,
		Details: protocol.Dict{"nested": map[string]any{"bin": raw, "list": []any{raw}}},
		Args:    protocol.List{raw, []byte{}},
		Kwargs:  protocol.Dict{"k": raw}}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("Decode(%s) mismatch (-want +got):\n%s", in, diff)
	}
	// Escaped NUL written as \u0000 with other escapes after it.
	m, err = c.Decode([]byte(`[36,1,2,{},["\u0000AQ\u003d\u003d"]]`))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(protocol.List{[]byte{1}}, m.(*protocol.Event).Args); diff != "" {
		t.Errorf("escaped base64 mismatch (-want +got):\n%s", diff)
	}
	// MessagePack and CBOR keep bytes as bytes.
	for _, s := range []serialize.Serializer{serialize.MessagePack, serialize.CBOR} {
		b, err := s.Codec().Encode(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Codec().Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := got.(*protocol.Event).Args[0].([]byte); !ok {
			t.Errorf("%v: Args[0] = %T, want []byte", s, got.(*protocol.Event).Args[0])
		}
	}
}

// TestLargeIntegers checks that IDs up to 2^53 and 64-bit payload integers
// survive every format exactly.
func TestLargeIntegers(t *testing.T) {
	ints := protocol.List{int64(1<<53 - 1), int64(1 << 53), int64(1<<53 + 1), int64(math.MaxInt64), uint64(math.MaxInt64 + 1), uint64(math.MaxUint64), int64(math.MinInt64)}
	msg := &protocol.Publish{Request: protocol.MaxID, Topic: "t", Args: ints}
	for _, s := range serializers {
		b, err := s.Codec().Encode(nil, msg)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Codec().Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(msg, got, cmpOpts); diff != "" {
			t.Errorf("%v mismatch (-want +got):\n%s", s, diff)
		}
	}
	// JSON floats for IDs (JavaScript) are accepted when integral.
	m, err := serialize.JSON.Codec().Decode([]byte(`[17, 1.0, 9.007199254740992e15]`))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&protocol.Published{Request: 1, Publication: protocol.MaxID}, m); diff != "" {
		t.Errorf("float IDs mismatch (-want +got):\n%s", diff)
	}
	// MessagePack float64 ID, as JavaScript encoders send.
	mp, _ := hex.DecodeString("9311cb3ff0000000000000cb4340000000000000")
	m, err = serialize.MessagePack.Codec().Decode(mp)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&protocol.Published{Request: 1, Publication: protocol.MaxID}, m); diff != "" {
		t.Errorf("msgpack float IDs mismatch (-want +got):\n%s", diff)
	}
}

func TestJSONNumbersAndStrings(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{`0`, int64(0)},
		{`-0`, int64(0)},
		{`-9223372036854775808`, int64(math.MinInt64)},
		{`-9223372036854775809`, -9223372036854775809.0},
		{`18446744073709551615`, uint64(math.MaxUint64)},
		{`18446744073709551616`, 18446744073709551616.0},
		{`1.0`, 1.0},
		{`1e2`, 100.0},
		{`-1.5E-3`, -0.0015},
		{`"\ud834\udd1e"`, "𝄞"},
		{`"\ud834"`, "\ufffd"},
		{`"\u00e9\/\b\f\n\r\t\"\\"`, "é/\b\f\n\r\t\"\\"},
		{`"\u0000"`, []byte{}},
		{`"a\u0000"`, "a\x00"},
		{`{"\u0000\u0000k":"\u0000"}`, map[string]any{"\x00\x00k": []byte{}}},
		{`[]`, []any{}},
		{`{}`, map[string]any{}},
		{` { "a" : [ 1 , { } ] } `, map[string]any{"a": []any{int64(1), map[string]any{}}}},
	}
	for _, tt := range tests {
		in := `[48,1,{},"p",[` + tt.in + `]]`
		m, err := serialize.JSON.Codec().Decode([]byte(in))
		if err != nil {
			t.Errorf("Decode(%s) error: %v", in, err)
			continue
		}
		if diff := cmp.Diff(protocol.List{tt.want}, m.(*protocol.Call).Args); diff != "" {
			t.Errorf("Decode(%s) mismatch (-want +got):\n%s", in, diff)
		}
	}
}

func TestShared(t *testing.T) {
	args, kwargs := payload()
	ev := &protocol.Event{Subscription: 1, Publication: 2, Args: args, Kwargs: kwargs}
	sh := serialize.NewShared(ev)
	if sh.Type() != protocol.TypeEvent || sh.Message() != ev || serialize.NewShared(sh) != sh {
		t.Fatalf("Shared: Type %v, Message %p (want %p), NewShared(sh) != sh", sh.Type(), sh.Message(), ev)
	}
	for _, s := range serializers {
		want, err := s.Codec().Encode(nil, ev)
		if err != nil {
			t.Fatal(err)
		}
		const n = 16
		results := make([][]byte, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				b, err := sh.Bytes(s)
				if err != nil {
					t.Errorf("%v: Bytes: %v", s, err)
				}
				results[i] = b
			})
		}
		wg.Wait()
		for i, b := range results {
			if !bytes.Equal(b, want) {
				t.Fatalf("%v: Bytes() #%d = %q, want %q", s, i, b, want)
			}
			// Every caller gets the same encoding, not a copy.
			if &b[0] != &results[0][0] {
				t.Errorf("%v: Bytes() #%d returned a different buffer: encoded more than once", s, i)
			}
		}
		// The codec encodes a *Shared through its cached bytes.
		got, err := s.Codec().Encode([]byte("p"), sh)
		if err != nil || string(got) != "p"+string(want) {
			t.Errorf("%v: Encode(prefix, shared) = %q, %v", s, got, err)
		}
		// Appending to the returned slice must not write into the cache.
		b, _ := sh.Bytes(s)
		_ = append(b, 'x')
		if b2, _ := sh.Bytes(s); !bytes.Equal(b2, want) {
			t.Errorf("%v: cached bytes changed after append", s)
		}
	}
	if _, err := sh.Bytes(0); err == nil {
		t.Error("Bytes(0) succeeded, want error")
	}
	// Encoding errors are cached and returned to every caller.
	bad := serialize.NewShared(&protocol.Event{Subscription: 1, Publication: 2, Args: protocol.List{math.NaN()}})
	for range 2 {
		if _, err := bad.Bytes(serialize.JSON); err == nil {
			t.Error("Bytes(JSON) of NaN succeeded, want error")
		}
	}
	if _, err := bad.Bytes(serialize.MessagePack); err != nil {
		t.Errorf("Bytes(MessagePack) of NaN: %v", err)
	}
}

func TestSplitJSONBatch(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{in: "[1]\x1e", want: []string{"[1]"}},
		{in: "[1]\x1e[2,3]\x1e", want: []string{"[1]", "[2,3]"}},
		{in: "", wantErr: "empty batch"},
		{in: "[1]", wantErr: "does not end with 0x1e"},
		{in: "[1]\x1e[2]", wantErr: "does not end with 0x1e"},
		{in: "\x1e", wantErr: "empty message"},
		{in: "[1]\x1e\x1e", wantErr: "empty message"},
	}
	for _, tt := range tests {
		got, err := serialize.SplitJSONBatch([]byte(tt.in))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, protocol.ErrMalformed) {
				t.Errorf("SplitJSONBatch(%q) error = %v, want %q wrapping ErrMalformed", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("SplitJSONBatch(%q) error: %v", tt.in, err)
			continue
		}
		var gs []string
		for _, b := range got {
			gs = append(gs, string(b))
		}
		if diff := cmp.Diff(tt.want, gs); diff != "" {
			t.Errorf("SplitJSONBatch(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
	// AppendJSONBatch builds what SplitJSONBatch takes apart.
	var batch []byte
	var want []string
	for _, tt := range messages() {
		b, err := serialize.JSON.Codec().Encode(nil, tt.msg)
		if err != nil {
			t.Fatal(err)
		}
		batch = serialize.AppendJSONBatch(batch, b)
		want = append(want, string(b))
	}
	parts, err := serialize.SplitJSONBatch(batch)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range parts {
		got = append(got, string(p))
		if _, err := serialize.JSON.Codec().Decode(p); err != nil {
			t.Errorf("Decode(%q): %v", p, err)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SplitJSONBatch(AppendJSONBatch(...)) mismatch (-want +got):\n%s", diff)
	}
}

// TestDecodeDoesNotAlias checks that decoded messages own their memory.
func TestDecodeDoesNotAlias(t *testing.T) {
	for _, s := range serializers {
		for _, tt := range messages() {
			b, err := s.Codec().Encode(nil, tt.msg)
			if err != nil {
				t.Fatal(err)
			}
			m, err := s.Codec().Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			for i := range b {
				b[i] = 0xa5
			}
			if diff := cmp.Diff(tt.msg, m, cmpOpts); diff != "" {
				t.Errorf("%v %s: message changed after the input buffer was overwritten (-want +got):\n%s", s, tt.name, diff)
			}
		}
	}
}

// TestAllocs pins the allocation budget of the issue: fewer than 5 per
// encode or decode of a small CALL.
func TestAllocs(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("allocation counts differ under -cover and -race")
	}
	call := &protocol.Call{Request: 123, Options: protocol.Dict{}, Procedure: "com.example.add", Args: protocol.List{1, 2}}
	for _, s := range serializers {
		c := s.Codec()
		buf, err := c.Encode(nil, call)
		if err != nil {
			t.Fatal(err)
		}
		enc := testing.AllocsPerRun(100, func() { buf, _ = c.Encode(buf[:0], call) })
		dec := testing.AllocsPerRun(100, func() { _, _ = c.Decode(buf) })
		t.Logf("%v: %.0f allocs/encode, %.0f allocs/decode", s, enc, dec)
		if enc >= 5 || dec >= 5 {
			t.Errorf("%v: %.0f allocs per encode, %.0f per decode of a small CALL; want < 5", s, enc, dec)
		}
	}
}

// TestDepthLimit checks that encoders and decoders agree on the nesting
// limit: the deepest payload one accepts, the other accepts too.
func TestDepthLimit(t *testing.T) {
	nest := func(levels int) any {
		v := any("x")
		for range levels {
			v = []any{v}
		}
		return v
	}
	// The message list is level 1 and Args level 2, so Args can hold 98
	// more levels of lists.
	ok := &protocol.Call{Request: 1, Procedure: "p", Args: protocol.List{nest(98)}}
	tooDeep := &protocol.Call{Request: 1, Procedure: "p", Args: protocol.List{nest(99)}}
	for _, s := range serializers {
		b, err := s.Codec().Encode(nil, ok)
		if err != nil {
			t.Fatalf("%v: Encode(98 levels): %v", s, err)
		}
		if _, err := s.Codec().Decode(b); err != nil {
			t.Errorf("%v: Decode(Encode(98 levels)): %v", s, err)
		}
		if _, err := s.Codec().Encode(nil, tooDeep); err == nil {
			t.Errorf("%v: Encode(99 levels) succeeded, want error", s)
		}
	}
	// Hand-made inputs: a CALL whose Args holds a string nested in n lists.
	input := func(s serialize.Serializer, n int) []byte {
		switch s {
		case serialize.JSON:
			return []byte(`[48,1,{},"p",[` + strings.Repeat("[", n) + `"x"` + strings.Repeat("]", n) + `]]`)
		case serialize.MessagePack:
			return cat(unhex("95 30 01 80 a1 70 91"), repeat("\x91", n), unhex("a1 78"))
		}
		return cat(unhex("85 18 30 01 a0 61 70 81"), repeat("\x81", n), unhex("61 78"))
	}
	for _, s := range serializers {
		if _, err := s.Codec().Decode(input(s, 98)); err != nil {
			t.Errorf("%v: Decode(98 levels): %v", s, err)
		}
		if _, err := s.Codec().Decode(input(s, 99)); err == nil || !strings.Contains(err.Error(), "nesting deeper") {
			t.Errorf("%v: Decode(99 levels) error = %v, want nesting error", s, err)
		}
	}
}
