package interop

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
)

// A lib is a client library written by others, driven by one of our
// scripts.
type lib struct {
	name string // as in test names and URIs: [a-z_]+
	// serializers and rawSocket list what the library supports.
	serializers []string
	rawSocket   []string // serializers it speaks over RawSocket
	// jsonBinary is false for libraries whose JSON serializer does not
	// implement the spec's binary convention (a string "\u0000" + base64,
	// basic/serializations.md "Binary support in JSON", SUMMARY §12): they
	// send a Node Buffer as {"type":"Buffer","data":[...]}. That is the
	// peer's limitation, so their binary scenario runs only with MessagePack
	// and CBOR.
	jsonBinary bool
	// undefinedOptions is true for wampy: its SUBSCRIBE carries
	// Options {match: undefined, get_retained: undefined} unless the caller
	// sets them. JSON.stringify drops undefined keys; its MessagePack
	// serializer (msgpackr) encodes undefined as the extension value d4 00 00
	// and its CBOR serializer (cbor-x) as the simple value f7 (undefined),
	// which package serialize decodes as JSON.stringify would: the entries
	// are left out (see its documentation, "JavaScript undefined").
	// testUndefinedOptions checks that such a subscription works in every
	// serializer; the other scenarios subscribe the same way.
	undefinedOptions bool
	// discloseMe is false for Autobahn|Python 22.7: it has no disclose_me
	// option for callers and publishers.
	discloseMe bool
	// cancel is true where our script can cancel a call (Autobahn|JS:
	// promise.cancel; wampy: cancel(reqId); Autobahn|Python: cancel the
	// future).
	cancel bool
	// cancelMode is true where our script can choose CANCEL.Options.mode
	// (Autobahn|Python's future.cancel() sends no mode).
	cancelMode bool
	// advanced is the one serializer/transport cell of the library that
	// runs the scenarios marked advanced (shared registration, call
	// timeout, session meta API, ...): they exercise the router's routing
	// logic, which does not depend on the serializer, and each costs
	// processes on a loaded machine. TestCrossPeers checks them once more
	// across serializers.
	advanced string
	require  func(testing.TB)
	argv     func(dir, url, serializer, scenario, prefix string) []string

	// everyScenario runs the scenarios marked advanced in every cell of
	// the library, not only in its advanced cell: wampy.js, whose
	// MessagePack and CBOR serializers encode what JSON leaves out
	// (lib.undefinedOptions), runs every scenario with all three.
	everyScenario bool
}

var libs = []lib{
	{
		name:        "autobahn_js",
		serializers: []string{"json", "msgpack", "cbor"},
		// Autobahn|JS's RawSocket transport in Node speaks JSON only
		// (lib/transport/rawsocket.js: "We only support JSON so far").
		rawSocket:  []string{"json"},
		jsonBinary: false,
		discloseMe: true,
		cancel:     true,
		cancelMode: true,
		advanced:   "json/websocket",
		require:    requireNode,
		argv: func(dir, url, ser, scenario, prefix string) []string {
			return []string{"node", filepath.Join(dir, "js", "peer.mjs"), "--lib", "autobahn",
				"--url", url, "--realm", string(testRealm), "--serializer", ser, "--scenario", scenario, "--prefix", prefix}
		},
	},
	{
		name:             "wampy",
		serializers:      []string{"json", "msgpack", "cbor"},
		jsonBinary:       false,
		undefinedOptions: true,
		discloseMe:       true,
		cancel:           true,
		cancelMode:       true,
		advanced:         "cbor/websocket",
		everyScenario:    true,
		require:          requireNode,
		argv: func(dir, url, ser, scenario, prefix string) []string {
			return []string{"node", filepath.Join(dir, "js", "peer.mjs"), "--lib", "wampy",
				"--url", url, "--realm", string(testRealm), "--serializer", ser, "--scenario", scenario, "--prefix", prefix}
		},
	},
	{
		name:        "autobahn_py",
		serializers: []string{"json", "msgpack", "cbor"},
		rawSocket:   []string{"json", "msgpack", "cbor"},
		jsonBinary:  true,
		cancel:      true,
		advanced:    "msgpack/rawsocket",
		require:     requirePython,
		argv: func(dir, url, ser, scenario, prefix string) []string {
			return []string{pythonPath(), filepath.Join(dir, "py", "peer.py"),
				"--url", url, "--realm", string(testRealm), "--serializer", ser, "--scenario", scenario, "--prefix", prefix}
		},
	},
}

// cell is one library x serializer x transport combination.
type cell struct {
	lib        lib
	serializer string
	transport  string // "websocket" or "rawsocket"
}

func (c cell) name() string { return c.lib.name + "/" + c.serializer + "/" + c.transport }

// advanced reports whether c runs the advanced scenarios: its library's
// advanced cell, or every cell of a library with everyScenario.
func (c cell) advanced() bool {
	return c.lib.everyScenario || c.lib.advanced == c.serializer+"/"+c.transport
}

func (c cell) prefix() string {
	return "wampkit.interop." + c.lib.name + "_" + strings.ReplaceAll(c.serializer, ".", "_") + "_" + c.transport
}

func cells() []cell {
	var out []cell
	for _, l := range libs {
		for _, s := range l.serializers {
			out = append(out, cell{l, s, "websocket"})
		}
		for _, s := range l.rawSocket {
			out = append(out, cell{l, s, "rawsocket"})
		}
	}
	return out
}

// TestPeers runs every scenario for every library x serializer x transport
// against wampkit, with a wampkit client on the Go side: on one embedded
// router (single), and on three nodes of a cluster (cluster3), where the
// cell's Go backend sits on one node and each scenario's connections (its
// scripts, and its other Go sessions) go to the nodes round robin,
// starting on the node after the backend's: every scenario crosses nodes.
func TestPeers(t *testing.T) {
	dir := interopDir(t)
	for _, topo := range topologies {
		t.Run(topo.name, func(t *testing.T) {
			t.Parallel()
			d := startDeployment(t, topo)
			for i, c := range cells() {
				t.Run(c.name(), func(t *testing.T) {
					t.Parallel()
					c.lib.require(t)
					// The backend of cell i sits on node i (the cells spread
					// over the nodes).
					b := startBackend(t, d.node(i), nil, c.prefix())
					// The peer's own procedures live under PREFIX.peer, apart from
					// the Go backend's PREFIX.echo and PREFIX.fail.
					run := func(t *testing.T, scenario string, extra ...string) *peerRun {
						prefix := c.prefix()
						switch scenario {
						case "callee", "shared", "meta":
							prefix += ".peer"
						}
						node := b.rot.next()
						t.Logf("%s: the peer on %s, the Go backend on %s", scenario, node.name, b.wr.name)
						argv := append(c.lib.argv(dir, node.url(c.transport), c.serializer, scenario, prefix), extra...)
						return startScript(t, dir, argv...)
					}
					for _, sc := range scenarios {
						if sc.advanced && !c.advanced() {
							continue // run in the library's advanced cell (lib.advanced)
						}
						t.Run(sc.name, func(t *testing.T) {
							skipOnCluster(t)
							// The scenarios of a cell run one after the other.
							b.rot = d.rotation(i + 1)
							if sc.binary && c.serializer == "json" && !c.lib.jsonBinary {
								// Not a skip of something that should work: the peer has
								// no binary support in JSON (see lib.jsonBinary).
								t.Logf("%s cannot send binary over JSON; covered with msgpack and cbor", c.lib.name)
								return
							}
							sc.run(t, c, b, run)
						})
					}
				})
			}
		})
	}
}

// runFunc starts the cell's script for a scenario, with extra arguments.
type runFunc func(t *testing.T, scenario string, extra ...string) *peerRun

type scenario struct {
	name     string
	binary   bool // needs binary payloads
	advanced bool // runs in one cell per library (lib.advanced)
	run      func(t *testing.T, c cell, b *backend, run runFunc)
}

var scenarios = []scenario{
	{name: "join", run: testJoin},
	{name: "call_go_callee", run: testCallGoCallee},
	{name: "call_go_callee_binary", binary: true, run: testCallGoCalleeBinary},
	{name: "call_go_callee_error", run: testCallGoCalleeError},
	{name: "call_go_callee_1mib", run: testLarge},
	{name: "go_calls_peer_callee", run: testGoCallsPeer},
	{name: "publish_to_go", run: testPublishToGo},
	{name: "go_publishes_to_peer", run: testGoPublishes},
	{name: "subscribe_undefined_options", run: testUndefinedOptions},
	// Advanced profile: features the router announces.
	{name: "progress_from_go_callee", run: testProgressFromGo},
	{name: "disclose_to_go_callee", run: testDiscloseToGo},
	{name: "call_go_prefix_registration", run: testCallPattern},
	{name: "cancel_go_callee", run: testCancelGoCallee},
	{name: "publish_self_disclosed", run: testPublishSelf},
	{name: "pattern_subscriptions", run: testPattern},
	{name: "eligible_exclude", run: testEligible},
	// Features added to the router since (advanced_test.go), in one cell
	// per library.
	{name: "cancel_killnowait_go_callee", advanced: true, run: testCancelKillNoWait},
	{name: "timeout_go_callee", advanced: true, run: testTimeoutGoCallee},
	{name: "shared_registration", advanced: true, run: testShared},
	{name: "filtered_publish_to_go", advanced: true, run: testFiltered},
	{name: "session_meta_api", advanced: true, run: testMeta},
	{name: "session_kill", advanced: true, run: testKill},
	{name: "session_killed_by_go", advanced: true, run: testKilledByGo},
	{name: "event_retention", advanced: true, run: testRetained},
}

func testJoin(t *testing.T, c cell, b *backend, run runFunc) {
	res := run(t, "join").result()
	if s, _ := res["session"].(float64); s < 1 || s > float64(protocol.MaxID) {
		t.Errorf("session id %v not in [1, 2^53]", res["session"])
	}
	var roles []string
	for _, r := range res["roles"].([]any) {
		roles = append(roles, r.(string))
	}
	sort.Strings(roles)
	if d := cmp.Diff([]string{"broker", "dealer"}, roles); d != "" {
		t.Errorf("router roles seen by the peer (-want +got):\n%s", d)
	}
	// Every feature the router announces (router.go routerRoles), as the
	// library decoded WELCOME.Details.roles.
	want := map[string]any{
		"broker": []any{"event_retention", "pattern_based_subscription", "payload_passthru_mode", "publisher_exclusion", "publisher_identification",
			"session_meta_api", "subscriber_blackwhite_listing", "subscription_meta_api", "subscription_revocation"},
		"dealer": []any{"call_canceling", "call_timeout", "caller_identification", "pattern_based_registration",
			"payload_passthru_mode", "progressive_call_invocations", "progressive_call_results", "registration_meta_api",
			"registration_revocation", "session_meta_api", "shared_registration", "testament_meta_api"},
	}
	if c.lib.name == "autobahn_py" {
		// Autobahn|Python 22.7 reports only the features its RoleFeatures
		// classes know (role.py): not progressive_call_invocations nor
		// payload_passthru_mode.
		for role, fs := range want {
			want[role] = slices.DeleteFunc(slices.Clone(fs.([]any)), func(f any) bool {
				return f == "payload_passthru_mode" || f == "progressive_call_invocations"
			})
		}
	}
	if d := cmp.Diff(want, res["features"]); d != "" {
		t.Errorf("router features seen by the peer (-want +got):\n%s", d)
	}
}

func testCallGoCallee(t *testing.T, c cell, b *backend, run runFunc) {
	res := run(t, "call").result()
	inv := b.nextInvocation(t)
	checkPayload(t, "payload the Go callee received", inv.Args, inv.Kwargs, stdArgs, stdKw)
	checkPayload(t, "result the peer received", res["args"], res["kwargs"], stdArgs, stdKw)
}

func testCallGoCalleeBinary(t *testing.T, c cell, b *backend, run runFunc) {
	res := run(t, "binary").result()
	inv := b.nextInvocation(t)
	if len(inv.Args) != 1 {
		t.Fatalf("Go callee received args %#v, want one []byte", inv.Args)
	}
	if got, ok := inv.Args[0].([]byte); !ok || !bytes.Equal(got, binData) {
		t.Errorf("Go callee received %T %#v, want []byte 00..ff", inv.Args[0], inv.Args[0])
	}
	checkPayload(t, "bytes echoed to the peer", res["args"], res["kwargs"], protocol.List{binData}, nil)
}

func testCallGoCalleeError(t *testing.T, c cell, b *backend, run runFunc) {
	res := run(t, "error").result()
	b.nextInvocation(t)
	if res["error"] != string(errURI) {
		t.Errorf("error URI = %v, want %s", res["error"], errURI)
	}
	checkPayload(t, "error payload the peer received", res["args"], res["kwargs"], errArgs, errKwargs)
}

func testGoCallsPeer(t *testing.T, c cell, b *backend, run runFunc) {
	p := run(t, "callee")
	p.waitReady()
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	uri := func(name string) protocol.URI { return b.uri("peer." + name) }
	want := []string{"echo"}

	r, err := b.c.Call(ctx, uri("echo"), []any(stdArgs)...)
	if err != nil {
		t.Fatalf("call %s: %v", uri("echo"), err)
	}
	// Call takes positional arguments only; kwargs go through Do.
	checkPayload(t, "args-only result from the peer callee", r.Args, r.Kwargs, stdArgs, nil)
	r, err = b.c.Do(ctx, &client.CallRequest{Procedure: uri("echo"), Args: stdArgs, Kwargs: stdKw})
	if err != nil {
		t.Fatalf("call %s: %v", uri("echo"), err)
	}
	want = append(want, "echo")
	checkPayload(t, "result from the peer callee", r.Args, r.Kwargs, stdArgs, stdKw)

	if c.serializer != "json" || c.lib.jsonBinary {
		r, err = b.c.Call(ctx, uri("echo"), binData)
		if err != nil {
			t.Fatalf("call %s with bytes: %v", uri("echo"), err)
		}
		want = append(want, "echo")
		if len(r.Args) != 1 {
			t.Errorf("binary echo: got args %#v", r.Args)
		} else if got, ok := r.Args[0].([]byte); !ok || !bytes.Equal(got, binData) {
			t.Errorf("binary echo: got %T %#v, want []byte 00..ff", r.Args[0], r.Args[0])
		}
	}

	_, err = b.c.Call(ctx, uri("fail"), "please fail")
	want = append(want, "fail")
	if err == nil {
		t.Errorf("call %s succeeded, want an application error", uri("fail"))
	} else {
		pe := asError(t, err)
		if pe.URI != errURI {
			t.Errorf("error URI = %s, want %s", pe.URI, errURI)
		}
		checkPayload(t, "error payload from the peer callee", pe.Args, pe.Kwargs, errArgs, errKwargs)
	}

	// Caller identification (the router announces it; every callee here
	// announces it too).
	r, err = b.c.Do(ctx, &client.CallRequest{Procedure: uri("whoami"), DiscloseMe: true})
	if err != nil {
		t.Fatalf("call %s: %v", uri("whoami"), err)
	}
	want = append(want, "whoami")
	checkPayload(t, "caller the peer callee saw", r.Args, nil, protocol.List{b.c.SessionID()}, nil)

	// Pattern-based registration (the router announces it, and so does
	// every callee here): the callee sees the concrete procedure.
	for _, pc := range []struct{ call, match, name string }{
		{"peer.pfx.a.b", "prefix", "pfx"},
		{"peer.wc.mid.leaf", "wildcard", "wc"},
	} {
		r, err = b.c.Call(ctx, b.uri(pc.call))
		if err != nil {
			t.Fatalf("call %s: %v", b.uri(pc.call), err)
		}
		want = append(want, pc.name)
		checkPayload(t, "pattern registration seen by the peer callee", r.Args, nil, protocol.List{pc.match, string(b.uri(pc.call))}, nil)
	}

	if c.lib.name == "autobahn_py" {
		// Only Autobahn|Python's callee announces progressive results and
		// call canceling; the router rightly withholds them from the
		// others.
		var progress []any
		r, err = b.c.Do(ctx, &client.CallRequest{Procedure: uri("progress"), OnProgress: func(r *client.Result) error {
			progress = append(progress, r.Args)
			return nil
		}})
		if err != nil {
			t.Fatalf("call %s: %v", uri("progress"), err)
		}
		want = append(want, "progress")
		checkPayload(t, "progressive results from the peer callee", progress, r.Args,
			protocol.List{protocol.List{1}, protocol.List{2}, protocol.List{3}}, protocol.List{"done"})

		// Cancel on the first progressive result: CANCEL, INTERRUPT to the
		// peer, which cancels its handler.
		callCtx, stop := context.WithCancel(ctx)
		_, err = b.c.Do(callCtx, &client.CallRequest{Procedure: uri("slow"), OnProgress: func(*client.Result) error {
			stop()
			return nil
		}})
		stop()
		if err == nil {
			t.Errorf("call %s: want an error after cancel", uri("slow"))
		}
		want = append(want, "slow", "interrupted")

		// Dealer-initiated call timeout: ERROR wamp.error.timeout to the
		// Go caller, INTERRUPT killnowait to the Python callee, which
		// announces call canceling.
		_, err = b.c.Do(ctx, &client.CallRequest{Procedure: uri("slow"), Timeout: 300 * time.Millisecond})
		checkErrorURI(t, "call with a dealer timeout", err, protocol.ErrTimeout)
		want = append(want, "slow", "interrupted")
	} else {
		// Dealer-initiated call timeout against a callee that announces no
		// call canceling: ERROR wamp.error.timeout to the Go caller, no
		// INTERRUPT (mode skip, SUMMARY §14.3); the callee's late YIELD,
		// sent when PREFIX.peer.release runs, is discarded silently and the
		// callee's session goes on.
		_, err = b.c.Do(ctx, &client.CallRequest{Procedure: uri("hang"), Timeout: 300 * time.Millisecond})
		checkErrorURI(t, "call with a dealer timeout", err, protocol.ErrTimeout)
		if _, err := b.c.Call(ctx, uri("release")); err != nil {
			t.Fatalf("call %s: %v", uri("release"), err)
		}
		want = append(want, "hang", "release")
	}

	if _, err := b.c.Call(ctx, uri("stop")); err != nil {
		t.Fatalf("call %s: %v", uri("stop"), err)
	}
	want = append(want, "stop")
	res := p.result()
	// Autobahn|Python records "interrupted" when asyncio delivers the
	// cancellation to the handler, which may be after the next INVOCATION
	// ran: compare without order.
	sorted := cmpopts.SortSlices(func(a, b any) bool { return fmt.Sprint(a) < fmt.Sprint(b) })
	if d := cmp.Diff(normal(t, want), normal(t, res["invocations"]), sorted); d != "" {
		t.Errorf("invocations the peer saw (-want +got):\n%s", d)
	}
}

func testPublishToGo(t *testing.T, c cell, b *backend, run runFunc) {
	res := run(t, "publish").result()
	if p, _ := res["publication"].(float64); p < 1 {
		t.Errorf("publication id %v, want >= 1", res["publication"])
	}
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	ev := b.nextEvent(ctx, t)
	checkPayload(t, "event the Go subscriber received", ev.Args, ev.Kwargs, stdArgs, stdKw)
	if got, want := float64(ev.Publication), res["publication"]; got != want {
		t.Errorf("event publication %v, PUBLISHED said %v", got, want)
	}
}

func testGoPublishes(t *testing.T, c cell, b *backend, run runFunc) {
	p := run(t, "subscribe")
	p.waitReady()
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	if _, err := b.c.DoPublish(ctx, &client.PublishRequest{Topic: b.uri("topic"), Args: stdArgs, Kwargs: stdKw, Acknowledge: true}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	res := p.result()
	checkPayload(t, "event the peer received", res["args"], res["kwargs"], stdArgs, stdKw)
	// The Go backend is subscribed to the same topic, and publisher
	// exclusion is on by default: it must not see its own event.
	select {
	case ev := <-b.events:
		t.Errorf("publisher received its own event %v (exclude_me defaults to true)", ev.Publication)
	default:
	}
}

// testUndefinedOptions checks that wampy's SUBSCRIBE with Options
// {match: undefined, get_retained: undefined} (see lib.undefinedOptions)
// subscribes in every serializer: over MessagePack and CBOR the undefined
// values reach the router, which must take the options as absent (an
// exact subscription) and deliver the event.
func testUndefinedOptions(t *testing.T, c cell, b *backend, run runFunc) {
	if !c.lib.undefinedOptions {
		t.Logf("%s sends no undefined options", c.lib.name)
		return
	}
	p := run(t, "subscribe")
	m := p.next()
	if m["ready"] != true {
		t.Fatalf("wampy/%s SUBSCRIBE with undefined options: got %v, want a ready line\nstderr:\n%s", c.serializer, m, p.stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	if _, err := b.c.DoPublish(ctx, &client.PublishRequest{Topic: b.uri("topic"), Args: stdArgs, Kwargs: stdKw, Acknowledge: true}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	res := p.result()
	checkPayload(t, "event the peer received", res["args"], res["kwargs"], stdArgs, stdKw)
}

func testProgressFromGo(t *testing.T, c cell, b *backend, run runFunc) {
	res := run(t, "progress").result()
	inv := b.nextInvocation(t)
	if !inv.ReceiveProgress() {
		t.Errorf("INVOCATION.Details.receive_progress missing: %v", inv.Details)
	}
	checkPayload(t, "progressive results the peer received", res["progress"], res["args"],
		protocol.List{protocol.List{1}, protocol.List{2}, protocol.List{3}}, protocol.List{"done"})
}

func testDiscloseToGo(t *testing.T, c cell, b *backend, run runFunc) {
	if !c.lib.discloseMe {
		t.Logf("%s has no disclose_me option for callers", c.lib.name)
		return
	}
	res := run(t, "disclose").result()
	inv := b.nextInvocation(t)
	if float64(inv.Caller) != res["session"] {
		t.Errorf("Go callee saw caller %d, the peer's session is %v", inv.Caller, res["session"])
	}
	checkPayload(t, "whoami result", res["args"], nil, protocol.List{res["session"]}, nil)
}

func testCancelGoCallee(t *testing.T, c cell, b *backend, run runFunc) {
	if !c.lib.cancel {
		t.Logf("our %s script does not cancel calls", c.lib.name)
		return
	}
	res := run(t, "cancel").result()
	waitInterrupted(t, b, b.nextInvocation(t))
	switch c.lib.name {
	case "autobahn_py":
		// Cancelling the asyncio future ends the call at once, locally.
		if res["error"] != "asyncio.CancelledError" {
			t.Errorf("peer saw %v, want its call canceled", res["error"])
		}
	default:
		// CANCEL mode "kill": the callee's ERROR comes back.
		if res["error"] != string(protocol.ErrCanceled) {
			t.Errorf("peer saw error %v, want %s", res["error"], protocol.ErrCanceled)
		}
	}
}

func testPublishSelf(t *testing.T, c cell, b *backend, run runFunc) {
	res := run(t, "publish_self").result()
	switch {
	case c.lib.name == "wampy":
		// wampy cannot send exclude_me=false (see js/peer.mjs publish_self).
		if res["own"] != nil {
			t.Errorf("wampy received its own event %v; if wampy now sends exclude_me=false, drop this case", res["own"])
		}
	case !c.lib.discloseMe:
		// Autobahn|Python: exclude_me=false without disclose_me. The
		// publisher gets its own event, not identified.
		own, _ := res["own"].(map[string]any)
		if own["publisher"] != nil {
			t.Errorf("own event names publisher %v without disclose_me", own["publisher"])
		}
		checkPayload(t, "own event", own["args"], own["kwargs"], protocol.List{"self"}, protocol.Dict{"k": "v"})
	default:
		own, _ := res["own"].(map[string]any)
		if own["publisher"] != res["session"] {
			t.Errorf("own event's publisher %v, session %v", own["publisher"], res["session"])
		}
		checkPayload(t, "own event", own["args"], own["kwargs"], protocol.List{"self"}, protocol.Dict{"k": "v"})
	}
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	ev := b.nextEvent(ctx, t)
	wantPub := res["session"]
	if !c.lib.discloseMe {
		wantPub = float64(0) // not disclosed
	}
	if float64(ev.Publisher) != wantPub {
		t.Errorf("Go subscriber saw publisher %d, want %v", ev.Publisher, wantPub)
	}
}

func testPattern(t *testing.T, c cell, b *backend, run runFunc) {
	p := run(t, "pattern")
	p.waitReady()
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	for _, topic := range []protocol.URI{b.uri("pfx.a.b"), b.uri("wc.mid.leaf"), b.uri("wc.mid.other")} {
		if _, err := b.c.DoPublish(ctx, &client.PublishRequest{Topic: topic, Args: protocol.List{string(topic)}, Kwargs: protocol.Dict{}, Acknowledge: true}); err != nil {
			t.Fatalf("publish %s: %v", topic, err)
		}
	}
	res := p.result()
	want := []any{
		map[string]any{"via": "prefix", "topic": string(b.uri("pfx.a.b")), "args": []any{string(b.uri("pfx.a.b"))}},
		map[string]any{"via": "wildcard", "topic": string(b.uri("wc.mid.leaf")), "args": []any{string(b.uri("wc.mid.leaf"))}},
	}
	if d := cmp.Diff(normal(t, want), normal(t, res["events"])); d != "" {
		t.Errorf("pattern events (-want +got):\n%s", d)
	}
}

func testEligible(t *testing.T, c cell, b *backend, run runFunc) {
	p := run(t, "subscribe")
	m := p.next()
	if m["ready"] != true {
		t.Fatalf("want a ready line, got %v\nstderr:\n%s", m, p.stderr)
	}
	session := protocol.ID(m["session"].(float64))
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	// First excluded, then eligible: the peer must see only the second
	// (events from one publisher arrive in order, SUMMARY §10).
	if _, err := b.c.DoPublish(ctx, &client.PublishRequest{Topic: b.uri("topic"), Args: protocol.List{"excluded"}, Exclude: []protocol.ID{session}, Acknowledge: true}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	if _, err := b.c.DoPublish(ctx, &client.PublishRequest{Topic: b.uri("topic"), Args: stdArgs, Kwargs: stdKw,
		Eligible: []protocol.ID{session}, DiscloseMe: true, Acknowledge: true}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	res := p.result()
	checkPayload(t, "event the peer received", res["args"], res["kwargs"], stdArgs, stdKw)
	if res["publisher"] != float64(b.c.SessionID()) {
		t.Errorf("peer saw publisher %v, want the Go session %d", res["publisher"], b.c.SessionID())
	}
}

func testLarge(t *testing.T, c cell, b *backend, run runFunc) {
	res := run(t, "large").result()
	inv := b.nextInvocation(t)
	wantLens := []any{1 << 20}
	if s, ok := inv.Args[0].(string); !ok || len(s) != 1<<20 || s[:16] != "0123456789abcdef" {
		t.Errorf("Go callee received %T of length %d, want the 1 MiB string", inv.Args[0], len(fmt.Sprint(inv.Args[0])))
	}
	if len(inv.Args) > 1 {
		wantLens = append(wantLens, 1<<20)
		if d, ok := inv.Args[1].([]byte); !ok || !bytes.Equal(d, bytes.Repeat([]byte{0xa5}, 1<<20)) {
			t.Errorf("Go callee received %T, want 1 MiB of 0xa5 bytes", inv.Args[1])
		}
	}
	if d := cmp.Diff(normal(t, wantLens), normal(t, res["lens"])); d != "" {
		t.Errorf("lengths echoed to the peer (-want +got):\n%s", d)
	}
}

func testCallPattern(t *testing.T, c cell, b *backend, run runFunc) {
	res := run(t, "call_pattern").result()
	inv := b.nextInvocation(t)
	want := b.uri("gpfx.x.y")
	if inv.Procedure != want {
		t.Errorf("Go callee saw procedure %s, want %s", inv.Procedure, want)
	}
	checkPayload(t, "result", res["args"], nil, protocol.List{string(want)}, nil)
}
