package serialize

import (
	"encoding/hex"
	"errors"
	"math"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/wampkit/wampkit/protocol"
)

// decodeSpent decodes data with a fresh decoder of s and returns what the
// decoder charged and what it really allocated (runtime.MemStats; the least
// of three tries, as other goroutines of the runtime may allocate
// meanwhile).
func decodeSpent(tb testing.TB, s Serializer, data []byte) (charged, allocated int64) {
	tb.Helper()
	allocated = math.MaxInt64
	for range 3 {
		c, a := decodeSpentOnce(tb, s, data)
		charged, allocated = c, min(allocated, a)
	}
	return charged, allocated
}

func decodeSpentOnce(tb testing.TB, s Serializer, data []byte) (charged, allocated int64) {
	tb.Helper()
	var b *budget
	var run func() error
	switch s {
	case JSON:
		d := &jsonDecoder{data: data, b: unlimited}
		b, run = &d.b, func() error { _, err := d.message(); return err }
	case MessagePack:
		d := &mpDecoder{data: data, b: unlimited}
		b, run = &d.b, func() error { _, err := d.message(); return err }
	case CBOR:
		d := &cbDecoder{data: data, b: unlimited}
		b, run = &d.b, func() error { _, err := d.message(); return err }
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err := run()
	runtime.ReadMemStats(&after)
	// Values too large for their compact size (such as many empty
	// dicts) are decoded and then refused.
	var be *budgetError
	if err != nil && !(errors.As(err, &be) && be.field != "") {
		tb.Fatalf("%v: decode: %v", s, err)
	}
	return b.spent, int64(after.TotalAlloc - before.TotalAlloc)
}

// TestDecodeCosts measures what decoding really allocates for a list of
// many copies of one value, in each format, and checks the estimates of
// budget.go against it: the decoders charge at least what they allocate
// (less a little slack for the message itself) and at most half as much
// again. Run with -v for the table of costs per value.
func TestDecodeCosts(t *testing.T) {
	if testing.CoverMode() != "" || raceOn {
		t.Skip("allocations differ under -cover and -race")
	}
	str := func(n int) string { return strings.Repeat("x", n) }
	dict := func(n int) map[string]any {
		m := make(map[string]any, n)
		for i := range n {
			m["k"+strconv.Itoa(i)] = nil
		}
		return m
	}
	list := func(n int) []any { return make([]any, n) }
	tests := []struct {
		name string
		val  any
		n    int // copies
	}{
		{"int 7", int64(7), 100000},
		{"int -1", int64(-1), 100000},
		{"int 1000", int64(1000), 100000},
		{"int 2^40", int64(1) << 40, 100000},
		{"uint 2^64-1", uint64(1<<64 - 1), 100000},
		{"float 1.5", 1.5, 100000},
		{"bool", true, 100000},
		{"nil", nil, 100000},
		{"string 0", "", 100000},
		{"string 1", str(1), 100000},
		{"string 2", str(2), 100000},
		{"string 7", str(7), 100000},
		{"string 16", str(16), 100000},
		{"string 17", str(17), 100000},
		{"string 33", str(33), 100000},
		{"string 1000", str(1000), 10000},
		{"string 40000", str(40000), 100},
		{"string with escapes", strings.Repeat(`"\`, 50), 10000},
		{"bytes 0", []byte{}, 100000},
		{"bytes 1", []byte{1}, 100000},
		{"bytes 16", make([]byte, 16), 100000},
		{"bytes 1000", make([]byte, 1000), 10000},
		{"bytes 40000", make([]byte, 40000), 100},
		{"list 0", list(0), 100000},
		{"list 1", list(1), 100000},
		{"list 3", list(3), 100000},
		{"list 100", list(100), 10000},
		{"dict 0", dict(0), 100000},
		{"dict 1", dict(1), 100000},
		{"dict 8", dict(8), 10000},
		{"dict 9", dict(9), 10000},
		{"dict 15", dict(15), 10000},
		{"dict 100", dict(100), 1000},
		{"dict 1000", dict(1000), 100},
		{"dict 5000", dict(5000), 20},
	}
	for _, tt := range tests {
		args := make(protocol.List, tt.n)
		for i := range args {
			args[i] = tt.val
		}
		msg := &protocol.Call{Request: 1, Procedure: "p", Args: args}
		for _, s := range []Serializer{JSON, MessagePack, CBOR} {
			data, err := s.Codec().Encode(nil, msg)
			if err != nil {
				t.Fatal(err)
			}
			charged, allocated := decodeSpent(t, s, data)
			t.Logf("%-8v %-20s %8.1f bytes each, charged %8.1f", s, tt.name,
				float64(allocated)/float64(tt.n), float64(charged)/float64(tt.n))
			slack := int64(16 << 10)
			if s == JSON { // the buffer of escaped strings is not charged
				slack += int64(len(data) / tt.n)
			}
			if charged < allocated-slack || charged > allocated+allocated/2+slack {
				t.Errorf("%v: %d × %s: charged %d bytes for %d allocated, want about as much", s, tt.n, tt.name, charged, allocated)
			}
		}
	}
}

// TestMapCost compares mapCost with what maps made with mapHint really
// take, around every size where the runtime changes the layout of a map.
func TestMapCost(t *testing.T) {
	if testing.CoverMode() != "" || raceOn {
		t.Skip("allocations differ under -cover and -race")
	}
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = strconv.Itoa(i)
	}
	sizes := []int{0, 1, 7, 8, 9}
	for slots := 16; slots <= 1<<16; slots *= 2 {
		for _, f := range []float64{0.44, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.875} {
			n := int(float64(slots) * f)
			sizes = append(sizes, n-1, n, n+1)
		}
	}
	var sink map[string]any
	for _, n := range sizes {
		if n > len(keys) {
			continue
		}
		// The least of three tries: other goroutines of the runtime may
		// allocate meanwhile.
		got := int64(math.MaxInt64)
		for range 3 {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			m := make(map[string]any, mapHint(n))
			for _, k := range keys[:n] {
				m[k] = nil
			}
			sink = m
			runtime.ReadMemStats(&after)
			got = min(got, int64(after.TotalAlloc-before.TotalAlloc))
		}
		est := mapCost(n)
		if est < got || est > got+got/8+64 {
			t.Errorf("mapCost(%d) = %d, but the map took %d bytes", n, est, got)
		}
	}
	_ = sink
}

// TestChunkCosts checks the cost constants of the stacks' chunks.
func TestChunkCosts(t *testing.T) {
	if got, want := int64(costValueChunk), allocCost(stackChunk*costSlot, true); got != want {
		t.Errorf("costValueChunk = %d, want %d", got, want)
	}
	if got, want := int64(costEntryChunk), allocCost(stackChunk*costEntry, true); got != want {
		t.Errorf("costEntryChunk = %d, want %d", got, want)
	}
}

// fuzzBase is the allowance of each field in FuzzBudgetStable: small, so
// that small inputs reach the limits.
const fuzzBase = 512

// decodeWith decodes data in s with fields of allowance base.
func decodeWith(s Serializer, data []byte, base int64) (protocol.Message, error) {
	b := newBudgetBase(len(data), base)
	switch s {
	case JSON:
		d := &jsonDecoder{data: data, b: b}
		return d.message()
	case MessagePack:
		d := &mpDecoder{data: data, b: b}
		return d.message()
	}
	d := &cbDecoder{data: data, b: b}
	return d.message()
}

// FuzzBudgetStable checks that the budget depends on the message, not on
// how it was written: whatever a decoder accepts, in any format, encodes
// in every format into a message that decoder accepts too, as when a
// router forwards a message to other peers. Fields have a small allowance
// so that small inputs reach the limits; every input is tried in every
// format.
func FuzzBudgetStable(f *testing.F) {
	// From 5 dicts on, the seeds exceed the budget of Kwargs.
	for n := range 12 {
		l := make([]any, n)
		for i := range l {
			l[i] = map[string]any{"x": int64(i), "y": []any{}}
		}
		m := &protocol.Event{Subscription: 1, Publication: 2, Details: protocol.Dict{"topic": "a.b"},
			Args: protocol.List{strings.Repeat("s", 2*n), 1.5, []byte{1}}, Kwargs: protocol.Dict{"l": l}}
		for _, s := range []Serializer{JSON, MessagePack, CBOR} {
			b, err := s.Codec().Encode(nil, m)
			if err != nil {
				f.Fatal(err)
			}
			_, err = decodeWith(s, b, fuzzBase)
			if refused := errors.Is(err, ErrDecodeBudget); refused != (n >= 5) {
				f.Fatalf("%v: %d dicts: %v, want refused: %v", s, n, err, n >= 5)
			}
			f.Add(b)
		}
	}
	f.Add([]byte(`[36, 1, 2, {}, [], {"l": [{"":0},   {"":1},    {"":[]},   {}]}]`))
	f.Add([]byte("\x86\x18\x24\x01\x02\xa0\x9f\xff\xbf\x61\x6c\x9f\xbf\x60\xf6\xff\xc1\xa1\x60\x7f\x61\x61\xff\xff\xff"))
	// JavaScript undefined in lists and dicts (see TestDecodeJSUndefined).
	for _, h := range []string{
		"963002de0000b0636f6d2e6578616d706c652e70726f639301d40000a178de0003a161d40000a16202a66e6573746564de0002a163d40000a16491d40000",
		"86183002b9000070636f6d2e6578616d706c652e70726f638301f76178b900036161f7616202666e6573746564b900026163f7616481f7",
	} {
		b, err := hex.DecodeString(h)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, s := range []Serializer{JSON, MessagePack, CBOR} {
			m, err := decodeWith(s, data, fuzzBase)
			if err != nil {
				continue // the errors are FuzzDecode*'s business
			}
			for _, s2 := range []Serializer{JSON, MessagePack, CBOR} {
				b, err := s2.Codec().Encode(nil, m)
				if err != nil {
					continue // such as NaN or a NUL-led string in JSON
				}
				if _, err := decodeWith(s2, b, fuzzBase); err != nil {
					t.Fatalf("%v accepts %q, but %v refuses its encoding %q: %v", s, data, s2, b, err)
				}
			}
		}
	})
}
