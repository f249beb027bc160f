package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// dialFrom connects to addr from the local IP address from; the test is
// skipped when the system has no such address (Linux answers for all of
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
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || strings.Contains(err.Error(), "assign requested address") {
			tb.Skipf("no local address %s: %v", from, err)
		}
		return nil, err
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	tb.Cleanup(func() { c.Close() })
	return c, nil
}

// refusedFrom connects to addr from the local address from, sends
// request (which an accepted connection answers) and reports whether
// wampd closed the connection without an answer: the dial fails with a
// reset, or the read ends with EOF or a reset.
func refusedFrom(tb testing.TB, from, addr string, request []byte) (bool, error) {
	tb.Helper()
	c, err := tryDialFrom(tb, from, addr)
	if err != nil {
		return errors.Is(err, syscall.ECONNRESET), err
	}
	c.Write(request) // a reset shows in the read
	n, err := c.Read(make([]byte, 1))
	if isTimeout(err) {
		tb.Fatalf("no answer to %q, and no close", request)
	}
	return n == 0, err
}

// Requests that wampd's WebSocket and RawSocket listeners answer at once.
var (
	healthzRequest = []byte("GET /healthz HTTP/1.1\r\nHost: wampd\r\n\r\n")
	rawHandshake   = []byte{0x7f, 0xf1, 0, 0}
)

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// healthz sends GET /healthz on c and reads the answer.
func healthz(tb testing.TB, c net.Conn, br *bufio.Reader) {
	tb.Helper()
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: wampd\r\n\r\n"); err != nil {
		tb.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		tb.Fatalf("GET /healthz: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok\n" {
		tb.Fatalf("GET /healthz = %s %q", resp.Status, body)
	}
}

// closedByServer reports whether the server closed c: a read ends with EOF
// or a reset, not with c's deadline.
func closedByServer(br *bufio.Reader) (bool, error) {
	_, err := br.ReadByte()
	if isTimeout(err) {
		return false, err
	}
	return err != nil, err
}

// TestMain_IdleHTTPClosed: a keep-alive connection that made one request
// and then says nothing is closed after idle_timeout (it used to be held
// forever, and 20,000 of them exhausted wampd's descriptors).
func TestMain_IdleHTTPClosed(t *testing.T) {
	m, _, _ := mustRunConfig(t, "websocket:\n  address: 127.0.0.1:0\n  path: /ws\n  idle_timeout: 100ms\nrawsocket:\n  address: \"\"\n")
	c := dialFrom(t, "127.0.0.1", m.WebSocketAddr().String())
	br := bufio.NewReader(c)
	healthz(t, c, br)
	// Poll for the close: the read returns when the server closes, or at
	// the connection's deadline (10s) if it never does.
	if closed, err := closedByServer(br); !closed {
		t.Errorf("idle keep-alive connection after GET /healthz: %v, want it closed by wampd", err)
	}
}

// TestMain_HTTPTimeoutsSpareWebSocket: the HTTP timeouts apply to HTTP
// requests, not to upgraded WebSocket sessions (net/http and gorilla
// clear the deadlines when the connection is hijacked).
func TestMain_HTTPTimeoutsSpareWebSocket(t *testing.T) {
	m, _, _ := mustRunConfig(t, "websocket:\n  address: 127.0.0.1:0\n  path: /ws\n"+
		"  read_header_timeout: 50ms\n  read_timeout: 50ms\n  write_timeout: 50ms\n  idle_timeout: 50ms\n"+
		"rawsocket:\n  address: \"\"\n")
	conn := dialWS(t, m.WebSocketURL(), nil)
	defer conn.Close()
	writeWS(t, conn, `[1,"realm1",{"roles":{"caller":{}}}]`)
	if welcome := readWS(t, conn); welcome[0] != float64(2) {
		t.Fatalf("reply to HELLO = %v, want WELCOME", welcome)
	}
	time.Sleep(300 * time.Millisecond) // not an assertion: outlive every HTTP timeout
	writeWS(t, conn, `[48,1,{},"wamp.session.count"]`)
	if res := readWS(t, conn); res[0] != float64(50) {
		t.Errorf("reply to CALL after the HTTP timeouts = %v, want RESULT", res)
	}
}

// TestMain_ConnectionLimits: connections beyond the per-address cap are
// closed at once, on the WebSocket and the RawSocket listener alike (they
// share the caps), before anything is read, while another address is
// served; and beyond the total cap every address is refused.
func TestMain_ConnectionLimits(t *testing.T) {
	t.Run("per address", func(t *testing.T) {
		m, _, logs := mustRunMain(t, "-ws", "127.0.0.1:0", "-rawsocket", "127.0.0.1:0", "-max-connections-per-address", "3")
		ws, rs := m.WebSocketAddr().String(), m.RawSocketAddr().String()
		dialFrom(t, "127.0.0.1", ws) // idle: never sends a request
		dialFrom(t, "127.0.0.1", rs) // idle: never sends a handshake
		dialFrom(t, "127.0.0.1", ws)
		waitOpen(t, m, 3)
		for _, l := range []struct {
			addr    string
			request []byte
		}{{ws, healthzRequest}, {rs, rawHandshake}} {
			addr := l.addr
			if closed, err := refusedFrom(t, "127.0.0.1", addr, l.request); !closed {
				t.Errorf("a fourth connection from 127.0.0.1 to %s: %v, want it closed at once", addr, err)
			}
		}
		c := dialFrom(t, "127.0.0.2", ws)
		healthz(t, c, bufio.NewReader(c))
		r := dialFrom(t, "127.0.0.2", rs)
		rawSocketHandshake(t, r)
		if !strings.Contains(logs.String(), "connections refused") {
			t.Errorf("log lacks the refusals:\n%s", logs.String())
		}
	})
	t.Run("total", func(t *testing.T) {
		m, _, _ := mustRunMain(t, "-ws", "127.0.0.1:0", "-rawsocket", "", "-max-connections", "2")
		ws := m.WebSocketAddr().String()
		dialFrom(t, "127.0.0.1", ws)
		dialFrom(t, "127.0.0.2", ws)
		waitOpen(t, m, 2)
		if closed, err := refusedFrom(t, "127.0.0.3", ws, healthzRequest); !closed {
			t.Errorf("a third connection, from a third address: %v, want it closed at once", err)
		}
	})
}

// waitOpen polls until wampd counts n open connections.
func waitOpen(tb testing.TB, m *Main, n int) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for m.limiter.Open() != n {
		if time.Now().After(deadline) {
			tb.Fatalf("%d connections open, want %d", m.limiter.Open(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestConnectionLimitDefaults: the total cap leaves a tenth of the open
// files limit (at least 64) for the rest of wampd; the per-address cap is
// 1000, or half the total if that is less.
func TestConnectionLimitDefaults(t *testing.T) {
	tests := []struct {
		setting, perAddr int
		fds              uint64
		want, wantPer    int
	}{
		{0, 0, 1 << 20, 1<<20 - 1<<20/10, 1000},
		{0, 0, 65536, 65536 - 6553, 1000},
		{0, 0, 1024, 1024 - 102, 461},
		{0, 0, 256, 192, 96},
		{0, 0, 70, 64, 32},
		{0, 0, 0, fallbackMaxConnections, 1000},
		{0, 0, ^uint64(0), fallbackMaxConnections, 1000},
		{5000, 0, 1024, 5000, 1000},
		{-1, 0, 1024, 0, 1000},
		{-1, -1, 1024, 0, 0},
		{0, 7, 1024, 922, 7},
	}
	for _, tt := range tests {
		got := maxConnections(tt.setting, tt.fds)
		gotPer := maxPerAddress(tt.perAddr, got)
		if diff := cmp.Diff([2]int{tt.want, tt.wantPer}, [2]int{got, gotPer}); diff != "" {
			t.Errorf("limits(%d, %d, fds %d) mismatch (-want +got):\n%s", tt.setting, tt.perAddr, tt.fds, diff)
		}
	}
}
