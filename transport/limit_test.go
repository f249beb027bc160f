package transport

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// limitedHTTP serves GET / ("ok") on a listener on 127.0.0.1 wrapped by
// cl, and returns its address.
func limitedHTTP(tb testing.TB, cl *ConnLimiter) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})}
	var wg sync.WaitGroup
	wg.Go(func() { hs.Serve(cl.Listener(l)) })
	tb.Cleanup(func() {
		hs.Close()
		wg.Wait()
	})
	return l.Addr().String()
}

// dialFrom connects to addr from the local IP address from; the test is
// skipped if the system has no such address (Linux answers for all of
// 127.0.0.0/8).
func dialFrom(tb testing.TB, from, addr string) net.Conn {
	tb.Helper()
	c, err := tryDialFrom(tb, from, addr)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func tryDialFrom(tb testing.TB, from, addr string) (net.Conn, error) {
	tb.Helper()
	d := net.Dialer{Timeout: testWait, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || strings.Contains(err.Error(), "assign requested address") {
			tb.Skipf("no local address %s: %v", from, err)
		}
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(testWait))
	tb.Cleanup(func() { c.Close() })
	return c, nil
}

// refusedFrom connects to addr from the local address from and reports
// whether the server closed the connection without a word: the dial
// fails with a reset, or a read ends with EOF or a reset long before the
// connection's deadline.
func refusedFrom(tb testing.TB, from, addr string) bool {
	tb.Helper()
	c, err := tryDialFrom(tb, from, addr)
	if err != nil {
		return errors.Is(err, syscall.ECONNRESET)
	}
	return refused(tb, c)
}

// get sends GET / on c and reports whether the answer is 200 "ok".
func get(tb testing.TB, c net.Conn) error {
	tb.Helper()
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 10))
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok" {
		return errors.New("unexpected answer " + resp.Status)
	}
	return nil
}

// refused sends a request on c and reports whether the server closed c
// without an answer: the read ends with EOF or a reset. (An accepted
// connection is answered.)
func refused(tb testing.TB, c net.Conn) bool {
	tb.Helper()
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n") // a reset shows in the read
	n, err := c.Read(make([]byte, 1))
	if isTimeout(err) {
		tb.Fatal("no answer to a request, and no close")
	}
	return n == 0
}

// waitOpen polls until cl counts n open connections.
func waitOpen(tb testing.TB, cl *ConnLimiter, n int) {
	tb.Helper()
	deadline := time.Now().Add(testWait)
	for cl.Open() != n {
		if time.Now().After(deadline) {
			tb.Fatalf("Open() = %d, want %d", cl.Open(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestLimitListenerPerAddress: connections from one address beyond
// MaxPerAddress are closed at once, before any request is read, while
// another address is served; closing one makes room again.
func TestLimitListenerPerAddress(t *testing.T) {
	cl := &ConnLimiter{MaxPerAddress: 3, Logger: slog.New(slog.DiscardHandler)}
	addr := limitedHTTP(t, cl)
	var idle []net.Conn
	for range 3 {
		idle = append(idle, dialFrom(t, "127.0.0.1", addr)) // idle: never send a request
	}
	waitOpen(t, cl, 3)
	for i := range 5 {
		if !refusedFrom(t, "127.0.0.1", addr) {
			t.Fatalf("connection %d from 127.0.0.1 beyond the cap of 3 was not closed at once", 4+i)
		}
	}
	if got := cl.Refused(); got != 5 {
		t.Errorf("Refused() = %d, want 5", got)
	}
	other := dialFrom(t, "127.0.0.2", addr)
	if err := get(t, other); err != nil {
		t.Errorf("a request from another address: %v", err)
	}
	other.Close()
	idle[0].Close()
	waitOpen(t, cl, 2)
	if err := get(t, dialFrom(t, "127.0.0.1", addr)); err != nil {
		t.Errorf("a request from 127.0.0.1 once one of its connections closed: %v", err)
	}
}

// TestLimitListenerTotal: beyond MaxConnections every new connection is
// closed at once, from any address; the refusals are counted and logged
// once per LogInterval.
func TestLimitListenerTotal(t *testing.T) {
	var logBuf syncBuffer
	cl := &ConnLimiter{MaxConnections: 4, MaxPerAddress: 100, Logger: slog.New(slog.NewTextHandler(&logBuf, nil)), LogInterval: time.Hour}
	addr := limitedHTTP(t, cl)
	for range 4 {
		dialFrom(t, "127.0.0.1", addr)
	}
	waitOpen(t, cl, 4)
	for _, from := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.1"} {
		if !refusedFrom(t, from, addr) {
			t.Fatalf("a connection from %s beyond the total cap of 4 was not closed at once", from)
		}
	}
	if got := cl.Refused(); got != 3 {
		t.Errorf("Refused() = %d, want 3", got)
	}
	if n := strings.Count(logBuf.String(), "connections refused"); n != 1 {
		t.Errorf("%d log lines for 3 refusals within LogInterval, want 1:\n%s", n, logBuf.String())
	}
}

// TestLimitListenerUnix: Unix domain socket connections have no address;
// they count towards MaxConnections only.
func TestLimitListenerUnix(t *testing.T) {
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	cl := &ConnLimiter{MaxConnections: 3, MaxPerAddress: 1, Logger: slog.New(slog.DiscardHandler)}
	ll := cl.Listener(l)
	defer ll.Close()
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := ll.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	for range 3 {
		c, err := net.Dial("unix", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		defer within(t, accepted).Close()
	}
	c, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(testWait))
	if !refused(t, c) {
		t.Error("a fourth Unix connection beyond the total cap of 3 was not closed")
	}
	ll.Close()
	for range accepted {
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
