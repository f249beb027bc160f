package router

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/wampkit/wampkit/internal/throttle"
	"github.com/wampkit/wampkit/protocol"
)

// Defaults of the [AuthThrottle] fields, documented there.
const (
	defaultAuthIDFailures      = 5
	defaultAddressFailures     = 20
	defaultAuthThrottleWindow  = time.Minute
	defaultAuthThrottleEntries = 100_000
	defaultAuthLogLines        = 20
	defaultAuthLogInterval     = time.Minute
)

// ThrottledMessage is the Details.message of the ABORT
// wamp.error.authentication_denied that refuses a client whose authid
// or address has failed to authenticate too often (see [AuthThrottle]).
const ThrottledMessage = "too many failed attempts, try again later"

// AuthThrottle configures how the router slows down the guessing of
// credentials and how it logs failed authentications (see
// [Config].AuthThrottle). The zero value is a safe default.
//
// A failure is an authentication refused with
// wamp.error.authentication_denied or wamp.error.no_such_principal: a
// wrong secret or an unknown authid, not a malformed HELLO, a protocol
// violation or a timeout. Each failure is counted against the authid the
// client asked for (HELLO.Details.authid, or else its cryptosign pubkey,
// or else its TLS client certificate's fingerprint),
// per realm, and against its address: the IP address of a TCP transport
// without the port, for IPv6 its /64 prefix. In-process and Unix socket
// sessions have no address. Behind a reverse proxy every client has the
// proxy's address (X-Forwarded-For is not trusted): raise
// AddressFailures or make it negative.
//
// Each authid and address has a budget of failures that refills evenly:
// AuthIDFailures per AuthIDWindow (AddressFailures per AddressWindow). A
// HELLO whose address or authid has no failure left is answered ABORT
// wamp.error.authentication_denied [ThrottledMessage] at once, without
// running the [Authenticator]: no CHALLENGE round, even for the right
// secret. Refused attempts take nothing from the budget, so the cool-down
// after the last failure is at most AuthIDWindow/AuthIDFailures (12s by
// default), however often a client knocks meanwhile.
//
// The trade-off: whoever knows an authid can keep its owner out by
// spending a guess whenever one comes back, as with any per-account
// limit. The budget bounds that to AuthIDFailures guesses per window
// (the attacker's rate) rather than locking the account for a long
// cool-down that a few guesses would renew; the owner gets in within
// window/failures of the attack stopping, and a successful
// authentication clears the authid's budget. The per-address budget
// limits a client that tries many authids.
//
// Both tables are bounded: at most MaxEntries authids and MaxEntries
// addresses (beyond, the entry that failed longest ago is dropped), and
// an entry is dropped once its budget is full again. Authids are kept as
// keyed 64-bit hashes, so long authids cost nothing extra.
//
// Every failed authentication is logged at WARN with realm, authmethod,
// authid (cut to 128 bytes), reason, message and remote address, never a
// secret, ticket, signature or challenge; so is the start of the
// throttling of an authid or an address, once. At most LogLines such
// lines are written per LogInterval; one more line then says how many
// were left out.
type AuthThrottle struct {
	// Disabled turns throttling off. Failed authentications are still
	// logged.
	Disabled bool

	// AuthIDFailures is how many failed authentications one authid of a
	// realm may have per AuthIDWindow. Zero means 5;
	// negative means no limit per authid.
	AuthIDFailures int
	// AuthIDWindow is the period of AuthIDFailures. Zero or negative means
	// 1 minute.
	AuthIDWindow time.Duration

	// AddressFailures is how many failed authentications one client
	// address may have per AddressWindow. Zero means
	// 20; negative means no limit per address.
	AddressFailures int
	// AddressWindow is the period of AddressFailures. Zero or negative
	// means 1 minute.
	AddressWindow time.Duration

	// MaxEntries is the most authids, and separately the most addresses,
	// whose failures the router remembers. Zero or negative means
	// 100,000.
	MaxEntries int

	// LogLines is the most WARN lines about failed authentications the
	// router writes per LogInterval. Zero means 20;
	// negative means no limit.
	LogLines int
	// LogInterval is the period of LogLines. Zero or negative means
	// 1 minute.
	LogInterval time.Duration
}

// authGuard throttles and logs the failed authentications of a router
// (see [AuthThrottle]). It is safe for concurrent use; each table owns
// its lock.
type authGuard struct {
	off     bool
	seed    maphash.Seed
	authids throttle.Table[uint64]     // by authKey
	addrs   throttle.Table[netip.Addr] // by clientAddr
	log     logLimiter
	metrics *metrics // set by New once the metrics exist; nil counts nothing
}

// newAuthGuard returns the guard for cfg; zero fields get the defaults.
func newAuthGuard(cfg AuthThrottle, log *slog.Logger) *authGuard {
	window := func(d time.Duration) time.Duration {
		if d <= 0 {
			return defaultAuthThrottleWindow
		}
		return d
	}
	entries := cfg.MaxEntries
	if entries <= 0 {
		entries = defaultAuthThrottleEntries
	}
	g := &authGuard{off: cfg.Disabled, seed: maphash.MakeSeed()}
	g.authids.Init(limit(cfg.AuthIDFailures, defaultAuthIDFailures), window(cfg.AuthIDWindow), entries)
	g.addrs.Init(limit(cfg.AddressFailures, defaultAddressFailures), window(cfg.AddressWindow), entries)
	g.log.init(log, limit(cfg.LogLines, defaultAuthLogLines), cfg.LogInterval)
	return g
}

// refuse reports whether the client of req is held back: its address or
// the authid it asks for failed too often lately. The router then
// answers ABORT wamp.error.authentication_denied [ThrottledMessage]
// without running the Authenticator.
func (g *authGuard) refuse(req *AuthRequest) bool {
	if g.off {
		return false
	}
	now := time.Now()
	if a, ok := clientAddr(req.Transport); ok && !g.addrs.Allow(a, now) {
		return true
	}
	if k, ok := g.authKey(req.Realm, principalOf(req)); ok && !g.authids.Allow(k, now) {
		return true
	}
	return false
}

// failed logs the refusal of req by the Authenticator of method (reason
// and msg are the ABORT's, err what Authenticate returned) and, if the
// refusal is an answer to wrong credentials, counts it against the
// client's address and the authid it asked for.
func (g *authGuard) failed(req *AuthRequest, method string, reason protocol.URI, msg string, err error) {
	authid := principalOf(req)
	args := []any{"realm", string(req.Realm), "authmethod", method, "authid", logAuthID(authid),
		"reason", string(reason), "message", msg, "remote", remoteOf(req.Transport)}
	if reason == protocol.ErrAuthenticationFailed && err != nil {
		args = append(args, "error", err)
	}
	g.log.warn("router: authentication failed", args...)
	g.metrics.authFailed(method, reason)
	if g.off || (reason != protocol.ErrAuthenticationDenied && reason != protocol.ErrNoSuchPrincipal) {
		return
	}
	now := time.Now()
	if a, ok := clientAddr(req.Transport); ok && g.addrs.Fail(a, now) {
		g.log.warn("router: throttling failed authentications from an address", "address", a.String(),
			"failures", g.addrs.Burst(), "window", g.addrs.Window())
	}
	if k, ok := g.authKey(req.Realm, authid); ok && g.authids.Fail(k, now) {
		g.log.warn("router: throttling failed authentications of an authid", "realm", string(req.Realm),
			"authid", logAuthID(authid), "failures", g.authids.Burst(), "window", g.authids.Window())
	}
}

// succeeded clears the failures of authid in realm, which the session
// has just proved to be: its owner starts afresh. The address's failures
// stay, or an attacker with one account of its own could clear them
// between guesses at others.
func (g *authGuard) succeeded(realm protocol.URI, authid string) {
	if k, ok := g.authKey(realm, authid); ok && !g.off {
		g.authids.Forget(k)
	}
}

// close reports the log lines still suppressed and stops the log's timer.
func (g *authGuard) close() { g.log.close() }

// authKey is the key of authid in realm in the authid table: a hash, so
// that an entry costs the same whatever the length of the authid a
// client sends, keyed with a seed of the router's own, so that clients
// cannot make two authids share an entry.
func (g *authGuard) authKey(realm protocol.URI, authid string) (uint64, bool) {
	if authid == "" {
		return 0, false
	}
	var h maphash.Hash
	h.SetSeed(g.seed)
	h.WriteString(string(realm))
	h.WriteByte(0)
	h.WriteString(authid)
	return h.Sum64(), true
}

// principalOf returns who the client of req claims to be:
// HELLO.Details.authid, or else the cryptosign public key it announces,
// or else the SHA-256 fingerprint of its TLS client certificate.
func principalOf(req *AuthRequest) string {
	if req.AuthID != "" {
		return req.AuthID
	}
	if k := req.AuthExtra.String("pubkey"); k != "" {
		return k
	}
	if req.TLS != nil && len(req.TLS.PeerCertificates) > 0 {
		fp := sha256.Sum256(req.TLS.PeerCertificates[0].Raw)
		return "tls:" + hex.EncodeToString(fp[:])
	}
	return ""
}

// maxLogAuthID is the most bytes of an authid written to the log: the
// client chooses it, up to the transport's message size.
const maxLogAuthID = 128

// logAuthID returns authid as the log shows it: cut to maxLogAuthID
// bytes, with the original length.
func logAuthID(authid string) string {
	if len(authid) <= maxLogAuthID {
		return authid
	}
	return fmt.Sprintf("%s...(%d bytes)", strings.ToValidUTF8(authid[:maxLogAuthID], ""), len(authid))
}

// remoteOf returns the client's address as the transport gives it
// (transport.Detailer's "peer", e.g. "tcp4:192.0.2.1:5555"), or the
// transport's type, e.g. "local", when it has none.
func remoteOf(t protocol.Dict) string {
	if p := t.String("peer"); p != "" {
		return p
	}
	return t.String("type")
}

// clientAddr returns the address whose failures are counted together for
// a client of a TCP transport (throttle.AddrKey: its IP address without
// the port, for IPv6 its /64 prefix). Unix sockets and in-process
// sessions have none.
func clientAddr(t protocol.Dict) (netip.Addr, bool) {
	network, hostport, ok := strings.Cut(t.String("peer"), ":")
	if !ok || !strings.HasPrefix(network, "tcp") {
		return netip.Addr{}, false
	}
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil {
		return netip.Addr{}, false
	}
	return throttle.AddrKey(ap.Addr()), true
}

// logLimiter writes at most max WARN lines per interval; the lines it
// leaves out are counted in one line at the end of the interval (or when
// the router closes), so that a flood of failures cannot fill a disk.
type logLimiter struct {
	log      *slog.Logger
	max      int // 0: no limit
	interval time.Duration

	mu         sync.Mutex
	start      time.Time   // guarded by mu; of the current interval
	n          int         // guarded by mu; lines written in it
	suppressed int         // guarded by mu; lines left out in it
	timer      *time.Timer // guarded by mu; reports suppressed at its end
	closed     bool        // guarded by mu; no new timer once set
}

func (l *logLimiter) init(log *slog.Logger, max int, interval time.Duration) {
	if interval <= 0 {
		interval = defaultAuthLogInterval
	}
	l.log, l.max, l.interval = log, max, interval
}

// warn logs msg at WARN unless the interval's lines are used up.
func (l *logLimiter) warn(msg string, args ...any) {
	if l.max <= 0 {
		l.log.Warn(msg, args...)
		return
	}
	now := time.Now()
	l.mu.Lock()
	if now.Sub(l.start) >= l.interval {
		l.flushLocked()
		l.start, l.n = now, 0
	}
	if l.n < l.max {
		l.n++
		l.mu.Unlock()
		l.log.Warn(msg, args...)
		return
	}
	l.suppressed++
	if l.timer == nil && !l.closed {
		l.timer = time.AfterFunc(l.start.Add(l.interval).Sub(now), l.tick)
	}
	l.mu.Unlock()
}

// tick runs at the end of an interval with suppressed lines.
func (l *logLimiter) tick() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.timer = nil
	l.flushLocked()
}

// close reports the suppressed lines and stops the timer.
func (l *logLimiter) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	l.flushLocked()
}

// flushLocked logs how many lines were suppressed, if any, and resets
// the count. l.mu must be held.
func (l *logLimiter) flushLocked() {
	if l.suppressed == 0 {
		return
	}
	l.log.Warn("router: authentication failure log lines suppressed", "suppressed", l.suppressed, "interval", l.interval)
	l.suppressed = 0
}
