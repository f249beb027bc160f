// Package throttle counts failed authentications per key (an authid, a
// client address) with a bounded table of token buckets, for the
// router's throttling of WAMP logins (router.AuthThrottle) and the HTTP
// bridge's of bearer tokens (bridge.Throttle).
//
// # Concurrency
//
// A [Table] is safe for concurrent use once [Table.Init] has returned.
package throttle

import (
	"container/list"
	"net/netip"
	"sync"
	"time"
)

// Table counts failures per key with a token bucket: a key may fail
// burst times in a row, and gets one failure back every window/burst. A
// key without a failure left is throttled until then; refused attempts
// take nothing, so the wait after the last failure is at most
// window/burst, whoever keeps knocking. An entry whose bucket is full
// again (window after its last failure) carries nothing and is dropped;
// beyond max entries the one that failed longest ago is.
//
// The zero Table is not usable: call Init first.
type Table[K comparable] struct {
	burst  float64       // failures in a row; 0: no limit (the table stays empty)
	window time.Duration // time to give back burst failures
	max    int           // most entries

	mu  sync.Mutex
	m   map[K]*list.Element // guarded by mu; values are *bucket[K]
	lru list.List           // guarded by mu; latest failure first
}

// bucket is the failure budget of one key.
type bucket[K comparable] struct {
	key       K
	tokens    float64   // failures left at last
	last      time.Time // of the last failure
	throttled bool      // tokens fell below 1 and it was reported
}

// Init sets the table up: burst failures in a row (zero or negative
// means no limit: every key is always allowed), given back evenly over
// window, for at most entries keys (at least 1).
func (t *Table[K]) Init(burst int, window time.Duration, entries int) {
	t.burst, t.window, t.max = float64(burst), window, max(entries, 1)
	if burst < 0 {
		t.burst = 0
	}
	t.m = make(map[K]*list.Element)
}

// Burst returns the failures a key may have in a row; 0 means no limit.
func (t *Table[K]) Burst() int { return int(t.burst) }

// Window returns the time in which a key gets Burst failures back.
func (t *Table[K]) Window() time.Duration { return t.window }

// Wait returns the time a key gets one failure back in: window/burst,
// the longest a throttled key waits after its last failure. It is 0 when
// there is no limit.
func (t *Table[K]) Wait() time.Duration {
	if t.burst <= 0 {
		return 0
	}
	return time.Duration(float64(t.window) / t.burst)
}

// tokensLocked returns the failures b has left at now. t.mu must be held.
func (t *Table[K]) tokensLocked(b *bucket[K], now time.Time) float64 {
	return min(t.burst, b.tokens+float64(now.Sub(b.last))/float64(t.window)*t.burst)
}

// Allow reports whether k has a failure left at now.
func (t *Table[K]) Allow(k K, now time.Time) bool {
	if t.burst <= 0 {
		return true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expireLocked(now)
	e := t.m[k]
	return e == nil || t.tokensLocked(e.Value.(*bucket[K]), now) >= 1
}

// Fail takes a failure from k at now; it reports whether k has just run
// out of them (the start of its throttling, to be logged once).
func (t *Table[K]) Fail(k K, now time.Time) bool {
	if t.burst <= 0 {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expireLocked(now)
	var b *bucket[K]
	if e := t.m[k]; e != nil {
		b = e.Value.(*bucket[K])
		b.tokens = t.tokensLocked(b, now)
		if b.tokens >= 1 {
			b.throttled = false
		}
		t.lru.MoveToFront(e)
	} else {
		for len(t.m) >= t.max {
			t.removeLocked(t.lru.Back())
		}
		b = &bucket[K]{key: k, tokens: t.burst}
		t.m[k] = t.lru.PushFront(b)
	}
	// Requests that were let in together may fail together: never below
	// zero, so that the wait stays bounded.
	b.tokens, b.last = max(b.tokens-1, 0), now
	if b.tokens < 1 && !b.throttled {
		b.throttled = true
		return true
	}
	return false
}

// Forget drops k's entry: its budget is full again.
func (t *Table[K]) Forget(k K) {
	if t.burst <= 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.m[k]; e != nil {
		t.removeLocked(e)
	}
}

// Len returns the number of entries.
func (t *Table[K]) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// expireLocked drops the entries whose bucket is full again. t.mu must
// be held.
func (t *Table[K]) expireLocked(now time.Time) {
	for e := t.lru.Back(); e != nil && now.Sub(e.Value.(*bucket[K]).last) >= t.window; e = t.lru.Back() {
		t.removeLocked(e)
	}
}

// removeLocked drops e. t.mu must be held.
func (t *Table[K]) removeLocked(e *list.Element) {
	delete(t.m, e.Value.(*bucket[K]).key)
	t.lru.Remove(e)
}

// AddrKey returns the key under which the failures of a client at a are
// counted: its IP address without zone, an IPv4-mapped IPv6 address as
// IPv4, and for IPv6 its /64 prefix (the smallest block a network is
// usually given, so that an attacker does not get 2^64 addresses).
func AddrKey(a netip.Addr) netip.Addr {
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		a = p.Addr()
	}
	return a
}
