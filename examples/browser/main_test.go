package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
)

// startRun runs the example on a free port until the test ends and
// returns its base URL.
func startRun(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &notifyWriter{match: regexp.MustCompile(`serving (http://127\.0\.0\.1:\d+)/`), seen: make(chan string, 1)}
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, "127.0.0.1:0", out) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("run() after cancel = %v", err)
		}
	})
	select {
	case base := <-out.seen:
		return base
	case err := <-errc:
		t.Fatalf("run() returned %v before serving", err)
	case <-time.After(30 * time.Second):
		t.Fatal("run() did not start serving")
	}
	return ""
}

// TestChat does over WebSocket what the page does: subscribe, call the
// backend, receive the event.
func TestChat(t *testing.T) {
	base := startRun(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", client.Config{Realm: realm, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	events := make(chan protocol.List, 1)
	if _, err := c.Subscribe(ctx, messageTopic, func(ev *client.Event) { events <- ev.Args }, nil); err != nil {
		t.Fatal(err)
	}
	res, err := c.Call(ctx, sendProcedure, " Ada ", "hello")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(protocol.List{int64(1)}, res.Args); diff != "" {
		t.Errorf("send() mismatch (-want +got):\n%s", diff)
	}
	select {
	case got := <-events:
		if diff := cmp.Diff(protocol.List{int64(1), "Ada", "hello"}, got); diff != "" {
			t.Errorf("event mismatch (-want +got):\n%s", diff)
		}
	case <-ctx.Done():
		t.Fatal("no event")
	}

	for _, args := range [][]any{{"Ada", "  "}, {"Ada"}, {"Ada", 42}, {"Ada", strings.Repeat("x", maxText+1)}} {
		_, err := c.Call(ctx, sendProcedure, args...)
		var werr *protocol.Error
		if !errors.As(err, &werr) || werr.URI != protocol.ErrInvalidArgument {
			t.Errorf("send(%v) = %v, want ERROR %s", args, err, protocol.ErrInvalidArgument)
		}
	}
}

// TestPage checks that the page and its script are served.
func TestPage(t *testing.T) {
	base := startRun(t)
	for path, want := range map[string]string{"/": "<title>wampkit chat</title>", "/chat.js": "com.example.chat.send"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s = %d, want 200 with %q", path, resp.StatusCode, want)
		}
	}
}

// notifyWriter sends the first submatch of match on seen once the output
// matches.
type notifyWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	match *regexp.Regexp
	seen  chan string
	done  bool
}

func (w *notifyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if m := w.match.FindStringSubmatch(w.buf.String()); m != nil && !w.done {
		w.done = true
		w.seen <- m[1]
	}
	return len(p), nil
}
