package client

import "sync/atomic"

// segmentSize is the number of events in one segment of an eventQueue.
const segmentSize = 64

// segment is a piece of an eventQueue.
type segment struct {
	evs  [segmentSize]*Event
	next atomic.Pointer[segment] // set by the producer before it publishes the first event in it
}

// eventQueue is the FIFO of a subscription's events: an unbounded list of
// segments, lock-free for its single producer (the session's reader) and
// single consumer (the subscription's goroutine). The consumer parks when
// the queue is empty and the producer wakes it only then, so a consumer
// that keeps up with the producer costs one atomic load per event and no
// wake-up, and one that fell behind takes everything queued per wake-up.
type eventQueue struct {
	// pushed counts the events ever pushed; written by the producer only.
	pushed atomic.Uint64
	tail   *segment // the segment the producer writes; producer only
	_      [48]byte // keep the consumer's fields off the producer's cache line

	// popped counts the events ever taken; written by the consumer only.
	popped atomic.Uint64
	head   *segment // the segment the consumer reads; consumer only
	_      [48]byte

	// spare is a segment the consumer has finished with, for the producer
	// to reuse, so that a queue that does not grow allocates nothing.
	spare atomic.Pointer[segment]
	// sleeping is set by the consumer before it parks on wake; the
	// producer clears it and sends a token.
	sleeping atomic.Bool
	// wake carries the producer's wake-up token (and Subscription.stop's);
	// capacity 1.
	wake chan struct{}
}

func (q *eventQueue) init() {
	s := new(segment)
	q.head, q.tail = s, s
	q.wake = make(chan struct{}, 1)
}

// push appends ev, unless max > 0 and max events are queued; it reports
// whether ev was queued. It never blocks. Producer only.
func (q *eventQueue) push(ev *Event, max int) bool {
	i := q.pushed.Load()
	if max > 0 && i-q.popped.Load() >= uint64(max) {
		return false
	}
	slot := i % segmentSize
	if slot == 0 && i > 0 {
		s := q.spare.Swap(nil)
		if s == nil {
			s = new(segment)
		}
		q.tail.next.Store(s)
		q.tail = s
	}
	q.tail.evs[slot] = ev
	q.pushed.Store(i + 1) // publishes the slot (and the link above)
	// Pairs with park: the consumer sets sleeping and then loads pushed;
	// we store pushed and then load sleeping. (sync/atomic operations are
	// sequentially consistent, so one of us sees the other's store.)
	if q.sleeping.Load() && q.sleeping.CompareAndSwap(true, false) {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// pop takes the oldest event, or returns nil if the queue is empty.
// Consumer only.
func (q *eventQueue) pop() *Event {
	i := q.popped.Load()
	if i == q.pushed.Load() {
		return nil
	}
	slot := i % segmentSize
	if slot == 0 && i > 0 {
		old := q.head
		q.head = old.next.Load()
		old.next.Store(nil)
		q.spare.CompareAndSwap(nil, old) // else the garbage collector takes it
	}
	ev := q.head.evs[slot]
	q.head.evs[slot] = nil
	q.popped.Store(i + 1) // frees the slot for a bounded producer
	return ev
}

// park prepares the consumer to wait on q.wake: it returns false, and does
// not park, if an event arrived meanwhile. After true the consumer must
// wait for a token on q.wake (or its own end). Consumer only.
func (q *eventQueue) park() bool {
	q.sleeping.Store(true)
	if q.popped.Load() != q.pushed.Load() {
		q.sleeping.Store(false)
		return false
	}
	return true
}
