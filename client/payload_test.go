package client_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

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
			client.PayloadError{Path: `kwargs["k"]`, Field: "client_test.add.K", Want: "int", Got: "1.5 (out of range)"}},
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
