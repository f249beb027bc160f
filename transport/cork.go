package transport

import (
	"bufio"
	"net"
	"net/http"
	"sync"
	"time"
)

// corkConn lets the WebSocket writer put several WebSocket messages into
// one write to the network: gorilla writes every frame straight to its
// net.Conn, so the writer corks the connection while it drains the queue
// and uncorks it (one write) when the queue is empty. The buffer comes
// from writeBuffers only while bytes wait in it.
type corkConn struct {
	net.Conn
	rc *fdWriter  // writes to Conn without blocking; nil if it cannot
	pr poolReader // reads Conn; used only by the reader (gorilla's bufio.Reader)

	mu     sync.Mutex // guards corked, bp and buf, and serializes writes
	corked bool
	bp     *[]byte // the buffer of buf, from writeBuffers; nil when empty
	buf    []byte  // bytes waiting to be written
}

// newCorkConn returns a corkConn around c, whose peer's WriteTimeout is
// timeout.
func newCorkConn(c net.Conn, timeout time.Duration) *corkConn {
	cc := &corkConn{Conn: c, rc: newFDWriter(c, timeout)}
	cc.pr.r = newFDReader(c)
	return cc
}

// Read reads through a poolReader: an idle WebSocket holds no large read
// buffer (gorilla's own is peekBuffer bytes).
func (c *corkConn) Read(b []byte) (int, error) { return c.pr.Read(b) }

// Write buffers b while corked (up to flushSize), else writes through.
func (c *corkConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked && len(c.buf)+len(b) <= flushSize {
		if c.bp == nil {
			c.bp = getBuffer(&writeBuffers)
			c.buf = *c.bp
		}
		nb := append(c.buf, b...)
		if cap(nb) != cap(c.buf) {
			*c.bp = nb[:0] // grown: the new buffer is the one to give back
		}
		c.buf = nb
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

// tryUncork stops buffering and writes what was buffered as far as the
// socket takes it without blocking; it reports whether bytes are left
// (the next write or uncork writes them first). Only when c.rc is set.
func (c *corkConn) tryUncork() (left bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	n, err := tryWrite(c.rc, c.buf)
	c.buf = c.buf[n:]
	if err == nil && len(c.buf) == 0 {
		c.releaseLocked()
	}
	return len(c.buf) > 0, err
}

// pending reports whether bytes wait in the buffer.
func (c *corkConn) pending() bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.buf) > 0
}

// flushLocked writes the buffer. c.mu must be held.
func (c *corkConn) flushLocked() error {
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.buf)
	c.releaseLocked()
	return err
}

// releaseLocked gives the buffer back. c.mu must be held.
func (c *corkConn) releaseLocked() {
	if c.bp != nil {
		putBuffer(&writeBuffers, c.bp, *c.bp, maxPooledWrite)
	}
	c.bp, c.buf = nil, nil
}

// corkHijacker hands gorilla's Upgrade a corkConn around the hijacked
// connection. Upgrade needs nothing of the ResponseWriter but Header,
// WriteHeader/Write for errors, and Hijack.
type corkHijacker struct {
	http.ResponseWriter
	timeout time.Duration // the peers' WriteTimeout
	conn    *corkConn     // set by Hijack
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
	h.conn = newCorkConn(c, h.timeout)
	return h.conn, brw, nil
}
