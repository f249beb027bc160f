package router

import (
	"iter"
	"slices"
	"sync/atomic"
)

// members is a set of T in the order they were added, which readers read
// through a snapshot without a lock while one writer at a time (under its
// owner's lock) adds and removes. A snapshot is never modified once it is
// stored.
//
// A copy-on-write slice would copy the whole set on every change, so that
// n sessions subscribing to one topic would cost O(n²) time and bytes
// (10 GB for 50,000 subscribers). members keeps the set in chunks of at
// most memberChunk: a change copies the chunk index and at most one chunk.
// Adding appends in place when the last chunk has room, which no snapshot
// can see (every snapshot's view of a chunk ends before the slot).
//
// The zero value is an empty set.
type members[T comparable] struct {
	p atomic.Pointer[memberSnap[T]]
}

// memberChunk is the most members a chunk holds.
const memberChunk = 256

// memberSnap is one version of a members set. A nil *memberSnap is an
// empty one. It is small (32 bytes) for the common set of a few members.
type memberSnap[T comparable] struct {
	// one is the members in order while they fit one chunk.
	one [1][]T
	// more, when not nil, is the members in order in several chunks,
	// none empty, and one is unused.
	more *[][]T
}

// A chunk's backing array past its length may be written by a later add:
// chunks must not be resliced beyond their length.

// load returns the current snapshot (nil if the set is empty).
func (m *members[T]) load() *memberSnap[T] { return m.p.Load() }

// len returns the number of members.
func (s *memberSnap[T]) len() int {
	switch {
	case s == nil:
		return 0
	case s.more == nil:
		return len(s.one[0])
	}
	n := 0
	for _, ch := range *s.more {
		n += len(ch)
	}
	return n
}

// chunkList returns the members in order, chunk by chunk, to be read
// only: neither the chunks nor the list may be modified or appended to.
func (s *memberSnap[T]) chunkList() [][]T {
	switch {
	case s == nil:
		return nil
	case s.more == nil:
		return s.one[:]
	}
	return *s.more
}

// first returns the first member; the set must not be empty.
func (s *memberSnap[T]) first() T { return s.chunkList()[0][0] }

// contains reports whether x is a member.
func (s *memberSnap[T]) contains(x T) bool {
	_, _, ok := s.find(x)
	return ok
}

// find returns the chunk and the index in it of x.
func (s *memberSnap[T]) find(x T) (chunk, i int, ok bool) {
	for c, ch := range s.chunkList() {
		for i, y := range ch {
			if y == x {
				return c, i, true
			}
		}
	}
	return 0, 0, false
}

// all returns the members in order, in one new slice.
func (s *memberSnap[T]) all() []T {
	return slices.AppendSeq(make([]T, 0, s.len()), s.values())
}

// values returns an iterator over the members in order.
func (s *memberSnap[T]) values() iter.Seq[T] {
	return func(yield func(T) bool) {
		for _, ch := range s.chunkList() {
			for _, x := range ch {
				if !yield(x) {
					return
				}
			}
		}
	}
}

// memberAt returns the member at index i of chunks.
func memberAt[T any](chunks [][]T, i int) T {
	for _, ch := range chunks {
		if i < len(ch) {
			return ch[i]
		}
		i -= len(ch)
	}
	panic("router: member index out of range")
}

// store stores a snapshot of chunks, none empty. When removals left them
// under a quarter full, it packs them again first, which takes at least
// as many removals again as it copies members.
func (m *members[T]) store(chunks [][]T) {
	if len(chunks) > 2 {
		n := 0
		for _, ch := range chunks {
			n += len(ch)
		}
		if n < len(chunks)*memberChunk/4 {
			chunks = pack(chunks, n)
		}
	}
	switch len(chunks) {
	case 0:
		m.p.Store(nil)
	case 1:
		m.storeOne(chunks[0])
	default:
		m.p.Store(&memberSnap[T]{more: &chunks})
	}
}

// storeOne stores a snapshot of the single chunk ch.
func (m *members[T]) storeOne(ch []T) {
	next := &memberSnap[T]{}
	next.one[0] = ch
	m.p.Store(next)
}

// storeWith stores a snapshot of cs with chunk i replaced by ch, or
// dropped if ch is empty.
func (m *members[T]) storeWith(cs [][]T, i int, ch []T) {
	if len(cs) == 1 && len(ch) > 0 {
		m.storeOne(ch) // no chunk list to allocate
		return
	}
	chunks := make([][]T, 0, len(cs))
	chunks = append(chunks, cs[:i]...)
	if len(ch) > 0 {
		chunks = append(chunks, ch)
	}
	m.store(append(chunks, cs[i+1:]...))
}

// add adds x at the end. The caller must hold the owner's lock.
func (m *members[T]) add(x T) {
	cs := m.p.Load().chunkList()
	if len(cs) == 0 {
		m.storeOne([]T{x})
		return
	}
	k := len(cs)
	last := cs[k-1]
	switch {
	case len(last) < cap(last):
		// In place: no snapshot sees the slot.
		last = last[:len(last)+1]
		last[len(last)-1] = x
	case len(last) < memberChunk:
		grown := make([]T, len(last)+1, min(max(2*len(last), 4), memberChunk))
		copy(grown, last)
		grown[len(last)] = x
		last = grown
	default:
		m.store(append(slices.Clip(cs), append(make([]T, 0, 4), x)))
		return
	}
	m.storeWith(cs, k-1, last)
}

// reset replaces the members by xs, in order. The caller must hold the
// owner's lock.
func (m *members[T]) reset(xs []T) {
	m.store(pack([][]T{xs}, len(xs)))
}

// remove removes x and reports whether it was a member. The caller must
// hold the owner's lock.
func (m *members[T]) remove(x T) bool {
	old := m.p.Load()
	c, i, ok := old.find(x)
	if !ok {
		return false
	}
	cs := old.chunkList()
	ch := cs[c]
	var rest []T
	if len(ch) > 1 {
		// A new array: the old one stays as older snapshots see it. The
		// last chunk keeps the slot free for the next add.
		room := len(ch) - 1
		if c == len(cs)-1 {
			room++
		}
		rest = make([]T, len(ch)-1, room)
		copy(rest, ch[:i])
		copy(rest[i:], ch[i+1:])
	}
	m.storeWith(cs, c, rest)
	return true
}

// pack returns the n members of chunks in new full chunks.
func pack[T comparable](chunks [][]T, n int) [][]T {
	packed := make([][]T, 0, (n+memberChunk-1)/memberChunk)
	var cur []T
	for _, ch := range chunks {
		for _, x := range ch {
			if len(cur) == memberChunk {
				packed = append(packed, cur)
				cur = nil
			}
			if cur == nil {
				cur = make([]T, 0, min(memberChunk, n))
			}
			cur = append(cur, x)
			n--
		}
	}
	if len(cur) > 0 {
		packed = append(packed, cur)
	}
	return packed
}
