package bridge

import (
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/wampkit/wampkit/internal/throttle"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// Defaults of the [Throttle] fields, documented there. They are those of
// the router's per-address limit ([router.AuthThrottle]).
const (
	DefaultThrottleFailures   = 20
	DefaultThrottleWindow     = time.Minute
	DefaultThrottleMaxEntries = 100_000
)

// Throttle configures how the bridge slows down the guessing of bearer
// tokens, as [router.AuthThrottle] does for WAMP logins (see
// [Config].Throttle). The zero value is a safe default.
//
// A failure is a request whose Authorization header carries a bearer
// token that no principal has (a request without one guesses nothing
// and is not counted). It is counted against the client's address: the
// IP address of the connection (http.Request.RemoteAddr) without the
// port, for IPv6 its /64 prefix. Each address has a budget of Failures
// per Window that refills evenly. A request from an address with no
// failure left is answered 429 Too Many Requests, error
// wamp.error.authentication_denied with [router.ThrottledMessage] and a
// Retry-After header, without looking at its token, even a right one
// (or the answer would tell a guess that hit). Refused requests take
// nothing from the budget, so an address waits at most Window/Failures
// (3s by default) after its last failure.
//
// Behind a reverse proxy every client has the proxy's address
// (X-Forwarded-For is not trusted): raise Failures, or make it negative.
// The table of addresses is bounded by MaxEntries (beyond, the address
// that failed longest ago is forgotten); an address is dropped once its
// budget is full again.
type Throttle struct {
	// Failures is how many requests with a wrong token one client
	// address may make per Window. Zero means DefaultThrottleFailures
	// (20); negative means no limit.
	Failures int
	// Window is the period of Failures. Zero or negative means
	// DefaultThrottleWindow (1 minute).
	Window time.Duration
	// MaxEntries is the most addresses whose failures the bridge
	// remembers. Zero or negative means DefaultThrottleMaxEntries
	// (100,000).
	MaxEntries int
}

// init sets tab up for th, with the defaults.
func (th Throttle) init(tab *throttle.Table[netip.Addr]) {
	failures := th.Failures
	if failures == 0 {
		failures = DefaultThrottleFailures
	}
	window := th.Window
	if window <= 0 {
		window = DefaultThrottleWindow
	}
	entries := th.MaxEntries
	if entries <= 0 {
		entries = DefaultThrottleMaxEntries
	}
	tab.Init(failures, window, entries) // negative failures: no limit
}

// clientAddr returns the address r's failures are counted against, if
// its RemoteAddr has one.
func clientAddr(r *http.Request) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	return throttle.AddrKey(ap.Addr()), true
}

// throttled reports whether r comes from an address that has no failure
// left, and if so answers it 429.
func (b *Bridge) throttled(w http.ResponseWriter, r *http.Request) bool {
	a, ok := clientAddr(r)
	if !ok || b.fails.Allow(a, time.Now()) {
		return false
	}
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(b.fails.Wait().Seconds()))))
	writeError(w, http.StatusTooManyRequests, protocol.ErrAuthenticationDenied, router.ThrottledMessage, nil, nil)
	return true
}

// failed counts r's wrong token against its address.
func (b *Bridge) failed(r *http.Request) {
	a, ok := clientAddr(r)
	if ok && b.fails.Fail(a, time.Now()) {
		b.cfg.Logger.Warn("bridge: throttling wrong bearer tokens from an address", "address", a.String(),
			"failures", b.fails.Burst(), "window", b.fails.Window())
	}
}
