package cluster

import (
	"errors"
	"testing"

	"github.com/wampkit/wampkit/protocol"
)

// TestQueueKeepsRoomForEnds fills a node's queue with progressive results
// and calls: more of those are refused, but a message that ends a call (a
// final YIELD, an ERROR, a CANCEL) still finds room, up to a second bound,
// so that no caller is left waiting for an answer its node never sent.
func TestQueueKeepsRoomForEnds(t *testing.T) {
	s := &sender{wake: make(chan struct{}, 1)}
	s.limit.Store(maxQueuedFrames)
	q := &outQueue{}
	progress := outFrame{held: protocol.TypeYield, yield: protocol.Yield{Request: 1, Options: protocol.Dict{"progress": true}}}
	call := outFrame{held: protocol.TypeCall, call: protocol.Call{Request: 2, Procedure: "p"}}
	for i := 0; i < maxQueuedFrames; i++ {
		f := progress
		if i%2 == 1 {
			f = call
		}
		if err := s.enqueue(q, f); err != nil {
			t.Fatalf("frame %d refused: %v", i, err)
		}
	}
	for _, f := range []outFrame{progress, call} {
		if err := s.enqueue(q, f); !errors.Is(err, errQueueFull) {
			t.Errorf("%v in a full queue: %v, want errQueueFull", f.msg().Type(), err)
		}
	}
	ends := []outFrame{
		{held: protocol.TypeYield, yield: protocol.Yield{Request: 3}},
		{m: &protocol.Error{RequestType: protocol.TypeInvocation, Request: 4, URI: protocol.ErrCanceled}},
		{m: &protocol.Cancel{Request: 5, Options: protocol.Dict{"mode": "kill"}}},
	}
	for _, f := range ends {
		if err := s.enqueue(q, f); err != nil {
			t.Errorf("%v in a full queue refused: %v", f.msg().Type(), err)
		}
	}
	// The second bound holds too.
	for len(q.frames) < 2*maxQueuedFrames {
		if err := s.enqueue(q, ends[0]); err != nil {
			t.Fatalf("final YIELD %d refused: %v", len(q.frames), err)
		}
	}
	if err := s.enqueue(q, ends[1]); !errors.Is(err, errQueueFull) {
		t.Errorf("ERROR past the second bound: %v, want errQueueFull", err)
	}
}
