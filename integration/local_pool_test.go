package integration

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// TestLocalCallAllocs pins the allocations of an in-process call whose
// handler returns a Result it did not allocate: the caller's call state
// (which holds the Result it returns) and the callee's invocation (which
// the handler may keep). The router's invocation record is reused.
func TestLocalCallAllocs(t *testing.T) {
	if raceEnabled() {
		t.Skip("the race detector allocates on its own account")
	}
	e := startEnv(t, router.Config{})
	l := link{transport: "local"}
	callee := e.join(t, l)
	res := &client.Result{Args: protocol.List{"pong"}}
	register(t, callee, "com.example.ping", func(context.Context, *client.Invocation) (*client.Result, error) {
		return res, nil
	})
	caller := e.join(t, l)
	ctx := timeout(t)
	call := func() {
		if _, err := caller.Call(ctx, "com.example.ping", "ping"); err != nil {
			t.Fatal(err)
		}
	}
	for range 100 {
		call() // warm up the pools
	}
	// A push declined now and then (the client's lock is contended by its
	// own reader) costs a message on the link instead: on average the
	// count stays near 2.
	if got := testing.AllocsPerRun(2000, call); got > 2.5 {
		t.Errorf("in-process call: %.2f allocations, want at most 2", got)
	}
}

// TestLocalCallRecordReuse runs in-process calls whose router records are
// reused (plain calls) among calls whose records are not (calls with a
// timeout, calls canceled or timed out while their handler runs, calls to
// a callee that comes and goes) from several callers at once: every call
// gets its own answer, so no record is reused while something still
// refers to it. Run it with -race.
func TestLocalCallRecordReuse(t *testing.T) {
	e := startEnv(t, router.Config{})
	l := link{transport: "local"}
	callee := e.join(t, l)
	register(t, callee, "com.example.id", echo)
	// cancels[n] ends the context of call n from inside its handler, so
	// that the caller gives up (CANCEL, then INTERRUPT) while it runs.
	var mu sync.Mutex
	cancels := make(map[int64]context.CancelFunc)
	register(t, callee, "com.example.block", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		n, _ := inv.Args[0].(int64)
		mu.Lock()
		cancel := cancels[n]
		mu.Unlock()
		if cancel != nil {
			cancel()
		}
		<-ctx.Done() // interrupted: CANCEL or the call's timeout
		return nil, ctx.Err()
	})

	// A second callee registers, serves a few calls and leaves, again and
	// again.
	stop := make(chan struct{})
	churned := make(chan error, 1)
	go func() {
		defer close(churned)
		for {
			select {
			case <-stop:
				return
			default:
			}
			b := e.join(t, l)
			if _, err := b.Register(context.Background(), "com.example.b", echo, nil); err != nil {
				churned <- err
				return
			}
			_, _ = b.Call(context.Background(), "com.example.id", int64(-1))
			b.Close()
		}
	}()

	const callers = 4
	calls := scaled(400, 4)
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for c := range callers {
		caller := e.join(t, l)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := recordReuseCalls(caller, int64(c*calls), calls, &mu, cancels); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(stop)
	if err := <-churned; err != nil {
		t.Errorf("churning callee: %v", err)
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// recordReuseCalls makes calls calls numbered from first for
// TestLocalCallRecordReuse and checks each answer.
func recordReuseCalls(caller *client.Client, first int64, calls int, mu *sync.Mutex, cancels map[int64]context.CancelFunc) error {
	bg := context.Background()
	for i := range calls {
		n := first + int64(i)
		var res *client.Result
		var err error
		switch i % 5 {
		case 0, 1: // plain: the record is reused
			res, err = caller.Call(bg, "com.example.id", n)
		case 2: // a timer: the record is not reused
			res, err = caller.Do(bg, &client.CallRequest{Procedure: "com.example.id", Args: protocol.List{n}, Timeout: time.Hour})
		case 3: // canceled by the caller while the handler runs
			ctx, cancel := context.WithCancel(bg)
			mu.Lock()
			cancels[n] = cancel
			mu.Unlock()
			_, err = caller.Call(ctx, "com.example.block", n)
			cancel()
			if !errors.Is(err, context.Canceled) {
				return fmt.Errorf("canceled call %d: %v, want %v", n, err, context.Canceled)
			}
			continue
		case 4: // the callee may be gone
			res, err = caller.Call(bg, "com.example.b", n)
			var perr *protocol.Error
			if errors.As(err, &perr) && (perr.URI == protocol.ErrNoSuchProcedure || perr.URI == protocol.ErrCanceled) {
				continue
			}
		}
		if err != nil {
			return fmt.Errorf("call %d: %v", n, err)
		}
		if len(res.Args) != 1 || res.Args[0] != n {
			return fmt.Errorf("call %d: result %v, want [%d]", n, res.Args, n)
		}
	}
	// A call timed out by the dealer while its handler runs.
	_, err := caller.Do(bg, &client.CallRequest{Procedure: "com.example.block", Args: protocol.List{first - 1}, Timeout: time.Millisecond})
	var perr *protocol.Error
	if !errors.As(err, &perr) || (perr.URI != protocol.ErrTimeout && perr.URI != protocol.ErrCanceled) {
		return fmt.Errorf("call with a timeout: %v, want %s", err, protocol.ErrTimeout)
	}
	return nil
}
