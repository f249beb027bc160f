package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// testTimeout bounds every wait of the tests: a deadline against hangs,
// never a timed assertion.
const testTimeout = 30 * time.Second

// testRouter is an embedded router serving WebSocket, RawSocket over TCP
// and over a Unix socket on 127.0.0.1 and a temporary directory.
type testRouter struct {
	r       *router.Router
	wsURL   string // ws://127.0.0.1:PORT/ws
	tcpURL  string // tcp://127.0.0.1:PORT
	unixURL string // unix:///tmp/.../wamp.sock
}

// startRouter starts a router with the realms of cfg (realm1, open, if
// none); it is closed when the test ends.
func startRouter(tb testing.TB, cfg router.Config) *testRouter {
	tb.Helper()
	if len(cfg.Realms) == 0 {
		cfg.Realms = []router.RealmConfig{{Name: "realm1"}}
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(tb)
	}
	r, err := router.New(cfg)
	if err != nil {
		tb.Fatalf("router.New: %v", err)
	}
	hs := httptest.NewServer(r.Handler())
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	sock := filepath.Join(tb.TempDir(), "wamp.sock")
	ul, err := net.Listen("unix", sock)
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, l := range []net.Listener{tl, ul} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.ServeRawSocket(l); !errors.Is(err, router.ErrClosed) {
				tb.Errorf("ServeRawSocket: %v", err)
			}
		}()
	}
	tb.Cleanup(func() {
		r.Close()
		hs.Close()
		wg.Wait()
	})
	return &testRouter{
		r:       r,
		wsURL:   "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws",
		tcpURL:  "tcp://" + tl.Addr().String(),
		unixURL: "unix://" + sock,
	}
}

// testLogger sends logs to the test log.
func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	defer func() { recover() }() //nolint:errcheck // a log line after the test ended is dropped
	w.tb.Logf("%s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}

// join joins realm (realm1 if empty) in-process; the client is closed
// when the test ends.
func (tr *testRouter) join(tb testing.TB, realm protocol.URI) *client.Client {
	tb.Helper()
	if realm == "" {
		realm = "realm1"
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	peer, err := tr.r.Connect(ctx)
	if err != nil {
		tb.Fatalf("Connect: %v", err)
	}
	c, err := client.Join(ctx, peer, client.Config{Realm: realm, Logger: testLogger(tb)})
	if err != nil {
		tb.Fatalf("Join: %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// lockedBuffer is an io.Writer that tests may read while a command
// writes to it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// result is the outcome of one run of the command.
type result struct {
	code           int
	stdout, stderr string
}

// lines returns the lines of standard output.
func (r result) lines() []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// env is the environment of a test run: no variables but these.
type env map[string]string

func (e env) getenv(k string) string { return e[k] }

// run runs the command with args and returns its outcome.
func run(tb testing.TB, e env, args ...string) result {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	var stdout, stderr lockedBuffer
	code := Run(ctx, args, Env{Stdout: &stdout, Stderr: &stderr, Getenv: e.getenv})
	if ctx.Err() != nil {
		tb.Fatalf("wamp %s: still running after %v\nstderr:\n%s", strings.Join(args, " "), testTimeout, stderr.String())
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// mustRun runs the command and fails the test unless it exits with want.
func mustRun(tb testing.TB, want int, e env, args ...string) result {
	tb.Helper()
	r := run(tb, e, args...)
	if r.code != want {
		tb.Fatalf("wamp %s: exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
	}
	return r
}

// background is a command running while the test acts.
type background struct {
	tb             testing.TB
	args           []string
	cancel         context.CancelFunc // as a signal would
	stdout, stderr *lockedBuffer
	done           chan struct{}
	code           int // set before done is closed
}

// start starts the command; it is interrupted, and waited for, when the
// test ends.
func start(tb testing.TB, e env, args ...string) *background {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &background{tb: tb, args: args, cancel: cancel, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		b.code = Run(ctx, args, Env{Stdout: b.stdout, Stderr: b.stderr, Getenv: e.getenv})
	}()
	tb.Cleanup(func() {
		cancel()
		<-b.done
	})
	return b
}

// waitStderr waits until standard error contains s, failing the test if
// the command ends first or the deadline passes.
func (b *background) waitStderr(s string) {
	b.tb.Helper()
	b.waitFor("standard error to contain "+s, func() bool { return strings.Contains(b.stderr.String(), s) })
}

// waitFor polls cond, failing the test if the command ends first or the
// deadline passes.
func (b *background) waitFor(what string, cond func() bool) {
	b.tb.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		select {
		case <-b.done:
			if cond() {
				return
			}
			b.tb.Fatalf("wamp %s: ended (status %d) before %s\nstdout:\n%s\nstderr:\n%s", strings.Join(b.args, " "), b.code, what, b.stdout, b.stderr)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.tb.Fatalf("wamp %s: no %s within %v\nstdout:\n%s\nstderr:\n%s", strings.Join(b.args, " "), what, testTimeout, b.stdout, b.stderr)
		}
	}
}

// wait waits for the command to end by itself and returns its outcome.
func (b *background) wait() result {
	b.tb.Helper()
	select {
	case <-b.done:
	case <-time.After(testTimeout):
		b.tb.Fatalf("wamp %s: still running after %v\nstdout:\n%s\nstderr:\n%s", strings.Join(b.args, " "), testTimeout, b.stdout, b.stderr)
	}
	return result{code: b.code, stdout: b.stdout.String(), stderr: b.stderr.String()}
}

// interrupt ends the command as SIGINT would and returns its outcome.
func (b *background) interrupt() result {
	b.tb.Helper()
	b.cancel()
	return b.wait()
}

// decodeLine decodes one JSON line into a generic value.
func decodeLine(tb testing.TB, line string) map[string]any {
	tb.Helper()
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		tb.Fatalf("not a JSON object: %q: %v", line, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		tb.Fatalf("more than one JSON value in %q", line)
	}
	return m
}

// ctxT returns a context bounded by testTimeout.
func ctxT(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	tb.Cleanup(cancel)
	return ctx
}

// poll waits for cond, failing the test after testTimeout.
func poll(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("no %s within %v", what, testTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func touch(tb testing.TB, path string) {
	tb.Helper()
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		tb.Fatal(err)
	}
}
