package integration

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// onCaller reports whether the calling goroutine's stack holds marker,
// the name of a function only the caller's goroutine runs.
func onCaller(marker string) bool {
	buf := make([]byte, 1<<20)
	return bytes.Contains(buf[:runtime.Stack(buf, false)], []byte(marker))
}

// carryMarker calls f; a handler that finds it on its stack runs on the
// goroutine of the call f makes.
//
//go:noinline
func carryMarker(f func()) { f() }

// TestLocalCarry checks when the handler of an in-process call runs on
// the caller's goroutine (transport.Carrier): for a plain call whose
// context cannot end, and for nothing else: not for a context that can
// end (the call must be able to return when it does, whatever the
// handler does), a call with options, or a call of the caller's own
// procedure.
func TestLocalCarry(t *testing.T) {
	e := startEnv(t, router.Config{})
	l := link{transport: "local"}
	callee := e.join(t, l)
	caller := e.join(t, l)
	var carried atomic.Int64
	handler := func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		if onCaller("integration.carryMarker") {
			carried.Add(1)
		}
		return &client.Result{Args: inv.Args}, nil
	}
	register(t, callee, "com.example.where", handler)
	register(t, caller, "com.example.own", handler)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tests := []struct {
		name  string
		call  func(n int64) (*client.Result, error)
		carry bool
	}{
		{"plain call, context.Background", func(n int64) (*client.Result, error) {
			return caller.Call(context.Background(), "com.example.where", n)
		}, true},
		{"context that can end", func(n int64) (*client.Result, error) {
			return caller.Call(ctx, "com.example.where", n)
		}, false},
		{"call with options", func(n int64) (*client.Result, error) {
			return caller.Do(context.Background(), &client.CallRequest{Procedure: "com.example.where", Args: protocol.List{n}, DiscloseMe: true})
		}, false},
		{"own procedure", func(n int64) (*client.Result, error) {
			return caller.Call(context.Background(), "com.example.own", n)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			carried.Store(0)
			const calls = 100
			carryMarker(func() {
				for n := range int64(calls) {
					res, err := tt.call(n)
					if err != nil || len(res.Args) != 1 || res.Args[0] != n {
						t.Fatalf("call %d = %v, %v", n, res, err)
					}
				}
			})
			// A carry is declined when the callee's lock is busy, so
			// not every call need run on the caller's goroutine.
			got := carried.Load()
			if tt.carry && got == 0 {
				t.Errorf("none of %d handlers ran on the caller's goroutine", calls)
			}
			if !tt.carry && got != 0 {
				t.Errorf("%d of %d handlers ran on the caller's goroutine, want none", got, calls)
			}
		})
	}
}

// TestLocalCarryInterrupt checks that a handler running on its caller's
// goroutine is interrupted like any other: when the caller's session ends
// (the router sends INTERRUPT) and when the callee's does (Close cancels
// the handler's context, and waits for it).
func TestLocalCarryInterrupt(t *testing.T) {
	for _, closeCaller := range []bool{true, false} {
		name := "callee closes"
		if closeCaller {
			name = "caller closes"
		}
		t.Run(name, func(t *testing.T) {
			e := startEnv(t, router.Config{})
			l := link{transport: "local"}
			callee := e.join(t, l)
			caller := e.join(t, l)
			started := make(chan struct{}, 1)
			causes := make(chan error, 1)
			register(t, callee, "com.example.block", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
				if !onCaller("integration.carryMarker") {
					return &client.Result{Args: protocol.List{"on a worker"}}, nil // try again
				}
				started <- struct{}{}
				<-ctx.Done()
				causes <- context.Cause(ctx)
				return nil, ctx.Err()
			})
			closed := make(chan struct{})
			go func() {
				defer close(closed)
				select {
				case <-started:
				case <-time.After(testTimeout):
					return
				}
				if closeCaller {
					caller.Close()
				} else {
					callee.Close()
				}
			}()
			// A carry is declined when the callee's lock is busy: call
			// until one is carried.
			var err error
			for range 100 {
				var res *client.Result
				carryMarker(func() {
					res, err = caller.Call(context.Background(), "com.example.block")
				})
				if err != nil || len(res.Args) == 0 {
					break
				}
			}
			if err == nil {
				t.Fatal("no call ran on the caller's goroutine")
			}
			<-closed
			cause := <-causes
			if closeCaller && !errors.Is(cause, client.ErrInterrupted) {
				t.Errorf("cause of the handler's context = %v, want ErrInterrupted", cause)
			}
			if !closeCaller && !errors.Is(cause, client.ErrClosed) {
				t.Errorf("cause of the handler's context = %v, want ErrClosed", cause)
			}
		})
	}
}

// TestLocalCarryNested runs chains of handlers that call on, 1000 deep:
// two clients calling each other's procedure with the handler's context
// (handlers nest on the first caller's goroutine up to a bound, then go
// to workers) or with a context of their own (bounded per client), and a
// client calling its own procedure. Every chain finishes.
func TestLocalCarryNested(t *testing.T) {
	// A chain of self-calls has all its calls pending at once.
	e := startEnv(t, router.Config{MaxPendingCalls: 2000})
	l := link{transport: "local"}
	a := e.join(t, l)
	b := e.join(t, l)
	const depth = 1000
	down := func(c *client.Client, next protocol.URI) client.InvocationHandler {
		return func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
			n, _ := inv.Args[0].(int64)
			own, _ := inv.Args[1].(bool)
			if n == 0 {
				return &client.Result{Args: protocol.List{int64(0)}}, nil
			}
			cctx := ctx
			if own {
				cctx = context.Background()
			}
			res, err := c.Call(cctx, next, n-1, own)
			if err != nil {
				return nil, err
			}
			return &client.Result{Args: protocol.List{res.Args[0].(int64) + 1}}, nil
		}
	}
	register(t, a, "com.example.a", down(a, "com.example.b"))
	register(t, b, "com.example.b", down(b, "com.example.a"))
	register(t, a, "com.example.self", down(a, "com.example.self"))
	for _, tt := range []struct {
		name string
		proc protocol.URI
		own  bool
	}{
		{"ping-pong, handler's context", "com.example.a", false},
		{"ping-pong, own context", "com.example.a", true},
		{"self-calls", "com.example.self", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := a.Call(context.Background(), tt.proc, int64(depth), tt.own)
			if err != nil || res.Args[0] != int64(depth) {
				t.Fatalf("chain of %d calls = %v, %v", depth, res, err)
			}
		})
	}
}

// BenchmarkCallCarried is BenchmarkCall/local with a context that cannot
// end, with which the callee's handler runs on the caller's goroutine.
func BenchmarkCallCarried(b *testing.B) {
	benchCall(context.Background(), b, link{transport: "local"})
}
