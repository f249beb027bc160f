package interop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
)

// Scenarios for the features the router announced after the first interop
// version: shared registration, dealer-initiated call timeouts and the
// session meta API (SUMMARY §14.3, §14.8, §16.1), plus call canceling
// with mode killnowait and black/whitelisting by a foreign publisher. They
// run in one cell per library (lib.advanced).

// checkErrorURI fails the test unless err is a WAMP error with that URI.
func checkErrorURI(tb testing.TB, what string, err error, want protocol.URI) {
	tb.Helper()
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		tb.Errorf("%s: got %v (%T), want ERROR %s", what, err, err, want)
		return
	}
	if pe.URI != want {
		tb.Errorf("%s: ERROR %s, want %s", what, pe.URI, want)
	}
}

// paramsArg is the --params argument of the scripts.
func paramsArg(tb testing.TB, p map[string]any) []string {
	tb.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		tb.Fatal(err)
	}
	return []string{"--params", string(b)}
}

// joinGo joins another wampkit client in-process, anonymously: the
// router gives it a random authid (see authIDOf).
func joinGo(tb testing.TB, wr *wampkitRouter) *client.Client {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	peer, err := wr.r.Connect(ctx)
	if err != nil {
		tb.Fatalf("router.Connect: %v", err)
	}
	c, err := client.Join(ctx, peer, client.Config{Realm: testRealm, Logger: testLogger(tb)})
	if err != nil {
		tb.Fatalf("client.Join: %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// authIDOf returns the authid the router gave c.
func authIDOf(c *client.Client) string { return c.WelcomeDetails().String("authid") }

// waitInterrupted waits for the Go backend's PREFIX.slow to see its
// context end (INTERRUPT from the dealer).
func waitInterrupted(tb testing.TB, b *backend, inv *client.Invocation) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	select {
	case got := <-b.interrupted:
		if got != inv {
			tb.Errorf("another invocation was interrupted")
		}
	case <-ctx.Done():
		tb.Fatalf("the Go callee was not interrupted: %v", ctx.Err())
	}
}

// testCancelKillNoWait: the peer cancels with mode killnowait on the
// first progressive result; the dealer answers ERROR wamp.error.canceled
// at once and sends INTERRUPT to the Go callee (SUMMARY §14.4).
func testCancelKillNoWait(t *testing.T, c cell, b *backend, run runFunc) {
	if !c.lib.cancelMode {
		t.Logf("%s's cancel sends no mode (asyncio future.cancel); kill/killnowait are covered with the JS libraries", c.lib.name)
		return
	}
	res := run(t, "cancel_killnowait").result()
	inv := b.nextInvocation(t)
	waitInterrupted(t, b, inv)
	want := string(protocol.ErrCanceled)
	if c.lib.name == "autobahn_js" {
		// Autobahn|JS 26.3.1 rejects a call canceled with a mode other than
		// kill at once, locally, with Error("Cancelled"), and drops the
		// dealer's ERROR wamp.error.canceled (lib/session.js, cancel: "When
		// the mode is not 'kill' it will never receive a call result"). The
		// dealer does answer (SUMMARY §14.4); the library chooses not to wait.
		want = "Cancelled"
	}
	if res["error"] != want {
		t.Errorf("peer saw error %v, want %s", res["error"], want)
	}
}

// testTimeoutGoCallee: the peer calls the Go PREFIX.slow, which never
// answers, with CALL.Options.timeout; the dealer answers ERROR
// wamp.error.timeout and interrupts the Go callee (SUMMARY §14.3).
func testTimeoutGoCallee(t *testing.T, c cell, b *backend, run runFunc) {
	res := run(t, "timeout").result()
	inv := b.nextInvocation(t)
	if ms, _ := inv.Details.Int("timeout"); ms != 0 {
		// A dealer-run timeout is not forwarded (the Go callee did not ask
		// with forward_timeout).
		t.Logf("INVOCATION.Details.timeout = %d", ms)
	}
	waitInterrupted(t, b, inv)
	if res["error"] != string(protocol.ErrTimeout) {
		t.Errorf("peer saw error %v, want %s", res["error"], protocol.ErrTimeout)
	}
}

// testShared runs two callees of the library that register the same
// procedures with each invocation policy (SUMMARY §14.8): the Go caller
// must see roundrobin alternate, first stay on the first registrant,
// last on the second, random pick among them, and single refuse the
// second registration. That the second REGISTER of a shared procedure
// succeeds at all proves the library sent REGISTER.Options.invoke.
func testShared(t *testing.T, c cell, b *backend, run runFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	start := func(want string) (*peerRun, float64) {
		p := run(t, "shared")
		m := p.next()
		if m["ready"] != true {
			t.Fatalf("want a ready line, got %v\nstderr:\n%s", m, p.stderr)
		}
		checkSharedRefusals(t, m, want)
		return p, m["session"].(float64)
	}
	// One after the other: registration order decides first and last.
	pa, a := start("registered")
	pb, bb := start(string(protocol.ErrProcedureAlreadyExists))
	catchUp(t, b.c)
	call := func(policy string) float64 {
		t.Helper()
		uri := b.uri("peer.shared." + policy)
		r, err := b.c.Call(ctx, uri)
		if err != nil {
			t.Fatalf("call %s: %v", uri, err)
		}
		if len(r.Args) != 1 {
			t.Fatalf("call %s: args %v, want [session]", uri, r.Args)
		}
		id, ok := protocol.ToID(r.Args[0])
		if !ok {
			t.Fatalf("call %s: args %v, want [session]", uri, r.Args)
		}
		return float64(id)
	}
	var got []float64
	for range 4 {
		got = append(got, call("roundrobin"))
	}
	t.Logf("roundrobin over callees %.0f, %.0f: %.0f", a, bb, got)
	for i := 1; i < len(got); i++ {
		if got[i] == got[i-1] {
			t.Errorf("roundrobin: callee sessions %v do not alternate (callees %v, %v)", got, a, bb)
			break
		}
	}
	for _, pc := range []struct {
		policy string
		want   float64
	}{{"first", a}, {"last", bb}, {"single", a}} {
		for range 2 {
			if s := call(pc.policy); s != pc.want {
				t.Errorf("%s: went to session %v, want %v", pc.policy, s, pc.want)
			}
		}
	}
	if s := call("mixed"); s != a {
		t.Errorf("mixed: went to session %v, want the only registrant %v", s, a)
	}
	random := map[float64]int{}
	for range 4 {
		s := call("random")
		if s != a && s != bb {
			t.Errorf("random: went to session %v, not a callee", s)
		}
		random[s]++
	}
	// Stop both; each reports how often it served each policy.
	for _, s := range []float64{a, bb} {
		if _, err := b.c.Call(ctx, b.uri(fmt.Sprintf("peer.stop.%d", int64(s)))); err != nil {
			t.Fatalf("stop %v: %v", s, err)
		}
	}
	wants := []map[string]any{
		{"roundrobin": 2, "first": 2, "single": 2, "mixed": 1},
		{"roundrobin": 2, "last": 2},
	}
	for i, p := range []*peerRun{pa, pb} {
		s := []float64{a, bb}[i]
		if random[s] > 0 {
			wants[i]["random"] = random[s]
		}
		res := p.result()
		if d := cmp.Diff(normal(t, wants[i]), normal(t, res["counts"])); d != "" {
			t.Errorf("invocations of callee %d (-want +got):\n%s", i+1, d)
		}
	}
}

// catchUp returns once c's node knows every registration made on any
// node before the call (nothing to wait for on a single router). Over a
// cluster a node learns of another node's registration a moment after
// REGISTERED; a call that finds no callee waits for its node to catch up
// (router.ClusterSync), but a call of a shared procedure finds the
// callees known so far and does not wait: the policies would not see a
// callee whose registration is still on its way. So this calls a
// procedure that nobody registers, which waits.
func catchUp(tb testing.TB, c *client.Client) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	_, err := c.Call(ctx, "wampkit.interop.nobody_registers_this")
	checkErrorURI(tb, "call of a procedure that nobody registers", err, protocol.ErrNoSuchProcedure)
}

// checkSharedRefusals checks the ready line of a "shared" script: its
// REGISTER of PREFIX.shared.single (invoke single) and of
// PREFIX.shared.mixed (invoke first from the first registrant, last from
// the others) must have given want: "registered" for the first callee,
// wamp.error.procedure_already_exists for the others (SUMMARY §14.8).
func checkSharedRefusals(tb testing.TB, ready map[string]any, want string) {
	tb.Helper()
	for _, k := range []string{"single", "mixed"} {
		if ready[k] != want {
			tb.Errorf("session %v: REGISTER of PREFIX.shared.%s: %v, want %s", ready["session"], k, ready[k], want)
		}
	}
}

// testFiltered: the peer publishes with exclude, exclude_authid, then
// eligible + eligible_authrole naming the Go subscriber (SUMMARY §15.1).
// Events of one publisher arrive in order (SUMMARY §10), so the first
// event the Go subscriber sees must be the third publication.
func testFiltered(t *testing.T, c cell, b *backend, run runFunc) {
	authID := b.c.WelcomeDetails().String("authid")
	run(t, "filtered", paramsArg(t, map[string]any{"session": b.c.SessionID(), "authid": authID})...).result()
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	ev := b.nextEvent(ctx, t)
	checkPayload(t, "first event the Go subscriber received", ev.Args, ev.Kwargs, protocol.List{"eligible"}, protocol.Dict{"k": "v"})
}

// testRetained: the Go client retains an event, the peer subscribes with
// get_retained and must get it with Details.retained; then the peer
// retains one and a Go subscriber with GetRetained must get it (spec
// advanced "Event Retention"). Only Autobahn|Python has both options.
func testRetained(t *testing.T, c cell, b *backend, run runFunc) {
	if c.lib.name != "autobahn_py" {
		t.Logf("%s sends no PUBLISH.Options.retain / SUBSCRIBE.Options.get_retained; covered with Autobahn|Python", c.lib.name)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	if _, err := b.c.DoPublish(ctx, &client.PublishRequest{Topic: b.uri("retained.go"), Args: protocol.List{"from go"},
		Kwargs: protocol.Dict{"k": "v"}, Retain: true, Acknowledge: true}); err != nil {
		t.Fatalf("DoPublish: %v", err)
	}
	res := run(t, "retained").result()
	first, _ := res["first"].(map[string]any)
	if first["retained"] != true {
		t.Errorf("peer's event retained = %v, want true", first["retained"])
	}
	checkPayload(t, "peer's retained event", first["args"], first["kwargs"], protocol.List{"from go"}, protocol.Dict{"k": "v"})

	events := make(chan *client.Event, 1)
	if _, err := b.c.Subscribe(ctx, b.uri("retained.peer"), func(ev *client.Event) { events <- ev },
		&client.SubscribeOptions{GetRetained: true}); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	select {
	case ev := <-events:
		if !ev.Retained || float64(ev.Publication) != res["publication"] {
			t.Errorf("Go subscriber got %+v, want the peer's retained publication %v", ev, res["publication"])
		}
		checkPayload(t, "Go subscriber's retained event", ev.Args, ev.Kwargs, protocol.List{"from peer"}, protocol.Dict{"k": "v"})
	case <-ctx.Done():
		t.Fatal("the Go subscriber got no retained event")
	}
}

// sessionDetails checks a session's details from wamp.session.get or
// wamp.session.on_join (SUMMARY §16.1) against the Go client c.
func sessionDetails(tb testing.TB, what string, got any, c *client.Client, authID string) {
	tb.Helper()
	d, _ := normal(tb, got).(map[string]any)
	want := map[string]any{
		"session":      float64(c.SessionID()),
		"authid":       authID,
		"authrole":     "anonymous",
		"authmethod":   "anonymous",
		"authprovider": "static",
	}
	for k, w := range want {
		if d[k] != w {
			tb.Errorf("%s: %s = %v, want %v (details %v)", what, k, d[k], w, d)
		}
	}
}

// testMeta: the peer uses the session meta API (SUMMARY §16.1) while a Go
// client joins and leaves: wamp.session.count (with and without
// filter_authroles), list, get, the on_join and on_leave events, and
// wamp.error.no_such_session once the session is gone.
func testMeta(t *testing.T, c cell, b *backend, run runFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	p := run(t, "meta")
	m := p.next()
	if m["ready"] != true {
		t.Fatalf("want a ready line, got %v\nstderr:\n%s", m, p.stderr)
	}
	me := m["session"].(float64)
	// Other cells join and leave the realm concurrently: only lower bounds
	// and membership are certain.
	if n, _ := m["count"].(float64); n < 2 {
		t.Errorf("wamp.session.count = %v, want >= 2 (the peer and the Go backend)", m["count"])
	}
	if n, _ := m["count_anonymous"].(float64); n < 2 {
		t.Errorf("wamp.session.count([anonymous]) = %v, want >= 2", m["count_anonymous"])
	}
	if m["count_nobody"] != float64(0) {
		t.Errorf("wamp.session.count([wampkit-nobody]) = %v, want 0", m["count_nobody"])
	}
	list, _ := m["list"].([]any)
	for _, s := range []float64{me, float64(b.c.SessionID())} {
		found := false
		for _, x := range list {
			found = found || x == s
		}
		if !found {
			t.Errorf("wamp.session.list %v lacks session %v", list, s)
		}
	}
	if self, _ := m["self"].(map[string]any); self["session"] != me || self["authrole"] != "anonymous" {
		t.Errorf("wamp.session.get(own session) = %v", m["self"])
	}

	g := joinGo(t, b.rot.next())
	authID := authIDOf(g)
	r, err := b.c.Call(ctx, b.uri("peer.meta_get"), g.SessionID())
	if err != nil {
		t.Fatalf("meta_get: %v", err)
	}
	if len(r.Args) != 2 {
		t.Fatalf("meta_get: args %v, want [get, on_join]", r.Args)
	}
	sessionDetails(t, "wamp.session.get", r.Args[0], g, authID)
	sessionDetails(t, "wamp.session.on_join", r.Args[1], g, authID)

	g.Close()
	r, err = b.c.Call(ctx, b.uri("peer.meta_left"), g.SessionID())
	if err != nil {
		t.Fatalf("meta_left: %v", err)
	}
	want := []any{[]any{g.SessionID(), authID, "anonymous"}, string(protocol.ErrNoSuchSession)}
	if d := cmp.Diff(normal(t, want), normal(t, r.Args)); d != "" {
		t.Errorf("[on_leave args, wamp.session.get error] after the Go client left (-want +got):\n%s", d)
	}
	if _, err := b.c.Call(ctx, b.uri("peer.stop")); err != nil {
		t.Fatalf("stop: %v", err)
	}
	p.result()
}

// testKill: the peer kills two Go sessions, one by session ID and one by
// authid, with a reason and a message; each Go client must see GOODBYE
// with that reason and Details.message (SUMMARY §16.1). The refusals:
// its own session (no_such_session), a reason that is no URI
// (invalid_uri), wamp.session.get of an unknown session.
func testKill(t *testing.T, c cell, b *backend, run runFunc) {
	g1 := joinGo(t, b.rot.next())
	g2 := joinGo(t, b.rot.next())
	authID2 := authIDOf(g2)
	res := run(t, "kill", paramsArg(t, map[string]any{"session": g1.SessionID(), "authid": authID2, "unknown": 1})...).result()
	want := map[string]any{
		"kill":             []any{},
		"kill_by_authid":   []any{[]any{g2.SessionID()}},
		"kill_by_authrole": []any{0},
		"kill_self":        string(protocol.ErrNoSuchSession),
		"kill_bad_reason":  string(protocol.ErrInvalidURI),
		"get_unknown":      string(protocol.ErrNoSuchSession),
	}
	got := map[string]any{}
	for k := range want {
		got[k] = res[k]
	}
	if d := cmp.Diff(normal(t, want), normal(t, got)); d != "" {
		t.Errorf("kill results (-want +got):\n%s", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	for i, g := range []*client.Client{g1, g2} {
		select {
		case <-g.Done():
		case <-ctx.Done():
			t.Fatalf("Go session %d was not killed: %v", i+1, ctx.Err())
		}
		var ge *client.GoodbyeError
		if !errors.As(g.Err(), &ge) {
			t.Errorf("Go session %d ended with %v (%T), want a GOODBYE", i+1, g.Err(), g.Err())
			continue
		}
		if ge.Reason != "wampkit.interop.kicked" {
			t.Errorf("Go session %d: GOODBYE reason %s, want wampkit.interop.kicked", i+1, ge.Reason)
		}
		if msg := ge.Details.String("message"); !strings.HasPrefix(msg, "killed by ") {
			t.Errorf("Go session %d: GOODBYE Details.message %q, want the peer's", i+1, msg)
		}
	}
}

// TestSessionKillAll: a peer of each library calls wamp.session.kill_all
// with a reason and a message (SUMMARY §16.1) on a router of its own (it
// ends every other session of the realm): the result is the number of
// sessions killed, the peer's own session survives, and each Go client
// sees GOODBYE with that reason and message.
//
// Over a cluster (cluster3) each library has a cluster of its own, and the
// Go sessions and the peer go to the nodes round robin.
func TestSessionKillAll(t *testing.T) {
	dir := interopDir(t)
	for _, topo := range topologies {
		for _, l := range libs {
			t.Run(topo.name+"/"+l.name, func(t *testing.T) {
				skipOnCluster(t)
				t.Parallel()
				l.require(t)
				rot := startDeployment(t, topo).rotation(0)
				gs := []*client.Client{joinGo(t, rot.next()), joinGo(t, rot.next())}
				ser, transport, _ := strings.Cut(l.advanced, "/")
				url := rot.next().url(transport)
				res := startScript(t, dir, l.argv(dir, url, ser, "kill_all", "wampkit.interop.kill_all")...).result()
				if d := cmp.Diff(normal(t, []any{len(gs)}), normal(t, res["args"])); d != "" {
					t.Errorf("wamp.session.kill_all result (-want +got):\n%s", d)
				}
				ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
				defer cancel()
				for i, g := range gs {
					select {
					case <-g.Done():
					case <-ctx.Done():
						t.Fatalf("Go session %d was not killed: %v", i+1, ctx.Err())
					}
					var ge *client.GoodbyeError
					if !errors.As(g.Err(), &ge) || ge.Reason != "wampkit.interop.kicked" || !strings.HasPrefix(ge.Details.String("message"), "killed by ") {
						t.Errorf("Go session %d ended with %v, want GOODBYE wampkit.interop.kicked with the peer's message", i+1, g.Err())
					}
				}
			})
		}
	}
}

// testKilledByGo: the Go client kills the peer's session with
// wamp.session.kill and a reason and message (SUMMARY §16.1); the peer
// must see GOODBYE with them (wampy reports no reason, only the close).
func testKilledByGo(t *testing.T, c cell, b *backend, run runFunc) {
	p := run(t, "subscribe")
	m := p.next()
	if m["ready"] != true {
		t.Fatalf("want a ready line, got %v\nstderr:\n%s", m, p.stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	const reason, message = "wampkit.interop.kicked_by_go", "bye from wampkit"
	if _, err := b.c.Do(ctx, &client.CallRequest{Procedure: "wamp.session.kill", Args: protocol.List{m["session"]},
		Kwargs: protocol.Dict{"reason": reason, "message": message}}); err != nil {
		t.Fatalf("wamp.session.kill(%v): %v", m["session"], err)
	}
	res := p.next()
	for range p.lines {
	}
	p.cmd.Wait() //nolint:errcheck // the script is expected to fail
	if res["ok"] != false {
		t.Fatalf("the peer's session survived wamp.session.kill: %v", res)
	}
	msg, _ := res["error"].(string)
	t.Logf("peer saw: %s", msg)
	want := []string{reason, message}
	if c.lib.name == "wampy" {
		want = []string{"closed by the router"} // wampy does not report the reason
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("peer's error %q does not say %q", msg, w)
		}
	}
}
