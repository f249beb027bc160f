package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
)

func TestCallStreamWire(t *testing.T) {
	c, w := join(t, routerWelcome(true), client.Config{})
	ctx := context.Background()
	var progress []any
	s, err := c.DoStream(ctx, &client.CallRequest{
		Procedure:  "com.up",
		Args:       protocol.List{0},
		OnProgress: func(r *client.Result) error { progress = append(progress, r.Args[0]); return nil },
	})
	if err != nil {
		t.Fatalf("DoStream: %v", err)
	}
	w.expect(&protocol.Call{Request: 1, Options: protocol.Dict{"progress": true, "receive_progress": true}, Procedure: "com.up", Args: protocol.List{0}})
	ch := async(func() (*client.Result, error) { return s.Result(ctx) })
	if err := s.Send(ctx, protocol.List{1}, nil); err != nil {
		t.Fatalf("Send: %v", err)
	}
	w.expect(&protocol.Call{Request: 1, Options: protocol.Dict{"progress": true}, Procedure: "com.up", Args: protocol.List{1}})
	// Progressive results arrive while the caller still streams.
	w.send(&protocol.Result{Request: 1, Details: protocol.Dict{"progress": true}, Args: protocol.List{"r1"}})
	if err := s.Send(ctx, nil, protocol.Dict{"k": 2}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	w.expect(&protocol.Call{Request: 1, Options: protocol.Dict{"progress": true}, Procedure: "com.up", Args: protocol.List{}, Kwargs: protocol.Dict{"k": 2}})
	// Another call in between takes the next request ID.
	call := async(func() (*client.Result, error) { return c.Call(ctx, "com.other") })
	w.expect(&protocol.Call{Request: 2, Options: protocol.Dict{}, Procedure: "com.other"})
	w.send(&protocol.Result{Request: 2, Details: protocol.Dict{}})
	if _, err := await(t, call); err != nil {
		t.Fatalf("Call: %v", err)
	}
	if err := s.CloseSend(ctx, protocol.List{3}, nil); err != nil {
		t.Fatalf("CloseSend: %v", err)
	}
	w.expect(&protocol.Call{Request: 1, Options: protocol.Dict{}, Procedure: "com.up", Args: protocol.List{3}})
	if err := s.Send(ctx, protocol.List{4}, nil); !errors.Is(err, client.ErrStreamDone) {
		t.Errorf("Send after CloseSend = %v, want ErrStreamDone", err)
	}
	w.send(&protocol.Result{Request: 1, Details: protocol.Dict{}, Args: protocol.List{"done"}})
	r, err := await(t, ch)
	if err != nil || r.Args[0] != "done" {
		t.Fatalf("Result = %v, %v", r, err)
	}
	if diff := cmp.Diff([]any{"r1"}, progress); diff != "" {
		t.Errorf("progress mismatch (-want +got):\n%s", diff)
	}
}

func TestDoStreamNotSupported(t *testing.T) {
	c, _ := join(t, protocol.Dict{"roles": map[string]any{"dealer": map[string]any{}}}, client.Config{})
	if _, err := c.DoStream(context.Background(), &client.CallRequest{Procedure: "com.up"}); !errors.Is(err, client.ErrNotSupported) {
		t.Errorf("DoStream = %v, want ErrNotSupported", err)
	}
}

func TestCallStreamEndsEarly(t *testing.T) {
	c, w := join(t, routerWelcome(true), client.Config{})
	ctx := context.Background()
	s, err := c.DoStream(ctx, &client.CallRequest{Procedure: "com.up"})
	if err != nil {
		t.Fatal(err)
	}
	w.recv()
	w.send(&protocol.Error{RequestType: protocol.TypeCall, Request: 1, Details: protocol.Dict{}, URI: "com.app.full"})
	_, err = s.Result(ctx)
	var werr *protocol.Error
	if !errors.As(err, &werr) || werr.URI != "com.app.full" {
		t.Fatalf("Result = %v, want com.app.full", err)
	}
	if err := s.Send(ctx, protocol.List{1}, nil); !errors.Is(err, client.ErrStreamDone) {
		t.Errorf("Send after the call ended = %v, want ErrStreamDone", err)
	}
}

func TestCallStreamCancel(t *testing.T) {
	c, w := join(t, routerWelcome(true), client.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	s, err := c.DoStream(ctx, &client.CallRequest{Procedure: "com.up"})
	if err != nil {
		t.Fatal(err)
	}
	w.recv()
	// Ending DoStream's context cancels the call even while nobody waits
	// in Result.
	cancel()
	w.expect(&protocol.Cancel{Request: 1, Options: protocol.Dict{"mode": "killnowait"}})
	if _, err := s.Result(context.Background()); !errors.Is(err, context.Canceled) {
		t.Errorf("Result = %v, want context.Canceled", err)
	}
	if err := s.Send(context.Background(), nil, nil); !errors.Is(err, client.ErrStreamDone) {
		t.Errorf("Send = %v, want ErrStreamDone", err)
	}
	// Result's own context cancels too.
	s, err = c.DoStream(context.Background(), &client.CallRequest{Procedure: "com.up"})
	if err != nil {
		t.Fatal(err)
	}
	w.recv()
	rctx, rcancel := context.WithCancel(context.Background())
	rcancel()
	if _, err := s.Result(rctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Result = %v, want context.Canceled", err)
	}
	w.expect(&protocol.Cancel{Request: 2, Options: protocol.Dict{"mode": "killnowait"}})
}

// collect is a handler that joins every chunk's first argument.
func collect(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
	got := fmt.Sprint(inv.Args[0])
	for {
		ch, err := inv.Recv(ctx)
		if err == io.EOF {
			return &client.Result{Args: protocol.List{got}}, nil
		}
		if err != nil {
			return nil, err
		}
		got += fmt.Sprint(ch.Args[0])
	}
}

func TestInvocationChunks(t *testing.T) {
	c, w := registered(t, collect)
	progress := protocol.Dict{"progress": true}
	w.send(&protocol.Invocation{Request: 1, Registration: 5, Details: progress, Args: protocol.List{"a"}})
	w.send(&protocol.Invocation{Request: 1, Registration: 5, Details: progress, Args: protocol.List{"b"}})
	w.send(&protocol.Invocation{Request: 1, Registration: 5, Details: protocol.Dict{}, Args: protocol.List{"c"}})
	w.expect(&protocol.Yield{Request: 1, Options: protocol.Dict{}, Args: protocol.List{"abc"}})
	// A late chunk of the finished invocation is dropped.
	w.send(&protocol.Invocation{Request: 1, Registration: 5, Details: progress, Args: protocol.List{"late"}})
	// A plain invocation: Recv returns io.EOF at once.
	w.send(&protocol.Invocation{Request: 2, Registration: 5, Details: protocol.Dict{}, Args: protocol.List{"x"}})
	w.expect(&protocol.Yield{Request: 2, Options: protocol.Dict{}, Args: protocol.List{"x"}})
	if err := c.Err(); err != nil {
		t.Errorf("session ended: %v", err)
	}
}

func TestInvocationChunkAfterFinal(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	c, w := registered(t, func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, nil
	})
	w.send(&protocol.Invocation{Request: 1, Registration: 5, Details: protocol.Dict{"progress": true}})
	w.send(&protocol.Invocation{Request: 1, Registration: 5, Details: protocol.Dict{}})
	w.send(&protocol.Invocation{Request: 1, Registration: 5, Details: protocol.Dict{}})
	if a, ok := w.recv().(*protocol.Abort); !ok || a.Reason != protocol.ErrProtocolViolation {
		t.Fatalf("client sent %#v, want ABORT protocol_violation", a)
	}
	wait(t, c.Done())
}

func TestInvocationChunksInterrupted(t *testing.T) {
	_, w := registered(t, collect)
	w.send(&protocol.Invocation{Request: 1, Registration: 5, Details: protocol.Dict{"progress": true}, Args: protocol.List{"a"}})
	w.send(&protocol.Interrupt{Request: 1, Options: protocol.Dict{"mode": "killnowait"}})
	w.expect(&protocol.Error{RequestType: protocol.TypeInvocation, Request: 1, Details: protocol.Dict{}, URI: protocol.ErrCanceled})
}

func TestCallStreamSessionEnds(t *testing.T) {
	c, w := join(t, routerWelcome(true), client.Config{})
	ctx := context.Background()
	s, err := c.DoStream(ctx, &client.CallRequest{Procedure: "com.up"})
	if err != nil {
		t.Fatal(err)
	}
	w.recv()
	w.send(&protocol.Abort{Details: protocol.Dict{}, Reason: "wamp.close.system_shutdown"})
	if _, err := s.Result(ctx); !errors.Is(err, client.ErrClosed) {
		t.Errorf("Result = %v, want ErrClosed", err)
	}
	if err := s.Send(ctx, protocol.List{1}, nil); !errors.Is(err, client.ErrClosed) {
		t.Errorf("Send = %v, want ErrClosed", err)
	}
}
