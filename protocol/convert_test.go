package protocol

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestToInt64(t *testing.T) {
	tests := []struct {
		v    any
		want int64
		ok   bool
	}{
		{int(-3), -3, true},
		{int8(-128), -128, true},
		{int16(300), 300, true},
		{int32(-70000), -70000, true},
		{int64(math.MinInt64), math.MinInt64, true},
		{int64(math.MaxInt64), math.MaxInt64, true},
		{uint(5), 5, true},
		{uint8(255), 255, true},
		{uint16(65535), 65535, true},
		{uint32(math.MaxUint32), math.MaxUint32, true},
		{uint64(math.MaxInt64), math.MaxInt64, true},
		{uint64(math.MaxInt64) + 1, 0, false},
		{uint64(math.MaxUint64), 0, false},
		{float64(42), 42, true},
		{float64(-42), -42, true},
		{float64(1 << 53), 1 << 53, true},
		{float64(1 << 62), 1 << 62, true},
		{-float64(1 << 63), math.MinInt64, true},
		{float64(1 << 63), 0, false},
		{math.Inf(1), 0, false},
		{math.Inf(-1), 0, false},
		{math.NaN(), 0, false},
		{0.5, 0, false},
		{math.Copysign(0, -1), 0, true},
		{float32(16), 16, true},
		{float32(1.25), 0, false},
		{ID(9), 9, true},
		{ID(math.MaxUint64), 0, false},
		{MessageType(48), 48, true},
		{true, 0, false},
		{false, 0, false},
		{"1", 0, false},
		{nil, 0, false},
		{[]any{1}, 0, false},
		{struct{}{}, 0, false},
	}
	for _, tt := range tests {
		got, ok := ToInt64(tt.v)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ToInt64(%T %v) = %d, %v, want %d, %v", tt.v, tt.v, got, ok, tt.want, tt.ok)
		}
	}
}

func TestToID(t *testing.T) {
	tests := []struct {
		v    any
		want ID
		ok   bool
	}{
		{1, 1, true},
		{uint64(MaxID), MaxID, true},
		{float64(MaxID), MaxID, true},
		{uint64(MaxID) + 1, 0, false},
		{float64(MaxID) * 2, 0, false},
		{0, 0, false},
		{-1, 0, false},
		{1.5, 0, false},
		{true, 0, false},
		{"7", 0, false},
	}
	for _, tt := range tests {
		got, ok := ToID(tt.v)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ToID(%T %v) = %d, %v, want %d, %v", tt.v, tt.v, got, ok, tt.want, tt.ok)
		}
	}
}

func TestIDValidNext(t *testing.T) {
	for _, tt := range []struct {
		id    ID
		valid bool
		next  ID
	}{
		{0, false, 1}, {1, true, 2}, {MaxID - 1, true, MaxID}, {MaxID, true, 1}, {MaxID + 1, false, 1},
	} {
		if got := tt.id.Valid(); got != tt.valid {
			t.Errorf("ID(%d).Valid() = %v, want %v", tt.id, got, tt.valid)
		}
		if got := NextID(tt.id); got != tt.next {
			t.Errorf("NextID(%d) = %d, want %d", tt.id, got, tt.next)
		}
	}
}

func TestDictAccessors(t *testing.T) {
	d := Dict{
		"b":      true,
		"bf":     false,
		"bs":     "true",
		"s":      "text",
		"u":      URI("com.a"),
		"i":      int64(-4),
		"f":      float64(12),
		"fx":     12.5,
		"id":     uint64(77),
		"id0":    0,
		"d":      map[string]any{"k": 1},
		"dd":     Dict{"k": 2},
		"da":     map[any]any{"k": 3},
		"dbad":   map[any]any{1: 3},
		"l":      []any{1, "x"},
		"ll":     List{2},
		"nil":    nil,
		"number": 3,
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"Bool true", d.Bool("b"), true},
		{"Bool false", d.Bool("bf"), false},
		{"Bool string", d.Bool("bs"), false},
		{"Bool missing", d.Bool("x"), false},
		{"String", d.String("s"), "text"},
		{"String URI", d.String("u"), "com.a"},
		{"String int", d.String("i"), ""},
		{"String missing", d.String("x"), ""},
		{"Int", pair(d.Int("i")), pair(int64(-4), true)},
		{"Int float", pair(d.Int("f")), pair(int64(12), true)},
		{"Int fraction", pair(d.Int("fx")), pair(int64(0), false)},
		{"Int string", pair(d.Int("s")), pair(int64(0), false)},
		{"Int missing", pair(d.Int("x")), pair(int64(0), false)},
		{"ID", pair(d.ID("id")), pair(ID(77), true)},
		{"ID zero", pair(d.ID("id0")), pair(ID(0), false)},
		{"ID negative", pair(d.ID("i")), pair(ID(0), false)},
		{"ID missing", pair(d.ID("x")), pair(ID(0), false)},
		{"Dict", d.Dict("d"), Dict{"k": 1}},
		{"Dict named", d.Dict("dd"), Dict{"k": 2}},
		{"Dict any keys", d.Dict("da"), Dict{"k": 3}},
		{"Dict bad keys", d.Dict("dbad"), Dict(nil)},
		{"Dict list", d.Dict("l"), Dict(nil)},
		{"Dict missing", d.Dict("x"), Dict(nil)},
		{"List", d.List("l"), List{1, "x"}},
		{"List named", d.List("ll"), List{2}},
		{"List dict", d.List("d"), List(nil)},
		{"List nil", d.List("nil"), List(nil)},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, tt.got); diff != "" {
			t.Errorf("%s mismatch (-want +got):\n%s", tt.name, diff)
		}
	}

	// Every accessor is safe on a nil Dict.
	var n Dict
	if n.Bool("a") || n.String("a") != "" || n.Dict("a") != nil || n.List("a") != nil {
		t.Error("nil Dict accessors returned non-zero values")
	}
	if _, ok := n.Int("a"); ok {
		t.Error("nil Dict Int ok")
	}
	if _, ok := n.ID("a"); ok {
		t.Error("nil Dict ID ok")
	}
}

type okPair struct {
	V  any
	OK bool
}

func pair[T any](v T, ok bool) okPair { return okPair{v, ok} }

func TestToDict(t *testing.T) {
	tests := []struct {
		v    any
		want Dict
		ok   bool
	}{
		{Dict{"a": 1}, Dict{"a": 1}, true},
		{map[string]any{"a": 1}, Dict{"a": 1}, true},
		{map[any]any{"a": 1}, Dict{"a": 1}, true},
		{map[any]any{1: "a"}, nil, false},
		{nil, nil, false},
		{List{"a"}, nil, false},
	}
	for _, tt := range tests {
		got, ok := ToDict(tt.v)
		if diff := cmp.Diff(tt.want, got); ok != tt.ok || diff != "" {
			t.Errorf("ToDict(%T %v) = %v, %v, want %v, %v (-want +got):\n%s", tt.v, tt.v, got, ok, tt.want, tt.ok, diff)
		}
	}
}
