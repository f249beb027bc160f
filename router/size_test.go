package router

import (
	"testing"

	"github.com/wampkit/wampkit/protocol"
)

func TestPayloadSize(t *testing.T) {
	type point struct {
		X, Y int
		Name string
	}
	type node struct {
		Next, Other *node
		Data        []byte
	}
	cyc := &node{Data: make([]byte, 100)}
	cyc.Next, cyc.Other = cyc, cyc // a walk without a bound would not end
	deep := any(nil)
	for range 10_000 {
		deep = []any{deep}
	}
	tests := []struct {
		name     string
		args     protocol.List
		kwargs   protocol.Dict
		min, max int
	}{
		{"empty", nil, nil, 0, 0},
		{"bytes", protocol.List{make([]byte, 1<<20)}, nil, 1 << 20, 1<<20 + 100},
		{"string", protocol.List{string(make([]byte, 1000))}, nil, 1000, 1100},
		{"ints", protocol.List{[]any{1, 2, 3, 4}}, nil, 4 * 24, 200},
		{"dict", nil, protocol.Dict{"key": "value", "n": 1.5}, 2 * 40, 250},
		{"struct", protocol.List{point{1, 2, "abcdef"}}, nil, 30, 100},
		{"typed slice", protocol.List{make([]int64, 1000)}, nil, 8000, 8100},
		{"map", protocol.List{map[string]int{"a": 1, "b": 2}}, nil, 50, 300},
		{"cycle", protocol.List{cyc}, nil, 100, 1 << 30},
		{"deep", protocol.List{deep}, nil, 128 * 40, 10_000 * 100},
	}
	for _, tt := range tests {
		got := payloadSize(tt.args, tt.kwargs)
		if got < tt.min || got > tt.max {
			t.Errorf("payloadSize(%s) = %d, want %d..%d", tt.name, got, tt.min, tt.max)
		}
	}
}
