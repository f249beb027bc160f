package transport_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
	"github.com/wampkit/wampkit/transport"
)

func TestLocalSameValue(t *testing.T) {
	a, b := transport.LocalPair(1)
	defer a.Close(nil)
	want := &protocol.Call{Request: 1, Procedure: "com.example.p"}
	if err := a.Send(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	got, err := b.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if got != protocol.Message(want) {
		t.Errorf("Recv() = %p, want the sent value %p", got, want)
	}
	if err := b.Send(context.Background(), serialize.NewShared(want)); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.Recv(); got != protocol.Message(want) {
		t.Errorf("Recv() of a Shared = %T %p, want its inner message %p", got, got, want)
	}
}

func TestLocalQueueFull(t *testing.T) {
	a, b := transport.LocalPair(2)
	defer b.Close(nil)
	m := &protocol.Published{Request: 1, Publication: 1}
	for i := range 2 {
		if err := a.Send(context.Background(), m); err != nil {
			t.Fatalf("Send(%d) error = %v", i, err)
		}
	}
	if err := a.Send(context.Background(), m); !errors.Is(err, transport.ErrQueueFull) {
		t.Errorf("Send on a full queue = %v, want ErrQueueFull", err)
	}
}

func TestLocalCloseReason(t *testing.T) {
	tests := []struct {
		name   string
		reason error
	}{
		{"nil", nil},
		{"reason", errors.New("router shutting down")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := transport.LocalPair(0)
			if err := a.Send(context.Background(), &protocol.Published{Request: 1, Publication: 1}); err != nil {
				t.Fatal(err)
			}
			if err := a.Close(tt.reason); err != nil {
				t.Fatal(err)
			}
			if err := a.Close(errors.New("second")); err != nil {
				t.Errorf("second Close() = %v", err)
			}
			if _, err := b.Recv(); err != nil {
				t.Errorf("Recv() of the queued message = %v, want it delivered", err)
			}
			_, err := b.Recv()
			if !errors.Is(err, transport.ErrClosed) {
				t.Errorf("Recv() after close = %v, want ErrClosed", err)
			}
			if tt.reason != nil && !errors.Is(err, tt.reason) {
				t.Errorf("Recv() after close = %v, want it to wrap %v", err, tt.reason)
			}
			if err := b.Send(context.Background(), &protocol.Published{}); !errors.Is(err, transport.ErrClosed) {
				t.Errorf("Send() on the other end after close = %v, want ErrClosed", err)
			}
		})
	}
}

// TestLocalAllocs pins the promise that a local round trip allocates
// nothing in the transport.
func TestLocalAllocs(t *testing.T) {
	a, b := transport.LocalPair(1)
	defer a.Close(nil)
	m := &protocol.Call{Request: 1, Procedure: "com.example.p"}
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		_ = a.Send(ctx, m)
		got, _ := b.Recv()
		_ = b.Send(ctx, got)
		_, _ = a.Recv()
	})
	if allocs != 0 {
		t.Errorf("local round trip allocates %v times, want 0", allocs)
	}
}

// ExampleLocalPair connects two in-process ends and passes a CALL across.
func ExampleLocalPair() {
	routerEnd, clientEnd := transport.LocalPair(0)
	defer clientEnd.Close(nil)

	ctx := context.Background()
	_ = clientEnd.Send(ctx, &protocol.Call{Request: 1, Procedure: "com.example.add", Args: protocol.List{2, 3}})
	m, _ := routerEnd.Recv()
	call := m.(*protocol.Call)
	fmt.Println(call.Procedure, call.Args)

	_ = routerEnd.Close(errors.New("bye"))
	_, err := clientEnd.Recv()
	fmt.Println(err)
	fmt.Println(routerEnd.(transport.Detailer).TransportDetails())
	// Output:
	// com.example.add [2 3]
	// transport: peer closed: bye
	// map[type:local]
}

// TestLocalCloseWakesRecv: a Recv blocked on an empty queue returns when
// either end closes, also when the queue is full at the moment of the
// close.
func TestLocalCloseWakesRecv(t *testing.T) {
	tests := []struct {
		name      string
		queued    int // messages queued to the receiver before the close
		closeSelf bool
	}{
		{"other end, empty", 0, false},
		{"own end, empty", 0, true},
		{"other end, full", 4, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := transport.LocalPair(4)
			for range tt.queued {
				if err := a.Send(context.Background(), &protocol.Published{Request: 1, Publication: 1}); err != nil {
					t.Fatal(err)
				}
			}
			got := make(chan error, 1)
			go func() {
				for {
					if _, err := b.Recv(); err != nil {
						got <- err
						return
					}
				}
			}()
			closer := a
			if tt.closeSelf {
				closer = b
			}
			_ = closer.Close(errors.New("done"))
			select {
			case err := <-got:
				if !errors.Is(err, transport.ErrClosed) {
					t.Errorf("Recv() = %v, want ErrClosed", err)
				}
				if _, err := b.Recv(); !errors.Is(err, transport.ErrClosed) {
					t.Errorf("second Recv() = %v, want ErrClosed", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Recv() did not return after Close")
			}
		})
	}
}

func TestSendNil(t *testing.T) {
	a, b := transport.LocalPair(1)
	defer b.Close(nil)
	if err := a.Send(context.Background(), nil); err == nil {
		t.Error("Send(nil) = nil, want an error")
	}
}

// TestLocalSendThenCloseNeverLost races a receiver against a sender that
// sends one message and closes at once: the message must always arrive
// before the close is reported.
func TestLocalSendThenCloseNeverLost(t *testing.T) {
	for i := 0; i < 20000; i++ {
		a, b := transport.LocalPair(4)
		got := make(chan error, 1)
		go func() {
			_, err := b.Recv()
			got <- err
		}()
		if err := a.Send(context.Background(), &protocol.Goodbye{Reason: protocol.CloseGoodbyeAndOut}); err != nil {
			t.Fatal(err)
		}
		a.Close(nil)
		if err := <-got; err != nil {
			t.Fatalf("iteration %d: Recv = %v, want the message sent before Close", i, err)
		}
	}
}

func TestLocalSendWait(t *testing.T) {
	a, b := transport.LocalPair(1)
	defer a.Close(nil)
	w := a.(transport.Waiter)
	msg := &protocol.Goodbye{Reason: protocol.CloseGoodbyeAndOut}
	if err := a.Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	// Full: SendWait gives up when its context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := w.SendWait(ctx, msg); !errors.Is(err, transport.ErrQueueFull) {
		t.Fatalf("SendWait on a full queue = %v, want ErrQueueFull", err)
	}
	// Room made while it waits: it succeeds.
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- w.SendWait(ctx, msg)
	}()
	if _, err := b.Recv(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("SendWait after room was made = %v", err)
	}
	// Closed while it waits: ErrClosed.
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- w.SendWait(ctx, msg)
	}()
	b.Close(nil)
	if err := <-done; !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("SendWait on a closed link = %v, want ErrClosed", err)
	}
}
