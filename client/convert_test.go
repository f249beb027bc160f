package client_test

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
)

type point struct {
	X int `json:"x"`
	Y int `json:"y,omitempty"`
}

type celsius float64

// convertCase converts in to the type of want and compares.
type convertCase struct {
	name string
	in   any
	want any
}

// convertTo runs client.Convert for the dynamic type of want.
func convertTo(want, in any) (any, error) {
	switch want.(type) {
	case int:
		return client.Convert[int](in)
	case int8:
		return client.Convert[int8](in)
	case int64:
		return client.Convert[int64](in)
	case uint8:
		return client.Convert[uint8](in)
	case uint64:
		return client.Convert[uint64](in)
	case float32:
		return client.Convert[float32](in)
	case float64:
		return client.Convert[float64](in)
	case celsius:
		return client.Convert[celsius](in)
	case bool:
		return client.Convert[bool](in)
	case string:
		return client.Convert[string](in)
	case protocol.URI:
		return client.Convert[protocol.URI](in)
	case []byte:
		return client.Convert[[]byte](in)
	case []int:
		return client.Convert[[]int](in)
	case []string:
		return client.Convert[[]string](in)
	case [2]int:
		return client.Convert[[2]int](in)
	case []any:
		return client.Convert[[]any](in)
	case protocol.List:
		return client.Convert[protocol.List](in)
	case map[string]int:
		return client.Convert[map[string]int](in)
	case map[string]any:
		return client.Convert[map[string]any](in)
	case protocol.Dict:
		return client.Convert[protocol.Dict](in)
	case point:
		return client.Convert[point](in)
	case *point:
		return client.Convert[*point](in)
	case []point:
		return client.Convert[[]point](in)
	case time.Time:
		return client.Convert[time.Time](in)
	}
	panic("convertTo: add a case for " + reflect.TypeOf(want).String())
}

// TestConvert checks that the values of one payload, as they arrive over
// the in-process link (the sender's Go values) and over a network link
// (the decoders' types), convert to the same Go values.
func TestConvert(t *testing.T) {
	when := time.Date(2026, 12, 4, 10, 30, 0, 0, time.UTC)
	tests := []convertCase{
		{"int from int", 7, 7},
		{"int from int64", int64(7), 7},
		{"int from int32", int32(-7), -7},
		{"int from uint64", uint64(7), 7},
		{"int from integral float", 7.0, 7},
		{"int from float32", float32(3), 3},
		{"int64 from uint8", uint8(200), int64(200)},
		{"int64 from 2^53 float", float64(1 << 53), int64(1 << 53)},
		{"int8 at its limit", int64(-128), int8(-128)},
		{"uint8 from int64", int64(255), uint8(255)},
		{"uint64 above MaxInt64", uint64(math.MaxUint64), uint64(math.MaxUint64)},
		{"float64 from int", 3, 3.0},
		{"float64 from float32", float32(0.5), 0.5},
		{"float32 from float64", 0.25, float32(0.25)},
		{"named float", 21.5, celsius(21.5)},
		{"bool", true, true},
		{"string", "héllo", "héllo"},
		{"string from URI", protocol.URI("com.example"), "com.example"},
		{"URI from string", "com.example", protocol.URI("com.example")},
		{"bytes", []byte{0, 1, 0xff}, []byte{0, 1, 0xff}},
		{"[]int from []any", []any{int64(1), 2.0, uint64(3)}, []int{1, 2, 3}},
		{"[]int from []int32", []int32{1, 2}, []int{1, 2}},
		{"[]string from []any", []any{"a", "b"}, []string{"a", "b"}},
		{"[]string from List", protocol.List{"a"}, []string{"a"}},
		{"array from []any", []any{int64(1), int64(2)}, [2]int{1, 2}},
		{"[]any from []string", []string{"x", "y"}, []any{"x", "y"}},
		{"[]any from List", protocol.List{"x"}, []any{"x"}},
		{"List from []any", []any{"x"}, protocol.List{"x"}},
		{"map from map[string]any", map[string]any{"a": int64(1)}, map[string]int{"a": 1}},
		{"map from map[any]any", map[any]any{"a": 1.0}, map[string]int{"a": 1}},
		{"map from map[string]int", map[string]int{"a": 1}, map[string]any{"a": 1}},
		{"map from struct", point{1, 2}, map[string]any{"x": 1, "y": 2}},
		{"map from struct, omitempty", point{X: 1}, map[string]any{"x": 1}},
		{"Dict from map[string]any", map[string]any{"k": "v"}, protocol.Dict{"k": "v"}},
		{"struct from map[string]any", map[string]any{"x": int64(1), "y": int64(2), "z": "ignored"}, point{1, 2}},
		{"struct from Dict", protocol.Dict{"x": int64(1)}, point{X: 1}},
		{"struct from map[any]any", map[any]any{"x": int64(1)}, point{X: 1}},
		{"struct from struct", point{3, 4}, point{3, 4}},
		{"struct from other struct", struct {
			X int64 `json:"x"`
			Y uint8 `json:"y"`
		}{5, 6}, point{5, 6}},
		{"struct from pointer", &point{1, 2}, point{1, 2}},
		{"pointer from map", map[string]any{"x": int64(9)}, &point{X: 9}},
		{"[]struct from []any of maps", []any{map[string]any{"x": int64(1)}, map[string]any{"y": 2.0}}, []point{{X: 1}, {Y: 2}}},
		{"time from string", when.Format(time.RFC3339Nano), when},
		{"nil to int", nil, 0},
		{"nil to slice", nil, []int(nil)},
		{"nil to pointer", nil, (*point)(nil)},
		{"nil element", []any{nil, int64(1)}, []int{0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := convertTo(tt.want, tt.in)
			if err != nil {
				t.Fatalf("Convert[%T](%#v) error: %v", tt.want, tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Convert[%T](%#v) mismatch (-want +got):\n%s", tt.want, tt.in, diff)
			}
		})
	}
}

// TestConvertPassesThrough checks that a value that already has the
// target type is not copied.
func TestConvertPassesThrough(t *testing.T) {
	b := []byte("shared")
	got, err := client.Convert[[]byte](b)
	if err != nil || &got[0] != &b[0] {
		t.Errorf("Convert[[]byte] copied the slice (err %v)", err)
	}
	m := map[string]any{"k": "v"}
	d, err := client.Convert[protocol.Dict](m)
	if err != nil {
		t.Fatal(err)
	}
	d["added"] = true
	if m["added"] != true {
		t.Errorf("Convert[protocol.Dict](map[string]any) copied the map")
	}
	l := []any{1, 2}
	pl, err := client.Convert[protocol.List](l)
	if err != nil || &pl[0] != &l[0] {
		t.Errorf("Convert[protocol.List]([]any) copied the slice (err %v)", err)
	}
	p := &point{1, 2}
	pp, err := client.Convert[*point](p)
	if err != nil || pp != p {
		t.Errorf("Convert[*point] copied the pointer (err %v)", err)
	}
}

func TestConvertErrors(t *testing.T) {
	tests := []struct {
		name string
		conv func() error
		want client.PayloadError
	}{
		{"string to int", func() error { _, err := client.Convert[int]("7"); return err },
			client.PayloadError{Want: "int", Got: "string"}},
		{"fraction to int", func() error { _, err := client.Convert[int](7.5); return err },
			client.PayloadError{Want: "int", Got: "7.5 (not an integer)"}},
		{"int8 overflow", func() error { _, err := client.Convert[int8](int64(300)); return err },
			client.PayloadError{Want: "int8", Got: "300 (out of range)"}},
		{"negative to uint", func() error { _, err := client.Convert[uint](int64(-1)); return err },
			client.PayloadError{Want: "uint", Got: "-1 (out of range)"}},
		{"uint64 to int64", func() error { _, err := client.Convert[int64](uint64(math.MaxUint64)); return err },
			client.PayloadError{Want: "int64", Got: "18446744073709551615 (out of range)"}},
		{"bool from int", func() error { _, err := client.Convert[bool](1); return err },
			client.PayloadError{Want: "bool", Got: "int"}},
		{"string from bytes", func() error { _, err := client.Convert[string]([]byte("x")); return err },
			client.PayloadError{Want: "string", Got: "[]uint8"}},
		{"element", func() error { _, err := client.Convert[[]int]([]any{int64(1), "two"}); return err },
			client.PayloadError{Path: "[1]", Want: "int", Got: "string"}},
		{"array length", func() error { _, err := client.Convert[[2]int]([]any{int64(1)}); return err },
			client.PayloadError{Want: "[2]int", Got: "1 elements"}},
		{"struct field", func() error { _, err := client.Convert[[]point]([]any{map[string]any{"x": "one"}}); return err },
			client.PayloadError{Path: `[0]["x"]`, Field: "client_test.point.X", Want: "int", Got: "string"}},
		{"map value", func() error { _, err := client.Convert[map[string]int](map[string]any{"a": true}); return err },
			client.PayloadError{Path: `["a"]`, Want: "int", Got: "bool"}},
		{"struct from list", func() error { _, err := client.Convert[point]([]any{int64(1)}); return err },
			client.PayloadError{Want: "client_test.point", Got: "[]interface {}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.conv()
			var perr *client.PayloadError
			if !errors.As(err, &perr) {
				t.Fatalf("error = %v (%T), want a *client.PayloadError", err, err)
			}
			if diff := cmp.Diff(tt.want, *perr); diff != "" {
				t.Errorf("PayloadError mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConvertCycle(t *testing.T) {
	loop := []any{nil}
	loop[0] = loop
	_, err := client.Convert[[]any](loop) // passes through: no walk
	if err != nil {
		t.Errorf("Convert[[]any] of a cycle: %v", err)
	}
	// Into a type of its own shape, the cycle is followed until the
	// nesting limit.
	type nested []nested
	_, err = client.Convert[nested](loop)
	var perr *client.PayloadError
	if !errors.As(err, &perr) || !strings.Contains(perr.Got, "nested more than") {
		t.Fatalf("Convert of a cycle = %v, want a PayloadError about nesting", err)
	}
}
