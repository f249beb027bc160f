package integration

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/transport"
)

// TestMatrix runs the Basic Profile end to end over every transport and
// serializer. Each cell gets a router of its own.
func TestMatrix(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, e *env, l link)
	}{
		{"JoinLeave", testJoinLeave},
		{"CallPayload", testCallPayload},
		{"CallLargePayload", testCallLargePayload},
		{"CallApplicationError", testCallApplicationError},
		{"CallNoSuchProcedure", testCallNoSuchProcedure},
		{"RegisterDuplicate", testRegisterDuplicate},
		{"PublishAcknowledged", testPublishAcknowledged},
		{"InvalidURIs", testInvalidURIs},
		{"FanOut", testFanOut},
		{"Unsubscribe", testUnsubscribe},
		{"EventOrder", testEventOrder},
		{"EventBurstDefaults", testEventBurstDefaults},
		{"ConcurrentCalls", testConcurrentCalls},
		{"CalleeVanishes", testCalleeVanishes},
		{"ProgressiveInvocations", testProgressiveInvocations},
		{"ProgressiveCancel", testProgressiveCancel},
		{"ProgressiveCalleeVanishes", testProgressiveCalleeVanishes},
	}
	for _, l := range links() {
		t.Run(l.String(), func(t *testing.T) {
			t.Parallel()
			// CallLargePayload sends 2 MiB messages, over the 1 MiB
			// default of the router's listeners.
			e := startEnv(t, router.Config{MaxMessageSize: largePayloadLimit})
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) { tt.run(t, e, l) })
			}
		})
	}
}

// testJoinLeave joins, checks WELCOME, leaves with GOODBYE, and checks
// that the session's registrations went with it.
func testJoinLeave(t *testing.T, e *env, l link) {
	ctx := timeout(t)
	c := e.join(t, l)
	if id := c.SessionID(); !id.Valid() {
		t.Errorf("SessionID() = %d, want an ID in [1, 2^53]", id)
	}
	if got := c.Realm(); got != realm1 {
		t.Errorf("Realm() = %q, want %q", got, realm1)
	}
	roles, err := protocol.ParseRoles(c.WelcomeDetails())
	if err != nil {
		t.Fatalf("WELCOME roles: %v", err)
	}
	if !roles.Has(protocol.RoleBroker) || !roles.Has(protocol.RoleDealer) {
		t.Errorf("WELCOME roles = %v, want broker and dealer", roles)
	}
	register(t, c, "com.matrix.leaving", echo)

	if err := c.Leave(ctx); err != nil {
		t.Fatalf("Leave() = %v, want nil", err)
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done() not closed after Leave returned")
	}
	if err := c.Err(); !errors.Is(err, client.ErrClosed) {
		t.Errorf("Err() after Leave = %v, want ErrClosed", err)
	}
	if _, err := c.Call(ctx, "com.matrix.leaving"); !errors.Is(err, client.ErrClosed) {
		t.Errorf("Call after Leave = %v, want ErrClosed", err)
	}

	// The registration left with the session.
	c2 := e.join(t, l)
	if c2.SessionID() == c.SessionID() {
		t.Errorf("second session got the same ID %d", c2.SessionID())
	}
	_, err = c2.Call(ctx, "com.matrix.leaving")
	if perr := asError(t, err); perr.URI != protocol.ErrNoSuchProcedure {
		t.Errorf("Call of a procedure whose callee left: URI = %s, want %s", perr.URI, protocol.ErrNoSuchProcedure)
	}
	if err := c2.Close(); err != nil {
		t.Errorf("Close() = %v, want nil", err)
	}
	if err := c2.Close(); !errors.Is(err, client.ErrClosed) && err != nil {
		t.Errorf("second Close() = %v, want nil or ErrClosed", err)
	}
}

// payload returns arguments covering the value types every serializer
// must carry unchanged: nesting, unicode, binary, integer extremes. The
// values have the types decoders produce (int64, uint64 above MaxInt64,
// float64, []any, map[string]any), so a round trip must give them back
// exactly.
func payload() (protocol.List, protocol.Dict) {
	args := protocol.List{
		"héllo, wörld ✓ 日本語 🎉",
		"",
		int64(0), int64(-42), int64(1 << 53), int64(math.MinInt64), uint64(math.MaxUint64),
		1.5, -0.25, true, false, nil,
		[]byte{0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff},
		[]byte{},
		[]any{int64(1), "two", []any{int64(3), map[string]any{"four": int64(4)}}},
		map[string]any{
			"ключ":  "значение",
			"bin":   []byte("bytes\x00inside"),
			"list":  []any{[]any{[]any{"deep"}}},
			"float": 3.25,
		},
	}
	kwargs := protocol.Dict{
		"nested": map[string]any{"a": []any{true, nil, 2.25}, "b": map[string]any{"c": map[string]any{"d": "e"}}},
		"ü→ñ":    "€",
		"blob":   []byte{1, 2, 3},
		"emoji":  "🦫",
	}
	return args, kwargs
}

// testCallPayload calls an echo procedure with args and kwargs and
// compares what comes back.
func testCallPayload(t *testing.T, e *env, l link) {
	ctx := timeout(t)
	callee := e.join(t, l)
	var mu sync.Mutex
	var seen *client.Invocation
	register(t, callee, "com.matrix.echo", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		mu.Lock()
		seen = inv
		mu.Unlock()
		return echo(ctx, inv)
	})
	caller := e.join(t, l)
	args, kwargs := payload()
	res, err := caller.Do(ctx, &client.CallRequest{Procedure: "com.matrix.echo", Args: args, Kwargs: kwargs})
	if err != nil {
		t.Fatalf("Do(com.matrix.echo) = %v", err)
	}
	mu.Lock()
	inv := seen
	mu.Unlock()
	if diff := cmp.Diff(args, inv.Args); diff != "" {
		t.Errorf("INVOCATION args mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(kwargs, inv.Kwargs); diff != "" {
		t.Errorf("INVOCATION kwargs mismatch (-want +got):\n%s", diff)
	}
	if inv.Procedure != "com.matrix.echo" {
		t.Errorf("Invocation.Procedure = %q, want com.matrix.echo", inv.Procedure)
	}
	if diff := cmp.Diff(args, res.Args); diff != "" {
		t.Errorf("RESULT args mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(kwargs, res.Kwargs); diff != "" {
		t.Errorf("RESULT kwargs mismatch (-want +got):\n%s", diff)
	}

	// Kwargs without args, and no payload at all.
	res, err = caller.Do(ctx, &client.CallRequest{Procedure: "com.matrix.echo", Kwargs: protocol.Dict{"only": "kwargs"}})
	if err != nil {
		t.Fatalf("Do(kwargs only) = %v", err)
	}
	if len(res.Args) != 0 || res.Kwargs.String("only") != "kwargs" {
		t.Errorf("Do(kwargs only) = args %v kwargs %v, want [] {only: kwargs}", res.Args, res.Kwargs)
	}
	res, err = caller.Call(ctx, "com.matrix.echo")
	if err != nil {
		t.Fatalf("Call(no payload) = %v", err)
	}
	if len(res.Args) != 0 || len(res.Kwargs) != 0 {
		t.Errorf("Call(no payload) = args %v kwargs %v, want none", res.Args, res.Kwargs)
	}
}

// largePayloadLimit is the router's MaxMessageSize in TestMatrix: room for
// the messages of testCallLargePayload, which the router's default (1 MiB)
// refuses.
const largePayloadLimit = 4 << 20

// testCallLargePayload sends 1 MiB of binary and 1 MiB of text through a
// call and back, within the limits of the matrix's router (4 MiB per
// message; the clients accept 16 MiB).
func testCallLargePayload(t *testing.T, e *env, l link) {
	ctx := timeout(t)
	callee := e.join(t, l)
	register(t, callee, "com.matrix.echo_large", echo)
	caller := e.join(t, l)
	blob := randomBytes(1 << 20)
	text := make([]byte, 1<<20)
	for i := range text {
		text[i] = 'a' + byte(i%26)
	}
	res, err := caller.Do(ctx, &client.CallRequest{
		Procedure: "com.matrix.echo_large",
		Args:      protocol.List{blob},
		Kwargs:    protocol.Dict{"text": string(text)},
	})
	if err != nil {
		t.Fatalf("Do(1 MiB) = %v", err)
	}
	if len(res.Args) != 1 {
		t.Fatalf("RESULT has %d args, want 1", len(res.Args))
	}
	if d := sameBytes(res.Args[0], blob); d != "" {
		t.Errorf("1 MiB binary: %s", d)
	}
	if got := res.Kwargs.String("text"); got != string(text) {
		t.Errorf("1 MiB text: got %d bytes back, want %d (equal content)", len(got), len(text))
	}
}

// testCallApplicationError checks that a callee's error URI, args and
// kwargs reach the caller unchanged.
func testCallApplicationError(t *testing.T, e *env, l link) {
	ctx := timeout(t)
	callee := e.join(t, l)
	want := &protocol.Error{
		URI:    "com.matrix.error.invalid_input",
		Args:   protocol.List{"bad input", int64(7), []any{"x", "ÿ"}},
		Kwargs: protocol.Dict{"field": "name", "limits": map[string]any{"max": int64(10)}, "raw": []byte{9, 8}},
	}
	register(t, callee, "com.matrix.fail", func(context.Context, *client.Invocation) (*client.Result, error) {
		return nil, fmt.Errorf("wrapped: %w", &protocol.Error{URI: want.URI, Args: want.Args, Kwargs: want.Kwargs})
	})
	caller := e.join(t, l)
	res, err := caller.Call(ctx, "com.matrix.fail", "some", "input")
	if err == nil {
		t.Fatalf("Call(com.matrix.fail) = %v, want an error", res)
	}
	got := asError(t, err)
	type wire struct {
		URI    protocol.URI
		Args   protocol.List
		Kwargs protocol.Dict
	}
	if diff := cmp.Diff(wire{want.URI, want.Args, want.Kwargs}, wire{got.URI, got.Args, got.Kwargs}); diff != "" {
		t.Errorf("application error mismatch (-want +got):\n%s", diff)
	}
	if got.RequestType != protocol.TypeCall {
		t.Errorf("ERROR.RequestType = %v, want CALL", got.RequestType)
	}

	// A plain Go error is sent as wamp.error.runtime_error, without its text.
	register(t, callee, "com.matrix.fail_plain", func(context.Context, *client.Invocation) (*client.Result, error) {
		return nil, errors.New("secret internal detail")
	})
	_, err = caller.Call(ctx, "com.matrix.fail_plain")
	if perr := asError(t, err); perr.URI != client.ErrRuntimeError {
		t.Errorf("plain error: URI = %s, want %s", perr.URI, client.ErrRuntimeError)
	}
}

// testCallNoSuchProcedure calls a procedure nobody registered.
func testCallNoSuchProcedure(t *testing.T, e *env, l link) {
	ctx := timeout(t)
	caller := e.join(t, l)
	_, err := caller.Call(ctx, "com.matrix.nobody_home", 1)
	if perr := asError(t, err); perr.URI != protocol.ErrNoSuchProcedure {
		t.Errorf("URI = %s, want %s", perr.URI, protocol.ErrNoSuchProcedure)
	}
	// The session is still fine.
	register(t, caller, "com.matrix.self", echo)
	if _, err := caller.Call(ctx, "com.matrix.self"); err != nil {
		t.Errorf("call after no_such_procedure: %v", err)
	}
}

// testRegisterDuplicate registers a procedure twice, from another session
// and from the same one.
func testRegisterDuplicate(t *testing.T, e *env, l link) {
	ctx := timeout(t)
	first := e.join(t, l)
	register(t, first, "com.matrix.unique", func(context.Context, *client.Invocation) (*client.Result, error) {
		return &client.Result{Args: protocol.List{"first"}}, nil
	})
	second := e.join(t, l)
	for _, c := range []*client.Client{second, first} {
		_, err := c.Register(ctx, "com.matrix.unique", echo, nil)
		if perr := asError(t, err); perr.URI != protocol.ErrProcedureAlreadyExists {
			t.Errorf("duplicate Register: URI = %s, want %s", perr.URI, protocol.ErrProcedureAlreadyExists)
		}
	}
	res, err := second.Call(ctx, "com.matrix.unique")
	if err != nil {
		t.Fatalf("Call = %v", err)
	}
	if diff := cmp.Diff(protocol.List{"first"}, res.Args); diff != "" {
		t.Errorf("the first registration no longer answers (-want +got):\n%s", diff)
	}
}

// testPublishAcknowledged publishes with acknowledge and checks the
// publication id on the event, and that the publisher is excluded by
// default.
func testPublishAcknowledged(t *testing.T, e *env, l link) {
	ctx := timeout(t)
	const topic = "com.matrix.acked"
	pub := e.join(t, l)
	own, _ := subscribe(t, pub, topic)
	sub := e.join(t, l)
	in, _ := subscribe(t, sub, topic)

	args, kwargs := payload()
	id, err := pub.DoPublish(ctx, &client.PublishRequest{Topic: topic, Args: args, Kwargs: kwargs, Acknowledge: true})
	if err != nil {
		t.Fatalf("DoPublish(acknowledge) = %v", err)
	}
	if !id.Valid() {
		t.Errorf("publication ID = %d, want one in [1, 2^53]", id)
	}
	if err := in.wait(ctx, 1); err != nil {
		t.Fatal(err)
	}
	ev := in.get(0)
	if ev.Publication != id {
		t.Errorf("EVENT publication = %d, want %d (from PUBLISHED)", ev.Publication, id)
	}
	if ev.Topic != topic {
		t.Errorf("Event.Topic = %q, want %q", ev.Topic, topic)
	}
	if diff := cmp.Diff(args, ev.Args); diff != "" {
		t.Errorf("EVENT args mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(kwargs, ev.Kwargs); diff != "" {
		t.Errorf("EVENT kwargs mismatch (-want +got):\n%s", diff)
	}

	// The publisher got nothing: the next event it receives is the one it
	// asked to receive.
	no := false
	id2, err := pub.DoPublish(ctx, &client.PublishRequest{Topic: topic, Args: protocol.List{"second"}, Acknowledge: true, ExcludeMe: &no})
	if err != nil {
		t.Fatalf("DoPublish(exclude_me=false) = %v", err)
	}
	if err := own.wait(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if got := own.get(0).Publication; got != id2 {
		t.Errorf("publisher received publication %d first, want only %d (it is excluded from %d)", got, id2, id)
	}
}

// invalidURIWait bounds the wait for the answers to requests with an
// invalid URI: the router answers at once, or the client refuses locally.
const invalidURIWait = 10 * time.Second

// testInvalidURIs makes every kind of request with a URI that breaks the
// loose URI rules (SUMMARY §5). Each must fail promptly: with ERROR
// wamp.error.invalid_uri from the router, or with a local error wrapping
// protocol.ErrMalformed if the client or the transport refuses to send it.
// Silence (waiting for an answer that never comes) is the failure.
func testInvalidURIs(t *testing.T, e *env, l link) {
	const bad = "com.matrix..bad uri"
	ctx, cancel := context.WithTimeout(context.Background(), invalidURIWait)
	defer cancel()
	c := e.join(t, l)
	requests := []struct {
		name string
		do   func() error
	}{
		{"Call", func() error { _, err := c.Call(ctx, bad); return err }},
		{"DoPublish(acknowledge)", func() error {
			_, err := c.DoPublish(ctx, &client.PublishRequest{Topic: bad, Acknowledge: true})
			return err
		}},
		{"Register", func() error { _, err := c.Register(ctx, bad, echo, nil); return err }},
		{"Subscribe", func() error { _, err := c.Subscribe(ctx, bad, func(*client.Event) {}, nil); return err }},
	}
	errs := make([]error, len(requests))
	var wg sync.WaitGroup
	for i, r := range requests {
		wg.Go(func() { errs[i] = r.do() })
	}
	wg.Wait()
	for i, r := range requests {
		err := errs[i]
		var perr *protocol.Error
		switch {
		case errors.As(err, &perr) && perr.URI == protocol.ErrInvalidURI:
		case errors.Is(err, protocol.ErrMalformed):
		default:
			t.Errorf("%s(%q) = %v, want ERROR %s or an error wrapping protocol.ErrMalformed", r.name, bad, err, protocol.ErrInvalidURI)
		}
	}
	// The session is still usable.
	ctx2 := timeout(t)
	if _, err := c.DoPublish(ctx2, &client.PublishRequest{Topic: "com.matrix.fine", Acknowledge: true}); err != nil {
		t.Errorf("DoPublish after the invalid requests: %v", err)
	}
}

// testFanOut publishes one event to three subscribers.
func testFanOut(t *testing.T, e *env, l link) {
	ctx := timeout(t)
	const topic = "com.matrix.fanout"
	var ins []*inbox
	for range 3 {
		in, _ := subscribe(t, e.join(t, l), topic)
		ins = append(ins, in)
	}
	pub := e.join(t, l)
	args := protocol.List{"to", "all", int64(3)}
	kwargs := protocol.Dict{"k": "v"}
	id, err := pub.DoPublish(ctx, &client.PublishRequest{Topic: topic, Args: args, Kwargs: kwargs, Acknowledge: true})
	if err != nil {
		t.Fatalf("DoPublish = %v", err)
	}
	for i, in := range ins {
		if err := in.wait(ctx, 1); err != nil {
			t.Fatalf("subscriber %d: %v", i, err)
		}
		ev := in.get(0)
		if ev.Publication != id {
			t.Errorf("subscriber %d: publication %d, want %d", i, ev.Publication, id)
		}
		if diff := cmp.Diff(args, ev.Args); diff != "" {
			t.Errorf("subscriber %d: args mismatch (-want +got):\n%s", i, diff)
		}
		if diff := cmp.Diff(kwargs, ev.Kwargs); diff != "" {
			t.Errorf("subscriber %d: kwargs mismatch (-want +got):\n%s", i, diff)
		}
	}
	// Nobody got it twice: a second event is the second one everywhere.
	if _, err := pub.DoPublish(ctx, &client.PublishRequest{Topic: topic, Args: protocol.List{"again"}, Acknowledge: true}); err != nil {
		t.Fatalf("DoPublish = %v", err)
	}
	for i, in := range ins {
		if err := in.wait(ctx, 2); err != nil {
			t.Fatalf("subscriber %d: %v", i, err)
		}
		if n := in.len(); n != 2 {
			t.Errorf("subscriber %d got %d events, want 2", i, n)
		}
	}
}

// testUnsubscribe checks that no event reaches a subscription after
// Unsubscribe returned, while another subscriber of the topic and another
// subscription of the same session keep receiving.
func testUnsubscribe(t *testing.T, e *env, l link) {
	ctx := timeout(t)
	const topic, marker = "com.matrix.unsub", "com.matrix.unsub_marker"
	leaver := e.join(t, l)
	gone, sub := subscribe(t, leaver, topic)
	mark, _ := subscribe(t, leaver, marker)
	stay, _ := subscribe(t, e.join(t, l), topic)
	pub := e.join(t, l)

	publish := func(topic protocol.URI, arg string) {
		t.Helper()
		if _, err := pub.DoPublish(ctx, &client.PublishRequest{Topic: topic, Args: protocol.List{arg}, Acknowledge: true}); err != nil {
			t.Fatalf("DoPublish(%s) = %v", topic, err)
		}
	}
	publish(topic, "before")
	if err := gone.wait(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := leaver.Unsubscribe(ctx, sub); err != nil {
		t.Fatalf("Unsubscribe = %v", err)
	}
	if err := leaver.Unsubscribe(ctx, sub); !errors.Is(err, client.ErrNotActive) {
		t.Errorf("second Unsubscribe = %v, want ErrNotActive", err)
	}
	publish(topic, "after")
	publish(marker, "marker")
	// The marker was published after "after" by the same publisher, so the
	// router sent anything for "after" to leaver before the marker.
	if err := mark.wait(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := stay.wait(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if n := gone.len(); n != 1 {
		t.Errorf("unsubscribed handler got %d events, want 1 (only the one before Unsubscribe)", n)
	}
}

// seq returns the integer of an event's first argument.
func seq(ev *client.Event) (int64, bool) {
	if len(ev.Args) != 1 {
		return 0, false
	}
	return protocol.ToInt64(ev.Args[0])
}

// checkOrder reports the first event of in that is not numbered i.
func checkOrder(in *inbox) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	for i, ev := range in.events {
		if n, ok := seq(ev); !ok || n != int64(i) {
			return fmt.Errorf("event %d carries %v, want [%d]", i, ev.Args, i)
		}
	}
	return nil
}

// testEventOrder publishes 10,000 events from one publisher and checks
// that both subscribers receive all of them in order. The publisher keeps
// at most eventWindow events in flight to the slowest subscriber (and asks
// for an acknowledgement every eventAckEvery events), so no queue of the
// default configuration can overflow.
func testEventOrder(t *testing.T, e *env, l link) {
	const (
		n             = 10000
		eventWindow   = 128
		eventAckEvery = 100
		topic         = "com.matrix.ordered"
	)
	ctx := timeout(t)
	dropsBefore := e.log.count("router: disconnecting session")
	var subs []*client.Client
	var ins []*inbox
	for range 2 {
		c := e.join(t, l)
		in, _ := subscribe(t, c, topic)
		subs = append(subs, c)
		ins = append(ins, in)
	}
	pub := e.join(t, l)
	for i := range n {
		for j, in := range ins {
			if err := in.wait(ctx, i-eventWindow); err != nil {
				t.Fatalf("subscriber %d, before publishing event %d: %v", j, i, err)
			}
		}
		var err error
		if (i+1)%eventAckEvery == 0 {
			_, err = pub.DoPublish(ctx, &client.PublishRequest{Topic: topic, Args: protocol.List{i}, Acknowledge: true})
		} else {
			err = pub.Publish(ctx, topic, i)
		}
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	for j, in := range ins {
		if err := in.wait(ctx, n); err != nil {
			t.Fatalf("subscriber %d: %v (session error: %v)", j, err, subs[j].Err())
		}
		if err := checkOrder(in); err != nil {
			t.Errorf("subscriber %d: %v", j, err)
		}
		if got := in.len(); got != n {
			t.Errorf("subscriber %d got %d events, want %d", j, got, n)
		}
	}
	if k := e.log.count("router: disconnecting session") - dropsBefore; k > 0 {
		t.Errorf("router dropped %d sessions as slow consumers", k)
	}
}

// testEventBurstDefaults publishes 10,000 events to two subscribers with
// the default configuration, in two ways, and checks that no subscriber
// loses events silently:
//
//   - burst: as fast as the client lets it (only the last acknowledged),
//   - acked: each publication acknowledged before the next one.
//
// The router never paces a publisher by its subscribers (a slow one must
// not slow the others), and PUBLISHED means the events were queued, not
// consumed; so a subscriber slower than its publisher may fill its queue
// and backlog and be disconnected, as the default slow-consumer policy
// says (look for "DEFAULTS LOSE EVENTS" in the log). What must never
// happen is a gap: each subscriber gets every event in order, or its
// session ends and the router logs why.
func testEventBurstDefaults(t *testing.T, e *env, l link) {
	for _, acked := range []bool{false, true} {
		mode := "burst"
		if acked {
			mode = "acked"
		}
		t.Run(mode, func(t *testing.T) { probeBurst(t, e, l, mode, acked) })
	}
}

func probeBurst(t *testing.T, e *env, l link, mode string, acked bool) {
	const n = 10000
	topic := protocol.URI("com.matrix.burst_" + mode)
	ctx := timeout(t)
	var subs []*client.Client
	var ins []*inbox
	for range 2 {
		c := e.join(t, l)
		in, _ := subscribe(t, c, topic)
		subs = append(subs, c)
		ins = append(ins, in)
	}
	pub := e.join(t, l)
	dropsBefore := e.log.count("router: disconnecting session")
	queueFull := 0
	for i := 0; i < n; {
		var err error
		if acked || i == n-1 {
			_, err = pub.DoPublish(ctx, &client.PublishRequest{Topic: topic, Args: protocol.List{i}, Acknowledge: true})
		} else {
			err = pub.Publish(ctx, topic, i)
		}
		if errors.Is(err, transport.ErrQueueFull) {
			// The publisher's own outbound queue is full: Publish does not
			// wait, the application must retry.
			queueFull++
			runtime.Gosched()
			continue
		}
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		i++
	}
	for j, in := range ins {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		done := make(chan error, 1)
		go func() { done <- in.wait(wctx, n) }()
		var err error
		ended := false
		select {
		case err = <-done:
		case <-subs[j].Done():
			cancel()
			<-done
			ended = true
			err = fmt.Errorf("session ended: %v", subs[j].Err())
		}
		cancel()
		if err != nil || in.len() != n {
			t.Logf("DEFAULTS LOSE EVENTS (%v, %s): subscriber %d got %d of %d events: %v", l, mode, j, in.len(), n, err)
			if !ended {
				t.Errorf("subscriber %d got %d of %d events and its session is still open: events lost silently", j, in.len(), n)
			} else if e.log.count("router: disconnecting session") == 0 {
				t.Errorf("subscriber %d was disconnected without a logged reason", j)
			}
		}
		if err := checkOrder(in); err != nil {
			t.Errorf("subscriber %d: %v", j, err)
		}
	}
	t.Logf("%v, %s: %d events: publisher retried %d times on ErrQueueFull; router dropped %d slow sessions",
		l, mode, n, queueFull, e.log.count("router: disconnecting session")-dropsBefore)
}

// testConcurrentCalls makes 200 calls at once on one session; each must
// get its own result.
func testConcurrentCalls(t *testing.T, e *env, l link) {
	const n = 200
	ctx := timeout(t)
	callee := e.join(t, l)
	register(t, callee, "com.matrix.concurrent", echo)
	caller := e.join(t, l)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			want := protocol.List{int64(i), fmt.Sprintf("call-%d", i)}
			res, err := caller.Call(ctx, "com.matrix.concurrent", want...)
			if err != nil {
				errs <- fmt.Errorf("call %d: %w", i, err)
				return
			}
			got := protocol.List{}
			if len(res.Args) == 2 {
				v, _ := protocol.ToInt64(res.Args[0])
				got = protocol.List{v, res.Args[1]}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				errs <- fmt.Errorf("call %d: result mismatch (-want +got):\n%s", i, diff)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// testCalleeVanishes closes a callee's transport without GOODBYE while it
// runs an invocation; the caller must get wamp.error.canceled promptly.
func testCalleeVanishes(t *testing.T, e *env, l link) {
	ctx := timeout(t)
	callee, peer := e.joinPeer(t, l)
	invoked := make(chan struct{})
	var once sync.Once
	register(t, callee, "com.matrix.vanish", func(ctx context.Context, _ *client.Invocation) (*client.Result, error) {
		once.Do(func() { close(invoked) })
		<-ctx.Done()
		return nil, ctx.Err()
	})
	caller := e.join(t, l)
	type outcome struct {
		res *client.Result
		err error
		at  time.Time
	}
	out := make(chan outcome, 1)
	go func() {
		res, err := caller.Call(ctx, "com.matrix.vanish")
		out <- outcome{res, err, time.Now()}
	}()
	select {
	case <-invoked:
	case <-ctx.Done():
		t.Fatal("the callee was never invoked")
	}
	start := time.Now()
	peer.Close(errors.New("test: callee vanishes"))
	var o outcome
	select {
	case o = <-out:
	case <-ctx.Done():
		t.Fatal("the caller got no answer after its callee vanished")
	}
	if o.err == nil {
		t.Fatalf("Call = %v, want wamp.error.canceled", o.res)
	}
	if perr := asError(t, o.err); perr.URI != protocol.ErrCanceled {
		t.Errorf("URI = %s, want %s", perr.URI, protocol.ErrCanceled)
	}
	t.Logf("%v: caller failed %v after the callee's transport closed", l, o.at.Sub(start))
	select {
	case <-callee.Done():
	case <-ctx.Done():
		t.Fatal("callee client did not notice its transport closed")
	}
	// The procedure is gone with its callee.
	_, err := caller.Call(ctx, "com.matrix.vanish")
	if perr := asError(t, err); perr.URI != protocol.ErrNoSuchProcedure {
		t.Errorf("Call after the callee vanished: URI = %s, want %s", perr.URI, protocol.ErrNoSuchProcedure)
	}
}
