package client_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/transport"
)

func TestJoinHello(t *testing.T) {
	cp, rp := transport.LocalPair(16)
	w := newWire(t, rp)
	defer func() {
		rp.Close(nil)
		for range w.in {
		}
	}()
	cfg := client.Config{
		Realm:        "com.example",
		AuthID:       "alice",
		AuthExtra:    protocol.Dict{"x": "y"},
		Auth:         []client.Authenticator{client.AuthFunc("ticket", nil), client.AuthFunc("wampcra", nil)},
		HelloDetails: protocol.Dict{"_custom": 1, "agent": "overridden"},
		Logger:       quietLogger(),
	}
	ch := async(func() (*client.Client, error) { return client.Join(context.Background(), cp, cfg) })
	hello, ok := w.recv().(*protocol.Hello)
	if !ok {
		t.Fatal("first message is not HELLO")
	}
	want := &protocol.Hello{Realm: "com.example", Details: protocol.Dict{
		"_custom":     1,
		"agent":       client.DefaultAgent,
		"authid":      "alice",
		"authmethods": []any{"ticket", "wampcra"},
		"authextra":   map[string]any{"x": "y"},
		"roles": map[string]any{
			"caller": map[string]any{"features": map[string]any{"call_canceling": true, "call_timeout": true,
				"caller_identification": true, "progressive_call_results": true, "progressive_call_invocations": true}},
			"callee": map[string]any{"features": map[string]any{"call_canceling": true, "caller_identification": true,
				"pattern_based_registration": true, "progressive_call_results": true, "progressive_call_invocations": true, "shared_registration": true}},
			"publisher": map[string]any{"features": map[string]any{"publisher_exclusion": true,
				"publisher_identification": true, "subscriber_blackwhite_listing": true}},
			"subscriber": map[string]any{"features": map[string]any{"pattern_based_subscription": true,
				"publisher_identification": true}},
		},
	}}
	if diff := cmp.Diff(want, hello); diff != "" {
		t.Errorf("HELLO mismatch (-want +got):\n%s", diff)
	}
	details := routerWelcome(false)
	w.send(&protocol.Welcome{Session: 7, Details: details})
	c, err := await(t, ch)
	if err != nil {
		t.Fatalf("Join: %v", err)
	}
	defer func() { rp.Close(nil); c.Close() }()
	if c.SessionID() != 7 || c.Realm() != "com.example" {
		t.Errorf("SessionID, Realm = %d, %q; want 7, com.example", c.SessionID(), c.Realm())
	}
	if diff := cmp.Diff(details, c.WelcomeDetails()); diff != "" {
		t.Errorf("WelcomeDetails mismatch (-want +got):\n%s", diff)
	}
	if c.Err() != nil {
		t.Errorf("Err() = %v on an open session", c.Err())
	}
	if !c.RouterRoles().Has(protocol.RoleDealer) || c.RouterRoles().Supports(protocol.RoleDealer, protocol.FeatureCallCanceling) {
		t.Errorf("RouterRoles() = %v, want a dealer without call_canceling", c.RouterRoles())
	}
}

func TestJoinNoRealm(t *testing.T) {
	cp, rp := transport.LocalPair(1)
	defer rp.Close(nil)
	if _, err := client.Join(context.Background(), cp, client.Config{}); !errors.Is(err, client.ErrNoRealm) {
		t.Errorf("Join without realm = %v, want ErrNoRealm", err)
	}
	cp, rp2 := transport.LocalPair(1)
	defer rp2.Close(nil)
	var uerr *protocol.URIError
	if _, err := client.Join(context.Background(), cp, client.Config{Realm: "bad realm"}); !errors.As(err, &uerr) {
		t.Errorf("Join with realm %q = %v, want a *protocol.URIError", "bad realm", err)
	}
}

func TestJoinAbort(t *testing.T) {
	peer, wait := startFakeRouter()
	defer wait()
	_, err := client.Join(context.Background(), peer, client.Config{Realm: "nope", Logger: quietLogger()})
	var abort *client.AbortError
	if !errors.As(err, &abort) {
		t.Fatalf("Join = %v, want an *AbortError", err)
	}
	if abort.Reason != protocol.ErrNoSuchRealm {
		t.Errorf("Reason = %q, want %q", abort.Reason, protocol.ErrNoSuchRealm)
	}
	if _, err := peer.Recv(); !errors.Is(err, transport.ErrClosed) {
		t.Errorf("peer after failed Join: Recv = %v, want closed", err)
	}
}

func TestJoinChallenge(t *testing.T) {
	cp, rp := transport.LocalPair(16)
	w := newWire(t, rp)
	defer func() {
		rp.Close(nil)
		for range w.in {
		}
	}()
	ticket := client.AuthFunc("ticket", func(ctx context.Context, c *protocol.Challenge) (*protocol.Authenticate, error) {
		return &protocol.Authenticate{Signature: "secret"}, nil
	})
	cfg := client.Config{Realm: "realm1", AuthID: "alice", Auth: []client.Authenticator{ticket}, Logger: quietLogger()}
	ch := async(func() (*client.Client, error) { return client.Join(context.Background(), cp, cfg) })
	w.recv() // HELLO
	// Two rounds (spec: more than one round is allowed, e.g. 2FA).
	for range 2 {
		w.send(&protocol.Challenge{AuthMethod: "ticket", Extra: protocol.Dict{}})
		w.expect(&protocol.Authenticate{Signature: "secret", Extra: protocol.Dict{}})
	}
	w.send(&protocol.Welcome{Session: 9, Details: routerWelcome(false)})
	c, err := await(t, ch)
	if err != nil {
		t.Fatalf("Join: %v", err)
	}
	rp.Close(nil)
	c.Close()
}

func TestJoinFailures(t *testing.T) {
	tests := []struct {
		name      string
		cfg       client.Config
		reply     protocol.Message
		wantAbort protocol.URI // ABORT the client sends; "" for none
		wantErr   error
	}{
		{
			name:      "challenge without authenticator",
			reply:     &protocol.Challenge{AuthMethod: "wampcra", Extra: protocol.Dict{}},
			wantAbort: protocol.ErrAuthenticationFailed,
			wantErr:   client.ErrNoAuthenticator,
		},
		{
			name: "authenticator fails",
			cfg: client.Config{Auth: []client.Authenticator{client.AuthFunc("ticket",
				func(context.Context, *protocol.Challenge) (*protocol.Authenticate, error) { return nil, errTest })}},
			reply:     &protocol.Challenge{AuthMethod: "ticket", Extra: protocol.Dict{}},
			wantAbort: protocol.ErrAuthenticationFailed,
			wantErr:   errTest,
		},
		{
			name:      "result before welcome",
			reply:     &protocol.Result{Request: 1, Details: protocol.Dict{}},
			wantAbort: protocol.ErrProtocolViolation,
			wantErr:   client.ErrProtocolViolation,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cp, rp := transport.LocalPair(16)
			w := newWire(t, rp)
			cfg := tt.cfg
			cfg.Realm, cfg.Logger = "realm1", quietLogger()
			ch := async(func() (*client.Client, error) { return client.Join(context.Background(), cp, cfg) })
			w.recv() // HELLO
			w.send(tt.reply)
			_, err := await(t, ch)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Join = %v, want %v", err, tt.wantErr)
			}
			if tt.wantAbort != "" {
				if a, ok := w.recv().(*protocol.Abort); !ok || a.Reason != tt.wantAbort {
					t.Errorf("client sent %#v, want ABORT %s", a, tt.wantAbort)
				}
			}
			w.expectClosed()
		})
	}
}

func TestJoinContextCanceled(t *testing.T) {
	cp, rp := transport.LocalPair(16)
	w := newWire(t, rp)
	ctx, cancel := context.WithCancel(context.Background())
	ch := async(func() (*client.Client, error) {
		return client.Join(ctx, cp, client.Config{Realm: "realm1", Logger: quietLogger()})
	})
	w.recv() // HELLO; the router never answers
	cancel()
	if _, err := await(t, ch); !errors.Is(err, context.Canceled) {
		t.Errorf("Join = %v, want context.Canceled", err)
	}
	w.expectClosed()
}

func TestCloseSendsGoodbye(t *testing.T) {
	c, w := join(t, routerWelcome(false), client.Config{})
	ch := async(func() (struct{}, error) { return struct{}{}, c.Close() })
	w.expect(&protocol.Goodbye{Details: protocol.Dict{}, Reason: protocol.CloseRealm})
	select {
	case <-ch:
		t.Fatal("Close returned before the GOODBYE echo")
	default:
	}
	w.send(&protocol.Goodbye{Details: protocol.Dict{}, Reason: protocol.CloseGoodbyeAndOut})
	if _, err := await(t, ch); err != nil {
		t.Errorf("Close = %v", err)
	}
	w.expectClosed()
	wait(t, c.Done())
	if !errors.Is(c.Err(), client.ErrClosed) {
		t.Errorf("Err() = %v, want ErrClosed", c.Err())
	}
	if _, err := c.Call(context.Background(), "x.y"); !errors.Is(err, client.ErrClosed) {
		t.Errorf("Call after Close = %v, want ErrClosed", err)
	}
	if err := c.Close(); !errors.Is(err, client.ErrClosed) {
		t.Errorf("second Close = %v, want ErrClosed", err)
	}
}

func TestCloseWithoutEcho(t *testing.T) {
	// The router never echoes: Close gives up after CloseTimeout. (No
	// assertion on the duration; only that Close returns and closes.)
	c, w := join(t, routerWelcome(false), client.Config{CloseTimeout: 1})
	if err := c.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	w.expect(&protocol.Goodbye{Details: protocol.Dict{}, Reason: protocol.CloseRealm})
	w.expectClosed()
}

func TestLeaveContext(t *testing.T) {
	c, w := join(t, routerWelcome(false), client.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	ch := async(func() (struct{}, error) { return struct{}{}, c.Leave(ctx) })
	w.expect(&protocol.Goodbye{Details: protocol.Dict{}, Reason: protocol.CloseRealm})
	cancel() // no echo: the context ends the wait
	if _, err := await(t, ch); err != nil {
		t.Errorf("Leave = %v", err)
	}
	w.expectClosed()
}

func TestRouterGoodbye(t *testing.T) {
	c, w := join(t, routerWelcome(false), client.Config{})
	w.send(&protocol.Goodbye{Details: protocol.Dict{"message": "bye"}, Reason: protocol.CloseSystemShutdown})
	w.expect(&protocol.Goodbye{Details: protocol.Dict{}, Reason: protocol.CloseGoodbyeAndOut})
	w.expectClosed()
	wait(t, c.Done())
	var g *client.GoodbyeError
	if !errors.As(c.Err(), &g) || g.Reason != protocol.CloseSystemShutdown {
		t.Errorf("Err() = %v, want *GoodbyeError system_shutdown", c.Err())
	}
	if err := c.Publish(context.Background(), "a.b"); !errors.Is(err, client.ErrClosed) || !errors.As(err, &g) {
		t.Errorf("Publish after GOODBYE = %v, want ErrClosed wrapping the GoodbyeError", err)
	}
}

func TestProtocolViolation(t *testing.T) {
	tests := []struct {
		name string
		msg  protocol.Message
	}{
		{"welcome again", &protocol.Welcome{Session: 1, Details: protocol.Dict{}}},
		{"challenge", &protocol.Challenge{AuthMethod: "ticket", Extra: protocol.Dict{}}},
		{"call from router", &protocol.Call{Request: 1, Options: protocol.Dict{}, Procedure: "a.b"}},
		{"result for unsent request", &protocol.Result{Request: 5, Details: protocol.Dict{}}},
		{"subscribed for unsent request", &protocol.Subscribed{Request: 1, Subscription: 3}},
		{"error for invocation type", &protocol.Error{RequestType: protocol.TypeInvocation, Request: 1, Details: protocol.Dict{}, URI: "x.y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, w := join(t, routerWelcome(false), client.Config{})
			w.send(tt.msg)
			a, ok := w.recv().(*protocol.Abort)
			if !ok || a.Reason != protocol.ErrProtocolViolation {
				t.Fatalf("client sent %#v, want ABORT protocol_violation", a)
			}
			w.expectClosed()
			wait(t, c.Done())
			if !errors.Is(c.Err(), client.ErrProtocolViolation) {
				t.Errorf("Err() = %v, want ErrProtocolViolation", c.Err())
			}
		})
	}
}

func TestWrongReplyKindIsViolation(t *testing.T) {
	c, w := join(t, routerWelcome(false), client.Config{})
	ch := async(func() (*client.Result, error) { return c.Call(context.Background(), "a.b") })
	w.recv() // CALL 1
	w.send(&protocol.Registered{Request: 1, Registration: 5})
	if a, ok := w.recv().(*protocol.Abort); !ok || a.Reason != protocol.ErrProtocolViolation {
		t.Fatalf("client sent %#v, want ABORT protocol_violation", a)
	}
	if _, err := await(t, ch); !errors.Is(err, client.ErrClosed) || !errors.Is(err, client.ErrProtocolViolation) {
		t.Errorf("pending Call = %v, want ErrClosed wrapping ErrProtocolViolation", err)
	}
}

func TestSessionEndFailsPending(t *testing.T) {
	c, w := join(t, routerWelcome(false), client.Config{})
	ctx := context.Background()
	call := async(func() (*client.Result, error) { return c.Call(ctx, "a.b") })
	w.recv() // CALL 1
	sub := async(func() (*client.Subscription, error) {
		return c.Subscribe(ctx, "a.t", func(*client.Event) {}, nil)
	})
	w.recv() // SUBSCRIBE 2
	reg := async(func() (*client.Registration, error) {
		return c.Register(ctx, "a.p", func(context.Context, *client.Invocation) (*client.Result, error) { return nil, nil }, nil)
	})
	w.recv() // REGISTER 3
	w.send(&protocol.Abort{Details: protocol.Dict{}, Reason: protocol.CloseSystemShutdown})

	check := func(what string, err error) {
		t.Helper()
		var a *client.AbortError
		if !errors.Is(err, client.ErrClosed) || !errors.As(err, &a) || a.Reason != protocol.CloseSystemShutdown {
			t.Errorf("%s = %v, want ErrClosed wrapping ABORT system_shutdown", what, err)
		}
	}
	_, err := await(t, call)
	check("Call", err)
	_, err = await(t, sub)
	check("Subscribe", err)
	_, err = await(t, reg)
	check("Register", err)
	wait(t, c.Done())
	var a *client.AbortError
	if !errors.As(c.Err(), &a) {
		t.Errorf("Err() = %v, want *AbortError", c.Err())
	}
	w.expectClosed()
}

func TestTransportCloseEndsSession(t *testing.T) {
	c, w := join(t, routerWelcome(false), client.Config{})
	call := async(func() (*client.Result, error) { return c.Call(context.Background(), "a.b") })
	w.recv()
	w.peer.Close(errTest)
	if _, err := await(t, call); !errors.Is(err, client.ErrClosed) || !errors.Is(err, errTest) {
		t.Errorf("Call = %v, want ErrClosed wrapping the transport's reason", err)
	}
	wait(t, c.Done())
	if !errors.Is(c.Err(), errTest) {
		t.Errorf("Err() = %v, want the transport's reason", c.Err())
	}
}

func TestCloseFailsPending(t *testing.T) {
	c, w := join(t, routerWelcome(false), client.Config{})
	call := async(func() (*client.Result, error) { return c.Call(context.Background(), "a.b") })
	w.recv() // CALL
	closed := async(func() (struct{}, error) { return struct{}{}, c.Close() })
	if _, err := await(t, call); !errors.Is(err, client.ErrClosed) {
		t.Errorf("Call during Close = %v, want ErrClosed", err)
	}
	w.expect(&protocol.Goodbye{Details: protocol.Dict{}, Reason: protocol.CloseRealm})
	// A late result while shutting down is ignored; then the echo.
	w.send(&protocol.Result{Request: 1, Details: protocol.Dict{}})
	w.send(&protocol.Goodbye{Details: protocol.Dict{}, Reason: protocol.CloseGoodbyeAndOut})
	if _, err := await(t, closed); err != nil {
		t.Errorf("Close = %v", err)
	}
}

func TestZeroValueMessagesDoNotPanic(t *testing.T) {
	// Messages with nil Details, Args and unknown ids: the client drops,
	// answers or aborts, but never panics.
	msgs := []protocol.Message{
		&protocol.Event{Subscription: 1},
		&protocol.Invocation{Request: 1, Registration: 1},
		&protocol.Interrupt{Request: 1},
		&protocol.Unsubscribed{},
		&protocol.Unregistered{},
		&protocol.Result{},
		&protocol.Error{},
		&protocol.Published{},
		&protocol.Subscribed{},
		&protocol.Registered{},
		&protocol.Goodbye{},
		&protocol.Abort{},
	}
	for _, m := range msgs {
		t.Run(fmt.Sprintf("%T", m), func(t *testing.T) {
			c, w := join(t, protocol.Dict{}, client.Config{}) // no roles in WELCOME either
			w.send(m)
			// A call round trip (or the session's end) shows the message
			// was handled.
			ch := async(func() (*client.Result, error) { return c.Call(context.Background(), "com.p") })
			for {
				select {
				case got, ok := <-w.in:
					if !ok {
						await(t, ch)
						return
					}
					if call, ok := got.(*protocol.Call); ok {
						// The session may be ending: a failed send is fine.
						_ = w.peer.Send(context.Background(), &protocol.Result{Request: call.Request, Details: protocol.Dict{}})
						await(t, ch)
						return
					}
				case <-c.Done():
					await(t, ch)
					return
				}
			}
		})
	}
}
