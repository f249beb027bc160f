package main

import (
	"bytes"
	"context"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), "127.0.0.1:0", false, &out); err != nil {
		t.Fatalf("run() = %v", err)
	}
	const want = `in-process app: com.example.greet("Ada") = "Hello, Ada!"
in-process app: event com.example.greeted "Ada"
remote client: com.example.greet("Grace") = "Hello, Grace!"
in-process app: event com.example.greeted "Grace"
GET / -> Hello from the application; WAMP is at /ws
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("run() output mismatch (-want +got):\n%s", diff)
	}
}

// TestRun_Serve checks that with serve set, run keeps serving until its
// context ends and then returns cleanly.
func TestRun_Serve(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &notifyWriter{match: regexp.MustCompile(`serving http://127\.0\.0\.1:\d+/`), seen: make(chan struct{})}
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, "127.0.0.1:0", true, out) }()
	select {
	case <-out.seen:
	case err := <-errc:
		t.Fatalf("run() returned %v before serving; output:\n%s", err, out.buf.String())
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("run() after cancel = %v", err)
	}
}

// notifyWriter closes seen once the output matches match. run writes from
// one goroutine only.
type notifyWriter struct {
	buf   bytes.Buffer
	match *regexp.Regexp
	seen  chan struct{}
	done  bool
}

func (w *notifyWriter) Write(p []byte) (int, error) {
	n, err := w.buf.Write(p)
	if !w.done && w.match.Match(w.buf.Bytes()) {
		w.done = true
		close(w.seen)
	}
	return n, err
}
