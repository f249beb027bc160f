package transport

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// upgradeRequest sends a WebSocket upgrade request to url (ws://) with
// origin (if not empty) and offering protos, and returns the status and
// body of the refusal.
func upgradeRequest(tb testing.TB, url, origin string, protos ...string) (int, string) {
	tb.Helper()
	req, err := http.NewRequestWithContext(testContext(tb), http.MethodGet, "http"+strings.TrimPrefix(url, "ws"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	if len(protos) > 0 {
		req.Header.Set("Sec-WebSocket-Protocol", strings.Join(protos, ", "))
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// warnLines returns the JSON log lines in buf at level WARN.
func warnLines(tb testing.TB, buf *syncBuffer) []map[string]any {
	tb.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			tb.Fatalf("log line %q: %v", l, err)
		}
		if m["level"] == "WARN" {
			lines = append(lines, m)
		}
	}
	return lines
}

// TestWebSocketRefusals: an upgrade refused for its Origin or for its
// sub-protocols is answered with a body that names the setting to change
// and is logged at WARN with the origin and the sub-protocols offered.
func TestWebSocketRefusals(t *testing.T) {
	tests := []struct {
		name     string
		cfg      WebSocketConfig
		origin   string
		offer    []string
		status   int
		body     []string // in the body of the response
		msg      string   // in the log message
		attrs    map[string]string
		notInLog string
	}{
		{
			name:   "foreign origin",
			origin: "https://app.example.com",
			offer:  []string{"wamp.2.json"},
			status: http.StatusForbidden,
			body:   []string{`"https://app.example.com"`, "allowed_origins", "-allowed-origins", "WebSocketConfig.CheckOrigin"},
			msg:    "origin",
			attrs:  map[string]string{"origin": "https://app.example.com", "offered": "wamp.2.json"},
		},
		{
			name:   "refused by CheckOrigin",
			cfg:    WebSocketConfig{CheckOrigin: func(*http.Request) bool { return false }},
			origin: "https://app.example.com",
			offer:  []string{"wamp.2.msgpack"},
			status: http.StatusForbidden,
			body:   []string{`"https://app.example.com"`, "WebSocketConfig.CheckOrigin"},
			msg:    "origin",
			attrs:  map[string]string{"origin": "https://app.example.com", "offered": "wamp.2.msgpack"},
		},
		{
			name:   "no sub-protocol of ours",
			origin: "https://app.example.com",
			offer:  []string{"wamp.2.ubjson", "mqtt"},
			cfg:    WebSocketConfig{CheckOrigin: func(*http.Request) bool { return true }},
			status: http.StatusBadRequest,
			body:   []string{"wamp.2.ubjson, mqtt", "wamp.2.json", "wamp.2.cbor", "serializers"},
			msg:    "sub-protocol",
			attrs:  map[string]string{"origin": "https://app.example.com", "offered": "wamp.2.ubjson, mqtt"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs syncBuffer
			tt.cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
			_, url := wsServer(t, tt.cfg, nil, func(Peer) { t.Error("handler called for a refused upgrade") })
			status, body := upgradeRequest(t, url, tt.origin, tt.offer...)
			if status != tt.status {
				t.Errorf("status = %d, want %d", status, tt.status)
			}
			for _, want := range tt.body {
				if !strings.Contains(body, want) {
					t.Errorf("body = %q, want it to contain %q", body, want)
				}
			}
			lines := warnLines(t, &logs)
			if len(lines) != 1 {
				t.Fatalf("%d WARN lines, want 1:\n%s", len(lines), logs.String())
			}
			if msg, _ := lines[0]["msg"].(string); !strings.Contains(msg, tt.msg) {
				t.Errorf("log message = %q, want it to contain %q", msg, tt.msg)
			}
			for k, want := range tt.attrs {
				if got := lines[0][k]; got != want {
					t.Errorf("log attribute %s = %v, want %q", k, got, want)
				}
			}
		})
	}
}

// TestWebSocketRefusalsRateLimited: a flood of refused upgrades is
// answered in full but logged in a few lines (one per 10 seconds and
// reason), so it cannot fill a disk.
func TestWebSocketRefusalsRateLimited(t *testing.T) {
	var logs syncBuffer
	_, url := wsServer(t, WebSocketConfig{PeerConfig: PeerConfig{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}}, nil,
		func(Peer) { t.Error("handler called for a refused upgrade") })
	const n = 200
	for i := range n {
		if status, _ := upgradeRequest(t, url, "https://app.example.com", "wamp.2.json"); status != http.StatusForbidden {
			t.Fatalf("request %d: status = %d, want 403", i, status)
		}
	}
	// A bound with a wide margin, not a measurement: 200 requests take
	// far less than the 100 seconds that 10 lines would need.
	lines := warnLines(t, &logs)
	if len(lines) == 0 || len(lines) > 10 {
		t.Errorf("%d WARN lines for %d refusals, want 1 to 10", len(lines), n)
	}
	// The flood does not hide a refusal for another reason.
	if status, _ := upgradeRequest(t, url, "", "wamp.2.xml"); status != http.StatusBadRequest {
		t.Fatalf("status = %d, want 400", status)
	}
	after := warnLines(t, &logs)
	if len(after) != len(lines)+1 || !strings.Contains(after[len(after)-1]["msg"].(string), "sub-protocol") {
		t.Errorf("after a flood of bad origins, a bad sub-protocol was not logged:\n%s", logs.String())
	}
}
