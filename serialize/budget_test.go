package serialize_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

// maxAlloc is the most decoding a message of n bytes may allocate: its
// budget, plus (for JSON) the buffer of escaped strings, plus some slack
// for the decoder itself and the error.
func maxAlloc(n int) uint64 {
	return uint64(n)*serialize.BudgetPerByte + 4*serialize.BudgetBase + uint64(n) + 64<<10
}

// allocated returns the bytes allocated while running f. Tests that use it
// must not run in parallel with others.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// hostile is the shape of a hostile message: a CALL whose Args holds
// copies of one element, each a few bytes that decode into much more.
type hostile struct {
	s    serialize.Serializer
	name string
	elem []byte
	// refused is set when the shape takes more than BudgetPerByte per
	// byte, so that a large message of it must be refused; early is set
	// when even its frame is too small for it, so that decoding must stop
	// before the end of the message.
	refused, early bool
	// big is set for the shapes also tested in 16 MiB messages.
	big bool
}

// frame builds a message of about size bytes from h.
func (h hostile) frame(size int) []byte {
	n := (size - 16) / len(h.elem)
	var b []byte
	switch h.s {
	case serialize.JSON:
		b = append(b, `[48,1,{},"a.b",[`...)
		b = append(b, bytes.Repeat(h.elem, n)...)
		b = append(b[:len(b)-1], "]]"...) // drop the last comma
	case serialize.MessagePack:
		b = append(b, 0x95, 0x30, 0x01, 0x80, 0xa3, 'a', '.', 'b', 0xdd, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
		b = append(b, bytes.Repeat(h.elem, n)...)
	case serialize.CBOR:
		b = append(b, 0x85, 0x18, 0x30, 0x01, 0xa0, 0x63, 'a', '.', 'b', 0x9a, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
		b = append(b, bytes.Repeat(h.elem, n)...)
	}
	return b
}

// hostileShapes are the elements that take the most memory per byte, in
// every format (measured in TestDecodeCosts).
func hostileShapes() []hostile {
	return []hostile{
		{s: serialize.JSON, name: "zeros", elem: []byte("0,")},
		{s: serialize.JSON, name: "negative", elem: []byte("-1,")},
		{s: serialize.JSON, name: "empty lists", elem: []byte("[],")},
		{s: serialize.JSON, name: "empty strings", elem: []byte(`"",`)},
		{s: serialize.JSON, name: "one-element lists", elem: []byte("[0],")},
		{s: serialize.JSON, name: "nested lists", elem: []byte("[[[[]]]],"), big: true},
		{s: serialize.JSON, name: "empty dicts", elem: []byte("{},"), refused: true},
		{s: serialize.JSON, name: "tiny dicts", elem: []byte(`{"":0},`), refused: true, early: true, big: true},
		{s: serialize.JSON, name: "padded tiny dicts", elem: []byte(`{"":0}                   ,`), refused: true, big: true},
		{s: serialize.JSON, name: "points", elem: []byte(`{"x":1,"y":2},`), refused: true},
		{s: serialize.MessagePack, name: "fixints", elem: []byte{0x01}},
		{s: serialize.MessagePack, name: "negative fixints", elem: []byte{0xff}},
		{s: serialize.MessagePack, name: "nils", elem: []byte{0xc0}},
		{s: serialize.MessagePack, name: "empty lists", elem: []byte{0x90}},
		{s: serialize.MessagePack, name: "empty strings", elem: []byte{0xa0}},
		{s: serialize.MessagePack, name: "one-byte strings", elem: []byte{0xa1, 'x'}},
		{s: serialize.MessagePack, name: "empty binary", elem: []byte{0xc4, 0x00}},
		{s: serialize.MessagePack, name: "one-element lists", elem: []byte{0x91, 0x00}},
		{s: serialize.MessagePack, name: "nested lists", elem: []byte{0x91, 0x91, 0x91, 0x90}, big: true},
		{s: serialize.MessagePack, name: "empty dicts", elem: []byte{0x80}, refused: true, early: true},
		{s: serialize.MessagePack, name: "tiny dicts", elem: []byte{0x81, 0xa0, 0xc0}, refused: true, early: true, big: true},
		{s: serialize.MessagePack, name: "points", elem: []byte{0x82, 0xa1, 'x', 0x01, 0xa1, 'y', 0x02}, refused: true, early: true},
		{s: serialize.MessagePack, name: "padded tiny dicts", elem: []byte{0xde, 0x00, 0x01, 0xdb, 0, 0, 0, 0, 0xd3, 0, 0, 0, 0, 0, 0, 0, 0}, refused: true, big: true},
		{s: serialize.CBOR, name: "integers", elem: []byte{0x01}},
		{s: serialize.CBOR, name: "negative integers", elem: []byte{0x20}},
		{s: serialize.CBOR, name: "nulls", elem: []byte{0xf6}},
		{s: serialize.CBOR, name: "empty lists", elem: []byte{0x80}},
		{s: serialize.CBOR, name: "empty strings", elem: []byte{0x60}},
		{s: serialize.CBOR, name: "empty binary", elem: []byte{0x40}},
		{s: serialize.CBOR, name: "empty indefinite lists", elem: []byte{0x9f, 0xff}},
		{s: serialize.CBOR, name: "indefinite strings", elem: []byte{0x7f, 0x61, 'x', 0xff}},
		{s: serialize.CBOR, name: "one-element lists", elem: []byte{0x81, 0x00}, big: true},
		{s: serialize.CBOR, name: "empty dicts", elem: []byte{0xa0}, refused: true, early: true},
		{s: serialize.CBOR, name: "empty indefinite dicts", elem: []byte{0xbf, 0xff}, refused: true, big: true},
		{s: serialize.CBOR, name: "tiny dicts", elem: []byte{0xa1, 0x60, 0xf6}, refused: true, early: true, big: true},
		{s: serialize.CBOR, name: "points", elem: []byte{0xa2, 0x61, 'x', 0x01, 0x61, 'y', 0x02}, refused: true, early: true},
		{s: serialize.CBOR, name: "tagged tiny dicts", elem: []byte{0xc1, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1, 0xa1, 0x60, 0xf6}, refused: true},
	}
}

// TestDecodeBudget decodes the most expensive messages per byte that an
// attacker can build: decoding never allocates more than the budget of
// the message, and the shapes that take more than BudgetPerByte per byte
// are refused with ErrDecodeBudget, before the end of the message when
// the message itself is too small for them. Messages are of 1 MiB (256
// KiB with -race, which makes this slow), and for some shapes also of 16
// MiB, as a router whose limit was raised accepts (without -short and
// -race).
func TestDecodeBudget(t *testing.T) {
	size, big := 1<<20, !testing.Short() && !raceEnabled
	if raceEnabled {
		size = 256 << 10
	}
	for _, h := range hostileShapes() {
		sizes := []int{size}
		if h.big && big {
			sizes = append(sizes, 16<<20)
		}
		for _, size := range sizes {
			t.Run(fmt.Sprintf("%v/%s/%dKiB", h.s, h.name, size>>10), func(t *testing.T) {
				in := h.frame(size)
				var err error
				got := allocated(func() { _, err = h.s.Codec().Decode(in) })
				t.Logf("%d bytes: %d bytes allocated (%.1f per byte), error: %v", len(in), got, float64(got)/float64(len(in)), err)
				if limit := maxAlloc(len(in)); got > limit {
					t.Errorf("Decode(%d bytes of %s) allocated %d bytes, more than its budget (%d)", len(in), h.name, got, limit)
				}
				switch {
				case err == nil && h.refused:
					t.Fatalf("Decode(%d bytes of %s) succeeded, want ErrDecodeBudget", len(in), h.name)
				case err == nil:
					return
				case !h.refused || !errors.Is(err, serialize.ErrDecodeBudget):
					t.Fatalf("Decode(%d bytes of %s) = %v, want success", len(in), h.name, err)
				}
				if !errors.Is(err, protocol.ErrMalformed) {
					t.Errorf("Decode error %v does not wrap protocol.ErrMalformed", err)
				}
				var de *serialize.DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("Decode error %T is not a *DecodeError", err)
				}
				if h.early && (de.Offset < 0 || de.Offset >= len(in)) {
					t.Errorf("Decode error at offset %d of %d, want decoding stopped before the end", de.Offset, len(in))
				}
			})
		}
	}
}

// realistic returns application payloads of ordinary shapes, each of about
// 1 MiB in MessagePack (128 KiB with -race, which makes this slow): they
// must decode in every format.
func realistic() []struct {
	name   string
	args   protocol.List
	kwargs protocol.Dict
} {
	r := rand.New(rand.NewPCG(1, 2))
	scale := 1
	if raceEnabled {
		scale = 8
	}
	word := func() string {
		const letters = "abcdefghijklmnopqrstuvwxyz"
		b := make([]byte, 3+r.IntN(8))
		for i := range b {
			b[i] = letters[r.IntN(len(letters))]
		}
		return string(b)
	}
	round := func(f float64, digits int) float64 {
		v, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'f', digits, 64), 64)
		return v
	}
	list := func(n int, f func(i int) any) protocol.List {
		l := make(protocol.List, n)
		for i := range l {
			l[i] = f(i)
		}
		return l
	}
	blob := make([]byte, 1<<20/scale)
	for i := range blob {
		blob[i] = byte(r.Uint32())
	}
	paragraph := strings.Repeat(`Lorem "ipsum" dolor sit amet, consectetur adipiscing elit; ünïcödé ☃ 𝄞\n`, 20)
	tree := func() any {
		var build func(depth int) any
		build = func(depth int) any {
			if depth == 0 {
				return map[string]any{"name": word(), "size": int64(r.IntN(1 << 20)), "ratio": round(r.Float64(), 3), "enabled": r.IntN(2) == 0}
			}
			m := map[string]any{}
			for range 4 {
				m[word()] = build(depth - 1)
			}
			return m
		}
		if scale > 1 {
			return build(5)
		}
		return build(6)
	}
	wide := map[string]any{}
	for i := range 60000 / scale {
		wide["key-"+strconv.Itoa(i)] = int64(r.IntN(1000))
	}
	return []struct {
		name   string
		args   protocol.List
		kwargs protocol.Dict
	}{
		{name: "binary", args: protocol.List{blob}},
		{name: "text", args: list(700/scale, func(int) any { return paragraph })},
		{name: "floats", args: list(120000/scale, func(int) any { return r.NormFloat64() * 1000 })},
		{name: "timestamps", args: list(120000/scale, func(i int) any { return int64(1_700_000_000_000 + 1000*i) })},
		{name: "small integers", args: list(1<<20/scale, func(int) any { return int64(r.IntN(100)) })},
		{name: "booleans", args: list(1<<20/scale, func(int) any { return r.IntN(2) == 0 })},
		{name: "words", args: list(150000/scale, func(int) any { return word() })},
		{name: "records", args: list(15000/scale, func(i int) any {
			return map[string]any{"id": int64(i), "name": word() + " " + word(), "email": word() + "@example.com",
				"active": i%3 == 0, "score": round(r.Float64()*100, 1), "tags": []any{word(), word()}}
		})},
		{name: "points", args: list(45000/scale, func(int) any {
			return map[string]any{"x": round(r.Float64()*2000-1000, 2), "y": round(r.Float64()*2000-1000, 2)}
		})},
		{name: "short points", args: list(45000/scale, func(int) any {
			return map[string]any{"x": float64(r.IntN(100)) / 2, "y": float64(r.IntN(100)) / 4}
		})},
		{name: "time series", args: list(70000/scale, func(i int) any {
			return map[string]any{"t": int64(1_700_000_000 + i), "v": round(r.Float64()*40, 1)}
		})},
		{name: "counters", args: list(70000/scale, func(i int) any {
			return map[string]any{"ts": int64(1_700_000_000 + i), "count": int64(r.IntN(100))}
		})},
		{name: "matrix", args: list(4000/scale, func(int) any {
			return list(32, func(int) any { return round(r.Float64(), 4) })
		})},
		{name: "small matrix", args: list(100000/scale, func(int) any {
			return []any{int64(r.IntN(10)), int64(r.IntN(10)), int64(r.IntN(10))}
		})},
		{name: "edges", args: list(250000/scale, func(int) any { return []any{int64(r.IntN(100)), int64(r.IntN(100))} })},
		{name: "features", args: list(8000/scale, func(i int) any {
			return map[string]any{"type": "Feature",
				"geometry":   map[string]any{"type": "Point", "coordinates": []any{round(r.Float64()*360-180, 6), round(r.Float64()*180-90, 6)}},
				"properties": map[string]any{"name": word(), "population": int64(r.IntN(1 << 24))}}
		})},
		{name: "config tree", kwargs: protocol.Dict{"tree": tree()}},
		{name: "wide dict", kwargs: wide},
	}
}

// TestDecodeRealisticPayloads checks that the budget refuses no ordinary
// message: payloads of about 1 MiB of numbers, strings, binary, records and
// nested dicts decode in every format, and re-encoded in every other format
// decode again.
func TestDecodeRealisticPayloads(t *testing.T) {
	for _, p := range realistic() {
		msg := &protocol.Call{Request: 1, Procedure: "com.example.store", Args: p.args, Kwargs: p.kwargs}
		for _, s := range serializers {
			t.Run(p.name+"/"+s.String(), func(t *testing.T) {
				in, err := s.Codec().Encode(nil, msg)
				if err != nil {
					t.Fatal(err)
				}
				var m protocol.Message
				got := allocated(func() { m, err = s.Codec().Decode(in) })
				if err != nil {
					t.Fatalf("Decode(%d bytes) = %v", len(in), err)
				}
				t.Logf("%d bytes: %d bytes allocated (%.1f per byte)", len(in), got, float64(got)/float64(len(in)))
				if !sameMessage(msg, m) {
					t.Fatalf("Decode(Encode(%s)) differs", p.name)
				}
				for _, s2 := range serializers {
					b, err := s2.Codec().Encode(nil, m)
					if err != nil {
						t.Fatal(err)
					}
					if _, err := s2.Codec().Decode(b); err != nil {
						t.Errorf("%v: Decode(Encode(Decode(%v))) = %v", s2, s, err)
					}
				}
			})
		}
	}
}

// TestDecodeBudgetStable checks that whether a message is within its
// budget depends on the message, not on how it is encoded: a router that
// accepted a message from one peer, in any format and however padded,
// forwards it to peers that decode it, in any format. Around the largest
// list of tiny dicts MessagePack accepts, every format, padded or not,
// accepts and refuses the same lists.
func TestDecodeBudgetStable(t *testing.T) {
	msg := func(n int) *protocol.Event {
		return &protocol.Event{Subscription: 1, Publication: 2,
			Args: protocol.List{"header", strings.Repeat("x", 1000)},
			Kwargs: protocol.Dict{"points": func() []any {
				l := make([]any, n)
				for i := range l {
					l[i] = map[string]any{"x": int64(i % 100), "y": int64(2)}
				}
				return l
			}()}}
	}
	accepts := func(s serialize.Serializer, n int, pad bool) bool {
		b, err := s.Codec().Encode(nil, msg(n))
		if err != nil {
			t.Fatal(err)
		}
		if pad { // JSON white space, 30 bytes after every comma
			b = bytes.ReplaceAll(b, []byte(","), []byte(","+strings.Repeat(" ", 30)))
		}
		_, err = s.Codec().Decode(b)
		if err != nil && !errors.Is(err, serialize.ErrDecodeBudget) {
			t.Fatalf("%v: Decode(%d points) = %v", s, n, err)
		}
		return err == nil
	}
	// The largest n MessagePack accepts.
	lo, hi := 1, 1<<16
	if !accepts(serialize.MessagePack, lo, false) || accepts(serialize.MessagePack, hi, false) {
		t.Fatalf("MessagePack accepts %d points: %v, %d: %v; want true, false", lo, accepts(serialize.MessagePack, lo, false), hi, accepts(serialize.MessagePack, hi, false))
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if accepts(serialize.MessagePack, mid, false) {
			lo = mid
		} else {
			hi = mid
		}
	}
	t.Logf("MessagePack accepts up to %d points", lo)
	for _, n := range []int{lo - 1, lo, lo + 1, lo + 2} {
		want := n <= lo
		for _, s := range serializers {
			if got := accepts(s, n, false); got != want {
				t.Errorf("%v: Decode(%d points) accepted = %v, want %v (as MessagePack)", s, n, got, want)
			}
		}
		if got := accepts(serialize.JSON, n, true); got != want {
			t.Errorf("padded JSON: Decode(%d points) accepted = %v, want %v (as MessagePack)", n, got, want)
		}
	}
}
