package cli

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// recorder registers procedures on a Go session and keeps what reached
// them.
type recorder struct {
	invs chan *client.Invocation
}

func newRecorder() *recorder { return &recorder{invs: make(chan *client.Invocation, 64)} }

// echo answers with the invocation's own payload.
func (rc *recorder) echo(_ context.Context, inv *client.Invocation) (*client.Result, error) {
	rc.invs <- inv
	return &client.Result{Args: inv.Args, Kwargs: inv.Kwargs}, nil
}

func (rc *recorder) next(tb testing.TB) *client.Invocation {
	tb.Helper()
	select {
	case inv := <-rc.invs:
		return inv
	default:
		tb.Fatal("the Go callee was not invoked")
	}
	return nil
}

func register(tb testing.TB, c *client.Client, proc protocol.URI, h client.InvocationHandler) {
	tb.Helper()
	if _, err := c.Register(ctxT(tb), proc, h, nil); err != nil {
		tb.Fatalf("Register %s: %v", proc, err)
	}
}

// TestCallArguments checks the argument rule (JSON value, else string),
// --string, -k, and the printed result, over every transport and
// serializer: integers must arrive as integers, not floats.
func TestCallArguments(t *testing.T) {
	tr := startRouter(t, router.Config{})
	rc := newRecorder()
	register(t, tr.join(t, ""), "com.example.echo", rc.echo)

	tests := []struct {
		name       string
		words      []string
		wantArgs   protocol.List
		wantKwargs protocol.Dict
		wantLine   string
	}{
		{"integers", []string{"2", "3"}, protocol.List{int64(2), int64(3)}, nil, `{"args":[2,3],"kwargs":{}}`},
		{"strings", []string{"hello", "two words"}, protocol.List{"hello", "two words"}, nil, `{"args":["hello","two words"],"kwargs":{}}`},
		{"json values", []string{`"2"`, `[1,{"a":null}]`, "true", "null", "1.5", "--", "-7"},
			protocol.List{"2", []any{int64(1), map[string]any{"a": nil}}, true, nil, 1.5, int64(-7)}, nil,
			`{"args":["2",[1,{"a":null}],true,null,1.5,-7],"kwargs":{}}`},
		{"not quite json", []string{"[1,2", "{}x", "0x10"}, protocol.List{"[1,2", "{}x", "0x10"}, nil, `{"args":["[1,2","{}x","0x10"],"kwargs":{}}`},
		{"big integers", []string{"9223372036854775807", "18446744073709551615", "1e3"},
			protocol.List{int64(9223372036854775807), uint64(18446744073709551615), 1000.0}, nil,
			`{"args":[9223372036854775807,18446744073709551615,1000],"kwargs":{}}`},
		{"kwargs", []string{"-k", "n=1", "-k", "name=Alice", "-k", "l=[1]", "-k", "eq=a=b"}, nil,
			protocol.Dict{"n": int64(1), "name": "Alice", "l": []any{int64(1)}, "eq": "a=b"},
			`{"args":[],"kwargs":{"eq":"a=b","l":[1],"n":1,"name":"Alice"}}`},
		{"string flag", []string{"--string", "007", "true", "-k", "n=1"}, protocol.List{"007", "true"}, protocol.Dict{"n": "1"},
			`{"args":["007","true"],"kwargs":{"n":"1"}}`},
		{"binary", []string{`"\u0000AAEC/w=="`}, protocol.List{[]byte{0, 1, 2, 255}}, nil, `{"args":["\u0000AAEC/w=="],"kwargs":{}}`},
		{"unicode", []string{"ünïcødé ✓", `"<&>"`}, protocol.List{"ünïcødé ✓", "<&>"}, nil, `{"args":["ünïcødé ✓","<&>"],"kwargs":{}}`},
	}
	links := []struct{ name, url, serializer string }{
		{"ws/json", tr.wsURL, ""},
		{"ws/msgpack", tr.wsURL, "msgpack"},
		{"ws/cbor", tr.wsURL, "cbor"},
		{"tcp/msgpack", tr.tcpURL, ""},
		{"tcp/json", tr.tcpURL, "json"},
		{"unix/cbor", tr.unixURL, "cbor"},
	}
	for _, l := range links {
		t.Run(l.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					args := []string{"--url", l.url, "call", "com.example.echo"}
					if l.serializer != "" {
						args = append(args, "--serializer", l.serializer)
					}
					args = append(args, tt.words...)
					r := mustRun(t, ExitOK, nil, args...)
					if got := strings.TrimSpace(r.stdout); got != tt.wantLine {
						t.Errorf("stdout = %s, want %s", got, tt.wantLine)
					}
					inv := rc.next(t)
					// A payload with kwargs has an Arguments list, if empty.
					if diff := cmp.Diff(tt.wantArgs, inv.Args, cmpopts.EquateEmpty()); diff != "" {
						t.Errorf("callee's args (-want +got):\n%s", diff)
					}
					if diff := cmp.Diff(tt.wantKwargs, inv.Kwargs); diff != "" {
						t.Errorf("callee's kwargs (-want +got):\n%s", diff)
					}
				})
			}
		})
	}
}

// TestCallErrors checks the exit status and the message of each way a
// call can fail.
func TestCallErrors(t *testing.T) {
	tr := startRouter(t, router.Config{})
	c := tr.join(t, "")
	register(t, c, "com.example.fail", func(context.Context, *client.Invocation) (*client.Result, error) {
		return nil, &protocol.Error{URI: "com.example.error.oops", Args: protocol.List{"it failed", 7}, Kwargs: protocol.Dict{"why": "asked"}}
	})
	register(t, c, "com.example.bare", func(context.Context, *client.Invocation) (*client.Result, error) {
		return nil, &protocol.Error{URI: "com.example.error.bare"}
	})
	hang := make(chan struct{})
	register(t, c, "com.example.hang", func(ctx context.Context, _ *client.Invocation) (*client.Result, error) {
		select {
		case hang <- struct{}{}:
		case <-ctx.Done():
		}
		<-ctx.Done()
		return nil, ctx.Err()
	})
	closed := closedPort(t)

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"callee error", []string{"call", "com.example.fail"}, ExitWAMPError,
			`wamp: ERROR com.example.error.oops ["it failed",7] {"why":"asked"}`},
		{"callee error without payload", []string{"call", "com.example.bare"}, ExitWAMPError, "wamp: ERROR com.example.error.bare\n"},
		{"no such procedure", []string{"call", "com.example.nothing"}, ExitWAMPError, "wamp: ERROR wamp.error.no_such_procedure"},
		{"no such realm", []string{"--realm", "nowhere", "call", "com.example.fail"}, ExitWAMPError, "wamp: ABORT wamp.error.no_such_realm"},
		{"timeout", []string{"--timeout", "50ms", "call", "com.example.hang"}, ExitTimeout, "timed out"},
		{"invalid procedure", []string{"call", "com.example..x"}, ExitUsage, `procedure "com.example..x"`},
		{"missing procedure", []string{"call"}, ExitUsage, "missing PROCEDURE"},
		{"bad kwarg", []string{"call", "com.example.fail", "-k", "novalue"}, ExitUsage, `-k "novalue": want name=value`},
		{"not utf-8", []string{"call", "com.example.fail", "ok", "\xc7"}, ExitUsage, `argument 2 "\xc7" is not valid UTF-8`},
		{"kwarg not utf-8", []string{"call", "com.example.fail", "-k", "a=\xff"}, ExitUsage, "is not valid UTF-8"},
		{"unknown flag", []string{"call", "com.example.fail", "--nope"}, ExitUsage, "unknown flag: --nope"},
		{"unknown command", []string{"cal"}, ExitUsage, `unknown command "cal"`},
		{"bad serializer", []string{"--serializer", "xml", "call", "x.y"}, ExitUsage, `--serializer "xml"`},
		{"bad url", []string{"--url", "http://127.0.0.1:1/", "call", "x.y"}, ExitUsage, "unsupported URL"},
		{"connection refused", []string{"--url", "ws://" + closed + "/ws", "call", "x.y"}, ExitConnection, "connection refused"},
		{"connection refused tcp", []string{"--url", "tcp://" + closed, "call", "x.y"}, ExitConnection, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustRun(t, tt.wantCode, nil, append([]string{"--url", tr.wsURL}, tt.args...)...)
			if !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("stderr = %q, want it to contain %q", r.stderr, tt.wantStderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
		})
	}

	t.Run("interrupted", func(t *testing.T) {
		b := start(t, nil, "--url", tr.wsURL, "call", "com.example.hang")
		select {
		case <-hang: // the call reached the callee
		case <-b.done:
			t.Fatalf("call ended early: %d\n%s", b.code, b.stderr)
		}
		r := b.interrupt()
		if r.code != ExitInterrupted {
			t.Errorf("exit status %d, want %d\nstderr:\n%s", r.code, ExitInterrupted, r.stderr)
		}
	})
}

// closedPort returns a 127.0.0.1 address nothing listens on.
func closedPort(tb testing.TB) string {
	tb.Helper()
	tr := startRouter(tb, router.Config{})
	addr := strings.TrimPrefix(tr.tcpURL, "tcp://")
	tr.r.Close()
	return addr
}

// TestCallProgress checks that --progress prints each progressive result
// before the final one.
func TestCallProgress(t *testing.T) {
	tr := startRouter(t, router.Config{})
	register(t, tr.join(t, ""), "com.example.count", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		if !inv.ReceiveProgress() {
			return &client.Result{Args: protocol.List{"no progress asked"}}, nil
		}
		for i := 1; i <= 3; i++ {
			if err := inv.SendProgress(ctx, protocol.List{i}, nil); err != nil {
				return nil, err
			}
		}
		return &client.Result{Args: protocol.List{"done"}, Kwargs: protocol.Dict{"n": 3}}, nil
	})
	r := mustRun(t, ExitOK, nil, "--url", tr.wsURL, "call", "com.example.count", "--progress")
	want := []string{
		`{"progress":true,"args":[1],"kwargs":{}}`,
		`{"progress":true,"args":[2],"kwargs":{}}`,
		`{"progress":true,"args":[3],"kwargs":{}}`,
		`{"args":["done"],"kwargs":{"n":3}}`,
	}
	if diff := cmp.Diff(want, r.lines()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	r = mustRun(t, ExitOK, nil, "--url", tr.wsURL, "call", "com.example.count")
	if got := strings.TrimSpace(r.stdout); got != `{"args":["no progress asked"],"kwargs":{}}` {
		t.Errorf("without --progress: %s", got)
	}
}

// TestCallDiscloseMe checks that --disclose-me reaches the callee.
func TestCallDiscloseMe(t *testing.T) {
	tr := startRouter(t, router.Config{})
	rc := newRecorder()
	register(t, tr.join(t, ""), "com.example.echo", rc.echo)
	mustRun(t, ExitOK, nil, "--url", tr.wsURL, "call", "com.example.echo")
	if inv := rc.next(t); inv.Caller != 0 {
		t.Errorf("caller %d disclosed without --disclose-me", inv.Caller)
	}
	mustRun(t, ExitOK, nil, "--url", tr.wsURL, "call", "com.example.echo", "--disclose-me")
	if inv := rc.next(t); inv.Caller == 0 {
		t.Error("--disclose-me: the callee was not told the caller")
	}
}

// TestPublish checks that events arrive with their payload, that
// --acknowledge prints the publication ID, that --retain keeps the event
// for a later subscriber, and that a refusal exits with status 1.
func TestPublish(t *testing.T) {
	denyPublish, err := router.NewRoleAuthorizer(map[string][]router.Permission{"anonymous": {
		{URI: "", Match: protocol.MatchPrefix, Call: true, Register: true, Subscribe: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	tr := startRouter(t, router.Config{Realms: []router.RealmConfig{{Name: "realm1"}, {Name: "readonly", Authorizer: denyPublish}}})
	c := tr.join(t, "")
	events := make(chan *client.Event, 16)
	if _, err := c.Subscribe(ctxT(t), "com.example.news", func(ev *client.Event) { events <- ev }, nil); err != nil {
		t.Fatal(err)
	}
	next := func() *client.Event {
		t.Helper()
		select {
		case ev := <-events:
			return ev
		case <-ctxT(t).Done():
			t.Fatal("no event")
		}
		return nil
	}

	r := mustRun(t, ExitOK, nil, "--url", tr.wsURL, "publish", "com.example.news", "hello", "2", "-k", "unit=C")
	if r.stdout != "" {
		t.Errorf("unacknowledged publish printed %q", r.stdout)
	}
	ev := next()
	if diff := cmp.Diff(protocol.List{"hello", int64(2)}, ev.Args); diff != "" {
		t.Errorf("event args (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(protocol.Dict{"unit": "C"}, ev.Kwargs); diff != "" {
		t.Errorf("event kwargs (-want +got):\n%s", diff)
	}

	r = mustRun(t, ExitOK, nil, "--url", tr.tcpURL, "publish", "com.example.news", "--acknowledge", "--retain", "--exclude-me=false", "--disclose-me")
	line := decodeLine(t, strings.TrimSpace(r.stdout))
	ev = next()
	if got, ok := line["publication"].(json.Number); !ok || got.String() != strconv.FormatUint(uint64(ev.Publication), 10) {
		t.Errorf("printed publication %v, the event's is %d", got, ev.Publication)
	}
	if ev.Publisher == 0 {
		t.Error("--disclose-me: the subscriber was not told the publisher")
	}

	// The retained event goes to a later subscriber that asks for it.
	retained := make(chan *client.Event, 1)
	c2 := tr.join(t, "")
	if _, err := c2.Subscribe(ctxT(t), "com.example.news", func(ev *client.Event) { retained <- ev }, &client.SubscribeOptions{GetRetained: true}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev2 := <-retained:
		if !ev2.Retained || ev2.Publication != ev.Publication {
			t.Errorf("retained event %+v, want publication %d retained", ev2, ev.Publication)
		}
	case <-ctxT(t).Done():
		t.Fatal("--retain: no retained event for a later subscriber")
	}

	r = mustRun(t, ExitWAMPError, nil, "--url", tr.wsURL, "--realm", "readonly", "publish", "com.example.news", "x", "--acknowledge")
	if !strings.Contains(r.stderr, "ERROR wamp.error.not_authorized") {
		t.Errorf("stderr = %q, want the not_authorized URI", r.stderr)
	}
	mustRun(t, ExitUsage, nil, "--url", tr.wsURL, "publish", "com.example.#")
	mustRun(t, ExitUsage, nil, "--url", tr.wsURL, "publish")
}
