//go:build unix

package transport

import (
	"errors"
	"net"
	"os"
	"syscall"

	"github.com/wampkit/wampkit/internal/sysio"
	"time"
)

// rawConnOf returns the descriptor of conn's socket, for writes that must
// not block, or nil when conn has none we may write to directly: a TLS
// connection (its records must go through crypto/tls) or a net.Conn of
// someone else's. It sees through the wrappers of this package.
func rawConnOf(conn net.Conn) syscall.RawConn {
	for {
		switch c := conn.(type) {
		case *limitConn:
			conn = c.Conn
			continue
		case *corkConn:
			conn = c.Conn
			continue
		case *net.TCPConn:
			rc, err := c.SyscallConn()
			if err != nil {
				return nil
			}
			return rc
		case *net.UnixConn:
			rc, err := c.SyscallConn()
			if err != nil {
				return nil
			}
			return rc
		}
		return nil
	}
}

// rawIO returns conn, or when its socket may be read and written
// directly (see rawConnOf) a net.Conn that reads and writes it with
// internal/sysio (Close and deadlines still conn's): for crypto/tls,
// whose records then cost no wake-up of the runtime's sysmon thread.
func rawIO(conn net.Conn) net.Conn {
	if rc := rawConnOf(conn); rc != nil {
		return sysio.WrapRaw(conn, rc)
	}
	return conn
}

// newFDWriter returns an fdWriter for conn, or nil when conn cannot be
// written without blocking (see rawConnOf). timeout is the peer's
// WriteTimeout (see tryWrite).
func newFDWriter(conn net.Conn, timeout time.Duration) *fdWriter {
	rc := rawConnOf(conn)
	if rc == nil {
		return nil
	}
	w := &fdWriter{rc: rc, conn: conn, timeout: timeout}
	w.fn = w.write
	return w
}

// fdWriter writes to a socket without blocking. It is used by one
// goroutine at a time (the holder of the right to write); its fields
// carry the write's arguments and results through rc.Write without
// allocating a closure per write.
type fdWriter struct {
	rc      syscall.RawConn
	conn    net.Conn              // for its write deadline
	timeout time.Duration         // the peer's WriteTimeout
	fn      func(fd uintptr) bool // w.write, bound once
	b       []byte
	n       int
	err     error
	called  bool // fn ran
}

func (w *fdWriter) write(fd uintptr) bool {
	w.called = true
	for {
		w.n, w.err = sysio.Write(int(fd), w.b)
		if w.err != syscall.EINTR {
			return true
		}
	}
}

// tryWrite writes as much of b as the socket takes without blocking, in
// one system call, and returns how much that was. A write that would
// block is no error: it returns what was written (maybe 0).
func tryWrite(w *fdWriter, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	w.b, w.called = b, false
	err := w.rc.Write(w.fn)
	if !w.called && errors.Is(err, os.ErrDeadlineExceeded) {
		// The deadline of an earlier blocking write has passed (the
		// net package then refuses every write, even one that cannot
		// block): a non-blocking write needs none, so it moves the
		// deadline on, as far as a blocking write would, and tries
		// again.
		_ = w.conn.SetWriteDeadline(time.Now().Add(w.timeout))
		err = w.rc.Write(w.fn)
	}
	n, werr := w.n, w.err
	w.b, w.err = nil, nil
	if n < 0 {
		n = 0
	}
	if errors.Is(werr, syscall.EAGAIN) {
		werr = nil
	}
	if err == nil {
		err = werr
	}
	return n, err
}
