package cluster_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/cluster"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// TestLostProgressCancelsCall fills the callee's node's queue to the
// caller's node: the progressive results that do not fit are not dropped
// without a trace. The callee's node cancels the call (the handler's
// context ends), and the caller gets the results that fitted, in order,
// then ERROR wamp.error.canceled, which a full queue still takes.
func TestLostProgressCancelsCall(t *testing.T) {
	nodes := startNodes(t, startNATS(t), 2, router.RealmConfig{})
	callee := nodes[1].join(t, client.Config{})
	interrupted := make(chan struct{})
	register(t, callee, "rpc.stream", nil, func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		if len(inv.Args) > 0 {
			return &client.Result{}, nil // the first call: the procedure is there
		}
		for i := 1; i <= 10; i++ {
			_ = inv.SendProgress(ctx, protocol.List{i}, nil)
		}
		select {
		case <-ctx.Done():
			close(interrupted)
			return nil, ctx.Err()
		case <-time.After(testTimeout):
			return &client.Result{Args: protocol.List{"done"}}, nil
		}
	})
	caller := nodes[0].join(t, client.Config{})
	if _, err := callWhenThere(t, caller, &client.CallRequest{Procedure: "rpc.stream", Args: protocol.List{"ping"}}); err != nil {
		t.Fatal(err)
	}

	// Room for 4 of the progressive results.
	const limit = 4
	release := nodes[1].c.HoldSender(limit * cluster.FrameSize(&protocol.Yield{Request: 1,
		Options: protocol.Dict{"progress": true}, Args: protocol.List{1}}))
	var mu sync.Mutex
	var progress []int
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*testTimeout)
		defer cancel()
		_, err := caller.Do(ctx, &client.CallRequest{Procedure: "rpc.stream", OnProgress: func(r *client.Result) error {
			mu.Lock()
			progress = append(progress, argIntOf(r.Args))
			mu.Unlock()
			return nil
		}})
		done <- err
	}()
	select {
	case <-interrupted:
	case <-time.After(testTimeout):
		release()
		t.Fatal("the handler was not interrupted when its progressive results found the queue full")
	}
	// The callee's ERROR is queued too, past the bound, before the
	// sender publishes again.
	deadline := time.Now().Add(testTimeout)
	for nodes[1].c.Queued() < limit+1 {
		if time.Now().After(deadline) {
			release()
			t.Fatalf("%d frames queued, want %d", nodes[1].c.Queued(), limit+1)
		}
		time.Sleep(10 * time.Millisecond)
	}
	release()
	err := <-done
	var werr *protocol.Error
	if !errors.As(err, &werr) || werr.URI != protocol.ErrCanceled {
		t.Errorf("call = %v, want ERROR %s", err, protocol.ErrCanceled)
	}
	mu.Lock()
	defer mu.Unlock()
	// The queue took at most limit of them (fewer if another frame
	// waited there); the caller got those, in order.
	ok := len(progress) >= 1 && len(progress) <= limit
	for i, v := range progress {
		ok = ok && v == i+1
	}
	if !ok {
		t.Errorf("progressive results %v, want 1, 2, ... (at most %d)", progress, limit)
	}
}

// TestCallRefusedByFullQueue: a CALL that does not fit the queue to the
// callee's node (its bound in bytes, Config.CallQueueBytes) fails at once
// with ERROR wampkit.error.cluster_unavailable and is counted; the call
// already queued goes through once the node publishes again.
func TestCallRefusedByFullQueue(t *testing.T) {
	nodes := startNodes(t, startNATS(t), 2, router.RealmConfig{})
	register(t, nodes[1].join(t, client.Config{}), "rpc.echo", nil, echo)
	caller := nodes[0].join(t, client.Config{})
	if _, err := callWhenThere(t, caller, &client.CallRequest{Procedure: "rpc.echo"}); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	hold := nodes[0].c.HoldSender(64 << 10)
	release := func() { once.Do(hold) }
	defer release()
	first := make(chan error, 1)
	go func() {
		ctx, cancel := testContext()
		defer cancel()
		res, err := caller.Call(ctx, "rpc.echo", "first")
		if err == nil && (len(res.Args) != 1 || res.Args[0] != "first") {
			err = errors.New("wrong result")
		}
		first <- err
	}()
	deadline := time.Now().Add(testTimeout)
	for nodes[0].c.Queued() < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the first call was not queued")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := testContext()
	defer cancel()
	big := make([]byte, 128<<10)
	if _, err := caller.Call(ctx, "rpc.echo", big); !isErrURI(err, router.ClusterUnavailable) {
		t.Errorf("call of %d bytes to a full queue = %v, want ERROR %s", len(big), err, router.ClusterUnavailable)
	}
	if n := nodes[0].c.Stats().CallsRefused; n != 1 {
		t.Errorf("Stats().CallsRefused = %d, want 1", n)
	}
	release()
	if err := <-first; err != nil {
		t.Errorf("the queued call: %v", err)
	}
}
