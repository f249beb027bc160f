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
// pool: a queue holds none when it is empty, and more only while frames
// wait, so neither an idle peer nor a burst's memory holds any for life,
// and no frame slice grows or is copied.
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

	// n and size count the frames put and not yet released, and their
	// bytes. Written under mu; read without it by full.
	n, size atomic.Int64

	mu sync.Mutex // guards the fields below
	// The frames waiting for the writer are head.frames[hi:], the frames
	// of the segments after it, and tail.frames[:ti]; head and tail are
	// nil until the first frame.
	head, tail *segment
	hi, ti     int
	waiting    int    // frames waiting
	accepted   uint64 // frames ever put (SendCounter)
	closed     bool   // set by close: put refuses every frame
	// room, when not nil, is closed (and cleared) by the next release
	// or by close. Waiting senders make it.
	room chan struct{}

	// The right to write to the connection (see peerCore.kick): at most
	// one goroutine holds it, a sender writing what is queued or the
	// writer goroutine.
	writing bool
	// pingDue is set by the keep-alive timer: the holder of the right to
	// write sends a ping.
	pingDue bool
	// finished is set once the writer has closed the connection: the
	// right to write stays taken for good.
	finished bool
}

func (q *outQueue) init(maxFrames, maxBytes int) {
	q.maxFrames = int64(maxFrames)
	q.maxBytes = int64(maxBytes)
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

// putLocked queues f. It returns ErrClosed after close and ErrQueueFull
// when f does not fit; the caller then still owns f. q.mu must be held.
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
	q.accepted++
	q.n.Add(1)
	q.size.Add(int64(len(f.b)))
	return nil
}

// putWait is putLocked, but when f does not fit it waits for room until
// ctx ends, and then returns ErrQueueFull. It returns with q.mu held when
// f was queued, and without it otherwise.
func (q *outQueue) putWait(ctx context.Context, f frame) error {
	for {
		q.mu.Lock()
		err := q.putLocked(f)
		if err == nil {
			return nil
		}
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

// take moves waiting frames, in order, into dst (up to its capacity and
// while no more than maxBytes are taken; at least one if one, the first
// frame of any size, else none of more than maxBytes) and returns it. The
// writer must release them once written.
func (q *outQueue) take(dst []frame, maxBytes int, one bool) []frame {
	q.mu.Lock()
	defer q.mu.Unlock()
	taken := 0
	for q.waiting > 0 && len(dst) < cap(dst) {
		f := &q.head.frames[q.hi]
		if (taken > 0 || !one) && taken+len(f.b) > maxBytes {
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
	if q.waiting == 0 && q.head != nil {
		// An idle queue holds no segment.
		segments.Put(q.head)
		q.head, q.tail = nil, nil
		q.hi, q.ti = 0, 0
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
		fs := q.take(batch[:0], math.MaxInt, true)
		if len(fs) == 0 {
			break
		}
		q.release(fs)
	}
}
