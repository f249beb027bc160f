package transport

import (
	"bufio"
	"net"
	"net/http"
	"sync"
)

// corkConn lets the WebSocket writer put several WebSocket messages into
// one write to the network: gorilla writes every frame straight to its
// net.Conn, so the writer corks the connection while it drains the queue
// and uncorks it (one write) when the queue is empty.
type corkConn struct {
	net.Conn

	mu     sync.Mutex // guards corked and buf, and serializes writes
	corked bool
	buf    []byte
}

// Write buffers b while corked (up to flushSize), else writes through.
func (c *corkConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked && len(c.buf)+len(b) <= flushSize {
		c.buf = append(c.buf, b...)
		return len(b), nil
	}
	if err := c.flushLocked(); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

// cork starts buffering writes.
func (c *corkConn) cork() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// uncork writes what was buffered and stops buffering.
func (c *corkConn) uncork() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	return c.flushLocked()
}

// flushLocked writes the buffer. c.mu must be held.
func (c *corkConn) flushLocked() error {
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.buf)
	c.buf = c.buf[:0]
	if cap(c.buf) > keepBuffer {
		c.buf = nil
	}
	return err
}

// corkHijacker hands gorilla's Upgrade a corkConn around the hijacked
// connection. Upgrade needs nothing of the ResponseWriter but Header,
// WriteHeader/Write for errors, and Hijack.
type corkHijacker struct {
	http.ResponseWriter
	conn *corkConn // set by Hijack
}

// Hijack implements http.Hijacker.
func (h *corkHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := h.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	c, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.conn = &corkConn{Conn: c}
	return h.conn, brw, nil
}
