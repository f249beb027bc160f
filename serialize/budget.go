package serialize

import (
	"errors"
	"math"
	"math/bits"
	"strconv"
)

// ErrDecodeBudget is matched (with errors.Is) by the error [Codec.Decode]
// returns for a message that would take too much memory to decode (see the
// package documentation, "Limits on hostile input"). That error is a
// *[DecodeError] and also wraps protocol.ErrMalformed.
var ErrDecodeBudget = errors.New("serialize: decoded message too large for its size")

// The limits of the memory decoding may take. Decoding one message of n
// bytes may allocate at most BudgetPerByte*n + 4*BudgetBase bytes, and
// the value of each list or dict element of the message (Details,
// Options, Args, Kwargs ...) may take at most BudgetPerByte bytes per
// byte of its compact size, plus BudgetBase.
const (
	// BudgetPerByte bounds the memory a decoded value may take per byte of
	// its compact size, and what decoding may allocate per byte of the
	// message. Realistic payloads take at most about 34 (lists of
	// {"x":1.5,"y":2.5}, see TestDecodeRealisticPayloads); what takes more
	// consists mostly of dicts of one or two tiny entries, such as {} or
	// {"x":1,"y":2}.
	BudgetPerByte = 40
	// BudgetBase is the allowance every list or dict element of a message
	// has on top of BudgetPerByte per byte: small messages are never
	// refused, whatever their shape.
	BudgetBase = 64 << 10
)

// The compact size of a value (its credit) is the sum, over the value and
// everything in it, of 1 byte per value, plus the length of strings,
// binary values and dict keys, plus a little for numbers (see intCredit
// and floatCredit): never more than the value takes in any of the three
// formats as this package writes them. It depends only on the value, not
// on the input, and so does the cost of the value (what decoders use only
// for some encodings, such as the stacks of JSON and of CBOR's indefinite
// lengths, is charged as stack, which counts for the limit of the message
// only). So a message that one peer sent within its budget, in any format
// and however padded, is within its budget when a router forwards it to
// any other peer, in any format: the router may change Details and
// Options, each with a budget of its own, but not Args and Kwargs
// (FuzzBudgetStable).

// Estimated Go heap cost, in bytes, of what the decoders build, measured
// with runtime.MemStats on Go 1.26 (64-bit) by TestDecodeCosts. Decoders
// charge a value before they allocate it, and stop before they allocate
// more than the limit.
const (
	// costSlot is one element of a []any (an interface value); a []any
	// is rounded up to a size class (see listCost).
	costSlot = 16
	// costWord is an int64, uint64 or float64 in an interface. Integers
	// 0..255 are free (the runtime keeps them preallocated).
	costWord = 8
	// costStringHeader is a non-empty string in an interface.
	costStringHeader = 16
	// costSliceHeader is a non-empty []any or []byte in an interface.
	// Empty ones are shared (emptyList, emptyBytes) and free.
	costSliceHeader = 24
	// costEntry is a dict entry on a decoder's stack (see valueStack).
	costEntry = 32
	// costValueChunk and costEntryChunk are the chunks of the stacks.
	costValueChunk = stackChunk*costSlot + 768   // 4096 bytes + 8 bytes of header: 4864
	costEntryChunk = stackChunk*costEntry + 1280 // 8192 bytes + 8 bytes of header: 9472
	// costMapEmpty is a map with no entries, costMapSmall one with 1 to
	// 8 entries (the header and one group of 8 slots).
	costMapEmpty = 48
	costMapSmall = 336
	// costMapSlot is one slot of a larger map: 32 bytes of key and value,
	// a control byte, and the rounding of groups to size classes;
	// costMapTable is the header and directory entry of each table of up
	// to 1024 slots.
	costMapSlot  = 40
	costMapTable = 56
)

// emptyList and emptyBytes are the values of every empty nested list and
// byte string a decoder returns. An empty slice has no element anyone
// could change, so sharing one interface value instead of allocating a
// slice header each time is invisible to callers (even the data pointer of
// a fresh empty slice is the same for all of them).
var (
	emptyList  any = []any{}
	emptyBytes any = []byte{}
)

// mapCost estimates a map of n entries made with mapHint(n).
func mapCost(n int) int64 {
	switch {
	case n == 0:
		return costMapEmpty
	case n <= 8:
		return costMapSmall
	}
	slots := mapSlots(mapHint(n))
	return costMapEmpty + slots*costMapSlot + (slots/1024+1)*costMapTable
}

// mapSlots is the number of slots the runtime gives a map made for n > 8
// entries (internal/runtime/maps.NewMap): room for n/(7/8) entries in a
// directory of a power-of-two number of tables, each with a power-of-two
// number of slots, at most 1024.
func mapSlots(n int) int64 {
	target := uint64(n) * 8 / 7
	if target <= 1024 {
		return pow2(target)
	}
	dir := pow2((target + 1023) / 1024)
	return int64(dir) * pow2(target/uint64(dir))
}

// pow2 rounds n > 0 up to a power of two.
func pow2(n uint64) int64 { return 1 << bits.Len64(n-1) }

// mapHint is the size hint decoders make a map of n entries with. A map
// of more than one table made for exactly n entries may grow while they
// are inserted, because its tables do not fill evenly: one that would be
// more than 60% full is made with twice the room, which it then does not
// outgrow (TestMapCost).
func mapHint(n int) int {
	if uint64(n)*8/7 > 1024 && int64(n)*5 > mapSlots(n)*3 {
		return 2 * n
	}
	return n
}

// Allocation sizes (internal/runtime/gc/sizeclasses.go): small objects are
// rounded up to a size class, objects with pointers of more than 512
// bytes also have an 8-byte header, and objects of more than 32 KiB are
// rounded up to 8 KiB pages.
var sizeClasses = [...]uint16{8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256,
	288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792, 2048,
	2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880,
	12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768}

// classOf maps (size+127)/128 to the size class of that size, for sizes
// of more than 1024 bytes; classOf8 (size+7)/8 for the others.
var classOf8, classOf128 = func() (c8 [1024/8 + 1]uint16, c128 [32768/128 + 1]uint16) {
	class := func(n int) uint16 {
		for _, c := range sizeClasses {
			if int(c) >= n {
				return c
			}
		}
		panic("serialize: no size class")
	}
	for i := range c8 {
		c8[i] = class(i * 8)
	}
	for i := range c128 {
		c128[i] = class(max(i*128, 1025))
	}
	return c8, c128
}()

// allocCost is what allocating n bytes takes; pointers says whether the
// object holds pointers.
func allocCost(n int64, pointers bool) int64 {
	if pointers && n > 512 {
		n += 8
	}
	switch {
	case n <= 0:
		return 0
	case n <= 1024:
		return int64(classOf8[(n+7)/8])
	case n <= 32768:
		return int64(classOf128[(n+127)/128])
	}
	return (n + 8191) &^ 8191
}

// listCost is what a []any of n elements takes.
func listCost(n int) int64 { return allocCost(costSlot*int64(n), true) }

// bytesCost estimates the data of a string or []byte of n bytes. Data of
// less than 16 bytes shares 16-byte blocks (the tiny allocator).
func bytesCost(n int) int64 {
	if n < 16 {
		return int64(n+7) &^ 7
	}
	return allocCost(int64(n), false)
}

// stringCost estimates the data of a string of n bytes: empty strings and
// strings of one byte are not allocated.
func stringCost(n int) int64 {
	if n <= 1 {
		return 0
	}
	return bytesCost(n)
}

// wordCost is costWord, or 0 for the integers the runtime does not
// allocate when they are put in an interface.
func wordCost(v uint64) int64 {
	if v < 256 {
		return 0
	}
	return costWord
}

// intCredit is the compact size of an integer: the shortest of its
// MessagePack, CBOR and JSON encodings.
func intCredit(v int64) int64 {
	switch {
	case v >= -32 && v <= 127:
		return 1
	case v >= -256 && v <= 255:
		return 2
	case v >= -1<<16 && v < 1<<16:
		return 3
	case v >= -1<<32 && v < 1<<32:
		return 5
	}
	return 9
}

// floatCredit is the compact size of a float64: JSON may write it in 3
// bytes ("1.5").
const floatCredit = 3

// budget tracks what decoding one message has spent, what it may spend,
// and what its values are worth. Decoders embed it.
type budget struct {
	spent int64 // estimated bytes allocated, stacks included
	limit int64 // for spent
	stack int64 // part of spent on stacks, which is not in the message
	// credit is the compact size of the values decoded so far.
	credit int64
	// base is the allowance of each field (BudgetBase but in tests).
	base int64
}

// newBudget returns the budget of a message of size bytes.
func newBudget(size int) budget { return newBudgetBase(size, BudgetBase) }

// newBudgetBase returns the budget of a message of size bytes whose fields
// have an allowance of base bytes. A message has at most 3 list or dict
// fields (CALL: Options, Args and Kwargs), which may take
// BudgetPerByte*size + 3*base; BudgetBase more covers the rounding of the
// stacks to chunks.
func newBudgetBase(size int, base int64) budget {
	return budget{limit: int64(size)*BudgetPerByte + 3*base + BudgetBase, base: base}
}

// unlimited is the budget of values that do not come from a peer.
var unlimited = budget{limit: math.MaxInt64, base: math.MaxInt64 / 2}

// spend charges cost bytes and credits credit bytes of compact size. It
// reports false if the limit is exceeded.
func (b *budget) spend(cost, credit int64) bool {
	b.spent += cost
	b.credit += credit
	return b.spent <= b.limit
}

// spendStack charges cost bytes of stack.
func (b *budget) spendStack(cost int64) bool {
	b.stack += cost
	b.spent += cost
	return b.spent <= b.limit
}

// exceeded returns the problem of a message that exceeded the limit.
func (b *budget) exceeded(size int) error {
	return &budgetError{size: size, limit: b.limit}
}

// mark is where a field of a message starts.
type mark struct{ cost, credit int64 }

func (b *budget) mark() mark { return mark{b.spent - b.stack, b.credit} }

// check reports an error if the value decoded since m takes more than
// BudgetPerByte per byte of its compact size, plus the base allowance.
// Decoders check each dict and list element of a message.
func (b *budget) check(m mark, field string) error {
	cost := b.spent - b.stack - m.cost
	if cost <= b.base {
		return nil
	}
	credit := b.credit - m.credit
	if cost <= credit*BudgetPerByte+b.base {
		return nil
	}
	return &budgetError{field: field, cost: cost, credit: credit, limit: b.base}
}

// budgetError is the problem a decoder reports when a message exceeds its
// budget. It matches ErrDecodeBudget.
type budgetError struct {
	size         int    // of the message, if it exceeds the limit for its size
	field        string // else the field that takes too much
	cost, credit int64  // of the field
	limit        int64  // of the message, or the base allowance of the field
}

func (e *budgetError) Error() string {
	if e.field == "" {
		return "decoding would take more than " + strconv.FormatInt(e.limit, 10) +
			" bytes of memory, the limit for " + strconv.Itoa(e.size) + " bytes"
	}
	return e.field + ": decoded value takes " + strconv.FormatInt(e.cost, 10) +
		" bytes of memory, more than " + strconv.Itoa(BudgetPerByte) + " per byte of its compact size (" +
		strconv.FormatInt(e.credit, 10) + " bytes) plus " + strconv.FormatInt(e.limit, 10)
}

func (e *budgetError) Is(target error) bool { return target == ErrDecodeBudget }
