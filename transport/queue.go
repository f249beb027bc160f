package transport

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
)

// frame is one encoded WAMP message on its way to a network peer's writer.
type frame struct {
	b []byte // the encoding; nobody modifies it
	// buf is the pooled buffer b lives in, given back once b is written;
	// nil when b is the cached encoding of a *serialize.Shared, which is
	// never copied nor modified.
	buf *[]byte
}

// release gives f's buffer back to the pool.
func (f *frame) release() {
	if f.buf != nil {
		putBuffer(&frameBuffers, f.buf, f.b, maxPooledFrame)
	}
	*f = frame{}
}

// Buffer pools. An idle peer holds no buffer: senders encode into a
// buffer of frameBuffers that the writer gives back once it has written
// the frame, and the writer batches frames into a buffer of writeBuffers
// only while it writes.
var (
	frameBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}
	writeBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}
)

// Buffers that grew past these sizes are not pooled, so that one large
// message does not pin its memory in every pool.
const (
	maxPooledFrame = 64 << 10
	maxPooledWrite = 2 * flushSize
)

// getBuffer returns an empty buffer of pool.
func getBuffer(pool *sync.Pool) *[]byte { return pool.Get().(*[]byte) }

// putBuffer gives bp back to pool, holding b (which may have grown from
// *bp), unless it grew past maxCap.
func putBuffer(pool *sync.Pool, bp *[]byte, b []byte, maxCap int) {
	if cap(b) > maxCap {
		return
	}
	*bp = b[:0]
	pool.Put(bp)
}

// segment is a piece of a queue's list of frames. Segments come from a
// pool: a queue holds one segment when it is empty (none before its first
// frame), and more only while frames wait, so a burst's memory is not
// kept for life and no frame slice grows or is copied.
type segment struct {
	frames [segmentFrames]frame
	next   *segment
}

// segmentFrames is the number of frames of a segment (1 KiB).
const segmentFrames = 32

var segments = sync.Pool{New: func() any { return new(segment) }}

// outQueue is a network peer's outbound queue: encoded frames in the
// order they were sent, bounded in number and in bytes. Senders put
// frames from any goroutine; the peer's writer goroutine takes them,
// writes them and then releases them, which makes room: a frame counts
// against the bounds from put until release.
type outQueue struct {
	maxFrames int64
	maxBytes  int64

	// wake holds a token when frames wait and the writer may be waiting
	// for them. Capacity 1.
	wake chan struct{}

	// n and size count the frames put and not yet released, and their
	// bytes. Written under mu; read without it by full.
	n, size atomic.Int64

	mu sync.Mutex // guards the fields below
	// The frames waiting for the writer are head.frames[hi:], the frames
	// of the segments after it, and tail.frames[:ti]; head and tail are
	// nil until the first frame.
	head, tail *segment
	hi, ti     int
	waiting    int  // frames waiting
	closed     bool // set by close: put refuses every frame
	// room, when not nil, is closed (and cleared) by the next release
	// or by close. Waiting senders make it.
	room chan struct{}
}

func (q *outQueue) init(maxFrames, maxBytes int) {
	q.maxFrames = int64(maxFrames)
	q.maxBytes = int64(maxBytes)
	q.wake = make(chan struct{}, 1)
}

// full reports, without locking, whether put would refuse any frame now:
// Send checks it before it encodes.
func (q *outQueue) full() bool {
	return q.n.Load() >= q.maxFrames || q.size.Load() >= q.maxBytes
}

// fitsLocked reports whether a frame of size bytes fits: the count bound
// and the byte bound, except that an empty queue takes a frame of any
// size (the message size limits bound it). q.mu must be held.
func (q *outQueue) fitsLocked(size int) bool {
	n := q.n.Load()
	return n < q.maxFrames && (n == 0 || q.size.Load()+int64(size) <= q.maxBytes)
}

// put queues f. It returns ErrClosed after close and ErrQueueFull when f
// does not fit; the caller then still owns f.
func (q *outQueue) put(f frame) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.putLocked(f)
}

// putLocked is put; q.mu must be held.
func (q *outQueue) putLocked(f frame) error {
	if q.closed {
		return ErrClosed
	}
	if !q.fitsLocked(len(f.b)) {
		return ErrQueueFull
	}
	if q.tail == nil {
		q.head = segments.Get().(*segment)
		q.tail = q.head
	} else if q.ti == segmentFrames {
		next := segments.Get().(*segment)
		q.tail.next = next
		q.tail, q.ti = next, 0
	}
	q.tail.frames[q.ti] = f
	q.ti++
	q.waiting++
	q.n.Add(1)
	q.size.Add(int64(len(f.b)))
	if q.waiting == 1 {
		// The first frame waiting: the writer may be asleep. (While
		// frames wait, the writer either holds a token or comes back
		// for them by itself, see take.)
		q.signal()
	}
	return nil
}

// putWait is put, but when f does not fit it waits for room until ctx
// ends, and then returns ErrQueueFull.
func (q *outQueue) putWait(ctx context.Context, f frame) error {
	for {
		q.mu.Lock()
		err := q.putLocked(f)
		if err != ErrQueueFull {
			q.mu.Unlock()
			return err
		}
		if q.room == nil {
			q.room = make(chan struct{})
		}
		room := q.room
		q.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return ErrQueueFull
		}
	}
}

// signal gives the writer a token, unless it has one.
func (q *outQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take moves waiting frames, in order, into dst (up to its capacity and
// while fewer than maxBytes are taken; at least one) and returns it. The
// writer must release them once written. If frames are left waiting, the
// writer gets a token so that it comes back for them after its other work
// (keep-alive pings, pongs).
func (q *outQueue) take(dst []frame, maxBytes int) []frame {
	q.mu.Lock()
	defer q.mu.Unlock()
	taken := 0
	for q.waiting > 0 && len(dst) < cap(dst) {
		f := &q.head.frames[q.hi]
		if taken > 0 && taken+len(f.b) > maxBytes {
			break
		}
		taken += len(f.b)
		dst = append(dst, *f)
		*f = frame{}
		q.hi++
		q.waiting--
		if q.hi == segmentFrames && q.head != q.tail {
			done := q.head
			q.head, q.hi = done.next, 0
			done.next = nil
			segments.Put(done)
		}
	}
	if q.waiting == 0 {
		// Keep the one segment, from its start.
		q.hi, q.ti = 0, 0
	} else {
		q.signal()
	}
	return dst
}

// release ends the count of frames taken and written (or dropped), gives
// their buffers back and wakes the senders waiting for room.
func (q *outQueue) release(fs []frame) {
	if len(fs) == 0 {
		return
	}
	size := 0
	for i := range fs {
		size += len(fs[i].b)
		fs[i].release()
	}
	q.mu.Lock()
	q.n.Add(-int64(len(fs)))
	q.size.Add(-int64(size))
	if q.room != nil {
		close(q.room)
		q.room = nil
	}
	q.mu.Unlock()
}

// close makes put refuse every frame from now on with ErrClosed and wakes
// the waiting senders. The writer still takes what is queued.
func (q *outQueue) close() {
	q.mu.Lock()
	q.closed = true
	if q.room != nil {
		close(q.room)
		q.room = nil
	}
	q.mu.Unlock()
}

// discard releases every frame still waiting; the writer calls it when it
// ends. Only after close.
func (q *outQueue) discard() {
	var batch [segmentFrames]frame
	for {
		fs := q.take(batch[:0], math.MaxInt)
		if len(fs) == 0 {
			break
		}
		q.release(fs)
	}
	q.mu.Lock()
	if q.head != nil {
		segments.Put(q.head)
		q.head, q.tail = nil, nil
	}
	q.mu.Unlock()
}
