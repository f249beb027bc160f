package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// publish publishes from c, acknowledged, and returns the publication ID.
func publish(tb testing.TB, c *client.Client, topic protocol.URI, args protocol.List, kwargs protocol.Dict) protocol.ID {
	tb.Helper()
	id, err := c.DoPublish(ctxT(tb), &client.PublishRequest{Topic: topic, Args: args, Kwargs: kwargs, Acknowledge: true})
	if err != nil {
		tb.Fatalf("publish %s: %v", topic, err)
	}
	return id
}

// TestSubscribe checks that each event is printed as one JSON line, in
// order, with topic, publication, args, kwargs and details, and that
// --count ends the command with status 0.
func TestSubscribe(t *testing.T) {
	tr := startRouter(t, router.Config{})
	c := tr.join(t, "")
	for _, link := range []struct{ name, url, serializer string }{
		{"ws/json", tr.wsURL, "json"},
		{"tcp/msgpack", tr.tcpURL, "msgpack"},
		{"unix/cbor", tr.unixURL, "cbor"},
	} {
		t.Run(link.name, func(t *testing.T) {
			topic := protocol.URI("com.example." + strings.ReplaceAll(link.name, "/", "_"))
			b := start(t, nil, "--url", link.url, "--serializer", link.serializer, "subscribe", string(topic), "--count", "3")
			b.waitStderr("subscribed to " + string(topic))
			ids := []protocol.ID{
				publish(t, c, topic, protocol.List{"hello", 1}, protocol.Dict{"k": "v"}),
				publish(t, c, topic, nil, nil),
				publish(t, c, topic, protocol.List{[]byte{0, 1, 255}, 2.5, nil}, nil),
			}
			r := b.wait()
			if r.code != ExitOK {
				t.Fatalf("exit status %d\nstderr:\n%s", r.code, r.stderr)
			}
			want := []string{
				fmt.Sprintf(`{"topic":"%s","publication":%d,"args":["hello",1],"kwargs":{"k":"v"},"details":{}}`, topic, ids[0]),
				fmt.Sprintf(`{"topic":"%s","publication":%d,"args":[],"kwargs":{},"details":{}}`, topic, ids[1]),
				fmt.Sprintf(`{"topic":"%s","publication":%d,"args":["\u0000AAH/",2.5,null],"kwargs":{},"details":{}}`, topic, ids[2]),
			}
			if diff := cmp.Diff(want, r.lines()); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSubscribePattern checks --match prefix and wildcard: the printed
// topic is the event's own, and only matching events are printed.
func TestSubscribePattern(t *testing.T) {
	tr := startRouter(t, router.Config{})
	c := tr.join(t, "")
	tests := []struct {
		match, pattern string
		hit, miss      protocol.URI
	}{
		{"prefix", "com.example.pfx.", "com.example.pfx.a.b", "com.example.other"},
		{"wildcard", "com.example..leaf", "com.example.x.leaf", "com.example.x.stem"},
	}
	for _, tt := range tests {
		t.Run(tt.match, func(t *testing.T) {
			b := start(t, nil, "--url", tr.wsURL, "subscribe", tt.pattern, "--match", tt.match, "--count", "1")
			b.waitStderr("subscribed to")
			publish(t, c, tt.miss, protocol.List{"miss"}, nil)
			id := publish(t, c, tt.hit, protocol.List{"hit"}, nil)
			r := b.wait()
			if r.code != ExitOK {
				t.Fatalf("exit status %d\nstderr:\n%s", r.code, r.stderr)
			}
			want := []string{fmt.Sprintf(`{"topic":"%s","publication":%d,"args":["hit"],"kwargs":{},"details":{"topic":"%s"}}`, tt.hit, id, tt.hit)}
			if diff := cmp.Diff(want, r.lines()); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
	mustRun(t, ExitUsage, nil, "--url", tr.wsURL, "subscribe", "com.example.", "--match", "glob")
	mustRun(t, ExitUsage, nil, "--url", tr.wsURL, "subscribe", "com.example.") // a prefix without --match prefix
	mustRun(t, ExitUsage, nil, "--url", tr.wsURL, "subscribe", "a.b", "c.d")
}

// TestSubscribeRetained checks --retained.
func TestSubscribeRetained(t *testing.T) {
	tr := startRouter(t, router.Config{})
	c := tr.join(t, "")
	id, err := c.DoPublish(ctxT(t), &client.PublishRequest{Topic: "com.example.state", Args: protocol.List{"on"}, Acknowledge: true, Retain: true})
	if err != nil {
		t.Fatal(err)
	}
	r := mustRun(t, ExitOK, nil, "--url", tr.wsURL, "subscribe", "com.example.state", "--retained", "--count", "1")
	want := []string{fmt.Sprintf(`{"topic":"com.example.state","publication":%d,"args":["on"],"kwargs":{},"details":{"retained":true}}`, id)}
	if diff := cmp.Diff(want, r.lines()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

// TestSubscribeEnds checks how subscribe ends without --count: status 0
// when interrupted, status 1 with the reason when the router says
// GOODBYE.
func TestSubscribeEnds(t *testing.T) {
	t.Run("interrupted", func(t *testing.T) {
		tr := startRouter(t, router.Config{})
		b := start(t, nil, "--url", tr.wsURL, "subscribe", "com.example.x")
		b.waitStderr("subscribed to")
		if r := b.interrupt(); r.code != ExitOK {
			t.Errorf("exit status %d, want 0\nstderr:\n%s", r.code, r.stderr)
		}
	})
	t.Run("router shuts down", func(t *testing.T) {
		tr := startRouter(t, router.Config{})
		b := start(t, nil, "--url", tr.wsURL, "subscribe", "com.example.x")
		b.waitStderr("subscribed to")
		if err := tr.r.Shutdown(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		r := b.wait()
		if r.code != ExitWAMPError || !strings.Contains(r.stderr, "GOODBYE wamp.close.system_shutdown") {
			t.Errorf("exit status %d, want 1 with the GOODBYE reason\nstderr:\n%s", r.code, r.stderr)
		}
	})
}

// TestRegisterEcho checks --echo: every call is answered with its own
// payload, each invocation is printed, and --count ends the command after
// the answer has reached the caller.
func TestRegisterEcho(t *testing.T) {
	tr := startRouter(t, router.Config{})
	c := tr.join(t, "")
	b := start(t, nil, "--url", tr.tcpURL, "register", "com.example.echo", "--echo", "--count", "2")
	b.waitStderr("registered com.example.echo")
	res, err := c.Do(ctxT(t), &client.CallRequest{Procedure: "com.example.echo", Args: protocol.List{"a", 1}, Kwargs: protocol.Dict{"k": []byte{7}}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(protocol.List{"a", int64(1)}, res.Args); diff != "" {
		t.Errorf("result args (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(protocol.Dict{"k": []byte{7}}, res.Kwargs); diff != "" {
		t.Errorf("result kwargs (-want +got):\n%s", diff)
	}
	// The last call before --count ends the command must still get its
	// answer.
	res, err = c.Do(ctxT(t), &client.CallRequest{Procedure: "com.example.echo", DiscloseMe: true})
	if err != nil {
		t.Fatalf("last call: %v", err)
	}
	if len(res.Args) != 0 || len(res.Kwargs) != 0 {
		t.Errorf("last call: result %v %v, want empty", res.Args, res.Kwargs)
	}
	r := b.wait()
	if r.code != ExitOK {
		t.Fatalf("exit status %d\nstderr:\n%s", r.code, r.stderr)
	}
	want := []string{
		`{"procedure":"com.example.echo","args":["a",1],"kwargs":{"k":"\u0000Bw=="},"details":{}}`,
		fmt.Sprintf(`{"procedure":"com.example.echo","args":[],"kwargs":{},"details":{"caller":%d,"caller_authid":"%s","caller_authrole":"anonymous"}}`,
			c.SessionID(), c.WelcomeDetails().String("authid")),
	}
	if diff := cmp.Diff(want, r.lines()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

// TestRegisterOptions checks --match and --invoke, and the refusal of a
// second registration.
func TestRegisterOptions(t *testing.T) {
	tr := startRouter(t, router.Config{})
	c := tr.join(t, "")
	b := start(t, nil, "--url", tr.wsURL, "register", "com.example.pfx.", "--match", "prefix", "--echo", "--quiet")
	b.waitStderr("registered")
	res, err := c.Call(ctxT(t), "com.example.pfx.deep.name", "x")
	if err != nil || len(res.Args) != 1 || res.Args[0] != "x" {
		t.Fatalf("call under the prefix: %v, %v", res, err)
	}
	if out := b.stdout.String(); out != "" {
		t.Errorf("--quiet printed %q", out)
	}

	b1 := start(t, nil, "--url", tr.wsURL, "register", "com.example.shared", "--invoke", "roundrobin", "--echo")
	b1.waitStderr("registered")
	b2 := start(t, nil, "--url", tr.wsURL, "register", "com.example.shared", "--invoke", "roundrobin", "--echo")
	b2.waitStderr("registered")
	for i := range 4 {
		if _, err := c.Call(ctxT(t), "com.example.shared", i); err != nil {
			t.Fatal(err)
		}
	}
	if n1, n2 := len(strings.Split(strings.TrimSpace(b1.stdout.String()), "\n")), len(strings.Split(strings.TrimSpace(b2.stdout.String()), "\n")); n1 != 2 || n2 != 2 {
		t.Errorf("round robin: %d and %d invocations, want 2 and 2", n1, n2)
	}

	r := mustRun(t, ExitWAMPError, nil, "--url", tr.wsURL, "register", "com.example.shared", "--echo")
	if !strings.Contains(r.stderr, "ERROR wamp.error.procedure_already_exists") {
		t.Errorf("stderr = %q, want procedure_already_exists", r.stderr)
	}
	for _, args := range [][]string{
		{"register", "com.example.x"},                        // neither --echo nor a command
		{"register", "com.example.x", "--echo", "--", "cat"}, // both
		{"register", "com.example.x", "cat"},                 // command without --
		{"register", "com.example.x", "--invoke", "sometimes", "--echo"},
		{"register", "com.example.x", "--result", "xml", "--", "cat"},
		{"register", "com.example.x", "--", "wamp-no-such-command-here"},
		{"register", "com.example.x", "--concurrency", "0", "--", "cat"},
	} {
		if r := run(t, nil, append([]string{"--url", tr.wsURL}, args...)...); r.code != ExitUsage {
			t.Errorf("wamp %s: exit status %d, want %d\nstderr:\n%s", strings.Join(args, " "), r.code, ExitUsage, r.stderr)
		}
	}
}

// callError returns the *protocol.Error of err, failing the test if it is
// something else.
func callError(tb testing.TB, err error) *protocol.Error {
	tb.Helper()
	var werr *protocol.Error
	if !errors.As(err, &werr) {
		tb.Fatalf("want a *protocol.Error, got %T: %v", err, err)
	}
	return werr
}

// TestRegisterCommand checks the command mode: what the command gets on
// stdin, in argv and in its environment, and how its output and exit
// status become the result or an ERROR.
func TestRegisterCommand(t *testing.T) {
	tr := startRouter(t, router.Config{})
	c := tr.join(t, "")
	tests := []struct {
		name       string
		flags      []string // between PROCEDURE and --
		command    []string
		args       protocol.List
		kwargs     protocol.Dict
		wantArgs   protocol.List
		wantKwargs protocol.Dict
		wantErr    protocol.URI
		wantErrKw  protocol.Dict
	}{
		{name: "stdin is the invocation", flags: []string{"--result", "text"}, command: []string{"cat"},
			args: protocol.List{"a", 1}, kwargs: protocol.Dict{"k": true},
			wantArgs: protocol.List{`{"procedure":"com.example.cmd.stdin_is_the_invocation","args":["a",1],"kwargs":{"k":true},"details":{}}`}},
		{name: "payload mirrors", flags: []string{"--result", "payload"}, command: []string{"cat"},
			args: protocol.List{"ünï", 1, nil, protocol.List{2.5}}, kwargs: protocol.Dict{"d": protocol.Dict{"x": "y"}},
			wantArgs: protocol.List{"ünï", int64(1), nil, []any{2.5}}, wantKwargs: protocol.Dict{"d": map[string]any{"x": "y"}}},
		{name: "value json", command: []string{"echo", `{"sum":5}`},
			wantArgs: protocol.List{map[string]any{"sum": int64(5)}}},
		{name: "value text", command: []string{"echo", "hello world"},
			wantArgs: protocol.List{"hello world"}},
		{name: "value empty", command: []string{"true"}},
		{name: "argv", flags: []string{"--argv", "--result", "text"}, command: []string{"sh", "-c", `printf '%s|' "$@"`, "sh"},
			args: protocol.List{"two words", 3, protocol.List{1}}, wantArgs: protocol.List{"two words|3|[1]|"}},
		{name: "environment", flags: []string{"--result", "text"}, command: []string{"sh", "-c", `printf %s "$WAMP_PROCEDURE"`},
			wantArgs: protocol.List{"com.example.cmd.environment"}},
		{name: "exit status", command: []string{"sh", "-c", "echo partial; echo 'it broke' >&2; echo more >&2; exit 3"},
			wantErr: ErrCommandFailed, wantErrKw: protocol.Dict{"exit_code": int64(3), "stderr": "it broke\nmore\n"}},
		{name: "output too large", flags: []string{"--max-output", "10"}, command: []string{"echo", "more than ten bytes"},
			wantErr: ErrCommandOutput},
		{name: "payload not an object", flags: []string{"--result", "payload"}, command: []string{"echo", "[1]"},
			wantErr: ErrCommandOutput},
		{name: "payload args not a list", flags: []string{"--result", "payload"}, command: []string{"echo", `{"args":1}`},
			wantErr: ErrCommandOutput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proc := protocol.URI("com.example.cmd." + strings.ReplaceAll(tt.name, " ", "_"))
			args := append([]string{"--url", tr.wsURL, "register", string(proc), "--quiet"}, tt.flags...)
			b := start(t, nil, append(append(args, "--"), tt.command...)...)
			b.waitStderr("registered")
			res, err := c.Do(ctxT(t), &client.CallRequest{Procedure: proc, Args: tt.args, Kwargs: tt.kwargs})
			if tt.wantErr != "" {
				werr := callError(t, err)
				if werr.URI != tt.wantErr || len(werr.Args) != 1 {
					t.Fatalf("ERROR %s %v, want %s with one message", werr.URI, werr.Args, tt.wantErr)
				}
				if tt.wantErrKw != nil {
					if diff := cmp.Diff(tt.wantErrKw, werr.Kwargs); diff != "" {
						t.Errorf("ERROR kwargs (-want +got):\n%s", diff)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantArgs, res.Args); diff != "" {
				t.Errorf("result args (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantKwargs, res.Kwargs); diff != "" {
				t.Errorf("result kwargs (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRegisterCommandCanceled checks that a canceled call kills its
// command (the caller gets wamp.error.canceled) and that the next call is
// answered as usual.
func TestRegisterCommandCanceled(t *testing.T) {
	tr := startRouter(t, router.Config{})
	c := tr.join(t, "")
	dir := t.TempDir()
	// The command marks that it started, then waits for input that never
	// comes unless the call's argument is "quick".
	script := `read line; case "$line" in *quick*) echo done; exit 0;; esac; touch "` + dir + `/started"; sleep 1000`
	b := start(t, nil, "--url", tr.wsURL, "register", "com.example.slow", "--quiet", "--", "sh", "-c", script)
	b.waitStderr("registered")

	ctx, cancel := context.WithCancel(ctxT(t))
	errc := make(chan error, 1)
	go func() {
		_, err := c.Call(ctx, "com.example.slow", "wait")
		errc <- err
	}()
	poll(t, "command started", func() bool { return fileExists(dir + "/started") })
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("canceled call succeeded")
	}
	res, err := c.Call(ctxT(t), "com.example.slow", "quick")
	if err != nil || len(res.Args) != 1 || res.Args[0] != "done" {
		t.Fatalf("next call: %v, %v", res, err)
	}
	// Interrupting the command kills what still runs; the test's
	// cleanup checks that nothing is left (goleak, and Run returned).
	if r := b.interrupt(); r.code != ExitOK {
		t.Errorf("exit status %d\nstderr:\n%s", r.code, r.stderr)
	}
}

// TestRegisterCommandConcurrency checks that --concurrency bounds the
// commands running at once: with 1, a second call waits for the first
// command to end.
func TestRegisterCommandConcurrency(t *testing.T) {
	tr := startRouter(t, router.Config{})
	c := tr.join(t, "")
	dir := t.TempDir()
	// Each command creates a file named by its argument and waits until
	// the file "go" exists; it fails if another one runs (the file
	// "running" exists).
	script := `[ -e "$D/running" ] && { echo overlap >&2; exit 9; }; touch "$D/running" "$D/$1"; while [ ! -e "$D/go" ]; do sleep 0.01; done; rm "$D/running"; echo "$1"`
	b := start(t, nil, "--url", tr.wsURL, "register", "com.example.one", "--quiet", "--concurrency", "1", "--argv", "--",
		"sh", "-c", strings.ReplaceAll(script, "$D", dir), "sh")
	b.waitStderr("registered")
	results := make(chan error, 2)
	for _, name := range []string{"first", "second"} {
		go func() {
			_, err := c.Call(ctxT(t), "com.example.one", name)
			results <- err
		}()
	}
	poll(t, "one command running", func() bool { return fileExists(dir+"/first") || fileExists(dir+"/second") })
	if fileExists(dir+"/first") && fileExists(dir+"/second") {
		t.Fatal("both commands started with --concurrency 1")
	}
	touch(t, dir+"/go")
	for range 2 {
		if err := <-results; err != nil {
			t.Errorf("call: %v", err)
		}
	}
}

// TestRegisterSessionEnds checks that register exits with status 1 and
// the reason when the router ends its session, and that a running command
// is killed then.
func TestRegisterSessionEnds(t *testing.T) {
	tr := startRouter(t, router.Config{})
	b := start(t, nil, "--url", tr.wsURL, "register", "com.example.x", "--echo")
	b.waitStderr("registered")
	if err := tr.r.Shutdown(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	r := b.wait()
	if r.code != ExitWAMPError || !strings.Contains(r.stderr, "GOODBYE wamp.close.system_shutdown") {
		t.Errorf("exit status %d, want 1 with the GOODBYE reason\nstderr:\n%s", r.code, r.stderr)
	}
}

// TestSessions checks the table and --json listings and --authrole.
func TestSessions(t *testing.T) {
	tr := startRouter(t, router.Config{})
	c1, c2 := tr.join(t, ""), tr.join(t, "")
	r := mustRun(t, ExitOK, nil, "--url", tr.wsURL, "sessions", "--json")
	lines := r.lines()
	if len(lines) != 3 {
		t.Fatalf("--json: %d lines, want 3 (two Go sessions and wamp's)\n%s", len(lines), r.stdout)
	}
	seen := map[string]bool{}
	for _, l := range lines {
		m := decodeLine(t, l)
		seen[fmt.Sprint(m["session"])] = true
		if m["authrole"] != "anonymous" || m["authmethod"] != "anonymous" {
			t.Errorf("session %s", l)
		}
	}
	for _, c := range []*client.Client{c1, c2} {
		if !seen[fmt.Sprint(uint64(c.SessionID()))] {
			t.Errorf("session %d missing in\n%s", c.SessionID(), r.stdout)
		}
	}

	r = mustRun(t, ExitOK, nil, "--url", tr.wsURL, "sessions")
	lines = r.lines()
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "SESSION") || lines[4] != "3 sessions" {
		t.Fatalf("table:\n%s", r.stdout)
	}
	marked := 0
	for _, l := range lines[1:4] {
		f := strings.Fields(l)
		if len(f) > 1 && f[1] == "*" {
			marked++
		}
		if !strings.Contains(l, "anonymous") {
			t.Errorf("row %q", l)
		}
	}
	for _, c := range []*client.Client{c1, c2} {
		if !strings.Contains(r.stdout, fmt.Sprint(uint64(c.SessionID()))) {
			t.Errorf("session %d missing in\n%s", c.SessionID(), r.stdout)
		}
	}
	if marked != 1 {
		t.Errorf("%d rows marked as this session, want 1:\n%s", marked, r.stdout)
	}

	r = mustRun(t, ExitOK, nil, "--url", tr.wsURL, "sessions", "--authrole", "nobody")
	if got := r.lines(); len(got) != 2 || got[1] != "0 sessions" {
		t.Errorf("--authrole nobody:\n%s", r.stdout)
	}
}

// TestSessionsRefused checks that a realm that denies the meta API makes
// sessions exit with status 1 and the URI, and that transport details
// appear where the realm's permissions show them.
func TestSessionsRefused(t *testing.T) {
	noMeta, err := router.NewRoleAuthorizer(map[string][]router.Permission{"anonymous": {
		{URI: "com.", Match: protocol.MatchPrefix, Call: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	all, err := router.NewRoleAuthorizer(map[string][]router.Permission{"anonymous": {
		{URI: "", Match: protocol.MatchPrefix, Call: true, Register: true, Publish: true, Subscribe: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	tr := startRouter(t, router.Config{Realms: []router.RealmConfig{{Name: "closed", Authorizer: noMeta}, {Name: "admin", Authorizer: all}}})
	r := mustRun(t, ExitWAMPError, nil, "--url", tr.wsURL, "--realm", "closed", "sessions")
	if !strings.Contains(r.stderr, "ERROR wamp.error.not_authorized") {
		t.Errorf("stderr = %q", r.stderr)
	}
	r = mustRun(t, ExitOK, nil, "--url", tr.tcpURL, "--realm", "admin", "sessions")
	if !strings.Contains(r.stdout, "rawsocket/msgpack tcp") {
		t.Errorf("the transport column shows no RawSocket peer:\n%s", r.stdout)
	}
}
