package transport

import (
	"time"
)

// The write path of the network peers.
//
// At most one goroutine writes to a peer's connection at a time: the one
// that holds the right to write (outQueue.writing). A sender that queues
// a frame when nobody holds it takes it and writes what is queued itself,
// without blocking (tryWrite, one system call), like nats-server's read
// loop flushing its destinations: a lone message costs no goroutine
// hand-off and no other thread's wake-up. Only when a write would block
// (the other end reads slower than we send), when the connection cannot
// be written without blocking (TLS), or after a few rounds of frames
// queued by others, does it start the writer goroutine and hand the
// right to it; that goroutine writes with deadlines, in batches, and ends
// once nothing waits. An idle peer therefore has no writer goroutine.
//
// The keep-alive timer (time.AfterFunc) and a RawSocket PING from the
// other end take the right the same way. Closing gives the right, once
// nobody writes, to a writer goroutine that flushes what is queued within
// the close timeout, closes the connection and closes done; the right is
// then kept for good (outQueue.finished).

// connWriter is what each kind of network peer adds to peerCore's write
// path. Only the holder of the right to write calls it.
type connWriter interface {
	// writeInline writes what waits (keep-alive ping, pongs, frames of
	// up to flushSize/2 bytes in all) without blocking. It reports
	// blocked when it could not write everything (the rest is kept and
	// written first by writeBlocking) or when the next frame is too
	// large to write inline.
	writeInline() (blocked bool, err error)
	// writeBlocking writes what is left of an inline write, then what
	// waits, up to about flushSize bytes, under the write deadline, and
	// returns how many frames (or control frames, or leftovers) it
	// wrote.
	writeBlocking() (int, error)
	// finish writes a close frame, if the kind has one, and closes the
	// connection; flushed reports whether what was queued was written.
	finish(flushed bool)
}

// defaultInlineGap is how long a peer's writing must have been idle for a sender
// to write a message inline. A message that comes sooner is part of a
// stream (pipelined calls, a busy publisher) and goes to the writer
// goroutine, which batches what queues up meanwhile into one write, and
// the other end then reads many messages per read: writing each inline
// would cost a system call per message at both ends. A lone round trip
// on loopback takes longer than this.
const defaultInlineGap = 50 * time.Microsecond

// sent is called by a sender that queued f and took the right to write:
// it writes inline if the message is a lone one (see defaultInlineGap), and
// otherwise hands the right to the writer goroutine. The cached encoding
// of a *serialize.Shared (an EVENT to many subscribers) always goes to
// the writer goroutine, so that the publisher does not make a system call
// per subscriber and each subscriber's events are batched.
func (c *peerCore) sent(f frame) {
	if f.buf == nil || time.Now().UnixNano()-c.idleSince.Load() < int64(c.inlineGap) {
		c.startWriter()
		return
	}
	c.write()
}

// maxInlineRounds bounds how many rounds of frames a sender writes inline
// before it hands the rest to the writer goroutine: a sender that others
// keep feeding does not write for them forever.
const maxInlineRounds = 4

// takeWriteLocked takes the right to write if nobody holds it, and
// reports whether it did. c.q.mu must be held.
func (c *peerCore) takeWriteLocked() bool {
	if c.q.writing {
		return false
	}
	c.q.writing = true
	return true
}

// workLocked reports whether the holder of the right to write has work
// left: frames, a ping, pongs, or a close. c.q.mu must be held.
func (c *peerCore) workLocked() bool {
	return c.q.waiting > 0 || c.q.pingDue || len(c.pongs) > 0 || c.isClosing()
}

// kick takes the right to write if nobody holds it and writes what waits.
func (c *peerCore) kick() {
	c.q.mu.Lock()
	took := c.takeWriteLocked()
	c.q.mu.Unlock()
	if took {
		c.write()
	}
}

// write writes what waits; the caller holds the right to write, and gives
// it up (or hands it to the writer goroutine) here. It never blocks.
func (c *peerCore) write() {
	if c.rc == nil || c.isClosing() {
		c.startWriter()
		return
	}
	for range maxInlineRounds {
		blocked, err := c.cw.writeInline()
		if err != nil {
			c.writeFailed(err)
			c.startWriter()
			return
		}
		if blocked {
			c.startWriter()
			return
		}
		c.q.mu.Lock()
		if !c.workLocked() {
			c.releaseWriteLocked()
			c.q.mu.Unlock()
			return
		}
		c.q.mu.Unlock()
	}
	c.startWriter()
}

// releaseWriteLocked gives up the right to write. c.q.mu must be held.
func (c *peerCore) releaseWriteLocked() {
	c.q.writing = false
	c.idleSince.Store(time.Now().UnixNano())
}

// startWriter hands the right to write, which the caller holds, to a new
// writer goroutine.
func (c *peerCore) startWriter() {
	c.writers.Add(1)
	go c.writeLoop()
}

// writeLoop is the writer goroutine: it holds the right to write, writes
// until nothing waits and then gives the right up, or, once the peer is
// closing, flushes, closes the connection and closes done.
func (c *peerCore) writeLoop() {
	for {
		if c.isClosing() {
			c.finish()
			return
		}
		if _, err := c.cw.writeBlocking(); err != nil {
			c.writeFailed(err)
			continue
		}
		c.q.mu.Lock()
		if !c.workLocked() {
			c.releaseWriteLocked()
			c.q.mu.Unlock()
			return
		}
		c.q.mu.Unlock()
	}
}

// writeFailed records a failed write: the peer is closed with err as the
// reason, and nothing more is written. Only the holder of the right to
// write calls it.
func (c *peerCore) writeFailed(err error) {
	c.failedWrite = true
	c.shutdown(err)
}

// finish ends the peer's writing for good: it flushes what is queued
// (bounded by the close deadline, unless a write failed), lets the kind
// close the connection, drops what is left and closes done.
func (c *peerCore) finish() {
	flushed := false
	if !c.failedWrite {
		for {
			n, err := c.cw.writeBlocking()
			if err != nil {
				break
			}
			if n == 0 {
				flushed = true
				break
			}
		}
	}
	c.q.mu.Lock()
	c.q.finished = true
	if c.ping != nil {
		c.ping.Stop()
	}
	c.q.mu.Unlock()
	c.cw.finish(flushed)
	c.q.discard()
	close(c.done)
}

// pingTimer runs on the keep-alive timer's goroutine: it makes a ping due,
// arms the timer for the next one and, if nobody writes, writes it from
// this goroutine.
func (c *peerCore) pingTimer() {
	c.q.mu.Lock()
	if c.q.finished {
		c.q.mu.Unlock()
		return
	}
	c.q.pingDue = true
	c.ping.Reset(c.cfg.PingInterval)
	took := c.takeWriteLocked()
	c.q.mu.Unlock()
	if took {
		c.writeLoop()
	}
}

// takePing reports whether a keep-alive ping is due, and clears it.
func (c *peerCore) takePing() bool {
	c.q.mu.Lock()
	defer c.q.mu.Unlock()
	due := c.q.pingDue
	c.q.pingDue = false
	return due
}

// startPings arms the keep-alive timer, unless keep-alive is off.
func (c *peerCore) startPings() {
	if c.cfg.PingInterval > 0 {
		c.q.mu.Lock()
		c.ping = time.AfterFunc(c.cfg.PingInterval, c.pingTimer)
		c.q.mu.Unlock()
	}
}
