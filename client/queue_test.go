package client

import (
	"testing"

	"github.com/wampkit/wampkit/protocol"
)

func TestEventQueueOrder(t *testing.T) {
	tests := []struct {
		name string
		max  int
		push int // events pushed before popping
		want int // events queued
	}{
		{name: "unbounded, several segments", max: 0, push: 5*segmentSize + 3, want: 5*segmentSize + 3},
		{name: "bounded below a segment", max: 10, push: 50, want: 10},
		{name: "bounded across segments", max: 2*segmentSize + 1, push: 4 * segmentSize, want: 2*segmentSize + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var q eventQueue
			q.init()
			evs := make([]Event, tt.push)
			// Twice, so that the second round runs on reused segments.
			for round := range 2 {
				queued := 0
				for i := range evs {
					evs[i].Publication = 0
					if q.push(&evs[i], tt.max) {
						queued++
					}
				}
				if queued != tt.want {
					t.Fatalf("round %d: %d events queued, want %d", round, queued, tt.want)
				}
				for i := range tt.want {
					ev := q.pop()
					if ev != &evs[i] {
						t.Fatalf("round %d: pop %d = event %p, want %p", round, i, ev, &evs[i])
					}
				}
				if ev := q.pop(); ev != nil {
					t.Fatalf("round %d: pop from an empty queue = %p, want nil", round, ev)
				}
			}
		})
	}
}

// TestEventQueueConcurrent runs a producer and a parking consumer at once
// (meant for -race): every event arrives, in order, and the consumer never
// sleeps through one.
func TestEventQueueConcurrent(t *testing.T) {
	for _, max := range []int{0, 3, segmentSize + 1} {
		var q eventQueue
		q.init()
		const n = 20000
		evs := make([]Event, n)
		for i := range evs {
			evs[i].Publication = protocol.ID(i)
		}
		done := make(chan int)
		go func() {
			last, got := -1, 0
			for got < n {
				ev := q.pop()
				if ev == nil {
					if q.park() {
						<-q.wake
					}
					continue
				}
				if int(ev.Publication) <= last {
					t.Errorf("max %d: event %d after %d", max, ev.Publication, last)
				}
				last = int(ev.Publication)
				got++
				if last == n-1 {
					break
				}
			}
			done <- got
		}()
		dropped := 0
		for i := range evs {
			if !q.push(&evs[i], max) {
				dropped++
				if i == n-1 { // the last event ends the consumer: retry it
					for !q.push(&evs[i], max) {
					}
					dropped--
				}
			}
		}
		if got := <-done; got+dropped != n {
			t.Errorf("max %d: %d events received + %d dropped, want %d", max, got, dropped, n)
		}
		if max == 0 && dropped != 0 {
			t.Errorf("unbounded queue dropped %d events", dropped)
		}
	}
}

// TestEventQueueAllocs pins that a queue that does not grow reuses its
// segments: pushing and popping allocate nothing.
func TestEventQueueAllocs(t *testing.T) {
	var q eventQueue
	q.init()
	ev := new(Event)
	step := func() {
		for range 3 {
			q.push(ev, 0)
		}
		for range 3 {
			q.pop()
		}
	}
	for range 4 * segmentSize {
		step() // warm up: the second segment
	}
	if allocs := testing.AllocsPerRun(1000, step); allocs != 0 {
		t.Errorf("push+pop allocates %.1f times, want 0", allocs)
	}
}
