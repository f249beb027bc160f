package client_test

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

type base struct {
	Trace string `wamp:"trace,omitempty"`
}

// move uses every kind of wamp tag.
type move struct {
	From   string         `wamp:",arg"`
	To     string         `wamp:"to,arg"`
	Speed  float64        `wamp:"speed"`
	Note   string         `wamp:",omitempty"`
	Points []point        `json:"points"`
	Origin *point         `wamp:"origin,omitempty"`
	When   time.Time      `wamp:"when,omitempty"`
	Rest   []int          `wamp:",args"`
	Extra  map[string]any `wamp:",kwargs"`
	Debug  bool           `wamp:"-"`
	Hidden string         `json:"-"`
	base
	secret int // unexported: not part of a payload
}

func TestEncode(t *testing.T) {
	when := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		in         any
		wantArgs   protocol.List
		wantKwargs protocol.Dict
	}{
		{"nil", nil, nil, nil},
		{"scalar", 7, protocol.List{int64(7)}, nil},
		{"named scalar", celsius(1.5), protocol.List{1.5}, nil},
		{"uint above MaxInt64", uint64(1 << 63), protocol.List{uint64(1 << 63)}, nil},
		{"slice is one argument", []string{"a"}, protocol.List{[]string{"a"}}, nil},
		{"time is one argument", when, protocol.List{when}, nil},
		{"empty struct", struct{}{}, nil, nil},
		{"nil pointer", (*move)(nil), nil, nil},
		{"full", &move{
			From: "a", To: "b", Speed: 2, Note: "n", Points: []point{{1, 2}}, Origin: &point{3, 4}, When: when,
			Rest: []int{5, 6}, Extra: map[string]any{"x": "y", "speed": "ignored"}, Debug: true, Hidden: "h",
			base: base{Trace: "t"}, secret: 1,
		},
			protocol.List{"a", "b", int64(5), int64(6)},
			protocol.Dict{"speed": 2.0, "Note": "n", "points": []point{{1, 2}}, "origin": &point{3, 4},
				"when": "2026-12-04T00:00:00Z", "x": "y", "trace": "t"}},
		{"omitted", move{From: "a", To: "b"}, protocol.List{"a", "b"}, protocol.Dict{"speed": 0.0, "points": nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args, kwargs := client.Encode(tt.in)
			if diff := cmp.Diff(tt.wantArgs, args); diff != "" {
				t.Errorf("Encode(%#v) args mismatch (-want +got):\n%s", tt.in, diff)
			}
			if diff := cmp.Diff(tt.wantKwargs, kwargs); diff != "" {
				t.Errorf("Encode(%#v) kwargs mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// TestDecodeEveryLink encodes payloads, sends them through each
// serializer as a network link would (and as they are, as the in-process
// link does), and decodes them: the result is the same on every link.
func TestDecodeEveryLink(t *testing.T) {
	when := time.Date(2026, 12, 4, 10, 30, 0, 0, time.UTC)
	full := move{
		From: "a", To: "b", Speed: 2.5, Note: "n", Points: []point{{1, 2}, {3, 0}}, Origin: &point{X: 5},
		When: when, Rest: []int{7, 8}, Extra: map[string]any{"x": "y"}, base: base{Trace: "t"},
	}
	tests := []struct {
		name string
		in   any
		out  func() any // a new pointer to decode into
	}{
		{"struct", full, func() any { return new(move) }},
		{"pointer to struct", &full, func() any { return new(*move) }},
		{"int", 42, func() any { return new(int) }},
		{"bytes", []byte{0, 1, 2}, func() any { return new([]byte) }},
		{"points", []point{{1, 2}}, func() any { return new([]point) }},
		{"map", map[string]int{"a": 1}, func() any { return new(map[string]int) }},
	}
	type link struct {
		name string
		send func(args protocol.List, kwargs protocol.Dict) (protocol.List, protocol.Dict)
	}
	links := []link{{"local", func(a protocol.List, k protocol.Dict) (protocol.List, protocol.Dict) { return a, k }}}
	for _, s := range []serialize.Serializer{serialize.JSON, serialize.MessagePack, serialize.CBOR} {
		links = append(links, link{s.String(), func(a protocol.List, k protocol.Dict) (protocol.List, protocol.Dict) {
			codec := s.Codec()
			if k != nil && a == nil {
				a = protocol.List{}
			}
			buf, err := codec.Encode(nil, &protocol.Call{Request: 1, Options: protocol.Dict{}, Procedure: "p", Args: a, Kwargs: k})
			if err != nil {
				t.Fatalf("%v Encode: %v", s, err)
			}
			m, err := codec.Decode(buf)
			if err != nil {
				t.Fatalf("%v Decode: %v", s, err)
			}
			c := m.(*protocol.Call)
			return c.Args, c.Kwargs
		}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args, kwargs := client.Encode(tt.in)
			var want any
			for _, l := range links {
				got := tt.out()
				a, k := l.send(args, kwargs)
				if err := client.Decode(a, k, got); err != nil {
					t.Fatalf("%s: Decode: %v", l.name, err)
				}
				if want == nil {
					want = got
					continue
				}
				if diff := cmp.Diff(want, got, cmp.AllowUnexported(move{})); diff != "" {
					t.Errorf("%s decodes differently from local (-local +%s):\n%s", l.name, l.name, diff)
				}
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	type add struct {
		A int `wamp:",arg"`
		B int `wamp:",arg"`
		C int `wamp:",arg,omitempty"`
		K int `wamp:"k"`
	}
	tests := []struct {
		name   string
		args   protocol.List
		kwargs protocol.Dict
		out    any
		want   client.PayloadError
	}{
		{"wrong type", protocol.List{int64(1), "two"}, nil, new(add),
			client.PayloadError{Path: "args[1]", Field: "client_test.add.B", Want: "int", Got: "string"}},
		{"missing", protocol.List{int64(1)}, nil, new(add),
			client.PayloadError{Path: "args[1]", Field: "client_test.add.B", Want: "int", Got: "nothing"}},
		{"too many", protocol.List{1, 2, 3, 4}, nil, new(add),
			client.PayloadError{Path: "args", Want: "at most 3 positional arguments", Got: "4"}},
		{"keyword", protocol.List{1, 2}, protocol.Dict{"k": 1.5}, new(add),
			client.PayloadError{Path: `kwargs["k"]`, Field: "client_test.add.K", Want: "int", Got: "1.5 (not an integer)"}},
		{"nested", nil, protocol.Dict{"points": []any{map[string]any{"y": "no"}}}, new(move),
			client.PayloadError{Path: `args[0]`, Field: "client_test.move.From", Want: "string", Got: "nothing"}},
		{"nested field", protocol.List{"a", "b"}, protocol.Dict{"points": []any{map[string]any{"y": "no"}}}, new(move),
			client.PayloadError{Path: `kwargs["points"][0]["y"]`, Field: "client_test.point.Y", Want: "int", Got: "string"}},
		{"rest", protocol.List{"a", "b", 1, "x"}, nil, new(move),
			client.PayloadError{Path: "args[3]", Field: "client_test.move.Rest", Want: "int", Got: "string"}},
		{"single missing", nil, nil, new(int),
			client.PayloadError{Path: "args[0]", Want: "int", Got: "nothing"}},
		{"single too many", protocol.List{1, 2}, nil, new(int),
			client.PayloadError{Path: "args", Want: "1 positional argument", Got: "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := client.Decode(tt.args, tt.kwargs, tt.out)
			var perr *client.PayloadError
			if !errors.As(err, &perr) {
				t.Fatalf("Decode(%v, %v) = %v, want a *client.PayloadError", tt.args, tt.kwargs, err)
			}
			if diff := cmp.Diff(tt.want, *perr); diff != "" {
				t.Errorf("PayloadError mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if err := client.Decode(nil, nil, add{}); err == nil {
		t.Errorf("Decode into a non-pointer succeeded")
	}
}

func TestDecodeOptional(t *testing.T) {
	type opt struct {
		A int `wamp:",arg"`
		B int `wamp:",arg,omitempty"`
	}
	var o opt
	if err := client.Decode(protocol.List{int64(1)}, protocol.Dict{"unknown": true}, &o); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if o != (opt{A: 1}) {
		t.Errorf("Decode = %+v, want {A:1}", o)
	}
	var a any
	if err := client.Decode(nil, nil, &a); err != nil || a != nil {
		t.Errorf("Decode of nothing into any = %v, %v; want nil, nil", a, err)
	}
}

func TestEncodeBadTags(t *testing.T) {
	type bad struct {
		A []int `wamp:",args"`
		B []int `wamp:",args"`
	}
	defer func() {
		if recover() == nil {
			t.Errorf("Encode of a struct with two args fields did not panic")
		}
	}()
	client.Encode(bad{})
}

// FuzzDecode decodes CALLs from fuzzed MessagePack and reads their
// payloads into typed values: nothing may panic.
func FuzzDecode(f *testing.F) {
	codec := serialize.MessagePack.Codec()
	for _, in := range []any{
		move{From: "a", To: "b", Points: []point{{1, 2}}, Rest: []int{1}, Extra: map[string]any{"x": 1}},
		[]any{1, "two", []byte{3}, map[string]any{"x": []any{1.5}}},
		42,
	} {
		args, kwargs := client.Encode(in)
		if kwargs != nil && args == nil {
			args = protocol.List{}
		}
		buf, err := codec.Encode(nil, &protocol.Call{Request: 1, Options: protocol.Dict{}, Procedure: "p", Args: args, Kwargs: kwargs})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(buf)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := codec.Decode(data)
		if err != nil {
			return
		}
		c, ok := m.(*protocol.Call)
		if !ok {
			return
		}
		_ = client.Decode(c.Args, c.Kwargs, new(move))
		_ = client.Decode(c.Args, c.Kwargs, new([]point))
		_ = client.Decode(c.Args, c.Kwargs, new(map[string][]int))
		for _, v := range c.Args {
			_, _ = client.Convert[[2]uint8](v)
			_, _ = client.Convert[time.Time](v)
			_, _ = client.Convert[*point](v)
		}
	})
}

type flatInner struct {
	Z int8 `wamp:"z"`
}

// flatStruct has a flat layout: basic kinds only, one embedded struct.
type flatStruct struct {
	A int     `wamp:",arg"`
	B string  `wamp:",arg"`
	C float32 `wamp:",arg,omitempty"`
	D uint16  `wamp:"d"`
	E bool    `wamp:"e,omitempty"`
	F celsius `wamp:"f"`
	flatInner
}

// TestFlatLayoutMatchesDecode checks that the flat path of the typed API
// decodes and fails exactly as Decode does.
func TestFlatLayoutMatchesDecode(t *testing.T) {
	if !client.HasFlatLayout(flatStruct{}) || !client.HasFlatLayout(0) || client.HasFlatLayout(move{}) || client.HasFlatLayout(time.Time{}) {
		t.Fatal("flat layouts are not what this test expects")
	}
	payloads := []struct {
		args   protocol.List
		kwargs protocol.Dict
	}{
		{protocol.List{int64(1), "b"}, nil},
		{protocol.List{1, "b", 2.5}, protocol.Dict{"d": uint64(7), "e": true, "f": int64(3), "z": -5.0}},
		{protocol.List{1.5, "b"}, nil},
		{protocol.List{1, 2}, nil},
		{protocol.List{1}, nil},
		{protocol.List{1, "b", 1e300}, nil},
		{protocol.List{1, "b", "c", "d"}, nil},
		{protocol.List{1, "b"}, protocol.Dict{"d": int64(-1)}},
		{protocol.List{1, "b"}, protocol.Dict{"d": int64(70000)}},
		{protocol.List{1, "b"}, protocol.Dict{"e": "yes"}},
		{protocol.List{1, "b"}, protocol.Dict{"z": int64(128)}},
		{protocol.List{nil, nil, nil}, protocol.Dict{"e": nil}},
		{protocol.List{uint64(math.MaxUint64), "b"}, nil},
		{protocol.List{protocol.URI("u")}, nil},
		{nil, nil},
	}
	for _, p := range payloads {
		var want flatStruct
		wantErr := client.Decode(p.args, p.kwargs, &want)
		got, gotErr := client.DecodeTyped[flatStruct](p.args, p.kwargs)
		if diff := cmp.Diff(fmt.Sprint(wantErr), fmt.Sprint(gotErr)); diff != "" {
			t.Errorf("flatStruct %v %v: error mismatch (-Decode +flat):\n%s", p.args, p.kwargs, diff)
		}
		if wantErr == nil {
			if diff := cmp.Diff(want, got, cmp.AllowUnexported(flatStruct{})); diff != "" {
				t.Errorf("flatStruct %v %v: mismatch (-Decode +flat):\n%s", p.args, p.kwargs, diff)
			}
		}
		for _, check := range []func() (any, any, error, error){
			func() (any, any, error, error) {
				var w int8
				we := client.Decode(p.args, p.kwargs, &w)
				g, ge := client.DecodeTyped[int8](p.args, p.kwargs)
				return w, g, we, ge
			},
			func() (any, any, error, error) {
				var w string
				we := client.Decode(p.args, p.kwargs, &w)
				g, ge := client.DecodeTyped[string](p.args, p.kwargs)
				return w, g, we, ge
			},
			func() (any, any, error, error) {
				var w uint
				we := client.Decode(p.args, p.kwargs, &w)
				g, ge := client.DecodeTyped[uint](p.args, p.kwargs)
				return w, g, we, ge
			},
		} {
			w, g, we, ge := check()
			if fmt.Sprint(we) != fmt.Sprint(ge) || (we == nil && w != g) {
				t.Errorf("%T from %v: Decode = %v, %v; flat = %v, %v", w, p.args, w, we, g, ge)
			}
		}
	}
	in := flatStruct{A: 1, B: "b", D: 3, F: 2.5, flatInner: flatInner{Z: -1}}
	wa, wk := client.Encode(in)
	ga, gk := client.EncodeTyped(in)
	if diff := cmp.Diff(wa, ga); diff != "" {
		t.Errorf("Encode args mismatch (-Encode +flat):\n%s", diff)
	}
	if diff := cmp.Diff(wk, gk); diff != "" {
		t.Errorf("Encode kwargs mismatch (-Encode +flat):\n%s", diff)
	}
}

// FuzzFlatLayout feeds fuzzed MessagePack payloads to the flat path and
// to Decode: both must agree, and neither may panic.
func FuzzFlatLayout(f *testing.F) {
	codec := serialize.MessagePack.Codec()
	for _, in := range []any{flatStruct{A: 1, B: "b", C: 1.5, D: 2, E: true, F: 3}, -7, "s"} {
		args, kwargs := client.Encode(in)
		if args == nil {
			args = protocol.List{}
		}
		buf, err := codec.Encode(nil, &protocol.Call{Request: 1, Options: protocol.Dict{}, Procedure: "p", Args: args, Kwargs: kwargs})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(buf)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := codec.Decode(data)
		if err != nil {
			return
		}
		c, ok := m.(*protocol.Call)
		if !ok {
			return
		}
		var want flatStruct
		wantErr := client.Decode(c.Args, c.Kwargs, &want)
		got, gotErr := client.DecodeTyped[flatStruct](c.Args, c.Kwargs)
		if fmt.Sprint(wantErr) != fmt.Sprint(gotErr) {
			t.Fatalf("errors differ: Decode %v, flat %v", wantErr, gotErr)
		}
		if wantErr == nil && !cmp.Equal(want, got, cmp.AllowUnexported(flatStruct{}), cmpopts.EquateNaNs()) {
			t.Fatalf("values differ: Decode %+v, flat %+v", want, got)
		}
	})
}
