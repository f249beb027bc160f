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
//
// Over a cluster (cluster3) each new connection goes to the next node.
func TestCrossPeers(t *testing.T) {
	for _, topo := range topologies {
		t.Run(topo.name, func(t *testing.T) {
			t.Parallel()
			testCrossPeers(t, startDeployment(t, topo))
		})
	}
}

func testCrossPeers(t *testing.T, d *deployment) {
	dir := interopDir(t)
	rot := d.rotation(0)
	url := func(transport string) string { return rot.next().url(transport) }
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
		skipOnCluster(t)
		callee := end{"autobahn_py", "msgpack", "rawsocket"}
		cl := libByName(t, callee.lib)
		cl.require(t)
		const prefix = "wampkit.interop.cross"
		// The callee lives through every caller's scenarios: give it more
		// than the scripts' default 20 s, which a loaded machine exceeds.
		argv := append(cl.argv(dir, url(callee.transport), callee.serializer, "callee", prefix), "--timeout", "300")
		p := startScript(t, dir, argv...)
		p.waitReady()
		// The Go backend only calls PREFIX.stop at the end.
		b := startBackend(t, rot.next(), rot, "wampkit.interop.cross_go")
		var want []string
		for _, c := range callers {
			l := libByName(t, c.lib)
			l.require(t)
			name := fmt.Sprintf("%s/%s/%s", c.lib, c.serializer, c.transport)
			t.Run(name, func(t *testing.T) {
				skipOnCluster(t)
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

				if c.serializer != "json" {
					// Dealer-initiated call timeout across serializers: a
					// JS caller's CALL.Options.timeout interrupts the Python
					// callee (mode killnowait).
					res = run("timeout")
					want = append(want, "slow", "interrupted")
					if res["error"] != string(protocol.ErrTimeout) {
						t.Errorf("call with timeout ended with %v, want %s", res["error"], protocol.ErrTimeout)
					}
				}

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

	t.Run("shared", func(t *testing.T) {
		skipOnCluster(t)
		// Three callees of three libraries, serializers and transports
		// share one registration per invocation policy (SUMMARY §14.8).
		callees := []end{
			{"autobahn_js", "cbor", "websocket"},
			{"wampy", "json", "websocket"},
			{"autobahn_py", "msgpack", "rawsocket"},
		}
		const prefix = "wampkit.interop.cross_shared"
		b := startBackend(t, rot.next(), rot, "wampkit.interop.cross_shared_go")
		var runs []*peerRun
		var sessions []float64
		for i, c := range callees {
			l := libByName(t, c.lib)
			l.require(t)
			p := startScript(t, dir, l.argv(dir, url(c.transport), c.serializer, "shared", prefix)...)
			m := p.next()
			if m["ready"] != true {
				t.Fatalf("%s: want a ready line, got %v\nstderr:\n%s", c.lib, m, p.stderr)
			}
			wantSingle := string(protocol.ErrProcedureAlreadyExists)
			if i == 0 {
				wantSingle = "registered"
			}
			checkSharedRefusals(t, m, wantSingle)
			runs = append(runs, p)
			sessions = append(sessions, m["session"].(float64))
		}
		catchUp(t, b.c)
		ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
		defer cancel()
		call := func(policy string) float64 {
			t.Helper()
			r, err := b.c.Call(ctx, protocol.URI(prefix+".shared."+policy))
			if err != nil {
				t.Fatalf("call %s: %v", policy, err)
			}
			id, _ := protocol.ToID(r.Args[0])
			return float64(id)
		}
		var got []float64
		for range 6 {
			got = append(got, call("roundrobin"))
		}
		// Round robin: each callee once per round, the same order each round.
		seen := map[float64]bool{}
		for i, s := range got {
			if i < 3 {
				seen[s] = true
			} else if s != got[i-3] {
				t.Errorf("roundrobin: %v is not periodic over the 3 callees %v", got, sessions)
				break
			}
		}
		if len(seen) != 3 {
			t.Errorf("roundrobin: first round %v, want each of %v once", got[:3], sessions)
		}
		if s := call("first"); s != sessions[0] {
			t.Errorf("first: went to %v, want %v", s, sessions[0])
		}
		if s := call("last"); s != sessions[2] {
			t.Errorf("last: went to %v, want %v", s, sessions[2])
		}
		for i, s := range sessions {
			if _, err := b.c.Call(ctx, protocol.URI(fmt.Sprintf("%s.stop.%d", prefix, int64(s)))); err != nil {
				t.Fatalf("stop %s: %v", callees[i].lib, err)
			}
			runs[i].result()
		}
	})

	t.Run("pubsub", func(t *testing.T) {
		skipOnCluster(t)
		for _, c := range callers {
			sub := end{"autobahn_py", "cbor", "websocket"}
			if c.lib == "autobahn_py" {
				sub = end{"autobahn_js", "msgpack", "websocket"}
			}
			name := fmt.Sprintf("%s/%s/%s_to_%s/%s/%s", c.lib, c.serializer, c.transport, sub.lib, sub.serializer, sub.transport)
			t.Run(name, func(t *testing.T) {
				skipOnCluster(t)
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
