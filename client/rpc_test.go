package client_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
)

func TestCallWire(t *testing.T) {
	tests := []struct {
		name string
		do   func(c *client.Client) (*client.Result, error)
		want *protocol.Call
	}{
		{
			name: "Call without args",
			do:   func(c *client.Client) (*client.Result, error) { return c.Call(context.Background(), "com.p") },
			want: &protocol.Call{Request: 1, Options: protocol.Dict{}, Procedure: "com.p"},
		},
		{
			name: "Call with args",
			do: func(c *client.Client) (*client.Result, error) {
				return c.Call(context.Background(), "com.p", 1, "a")
			},
			want: &protocol.Call{Request: 1, Options: protocol.Dict{}, Procedure: "com.p", Args: protocol.List{1, "a"}},
		},
		{
			name: "Call with Kwargs last: keyword arguments",
			do: func(c *client.Client) (*client.Result, error) {
				return c.Call(context.Background(), "com.p", 1, client.Kwargs{"k": "v"})
			},
			want: &protocol.Call{Request: 1, Options: protocol.Dict{}, Procedure: "com.p", Args: protocol.List{1}, Kwargs: protocol.Dict{"k": "v"}},
		},
		{
			name: "Call with only Kwargs",
			do: func(c *client.Client) (*client.Result, error) {
				return c.Call(context.Background(), "com.p", client.Kwargs{"k": "v"})
			},
			want: &protocol.Call{Request: 1, Options: protocol.Dict{}, Procedure: "com.p", Args: protocol.List{}, Kwargs: protocol.Dict{"k": "v"}},
		},
		{
			name: "Do with kwargs only",
			do: func(c *client.Client) (*client.Result, error) {
				return c.Do(context.Background(), &client.CallRequest{Procedure: "com.p", Kwargs: protocol.Dict{"k": 1}})
			},
			want: &protocol.Call{Request: 1, Options: protocol.Dict{}, Procedure: "com.p", Args: protocol.List{}, Kwargs: protocol.Dict{"k": 1}},
		},
		{
			name: "Do with options",
			do: func(c *client.Client) (*client.Result, error) {
				return c.Do(context.Background(), &client.CallRequest{
					Procedure:  "com.p",
					Args:       protocol.List{true},
					Timeout:    1500 * time.Millisecond,
					DiscloseMe: true,
					Options:    protocol.Dict{"_x": "y", "timeout": 1},
				})
			},
			want: &protocol.Call{Request: 1, Procedure: "com.p", Args: protocol.List{true},
				Options: protocol.Dict{"_x": "y", "timeout": int64(1500), "disclose_me": true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, w := join(t, routerWelcome(false), client.Config{})
			ch := async(func() (*client.Result, error) { return tt.do(c) })
			w.expect(tt.want)
			w.send(&protocol.Result{Request: 1, Details: protocol.Dict{"d": 1}, Args: protocol.List{"r"}, Kwargs: protocol.Dict{"k": "v"}})
			got, err := await(t, ch)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			want := &client.Result{Args: protocol.List{"r"}, Kwargs: protocol.Dict{"k": "v"}, Details: protocol.Dict{"d": 1}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("result mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCallError(t *testing.T) {
	c, w := join(t, routerWelcome(false), client.Config{})
	ch := async(func() (*client.Result, error) { return c.Call(context.Background(), "com.p") })
	w.recv()
	w.send(&protocol.Error{RequestType: protocol.TypeCall, Request: 1, Details: protocol.Dict{},
		URI: "com.app.failed", Args: protocol.List{"boom"}, Kwargs: protocol.Dict{"code": 3}})
	_, err := await(t, ch)
	var werr *protocol.Error
	if !errors.As(err, &werr) {
		t.Fatalf("Call = %v, want a *protocol.Error", err)
	}
	if werr.URI != "com.app.failed" || !cmp.Equal(werr.Args, protocol.List{"boom"}) || !cmp.Equal(werr.Kwargs, protocol.Dict{"code": 3}) {
		t.Errorf("error = %+v, want URI com.app.failed, args [boom], kwargs {code: 3}", werr)
	}
}

func TestCallsOutOfOrder(t *testing.T) {
	c, w := join(t, routerWelcome(false), client.Config{})
	ctx := context.Background()
	first := async(func() (*client.Result, error) { return c.Call(ctx, "com.p", 1) })
	w.recv()
	second := async(func() (*client.Result, error) { return c.Call(ctx, "com.p", 2) })
	w.recv()
	w.send(&protocol.Result{Request: 2, Details: protocol.Dict{}, Args: protocol.List{"two"}})
	w.send(&protocol.Result{Request: 1, Details: protocol.Dict{}, Args: protocol.List{"one"}})
	for i, ch := range []<-chan outcome[*client.Result]{first, second} {
		r, err := await(t, ch)
		want := []string{"one", "two"}[i]
		if err != nil || len(r.Args) != 1 || r.Args[0] != want {
			t.Errorf("call %d = %v, %v; want [%s]", i+1, r, err, want)
		}
	}
}

func TestCallCancel(t *testing.T) {
	for _, canCancel := range []bool{true, false} {
		t.Run(fmt.Sprintf("call_canceling=%v", canCancel), func(t *testing.T) {
			c, w := join(t, routerWelcome(canCancel), client.Config{})
			ctx, cancel := context.WithCancel(context.Background())
			ch := async(func() (*client.Result, error) { return c.Call(ctx, "com.slow") })
			w.expect(&protocol.Call{Request: 1, Options: protocol.Dict{}, Procedure: "com.slow"})
			cancel()
			if _, err := await(t, ch); !errors.Is(err, context.Canceled) {
				t.Fatalf("Call = %v, want context.Canceled", err)
			}
			if canCancel {
				w.expect(&protocol.Cancel{Request: 1, Options: protocol.Dict{"mode": "killnowait"}})
			}
			// The late answer is dropped; the session goes on, and the next
			// message on the wire is the next call (no CANCEL without the
			// dealer's call_canceling).
			w.send(&protocol.Error{RequestType: protocol.TypeCall, Request: 1, Details: protocol.Dict{}, URI: protocol.ErrCanceled})
			w.send(&protocol.Result{Request: 1, Details: protocol.Dict{}})
			ch = async(func() (*client.Result, error) { return c.Call(context.Background(), "com.p") })
			w.expect(&protocol.Call{Request: 2, Options: protocol.Dict{}, Procedure: "com.p"})
			w.send(&protocol.Result{Request: 2, Details: protocol.Dict{}, Args: protocol.List{"ok"}})
			if r, err := await(t, ch); err != nil || r.Args[0] != "ok" {
				t.Errorf("call after cancel = %v, %v", r, err)
			}
		})
	}
}

func TestCallProgress(t *testing.T) {
	c, w := join(t, routerWelcome(true), client.Config{})
	var got []any
	ch := async(func() (*client.Result, error) {
		return c.Do(context.Background(), &client.CallRequest{
			Procedure:  "com.p",
			OnProgress: func(r *client.Result) error { got = append(got, r.Args[0]); return nil },
		})
	})
	w.expect(&protocol.Call{Request: 1, Options: protocol.Dict{"receive_progress": true}, Procedure: "com.p"})
	for i := range 3 {
		w.send(&protocol.Result{Request: 1, Details: protocol.Dict{"progress": true}, Args: protocol.List{i}})
	}
	w.send(&protocol.Result{Request: 1, Details: protocol.Dict{}, Args: protocol.List{"done"}})
	r, err := await(t, ch)
	if err != nil || r.Args[0] != "done" {
		t.Fatalf("Do = %v, %v", r, err)
	}
	if diff := cmp.Diff([]any{0, 1, 2}, got); diff != "" {
		t.Errorf("progress mismatch (-want +got):\n%s", diff)
	}
}

func TestCallProgressStop(t *testing.T) {
	c, w := join(t, routerWelcome(true), client.Config{})
	ch := async(func() (*client.Result, error) {
		return c.Do(context.Background(), &client.CallRequest{
			Procedure:  "com.p",
			OnProgress: func(r *client.Result) error { return errTest },
		})
	})
	w.recv()
	w.send(&protocol.Result{Request: 1, Details: protocol.Dict{"progress": true}})
	if _, err := await(t, ch); !errors.Is(err, errTest) {
		t.Errorf("Do = %v, want the OnProgress error", err)
	}
	w.expect(&protocol.Cancel{Request: 1, Options: protocol.Dict{"mode": "killnowait"}})
}

func TestRequestIDsSequential(t *testing.T) {
	// Request ids must reach the router in order even when many goroutines
	// send at once (WAMP spec, basic/building_blocks.md, "IDs").
	c, w := join(t, routerWelcome(false), client.Config{})
	const n = 200
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				_ = c.Publish(context.Background(), "com.t", i)
			} else {
				_, _ = c.Call(context.Background(), "com.p", i)
			}
		}()
	}
	for want := protocol.ID(1); want <= n; want++ {
		var got protocol.ID
		switch m := w.recv().(type) {
		case *protocol.Publish:
			got = m.Request
		case *protocol.Call:
			got = m.Request
			w.send(&protocol.Result{Request: m.Request, Details: protocol.Dict{}})
		}
		if got != want {
			t.Fatalf("request id %d, want %d", got, want)
		}
	}
	wg.Wait()
}

func TestRegisterWire(t *testing.T) {
	tests := []struct {
		name string
		opts *client.RegisterOptions
		want protocol.Dict
	}{
		{"defaults", nil, protocol.Dict{}},
		{"exact", &client.RegisterOptions{Match: protocol.MatchExact}, protocol.Dict{}},
		{"prefix roundrobin", &client.RegisterOptions{Match: protocol.MatchPrefix, Invoke: "roundrobin", Options: protocol.Dict{"_x": 1}},
			protocol.Dict{"match": "prefix", "invoke": "roundrobin", "_x": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, w := join(t, routerWelcome(false), client.Config{})
			h := func(context.Context, *client.Invocation) (*client.Result, error) { return nil, nil }
			ch := async(func() (*client.Registration, error) { return c.Register(context.Background(), "com.p", h, tt.opts) })
			w.expect(&protocol.Register{Request: 1, Options: tt.want, Procedure: "com.p"})
			w.send(&protocol.Registered{Request: 1, Registration: 77})
			r, err := await(t, ch)
			if err != nil {
				t.Fatalf("Register: %v", err)
			}
			if r.ID() != 77 || r.Procedure() != "com.p" {
				t.Errorf("registration = %d %q, want 77 com.p", r.ID(), r.Procedure())
			}
			ch2 := async(func() (struct{}, error) { return struct{}{}, c.Unregister(context.Background(), r) })
			w.expect(&protocol.Unregister{Request: 2, Registration: 77})
			w.send(&protocol.Unregistered{Request: 2})
			if _, err := await(t, ch2); err != nil {
				t.Errorf("Unregister: %v", err)
			}
			if err := c.Unregister(context.Background(), r); !errors.Is(err, client.ErrNotActive) {
				t.Errorf("second Unregister = %v, want ErrNotActive", err)
			}
		})
	}
}

func TestRegisterError(t *testing.T) {
	c, w := join(t, routerWelcome(false), client.Config{})
	h := func(context.Context, *client.Invocation) (*client.Result, error) { return nil, nil }
	ch := async(func() (*client.Registration, error) { return c.Register(context.Background(), "com.p", h, nil) })
	w.recv()
	w.send(&protocol.Error{RequestType: protocol.TypeRegister, Request: 1, Details: protocol.Dict{}, URI: protocol.ErrProcedureAlreadyExists})
	_, err := await(t, ch)
	var werr *protocol.Error
	if !errors.As(err, &werr) || werr.URI != protocol.ErrProcedureAlreadyExists {
		t.Errorf("Register = %v, want procedure_already_exists", err)
	}
}

// registered joins and registers h for "com.p" as registration 5.
func registered(t *testing.T, h client.InvocationHandler) (*client.Client, *wire) {
	t.Helper()
	c, w := join(t, routerWelcome(true), client.Config{})
	ch := async(func() (*client.Registration, error) { return c.Register(context.Background(), "com.p", h, nil) })
	w.recv()
	w.send(&protocol.Registered{Request: 1, Registration: 5})
	if _, err := await(t, ch); err != nil {
		t.Fatalf("Register: %v", err)
	}
	return c, w
}

func TestInvocationResults(t *testing.T) {
	tests := []struct {
		name    string
		handler client.InvocationHandler
		want    protocol.Message
	}{
		{
			name: "result",
			handler: func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
				return &client.Result{Args: protocol.List{inv.Args[0], inv.Procedure, uint64(inv.Caller)}, Kwargs: inv.Kwargs}, nil
			},
			want: &protocol.Yield{Request: 9, Options: protocol.Dict{}, Args: protocol.List{"in", protocol.URI("com.p.x"), uint64(3)}, Kwargs: protocol.Dict{"k": 1}},
		},
		{
			name:    "nil result",
			handler: func(context.Context, *client.Invocation) (*client.Result, error) { return nil, nil },
			want:    &protocol.Yield{Request: 9, Options: protocol.Dict{}},
		},
		{
			name: "wamp error",
			handler: func(context.Context, *client.Invocation) (*client.Result, error) {
				return nil, fmt.Errorf("wrapped: %w", &protocol.Error{URI: "com.app.bad", Args: protocol.List{"why"}, Kwargs: protocol.Dict{"n": 1}})
			},
			want: &protocol.Error{RequestType: protocol.TypeInvocation, Request: 9, Details: protocol.Dict{}, URI: "com.app.bad", Args: protocol.List{"why"}, Kwargs: protocol.Dict{"n": 1}},
		},
		{
			name:    "plain error",
			handler: func(context.Context, *client.Invocation) (*client.Result, error) { return nil, errTest },
			want:    &protocol.Error{RequestType: protocol.TypeInvocation, Request: 9, Details: protocol.Dict{}, URI: client.ErrRuntimeError},
		},
		{
			name:    "panic",
			handler: func(context.Context, *client.Invocation) (*client.Result, error) { panic("oops") },
			want:    &protocol.Error{RequestType: protocol.TypeInvocation, Request: 9, Details: protocol.Dict{}, URI: client.ErrRuntimeError},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, w := registered(t, tt.handler)
			w.send(&protocol.Invocation{Request: 9, Registration: 5, Details: protocol.Dict{"procedure": "com.p.x", "caller": 3},
				Args: protocol.List{"in"}, Kwargs: protocol.Dict{"k": 1}})
			w.expect(tt.want)
		})
	}
}

func TestInvocationUnknownRegistration(t *testing.T) {
	_, w := registered(t, func(context.Context, *client.Invocation) (*client.Result, error) { return nil, nil })
	w.send(&protocol.Invocation{Request: 1, Registration: 99, Details: protocol.Dict{}})
	w.expect(&protocol.Error{RequestType: protocol.TypeInvocation, Request: 1, Details: protocol.Dict{}, URI: protocol.ErrNoSuchRegistration})
}

func TestInterrupt(t *testing.T) {
	started := make(chan struct{})
	_, w := registered(t, func(ctx context.Context, _ *client.Invocation) (*client.Result, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	})
	w.send(&protocol.Invocation{Request: 1, Registration: 5, Details: protocol.Dict{}})
	wait(t, started)
	w.send(&protocol.Interrupt{Request: 1, Options: protocol.Dict{"mode": "kill"}})
	w.expect(&protocol.Error{RequestType: protocol.TypeInvocation, Request: 1, Details: protocol.Dict{}, URI: protocol.ErrCanceled})
}

func TestInvocationsConcurrent(t *testing.T) {
	// A blocked invocation does not hold up another one, nor calls.
	release := make(chan struct{})
	c, w := registered(t, func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		if inv.Args[0] == "block" {
			<-release
		}
		return &client.Result{Args: inv.Args}, nil
	})
	w.send(&protocol.Invocation{Request: 1, Registration: 5, Details: protocol.Dict{}, Args: protocol.List{"block"}})
	w.send(&protocol.Invocation{Request: 2, Registration: 5, Details: protocol.Dict{}, Args: protocol.List{"free"}})
	w.expect(&protocol.Yield{Request: 2, Options: protocol.Dict{}, Args: protocol.List{"free"}})
	ch := async(func() (*client.Result, error) { return c.Call(context.Background(), "com.q") })
	w.expect(&protocol.Call{Request: 2, Options: protocol.Dict{}, Procedure: "com.q"})
	w.send(&protocol.Result{Request: 2, Details: protocol.Dict{}})
	if _, err := await(t, ch); err != nil {
		t.Errorf("Call while a handler blocks: %v", err)
	}
	close(release)
	w.expect(&protocol.Yield{Request: 1, Options: protocol.Dict{}, Args: protocol.List{"block"}})
}

func TestCalleeProgress(t *testing.T) {
	_, w := registered(t, func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		if !inv.ReceiveProgress() {
			return nil, inv.SendProgress(ctx, nil, nil)
		}
		for i := range 2 {
			if err := inv.SendProgress(ctx, protocol.List{i}, nil); err != nil {
				return nil, err
			}
		}
		return &client.Result{Args: protocol.List{"end"}}, nil
	})
	w.send(&protocol.Invocation{Request: 1, Registration: 5, Details: protocol.Dict{"receive_progress": true}})
	w.expect(&protocol.Yield{Request: 1, Options: protocol.Dict{"progress": true}, Args: protocol.List{0}})
	w.expect(&protocol.Yield{Request: 1, Options: protocol.Dict{"progress": true}, Args: protocol.List{1}})
	w.expect(&protocol.Yield{Request: 1, Options: protocol.Dict{}, Args: protocol.List{"end"}})
	// Without receive_progress SendProgress fails with ErrNoProgress,
	// which the callee reports as a runtime error.
	w.send(&protocol.Invocation{Request: 2, Registration: 5, Details: protocol.Dict{}})
	w.expect(&protocol.Error{RequestType: protocol.TypeInvocation, Request: 2, Details: protocol.Dict{}, URI: client.ErrRuntimeError})
}

func TestRegisterAbandoned(t *testing.T) {
	// Register gives up before REGISTERED arrives: the late registration is
	// released with UNREGISTER.
	c, w := join(t, routerWelcome(false), client.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	h := func(context.Context, *client.Invocation) (*client.Result, error) { return nil, nil }
	ch := async(func() (*client.Registration, error) { return c.Register(ctx, "com.p", h, nil) })
	w.recv()
	cancel()
	if _, err := await(t, ch); !errors.Is(err, context.Canceled) {
		t.Fatalf("Register = %v, want context.Canceled", err)
	}
	w.send(&protocol.Registered{Request: 1, Registration: 8})
	w.expect(&protocol.Unregister{Request: 2, Registration: 8})
	w.send(&protocol.Unregistered{Request: 2})
	// An invocation that crossed is refused.
	w.send(&protocol.Invocation{Request: 1, Registration: 8, Details: protocol.Dict{}})
	w.expect(&protocol.Error{RequestType: protocol.TypeInvocation, Request: 1, Details: protocol.Dict{}, URI: protocol.ErrNoSuchRegistration})
}

func TestResponseTimeout(t *testing.T) {
	c, w := join(t, routerWelcome(false), client.Config{ResponseTimeout: time.Nanosecond})
	h := func(context.Context, *client.Invocation) (*client.Result, error) { return nil, nil }
	if _, err := c.Register(context.Background(), "com.p", h, nil); !errors.Is(err, client.ErrResponseTimeout) {
		t.Errorf("Register = %v, want ErrResponseTimeout", err)
	}
	w.recv() // the REGISTER was sent
}

func TestCallContextAlreadyDone(t *testing.T) {
	c, w := join(t, routerWelcome(true), client.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Call(ctx, "com.p"); !errors.Is(err, context.Canceled) {
		t.Errorf("Call = %v, want context.Canceled", err)
	}
	// Nothing was sent: the next request still has id 1.
	ch := async(func() (*client.Result, error) { return c.Call(context.Background(), "com.q") })
	w.expect(&protocol.Call{Request: 1, Options: protocol.Dict{}, Procedure: "com.q"})
	w.send(&protocol.Result{Request: 1, Details: protocol.Dict{}})
	await(t, ch)
}

func TestCloseWaitsForHandlers(t *testing.T) {
	// Close cancels running handlers' contexts and returns only after they
	// have returned; no YIELD goes out after GOODBYE.
	started := make(chan struct{})
	var returned bool
	c, w := registered(t, func(ctx context.Context, _ *client.Invocation) (*client.Result, error) {
		close(started)
		<-ctx.Done()
		returned = true
		return nil, ctx.Err()
	})
	w.send(&protocol.Invocation{Request: 1, Registration: 5, Details: protocol.Dict{}})
	wait(t, started)
	closed := async(func() (struct{}, error) { return struct{}{}, c.Close() })
	w.expect(&protocol.Goodbye{Details: protocol.Dict{}, Reason: protocol.CloseRealm})
	w.send(&protocol.Goodbye{Details: protocol.Dict{}, Reason: protocol.CloseGoodbyeAndOut})
	if _, err := await(t, closed); err != nil {
		t.Errorf("Close = %v", err)
	}
	if !returned {
		t.Error("Close returned before the handler")
	}
	w.expectClosed()
}

func TestDuplicateInvocationIsViolation(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	c, w := registered(t, func(ctx context.Context, _ *client.Invocation) (*client.Result, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, nil
	})
	w.send(&protocol.Invocation{Request: 1, Registration: 5, Details: protocol.Dict{}})
	w.send(&protocol.Invocation{Request: 1, Registration: 5, Details: protocol.Dict{}})
	if a, ok := w.recv().(*protocol.Abort); !ok || a.Reason != protocol.ErrProtocolViolation {
		t.Fatalf("client sent %#v, want ABORT protocol_violation", a)
	}
	wait(t, c.Done())
}

func TestInvalidURIsRefusedLocally(t *testing.T) {
	// Requests a router or serializer would refuse fail at once with an
	// error wrapping protocol.ErrMalformed; nothing is sent and the request
	// id is not used up.
	c, w := join(t, routerWelcome(false), client.Config{})
	ctx := context.Background()
	const bad = "com..bad uri"
	h := func(context.Context, *client.Invocation) (*client.Result, error) { return nil, nil }
	calls := map[string]func() error{
		"Call":      func() error { _, err := c.Call(ctx, bad); return err },
		"Publish":   func() error { return c.Publish(ctx, bad) },
		"Register":  func() error { _, err := c.Register(ctx, bad, h, nil); return err },
		"Subscribe": func() error { _, err := c.Subscribe(ctx, bad, func(*client.Event) {}, nil); return err },
		"Subscribe(wildcard)": func() error {
			_, err := c.Subscribe(ctx, "com..x y", func(*client.Event) {}, &client.SubscribeOptions{Match: protocol.MatchWildcard})
			return err
		},
	}
	for name, f := range calls {
		if err := f(); !errors.Is(err, protocol.ErrMalformed) {
			t.Errorf("%s(%q) = %v, want an error wrapping protocol.ErrMalformed", name, bad, err)
		}
	}
	ch := async(func() (*client.Result, error) { return c.Call(ctx, "com.ok") })
	w.expect(&protocol.Call{Request: 1, Options: protocol.Dict{}, Procedure: "com.ok"})
	w.send(&protocol.Result{Request: 1, Details: protocol.Dict{}})
	await(t, ch)
}

func TestInvalidHandlerErrorURI(t *testing.T) {
	_, w := registered(t, func(context.Context, *client.Invocation) (*client.Result, error) {
		return nil, &protocol.Error{URI: "not a uri"}
	})
	w.send(&protocol.Invocation{Request: 1, Registration: 5, Details: protocol.Dict{}})
	w.expect(&protocol.Error{RequestType: protocol.TypeInvocation, Request: 1, Details: protocol.Dict{}, URI: client.ErrRuntimeError})
}

// TestKwargsNotLast checks that a Kwargs that is not the last argument is
// refused rather than sent as a positional argument.
func TestKwargsNotLast(t *testing.T) {
	c, _ := join(t, routerWelcome(false), client.Config{})
	ctx := context.Background()
	if _, err := c.Call(ctx, "com.p", client.Kwargs{"k": 1}, 2); err == nil || !strings.Contains(err.Error(), "last") {
		t.Errorf("Call with Kwargs first = %v, want an error", err)
	}
	if err := c.Publish(ctx, "com.t", client.Kwargs{"k": 1}, client.Kwargs{}); err == nil {
		t.Errorf("Publish with two Kwargs succeeded")
	}
}
