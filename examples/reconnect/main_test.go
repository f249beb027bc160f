package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/router"
)

// server is a router served over WebSocket on a listener.
type server struct {
	r  *router.Router
	hs *http.Server
	wg sync.WaitGroup
}

func serve(t *testing.T, l net.Listener) *server {
	t.Helper()
	r, err := router.New(router.Config{
		Realms: []router.RealmConfig{{Name: "realm1"}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", r.Handler())
	s := &server{r: r, hs: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	s.wg.Go(func() { s.hs.Serve(l) })
	t.Cleanup(s.stop)
	return s
}

// stop stops the router at once, as a crash would, and its server.
func (s *server) stop() {
	s.r.Close()
	s.hs.Close()
	s.wg.Wait()
}

// syncBuffer is a bytes.Buffer that run and the test may share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestRun restarts the router under the example: it must join the new
// router and serve its procedure there.
func TestRun(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	url := "ws://" + addr + "/ws"
	first := serve(t, l)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rctx, stop := context.WithCancel(ctx)
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(rctx, url, client.Config{Realm: "realm1"}, &out) }()
	waitFor(t, ctx, &out, "serving com.example.echo", 1)

	first.stop()
	l2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	serve(t, l2)
	waitFor(t, ctx, &out, "\ndisconnected", 1)
	waitFor(t, ctx, &out, "\nconnected\n", 2) // joined the new router

	caller, err := client.Dial(ctx, url, client.Config{Realm: "realm1"})
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	got, err := Echo.Call(ctx, caller, "hello again")
	if err != nil || got != "hello again" {
		t.Errorf("Echo after the restart = %q, %v", got, err)
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("run = %v", err)
	}
}

// waitFor polls out until it holds want n times, or ctx ends.
func waitFor(t *testing.T, ctx context.Context, out *syncBuffer, want string, n int) {
	t.Helper()
	for strings.Count("\n"+out.String(), want) < n {
		select {
		case <-ctx.Done():
			t.Fatalf("%q not %d times in the output:\n%s", want, n, out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}
