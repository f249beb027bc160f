package serialize

import (
	"encoding/binary"
	"errors"
	"math"
	"unicode/utf8"

	"github.com/wampkit/wampkit/protocol"
)

// msgpackCodec implements MessagePack (spec version 5: str and bin are
// distinct types, WAMP spec basic/serializations "MessagePack").
type msgpackCodec struct{}

var _ Codec = msgpackCodec{}

// Encode implements [Codec].
func (msgpackCodec) Encode(dst []byte, m protocol.Message) ([]byte, error) {
	if sh, ok := m.(*Shared); ok {
		b, err := sh.Bytes(MessagePack)
		return append(dst, b...), err
	}
	e, err := protocol.ElementsOf(m)
	if err != nil {
		return dst, invalidMessage(MessagePack, m, err)
	}
	lay := e.Layout()
	typ := lay.Type()
	dst = mpArrayHeader(dst, e.Len()+1)
	dst = mpUint(dst, uint64(typ))
	for i := range e.Len() {
		f := lay.Field(i)
		switch f.Kind {
		case protocol.KindInt:
			dst = mpUint(dst, e.Int(i))
		case protocol.KindString:
			if dst, err = mpString(dst, e.String(i)); err != nil {
				return dst, encodeError(MessagePack, typ, f.Name, err)
			}
		case protocol.KindDict:
			if dst, err = mpDict(dst, e.Dict(i), 2); err != nil {
				return dst, encodeError(MessagePack, typ, f.Name, err)
			}
		case protocol.KindList:
			if dst, err = mpList(dst, e.List(i), 2); err != nil {
				return dst, encodeError(MessagePack, typ, f.Name, err)
			}
		}
	}
	return dst, nil
}

func mpArrayHeader(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, 0x90|byte(n))
	case n <= math.MaxUint16:
		return append(dst, 0xdc, byte(n>>8), byte(n))
	}
	return append(dst, 0xdd, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

func mpMapHeader(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, 0x80|byte(n))
	case n <= math.MaxUint16:
		return append(dst, 0xde, byte(n>>8), byte(n))
	}
	return append(dst, 0xdf, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

func mpUint(dst []byte, v uint64) []byte {
	switch {
	case v < 128:
		return append(dst, byte(v))
	case v <= math.MaxUint8:
		return append(dst, 0xcc, byte(v))
	case v <= math.MaxUint16:
		return append(dst, 0xcd, byte(v>>8), byte(v))
	case v <= math.MaxUint32:
		return append(dst, 0xce, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	return binary.BigEndian.AppendUint64(append(dst, 0xcf), v)
}

func mpInt(dst []byte, v int64) []byte {
	if v >= 0 {
		return mpUint(dst, uint64(v))
	}
	switch {
	case v >= -32:
		return append(dst, byte(v))
	case v >= math.MinInt8:
		return append(dst, 0xd0, byte(v))
	case v >= math.MinInt16:
		return append(dst, 0xd1, byte(v>>8), byte(v))
	case v >= math.MinInt32:
		return append(dst, 0xd2, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	return binary.BigEndian.AppendUint64(append(dst, 0xd3), uint64(v))
}

func mpString(dst []byte, s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return dst, errInvalidUTF8
	}
	n := len(s)
	switch {
	case n < 32:
		dst = append(dst, 0xa0|byte(n))
	case n <= math.MaxUint8:
		dst = append(dst, 0xd9, byte(n))
	case n <= math.MaxUint16:
		dst = append(dst, 0xda, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0xdb, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, s...), nil
}

func mpBytes(dst []byte, b []byte) []byte {
	n := len(b)
	switch {
	case n <= math.MaxUint8:
		dst = append(dst, 0xc4, byte(n))
	case n <= math.MaxUint16:
		dst = append(dst, 0xc5, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0xc6, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, b...)
}

func mpDict(dst []byte, d map[string]any, depth int) ([]byte, error) {
	if depth > maxDepth {
		return dst, errTooDeep
	}
	dst = mpMapHeader(dst, len(d))
	var scratch [16]string
	var err error
	for _, k := range sortedKeys(d, scratch[:0]) {
		if dst, err = mpString(dst, k); err != nil {
			return dst, err
		}
		if dst, err = mpValue(dst, d[k], depth+1); err != nil {
			return dst, pathError(k, err)
		}
	}
	return dst, nil
}

func mpList(dst []byte, l []any, depth int) ([]byte, error) {
	if depth > maxDepth {
		return dst, errTooDeep
	}
	dst = mpArrayHeader(dst, len(l))
	var err error
	for i, v := range l {
		if dst, err = mpValue(dst, v, depth+1); err != nil {
			return dst, indexError(i, err)
		}
	}
	return dst, nil
}

func mpValue(dst []byte, v any, depth int) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, 0xc0), nil
	case bool:
		if v {
			return append(dst, 0xc3), nil
		}
		return append(dst, 0xc2), nil
	case string:
		return mpString(dst, v)
	case int64:
		return mpInt(dst, v), nil
	case int:
		return mpInt(dst, int64(v)), nil
	case uint64:
		return mpUint(dst, v), nil
	case float64:
		return binary.BigEndian.AppendUint64(append(dst, 0xcb), math.Float64bits(v)), nil
	case []byte:
		return mpBytes(dst, v), nil
	case []any:
		return mpList(dst, v, depth)
	case map[string]any:
		return mpDict(dst, v, depth)
	case protocol.List:
		return mpList(dst, v, depth)
	case protocol.Dict:
		return mpDict(dst, v, depth)
	case float32:
		return binary.BigEndian.AppendUint32(append(dst, 0xca), math.Float32bits(v)), nil
	}
	if n, ok := intValue(v); ok {
		return mpInt(dst, n), nil
	}
	if n, ok := uintValue(v); ok {
		return mpUint(dst, n), nil
	}
	if s, ok := stringValue(v); ok {
		return mpString(dst, s)
	}
	g, err := normalize(v)
	if err != nil {
		return dst, err
	}
	return mpValue(dst, g, depth)
}

// mpDecoder decodes MessagePack from data. Every length read from the input
// is checked against the bytes left before anything is allocated.
type mpDecoder struct {
	data []byte
	pos  int
	b    budget
}

// Decode implements [Codec].
func (msgpackCodec) Decode(data []byte) (m protocol.Message, err error) {
	defer func() {
		if r := recover(); r != nil {
			recovered(MessagePack, r, &m, &err)
		}
	}()
	d := mpDecoder{data: data, b: newBudget(len(data))}
	m, err = d.message()
	if err != nil {
		return nil, err
	}
	return m, nil
}

func (d *mpDecoder) fail(err error) error {
	return &DecodeError{Serializer: MessagePack, Offset: d.pos, Err: err}
}

// charge charges cost bytes and credits credit bytes of compact size
// (see budget), or fails if the message runs out of budget.
func (d *mpDecoder) charge(cost, credit int64) error {
	if !d.b.spend(cost, credit) {
		return d.fail(d.b.exceeded(len(d.data)))
	}
	return nil
}

func (d *mpDecoder) message() (protocol.Message, error) {
	if len(d.data) == 0 {
		return nil, d.fail(errEmpty)
	}
	n, ok, err := d.arrayLen()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, d.fail(errNotList)
	}
	if n == 0 {
		return nil, d.fail(errEmptyList)
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
	n-- // elements after the type code
	if n < lay.Min() || n > lay.Len() {
		return nil, &DecodeError{Serializer: MessagePack, Offset: -1, Err: arityError(typ, lay, n)}
	}
	e := lay.New()
	for i := range n {
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
			var s string
			if s, ok, err = d.str(); ok {
				e.SetString(i, s)
			}
		case protocol.KindDict:
			var m map[string]any
			if m, ok, err = d.dict(2); ok {
				e.SetDict(i, m)
			}
		case protocol.KindList:
			var l []any
			if l, ok, err = d.list(2); ok {
				e.SetList(i, l)
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
				return nil, &DecodeError{Serializer: MessagePack, Offset: -1, Err: err}
			}
		}
	}
	if d.pos != len(d.data) {
		return nil, d.fail(errTrailing)
	}
	return decoded(MessagePack, &e)
}

// need reports an error unless n more bytes are available.
func (d *mpDecoder) need(n uint64) error {
	if n > uint64(len(d.data)-d.pos) {
		return d.fail(errTruncated)
	}
	return nil
}

func (d *mpDecoder) uintN(n int) (uint64, error) {
	if err := d.need(uint64(n)); err != nil {
		return 0, err
	}
	var v uint64
	for _, b := range d.data[d.pos : d.pos+n] {
		v = v<<8 | uint64(b)
	}
	d.pos += n
	return v, nil
}

// arrayLen reads an array header; ok is false (and nothing is consumed)
// if the next value is not an array.
func (d *mpDecoder) arrayLen() (int, bool, error) {
	if err := d.need(1); err != nil {
		return 0, false, err
	}
	b := d.data[d.pos]
	var n uint64
	switch {
	case b&0xf0 == 0x90:
		d.pos++
		n = uint64(b & 0x0f)
	case b == 0xdc || b == 0xdd:
		d.pos++
		var err error
		if n, err = d.uintN(2 << (b - 0xdc)); err != nil {
			return 0, false, err
		}
	default:
		return 0, false, nil
	}
	// Every element takes at least one byte.
	if err := d.need(n); err != nil {
		return 0, false, err
	}
	return int(n), true, nil
}

// str reads a string; ok is false (and nothing is consumed) if the next
// value is not a string.
func (d *mpDecoder) str() (string, bool, error) {
	if err := d.need(1); err != nil {
		return "", false, err
	}
	b := d.data[d.pos]
	var n uint64
	switch {
	case b&0xe0 == 0xa0:
		d.pos++
		n = uint64(b & 0x1f)
	case b >= 0xd9 && b <= 0xdb:
		d.pos++
		var err error
		if n, err = d.uintN(1 << (b - 0xd9)); err != nil {
			return "", false, err
		}
	default:
		return "", false, nil
	}
	if err := d.need(n); err != nil {
		return "", false, err
	}
	raw := d.data[d.pos : d.pos+int(n)]
	if !utf8.Valid(raw) {
		return "", false, d.fail(errInvalidUTF8)
	}
	if err := d.charge(stringCost(int(n)), 1+int64(n)); err != nil {
		return "", false, err
	}
	d.pos += int(n)
	return string(raw), true, nil
}

// value decodes any value at nesting level depth (lists and dicts deeper
// than maxDepth are refused).
func (d *mpDecoder) value(depth int) (any, error) {
	if err := d.need(1); err != nil {
		return nil, err
	}
	b := d.data[d.pos]
	switch {
	case b <= 0x7f:
		d.pos++
		d.b.credit++
		return int64(b), nil
	case b >= 0xe0:
		d.pos++
		return int64(int8(b)), d.charge(costWord, 1)
	case b&0xe0 == 0xa0, b >= 0xd9 && b <= 0xdb:
		s, _, err := d.str()
		if err != nil || s == "" {
			return s, err
		}
		return s, d.charge(costStringHeader, 0)
	case b&0xf0 == 0x90, b == 0xdc, b == 0xdd:
		l, _, err := d.list(depth)
		if err != nil {
			return nil, err
		}
		if len(l) == 0 {
			return emptyList, nil
		}
		return l, d.charge(costSliceHeader, 0)
	case b&0xf0 == 0x80, b == 0xde, b == 0xdf:
		m, _, err := d.dict(depth)
		return m, err
	}
	d.pos++
	switch b {
	case 0xc0:
		d.b.credit++
		return nil, nil
	case 0xd4:
		// fixext 1 of type 0 and data 0: JavaScript undefined, as
		// msgpackr (wampy.js) and other encoders write it.
		if d.pos+1 < len(d.data) && d.data[d.pos] == 0 && d.data[d.pos+1] == 0 {
			d.pos += 2
			return undefined{}, nil
		}
	case 0xc2:
		d.b.credit++
		return false, nil
	case 0xc3:
		d.b.credit++
		return true, nil
	case 0xc4, 0xc5, 0xc6:
		n, err := d.uintN(1 << (b - 0xc4))
		if err != nil {
			return nil, err
		}
		if err := d.need(n); err != nil {
			return nil, err
		}
		if n == 0 {
			d.b.credit++
			return emptyBytes, nil
		}
		if err := d.charge(bytesCost(int(n))+costSliceHeader, 1+int64(n)); err != nil {
			return nil, err
		}
		out := make([]byte, n)
		copy(out, d.data[d.pos:])
		d.pos += int(n)
		return out, nil
	case 0xca:
		v, err := d.uintN(4)
		if err != nil {
			return nil, err
		}
		return float64(math.Float32frombits(uint32(v))), d.charge(costWord, floatCredit)
	case 0xcb:
		v, err := d.uintN(8)
		if err != nil {
			return nil, err
		}
		return math.Float64frombits(v), d.charge(costWord, floatCredit)
	case 0xcc, 0xcd, 0xce, 0xcf:
		v, err := d.uintN(1 << (b - 0xcc))
		if err != nil {
			return nil, err
		}
		if v > math.MaxInt64 {
			return v, d.charge(costWord, 9)
		}
		return int64(v), d.charge(wordCost(v), intCredit(int64(v)))
	case 0xd0, 0xd1, 0xd2, 0xd3:
		size := 1 << (b - 0xd0)
		v, err := d.uintN(size)
		if err != nil {
			return nil, err
		}
		shift := 64 - 8*size
		n := int64(v<<shift) >> shift
		return n, d.charge(wordCost(uint64(n)), intCredit(n))
	}
	d.pos--
	return nil, d.fail(errors.New("unsupported MessagePack type 0x" + hex2(b)))
}

func hex2(b byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[b>>4], digits[b&15]})
}

// uintField reads a non-negative integer (or an integral float, as sent by
// JavaScript encoders for large numbers); ok is false if the next value is
// something else.
func (d *mpDecoder) uintField() (uint64, bool, error) {
	if err := d.need(1); err != nil {
		return 0, false, err
	}
	b := d.data[d.pos]
	switch {
	case b <= 0x7f:
		d.pos++
		return uint64(b), true, nil
	case b >= 0xcc && b <= 0xcf:
		d.pos++
		v, err := d.uintN(1 << (b - 0xcc))
		return v, err == nil, err
	case b >= 0xd0 && b <= 0xd3:
		d.pos++
		size := 1 << (b - 0xd0)
		v, err := d.uintN(size)
		shift := 64 - 8*size
		n := int64(v<<shift) >> shift
		return uint64(n), err == nil && n >= 0, err
	case b == 0xca || b == 0xcb:
		d.pos++
		var f float64
		if b == 0xca {
			v, err := d.uintN(4)
			if err != nil {
				return 0, false, err
			}
			f = float64(math.Float32frombits(uint32(v)))
		} else {
			v, err := d.uintN(8)
			if err != nil {
				return 0, false, err
			}
			f = math.Float64frombits(v)
		}
		u, ok := floatToUint(f)
		return u, ok, nil
	}
	return 0, false, nil
}

// list reads an array; ok is false if the next value is not an array.
func (d *mpDecoder) list(depth int) ([]any, bool, error) {
	if depth > maxDepth {
		return nil, false, d.fail(errTooDeep)
	}
	n, ok, err := d.arrayLen()
	if err != nil || !ok {
		return nil, ok, err
	}
	// Charged before it is made: n was checked against the bytes left,
	// but each byte may stand for an element of costSlot bytes.
	if err := d.charge(listCost(n), 1); err != nil {
		return nil, false, err
	}
	l := make([]any, n)
	for i := range l {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, false, err
		}
		if isUndefined(v) {
			d.b.credit++ // as nil
			continue
		}
		l[i] = v
	}
	return l, true, nil
}

// dict reads a map with string keys; ok is false if the next value is not
// a map.
func (d *mpDecoder) dict(depth int) (map[string]any, bool, error) {
	if depth > maxDepth {
		return nil, false, d.fail(errTooDeep)
	}
	if err := d.need(1); err != nil {
		return nil, false, err
	}
	b := d.data[d.pos]
	var n uint64
	switch {
	case b&0xf0 == 0x80:
		d.pos++
		n = uint64(b & 0x0f)
	case b == 0xde || b == 0xdf:
		d.pos++
		var err error
		if n, err = d.uintN(2 << (b - 0xde)); err != nil {
			return nil, false, err
		}
	default:
		return nil, false, nil
	}
	if n == 0 && depth == 2 {
		return nil, true, nil // empty Details/Options: nil, as in JSON
	}
	// Every entry takes at least two bytes.
	if err := d.need(2 * n); err != nil {
		return nil, false, err
	}
	if err := d.charge(mapCost(int(n)), 1); err != nil {
		return nil, false, err
	}
	m := make(map[string]any, mapHint(int(n)))
	for range n {
		start := d.pos
		k, ok, err := d.str()
		if err != nil {
			return nil, false, err
		}
		if !ok {
			return nil, false, d.fail(errMapKey)
		}
		if _, dup := m[k]; dup {
			d.pos = start
			return nil, false, d.fail(dupKeyError(k))
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, false, err
		}
		if isUndefined(v) {
			d.b.credit -= 1 + int64(len(k)) // the entry is not in the value
			continue
		}
		m[k] = v
	}
	if len(m) == 0 && depth == 2 {
		return nil, true, nil
	}
	return m, true, nil
}
