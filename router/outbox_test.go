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

// TestNoGapAfterDrop checks that once a subscriber is dropped for a full
// backlog, nothing more is queued for it: what it reads before the close
// is an unbroken prefix of what was published, never a run with a hole in
// it (the events after the first refused one would otherwise slip in
// while the transport is being closed, as the client reads and makes
// room).
func TestNoGapAfterDrop(t *testing.T) {
	const queue, backlog = 4, 4
	for range 50 {
		r := newRouter(t, router.Config{LocalQueueSize: queue, MaxBacklog: backlog, SlowConsumerWait: time.Hour})
		pub := join(t, r)
		sub, _ := stalledSubscriber(t, r, "com.example.gap")
		done := make(chan []int64, 1)
		go func() {
			var got []int64
			for {
				m := recvRaw(t, sub)
				if m == nil {
					done <- got
					return
				}
				if ev, ok := m.(*protocol.Event); ok {
					v, _ := protocol.ToInt64(ev.Args[0])
					got = append(got, v)
				}
			}
		}()
		for i := range 64 {
			pub.publishAck("com.example.gap", nil, i)
		}
		sub.Close(nil)
		got := <-done
		for i, v := range got {
			if v != int64(i) {
				t.Fatalf("event %d carries %d: a gap before the close (%v)", i, v, got)
			}
		}
	}
}

// TestBacklogBytes checks that a session's backlog is bounded in bytes
// (Config.MaxBacklogBytes), not only in messages: a subscriber that stops
// reading is disconnected once the events held for it reach the byte
// budget, long before MaxBacklog events of 256 KiB (which would be 256
// MiB) are held, and what it read until then has no gap.
func TestBacklogBytes(t *testing.T) {
	const queue, event = 4, 256 << 10
	r := newRouter(t, router.Config{LocalQueueSize: queue, MaxBacklog: 1024, MaxBacklogBytes: 1 << 20,
		SlowConsumerWait: time.Hour})
	pub := join(t, r)
	sub, _ := stalledSubscriber(t, r, "com.example.big")
	payload := make([]byte, event)
	for i := range 40 {
		pub.publishAck("com.example.big", nil, i, payload)
	}
	// The stalled subscriber was dropped: it reads what was queued, in
	// order, then the close. The queue holds queue events, the backlog
	// at most 1 MiB of them.
	var got []int64
	for {
		m := recvRaw(t, sub)
		if m == nil {
			break
		}
		if ev, ok := m.(*protocol.Event); ok {
			v, _ := protocol.ToInt64(ev.Args[0])
			got = append(got, v)
		}
	}
	if n := len(got); n < queue || n > queue+(1<<20)/event+1 {
		t.Errorf("the dropped subscriber read %d events, want %d to %d", n, queue, queue+(1<<20)/event+1)
	}
	for i, v := range got {
		if v != int64(i) {
			t.Fatalf("event %d carries %d: a gap (%v)", i, v, got)
		}
	}
}
