package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/transport"
)

// sendChunk sends one chunk of s, retrying while the client's outbound
// queue is full (the client never waits for room itself).
func sendChunk(ctx context.Context, s *client.CallStream, final bool, args protocol.List) error {
	for {
		var err error
		if final {
			err = s.CloseSend(ctx, args, nil)
		} else {
			err = s.Send(ctx, args, nil)
		}
		if !errors.Is(err, transport.ErrQueueFull) {
			return err
		}
		select {
		case <-time.After(100 * time.Microsecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// testProgressiveInvocations streams many chunks to a callee that answers
// every tenth with a progressive result while the caller still sends:
// both directions must keep their order. (Every tenth, so that the
// callee's YIELDs never fill its outbound queue: a final YIELD that finds
// it full would be lost.)
func testProgressiveInvocations(t *testing.T, e *env, l link) {
	const n = 500
	ctx := timeout(t)
	callee := e.join(t, l)
	register(t, callee, "com.matrix.stream", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		if !inv.Progressive() {
			return nil, &protocol.Error{URI: "com.matrix.not_progressive"}
		}
		next := int64(0)
		check := func(args protocol.List) error {
			v, ok := protocol.ToInt64(args[0])
			if !ok || v != next {
				return &protocol.Error{URI: "com.matrix.out_of_order", Args: protocol.List{fmt.Sprint(args[0]), next}}
			}
			next++
			if v%10 != 0 {
				return nil
			}
			for {
				err := inv.SendProgress(ctx, protocol.List{v}, nil)
				if !errors.Is(err, transport.ErrQueueFull) {
					return err
				}
				time.Sleep(100 * time.Microsecond)
			}
		}
		if err := check(inv.Args); err != nil {
			return nil, err
		}
		for {
			ch, err := inv.Recv(ctx)
			if err == io.EOF {
				return &client.Result{Args: protocol.List{next}}, nil
			}
			if err != nil {
				return nil, err
			}
			if err := check(ch.Args); err != nil {
				return nil, err
			}
		}
	})
	caller := e.join(t, l)
	var got int64
	var progressErr error
	s, err := caller.DoStream(ctx, &client.CallRequest{
		Procedure: "com.matrix.stream",
		Args:      protocol.List{0},
		OnProgress: func(r *client.Result) error {
			if v, ok := protocol.ToInt64(r.Args[0]); !ok || v != got*10 {
				progressErr = fmt.Errorf("progressive result %v, want %d", r.Args[0], got*10)
				return progressErr
			}
			got++
			return nil
		},
	})
	if err != nil {
		t.Fatalf("DoStream: %v", err)
	}
	type outcome struct {
		res *client.Result
		err error
	}
	out := make(chan outcome, 1)
	go func() {
		res, err := s.Result(ctx)
		out <- outcome{res, err}
	}()
	for i := 1; i < n; i++ {
		if err := sendChunk(ctx, s, i == n-1, protocol.List{i}); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
	}
	o := <-out
	if o.err != nil {
		t.Fatalf("Result = %v (progress: %v)", o.err, progressErr)
	}
	if v, _ := protocol.ToInt64(o.res.Args[0]); v != n || got != n/10 {
		t.Errorf("callee counted %v chunks and the caller %d progressive results, want %d and %d", o.res.Args[0], got, n, n/10)
	}
}

// testProgressiveCancel cancels a call mid-stream: the callee's handler is
// interrupted and the caller's Result returns at once.
func testProgressiveCancel(t *testing.T, e *env, l link) {
	ctx := timeout(t)
	callee := e.join(t, l)
	started := make(chan struct{})
	interrupted := make(chan error, 1)
	register(t, callee, "com.matrix.stream_cancel", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		close(started)
		for {
			if _, err := inv.Recv(ctx); err != nil {
				interrupted <- err
				return nil, err
			}
		}
	})
	caller := e.join(t, l)
	cctx, cancel := context.WithCancel(ctx)
	s, err := caller.DoStream(cctx, &client.CallRequest{Procedure: "com.matrix.stream_cancel"})
	if err != nil {
		t.Fatalf("DoStream: %v", err)
	}
	if err := sendChunk(ctx, s, false, protocol.List{1}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	select {
	case <-started:
	case <-ctx.Done():
		t.Fatal("the callee was never invoked")
	}
	cancel()
	if _, err := s.Result(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Result = %v, want context.Canceled", err)
	}
	select {
	case err := <-interrupted:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Recv in the interrupted handler = %v, want context.Canceled", err)
		}
	case <-ctx.Done():
		t.Fatal("the callee's handler was not interrupted")
	}
	if err := s.Send(ctx, protocol.List{2}, nil); !errors.Is(err, client.ErrStreamDone) {
		t.Errorf("Send after cancel = %v, want ErrStreamDone", err)
	}
}

// testProgressiveCalleeVanishes closes a callee's transport mid-stream:
// the caller gets wamp.error.canceled, and its stream is done.
func testProgressiveCalleeVanishes(t *testing.T, e *env, l link) {
	ctx := timeout(t)
	callee, peer := e.joinPeer(t, l)
	var once sync.Once
	started := make(chan struct{})
	register(t, callee, "com.matrix.stream_vanish", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		once.Do(func() { close(started) })
		for {
			if _, err := inv.Recv(ctx); err != nil {
				return nil, err
			}
		}
	})
	caller := e.join(t, l)
	s, err := caller.DoStream(ctx, &client.CallRequest{Procedure: "com.matrix.stream_vanish"})
	if err != nil {
		t.Fatalf("DoStream: %v", err)
	}
	select {
	case <-started:
	case <-ctx.Done():
		t.Fatal("the callee was never invoked")
	}
	peer.Close(errors.New("test: callee vanishes"))
	_, err = s.Result(ctx)
	if perr := asError(t, err); perr.URI != protocol.ErrCanceled {
		t.Errorf("Result: URI = %s, want %s", perr.URI, protocol.ErrCanceled)
	}
	if err := s.Send(ctx, protocol.List{1}, nil); !errors.Is(err, client.ErrStreamDone) {
		t.Errorf("Send after the callee vanished = %v, want ErrStreamDone", err)
	}
}
