//go:build unix

package transport

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/wampkit/wampkit/internal/sysio"
)

// fdReader reads a socket as net.Conn.Read does, waiting for data in the
// network poller under the connection's read deadline, but makes the
// read(2) itself with sysio.Read: see that package for why. It is used by
// one goroutine at a time (the peer's reader); its fields carry the
// read's arguments and results through rc.Read without allocating a
// closure per read.
type fdReader struct {
	rc   syscall.RawConn
	conn net.Conn              // for the addresses in errors
	fn   func(fd uintptr) bool // r.read, bound once
	b    []byte
	n    int
	err  error
}

// newFDReader returns a reader of conn's socket, or conn itself when it
// has none we may read directly (see rawConnOf): a TLS connection, or a
// net.Conn of someone else's.
func newFDReader(conn net.Conn) io.Reader {
	rc := rawConnOf(conn)
	if rc == nil {
		return conn
	}
	r := &fdReader{rc: rc, conn: conn}
	r.fn = r.read
	return r
}

func (r *fdReader) read(fd uintptr) bool {
	for {
		r.n, r.err = sysio.Read(int(fd), r.b)
		if r.err != syscall.EINTR {
			break
		}
	}
	// Nothing to read yet: rc.Read waits in the poller and calls again.
	return r.err != syscall.EAGAIN
}

// Read implements io.Reader with the errors of net.Conn.Read: io.EOF at
// the end of the stream, and an error wrapping os.ErrDeadlineExceeded or
// net.ErrClosed when the deadline passed or the connection was closed.
func (r *fdReader) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	r.b = b
	err := r.rc.Read(r.fn)
	n, rerr := r.n, r.err
	r.b, r.n, r.err = nil, 0, nil
	switch {
	case err != nil:
		var oe *net.OpError
		if errors.As(err, &oe) {
			err = oe.Err // rewrapped below as a "read", like net.Conn.Read's
		}
		return 0, r.opError(err)
	case rerr != nil:
		return 0, r.opError(os.NewSyscallError("read", rerr))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// opError wraps err as net.Conn.Read does: "read tcp A->B: ...".
func (r *fdReader) opError(err error) error {
	oe := &net.OpError{Op: "read", Source: r.conn.LocalAddr(), Addr: r.conn.RemoteAddr(), Err: err}
	if oe.Source != nil {
		oe.Net = oe.Source.Network()
	}
	return oe
}
