package integration

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// TestLocalPushOrder runs in-process calls whose answers the router hands
// to the waiting caller, and whose INVOCATIONs it hands to the callee's
// workers, on its own goroutine (transport.Pusher): progressive results
// arrive in order, each call gets its own result, while many callers call
// at once and the callee also publishes to them (messages that go through
// the client's reader, interleaved with the pushed ones).
func TestLocalPushOrder(t *testing.T) {
	e := startEnv(t, router.Config{})
	l := link{transport: "local"}
	callee := e.join(t, l)
	const chunks = 20
	register(t, callee, "com.example.count", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		n, _ := inv.Args[0].(int64)
		for i := range chunks {
			if err := inv.SendProgress(ctx, protocol.List{n, int64(i)}, nil); err != nil {
				return nil, err
			}
			if err := callee.Publish(ctx, "com.example.tick", n, int64(i)); err != nil {
				return nil, err
			}
		}
		return &client.Result{Args: protocol.List{n, int64(chunks)}}, nil
	})
	const callers, calls = 4, 50
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for c := range callers {
		caller := e.join(t, l)
		if _, err := caller.Subscribe(context.Background(), "com.example.tick", func(*client.Event) {}, nil); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls {
				n := int64(c*calls + i)
				next := int64(0)
				res, err := caller.Do(context.Background(), &client.CallRequest{
					Procedure: "com.example.count",
					Args:      protocol.List{n},
					OnProgress: func(r *client.Result) error {
						if got, _ := r.Args[0].(int64); got != n {
							return fmt.Errorf("progress of call %d: for call %v", n, r.Args[0])
						}
						if got, _ := r.Args[1].(int64); got != next {
							return fmt.Errorf("call %d: progress %v, want %d", n, r.Args[1], next)
						}
						next++
						return nil
					},
				})
				if err == nil && (res.Args[0] != n || res.Args[1] != int64(chunks) || next != chunks) {
					err = fmt.Errorf("call %d: result %v after %d progressive results, want [%d %d] after %d", n, res.Args, next, n, chunks, chunks)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestLocalPushReentrant checks the calls that re-enter a client while it
// holds its own lock: a client calling its own procedure, and a handler
// that calls back a procedure of its caller. Neither may deadlock.
func TestLocalPushReentrant(t *testing.T) {
	e := startEnv(t, router.Config{})
	l := link{transport: "local"}
	a := e.join(t, l)
	b := e.join(t, l)
	register(t, a, "com.example.a.echo", echo)
	register(t, b, "com.example.b.relay", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		res, err := b.Call(ctx, "com.example.a.echo", inv.Args...)
		if err != nil {
			return nil, err
		}
		return &client.Result{Args: res.Args}, nil
	})
	ctx := context.Background()
	for i := range 200 {
		res, err := a.Call(ctx, "com.example.a.echo", int64(i))
		if err != nil || res.Args[0] != int64(i) {
			t.Fatalf("self-call %d = %v, %v", i, res, err)
		}
		res, err = a.Call(ctx, "com.example.b.relay", int64(i))
		if err != nil || res.Args[0] != int64(i) {
			t.Fatalf("call %d through a handler calling back = %v, %v", i, res, err)
		}
	}
	// An INVOCATION of a procedure unregistered meanwhile is declined by
	// the push and answered by the reader as before.
	_, err := a.Call(ctx, "com.example.nothing")
	var perr *protocol.Error
	if !errors.As(err, &perr) || perr.URI != protocol.ErrNoSuchProcedure {
		t.Fatalf("call of an unknown procedure = %v, want %s", err, protocol.ErrNoSuchProcedure)
	}
}
