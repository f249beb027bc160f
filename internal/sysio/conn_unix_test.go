//go:build unix

package sysio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// pair returns the two ends of a TCP connection on 127.0.0.1, wrapped.
func pair(t *testing.T) (a, b net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	d, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	a, b = Wrap(d), Wrap(s)
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// TestConnStream: 8 MiB written at once while the other end reads in
// small pieces (so the writes find the socket full and wait for room)
// arrive whole and in order, and a close of the writer is the reader's
// io.EOF.
func TestConnStream(t *testing.T) {
	a, b := pair(t)
	if _, ok := a.(*conn); !ok {
		t.Fatalf("Wrap(TCP) = %T, want *conn", a)
	}
	want := make([]byte, 8<<20)
	for i := range want {
		want[i] = byte(i * 7)
	}
	errc := make(chan error, 1)
	go func() {
		n, err := a.Write(want)
		if err == nil && n != len(want) {
			err = io.ErrShortWrite
		}
		a.Close()
		errc <- err
	}()
	var got bytes.Buffer
	buf := make([]byte, 1000)
	for {
		n, err := b.Read(buf)
		got.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
	}
	if err := <-errc; err != nil {
		t.Fatalf("Write: %v", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("read %d bytes, not the %d written", got.Len(), len(want))
	}
}

// TestConnErrors: a read deadline, a close during a read, and a write to
// a peer that is gone give the net package's errors.
func TestConnErrors(t *testing.T) {
	a, b := pair(t)
	buf := make([]byte, 10)

	b.SetReadDeadline(time.Now().Add(-time.Second))
	var ne net.Error
	if _, err := b.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("Read after the deadline: %v, want a timeout", err)
	}
	b.SetReadDeadline(time.Time{})

	done := make(chan error, 1)
	go func() {
		_, err := b.Read(buf)
		done <- err
	}()
	time.Sleep(10 * time.Millisecond) // let the read wait; either way it must end
	b.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read during Close: %v, want net.ErrClosed", err)
	}

	// b is closed: a's writes fail once the kernel knows (EPIPE or
	// ECONNRESET), with "write" as the operation.
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = a.Write(make([]byte, 64<<10))
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "write" {
		t.Errorf("Write to a closed peer: %v, want a write *net.OpError", err)
	}
}

// TestWrapOthers: what is not a TCP or Unix socket of the net package is
// returned as it is.
func TestWrapOthers(t *testing.T) {
	p, q := net.Pipe()
	defer p.Close()
	defer q.Close()
	if w := Wrap(p); w != p {
		t.Errorf("Wrap(pipe) = %T, want the pipe itself", w)
	}
}
