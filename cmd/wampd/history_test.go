package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/wampkit/wampkit/router"
)

var itoa = strconv.Itoa

func jsonString(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// routerConfigNew makes the router of cfg, as Run does.
func routerConfigNew(tb testing.TB, cfg Config) (*router.Router, error) {
	rcfg, err := routerConfig(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return nil, err
	}
	r, err := router.New(rcfg)
	if err == nil {
		tb.Cleanup(func() { r.Close() })
	}
	return r, err
}

// TestMain_EventHistory configures a realm's event history in the config
// file and reads it back with wamp.subscription.get_events.
func TestMain_EventHistory(t *testing.T) {
	defer goleak.VerifyNone(t)
	path := filepath.Join(t.TempDir(), "wampd.yaml")
	writeFile(t, path, `
realms:
  - name: realm1
    max_retained: 10
    event_history:
      - {topic: com.example.log, match: prefix, limit: 2, max_age: 1h}
websocket:
  address: 127.0.0.1:0
`)
	m, _, _ := mustRunMain(t, "-config", path, "-rawsocket", "")
	defer m.Close() // before goleak looks
	conn := dialWS(t, m.WebSocketURL(), nil)
	defer conn.Close()
	writeWS(t, conn, `[1,"realm1",{"roles":{"caller":{},"publisher":{}}}]`)
	msg := readWS(t, conn)
	if len(msg) != 3 || msg[0] != float64(2) || !strings.Contains(jsonString(t, msg[2]), `"event_history":true`) {
		t.Fatalf("HELLO: got %v, want WELCOME announcing event_history", msg)
	}
	writeWS(t, conn, `[48,1,{},"wamp.subscription.lookup",["com.example.log",{"match":"prefix"}]]`)
	res := readWS(t, conn)
	if len(res) < 4 || res[0] != float64(50) {
		t.Fatalf("lookup: got %v, want RESULT", res)
	}
	id := res[3].([]any)[0].(float64)
	for i := range 3 {
		writeWS(t, conn, `[16,`+itoa(10+i)+`,{"acknowledge":true},"com.example.log.x",[`+itoa(i)+`]]`)
		if p := readWS(t, conn); p[0] != float64(17) {
			t.Fatalf("PUBLISH: got %v, want PUBLISHED", p)
		}
	}
	writeWS(t, conn, `[48,2,{},"wamp.subscription.get_events",[`+itoa(int(id))+`]]`)
	res = readWS(t, conn)
	if len(res) < 4 || res[0] != float64(50) {
		t.Fatalf("get_events: got %v, want RESULT", res)
	}
	events := res[3].([]any)[0].([]any)
	if len(events) != 2 {
		t.Fatalf("get_events: %d events, want the last 2: %v", len(events), events)
	}
	if got := events[1].(map[string]any)["args"].([]any)[0]; got != float64(2) {
		t.Errorf("last event args[0] = %v, want 2", got)
	}
}

// TestEventHistoryConfigInvalid checks that a bad history topic stops
// wampd from starting.
func TestEventHistoryConfigInvalid(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Realms = []RealmConfig{{Name: "realm1", EventHistory: []HistoryConfig{{Topic: "com..x"}}}}
	if _, err := routerConfigNew(t, cfg); err == nil || !strings.Contains(err.Error(), "event history") {
		t.Errorf("router config with a bad history topic: %v, want an event history error", err)
	}
}
