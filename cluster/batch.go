package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// Frames between nodes (see call.go) travel in batches: every frame for
// a node is appended to that node's queue, and one goroutine of the
// sending node, the sender, publishes each queue's frames as one NATS
// message on the node's subject "<prefix>.node.<slot>.rpc". While the
// sender publishes, the frames of other calls gather behind it, so under
// load one NATS message (and one write to the socket, and one wake-up of
// the receiving node's goroutine) carries many frames; a lone call pays
// one goroutine hand-off for it. A NATS message is a sequence of
//
//	uvarint(len(frame)) frame
//
// and the receiving node handles its frames in order, on the one
// goroutine of its subscription.

// maxQueued bounds the bytes waiting in one node's queue: a frame that
// does not fit is refused (the call fails with ClusterUnavailable) rather
// than held in memory without bound.
const maxQueued = 64 << 20

// errQueueFull is the error of a frame refused by a full queue.
var errQueueFull = errors.New("cluster: too much waiting for the other node")

// outQueue is the queue of frames for one node.
type outQueue struct {
	subject string
	mu      sync.Mutex
	buf     []byte // guarded by mu; frames waiting, each after its length
	listed  bool   // guarded by mu; in the sender's list of queues to publish
}

// sender publishes the nodes' queues.
type sender struct {
	x    *rpc
	wake chan struct{} // capacity 1
	// maxPayload is the largest NATS message the servers take, read
	// from the connection at start and on reconnection (asking the
	// connection each time would wait for its lock, which its writer
	// holds while it writes).
	maxPayload atomic.Int64

	mu     sync.Mutex
	queues map[uint32]*outQueue // guarded by mu; by node slot
	dirty  []*outQueue          // guarded by mu; queues with frames to publish
}

func newSender(x *rpc) *sender {
	s := &sender{x: x, wake: make(chan struct{}, 1), queues: make(map[uint32]*outQueue)}
	s.maxPayload.Store(x.c.nc.MaxPayload())
	return s
}

// queueOf returns the queue of the node of slot.
func (s *sender) queueOf(slot uint32) *outQueue {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[slot]
	if q == nil {
		q = &outQueue{subject: s.x.c.nodeSubject(slot, "rpc")}
		s.queues[slot] = q
	}
	return q
}

// enqueue appends frame to q; it never blocks. It fails if the frame is
// larger than NATS takes, or q is full.
func (s *sender) enqueue(q *outQueue, frame []byte) error {
	if max := s.maxPayload.Load(); int64(len(frame)+binary.MaxVarintLen64) > max {
		return fmt.Errorf("cluster: message of %d bytes, larger than the NATS servers take (%d)", len(frame), max)
	}
	q.mu.Lock()
	if len(q.buf)+len(frame) > maxQueued {
		q.mu.Unlock()
		return errQueueFull
	}
	q.buf = binary.AppendUvarint(q.buf, uint64(len(frame)))
	q.buf = append(q.buf, frame...)
	listed := q.listed
	q.listed = true
	q.mu.Unlock()
	if !listed {
		s.mu.Lock()
		s.dirty = append(s.dirty, q)
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// run publishes the queues as they fill, until x stops.
func (s *sender) run() {
	defer s.x.wg.Done()
	var spare []byte
	var dirty []*outQueue
	last := 0 // frames of the last round
	for {
		select {
		case <-s.wake:
		case <-s.x.ctx.Done():
			return
		}
		if last > 1 {
			// Under load (the last round had several frames), let the
			// goroutines that are about to send frames run first, so that
			// this round takes them too: a round costs a NATS message and
			// a write to the socket however many frames it carries. A
			// lone call does not wait for that.
			runtime.Gosched()
		}
		last = 0
		s.mu.Lock()
		dirty, s.dirty = s.dirty, dirty[:0]
		s.mu.Unlock()
		for i, q := range dirty {
			q.mu.Lock()
			b := q.buf
			q.buf, spare = spare[:0], nil
			q.listed = false
			q.mu.Unlock()
			last += s.publish(q.subject, b)
			if cap(b) <= maxKeptBuf {
				spare = b
			}
			dirty[i] = nil
		}
	}
}

// publish publishes the frames of b to subject, in NATS messages no larger
// than the servers take, and returns the number of frames.
func (s *sender) publish(subject string, b []byte) int {
	max := int(s.maxPayload.Load())
	frames := 0
	for len(b) > 0 {
		// Take whole frames up to max bytes (one at least; enqueue keeps
		// each below max).
		n := 0
		for n < len(b) {
			l, k := binary.Uvarint(b[n:])
			end := n + k + int(l)
			if n > 0 && end > max {
				break
			}
			n = end
			frames++
		}
		if err := s.x.c.nc.Publish(subject, b[:n]); err != nil {
			s.x.c.failLog.log(s.x.c.log, "cluster: messages to another node lost", "subject", subject, "error", err)
		}
		b = b[n:]
	}
	return frames
}
