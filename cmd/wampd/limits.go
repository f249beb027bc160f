package main

import (
	"net/http"
	"time"
)

// fallbackMaxConnections is the default of max_connections when the
// process's limit of open files is unknown or infinite.
const fallbackMaxConnections = 10000

// maxConnections returns the cap on open connections over all listeners
// for the setting n (see Config.MaxConnections), given the process's limit
// of open files (0 if unknown): a tenth of the descriptors, at least 64,
// stays for everything else wampd opens (listeners, files, the resolver),
// and the cap is at least 64. Zero means no cap.
func maxConnections(n int, fdLimit uint64) int {
	switch {
	case n < 0:
		return 0
	case n > 0:
		return n
	case fdLimit == 0 || fdLimit > 1<<30:
		return fallbackMaxConnections
	}
	fds := int(fdLimit)
	return max(fds-max(fds/10, 64), 64)
}

// maxPerAddress returns the cap on open connections from one address for
// the setting n (see Config.MaxConnectionsPerAddress) and the total cap
// (zero for none). Zero means no cap.
func maxPerAddress(n, total int) int {
	switch {
	case n < 0:
		return 0
	case n > 0:
		return n
	case total > 0:
		return max(min(DefaultMaxConnectionsPerAddress, total/2), 1)
	}
	return DefaultMaxConnectionsPerAddress
}

// httpServer returns the WebSocket listener's http.Server with the HTTP
// settings of c applied: zero means the default, negative none.
func httpServer(c WebSocketConfig, h http.Handler) *http.Server {
	d := func(v, def time.Duration) time.Duration {
		switch {
		case v < 0:
			return 0
		case v == 0:
			return def
		}
		return v
	}
	hb := c.MaxHeaderBytes
	if hb == 0 {
		hb = DefaultMaxHeaderBytes
	}
	// ReadTimeout and WriteTimeout are deadlines on the connection that
	// net/http sets per request; hijacking the connection (the WebSocket
	// upgrade) clears them (net/http conn.hijackLocked, and gorilla's
	// Upgrade clears them again), so a WAMP session is not cut off.
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: d(c.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		ReadTimeout:       d(c.ReadTimeout, DefaultReadTimeout),
		WriteTimeout:      d(c.WriteTimeout, DefaultWriteTimeout),
		IdleTimeout:       d(c.IdleTimeout, DefaultIdleTimeout),
		MaxHeaderBytes:    hb,
	}
}
