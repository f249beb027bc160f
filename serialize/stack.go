package serialize

// Decoders that do not know how many elements a list or dict has until its
// end (JSON, and CBOR's indefinite lengths) push the elements on a stack
// and then allocate the list or map at its final size. The stack keeps
// its values in fixed-size chunks: growing it never copies what it holds,
// so the memory it takes is what it holds, rounded up to a chunk, and it is
// charged to the budget chunk by chunk, the first time a decode reaches
// each one.

const (
	stackShift = 8
	stackChunk = 1 << stackShift // values per chunk
	stackMask  = stackChunk - 1
	// stackKeep is how many chunks a pooled decoder keeps between
	// messages.
	stackKeep = 4
)

// entry is an element of a dict being decoded.
type entry struct {
	key string
	val any
}

// valueStack is a stack of values of type T in chunks of stackChunk.
type valueStack[T any] struct {
	chunks []*[stackChunk]T
	n      int // values on the stack
	used   int // chunks reached since reset; chunks[used:] are spare
}

// full reports whether a push needs a chunk that has not been used since
// reset: the caller charges for it and calls grow.
func (s *valueStack[T]) full() bool { return s.n == s.used<<stackShift }

// grow makes room for stackChunk more values (after full).
func (s *valueStack[T]) grow() {
	if s.used == len(s.chunks) {
		s.chunks = append(s.chunks, new([stackChunk]T))
	}
	s.used++
}

// push adds v; there must be room (see full).
func (s *valueStack[T]) push(v T) {
	s.chunks[s.n>>stackShift][s.n&stackMask] = v
	s.n++
}

// at returns the value at position i (counted from the bottom).
func (s *valueStack[T]) at(i int) T { return s.chunks[i>>stackShift][i&stackMask] }

// popTo copies the values above base to dst, which must have room for
// exactly those, and pops them.
func (s *valueStack[T]) popTo(base int, dst []T) {
	for i := base; i < s.n; {
		c := s.chunks[i>>stackShift]
		off := i & stackMask
		k := copy(dst[i-base:], c[off:])
		clear(c[off : off+k])
		i += k
	}
	s.n = base
}

// pop drops the values above base.
func (s *valueStack[T]) pop(base int) {
	for i := base; i < s.n; {
		c := s.chunks[i>>stackShift]
		off := i & stackMask
		k := min(stackChunk-off, s.n-i)
		clear(c[off : off+k])
		i += k
	}
	s.n = base
}

// reset empties the stack for the next message, keeping at most keep
// chunks for it.
func (s *valueStack[T]) reset(keep int) {
	s.pop(0)
	s.used = 0
	if len(s.chunks) > keep {
		clear(s.chunks[keep:])
		s.chunks = s.chunks[:keep]
	}
}

// decodeStacks are the stacks of a decoder.
type decodeStacks struct {
	vals valueStack[any]   // elements of the lists being decoded
	ents valueStack[entry] // entries of the dicts being decoded
}

// pushValue charges b for a new chunk of the stack, if one is needed, and
// pushes v. It reports false, pushing nothing, if the budget runs out. The
// list the values end up in is charged when it is made (see listCost):
// until then, the chunks charge as much per value.
func (st *decodeStacks) pushValue(b *budget, v any) bool {
	if st.vals.full() {
		if !b.spendStack(costValueChunk) {
			return false
		}
		st.vals.grow()
	}
	st.vals.push(v)
	return true
}

// pushEntry charges b for a new chunk of the stack, if one is needed, and
// pushes e. It reports false, pushing nothing, if the budget runs out. The
// map the entries end up in is charged when it is made (see mapCost).
func (st *decodeStacks) pushEntry(b *budget, e entry) bool {
	if st.ents.full() {
		if !b.spendStack(costEntryChunk) {
			return false
		}
		st.ents.grow()
	}
	st.ents.push(e)
	return true
}

// reset empties both stacks, keeping at most keep chunks of each.
func (st *decodeStacks) reset(keep int) {
	st.vals.reset(keep)
	st.ents.reset(keep)
}
