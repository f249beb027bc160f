package interop

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// buildWamp builds the wamp command line client (module cmd/wamp of the
// workspace) into a temporary directory.
func buildWamp(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "wamp")
	ctx, cancel := context.WithTimeout(context.Background(), 5*scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Join(interopDir(t), "..", "..", "cmd", "wamp")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/wamp: %v\n%s", err, out)
	}
	return bin
}

// startWampRegister runs wamp register with args and waits until it has
// registered.
func startWampRegister(t *testing.T, bin string, args ...string) *peerRun {
	t.Helper()
	p := startScript(t, interopDir(t), append([]string{bin, "register"}, args...)...)
	deadline := time.Now().Add(scriptTimeout)
	for !strings.Contains(p.stderr.String(), "registered ") {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not registered within %v\nstderr:\n%s", p.name, scriptTimeout, p.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return p
}

// exitOK waits for a wamp run with --count to end by itself and returns
// the lines it printed, failing the test unless it exited with status 0.
func (p *peerRun) exitOK() []string {
	p.tb.Helper()
	var lines []string
	for l := range p.lines {
		lines = append(lines, l)
	}
	if err := p.cmd.Wait(); err != nil {
		p.tb.Fatalf("%s: %v (want exit status 0)\nstderr:\n%s", p.name, err, p.stderr)
	}
	return lines
}

// TestCLIRegisterAutobahnJS has the wamp command line client answer calls
// of an Autobahn|JS caller: with --echo, and with a command (cat, whose
// output --result payload turns back into args and kwargs) over
// serializers and transports that differ on the two sides; and a failing
// command, whose ERROR wampkit.error.command_failed Autobahn|JS receives
// with its args and kwargs.
func TestCLIRegisterAutobahnJS(t *testing.T) {
	requireNode(t)
	wr := startRouter(t)
	bin := buildWamp(t)
	dir := interopDir(t)
	autobahn := func(ser, scenario, prefix string) []string {
		return []string{"node", filepath.Join(dir, "js", "peer.mjs"), "--lib", "autobahn",
			"--url", wr.wsURL, "--realm", string(testRealm), "--serializer", ser, "--scenario", scenario, "--prefix", prefix}
	}
	cells := []struct {
		name     string
		jsSer    string   // Autobahn|JS's serializer (WebSocket)
		wampArgs []string // how wamp connects, and how it answers
	}{
		{"echo/json-vs-msgpack_rawsocket", "json", []string{"--url", wr.rsURL, "--serializer", "msgpack", "--echo"}},
		{"echo/msgpack-vs-cbor_websocket", "msgpack", []string{"--url", wr.wsURL, "--serializer", "cbor", "--echo"}},
		{"command/cbor-vs-json_websocket", "cbor", []string{"--url", wr.wsURL, "--serializer", "json", "--result", "payload", "--", "cat"}},
		{"command/json-vs-cbor_rawsocket", "json", []string{"--url", wr.rsURL, "--serializer", "cbor", "--result", "payload", "--", "cat"}},
	}
	for i, c := range cells {
		t.Run(c.name, func(t *testing.T) {
			prefix := "wampkit.interop.cli" + string(rune('a'+i))
			// --count 1: wamp exits with status 0 once it has answered.
			w := startWampRegister(t, bin, append([]string{prefix + ".echo", "--realm", string(testRealm), "--count", "1"}, c.wampArgs...)...)
			res := startScript(t, dir, autobahn(c.jsSer, "call", prefix)...).result()
			checkPayload(t, "result at Autobahn|JS", res["args"], res["kwargs"], stdArgs, stdKw)
			lines := w.exitOK()
			if len(lines) != 1 {
				t.Fatalf("wamp printed %d invocation lines, want 1:\n%s", len(lines), strings.Join(lines, "\n"))
			}
			var inv struct {
				Procedure string         `json:"procedure"`
				Args      []any          `json:"args"`
				Kwargs    map[string]any `json:"kwargs"`
			}
			if err := json.Unmarshal([]byte(lines[0]), &inv); err != nil {
				t.Fatalf("invocation line %q: %v", lines[0], err)
			}
			if inv.Procedure != prefix+".echo" {
				t.Errorf("invocation of %s, want %s.echo", inv.Procedure, prefix)
			}
			checkPayload(t, "invocation printed by wamp", inv.Args, inv.Kwargs, stdArgs, stdKw)
		})
	}

	t.Run("command fails", func(t *testing.T) {
		prefix := "wampkit.interop.clifail"
		w := startWampRegister(t, bin, prefix+".fail", "--url", wr.wsURL, "--realm", string(testRealm), "--count", "1", "--quiet",
			"--", "sh", "-c", `echo "no luck" >&2; exit 3`)
		res := startScript(t, dir, autobahn("json", "error", prefix)...).result()
		want := map[string]any{
			"error":  "wampkit.error.command_failed",
			"args":   []any{"exit status 3: no luck"},
			"kwargs": map[string]any{"exit_code": float64(3), "stderr": "no luck\n"},
		}
		got := map[string]any{"error": res["error"], "args": res["args"], "kwargs": res["kwargs"]}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Autobahn|JS's error (-want +got):\n%s", diff)
		}
		if lines := w.exitOK(); len(lines) != 0 {
			t.Errorf("--quiet printed %q", lines)
		}
	})
}
