package router_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/router/auth"
	"github.com/wampkit/wampkit/transport"
)

// syncBuffer is a bytes.Buffer safe for the router's concurrent logging.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the lines written so far that contain sub.
func (b *syncBuffer) lines(sub string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, l := range strings.Split(b.buf.String(), "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return out
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// ticketRouter returns a router whose realm1 admits alice and bob by
// ticket, with the given throttle and logger, served over WebSocket on
// 127.0.0.1; it returns the router and its ws:// URL.
func ticketRouter(tb testing.TB, thr router.AuthThrottle, logger *slog.Logger) (*router.Router, string) {
	tb.Helper()
	r := newRouter(tb, router.Config{AuthThrottle: thr, Logger: logger, Realms: []router.RealmConfig{{Name: realm1, Authenticators: []router.Authenticator{
		&auth.Ticket{Principals: map[string]auth.Principal{"alice": {Secret: "opensesame"}, "bob": {Secret: "hunter2"}}},
	}}}})
	ts := httptest.NewServer(r.Handler())
	tb.Cleanup(ts.Close)
	return r, "ws" + strings.TrimPrefix(ts.URL, "http")
}

// outcome is how a ticket login ended.
type outcome struct {
	challenged bool
	welcomed   bool
	reason     protocol.URI // ABORT reason
	message    string       // ABORT Details.message
}

func (o outcome) String() string {
	if o.welcomed {
		return fmt.Sprintf("welcomed (challenged %v)", o.challenged)
	}
	return fmt.Sprintf("ABORT %s %q (challenged %v)", o.reason, o.message, o.challenged)
}

// throttled is the outcome of a login the throttle refused.
var throttled = outcome{reason: protocol.ErrAuthenticationDenied, message: router.ThrottledMessage}

// wrongTicket is the outcome of a wrong ticket or an unknown authid.
var wrongTicket = outcome{challenged: true, reason: protocol.ErrAuthenticationDenied, message: "wrong ticket"}

// welcomed is the outcome of a right ticket.
var welcomed = outcome{challenged: true, welcomed: true}

// login tries authid and ticket over WebSocket to url (from 127.0.0.1),
// or in-process to r if url is "".
func login(tb testing.TB, r *router.Router, url, authid, ticket string) outcome {
	tb.Helper()
	var c *testPeer
	if url == "" {
		c = connect(tb, r)
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		p, err := transport.DialWebSocket(ctx, url, transport.WebSocketDialConfig{})
		if err != nil {
			tb.Fatalf("DialWebSocket: %v", err)
		}
		c = newTestPeer(tb, p, 16)
	}
	defer c.p.Close(nil)
	c.send(&protocol.Hello{Realm: realm1, Details: protocol.Dict{"roles": clientRoles(), "authid": authid, "authmethods": []any{"ticket"}}})
	var o outcome
	m := c.recv()
	if _, ok := m.(*protocol.Challenge); ok {
		o.challenged = true
		c.send(&protocol.Authenticate{Signature: ticket, Extra: protocol.Dict{}})
		m = c.recv()
	}
	switch m := m.(type) {
	case *protocol.Welcome:
		o.welcomed = true
	case *protocol.Abort:
		o.reason, o.message = m.Reason, m.Details.String("message")
	default:
		tb.Fatalf("got %s, want WELCOME or ABORT", describe(m))
	}
	return o
}

// expectLogin requires login to end as want.
func expectLogin(tb testing.TB, r *router.Router, url, authid, ticket string, want outcome) {
	tb.Helper()
	if got := login(tb, r, url, authid, ticket); got != want {
		where := "over WebSocket"
		if url == "" {
			where = "in-process"
		}
		tb.Fatalf("login %s as %q: %v, want %v", where, logName(authid), got, want)
	}
}

// logName cuts authid for test messages.
func logName(authid string) string {
	if len(authid) > 20 {
		return fmt.Sprintf("%s...(%d bytes)", authid[:20], len(authid))
	}
	return authid
}

// TestAuthThrottleAuthID: past AuthIDFailures, an authid (known or not) is
// refused without a CHALLENGE, even with the right ticket and from
// anywhere, while other authids from the same address still get in.
func TestAuthThrottleAuthID(t *testing.T) {
	r, url := ticketRouter(t, router.AuthThrottle{AuthIDFailures: 3, AuthIDWindow: time.Hour, AddressFailures: 1000}, nil)
	for _, authid := range []string{"alice", "mallory"} {
		for range 3 {
			expectLogin(t, r, url, authid, "guess", wrongTicket)
		}
		expectLogin(t, r, url, authid, "guess", throttled)
	}
	expectLogin(t, r, url, "alice", "opensesame", throttled)
	expectLogin(t, r, "", "alice", "opensesame", throttled)
	expectLogin(t, r, url, "bob", "hunter2", welcomed)
}

// TestAuthThrottleAddress: past AddressFailures, a client address is
// refused without a CHALLENGE, whatever authid it tries, while in-process
// sessions (which have no address) and the authids themselves are not
// held back.
func TestAuthThrottleAddress(t *testing.T) {
	r, url := ticketRouter(t, router.AuthThrottle{AddressFailures: 3, AddressWindow: time.Hour, AuthIDFailures: 1000}, nil)
	for i := range 3 {
		expectLogin(t, r, url, fmt.Sprintf("user%d", i), "guess", wrongTicket)
	}
	expectLogin(t, r, url, "alice", "opensesame", throttled)
	expectLogin(t, r, url, "user9", "guess", throttled)
	expectLogin(t, r, "", "alice", "opensesame", welcomed)
}

// TestAuthThrottleExpires: the refusal ends once the window has given a
// failure back, even for a client that keeps trying meanwhile (throttled
// attempts do not prolong it).
func TestAuthThrottleExpires(t *testing.T) {
	for _, tt := range []struct {
		name string
		thr  router.AuthThrottle
	}{
		{"authid", router.AuthThrottle{AuthIDFailures: 1, AuthIDWindow: 300 * time.Millisecond, AddressFailures: 1000}},
		{"address", router.AuthThrottle{AddressFailures: 1, AddressWindow: 300 * time.Millisecond, AuthIDFailures: 1000}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, url := ticketRouter(t, tt.thr, nil)
			expectLogin(t, r, url, "alice", "guess", wrongTicket)
			deadline := time.Now().Add(wait)
			for {
				got := login(t, r, url, "alice", "opensesame")
				if got == welcomed {
					break
				}
				if got != throttled {
					t.Fatalf("login: %v, want %v or %v", got, throttled, welcomed)
				}
				if time.Now().After(deadline) {
					t.Fatalf("still throttled after %v", wait)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// TestAuthThrottleDisabled: with Disabled, failures never hold anyone
// back.
func TestAuthThrottleDisabled(t *testing.T) {
	r, url := ticketRouter(t, router.AuthThrottle{Disabled: true}, nil)
	for range 20 + 5 { // 20: the default of AuthThrottle.AddressFailures
		expectLogin(t, r, url, "alice", "guess", wrongTicket)
	}
	expectLogin(t, r, url, "alice", "opensesame", welcomed)
}

// TestAuthThrottleDefaults: the zero AuthThrottle throttles an authid
// after AuthThrottle.AuthIDFailures' default, 5.
func TestAuthThrottleDefaults(t *testing.T) {
	r, _ := ticketRouter(t, router.AuthThrottle{}, nil)
	for range 5 { // the default of AuthThrottle.AuthIDFailures
		expectLogin(t, r, "", "alice", "guess", wrongTicket)
	}
	expectLogin(t, r, "", "alice", "opensesame", throttled)
}

// TestAuthThrottleBounded: however many authids fail, the router
// remembers at most MaxEntries of them.
func TestAuthThrottleBounded(t *testing.T) {
	const max = 20
	r, _ := ticketRouter(t, router.AuthThrottle{MaxEntries: max, AuthIDFailures: 2, AuthIDWindow: time.Hour}, nil)
	for i := range 10 * max {
		expectLogin(t, r, "", fmt.Sprintf("user%d", i), "guess", wrongTicket)
		if n, _ := router.AuthThrottleLen(r); n > max {
			t.Fatalf("after %d authids the throttle remembers %d, want at most %d", i+1, n, max)
		}
	}
	if n, _ := router.AuthThrottleLen(r); n != max {
		t.Errorf("throttle remembers %d authids, want %d", n, max)
	}
}

// TestAuthFailureLog: every failed authentication is logged at WARN with
// realm, authmethod, authid, reason and remote address, and never with
// the ticket; the start of throttling is logged once; beyond LogLines per
// LogInterval lines are suppressed and then counted in one line.
func TestAuthFailureLog(t *testing.T) {
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	r, url := ticketRouter(t, router.AuthThrottle{AuthIDFailures: 2, AuthIDWindow: time.Hour, AddressFailures: 1000, LogLines: 4, LogInterval: time.Hour}, logger)

	expectLogin(t, r, url, "alice", "secret-guess-1", wrongTicket)
	lines := buf.lines("authentication failed")
	if len(lines) != 1 {
		t.Fatalf("log lines about the failure: %q, want 1", lines)
	}
	for _, want := range []string{"level=WARN", "realm=realm1", "authmethod=ticket", "authid=alice", "reason=wamp.error.authentication_denied", "remote=tcp4:127.0.0.1:"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("log line %q lacks %q", lines[0], want)
		}
	}

	expectLogin(t, r, url, "alice", "secret-guess-2", wrongTicket) // throttling starts
	expectLogin(t, r, url, "alice", "opensesame", throttled)
	expectLogin(t, r, url, "alice", "opensesame", throttled)
	if got := buf.lines("throttl"); len(got) != 1 || !strings.Contains(got[0], "authid=alice") {
		t.Errorf("log lines about throttling: %q, want one naming alice", got)
	}

	// An authid of 10,000 bytes is logged cut short.
	long := strings.Repeat("x", 10_000)
	expectLogin(t, r, url, long, "secret-guess-3", wrongTicket) // line 4 of 4
	for i := range 5 {
		expectLogin(t, r, url, fmt.Sprintf("carol%d", i), "secret-guess-4", wrongTicket) // suppressed
	}
	if got := buf.lines("level=WARN"); len(got) != 4 {
		t.Errorf("%d WARN lines within the interval, want 4:\n%s", len(got), strings.Join(got, "\n"))
	}
	r.Close() // reports what was suppressed
	if got := buf.lines("suppressed"); len(got) != 1 || !strings.Contains(got[0], "suppressed=5") {
		t.Errorf("lines about suppressed lines: %q, want one with suppressed=5", got)
	}
	log := buf.String()
	for _, secret := range []string{"secret-guess", "opensesame", "hunter2"} {
		if strings.Contains(log, secret) {
			t.Errorf("the log contains %q:\n%s", secret, log)
		}
	}
	if strings.Contains(log, long[:1000]) {
		t.Errorf("the log holds the 10,000-byte authid whole")
	}
}
