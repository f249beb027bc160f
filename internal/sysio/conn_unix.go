//go:build unix

package sysio

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
)

// conn is a net.Conn whose Read and Write make their system calls with
// Read and Write, and wait for the socket in the network poller as the
// net package does (deadlines and Close included). One Read and one
// Write run at a time (each direction has its lock); the fields of a
// direction carry a call's arguments and results through the RawConn
// without a closure per call.
type conn struct {
	net.Conn
	rc syscall.RawConn

	rmu  sync.Mutex
	r    Reader // guarded by rmu
	wmu  sync.Mutex
	wfn  func(fd uintptr) bool // guarded by wmu; c.write, bound once
	wb   []byte                // guarded by wmu
	wn   int                   // guarded by wmu
	werr error                 // guarded by wmu
}

// Reader reads a socket as net.Conn.Read does, waiting for data in the
// network poller under the connection's read deadline, but makes the
// read(2) itself with Read. One goroutine at a time may call its Read
// (conn takes a lock around it; a peer's reader needs none); its fields
// carry a read's arguments and results through the RawConn without a
// closure per read.
type Reader struct {
	rc   syscall.RawConn
	conn net.Conn              // for the addresses in errors
	fn   func(fd uintptr) bool // r.read, bound once
	b    []byte
	n    int
	err  error
}

// NewReader returns a Reader of the socket rc of c (c's addresses go
// into its errors).
func NewReader(c net.Conn, rc syscall.RawConn) *Reader {
	r := &Reader{}
	r.init(c, rc)
	return r
}

func (r *Reader) init(c net.Conn, rc syscall.RawConn) {
	r.rc, r.conn = rc, c
	r.fn = r.read
}

func (r *Reader) read(fd uintptr) bool {
	for {
		r.n, r.err = Read(int(fd), r.b)
		if r.err != syscall.EINTR {
			break
		}
	}
	// Nothing to read yet: the RawConn waits in the poller and calls again.
	return r.err != syscall.EAGAIN
}

// Read implements io.Reader with the errors of net.Conn.Read: io.EOF at
// the end of the stream, errors wrapping os.ErrDeadlineExceeded or
// net.ErrClosed when the deadline passed or the connection was closed.
func (r *Reader) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	r.b = b
	err := r.rc.Read(r.fn)
	n, rerr := r.n, r.err
	r.b, r.n, r.err = nil, 0, nil
	switch {
	case err != nil:
		return 0, opError(r.conn, "read", err)
	case rerr != nil:
		return 0, opError(r.conn, "read", os.NewSyscallError("read", rerr))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// Wrap returns a net.Conn that reads and writes c's socket with Read and
// Write, or c itself when c is not a TCP or Unix connection of the net
// package (a TLS connection, say: wrap the socket under it instead).
func Wrap(c net.Conn) net.Conn {
	var sc syscall.Conn
	switch t := c.(type) {
	case *net.TCPConn:
		sc = t
	case *net.UnixConn:
		sc = t
	default:
		return c
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	return WrapRaw(c, rc)
}

// WrapRaw is Wrap for a connection c (a wrapper of a socket, say) whose
// socket is rc: reads and writes go to rc, everything else (Close,
// deadlines, addresses) to c.
func WrapRaw(c net.Conn, rc syscall.RawConn) net.Conn {
	w := &conn{Conn: c, rc: rc}
	w.r.init(c, rc)
	w.wfn = w.write
	return w
}

// Read implements net.Conn.Read, with its errors (see Reader.Read).
func (c *conn) Read(b []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	return c.r.Read(b)
}

func (c *conn) write(fd uintptr) bool {
	for c.wn < len(c.wb) {
		n, err := Write(int(fd), c.wb[c.wn:])
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return false // the RawConn waits until the socket takes more
		case err != nil:
			c.werr = err
			return true
		}
		c.wn += n
	}
	return true
}

// Write implements net.Conn.Write: it returns once all of b is written,
// or with the error that stopped it (and how much was written).
func (c *conn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wb, c.wn, c.werr = b, 0, nil
	err := c.rc.Write(c.wfn)
	n, werr := c.wn, c.werr
	c.wb, c.wn, c.werr = nil, 0, nil
	switch {
	case err != nil:
		return n, opError(c, "write", err)
	case werr != nil:
		return n, opError(c, "write", os.NewSyscallError("write", werr))
	}
	return n, nil
}

// opError wraps err as the net package does: "read tcp A->B: ...",
// with the addresses of c.
func opError(c net.Conn, op string, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		err = oe.Err
	}
	e := &net.OpError{Op: op, Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	if e.Source != nil {
		e.Net = e.Source.Network()
	}
	return e
}
