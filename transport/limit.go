package transport

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// ConnLimiter caps the connections accepted through the listeners it
// wraps ([ConnLimiter.Listener]): in total, and per client address. A
// connection over a cap is closed at once, before anything is read from
// it: no HTTP request, no TLS handshake, no RawSocket handshake is started
// for it, so that a flood of idle connections cannot exhaust the process's
// file descriptors or starve the clients of other addresses. Refused
// connections are counted ([ConnLimiter.Refused]) and logged, one line per
// LogInterval at most.
//
// A connection counts from Accept until it is closed, by whoever closes it:
// net/http, a WebSocket server that hijacked it, a RawSocket peer.
//
// Mount a router's WebSocket handler on your own http.Server behind one:
//
//	l, _ := net.Listen("tcp", ":8080")
//	l = transport.LimitListener(l, 10000, 1000)
//	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
//	go srv.Serve(l) // or tls.NewListener(l, cfg): the cap applies before the TLS handshake
//
// One ConnLimiter may wrap several listeners, which then share its caps (as
// wampd's WebSocket and RawSocket listeners share the process's file
// descriptors). Set the fields before the first call of Listener and leave
// them alone afterwards; the zero value has no caps. All methods may be
// called from any goroutine.
type ConnLimiter struct {
	// MaxConnections is the most connections open at once over all the
	// listeners. Zero or less means no limit.
	MaxConnections int
	// MaxPerAddress is the most connections open at once from one client
	// address: an IPv4 address, or an IPv6 /64 prefix (what one host or
	// one home network is usually given), whatever the ports. Connections
	// without an IP address (Unix domain sockets) count towards
	// MaxConnections only. Zero or less means no limit.
	MaxPerAddress int
	// Logger receives the refusals, summarized: at most one line per
	// LogInterval, with the number refused since the last line. nil means
	// slog.Default().
	Logger *slog.Logger
	// LogInterval is the least time between two log lines about refused
	// connections. Zero or less means 10 s.
	LogInterval time.Duration

	refused atomic.Uint64
	logs    logLimiter // the log lines about refusals

	mu      sync.Mutex // guards the fields below
	open    int
	perAddr map[netip.Prefix]int
}

// defaultLimitLogInterval is the default of [ConnLimiter].LogInterval.
const defaultLimitLogInterval = 10 * time.Second

// LimitListener returns l with at most max connections open at once, and
// at most maxPerAddress from one client address; zero or less means no
// limit. See [ConnLimiter], which it uses, for the details.
func LimitListener(l net.Listener, max, maxPerAddress int) net.Listener {
	return (&ConnLimiter{MaxConnections: max, MaxPerAddress: maxPerAddress}).Listener(l)
}

// Listener returns l with the caps of cl. Its Accept returns only
// connections within the caps, and closes the others itself; its Close
// closes l.
func (cl *ConnLimiter) Listener(l net.Listener) net.Listener {
	return &limitListener{Listener: l, cl: cl}
}

// Open returns the number of connections open through cl's listeners.
func (cl *ConnLimiter) Open() int {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.open
}

// Refused returns the number of connections cl has refused.
func (cl *ConnLimiter) Refused() uint64 { return cl.refused.Load() }

// addrKey is the per-address key of a remote address: its IPv4 address or
// its IPv6 /64 prefix; false for addresses without an IP.
func addrKey(a net.Addr) (netip.Prefix, bool) {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Prefix{}, false
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ip = ip.Unmap()
	bits := 64
	if ip.Is4() {
		bits = 32
	}
	p, err := ip.Prefix(bits)
	return p, err == nil
}

// acquire counts a new connection from key (if hasKey), or returns the
// cap it would break: "total" or "per-address".
func (cl *ConnLimiter) acquire(key netip.Prefix, hasKey bool) (refusedBy string) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.MaxConnections > 0 && cl.open >= cl.MaxConnections {
		return "total"
	}
	if hasKey && cl.MaxPerAddress > 0 {
		if cl.perAddr[key] >= cl.MaxPerAddress {
			return "per-address"
		}
		if cl.perAddr == nil {
			cl.perAddr = make(map[netip.Prefix]int)
		}
		cl.perAddr[key]++
	}
	cl.open++
	return ""
}

// release uncounts a connection that acquire counted.
func (cl *ConnLimiter) release(key netip.Prefix, hasKey bool) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.open--
	if hasKey && cl.MaxPerAddress > 0 {
		if n := cl.perAddr[key] - 1; n > 0 {
			cl.perAddr[key] = n
		} else {
			delete(cl.perAddr, key)
		}
	}
}

// refuse counts and, at most once per LogInterval, logs a refusal.
func (cl *ConnLimiter) refuse(remote net.Addr, limit string) {
	cl.refused.Add(1)
	interval := cl.LogInterval
	if interval <= 0 {
		interval = defaultLimitLogInterval
	}
	ok, held := cl.logs.allow(time.Now(), interval)
	if !ok {
		return
	}
	log := cl.Logger
	if log == nil {
		log = slog.Default()
	}
	log.Warn("transport: connections refused: limit reached", "limit", limit,
		"max_connections", cl.MaxConnections, "max_per_address", cl.MaxPerAddress,
		"open", cl.Open(), "refused", held+1, "last_remote", remote.String())
}

// logLimiter lets at most one log line through per interval, and counts
// the lines it holds back so that the next line can say how many. The
// zero value is ready; allow may be called from any goroutine.
type logLimiter struct {
	mu   sync.Mutex // guards the fields below
	last time.Time  // when the last line was let through
	held uint64     // lines held back since then
}

// allow reports whether a line may be logged at now, and how many lines
// were held back since the last one let through.
func (l *logLimiter) allow(now time.Time, interval time.Duration) (bool, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < interval {
		l.held++
		return false, 0
	}
	held := l.held
	l.last, l.held = now, 0
	return true, held
}

// limitListener is a listener of a ConnLimiter.
type limitListener struct {
	net.Listener
	cl *ConnLimiter
}

// Accept returns the next connection within the caps; it closes the others.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, hasKey := addrKey(c.RemoteAddr())
		over := l.cl.acquire(key, hasKey)
		if over == "" {
			return &limitConn{Conn: c, cl: l.cl, key: key, hasKey: hasKey}, nil
		}
		l.cl.refuse(c.RemoteAddr(), over)
		if tc, ok := c.(*net.TCPConn); ok {
			// A reset leaves no TIME_WAIT socket behind on our side.
			_ = tc.SetLinger(0)
		}
		_ = c.Close()
	}
}

// limitConn is a connection a ConnLimiter counts until it is closed.
type limitConn struct {
	net.Conn
	cl     *ConnLimiter
	key    netip.Prefix
	hasKey bool
	closed atomic.Bool
}

// Close closes the connection and, the first time, uncounts it.
func (c *limitConn) Close() error {
	err := c.Conn.Close()
	if c.closed.CompareAndSwap(false, true) {
		c.cl.release(c.key, c.hasKey)
	}
	return err
}

// CloseWrite shuts down the writing side, when the connection has one
// (net/http uses it to close a TCP connection gracefully).
func (c *limitConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
