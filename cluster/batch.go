package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// Frames between nodes (see call.go) travel in batches: every message
// for a node is queued, as it is, in that node's queue, and one goroutine
// of the sending node, the sender, encodes each queue's messages into
// frames and publishes them as one NATS message on the node's subject
// "<prefix>.node.<slot>.rpc". While the sender works, the messages of
// other calls gather behind it; under load (when its last round carried
// several frames) it also yields before each round, as long as that
// brings more messages, so that the goroutines about to queue messages do
// so first. So under load one NATS
// message (one socket write, one wake-up of the receiving node's
// goroutine) carries many frames, and a lone call pays one goroutine
// hand-off for it. Encoding on the sender also keeps the encoder's deep
// stack off the router's goroutines (an in-process callee's handler runs
// on a goroutine of its own, whose small stack would grow for it).
//
// A NATS message is a sequence of
//
//	uint32(len(frame)) frame
//
// (big-endian) and the receiving node handles its frames in order, on the
// one goroutine of its subscription.

// maxQueuedFrames bounds the messages waiting in one node's queue: one
// that does not fit is refused (the call fails with ClusterUnavailable)
// rather than held in memory without bound. A message that ends a call
// (see endsCall) may use as much room again: each ends a call the router
// has already admitted (their number is bounded by the relays'
// Config.MaxPendingCalls), and refusing it would leave its caller waiting
// for its timeout, or forever.
const maxQueuedFrames = 1 << 16

// frameLen is the size of a frame's length.
const frameLen = 4

// errQueueFull is the error of a message refused by a full queue.
var errQueueFull = errors.New("cluster: too many messages waiting for the other node")

// outFrame is a message waiting in a queue: a frame's header, and its
// WAMP message, whose contents the router no longer changes (sent
// messages are read-only). The CALL of a stand-in's INVOCATION and the
// YIELD of a relay's RESULT, one of each per call, are held in the frame
// itself (call, yield) rather than allocated: the queue's array, reused
// from round to round, holds them.
type outFrame struct {
	header []byte
	m      protocol.Message // nil: call or yield, as held says
	held   protocol.MessageType
	call   protocol.Call
	yield  protocol.Yield
	// st is the stand-in whose INVOCATION a CALL carries: it fails if the
	// frame cannot be sent.
	st *standin
}

// endsCall reports whether f ends a call or an invocation: a final
// YIELD, an ERROR or a CANCEL (not a CALL, nor a progressive result).
func (f *outFrame) endsCall() bool {
	switch m := f.msg().(type) {
	case *protocol.Yield:
		return !m.Options.Bool("progress")
	case *protocol.Error, *protocol.Cancel:
		return true
	}
	return false
}

// msg returns the WAMP message of f, which must not move while it is
// used.
func (f *outFrame) msg() protocol.Message {
	switch {
	case f.m != nil:
		return f.m
	case f.held == protocol.TypeCall:
		return &f.call
	default:
		return &f.yield
	}
}

// outQueue is the queue of messages for one node.
type outQueue struct {
	subject string
	mu      sync.Mutex
	frames  []outFrame // guarded by mu
	listed  bool       // guarded by mu; in the sender's list of queues to publish
}

// sender encodes and publishes the nodes' queues.
type sender struct {
	x    *rpc
	wake chan struct{} // capacity 1
	// maxPayload is the largest NATS message the servers take, read
	// from the connection at start and on reconnection (asking the
	// connection each time would wait for its lock, which its writer
	// holds while it writes).
	maxPayload atomic.Int64

	// limit is the queues' bound (maxQueuedFrames; tests lower it).
	limit atomic.Int64
	// round is held while a round publishes: a test holds it to stop
	// the sender.
	round sync.Mutex

	mu     sync.Mutex
	queues map[uint32]*outQueue // guarded by mu; by node slot
	dirty  []*outQueue          // guarded by mu; queues with frames to publish
}

func newSender(x *rpc) *sender {
	s := &sender{x: x, wake: make(chan struct{}, 1), queues: make(map[uint32]*outQueue)}
	s.maxPayload.Store(x.c.nc.MaxPayload())
	s.limit.Store(maxQueuedFrames)
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

// enqueue queues f for the node of q; it never blocks, and fails only if
// q is full.
func (s *sender) enqueue(q *outQueue, f outFrame) error {
	limit := int(s.limit.Load())
	if f.endsCall() {
		limit *= 2
	}
	q.mu.Lock()
	if len(q.frames) >= limit {
		q.mu.Unlock()
		return errQueueFull
	}
	q.frames = append(q.frames, f)
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
	var dirty []*outQueue
	var frames []outFrame
	var buf []byte
	last := 0 // frames of the last round
	for {
		select {
		case <-s.wake:
		case <-s.x.ctx.Done():
			return
		}
		if last > 1 {
			s.gather()
		}
		last = 0
		s.round.Lock()
		s.mu.Lock()
		dirty, s.dirty = s.dirty, dirty[:0]
		s.mu.Unlock()
		for i, q := range dirty {
			q.mu.Lock()
			frames, q.frames = q.frames, frames[:0]
			q.listed = false
			q.mu.Unlock()
			last += len(frames)
			buf = s.publish(q.subject, frames, buf[:0])
			clear(frames) // the messages are not kept
			if cap(buf) > maxKeptBuf {
				buf = nil
			}
			if cap(frames) > maxKeptFrames {
				frames = nil
			}
			dirty[i] = nil
		}
		s.round.Unlock()
	}
}

// maxYields bounds the yields of one round (see gather).
const maxYields = 8

// gather lets the goroutines that are about to queue messages run before
// a round, as long as each yield brings more (at most maxYields times).
func (s *sender) gather() {
	n := s.waiting()
	for range maxYields {
		runtime.Gosched()
		m := s.waiting()
		if m == n {
			return
		}
		n = m
	}
}

// waiting returns the number of messages waiting in the queues.
func (s *sender) waiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, q := range s.dirty {
		q.mu.Lock()
		n += len(q.frames)
		q.mu.Unlock()
	}
	return n
}

// maxKeptBuf is the largest encoding buffer the sender keeps for reuse,
// and maxKeptFrames the most frames an array of a queue it keeps holds
// (a frame takes about 200 bytes).
const (
	maxKeptBuf    = 1 << 20
	maxKeptFrames = 1 << 12
)

// publish encodes frames into buf and publishes them to subject, in NATS
// messages no larger than the servers take. It returns buf.
func (s *sender) publish(subject string, frames []outFrame, buf []byte) []byte {
	max := int(s.maxPayload.Load())
	for i := range frames {
		f := &frames[i]
		start := len(buf)
		var err error
		buf, err = s.encode(buf, f, max)
		if err != nil {
			buf = buf[:start]
			if buf, err = s.failed(buf, f, err, max); err != nil {
				s.x.c.failLog.log(s.x.c.log, "cluster: message to another node lost", "subject", subject, "error", err)
				buf = buf[:start]
			}
		}
		if len(buf) > max && start > 0 {
			// The frame does not fit with the others: they go first.
			s.send(subject, buf[:start])
			buf = buf[:copy(buf, buf[start:])]
		}
	}
	if len(buf) > 0 {
		s.send(subject, buf)
	}
	return buf
}

// encode appends the frame of f to buf. It fails if the frame alone is
// larger than max.
func (s *sender) encode(buf []byte, f *outFrame, max int) ([]byte, error) {
	start := len(buf)
	buf = append(buf, 0, 0, 0, 0)
	buf = append(buf, f.header...)
	buf, err := codec.Encode(buf, f.msg())
	if err != nil {
		return buf, err
	}
	n := len(buf) - start
	if n > max {
		return buf, fmt.Errorf("%w: %d bytes, they take %d", errTooLarge, n, max)
	}
	binary.BigEndian.PutUint32(buf[start:], uint32(n-frameLen))
	return buf, nil
}

// failed handles a message that could not be encoded or sent (err): a
// call fails on this node, an answer is replaced by an error for the
// caller's node. It returns buf with that error's frame, if any.
func (s *sender) failed(buf []byte, f *outFrame, err error, max int) ([]byte, error) {
	switch m := f.msg().(type) {
	case *protocol.Call:
		if l := f.st.linkOf(); l != nil {
			_ = l.Send(failure(m.Request, sendFailureURI(err), "call not sent to the callee's node: "+err.Error()))
		}
		return buf, nil
	case *protocol.Yield:
		f.m = failure(m.Request, sendFailureURI(err), "answer not sent to the caller's node: "+err.Error())
	case *protocol.Error:
		f.m = failure(m.Request, sendFailureURI(err), "answer not sent to the caller's node: "+err.Error())
	default:
		return buf, err
	}
	return s.encode(buf, f, max)
}

// unavailable is the ERROR(INVOCATION) of a stand-in's invocation req
// that did not cross nodes.
func unavailable(req protocol.ID, why string) *protocol.Error {
	return failure(req, router.ClusterUnavailable, why)
}

// failure is the ERROR(INVOCATION) uri of a stand-in's invocation req
// whose message did not cross nodes (see sendFailureURI).
func failure(req protocol.ID, uri protocol.URI, why string) *protocol.Error {
	return &protocol.Error{RequestType: protocol.TypeInvocation, Request: req, Details: protocol.Dict{},
		URI: uri, Args: protocol.List{why}}
}

// send publishes one NATS message.
func (s *sender) send(subject string, b []byte) {
	if err := s.x.c.nc.Publish(subject, b); err != nil {
		s.x.c.failLog.log(s.x.c.log, "cluster: messages to another node lost", "subject", subject, "error", err)
	}
}
