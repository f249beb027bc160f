package router_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/transport"
)

func init() {
	// The fuzz target also runs with the robustness options: bit 2 of
	// the config byte selects SlowConsumerDropEvents, bit 3 tiny limits.
	fuzzConfig = func(cfg *router.Config, b byte) {
		if b&4 != 0 {
			cfg.Realms[0].SlowConsumer = router.SlowConsumerDropEvents
		}
		if b&8 != 0 {
			cfg.MaxSessions = 3
			cfg.Realms[0].MaxSessions = 2
			cfg.MaxPendingCalls = 2
			cfg.MaxSubscriptions = 2
			cfg.MaxRegistrations = 1
			cfg.AuthTimeout = time.Millisecond
		}
	}
}

func TestSessionLimits(t *testing.T) {
	r := newRouter(t, router.Config{
		MaxSessions: 3,
		Realms:      []router.RealmConfig{{Name: realm1, MaxSessions: 2}, {Name: "realm2"}},
	})
	a, _ := join(t, r), join(t, r)

	// realm1 is full.
	c := connect(t, r)
	c.send(&protocol.Hello{Realm: realm1, Details: protocol.Dict{"roles": clientRoles()}})
	if ab := c.expectAbort(router.LimitExceeded); ab.Details.String("message") == "" {
		t.Errorf("ABORT %s without a message", describe(ab))
	}
	// realm2 takes the router's last session.
	connect(t, r).hello("realm2", nil)
	c = connect(t, r)
	c.send(&protocol.Hello{Realm: "realm2", Details: protocol.Dict{"roles": clientRoles()}})
	c.expectAbort(router.LimitExceeded)

	// A session that leaves makes room.
	a.send(&protocol.Goodbye{Details: protocol.Dict{}, Reason: protocol.CloseRealm})
	expect[*protocol.Goodbye](a)
	a.expectClosed()
	deadline := time.Now().Add(wait)
	for {
		c := connect(t, r)
		c.send(&protocol.Hello{Realm: realm1, Details: protocol.Dict{"roles": clientRoles()}})
		m := c.recv()
		if _, ok := m.(*protocol.Welcome); ok {
			break
		}
		// The leaving session's goroutine may not have cleaned up yet.
		if ab, ok := m.(*protocol.Abort); !ok || ab.Reason != router.LimitExceeded || time.Now().After(deadline) {
			t.Fatalf("after a session left: got %s, want WELCOME", describe(m))
		}
		time.Sleep(time.Millisecond)
	}
}

func TestRequestLimits(t *testing.T) {
	r := newRouter(t, router.Config{MaxPendingCalls: 2, MaxSubscriptions: 2, MaxRegistrations: 1})
	callee, caller := join(t, r), join(t, r)

	callee.register("com.example.a", nil)
	req := callee.next()
	callee.send(&protocol.Register{Request: req, Procedure: "com.example.b"})
	callee.expectError(protocol.TypeRegister, req, router.LimitExceeded)

	caller.subscribe("com.example.t1", nil)
	caller.subscribe("com.example.t2", nil)
	caller.subscribe("com.example.t2", nil) // the same subscription again: fine
	req = caller.next()
	caller.send(&protocol.Subscribe{Request: req, Topic: "com.example.t3"})
	caller.expectError(protocol.TypeSubscribe, req, router.LimitExceeded)

	c1, c2, c3 := caller.next(), caller.next(), caller.next()
	for _, id := range []protocol.ID{c1, c2, c3} {
		caller.send(&protocol.Call{Request: id, Procedure: "com.example.a"})
	}
	caller.expectError(protocol.TypeCall, c3, router.LimitExceeded)
	// Meta procedures do not count.
	m := caller.next()
	caller.send(&protocol.Call{Request: m, Procedure: "wamp.session.count"})
	if res := expect[*protocol.Result](caller); res.Request != m {
		t.Fatalf("RESULT for %d, want %d", res.Request, m)
	}
	inv := expect[*protocol.Invocation](callee)
	callee.send(&protocol.Yield{Request: inv.Request})
	expect[*protocol.Invocation](callee)
	if res := expect[*protocol.Result](caller); res.Request != c1 {
		t.Fatalf("RESULT for %d, want %d", res.Request, c1)
	}
	// One call pending again: room for one more.
	caller.callOK("com.example.a", callee) // fails on the second INVOCATION otherwise
}

// stalledPeer joins realm over an in-process transport whose client end
// nobody reads after the WELCOME.
func stalledPeer(t *testing.T, r *router.Router, realm protocol.URI) (transport.Peer, protocol.ID) {
	t.Helper()
	p, err := r.Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(nil) })
	p.Send(context.Background(), &protocol.Hello{Realm: realm, Details: protocol.Dict{"roles": clientRoles()}})
	m, err := p.Recv()
	if err != nil {
		t.Fatal(err)
	}
	w, ok := m.(*protocol.Welcome)
	if !ok {
		t.Fatalf("got %s, want WELCOME", describe(m))
	}
	return p, w.Session
}

// recvWait is p.Recv bounded by wait.
func recvWait(t *testing.T, p transport.Peer) (protocol.Message, error) {
	t.Helper()
	tm := time.AfterFunc(wait, func() { p.Close(errors.New("no message in time")) })
	defer tm.Stop()
	return p.Recv()
}

func TestSlowConsumerDropEvents(t *testing.T) {
	const queue, backlog = 8, 16
	r := newRouter(t, router.Config{
		LocalQueueSize:   queue,
		MaxBacklog:       backlog,
		SlowConsumerWait: time.Millisecond, // does not disconnect with DropEvents
		Realms:           []router.RealmConfig{{Name: realm1, SlowConsumer: router.SlowConsumerDropEvents}},
	})
	stalled, id := stalledPeer(t, r, realm1)
	stalled.Send(context.Background(), &protocol.Subscribe{Request: 1, Topic: "com.example.t"})
	if m, err := recvWait(t, stalled); err != nil || m.Type() != protocol.TypeSubscribed {
		t.Fatalf("got %v, %v, want SUBSCRIBED", m, err)
	}
	reader := join(t, r)
	reader.subscribe("com.example.t", nil)
	pub := join(t, r)
	const n = 100
	for i := range n {
		// Paced by the reader, whose queue is as small: the reader that
		// keeps up loses nothing.
		pub.publishAck("com.example.t", nil, i)
		ev := expect[*protocol.Event](reader)
		if got, _ := protocol.ToInt64(ev.Args[0]); got != int64(i) {
			t.Fatalf("reader got event %d, want %d", got, i)
		}
	}
	// The stalled session is still joined and its drops are counted:
	// events took its queue and three quarters of its backlog.
	const kept = queue + backlog - backlog/4
	req := pub.next()
	pub.send(&protocol.Call{Request: req, Procedure: "wamp.session.get", Args: protocol.List{uint64(id)}})
	res := expect[*protocol.Result](pub)
	details, _ := res.Args[0].(protocol.Dict)
	if details == nil {
		details, _ = res.Args[0].(map[string]any)
	}
	dropped, _ := protocol.ToInt64(details["_dropped_events"])
	if dropped != n-kept {
		t.Errorf("_dropped_events = %v, want %d", details["_dropped_events"], n-kept)
	}
	// A reply still finds room in the last quarter of the backlog.
	stalled.Send(context.Background(), &protocol.Subscribe{Request: 2, Topic: "com.example.u"})
	// Once it reads again, it gets what was queued, then new events.
	got := 0
	for {
		m, err := recvWait(t, stalled)
		if err != nil {
			t.Fatal(err)
		}
		if ev, ok := m.(*protocol.Event); ok {
			if v, _ := protocol.ToInt64(ev.Args[0]); v != int64(got) {
				t.Fatalf("event %d carries %v", got, ev.Args[0])
			}
			got++
			continue
		}
		if m.Type() != protocol.TypeSubscribed || got != kept {
			t.Fatalf("got %s after %d events, want SUBSCRIBED after %d", describe(m), got, kept)
		}
		break
	}
	pub.publishAck("com.example.t", nil, "after")
	if m, err := recvWait(t, stalled); err != nil || m.Type() != protocol.TypeEvent {
		t.Fatalf("after draining: got %v, %v, want EVENT", m, err)
	}
}

// TestCallToFullCallee checks that a CALL to a callee whose queue and
// backlog are full is refused at once, that the callee is not disconnected
// for it, and what each policy does with a callee that stays stalled.
func TestCallToFullCallee(t *testing.T) {
	const queue, backlog = 4, 4
	for _, policy := range []router.SlowConsumerPolicy{router.SlowConsumerDisconnect, router.SlowConsumerDropEvents} {
		t.Run(policy.String(), func(t *testing.T) {
			wait := time.Hour
			if policy == router.SlowConsumerDisconnect {
				wait = 50 * time.Millisecond
			}
			r := newRouter(t, router.Config{
				LocalQueueSize:   queue,
				MaxBacklog:       backlog,
				SlowConsumerWait: wait,
				Realms:           []router.RealmConfig{{Name: realm1, SlowConsumer: policy}},
			})
			callee, _ := stalledPeer(t, r, realm1)
			callee.Send(context.Background(), &protocol.Register{Request: 1, Procedure: "com.example.p"})
			if m, err := recvWait(t, callee); err != nil || m.Type() != protocol.TypeRegistered {
				t.Fatalf("got %v, %v, want REGISTERED", m, err)
			}
			caller := join(t, r)
			const taken = queue + backlog
			ids := make([]protocol.ID, taken+1)
			for i := range ids {
				ids[i] = caller.next()
				caller.send(&protocol.Call{Request: ids[i], Procedure: "com.example.p"})
			}
			// The queue and the backlog hold `taken` INVOCATIONs; the last
			// call is refused at once.
			caller.expectError(protocol.TypeCall, ids[taken], protocol.ErrNoAvailableCallee)
			if policy == router.SlowConsumerDisconnect {
				// The callee's backlog found no room for SlowConsumerWait:
				// it is dropped, and its pending calls are canceled.
				pending := map[protocol.ID]bool{}
				for _, id := range ids[:taken] {
					pending[id] = true
				}
				for range taken {
					e := expect[*protocol.Error](caller)
					if !pending[e.Request] || e.URI != protocol.ErrCanceled {
						t.Fatalf("got %s, want ERROR canceled for one of %v", describe(e), ids[:taken])
					}
					delete(pending, e.Request)
				}
				return
			}
			// The callee stays and answers once it reads again.
			for range taken {
				m, err := recvWait(t, callee)
				if err != nil {
					t.Fatal(err)
				}
				inv := m.(*protocol.Invocation)
				// The callee's own queue towards the router is as small.
				if err := callee.(transport.Waiter).SendWait(t.Context(), &protocol.Yield{Request: inv.Request}); err != nil {
					t.Fatal(err)
				}
			}
			for _, id := range ids[:taken] {
				if res := expect[*protocol.Result](caller); res.Request != id {
					t.Fatalf("RESULT for %d, want %d", res.Request, id)
				}
			}
		})
	}
}

// slowAuth challenges and waits for an answer as long as ctx allows.
type slowAuth struct{}

func (slowAuth) AuthMethod() string { return "ticket" }

func (slowAuth) Authenticate(ctx context.Context, req *router.AuthRequest, ch router.Challenger) (*router.Identity, error) {
	if _, err := ch.Challenge(ctx, "ticket", protocol.Dict{}); err != nil {
		return nil, err
	}
	return &router.Identity{AuthID: req.AuthID, AuthRole: "user"}, nil
}

func TestAuthTimeout(t *testing.T) {
	r := newRouter(t, router.Config{
		AuthTimeout: 20 * time.Millisecond,
		Realms:      []router.RealmConfig{{Name: realm1, Authenticators: []router.Authenticator{slowAuth{}}}},
	})
	c := connect(t, r)
	c.send(&protocol.Hello{Realm: realm1, Details: protocol.Dict{"roles": clientRoles(), "authmethods": protocol.List{"ticket"}}})
	expect[*protocol.Challenge](c)
	// No AUTHENTICATE: the router gives up.
	c.expectAbort(protocol.ErrTimeout)
}

func TestLimitConfig(t *testing.T) {
	_, err := router.New(router.Config{Realms: []router.RealmConfig{{Name: realm1, SlowConsumer: 7}}})
	if !errors.Is(err, router.ErrConfig) {
		t.Errorf("New with SlowConsumer 7: %v, want ErrConfig", err)
	}
	// Negative limits mean none.
	r := newRouter(t, router.Config{MaxSessions: -1, MaxSubscriptions: -1, MaxRegistrations: -1, MaxPendingCalls: -1})
	c := join(t, r)
	for i := range 50 {
		c.subscribe(protocol.URI("com.example.t"+string(rune('a'+i%26))+string(rune('a'+i/26))), nil)
	}
}

// TestStalledSessionEnds checks that a session whose client says GOODBYE
// but reads nothing ends in bounded time even where nothing else bounds
// the backlog's wait (SlowConsumerDropEvents, an hour-long
// SlowConsumerWait): the router gives its last messages a bounded time to
// drain and then closes the transport.
func TestStalledSessionEnds(t *testing.T) {
	const queue, backlog = 4, 8
	r := newRouter(t, router.Config{
		LocalQueueSize:   queue,
		MaxBacklog:       backlog,
		SlowConsumerWait: time.Hour,
		GoodbyeTimeout:   10 * time.Millisecond,
		Realms:           []router.RealmConfig{{Name: realm1, SlowConsumer: router.SlowConsumerDropEvents}},
	})
	watcher := join(t, r)
	watcher.subscribe("wamp.session.on_leave", nil)
	stalled, id := stalledPeer(t, r, realm1)
	stalled.Send(context.Background(), &protocol.Subscribe{Request: 1, Topic: "com.example.t"})
	if m, err := recvWait(t, stalled); err != nil || m.Type() != protocol.TypeSubscribed {
		t.Fatalf("got %v, %v, want SUBSCRIBED", m, err)
	}
	pub := join(t, r)
	for i := range 3 * (queue + backlog) {
		pub.publishAck("com.example.t", nil, i)
	}
	stalled.Send(context.Background(), &protocol.Goodbye{Reason: protocol.CloseGoodbyeAndOut})
	ev := expect[*protocol.Event](watcher)
	if got, _ := protocol.ToInt64(ev.Args[0]); got != int64(id) {
		t.Fatalf("on_leave of %d, want %d", got, id)
	}
	// Shutdown returns once every session's goroutine has ended; the
	// stalled one's must not wait for its client an hour.
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := r.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v: the stalled session did not end", err)
	}
}

// ctxAuth returns the context's error as soon as it ends, so that the
// authentication timer and the session's goroutine settle the handshake
// at about the same time.
type ctxAuth struct{}

func (ctxAuth) AuthMethod() string { return "anonymous" }

func (ctxAuth) Authenticate(ctx context.Context, _ *router.AuthRequest, _ router.Challenger) (*router.Identity, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestAuthTimeoutAlwaysAnswered races the authentication timer against an
// authenticator that gives up at the same deadline: whichever wins, the
// client must read ABORT wamp.error.timeout before the transport closes.
func TestAuthTimeoutAlwaysAnswered(t *testing.T) {
	r := newRouter(t, router.Config{
		AuthTimeout: time.Millisecond,
		Realms:      []router.RealmConfig{{Name: realm1, Authenticators: []router.Authenticator{ctxAuth{}}}},
	})
	for range 300 {
		c := connect(t, r)
		c.send(&protocol.Hello{Realm: realm1, Details: protocol.Dict{"roles": clientRoles()}})
		c.expectAbort(protocol.ErrTimeout)
	}
}

// deafAuth challenges with a context of its own, without the handshake's
// time limit: the handshake must end all the same.
type deafAuth struct{}

func (deafAuth) AuthMethod() string { return "ticket" }

func (deafAuth) Authenticate(_ context.Context, _ *router.AuthRequest, ch router.Challenger) (*router.Identity, error) {
	if _, err := ch.Challenge(context.Background(), "ticket", nil); err != nil {
		return nil, err
	}
	return nil, &router.AuthError{Reason: protocol.ErrAuthenticationFailed, Message: "no"}
}

// TestHandshakeTimeoutDuringAuth: the handshake's limit ends an
// unanswered CHALLENGE even when the authenticator's own context has no
// deadline, and the client learns why (the session's goroutine answers;
// no timer does).
func TestHandshakeTimeoutDuringAuth(t *testing.T) {
	r := newRouter(t, router.Config{
		HandshakeTimeout: 20 * time.Millisecond,
		AuthTimeout:      time.Hour,
		Realms:           []router.RealmConfig{{Name: realm1, Authenticators: []router.Authenticator{deafAuth{}}}},
	})
	c := connect(t, r)
	c.send(&protocol.Hello{Realm: realm1, Details: protocol.Dict{"roles": clientRoles(), "authmethods": protocol.List{"ticket"}}})
	expect[*protocol.Challenge](c)
	ab := c.expectAbort(protocol.ErrTimeout)
	if got := ab.Details.String("message"); got != "handshake timed out" {
		t.Errorf("ABORT message %q, want %q", got, "handshake timed out")
	}
}
