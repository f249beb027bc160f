package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/transport"
)

// TestPublishQueueFull checks the flow-control contract of Publish: when
// the transport's outbound queue is full, Publish returns an error wrapping
// transport.ErrQueueFull instead of blocking, nothing is sent and no
// request id is used up, the session stays up, and a retry succeeds once
// the queue has room.
func TestPublishQueueFull(t *testing.T) {
	const queue = 4
	cp, rp := transport.LocalPair(queue)
	defer rp.Close(nil)
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	joined := async(func() (*client.Client, error) {
		return client.Join(ctx, cp, client.Config{Realm: "realm1", Logger: quietLogger(), CloseTimeout: -1})
	})
	if m, err := rp.Recv(); err != nil {
		t.Fatalf("Recv HELLO: %v", err)
	} else if _, ok := m.(*protocol.Hello); !ok {
		t.Fatalf("first message %#v, want HELLO", m)
	}
	if err := rp.Send(ctx, &protocol.Welcome{Session: 1, Details: routerWelcome(false)}); err != nil {
		t.Fatal(err)
	}
	c, err := await(t, joined)
	if err != nil {
		t.Fatalf("Join: %v", err)
	}
	defer c.Close()

	// Nobody reads the router's end: the queue fills up.
	for i := range queue {
		if err := c.Publish(ctx, "com.t", i); err != nil {
			t.Fatalf("Publish %d: %v", i, err)
		}
	}
	for range 3 {
		if err := c.Publish(ctx, "com.t", "full"); !errors.Is(err, transport.ErrQueueFull) {
			t.Fatalf("Publish on a full queue = %v, want an error wrapping transport.ErrQueueFull", err)
		}
		if _, err := c.DoPublish(ctx, &client.PublishRequest{Topic: "com.t"}); !errors.Is(err, transport.ErrQueueFull) {
			t.Fatalf("DoPublish on a full queue = %v, want an error wrapping transport.ErrQueueFull", err)
		}
	}
	if err := c.Err(); err != nil {
		t.Fatalf("session ended after ErrQueueFull: %v", err)
	}
	recv := func() protocol.Message {
		t.Helper()
		m, err := rp.Recv()
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		return m
	}
	// One slot frees up: the retry goes out with the next unused id.
	want := []protocol.Message{&protocol.Publish{Request: 1, Options: protocol.Dict{}, Topic: "com.t", Args: protocol.List{0}}}
	got := []protocol.Message{recv()}
	if err := c.Publish(ctx, "com.t", "retry"); err != nil {
		t.Fatalf("Publish after the queue drained: %v", err)
	}
	for i := 1; i < queue; i++ {
		want = append(want, &protocol.Publish{Request: protocol.ID(i + 1), Options: protocol.Dict{}, Topic: "com.t", Args: protocol.List{i}})
		got = append(got, recv())
	}
	want = append(want, &protocol.Publish{Request: queue + 1, Options: protocol.Dict{}, Topic: "com.t", Args: protocol.List{"retry"}})
	got = append(got, recv())
	if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
		t.Errorf("published messages mismatch (-want +got):\n%s", diff)
	}
}

// TestAnswerWaitsForRoom checks that a callee's answer is not dropped when
// the transport's outbound queue is full as the handler returns: the YIELD
// waits for room (bounded by ResponseTimeout) and goes out in order once
// the router reads again.
func TestAnswerWaitsForRoom(t *testing.T) {
	const queue = 4
	cp, rp := transport.LocalPair(queue)
	defer rp.Close(nil)
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	joined := async(func() (*client.Client, error) {
		return client.Join(ctx, cp, client.Config{Realm: "realm1", Logger: quietLogger(), CloseTimeout: -1})
	})
	recv := func() protocol.Message {
		t.Helper()
		got := async(func() (protocol.Message, error) { return rp.Recv() })
		m, err := await(t, got)
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		return m
	}
	recv() // HELLO
	if err := rp.Send(ctx, &protocol.Welcome{Session: 1, Details: routerWelcome(false)}); err != nil {
		t.Fatal(err)
	}
	c, err := await(t, joined)
	if err != nil {
		t.Fatalf("Join: %v", err)
	}
	defer c.Close()

	release := make(chan struct{})
	registered := async(func() (*client.Registration, error) {
		return c.Register(ctx, "com.p", func(context.Context, *client.Invocation) (*client.Result, error) {
			<-release
			return &client.Result{Args: protocol.List{"done"}}, nil
		}, nil)
	})
	reg := recv().(*protocol.Register)
	rp.Send(ctx, &protocol.Registered{Request: reg.Request, Registration: 7})
	if _, err := await(t, registered); err != nil {
		t.Fatalf("Register: %v", err)
	}
	rp.Send(ctx, &protocol.Invocation{Request: 1, Registration: 7, Details: protocol.Dict{}})
	// Fill the queue towards the router while the handler runs, then let
	// the handler answer.
	for i := 0; ; i++ {
		if err := c.Publish(ctx, "com.t", i); errors.Is(err, transport.ErrQueueFull) {
			break
		} else if err != nil || i > 1000 {
			t.Fatalf("Publish %d: %v", i, err)
		}
	}
	close(release)
	// Give the handler time to answer while the queue is still full (the
	// test passes however long this is; without the wait for room the
	// answer would be dropped here).
	time.Sleep(50 * time.Millisecond)
	for {
		m := recv()
		if y, ok := m.(*protocol.Yield); ok {
			if y.Request != 1 || len(y.Args) != 1 || y.Args[0] != "done" {
				t.Fatalf("got YIELD %+v", y)
			}
			return
		}
		if _, ok := m.(*protocol.Publish); !ok {
			t.Fatalf("got %v, want PUBLISH or YIELD", m.Type())
		}
	}
}

// waitObserver wraps a peer and tells when a SendWait starts waiting.
type waitObserver struct {
	transport.Peer
	waiting chan struct{} // gets a token when SendWait begins
}

func (p *waitObserver) SendWait(ctx context.Context, m protocol.Message) error {
	select {
	case p.waiting <- struct{}{}:
	default:
	}
	return p.Peer.(transport.Waiter).SendWait(ctx, m)
}

// TestAnswerWaitDoesNotStallClient checks that a callee's answer waiting
// for room in a full outbound queue holds up nothing else: the reader
// still delivers a RESULT, and other methods still return at once.
func TestAnswerWaitDoesNotStallClient(t *testing.T) {
	const queue = 4
	cp, rp := transport.LocalPair(queue)
	defer rp.Close(nil)
	obs := &waitObserver{Peer: cp, waiting: make(chan struct{}, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	joined := async(func() (*client.Client, error) {
		return client.Join(ctx, obs, client.Config{Realm: "realm1", Logger: quietLogger(), CloseTimeout: -1,
			ResponseTimeout: time.Hour}) // the answer would wait this long for room
	})
	recv := func() protocol.Message {
		t.Helper()
		m, err := await(t, async(func() (protocol.Message, error) { return rp.Recv() }))
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		return m
	}
	recv() // HELLO
	if err := rp.Send(ctx, &protocol.Welcome{Session: 1, Details: routerWelcome(false)}); err != nil {
		t.Fatal(err)
	}
	c, err := await(t, joined)
	if err != nil {
		t.Fatalf("Join: %v", err)
	}
	defer c.Close()

	release := make(chan struct{})
	registered := async(func() (*client.Registration, error) {
		return c.Register(ctx, "com.p", func(context.Context, *client.Invocation) (*client.Result, error) {
			<-release
			return &client.Result{Args: protocol.List{"done"}}, nil
		}, nil)
	})
	reg := recv().(*protocol.Register)
	rp.Send(ctx, &protocol.Registered{Request: reg.Request, Registration: 7})
	if _, err := await(t, registered); err != nil {
		t.Fatalf("Register: %v", err)
	}
	called := async(func() (*client.Result, error) { return c.Call(ctx, "com.other") })
	call := recv().(*protocol.Call)
	rp.Send(ctx, &protocol.Invocation{Request: 1, Registration: 7, Details: protocol.Dict{}})
	for i := 0; ; i++ {
		if err := c.Publish(ctx, "com.t", i); errors.Is(err, transport.ErrQueueFull) {
			break
		} else if err != nil || i > 1000 {
			t.Fatalf("Publish %d: %v", i, err)
		}
	}
	close(release)
	wait(t, obs.waiting) // the answer waits for room

	// The reader delivers the RESULT of the call...
	rp.Send(ctx, &protocol.Result{Request: call.Request, Details: protocol.Dict{}, Args: protocol.List{"result"}})
	if res, err := await(t, called); err != nil || res.Args[0] != "result" {
		t.Errorf("Call while an answer waits = %v, %v; want [result]", res, err)
	}
	// ...and other methods return at once.
	published := async(func() (struct{}, error) { return struct{}{}, c.Publish(ctx, "com.t", "more") })
	if _, err := await(t, published); !errors.Is(err, transport.ErrQueueFull) {
		t.Errorf("Publish while an answer waits = %v, want ErrQueueFull", err)
	}
	// The answer is sent once there is room.
	for {
		m := recv()
		if y, ok := m.(*protocol.Yield); ok {
			if y.Request != 1 || len(y.Args) != 1 || y.Args[0] != "done" {
				t.Fatalf("got YIELD %+v", y)
			}
			return
		}
		if _, ok := m.(*protocol.Publish); !ok {
			t.Fatalf("got %v, want PUBLISH or YIELD", m.Type())
		}
	}
}

// TestAnswerNoRoomEndsSession checks that an answer that finds no room
// within Config.ResponseTimeout ends the session, so that the router
// fails the call instead of leaving the caller waiting.
func TestAnswerNoRoomEndsSession(t *testing.T) {
	cp, rp := transport.LocalPair(2)
	defer rp.Close(nil)
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	joined := async(func() (*client.Client, error) {
		return client.Join(ctx, cp, client.Config{Realm: "realm1", Logger: quietLogger(), CloseTimeout: -1,
			ResponseTimeout: 10 * time.Millisecond})
	})
	recv := func() protocol.Message {
		t.Helper()
		m, err := await(t, async(func() (protocol.Message, error) { return rp.Recv() }))
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		return m
	}
	recv() // HELLO
	rp.Send(ctx, &protocol.Welcome{Session: 1, Details: routerWelcome(false)})
	c, err := await(t, joined)
	if err != nil {
		t.Fatalf("Join: %v", err)
	}
	defer c.Close()
	registered := async(func() (*client.Registration, error) {
		return c.Register(ctx, "com.p", func(context.Context, *client.Invocation) (*client.Result, error) { return nil, nil }, nil)
	})
	reg := recv().(*protocol.Register)
	rp.Send(ctx, &protocol.Registered{Request: reg.Request, Registration: 7})
	if _, err := await(t, registered); err != nil {
		t.Fatalf("Register: %v", err)
	}
	for i := 0; ; i++ {
		if err := c.Publish(ctx, "com.t", i); errors.Is(err, transport.ErrQueueFull) {
			break
		} else if err != nil || i > 1000 {
			t.Fatalf("Publish %d: %v", i, err)
		}
	}
	rp.Send(ctx, &protocol.Invocation{Request: 1, Registration: 7, Details: protocol.Dict{}})
	wait(t, c.Done())
	if err := c.Err(); !errors.Is(err, transport.ErrQueueFull) {
		t.Errorf("Err() = %v, want the session ended for want of room (ErrQueueFull)", err)
	}
}
