package router_test

import (
	"testing"
	"time"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// TestBacklogKeepsOrder has several publishers publish concurrently to one
// subscriber whose tiny queue is full most of the time, so that nearly
// every event goes through the backlog while the subscriber reads in
// fits and starts. Each publisher's events must arrive complete and in
// the order published (spec basic "Ordering Guarantees"), and the
// subscriber must stay joined.
func TestBacklogKeepsOrder(t *testing.T) {
	const (
		queue      = 2
		publishers = 4
		n          = 2000 // events per publisher
	)
	r := newRouter(t, router.Config{LocalQueueSize: queue, MaxBacklog: publishers * n, SlowConsumerWait: time.Minute})
	// A raw peer, read directly: its transport queue is what fills.
	sub, _ := stalledSubscriber(t, r, "com.example.order")

	done := make(chan struct{})
	for k := range publishers {
		pub := join(t, r)
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range n {
				// Unacknowledged: nothing paces the publisher but its
				// own queue towards the router.
				pub.send(&protocol.Publish{Request: pub.next(), Topic: "com.example.order", Args: protocol.List{k, i}})
			}
		}()
	}
	next := make([]int64, publishers)
	for got := 0; got < publishers*n; got++ {
		if got%97 == 0 {
			time.Sleep(time.Millisecond) // fall behind now and then
		}
		ev, ok := recvRaw(t, sub).(*protocol.Event)
		if !ok || len(ev.Args) != 2 {
			t.Fatalf("message %d: got %v, want EVENT", got, ev)
		}
		k, _ := protocol.ToInt64(ev.Args[0])
		i, _ := protocol.ToInt64(ev.Args[1])
		if i != next[k] {
			t.Fatalf("publisher %d: got event %d, want %d", k, i, next[k])
		}
		next[k]++
	}
	for range publishers {
		<-done
	}
}
