package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/wampkit/wampkit/protocol"
)

// scriptTimeout bounds one script run: starting the runtime, joining,
// running the scenario and leaving. It is a deadline against hangs, not a
// timed assertion: a healthy run takes well under a second.
const scriptTimeout = 60 * time.Second

// pythonPath is Debian's python, the one that sees python3-autobahn. The
// python3 first on PATH may be another one (pyenv). WAMPKIT_INTEROP_PYTHON
// overrides it.
func pythonPath() string {
	if p := os.Getenv("WAMPKIT_INTEROP_PYTHON"); p != "" {
		return p
	}
	return "/usr/bin/python3"
}

// The standard payload; js/peer.mjs and py/peer.py hold the same values.
var (
	stdArgs = protocol.List{"hello", 42, -7, 3.5, true, nil, protocol.List{1, "two"}, protocol.Dict{"k": "v"}}
	stdKw   = protocol.Dict{
		"s": "ünïcødé ✓",
		"i": 123456789,
		"f": 0.25,
		"b": false,
		"n": nil,
		"l": protocol.List{1, 2, 3},
		"d": protocol.Dict{"x": protocol.Dict{"y": "z"}},
	}
	errURI    = protocol.URI("wampkit.interop.error.app")
	errArgs   = protocol.List{"failed on purpose", 7}
	errKwargs = protocol.Dict{"why": "asked to", "code": 42}
	binData   = func() []byte {
		b := make([]byte, 256)
		for i := range b {
			b[i] = byte(i)
		}
		return b
	}()
)

// interopDir is the directory of this package's sources (the test's
// working directory).
func interopDir(tb testing.TB) string {
	tb.Helper()
	d, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

var (
	nodeOnce sync.Once
	nodeErr  error
	pyOnce   sync.Once
	pyErr    error
)

// requireNode fails the test, with the command that fixes it, unless node
// and the npm packages of js/ are installed.
func requireNode(tb testing.TB) {
	tb.Helper()
	dir := filepath.Join(interopDir(tb), "js")
	nodeOnce.Do(func() {
		if _, err := exec.LookPath("node"); err != nil {
			nodeErr = fmt.Errorf("node not found in PATH (%v): install Node.js 20 or later (Debian: apt-get install -y nodejs npm)", err)
			return
		}
		for _, pkg := range []string{"autobahn", "wampy", "fox-wamp", "ws", "msgpack5", "cbor", "cbor-x", "msgpackr", "tweetnacl"} {
			if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg, "package.json")); err != nil {
				nodeErr = fmt.Errorf("npm package %s missing in %s: run (cd %s && npm ci)", pkg, dir, dir)
				return
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "node", "-e", "require('autobahn'); require('fox-wamp'); import('wampy')")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			nodeErr = fmt.Errorf("node cannot load the interop packages (%v): %s\nrun (cd %s && npm ci)", err, out, dir)
		}
	})
	if nodeErr != nil {
		tb.Fatal(nodeErr)
	}
}

// requirePython fails the test, with the command that fixes it, unless
// Debian's python with Autobahn|Python, cbor2, msgpack and PyNaCl (for
// cryptosign) is installed.
func requirePython(tb testing.TB) {
	tb.Helper()
	pyOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
		defer cancel()
		out, err := exec.CommandContext(ctx, pythonPath(), "-c", "import autobahn, cbor2, msgpack, nacl").CombinedOutput()
		if err != nil {
			pyErr = fmt.Errorf("%s cannot import autobahn, cbor2, msgpack and nacl (%v): %s\nrun: apt-get update && apt-get install -y python3-autobahn python3-cbor2 python3-msgpack python3-nacl",
				pythonPath(), err, out)
		}
	})
	if pyErr != nil {
		tb.Fatal(pyErr)
	}
}

// peerRun is one running script.
type peerRun struct {
	tb     testing.TB
	name   string
	cmd    *exec.Cmd
	cancel context.CancelFunc
	lines  chan string // stdout, line by line; closed at EOF
	stderr *lockedBuffer
	ctx    context.Context
}

// lockedBuffer collects a process's stderr for failure messages.
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

// startScript starts argv[0] with argv[1:] in dir, with a deadline of
// scriptTimeout. The process is killed when the test ends.
func startScript(tb testing.TB, dir string, argv ...string) *peerRun {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	// stdin stays open until the test ends: long-lived helpers (the
	// fox-wamp router) exit when it closes, so they never outlive a test
	// binary that dies.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	p := &peerRun{tb: tb, name: strings.Join(argv, " "), cmd: cmd, cancel: cancel,
		lines: make(chan string, 16), stderr: &lockedBuffer{}, ctx: ctx}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		cancel()
		tb.Fatalf("start %s: %v", p.name, err)
	}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		io.Copy(io.Discard, stdout) //nolint:errcheck // drain after a scanner error
	}()
	tb.Cleanup(func() {
		stdin.Close()
		cancel()
		cmd.Wait() //nolint:errcheck // already reported by result, or killed
	})
	return p
}

// next returns the next JSON line of the script, failing the test if the
// script ends or its deadline passes first.
func (p *peerRun) next() map[string]any {
	p.tb.Helper()
	select {
	case line, ok := <-p.lines:
		if !ok {
			err := p.cmd.Wait()
			p.tb.Fatalf("%s: ended without a result line (%v)\nstderr:\n%s", p.name, err, p.stderr)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			p.tb.Fatalf("%s: stdout line is not a JSON object: %q\nstderr:\n%s", p.name, line, p.stderr)
		}
		return m
	case <-p.ctx.Done():
		p.tb.Fatalf("%s: no output before its deadline (%v)\nstderr:\n%s", p.name, p.ctx.Err(), p.stderr)
	}
	return nil
}

// waitReady waits for the script's {"ready":true} line.
func (p *peerRun) waitReady() {
	p.tb.Helper()
	m := p.next()
	if m["ready"] != true {
		p.tb.Fatalf("%s: want a ready line, got %v\nstderr:\n%s", p.name, m, p.stderr)
	}
}

// result waits for the script's result line and its exit, and fails the
// test unless the script reported success.
func (p *peerRun) result() map[string]any {
	p.tb.Helper()
	m := p.next()
	// Wait for stdout's EOF before Wait, as os/exec asks of StdoutPipe users.
	for range p.lines {
	}
	err := p.cmd.Wait()
	if m["ok"] != true || err != nil {
		p.tb.Fatalf("%s: failed (exit: %v): %v\nstderr:\n%s", p.name, err, m["error"], p.stderr)
	}
	return m
}

// normal turns a value into what JSON makes of it: every number a float64,
// every list []any, every dict map[string]any, and []byte the {"$hex":...}
// form the scripts report, so values from Go and from a script compare.
func normal(tb testing.TB, v any) any {
	tb.Helper()
	b, err := json.Marshal(hexBytes(v))
	if err != nil {
		tb.Fatalf("normal(%#v): %v", v, err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		tb.Fatal(err)
	}
	return out
}

func hexBytes(v any) any {
	switch x := v.(type) {
	case []byte:
		return map[string]any{"$hex": hex.EncodeToString(x)}
	case protocol.List:
		return hexBytes([]any(x))
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = hexBytes(e)
		}
		return out
	case protocol.Dict:
		return hexBytes(map[string]any(x))
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = hexBytes(e)
		}
		return out
	}
	return v
}

// checkPayload compares args and kwargs from anywhere with the expected
// ones, after normal. Nil and empty compare equal.
func checkPayload(tb testing.TB, what string, gotArgs, gotKw, wantArgs, wantKw any) {
	tb.Helper()
	if d := cmp.Diff(normalPayload(tb, wantArgs), normalPayload(tb, gotArgs)); d != "" {
		tb.Errorf("%s: args differ (-want +got):\n%s", what, d)
	}
	if d := cmp.Diff(normalPayload(tb, wantKw), normalPayload(tb, gotKw)); d != "" {
		tb.Errorf("%s: kwargs differ (-want +got):\n%s", what, d)
	}
}

// normalPayload is normal, with an empty list or dict made nil: the spec
// lets a peer omit empty Arguments and ArgumentsKw (SUMMARY §2).
func normalPayload(tb testing.TB, v any) any {
	tb.Helper()
	n := normal(tb, v)
	if isEmpty(n) {
		return nil
	}
	return n
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// asError returns err's *protocol.Error or fails the test.
func asError(tb testing.TB, err error) *protocol.Error {
	tb.Helper()
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		tb.Fatalf("want a *protocol.Error, got %T: %v", err, err)
	}
	return pe
}
