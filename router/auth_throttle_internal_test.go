package router

import (
	"testing"

	"github.com/wampkit/wampkit/protocol"
)

func TestClientAddr(t *testing.T) {
	tests := []struct {
		peer string
		want string // "" means none
	}{
		{"tcp4:192.0.2.1:5555", "192.0.2.1"},
		{"tcp4:127.0.0.1:1", "127.0.0.1"},
		{"tcp6:[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::"},
		{"tcp6:[2001:db8:1:2:ffff::1]:443", "2001:db8:1:2::"},
		{"tcp6:[::ffff:192.0.2.7]:80", "192.0.2.7"},
		{"tcp6:[fe80::1%eth0]:80", "fe80::"},
		{"unix:/run/wampd.sock", ""},
		{"", ""},
		{"tcp4:not an address", ""},
	}
	for _, tt := range tests {
		a, ok := clientAddr(protocol.Dict{"peer": tt.peer})
		got := ""
		if ok {
			got = a.String()
		}
		if got != tt.want {
			t.Errorf("clientAddr(%q) = %q, want %q", tt.peer, got, tt.want)
		}
	}
	if _, ok := clientAddr(nil); ok {
		t.Errorf("clientAddr(nil) has an address")
	}
}
