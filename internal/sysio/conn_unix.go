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
	rfn  func(fd uintptr) bool // guarded by rmu; c.read, bound once
	rb   []byte                // guarded by rmu
	rn   int                   // guarded by rmu
	rerr error                 // guarded by rmu
	wmu  sync.Mutex
	wfn  func(fd uintptr) bool // guarded by wmu; c.write, bound once
	wb   []byte                // guarded by wmu
	wn   int                   // guarded by wmu
	werr error                 // guarded by wmu
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
	w.rfn, w.wfn = w.read, w.write
	return w
}

func (c *conn) read(fd uintptr) bool {
	for {
		c.rn, c.rerr = Read(int(fd), c.rb)
		if c.rerr != syscall.EINTR {
			break
		}
	}
	// Nothing to read yet: the RawConn waits in the poller and calls again.
	return c.rerr != syscall.EAGAIN
}

// Read implements net.Conn.Read, with its errors: io.EOF at the end of
// the stream, errors wrapping os.ErrDeadlineExceeded or net.ErrClosed.
func (c *conn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.rb = b
	err := c.rc.Read(c.rfn)
	n, rerr := c.rn, c.rerr
	c.rb, c.rn, c.rerr = nil, 0, nil
	switch {
	case err != nil:
		return 0, c.opError("read", err)
	case rerr != nil:
		return 0, c.opError("read", os.NewSyscallError("read", rerr))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
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
		return n, c.opError("write", err)
	case werr != nil:
		return n, c.opError("write", os.NewSyscallError("write", werr))
	}
	return n, nil
}

// opError wraps err as the net package does: "read tcp A->B: ...".
func (c *conn) opError(op string, err error) error {
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
