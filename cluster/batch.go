package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

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
// message (one socket write, one read of the receiving node) carries
// many frames, and a lone call pays one goroutine hand-off for it. Encoding on the sender also keeps the encoder's deep
// stack off the router's goroutines (an in-process callee's handler runs
// on a goroutine of its own, whose small stack would grow for it).
//
// A NATS message is a sequence of
//
//	uint32(len(frame)) frame
//
// (big-endian) and the receiving node handles its frames in order, on the
// read loop of its frames connection (see framesDialer). Both nodes'
// frames connections carry the frames, so that NATS keeps their order.

// What waits in one node's queue is bounded in bytes, by
// Config.CallQueueBytes: each frame counts frameCost and the router's
// estimate of its message's payload and options (router.MessageSize),
// what the queue holds of it until the sender encodes it. A message that
// does not fit is refused (the call fails with ClusterUnavailable) rather
// than held without bound; an empty queue takes any one message, so that
// a message the router accepted always gets through an idle queue. A
// message that ends a call (see endsCall) may use as much room again:
// each ends a call the router has already admitted, and refusing it
// would leave its caller waiting for its timeout, or forever. One that
// still does not fit goes as its bare form, which the queue always
// takes: a CANCEL as it is (it carries no payload), a final YIELD or
// ERROR as ERROR ClusterUnavailable, which fails its call on the
// caller's node; their number is bounded by the calls pending, each of
// which ends once.

// DefaultCallQueueBytes is the default bound of the queue of calls'
// messages to each other node ([Config.CallQueueBytes]): 8 MiB, as much
// as the NATS client keeps for the node while it is cut off (its
// reconnect buffer), so that the queue holds over ten thousand small
// calls (the CALL of a call with a few arguments counts about 600 bytes,
// its YIELD 300) or eight messages of the router's largest default size
// (1 MiB). The queue only
// grows while the node's NATS connection is slower than its routers;
// when it is cut off, the node fails its calls to the other nodes within
// a second anyway.
const DefaultCallQueueBytes = 8 << 20

// frameCost is what a frame takes in the queue's array besides its
// message's payload and options.
const frameCost = int64(unsafe.Sizeof(outFrame{}))

// frameLen is the size of a frame's length.
const frameLen = 4

// errQueueFull is the error of a message refused by a full queue.
var errQueueFull = errors.New("cluster: too many bytes waiting for the other node")

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
	// size is what the frame counts against the queue's bound.
	size int64
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
	bytes   int64      // guarded by mu; the sizes of frames
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

	// limit is the queues' bound in bytes (Config.CallQueueBytes; tests
	// lower it).
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
	s.maxPayload.Store(x.c.fc.MaxPayload())
	s.limit.Store(x.c.cfg.CallQueueBytes)
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
// q is full (see frameCost). A message that ends a call is never refused:
// past the room kept for such messages it goes as its bare form, which
// is counted and logged.
func (s *sender) enqueue(q *outQueue, f outFrame) error {
	limit := s.limit.Load()
	ends := f.endsCall()
	if ends {
		limit *= 2
	}
	f.size = frameCost + int64(router.MessageSize(f.msg()))
	var bare *protocol.Error
	q.mu.Lock()
	if q.bytes > 0 && q.bytes+f.size > limit {
		if !ends {
			q.mu.Unlock()
			s.refused()
			return errQueueFull
		}
		if bare = bareEnd(&f); bare != nil {
			f.m = bare
			f.size = frameCost + int64(router.MessageSize(bare))
		}
	}
	q.frames = append(q.frames, f)
	q.bytes += f.size
	listed := q.listed
	q.listed = true
	q.mu.Unlock()
	if bare != nil {
		s.refused()
		s.x.c.failLog.log(s.x.c.log, "cluster: answer to another node replaced by an error", "subject", q.subject,
			"request", uint64(bare.Request), "error", errQueueFull)
	}
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

// refused counts a message refused (or replaced by an error) by a full
// queue.
func (s *sender) refused() { s.x.c.refused.Add(1) }

// bareEnd returns the ERROR ClusterUnavailable that replaces the final
// YIELD or the ERROR of f when the queue has no room for it, or nil for
// a CANCEL, which goes as it is (its options are the router's mode).
func bareEnd(f *outFrame) *protocol.Error {
	switch m := f.msg().(type) {
	case *protocol.Yield:
		return unavailable(m.Request, "answer not sent to the caller's node: "+errQueueFull.Error())
	case *protocol.Error:
		return unavailable(m.Request, "answer not sent to the caller's node: "+errQueueFull.Error())
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
			q.bytes = 0
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
	if err := s.x.c.fc.Publish(subject, b); err != nil {
		s.x.c.failLog.log(s.x.c.log, "cluster: messages to another node lost", "subject", subject, "error", err)
	}
}
