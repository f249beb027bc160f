package cluster

import (
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// testSender returns a sender whose queues hold limit bytes, with no
// NATS connection (nothing publishes).
func testSender(limit int64) *sender {
	c := &Cluster{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s := &sender{x: &rpc{c: c}, wake: make(chan struct{}, 1)}
	s.limit.Store(limit)
	return s
}

// TestQueueKeepsRoomForEnds fills a node's queue with progressive results
// and calls: more of those are refused, but a message that ends a call (a
// final YIELD, an ERROR, a CANCEL) still finds room, up to a second bound
// as large, so that no caller is left waiting for an answer its node never
// sent; past that, an answer goes as ERROR ClusterUnavailable, which ends
// its call as well, and a CANCEL as it is.
func TestQueueKeepsRoomForEnds(t *testing.T) {
	progress := outFrame{held: protocol.TypeYield, yield: protocol.Yield{Request: 1, Options: protocol.Dict{"progress": true}, Args: protocol.List{"p"}}}
	// A call (a first chunk) of the same size.
	call := outFrame{held: protocol.TypeCall, call: protocol.Call{Request: 2, Options: protocol.Dict{"progress": true}, Procedure: "p", Args: protocol.List{"c"}}}
	const n = 1000
	size := frameCost + int64(router.MessageSize(progress.msg()))
	if cs := frameCost + int64(router.MessageSize(call.msg())); cs != size {
		t.Fatalf("a call counts %d bytes, a progressive result %d", cs, size)
	}
	s := testSender(n * size)
	q := &outQueue{}
	for i := range n {
		f := progress
		if i%2 == 1 {
			f = call
		}
		if err := s.enqueue(q, f); err != nil {
			t.Fatalf("frame %d refused at %d of %d bytes: %v", i, q.bytes, n*size, err)
		}
	}
	for _, f := range []outFrame{progress, call} {
		if err := s.enqueue(q, f); !errors.Is(err, errQueueFull) {
			t.Errorf("%v in a full queue: %v, want errQueueFull", f.msg().Type(), err)
		}
	}
	final := outFrame{held: protocol.TypeYield, yield: protocol.Yield{Request: 3, Args: protocol.List{"result"}}}
	ends := []outFrame{
		final,
		{m: &protocol.Error{RequestType: protocol.TypeInvocation, Request: 4, URI: protocol.ErrCanceled}},
		{m: &protocol.Cancel{Request: 5, Options: protocol.Dict{"mode": "kill"}}},
	}
	for _, f := range ends {
		if err := s.enqueue(q, f); err != nil {
			t.Errorf("%v in a full queue refused: %v", f.msg().Type(), err)
		}
		if got := q.frames[len(q.frames)-1].msg(); got.Type() != f.msg().Type() {
			t.Errorf("%v queued as %v, want as it is", f.msg().Type(), got.Type())
		}
	}
	// The second bound holds too.
	for q.bytes+frameCost+int64(router.MessageSize(final.msg())) <= 2*n*size {
		if err := s.enqueue(q, final); err != nil {
			t.Fatalf("final YIELD refused at %d bytes: %v", q.bytes, err)
		}
	}
	refused := s.x.c.refused.Load()
	for _, f := range ends {
		if err := s.enqueue(q, f); err != nil {
			t.Errorf("%v past the second bound refused: %v", f.msg().Type(), err)
		}
		got := q.frames[len(q.frames)-1].msg()
		switch f.msg().(type) {
		case *protocol.Cancel:
			if _, ok := got.(*protocol.Cancel); !ok {
				t.Errorf("CANCEL past the second bound queued as %v, want as it is", got.Type())
			}
		default:
			e, ok := got.(*protocol.Error)
			if !ok || e.URI != router.ClusterUnavailable || e.RequestType != protocol.TypeInvocation {
				t.Errorf("%v past the second bound queued as %+v, want ERROR %s", f.msg().Type(), got, router.ClusterUnavailable)
			}
		}
	}
	if got := s.x.c.refused.Load() - refused; got != 2 {
		t.Errorf("%d answers counted as refused past the second bound, want 2", got)
	}
}

// TestQueueBoundedInBytes queues calls of 1 MiB for a node whose sender
// does not publish: the queue refuses them once it holds its bound in
// bytes, however few frames that is; an empty queue takes one whatever
// its size, so that a message the router accepted can always go.
func TestQueueBoundedInBytes(t *testing.T) {
	big := make([]byte, 1<<20)
	call := outFrame{held: protocol.TypeCall, call: protocol.Call{Request: 2, Procedure: "p", Args: protocol.List{big}}}
	s := testSender(DefaultCallQueueBytes)
	q := &outQueue{}
	n := 0
	for ; n < 64; n++ {
		if err := s.enqueue(q, call); err != nil {
			break
		}
	}
	if n*len(big) > DefaultCallQueueBytes || n < DefaultCallQueueBytes/len(big)-1 {
		t.Errorf("the queue took %d calls of %d bytes, want about %d", n, len(big), DefaultCallQueueBytes/len(big))
	}
	if got := s.x.c.refused.Load(); got != 1 {
		t.Errorf("refused counted %d, want 1", got)
	}

	s = testSender(1024)
	q = &outQueue{}
	if err := s.enqueue(q, call); err != nil {
		t.Errorf("a call larger than the bound in an empty queue: %v, want it queued", err)
	}
	if err := s.enqueue(q, call); !errors.Is(err, errQueueFull) {
		t.Errorf("a second one: %v, want errQueueFull", err)
	}
}
