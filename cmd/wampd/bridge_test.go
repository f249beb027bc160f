package main

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// TestMain_Bridge configures the HTTP bridge and publishes through it to
// a WebSocket subscriber, in a realm whose permissions decide what the
// bridge's role may do.
func TestMain_Bridge(t *testing.T) {
	defer goleak.VerifyNone(t)
	t.Setenv("WAMPD_TEST_HOOK_TOKEN", "hook-token-0123456789abcdef")
	path := filepath.Join(t.TempDir(), "wampd.yaml")
	writeFile(t, path, `
realms:
  - name: realm1
    permissions:
      anonymous:
        - {uri: com.example., match: prefix, allow: [subscribe]}
      backend:
        - {uri: com.example.news, allow: [publish]}
websocket:
  address: 127.0.0.1:0
bridge:
  address: 127.0.0.1:0
  path: /hooks
  principals:
    - {token: {env: WAMPD_TEST_HOOK_TOKEN}, realm: realm1, authid: webhook, role: backend}
`)
	m, _, _ := mustRunMain(t, "-config", path, "-rawsocket", "")
	defer m.Close() // before goleak looks
	conn := dialWS(t, m.WebSocketURL(), nil)
	defer conn.Close()
	writeWS(t, conn, `[1,"realm1",{"roles":{"subscriber":{}}}]`)
	if msg := readWS(t, conn); msg[0] != float64(2) {
		t.Fatalf("HELLO: got %v, want WELCOME", msg)
	}
	writeWS(t, conn, `[32,1,{},"com.example.news"]`)
	if msg := readWS(t, conn); msg[0] != float64(33) {
		t.Fatalf("SUBSCRIBE: got %v, want SUBSCRIBED", msg)
	}

	post := func(uri, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, "http://"+m.BridgeAddr().String()+uri, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer hook-token-0123456789abcdef")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		var out map[string]any
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatalf("POST %s: %q: %v", uri, data, err)
		}
		return resp.StatusCode, out
	}
	if status, body := post("/hooks/publish", `{"topic": "com.example.news", "args": ["hi"]}`); status != http.StatusOK {
		t.Fatalf("POST /hooks/publish = %d %v, want 200", status, body)
	}
	ev := readWS(t, conn)
	if len(ev) < 5 || ev[0] != float64(36) || ev[4].([]any)[0] != "hi" {
		t.Errorf("subscriber got %v, want the EVENT with args [hi]", ev)
	}
	if status, body := post("/hooks/publish", `{"topic": "com.example.other"}`); status != http.StatusForbidden || body["error"] != "wamp.error.not_authorized" {
		t.Errorf("POST /hooks/publish of a denied topic = %d %v, want 403 wamp.error.not_authorized", status, body)
	}
	if status, body := post("/hooks/call", `{"procedure": "com.example.proc"}`); status != http.StatusForbidden {
		t.Errorf("POST /hooks/call of a denied procedure = %d %v, want 403", status, body)
	}
}

func TestBridgeConfigInvalid(t *testing.T) {
	const token = "token-0123456789abcdef"
	tests := []struct {
		name   string
		realms []RealmConfig
		bridge BridgeConfig
		want   string
	}{
		{"no principals", nil, BridgeConfig{Address: "127.0.0.1:0"}, "needs principals"},
		{"short token", nil, BridgeConfig{Address: "127.0.0.1:0", Principals: []BridgePrincipalConfig{{Token: "short", Realm: "realm1"}}}, "token shorter"},
		{"twice", nil, BridgeConfig{Address: "127.0.0.1:0", Principals: []BridgePrincipalConfig{{Token: token, Realm: "realm1"}, {Token: token, Realm: "realm1"}}}, "token used twice"},
		{"unknown realm", nil, BridgeConfig{Address: "127.0.0.1:0", Principals: []BridgePrincipalConfig{{Token: token, Realm: "realm2"}}}, `realm "realm2" is not served`},
		{"path", nil, BridgeConfig{Address: "127.0.0.1:0", Path: "hooks", Principals: []BridgePrincipalConfig{{Token: token, Realm: "realm1"}}}, "must start with /"},
		{"role not in permissions",
			[]RealmConfig{{Name: "realm1", Permissions: map[string][]PermissionConfig{"anonymous": {}}}},
			BridgeConfig{Address: "127.0.0.1:0", Principals: []BridgePrincipalConfig{{Token: token, Realm: "realm1", AuthID: "hook", Role: "backend"}}},
			`bridge principal "hook" has role "backend", which permissions does not list`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Realms = tt.realms
			cfg.Bridge = tt.bridge
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	// A role only the bridge has may have permissions.
	cfg := DefaultConfig()
	cfg.Realms = []RealmConfig{{Name: "realm1", Permissions: map[string][]PermissionConfig{"anonymous": {}, "backend": {}}}}
	cfg.Bridge = BridgeConfig{Address: "127.0.0.1:0", Principals: []BridgePrincipalConfig{{Token: token, Realm: "realm1", Role: "backend"}}}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate() with permissions for the bridge's role = %v, want nil", err)
	}
}

// TestMain_BridgeThrottle: auth_throttle's per-address settings also
// limit the bridge's wrong bearer tokens: past address_failures, a
// client address is answered 429 even with the right token.
func TestMain_BridgeThrottle(t *testing.T) {
	defer goleak.VerifyNone(t)
	m, _, _ := mustRunConfig(t, `
auth_throttle: {address_failures: 2, address_window: 1h}
bridge:
  address: 127.0.0.1:0
  principals:
    - {token: "hook-token-0123456789abcdef", realm: realm1, role: backend}
`)
	defer m.Close() // before goleak looks
	post := func(token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, "http://"+m.BridgeAddr().String()+"/publish", strings.NewReader(`{"topic": "com.example.news"}`))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	if status, _ := post("hook-token-0123456789abcdef"); status != http.StatusOK {
		t.Fatalf("right token = %d, want 200", status)
	}
	for i := range 2 {
		if status, _ := post("wrong-token-0123456789abc"); status != http.StatusUnauthorized {
			t.Fatalf("wrong token %d = %d, want 401", i+1, status)
		}
	}
	if status, retry := post("hook-token-0123456789abcdef"); status != http.StatusTooManyRequests || retry != "1800" {
		t.Errorf("right token after 2 wrong ones = %d Retry-After %q, want 429 Retry-After 1800", status, retry)
	}
	http.DefaultClient.CloseIdleConnections()
	if err := m.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
}
