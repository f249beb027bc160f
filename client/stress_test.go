package client_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/transport"
)

// TestCloseUnderLoad closes the session while many goroutines call,
// publish, subscribe and serve invocations. Every operation must end
// (with a result or an error wrapping ErrClosed / ErrQueueFull), Close
// must return, and goleak (TestMain) must find no goroutine left.
func TestCloseUnderLoad(t *testing.T) {
	peer, wait := startFakeRouter()
	defer wait()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	c, err := client.Join(ctx, peer, client.Config{Realm: "realm1", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Register(ctx, "com.echo", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Args: inv.Args}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ok := func(err error) bool {
		return err == nil || errors.Is(err, client.ErrClosed) || errors.Is(err, transport.ErrQueueFull)
	}
	no := false
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for j := 0; ; j++ {
				var err error
				switch (i + j) % 4 {
				case 0:
					_, err = c.Call(ctx, "com.echo", j)
				case 1:
					_, err = c.Call(ctx, "test.echo", j)
				case 2:
					_, err = c.DoPublish(ctx, &client.PublishRequest{Topic: "com.t", Args: protocol.List{j}, ExcludeMe: &no})
				case 3:
					var s *client.Subscription
					s, err = c.Subscribe(ctx, "com.t", func(*client.Event) {}, nil)
					if err == nil {
						err = c.Unsubscribe(ctx, s)
						if errors.Is(err, client.ErrNotActive) {
							err = nil // another goroutine's Unsubscribe of the shared id won
						}
					}
				}
				if !ok(err) {
					t.Errorf("operation failed: %v", err)
					return
				}
				if errors.Is(err, client.ErrClosed) {
					return
				}
			}
		}()
	}
	close(start)
	// Let the load run for a number of calls, then close.
	for range 200 {
		if _, err := c.Call(ctx, "test.echo"); !ok(err) {
			t.Fatalf("Call: %v", err)
		}
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	wg.Wait()
}
