package client_test

import (
	"context"
	"errors"
	"runtime"
	"testing"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/transport"
)

// benchClient joins a fakeRouter over the local link.
func benchClient(b *testing.B) *client.Client {
	b.Helper()
	peer, wait := startFakeRouter()
	c, err := client.Join(context.Background(), peer, client.Config{Realm: "realm1", Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close(); wait() })
	return c
}

// BenchmarkCall measures a call round trip through the client over the
// in-process link. "echo": the fake router answers CALL with RESULT (the
// caller's path only). "callee": the call goes to a handler registered by
// the same client (caller and callee paths: CALL, INVOCATION, YIELD,
// RESULT). The fake router's own allocations are included.
func BenchmarkCall(b *testing.B) {
	ctx := context.Background()
	b.Run("echo", func(b *testing.B) {
		c := benchClient(b)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Call(ctx, "test.echo", 1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("echo/parallel", func(b *testing.B) {
		c := benchClient(b)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.Call(ctx, "test.echo", 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("callee", func(b *testing.B) {
		c := benchClient(b)
		_, err := c.Register(ctx, "test.add", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
			return &client.Result{Args: inv.Args}, nil
		}, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Call(ctx, "test.add", 1); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPublish measures an unacknowledged publish (queued only). When
// the link's queue is full the publisher yields and retries, as a caller
// of Publish would.
func BenchmarkPublish(b *testing.B) {
	c := benchClient(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		for {
			err := c.Publish(ctx, "test.topic", 1)
			if err == nil {
				break
			}
			if !errors.Is(err, transport.ErrQueueFull) {
				b.Fatal(err)
			}
			runtime.Gosched()
		}
	}
}

// TestCallAllocs pins the caller's allocations for a plain call: the CALL
// message and the Result, allocated together (plus the fake router's
// RESULT and its Details). The args slice is the caller's.
func TestCallAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation count")
	}
	peer, wait := startFakeRouter()
	c, err := client.Join(context.Background(), peer, client.Config{Realm: "realm1", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer wait()
	defer c.Close()
	ctx := context.Background()
	args := protocol.List{1}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := c.Call(ctx, "test.echo", args...); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 3 {
		t.Errorf("Call allocates %.1f times per round trip, want <= 3", allocs)
	}
}

// TestCalleeAllocs pins the allocations of a call to a handler of the
// same client: on the client's side the CALL with its Result and the
// invocation (Invocation, handler context and YIELD in one allocation);
// the handler's Result; the fake router's INVOCATION, RESULT and their
// Details.
func TestCalleeAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation count")
	}
	peer, wait := startFakeRouter()
	c, err := client.Join(context.Background(), peer, client.Config{Realm: "realm1", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer wait()
	defer c.Close()
	ctx := context.Background()
	_, err = c.Register(ctx, "test.add", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Args: inv.Args}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	args := protocol.List{1}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := c.Call(ctx, "test.add", args...); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 7 {
		t.Errorf("Call to a handler allocates %.1f times per round trip, want <= 7", allocs)
	}
}

// BenchmarkEvent measures the client's side of event delivery over the
// local link: the reader dispatching EVENT to a subscription's queue and
// the subscription goroutine calling the handler.
func BenchmarkEvent(b *testing.B) {
	cp, rp := transport.LocalPair(1024)
	w := newWire(b, rp)
	defer func() {
		rp.Close(nil)
		for range w.in {
		}
	}()
	ctx := context.Background()
	joined := async(func() (*client.Client, error) {
		return client.Join(ctx, cp, client.Config{Realm: "realm1", Logger: quietLogger()})
	})
	w.recv() // HELLO
	w.send(&protocol.Welcome{Session: 1, Details: routerWelcome(false)})
	c, err := await(b, joined)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { rp.Close(nil); c.Close() }()
	got := make(chan struct{}, 1)
	var n int
	subscribed := async(func() (*client.Subscription, error) {
		return c.Subscribe(ctx, "com.t", func(*client.Event) {
			n++
			if n == b.N {
				got <- struct{}{}
			}
		}, nil)
	})
	w.recv() // SUBSCRIBE
	w.send(&protocol.Subscribed{Request: 1, Subscription: 1})
	if _, err := await(b, subscribed); err != nil {
		b.Fatal(err)
	}
	ev := &protocol.Event{Subscription: 1, Publication: 1, Details: protocol.Dict{}, Args: protocol.List{1}}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for {
			err := rp.Send(ctx, ev)
			if err == nil {
				break
			}
			if !errors.Is(err, transport.ErrQueueFull) {
				b.Fatal(err)
			}
			runtime.Gosched()
		}
	}
	wait(b, got)
}

// TestEventAllocs pins the client's side of event delivery at less than
// one allocation per event (Events are allocated in blocks): the reader
// queues the EVENT and the subscription's goroutine runs the handler.
func TestEventAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation count")
	}
	c, w := join(t, routerWelcome(false), client.Config{})
	got := make(chan struct{}, 1)
	subscribe(t, c, w, 1, "com.t", 1, func(*client.Event) { got <- struct{}{} }, nil)
	ev := &protocol.Event{Subscription: 1, Publication: 1, Details: protocol.Dict{}, Args: protocol.List{1}}
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		if err := w.peer.Send(ctx, ev); err != nil {
			t.Fatal(err)
		}
		<-got
	})
	if allocs != 0 {
		t.Errorf("event delivery allocates %.1f times per event, want 0", allocs)
	}
}
