package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// TestHealthcheck runs wampd -healthcheck against a running wampd's
// admin and WebSocket listeners, a path that is not there and a port
// nobody listens on.
func TestHealthcheck(t *testing.T) {
	defer goleak.VerifyNone(t)
	m, _, _ := mustRunMain(t, "-ws", "127.0.0.1:0", "-rawsocket", "", "-admin", "127.0.0.1:0")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	tests := []struct {
		url     string
		wantErr string // "" means healthy
	}{
		{url: "http://" + m.AdminAddr().String() + "/healthz"},
		{url: "http://" + m.WebSocketAddr().String() + "/healthz"},
		{url: "http://" + m.AdminAddr().String() + "/nope", wantErr: "404 Not Found"},
		{url: "http://" + closed + "/healthz", wantErr: "connection refused"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		hc := NewMain()
		hc.Stdout, hc.Stderr = &out, io.Discard
		// A configuration that would not validate: -healthcheck reads none.
		if err := hc.ParseFlags(context.Background(), []string{"-healthcheck", tt.url, "-config", "/nonexistent"}); err != nil {
			t.Fatalf("ParseFlags(-healthcheck %s) = %v", tt.url, err)
		}
		err := hc.Healthcheck(context.Background())
		switch {
		case tt.wantErr == "" && (err != nil || out.String() != "ok\n"):
			t.Errorf("Healthcheck(%s) = %v, printed %q; want nil, ok", tt.url, err, out.String())
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("Healthcheck(%s) = %v, want an error containing %q", tt.url, err, tt.wantErr)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"127.0.0.1:8082/healthz", "ftp://x/healthz", "http:///healthz"} {
		hc := NewMain()
		hc.Stderr = io.Discard
		if err := hc.ParseFlags(context.Background(), []string{"-healthcheck", bad}); err == nil || !strings.Contains(err.Error(), "want an http:// URL") {
			t.Errorf("ParseFlags(-healthcheck %s) = %v, want an error", bad, err)
		}
	}
}
