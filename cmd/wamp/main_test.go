package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"go.uber.org/goleak"
)

// testTimeout bounds every wait: a deadline against hangs, not a timed
// assertion.
const testTimeout = 60 * time.Second

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// build builds the wamp binary into a temporary directory, with a version
// stamped in as make build does.
func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "wamp")
	ctx, cancel := context.WithTimeout(context.Background(), 5*testTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-ldflags", "-X main.version=v0.0.0-test", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// lockedBuffer collects a process's output while the test reads it.
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

// TestBinary builds wamp and runs it as a process against a router:
// output, exit statuses, the environment, and SIGINT ending a
// subscription.
func TestBinary(t *testing.T) {
	bin := build(t)
	r, err := router.New(router.Config{Realms: []router.RealmConfig{{Name: "realm1"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	hs := httptest.NewServer(r.Handler())
	t.Cleanup(hs.Close)
	wsURL := "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws"

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	peer, err := r.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Join(ctx, peer, client.Config{Realm: "realm1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Register(ctx, "com.example.add", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		var sum int64
		for _, a := range inv.Args {
			n, _ := protocol.ToInt64(a)
			sum += n
		}
		return &client.Result{Args: protocol.List{sum}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}

	wamp := func(env []string, args ...string) (code int, stdout, stderr string) {
		t.Helper()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(os.Environ(), env...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			return ee.ExitCode(), out.String(), errb.String()
		case err != nil:
			t.Fatalf("run wamp: %v", err)
		}
		return 0, out.String(), errb.String()
	}
	env := []string{"WAMP_URL=" + wsURL}

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"call", []string{"call", "com.example.add", "2", "3"}, 0, `{"args":[5],"kwargs":{}}` + "\n", ""},
		{"wamp error", []string{"call", "com.example.nothing"}, 1, "", "wamp: ERROR wamp.error.no_such_procedure"},
		{"usage", []string{"call"}, 2, "", "missing PROCEDURE"},
		{"connection", []string{"--url", "tcp://" + closedAddr(t), "call", "x.y"}, 3, "", "connection refused"},
		{"version", []string{"--version"}, 0, "wamp version v0.0.0-test\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := wamp(env, tt.args...)
			if code != tt.wantCode || stdout != tt.wantStdout || !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("wamp %s: status %d, stdout %q, stderr %q; want %d, %q, stderr with %q",
					strings.Join(tt.args, " "), code, stdout, stderr, tt.wantCode, tt.wantStdout, tt.wantStderr)
			}
		})
	}

	t.Run("subscribe until SIGINT", func(t *testing.T) {
		cmd := exec.CommandContext(ctx, bin, "subscribe", "com.example.news")
		cmd.Env = append(os.Environ(), env...)
		var stdout, stderr lockedBuffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "subscribed", func() bool { return strings.Contains(stderr.String(), "subscribed to") })
		if _, err := c.DoPublish(ctx, &client.PublishRequest{Topic: "com.example.news", Args: protocol.List{"hi"}, Acknowledge: true}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the event", func() bool { return strings.Contains(stdout.String(), `"args":["hi"]`) })
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("wamp subscribe after SIGINT: %v (want exit status 0)\nstderr:\n%s", err, stderr.String())
		}
	})
}

// closedAddr returns a 127.0.0.1 address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// waitFor polls cond until testTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, testTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
