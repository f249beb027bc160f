package bridge_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wampkit/wampkit/bridge"
	"github.com/wampkit/wampkit/protocol"
)

// clientFrom returns an HTTP client whose connections come from the
// loopback address local (Linux routes all of 127.0.0.0/8 to lo), so
// that one test can be two clients with different addresses.
func clientFrom(local string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
	}}
}

// postFrom is env.post from client c, also returning the Retry-After
// header.
func (e *env) postFrom(tb testing.TB, c *http.Client, token string) (int, string, string) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, e.bridge+"/publish", strings.NewReader(`{"topic": "com.example.news"}`))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		tb.Fatalf("POST /publish: %d, body: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, body.Error, resp.Header.Get("Retry-After")
}

// TestWrongTokensThrottledPerAddress: with the default settings, the
// 21st request with a wrong bearer token from one address in a minute
// is answered 429 (and so is the right token from there, unchecked),
// while another address still gets its token checked.
func TestWrongTokensThrottledPerAddress(t *testing.T) {
	e := newEnv(t, 0)
	a, b := clientFrom("127.0.0.1"), clientFrom("127.0.0.2")
	defer a.CloseIdleConnections()
	defer b.CloseIdleConnections()
	const failures = 20 // the default
	for i := range failures {
		if status, uri, _ := e.postFrom(t, a, "wrong-token-0123456789"); status != http.StatusUnauthorized {
			t.Fatalf("wrong token %d of %d from A = %d %s, want 401", i+1, failures, status, uri)
		}
	}
	for _, token := range []string{"wrong-token-0123456789", backendToken} {
		status, uri, retry := e.postFrom(t, a, token)
		if status != http.StatusTooManyRequests || uri != string(protocol.ErrAuthenticationDenied) || retry != "3" {
			t.Errorf("token %.5s... from A after %d failures = %d %s Retry-After %q, want 429 %s Retry-After 3",
				token, failures, status, uri, retry, protocol.ErrAuthenticationDenied)
		}
	}
	if status, uri, _ := e.postFrom(t, b, "wrong-token-0123456789"); status != http.StatusUnauthorized {
		t.Errorf("wrong token from B = %d %s, want 401", status, uri)
	}
	if status, uri, _ := e.postFrom(t, b, backendToken); status != http.StatusOK {
		t.Errorf("right token from B = %d %s, want 200", status, uri)
	}
}

// TestThrottleSettings: Throttle's Failures and Window set the budget
// and the Retry-After (Window/Failures); negative Failures turns the
// throttling off; requests without a token are not counted.
func TestThrottleSettings(t *testing.T) {
	tests := []struct {
		name      string
		throttle  bridge.Throttle
		wantAfter int    // the first 429 comes after this many wrong tokens; 0: none
		wantRetry string // its Retry-After
	}{
		{"2 per hour", bridge.Throttle{Failures: 2, Window: time.Hour}, 2, "1800"},
		{"1 per 10s", bridge.Throttle{Failures: 1, Window: 10 * time.Second}, 1, "10"},
		{"off", bridge.Throttle{Failures: -1}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnvWith(t, func(c *bridge.Config) { c.Throttle = tt.throttle })
			c := clientFrom("127.0.0.1")
			defer c.CloseIdleConnections()
			for range 30 { // no token: not counted
				if status, _ := e.post(t, "/publish", "", "", `{"topic": "com.example.news"}`); status != http.StatusUnauthorized {
					t.Fatalf("no token = %d, want 401", status)
				}
			}
			n := 30
			if tt.wantAfter > 0 {
				n = tt.wantAfter
			}
			for i := range n {
				if status, uri, _ := e.postFrom(t, c, "wrong-token-0123456789"); status != http.StatusUnauthorized {
					t.Fatalf("wrong token %d = %d %s, want 401", i+1, status, uri)
				}
			}
			if tt.wantAfter == 0 {
				return
			}
			if status, _, retry := e.postFrom(t, c, backendToken); status != http.StatusTooManyRequests || retry != tt.wantRetry {
				t.Errorf("right token after %d wrong ones = %d Retry-After %q, want 429 Retry-After %s", n, status, retry, tt.wantRetry)
			}
		})
	}
}
