package router

import (
	"net/netip"
	"testing"
	"time"

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

// TestThrottleTableBounded: a table never holds more than max entries,
// evicting the one that failed longest ago, and forgets entries whose
// window has passed.
func TestThrottleTableBounded(t *testing.T) {
	var tab throttleTable[netip.Addr]
	tab.init(2, time.Hour, 100)
	now := time.Now()
	first := netip.AddrFrom4([4]byte{10, 0, 0, 1})
	tab.fail(first, now)
	tab.fail(first, now) // throttled
	if tab.allow(first, now) {
		t.Fatalf("%v allowed after 2 failures of 2", first)
	}
	for i := range 10_000 {
		a := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		tab.fail(a, now)
		if n := tab.len(); n > 100 {
			t.Fatalf("table holds %d entries, want at most 100", n)
		}
	}
	if !tab.allow(first, now) {
		t.Errorf("%v still throttled after 10,000 newer entries: it should have been evicted", first)
	}

	var short throttleTable[uint64]
	short.init(1, 50*time.Millisecond, 100)
	for k := range uint64(50) {
		short.fail(k, time.Now())
	}
	deadline := time.Now().Add(10 * time.Second)
	for short.allow(1, time.Now()); short.len() > 0; short.allow(1, time.Now()) {
		if time.Now().After(deadline) {
			t.Fatalf("%d entries left long after their window", short.len())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
