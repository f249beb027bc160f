package client

import (
	"context"
	"strconv"
	"testing"

	"github.com/wampkit/wampkit/protocol"
)

// TestPendingOrder: the replies of a request come out of next in the order
// they were queued, however queueing and taking interleave, and the
// queue's array is kept for the next reply once it is empty.
func TestPendingOrder(t *testing.T) {
	c := &Client{}
	p := newPending(protocol.TypeCall)
	ctx := context.Background()
	in, out := 0, 0
	for round := range 50 {
		for range round % 7 {
			in++
			p.msgs = append(p.msgs, &protocol.Result{Request: protocol.ID(in)})
		}
		for range round % 5 {
			if out == in {
				break
			}
			m, _, err := c.next(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			out++
			if got := m.(*protocol.Result).Request; got != protocol.ID(out) {
				t.Fatalf("reply %d came out as %d", out, got)
			}
		}
	}
	for out < in {
		m, _, _ := c.next(ctx, p)
		out++
		if got := m.(*protocol.Result).Request; got != protocol.ID(out) {
			t.Fatalf("reply %d came out as %d", out, got)
		}
	}
	p.msgs = append(p.msgs, &protocol.Result{})
	c.next(ctx, p)
	if cap(p.msgs) == 0 {
		t.Error("the emptied queue lost its array")
	}
}

// BenchmarkPendingDrain takes n queued replies of one request (the
// progressive results a slow OnProgress has not taken yet), per reply.
func BenchmarkPendingDrain(b *testing.B) {
	for _, n := range []int{10, 10000} {
		b.Run("queued="+strconv.Itoa(n), func(b *testing.B) {
			c := &Client{}
			p := newPending(protocol.TypeCall)
			ctx := context.Background()
			m := &protocol.Result{}
			b.ReportAllocs()
			for b.Loop() {
				for range n {
					p.msgs = append(p.msgs, m)
				}
				for range n {
					c.next(ctx, p)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/reply")
		})
	}
}
