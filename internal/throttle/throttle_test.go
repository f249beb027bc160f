package throttle

import (
	"net/netip"
	"testing"
	"time"
)

// TestTableBounded: a table never holds more than max entries,
// evicting the one that failed longest ago, and forgets entries whose
// window has passed.
func TestTableBounded(t *testing.T) {
	var tab Table[netip.Addr]
	tab.Init(2, time.Hour, 100)
	now := time.Now()
	first := netip.AddrFrom4([4]byte{10, 0, 0, 1})
	tab.Fail(first, now)
	tab.Fail(first, now) // throttled
	if tab.Allow(first, now) {
		t.Fatalf("%v allowed after 2 failures of 2", first)
	}
	for i := range 10_000 {
		a := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		tab.Fail(a, now)
		if n := tab.Len(); n > 100 {
			t.Fatalf("table holds %d entries, want at most 100", n)
		}
	}
	if !tab.Allow(first, now) {
		t.Errorf("%v still throttled after 10,000 newer entries: it should have been evicted", first)
	}

	var short Table[uint64]
	short.Init(1, 50*time.Millisecond, 100)
	for k := range uint64(50) {
		short.Fail(k, time.Now())
	}
	deadline := time.Now().Add(10 * time.Second)
	for short.Allow(1, time.Now()); short.Len() > 0; short.Allow(1, time.Now()) {
		if time.Now().After(deadline) {
			t.Fatalf("%d entries left long after their window", short.Len())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestTableBudget: a key is throttled after burst failures, reported
// once, gets one failure back every window/burst, and Forget refills it;
// other keys are not affected; a table without a limit allows all.
func TestTableBudget(t *testing.T) {
	var tab Table[string]
	tab.Init(3, time.Minute, 10)
	now := time.Now()
	var starts int
	for i := range 3 {
		if !tab.Allow("a", now) {
			t.Fatalf("a refused after %d failures of 3", i)
		}
		if tab.Fail("a", now) {
			starts++
		}
	}
	if tab.Allow("a", now) {
		t.Fatal("a allowed after 3 failures of 3")
	}
	tab.Fail("a", now) // counted again: still one start
	if starts != 1 {
		t.Errorf("the start of a's throttling was reported %d times, want 1", starts)
	}
	if !tab.Allow("b", now) {
		t.Error("b refused for a's failures")
	}
	if got, want := tab.Wait(), 20*time.Second; got != want {
		t.Errorf("Wait() = %v, want %v", got, want)
	}
	if !tab.Allow("a", now.Add(tab.Wait())) {
		t.Error("a still refused a Wait after its last failure")
	}
	tab.Forget("a")
	if !tab.Allow("a", now) {
		t.Error("a refused after Forget")
	}

	var off Table[string]
	off.Init(-1, time.Minute, 10)
	for range 100 {
		off.Fail("a", now)
	}
	if !off.Allow("a", now) || off.Len() != 0 || off.Wait() != 0 {
		t.Errorf("a table without a limit: Allow %v, Len %d, Wait %v; want true, 0, 0", off.Allow("a", now), off.Len(), off.Wait())
	}
}

func TestAddrKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::"},
		{"2001:db8:1:2:ffff::1", "2001:db8:1:2::"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
		{"fe80::1%eth0", "fe80::"},
	}
	for _, tt := range tests {
		if got := AddrKey(netip.MustParseAddr(tt.in)).String(); got != tt.want {
			t.Errorf("AddrKey(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
