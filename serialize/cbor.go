package serialize

import (
	"encoding/binary"
	"errors"
	"math"
	"unicode/utf8"

	"github.com/wampkit/wampkit/protocol"
)

// cborCodec implements CBOR (RFC 8949, WAMP spec basic/serializations
// "CBOR"). It writes the shortest heads and definite lengths, and reads
// definite and indefinite lengths; tags are skipped.
type cborCodec struct{}

var _ Codec = cborCodec{}

// CBOR major types (RFC 8949 §3.1).
const (
	cbUint   = 0 << 5
	cbNeg    = 1 << 5
	cbBytes  = 2 << 5
	cbText   = 3 << 5
	cbArray  = 4 << 5
	cbMap    = 5 << 5
	cbTag    = 6 << 5
	cbSimple = 7 << 5

	cbFalse = 0xf4
	cbTrue  = 0xf5
	cbNull  = 0xf6
	cbBreak = 0xff
)

// Encode implements [Codec].
func (cborCodec) Encode(dst []byte, m protocol.Message) ([]byte, error) {
	if sh, ok := m.(*Shared); ok {
		b, err := sh.Bytes(CBOR)
		return append(dst, b...), err
	}
	e, err := protocol.ElementsOf(m)
	if err != nil {
		return dst, invalidMessage(CBOR, m, err)
	}
	lay := e.Layout()
	typ := lay.Type()
	dst = cbHead(dst, cbArray, uint64(e.Len()+1))
	dst = cbHead(dst, cbUint, uint64(typ))
	for i := range e.Len() {
		f := lay.Field(i)
		switch f.Kind {
		case protocol.KindInt:
			dst = cbHead(dst, cbUint, e.Int(i))
		case protocol.KindString:
			if dst, err = cbString(dst, e.String(i)); err != nil {
				return dst, encodeError(CBOR, typ, f.Name, err)
			}
		case protocol.KindDict:
			if dst, err = cbDict(dst, e.Dict(i), 2); err != nil {
				return dst, encodeError(CBOR, typ, f.Name, err)
			}
		case protocol.KindList:
			if dst, err = cbList(dst, e.List(i), 2); err != nil {
				return dst, encodeError(CBOR, typ, f.Name, err)
			}
		}
	}
	return dst, nil
}

// cbHead writes the shortest head for major type major and argument n.
func cbHead(dst []byte, major byte, n uint64) []byte {
	switch {
	case n < 24:
		return append(dst, major|byte(n))
	case n <= math.MaxUint8:
		return append(dst, major|24, byte(n))
	case n <= math.MaxUint16:
		return append(dst, major|25, byte(n>>8), byte(n))
	case n <= math.MaxUint32:
		return append(dst, major|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return binary.BigEndian.AppendUint64(append(dst, major|27), n)
}

func cbInt(dst []byte, v int64) []byte {
	if v >= 0 {
		return cbHead(dst, cbUint, uint64(v))
	}
	return cbHead(dst, cbNeg, uint64(^v)) // -1-v
}

func cbString(dst []byte, s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return dst, errInvalidUTF8
	}
	return append(cbHead(dst, cbText, uint64(len(s))), s...), nil
}

func cbDict(dst []byte, d map[string]any, depth int) ([]byte, error) {
	if depth > maxDepth {
		return dst, errTooDeep
	}
	dst = cbHead(dst, cbMap, uint64(len(d)))
	var scratch [16]string
	var err error
	for _, k := range sortedKeys(d, scratch[:0]) {
		if dst, err = cbString(dst, k); err != nil {
			return dst, err
		}
		if dst, err = cbValue(dst, d[k], depth+1); err != nil {
			return dst, pathError(k, err)
		}
	}
	return dst, nil
}

func cbList(dst []byte, l []any, depth int) ([]byte, error) {
	if depth > maxDepth {
		return dst, errTooDeep
	}
	dst = cbHead(dst, cbArray, uint64(len(l)))
	var err error
	for i, v := range l {
		if dst, err = cbValue(dst, v, depth+1); err != nil {
			return dst, indexError(i, err)
		}
	}
	return dst, nil
}

func cbValue(dst []byte, v any, depth int) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, cbNull), nil
	case bool:
		if v {
			return append(dst, cbTrue), nil
		}
		return append(dst, cbFalse), nil
	case string:
		return cbString(dst, v)
	case int64:
		return cbInt(dst, v), nil
	case int:
		return cbInt(dst, int64(v)), nil
	case uint64:
		return cbHead(dst, cbUint, v), nil
	case float64:
		return binary.BigEndian.AppendUint64(append(dst, 0xfb), math.Float64bits(v)), nil
	case []byte:
		return append(cbHead(dst, cbBytes, uint64(len(v))), v...), nil
	case []any:
		return cbList(dst, v, depth)
	case map[string]any:
		return cbDict(dst, v, depth)
	case protocol.List:
		return cbList(dst, v, depth)
	case protocol.Dict:
		return cbDict(dst, v, depth)
	case float32:
		return binary.BigEndian.AppendUint32(append(dst, 0xfa), math.Float32bits(v)), nil
	}
	if n, ok := intValue(v); ok {
		return cbInt(dst, n), nil
	}
	if n, ok := uintValue(v); ok {
		return cbHead(dst, cbUint, n), nil
	}
	if s, ok := stringValue(v); ok {
		return cbString(dst, s)
	}
	g, err := normalize(v)
	if err != nil {
		return dst, err
	}
	return cbValue(dst, g, depth)
}

// cbDecoder decodes CBOR from data. Every length read from the input is
// checked against the bytes left before anything is allocated.
type cbDecoder struct {
	data []byte
	pos  int
	b    budget
	st   *decodeStacks // for indefinite lengths; made on first use
}

// Decode implements [Codec].
func (cborCodec) Decode(data []byte) (m protocol.Message, err error) {
	defer func() {
		if r := recover(); r != nil {
			recovered(CBOR, r, &m, &err)
		}
	}()
	d := cbDecoder{data: data, b: newBudget(len(data))}
	m, err = d.message()
	if err != nil {
		return nil, err
	}
	return m, nil
}

func (d *cbDecoder) fail(err error) error {
	return &DecodeError{Serializer: CBOR, Offset: d.pos, Err: err}
}

// charge charges cost bytes and credits credit bytes of compact size
// (see budget), or fails if the message runs out of budget.
func (d *cbDecoder) charge(cost, credit int64) error {
	if !d.b.spend(cost, credit) {
		return d.overBudget()
	}
	return nil
}

func (d *cbDecoder) overBudget() error {
	return d.fail(d.b.exceeded(len(d.data)))
}

// stacks returns the decoder's stacks, which only indefinite-length lists
// and dicts need.
func (d *cbDecoder) stacks() *decodeStacks {
	if d.st == nil {
		d.st = new(decodeStacks)
	}
	return d.st
}

var (
	errCBORReserved = errors.New("reserved additional information value")
	errCBORBreak    = errors.New("unexpected break")
	errCBORChunk    = errors.New("invalid chunk in indefinite-length string")
)

// head reads an item head. n is the argument; indef reports an
// indefinite length (additional information 31).
func (d *cbDecoder) head() (major byte, info byte, n uint64, indef bool, err error) {
	if d.pos >= len(d.data) {
		return 0, 0, 0, false, d.fail(errTruncated)
	}
	b := d.data[d.pos]
	major, info = b&0xe0, b&0x1f
	switch {
	case info < 24:
		d.pos++
		return major, info, uint64(info), false, nil
	case info <= 27:
		size := 1 << (info - 24)
		if len(d.data)-d.pos-1 < size {
			return 0, 0, 0, false, d.fail(errTruncated)
		}
		for _, c := range d.data[d.pos+1 : d.pos+1+size] {
			n = n<<8 | uint64(c)
		}
		d.pos += 1 + size
		return major, info, n, false, nil
	case info == 31:
		switch major {
		case cbBytes, cbText, cbArray, cbMap, cbSimple:
			d.pos++
			return major, info, 0, true, nil
		}
	}
	return 0, 0, 0, false, d.fail(errCBORReserved)
}

// need reports an error unless n more bytes are available.
func (d *cbDecoder) need(n uint64) error {
	if n > uint64(len(d.data)-d.pos) {
		return d.fail(errTruncated)
	}
	return nil
}

// atBreak consumes a break byte if it is next.
func (d *cbDecoder) atBreak() (bool, error) {
	if d.pos >= len(d.data) {
		return false, d.fail(errTruncated)
	}
	if d.data[d.pos] == cbBreak {
		d.pos++
		return true, nil
	}
	return false, nil
}

func (d *cbDecoder) message() (protocol.Message, error) {
	if len(d.data) == 0 {
		return nil, d.fail(errEmpty)
	}
	major, _, n, indef, err := d.head()
	if err != nil {
		return nil, err
	}
	if major != cbArray {
		d.pos = 0
		return nil, d.fail(errNotList)
	}
	if !indef {
		if n == 0 {
			return nil, d.fail(errEmptyList)
		}
		if err := d.need(n); err != nil {
			return nil, err
		}
	} else if brk, err := d.atBreak(); err != nil || brk {
		if err == nil {
			err = d.fail(errEmptyList)
		}
		return nil, err
	}
	start := d.pos
	t, ok, err := d.uintField()
	if err != nil {
		return nil, err
	}
	lay, typ, err := checkType(t, ok)
	if err != nil {
		d.pos = start
		return nil, d.fail(err)
	}
	e := lay.New()
	i := 0 // elements after the type code
	for ; ; i++ {
		if indef {
			brk, err := d.atBreak()
			if err != nil {
				return nil, err
			}
			if brk {
				break
			}
		} else if uint64(i) == n-1 {
			break
		}
		if i == lay.Len() {
			if indef {
				n = uint64(i) + 2 // at least one more
			}
			return nil, &DecodeError{Serializer: CBOR, Offset: -1, Err: arityError(typ, lay, int(min(n-1, 1<<30)))}
		}
		f := lay.Field(i)
		start := d.pos
		mark := d.b.mark()
		var ok bool
		switch f.Kind {
		case protocol.KindInt:
			var v uint64
			if v, ok, err = d.uintField(); ok {
				e.SetInt(i, v)
			}
		case protocol.KindString:
			if d.peekMajor() == cbText {
				var s string
				if s, err = d.text(); err == nil {
					e.SetString(i, s)
					ok = true
				}
			}
		case protocol.KindDict:
			if d.peekMajor() == cbMap {
				var m map[string]any
				if m, err = d.dict(2); err == nil {
					e.SetDict(i, m)
					ok = true
				}
			}
		case protocol.KindList:
			if d.peekMajor() == cbArray {
				var l []any
				if l, err = d.list(2); err == nil {
					e.SetList(i, l)
					ok = true
				}
			}
		}
		if err != nil {
			return nil, err
		}
		if !ok {
			d.pos = start
			return nil, d.fail(fieldTypeError(typ, f))
		}
		if hasBudget(f.Kind) {
			if err := d.b.check(mark, f.Name); err != nil {
				return nil, &DecodeError{Serializer: CBOR, Offset: -1, Err: err}
			}
		}
	}
	if i < lay.Min() {
		return nil, &DecodeError{Serializer: CBOR, Offset: -1, Err: arityError(typ, lay, i)}
	}
	if d.pos != len(d.data) {
		return nil, d.fail(errTrailing)
	}
	return decoded(CBOR, &e)
}

// uintField reads a non-negative integer (or an integral float); ok is
// false for other values.
func (d *cbDecoder) uintField() (uint64, bool, error) {
	if d.pos >= len(d.data) {
		return 0, false, d.fail(errTruncated)
	}
	switch b := d.data[d.pos]; {
	case b&0xe0 == cbUint:
		_, _, n, _, err := d.head()
		return n, err == nil, err
	case b >= 0xf9 && b <= 0xfb:
		v, err := d.value(2)
		if err != nil {
			return 0, false, err
		}
		u, ok := floatToUint(v.(float64))
		return u, ok, nil
	}
	_, err := d.value(2)
	return 0, false, err
}

// value decodes any value at nesting level depth (lists, dicts and tags
// deeper than maxDepth are refused).
func (d *cbDecoder) value(depth int) (any, error) {
	start := d.pos
	major, info, n, indef, err := d.head()
	if err != nil {
		return nil, err
	}
	switch major {
	case cbUint:
		if n > math.MaxInt64 {
			return n, d.charge(costWord, 9)
		}
		return int64(n), d.charge(wordCost(n), intCredit(int64(n)))
	case cbNeg:
		if n > math.MaxInt64 {
			return -1 - float64(n), d.charge(costWord, floatCredit)
		}
		return -1 - int64(n), d.charge(costWord, intCredit(-1-int64(n)))
	case cbBytes, cbText:
		raw, fresh, err := d.content(major, n, indef)
		if err != nil {
			return nil, err
		}
		if len(raw) == 0 {
			d.b.credit++
			if major == cbBytes {
				return emptyBytes, nil
			}
			return "", nil
		}
		if major == cbBytes {
			if fresh { // content charged the bytes
				return raw, d.charge(costSliceHeader, 0)
			}
			if err := d.charge(bytesCost(len(raw))+costSliceHeader, 1+int64(len(raw))); err != nil {
				return nil, err
			}
			out := make([]byte, len(raw))
			copy(out, raw)
			return out, nil
		}
		if !utf8.Valid(raw) {
			d.pos = start
			return nil, d.fail(errInvalidUTF8)
		}
		if err := d.charge(stringCost(len(raw))+costStringHeader, 1+int64(len(raw))); err != nil {
			return nil, err
		}
		return string(raw), nil
	case cbArray:
		d.pos = start
		l, err := d.list(depth)
		if err != nil {
			return nil, err
		}
		if len(l) == 0 {
			return emptyList, nil
		}
		return l, d.charge(costSliceHeader, 0)
	case cbMap:
		d.pos = start
		return d.dict(depth)
	case cbTag:
		// Tags add semantics we do not interpret; decode the tagged item.
		// Each tag counts as a level, so that chains of tags are bounded.
		if depth > maxDepth {
			d.pos = start
			return nil, d.fail(errTooDeep)
		}
		return d.value(depth + 1)
	}
	// Major type 7.
	switch info {
	case 20:
		d.b.credit++
		return false, nil
	case 21:
		d.b.credit++
		return true, nil
	case 22: // null
		d.b.credit++
		return nil, nil
	case 23: // undefined, as cbor-x (wampy.js) writes JavaScript undefined
		return undefined{}, nil
	case 25:
		return halfToFloat(uint16(n)), d.charge(costWord, floatCredit)
	case 26:
		return float64(math.Float32frombits(uint32(n))), d.charge(costWord, floatCredit)
	case 27:
		return math.Float64frombits(n), d.charge(costWord, floatCredit)
	case 31:
		d.pos = start
		return nil, d.fail(errCBORBreak)
	}
	d.pos = start
	return nil, d.fail(errors.New("unsupported CBOR simple value " + itoa(int(n))))
}

// halfToFloat converts an IEEE 754 half-precision value (RFC 8949 §D).
func halfToFloat(h uint16) float64 {
	exp := int(h>>10) & 0x1f
	mant := float64(h & 0x3ff)
	var v float64
	switch exp {
	case 0:
		v = math.Ldexp(mant, -24)
	case 31:
		if mant == 0 {
			v = math.Inf(1)
		} else {
			v = math.NaN()
		}
	default:
		v = math.Ldexp(mant+1024, exp-25)
	}
	if h&0x8000 != 0 {
		return -v
	}
	return v
}

// peekMajor returns the major type of the next item, or 0xff at the end.
func (d *cbDecoder) peekMajor() byte {
	if d.pos >= len(d.data) {
		return 0xff
	}
	return d.data[d.pos] & 0xe0
}

// list reads an array (the caller checked the major type).
func (d *cbDecoder) list(depth int) ([]any, error) {
	if depth > maxDepth {
		return nil, d.fail(errTooDeep)
	}
	_, _, n, indef, err := d.head()
	if err != nil {
		return nil, err
	}
	if !indef {
		// Every element takes at least one byte. The list is charged
		// before it is made: each byte may stand for an element of
		// costSlot bytes.
		if err := d.need(n); err != nil {
			return nil, err
		}
		if err := d.charge(listCost(int(n)), 1); err != nil {
			return nil, err
		}
		l := make([]any, n)
		for i := range l {
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			if isUndefined(v) {
				d.b.credit++ // as nil
				continue
			}
			l[i] = v
		}
		return l, nil
	}
	d.b.credit++
	if brk, err := d.atBreak(); err != nil || brk {
		return []any{}, err
	}
	st := d.stacks()
	base := st.vals.n
	for {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if isUndefined(v) {
			d.b.credit++ // as nil
			v = nil
		}
		if !st.pushValue(&d.b, v) {
			return nil, d.overBudget()
		}
		brk, err := d.atBreak()
		if err != nil {
			return nil, err
		}
		if brk {
			break
		}
	}
	k := st.vals.n - base
	if err := d.charge(listCost(k), 0); err != nil {
		return nil, err
	}
	l := make([]any, k)
	st.vals.popTo(base, l)
	return l, nil
}

// dict reads a map with text keys (the caller checked the major type). An
// empty map at the top level of a message (depth 2) decodes to nil.
func (d *cbDecoder) dict(depth int) (map[string]any, error) {
	if depth > maxDepth {
		return nil, d.fail(errTooDeep)
	}
	_, _, n, indef, err := d.head()
	if err != nil {
		return nil, err
	}
	if indef {
		return d.indefDict(depth)
	}
	if n == 0 && depth == 2 {
		return nil, nil
	}
	// Every entry takes at least two bytes.
	if n > uint64(len(d.data)-d.pos)/2 {
		return nil, d.fail(errTruncated)
	}
	if err := d.charge(mapCost(int(n)), 1); err != nil {
		return nil, err
	}
	m := make(map[string]any, mapHint(int(n)))
	for range n {
		kstart := d.pos
		k, err := d.key()
		if err != nil {
			return nil, err
		}
		if _, dup := m[k]; dup {
			d.pos = kstart
			return nil, d.fail(dupKeyError(k))
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if isUndefined(v) {
			d.b.credit -= 1 + int64(len(k)) // the entry is not in the value
			continue
		}
		m[k] = v
	}
	if len(m) == 0 && depth == 2 {
		return nil, nil
	}
	return m, nil
}

// indefDict reads the entries of an indefinite-length map (after its
// head) onto the stack, then makes the map at its final size.
func (d *cbDecoder) indefDict(depth int) (map[string]any, error) {
	d.b.credit++
	st := d.stacks()
	base := st.ents.n
	for {
		brk, err := d.atBreak()
		if err != nil {
			return nil, err
		}
		if brk {
			break
		}
		k, err := d.key()
		if err != nil {
			return nil, err
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if isUndefined(v) {
			d.b.credit -= 1 + int64(len(k)) // the entry is not in the value
			continue
		}
		if !st.pushEntry(&d.b, entry{k, v}) {
			return nil, d.overBudget()
		}
	}
	n := st.ents.n - base
	if err := d.charge(mapCost(n), 0); err != nil {
		return nil, err
	}
	m := make(map[string]any, mapHint(n))
	for i := base; i < st.ents.n; i++ {
		e := st.ents.at(i)
		if _, dup := m[e.key]; dup {
			return nil, d.fail(dupKeyError(e.key))
		}
		m[e.key] = e.val
	}
	st.ents.pop(base)
	return m, nil
}

// key reads a map key, which must be a text string.
func (d *cbDecoder) key() (string, error) {
	if d.peekMajor() != cbText {
		if d.pos >= len(d.data) {
			return "", d.fail(errTruncated)
		}
		return "", d.fail(errMapKey)
	}
	return d.text()
}

// content reads the content of a byte or text string whose head was read.
// Definite strings alias the input; indefinite ones are joined from their
// chunks into a fresh slice (fresh is true), allocated once and charged.
func (d *cbDecoder) content(major byte, n uint64, indef bool) (raw []byte, fresh bool, err error) {
	if !indef {
		if err := d.need(n); err != nil {
			return nil, false, err
		}
		raw = d.data[d.pos : d.pos+int(n)]
		d.pos += int(n)
		return raw, false, nil
	}
	start := d.pos
	size, err := d.chunks(major, nil)
	if err != nil {
		return nil, false, err
	}
	if size == 0 {
		return []byte{}, true, nil
	}
	// For a byte string, raw is the value; a text string is copied from
	// it, so raw is only a stack.
	if major == cbBytes {
		err = d.charge(bytesCost(size), 1+int64(size))
	} else if !d.b.spendStack(bytesCost(size)) {
		err = d.overBudget()
	}
	if err != nil {
		return nil, false, err
	}
	d.pos = start
	raw = make([]byte, 0, size)
	if _, err := d.chunks(major, &raw); err != nil {
		return nil, false, err
	}
	return raw, true, nil
}

// chunks reads the chunks of an indefinite-length string up to its break
// and returns their total size; if dst is not nil, it appends them to
// *dst. Chunks are definite-length strings of the string's major type.
func (d *cbDecoder) chunks(major byte, dst *[]byte) (int, error) {
	size := 0
	for {
		brk, err := d.atBreak()
		if err != nil {
			return 0, err
		}
		if brk {
			return size, nil
		}
		cstart := d.pos
		cmajor, _, cn, cindef, err := d.head()
		if err != nil {
			return 0, err
		}
		if cmajor != major || cindef {
			d.pos = cstart
			return 0, d.fail(errCBORChunk)
		}
		if err := d.need(cn); err != nil {
			return 0, err
		}
		if dst != nil {
			*dst = append(*dst, d.data[d.pos:d.pos+int(cn)]...)
		}
		d.pos += int(cn)
		size += int(cn)
	}
}

// text reads a text string (the caller checked the major type) without
// boxing it.
func (d *cbDecoder) text() (string, error) {
	start := d.pos
	major, _, n, indef, err := d.head()
	if err != nil {
		return "", err
	}
	raw, _, err := d.content(major, n, indef)
	if err != nil {
		return "", err
	}
	if !utf8.Valid(raw) {
		d.pos = start
		return "", d.fail(errInvalidUTF8)
	}
	if err := d.charge(stringCost(len(raw)), 1+int64(len(raw))); err != nil {
		return "", err
	}
	return string(raw), nil
}
