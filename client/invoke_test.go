package client_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
)

// TestInvocationContext checks the handler's context: a context derived
// from it follows an INTERRUPT, with its cause, and it is done once the
// handler has returned, whether or not Done was asked for before.
func TestInvocationContext(t *testing.T) {
	started := make(chan struct{}, 1)
	ctxs := make(chan context.Context, 2)
	_, w := registered(t, func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		ctxs <- ctx
		if inv.Args[0] == "plain" {
			return nil, nil // never looks at ctx
		}
		dctx, cancel := context.WithCancel(ctx)
		defer cancel()
		started <- struct{}{}
		<-dctx.Done()
		if err := context.Cause(dctx); !errors.Is(err, client.ErrInterrupted) {
			t.Errorf("context.Cause of a derived context = %v, want ErrInterrupted", err)
		}
		return nil, dctx.Err()
	})
	w.send(&protocol.Invocation{Request: 1, Registration: 5, Details: protocol.Dict{}, Args: protocol.List{"derived"}})
	wait(t, started)
	w.send(&protocol.Interrupt{Request: 1, Options: protocol.Dict{"mode": "kill"}})
	w.expect(&protocol.Error{RequestType: protocol.TypeInvocation, Request: 1, Details: protocol.Dict{}, URI: protocol.ErrCanceled})

	w.send(&protocol.Invocation{Request: 2, Registration: 5, Details: protocol.Dict{}, Args: protocol.List{"plain"}})
	w.expect(&protocol.Yield{Request: 2, Options: protocol.Dict{}})
	for range 2 {
		ctx := <-ctxs
		if ctx.Err() == nil {
			t.Errorf("handler's context not done after the handler returned")
		}
		wait(t, ctx.Done())
		if _, ok := ctx.Deadline(); ok {
			t.Errorf("handler's context has a deadline")
		}
	}
}

// TestManyInvocations runs more handlers at once than the client keeps
// workers parked, twice: every invocation is answered, and goleak
// (TestMain) finds no worker left after Close.
func TestManyInvocations(t *testing.T) {
	const n = 50
	var entered sync.WaitGroup
	release := make(chan struct{})
	var mu sync.Mutex
	block := true
	_, w := registered(t, func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		mu.Lock()
		b := block
		mu.Unlock()
		if b {
			entered.Done()
			<-release
		}
		return &client.Result{Args: inv.Args}, nil
	})
	for round := range 2 {
		if round == 1 {
			mu.Lock()
			block = false
			mu.Unlock()
		} else {
			entered.Add(n)
		}
		for i := range n {
			w.send(&protocol.Invocation{Request: protocol.ID(round*n + i + 1), Registration: 5, Details: protocol.Dict{}, Args: protocol.List{i}})
		}
		if round == 0 {
			all := make(chan struct{})
			go func() { entered.Wait(); close(all) }()
			wait(t, all) // all n handlers run at once
			close(release)
		}
		seen := make(map[protocol.ID]bool)
		for range n {
			y, ok := w.recv().(*protocol.Yield)
			if !ok {
				t.Fatalf("round %d: client sent %#v, want YIELD", round, y)
			}
			seen[y.Request] = true
		}
		if len(seen) != n {
			t.Errorf("round %d: %d distinct YIELDs, want %d", round, len(seen), n)
		}
	}
}

// TestInvocationContextCause checks that a handler can tell why its
// context ended: an INTERRUPT, the end of the session, or its own return.
func TestInvocationContextCause(t *testing.T) {
	causes := make(chan error, 3)
	started := make(chan struct{}, 1)
	c, w := registered(t, func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		if inv.Args[0] == "return" {
			go func() {
				<-ctx.Done()
				causes <- context.Cause(ctx)
			}()
			return nil, nil
		}
		started <- struct{}{}
		<-ctx.Done()
		causes <- context.Cause(ctx)
		if ctx.Err() != context.Canceled {
			t.Errorf("ctx.Err() = %v, want context.Canceled", ctx.Err())
		}
		return nil, ctx.Err()
	})
	w.send(&protocol.Invocation{Request: 1, Registration: 5, Details: protocol.Dict{}, Args: protocol.List{"interrupt"}})
	wait(t, started)
	w.send(&protocol.Interrupt{Request: 1, Options: protocol.Dict{"mode": "kill"}})
	w.expect(&protocol.Error{RequestType: protocol.TypeInvocation, Request: 1, Details: protocol.Dict{}, URI: protocol.ErrCanceled})
	if err := <-causes; !errors.Is(err, client.ErrInterrupted) || !strings.Contains(fmt.Sprint(err), "mode kill") {
		t.Errorf("cause after INTERRUPT = %v, want ErrInterrupted with the mode", err)
	}

	w.send(&protocol.Invocation{Request: 2, Registration: 5, Details: protocol.Dict{}, Args: protocol.List{"return"}})
	w.expect(&protocol.Yield{Request: 2, Options: protocol.Dict{}})
	if err := <-causes; err != context.Canceled {
		t.Errorf("cause after the handler returned = %v, want context.Canceled", err)
	}

	w.send(&protocol.Invocation{Request: 3, Registration: 5, Details: protocol.Dict{}, Args: protocol.List{"session"}})
	wait(t, started)
	w.send(&protocol.Abort{Details: protocol.Dict{}, Reason: "wamp.close.killed"})
	if err := <-causes; !errors.Is(err, client.ErrClosed) {
		t.Errorf("cause after the session ended = %v, want ErrClosed", err)
	}
	wait(t, c.Done())
}
