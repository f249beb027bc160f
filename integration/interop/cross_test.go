package interop

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/wampkit/wampkit/protocol"
)

// libByName returns the lib of libs with that name.
func libByName(tb testing.TB, name string) lib {
	tb.Helper()
	for _, l := range libs {
		if l.name == name {
			return l
		}
	}
	tb.Fatalf("no lib %s", name)
	return lib{}
}

// TestCrossPeers routes between two peers of other projects, each with its
// own serializer and transport, so that the router translates between
// them: payloads, binary, application errors, progressive results and
// cancellation (RPC), and events (PubSub). An Autobahn|Python callee is
// used because only it announces progressive results and call canceling.
func TestCrossPeers(t *testing.T) {
	wr := startRouter(t)
	dir := interopDir(t)
	url := func(transport string) string {
		if transport == "rawsocket" {
			return wr.rsURL
		}
		return wr.wsURL
	}
	type end struct {
		lib, serializer, transport string
	}
	callers := []end{
		{"autobahn_js", "cbor", "websocket"},
		{"autobahn_js", "json", "rawsocket"},
		{"wampy", "msgpack", "websocket"},
		{"autobahn_py", "json", "websocket"},
	}
	t.Run("rpc", func(t *testing.T) {
		callee := end{"autobahn_py", "msgpack", "rawsocket"}
		cl := libByName(t, callee.lib)
		cl.require(t)
		const prefix = "wampkit.interop.cross"
		p := startScript(t, dir, cl.argv(dir, url(callee.transport), callee.serializer, "callee", prefix)...)
		p.waitReady()
		// The Go backend only calls PREFIX.stop at the end.
		b := startBackend(t, wr, "wampkit.interop.cross_go")
		var want []string
		for _, c := range callers {
			l := libByName(t, c.lib)
			l.require(t)
			name := fmt.Sprintf("%s/%s/%s", c.lib, c.serializer, c.transport)
			t.Run(name, func(t *testing.T) {
				run := func(scenario string) map[string]any {
					return startScript(t, dir, l.argv(dir, url(c.transport), c.serializer, scenario, prefix)...).result()
				}
				defer func() {
					if t.Failed() {
						t.Logf("Python callee's stderr so far:\n%s", p.stderr)
					}
				}()
				res := run("call")
				want = append(want, "echo")
				checkPayload(t, "echo through two foreign peers", res["args"], res["kwargs"], stdArgs, stdKw)

				res = run("error")
				want = append(want, "fail")
				if res["error"] != string(errURI) {
					t.Errorf("error URI %v, want %s", res["error"], errURI)
				}
				checkPayload(t, "error payload", res["args"], res["kwargs"], errArgs, errKwargs)

				if c.serializer != "json" || l.jsonBinary {
					run("binary")
					want = append(want, "echo")
				}

				res = run("progress")
				want = append(want, "progress")
				checkPayload(t, "progressive results", res["progress"], res["args"],
					protocol.List{protocol.List{1}, protocol.List{2}, protocol.List{3}}, protocol.List{"done"})

				if l.cancel {
					res = run("cancel")
					want = append(want, "slow", "interrupted")
					if c.lib == "autobahn_js" && res["error"] != string(protocol.ErrCanceled) {
						t.Errorf("canceled call ended with %v, want %s", res["error"], protocol.ErrCanceled)
					}
				}
			})
		}
		ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
		defer cancel()
		if _, err := b.c.Call(ctx, prefix+".stop"); err != nil {
			t.Fatalf("stop: %v", err)
		}
		want = append(want, "stop")
		res := p.result()
		sorted := cmpopts.SortSlices(func(a, b any) bool { return fmt.Sprint(a) < fmt.Sprint(b) })
		if d := cmp.Diff(normal(t, want), normal(t, res["invocations"]), sorted); d != "" {
			t.Errorf("invocations the Python callee saw (-want +got):\n%s", d)
		}
	})

	t.Run("pubsub", func(t *testing.T) {
		for _, c := range callers {
			sub := end{"autobahn_py", "cbor", "websocket"}
			if c.lib == "autobahn_py" {
				sub = end{"autobahn_js", "msgpack", "websocket"}
			}
			name := fmt.Sprintf("%s/%s/%s_to_%s/%s/%s", c.lib, c.serializer, c.transport, sub.lib, sub.serializer, sub.transport)
			t.Run(name, func(t *testing.T) {
				sl, pl := libByName(t, sub.lib), libByName(t, c.lib)
				sl.require(t)
				pl.require(t)
				prefix := "wampkit.interop.cross_" + c.lib + "_" + c.serializer + "_" + c.transport
				s := startScript(t, dir, sl.argv(dir, url(sub.transport), sub.serializer, "subscribe", prefix)...)
				s.waitReady()
				startScript(t, dir, pl.argv(dir, url(c.transport), c.serializer, "publish", prefix)...).result()
				res := s.result()
				checkPayload(t, "event through two foreign peers", res["args"], res["kwargs"], stdArgs, stdKw)
			})
		}
	})
}
