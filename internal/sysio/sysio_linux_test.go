//go:build linux

package sysio

import (
	"syscall"
	"testing"
)

// TestRawReadWrite: rawRead and rawWrite, the system calls of Read and
// Write outside race builds (with -race those make the plain calls,
// so this test is what checks them there), give what syscall.Read and
// syscall.Write give on a non-blocking socket: the bytes, EAGAIN when
// there is nothing to read, 0 at the end of the stream, EPIPE after the
// other end is gone, EBADF for a closed descriptor.
func TestRawReadWrite(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b := fds[0], fds[1]
	defer syscall.Close(a)
	buf := make([]byte, 16)
	if n, err := rawRead(b, buf); n != -1 || err != syscall.EAGAIN {
		t.Errorf("rawRead(empty) = %d, %v; want -1, EAGAIN", n, err)
	}
	if n, err := rawWrite(a, []byte("hello")); n != 5 || err != nil {
		t.Errorf("rawWrite(hello) = %d, %v; want 5, nil", n, err)
	}
	if n, err := rawRead(b, buf); n != 5 || err != nil || string(buf[:n]) != "hello" {
		t.Errorf("rawRead() = %d, %v; want 5, nil and hello", n, err)
	}
	if n, err := rawWrite(a, nil); n != 0 || err != nil {
		t.Errorf("rawWrite(nil) = %d, %v; want 0, nil", n, err)
	}
	if n, err := rawRead(b, nil); n != 0 || err != nil {
		t.Errorf("rawRead(nil) = %d, %v; want 0, nil", n, err)
	}
	if err := syscall.Shutdown(a, syscall.SHUT_WR); err != nil {
		t.Fatal(err)
	}
	if n, err := rawRead(b, buf); n != 0 || err != nil {
		t.Errorf("rawRead(at end) = %d, %v; want 0, nil", n, err)
	}
	if err := syscall.Close(b); err != nil {
		t.Fatal(err)
	}
	if n, err := rawRead(b, buf); n != -1 || err != syscall.EBADF {
		t.Errorf("rawRead(closed fd) = %d, %v; want -1, EBADF", n, err)
	}
	// Go ignores SIGPIPE on sockets that are not stdout or stderr.
	if n, err := rawWrite(a, []byte("x")); n != -1 || err != syscall.EPIPE {
		t.Errorf("rawWrite(to a closed peer) = %d, %v; want -1, EPIPE", n, err)
	}
}
