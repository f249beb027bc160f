package serialize

import (
	"encoding/base64"
	"errors"
	"math"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/wampkit/wampkit/protocol"
)

// jsonCodec implements JSON (RFC 8259, WAMP spec basic/serializations
// "JSON"), with binary values as "\u0000" + base64 strings.
type jsonCodec struct{}

var _ Codec = jsonCodec{}

var (
	errNaN          = errors.New("NaN and infinity cannot be encoded in JSON")
	errNULString    = errors.New(`string begins with U+0000, which JSON reserves for binary values`)
	errBadBinary    = errors.New(`invalid base64 in "\u0000" binary string`)
	errNumberSyntax = errors.New("invalid number")
	errNumberRange  = errors.New("number out of range")
)

// Encode implements [Codec].
func (jsonCodec) Encode(dst []byte, m protocol.Message) ([]byte, error) {
	if sh, ok := m.(*Shared); ok {
		b, err := sh.Bytes(JSON)
		return append(dst, b...), err
	}
	e, err := protocol.ElementsOf(m)
	if err != nil {
		return dst, invalidMessage(JSON, m, err)
	}
	lay := e.Layout()
	typ := lay.Type()
	dst = append(dst, '[')
	dst = strconv.AppendUint(dst, uint64(typ), 10)
	for i := range e.Len() {
		dst = append(dst, ',')
		f := lay.Field(i)
		switch f.Kind {
		case protocol.KindInt:
			dst = strconv.AppendUint(dst, e.Int(i), 10)
		case protocol.KindString:
			if dst, err = jsonString(dst, e.String(i)); err != nil {
				return dst, encodeError(JSON, typ, f.Name, err)
			}
		case protocol.KindDict:
			if dst, err = jsonDict(dst, e.Dict(i), 2); err != nil {
				return dst, encodeError(JSON, typ, f.Name, err)
			}
		case protocol.KindList:
			if dst, err = jsonList(dst, e.List(i), 2); err != nil {
				return dst, encodeError(JSON, typ, f.Name, err)
			}
		}
	}
	return append(dst, ']'), nil
}

const hexDigits = "0123456789abcdef"

// jsonSafe marks the ASCII bytes that need no escaping in a JSON string.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for i := 0x20; i < utf8.RuneSelf; i++ {
		t[i] = i != '"' && i != '\\'
	}
	return t
}()

func jsonString(dst []byte, s string) ([]byte, error) {
	if len(s) > 0 && s[0] == 0 {
		return dst, errNULString
	}
	return jsonQuote(dst, s)
}

// jsonQuote writes s as a JSON string, escaping what RFC 8259 requires.
func jsonQuote(dst []byte, s string) ([]byte, error) {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return dst, errInvalidUTF8
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"'), nil
}

func jsonBytes(dst []byte, b []byte) []byte {
	dst = append(dst, `"\u0000`...)
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"')
}

func jsonFloat(dst []byte, f float64, bits int) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, errNaN
	}
	// Like encoding/json: plain notation for "ordinary" magnitudes.
	fmt := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		fmt = 'e'
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, fmt, -1, bits)
	for _, c := range dst[start:] {
		if c == '.' || c == 'e' {
			return dst, nil
		}
	}
	// Keep integral floats floats: 1.0 must not come back as the integer 1.
	return append(dst, '.', '0'), nil
}

func jsonDict(dst []byte, d map[string]any, depth int) ([]byte, error) {
	if depth > maxDepth {
		return dst, errTooDeep
	}
	dst = append(dst, '{')
	var scratch [16]string
	var err error
	for i, k := range sortedKeys(d, scratch[:0]) {
		if i > 0 {
			dst = append(dst, ',')
		}
		if dst, err = jsonKey(dst, k); err != nil {
			return dst, err
		}
		dst = append(dst, ':')
		if dst, err = jsonValue(dst, d[k], depth+1); err != nil {
			return dst, pathError(k, err)
		}
	}
	return append(dst, '}'), nil
}

// jsonKey writes a map key. Keys are never binary, so a leading NUL is
// written as it is (escaped) and decodes back to the same key.
func jsonKey(dst []byte, k string) ([]byte, error) {
	return jsonQuote(dst, k)
}

func jsonList(dst []byte, l []any, depth int) ([]byte, error) {
	if depth > maxDepth {
		return dst, errTooDeep
	}
	dst = append(dst, '[')
	var err error
	for i, v := range l {
		if i > 0 {
			dst = append(dst, ',')
		}
		if dst, err = jsonValue(dst, v, depth+1); err != nil {
			return dst, indexError(i, err)
		}
	}
	return append(dst, ']'), nil
}

func jsonValue(dst []byte, v any, depth int) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		if v {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case string:
		return jsonString(dst, v)
	case int64:
		return strconv.AppendInt(dst, v, 10), nil
	case int:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case uint64:
		return strconv.AppendUint(dst, v, 10), nil
	case float64:
		return jsonFloat(dst, v, 64)
	case []byte:
		return jsonBytes(dst, v), nil
	case []any:
		return jsonList(dst, v, depth)
	case map[string]any:
		return jsonDict(dst, v, depth)
	case protocol.List:
		return jsonList(dst, v, depth)
	case protocol.Dict:
		return jsonDict(dst, v, depth)
	case float32:
		return jsonFloat(dst, float64(v), 32)
	}
	if n, ok := intValue(v); ok {
		return strconv.AppendInt(dst, n, 10), nil
	}
	if n, ok := uintValue(v); ok {
		return strconv.AppendUint(dst, n, 10), nil
	}
	if s, ok := stringValue(v); ok {
		return jsonString(dst, s)
	}
	g, err := normalize(v)
	if err != nil {
		return dst, err
	}
	return jsonValue(dst, g, depth)
}

// jsonDecoder decodes JSON text. It is pooled: its stacks and buf are
// reused, so that lists and maps are allocated once, at their final size.
type jsonDecoder struct {
	data []byte
	pos  int
	b    budget
	st   decodeStacks
	buf  []byte // unescaped string being decoded
}

var jsonDecoders = sync.Pool{New: func() any { return new(jsonDecoder) }}

// maxPooledStringBuffer is the largest buf a pooled decoder keeps.
const maxPooledStringBuffer = 64 << 10

// Decode implements [Codec].
func (jsonCodec) Decode(data []byte) (m protocol.Message, err error) {
	d := jsonDecoders.Get().(*jsonDecoder)
	defer func() {
		if r := recover(); r != nil {
			recovered(JSON, r, &m, &err)
			return // drop d: its state is unknown
		}
		d.data = nil
		d.st.reset(stackKeep) // only an error leaves values behind
		if cap(d.buf) > maxPooledStringBuffer {
			d.buf = nil
		}
		jsonDecoders.Put(d)
	}()
	d.data = data
	d.pos = 0
	d.b = newBudget(len(data))
	m, err = d.message()
	return m, err
}

// charge charges cost bytes and credits credit bytes of compact size
// (see budget), or fails if the message runs out of budget.
func (d *jsonDecoder) charge(cost, credit int64) error {
	if !d.b.spend(cost, credit) {
		return d.overBudget()
	}
	return nil
}

func (d *jsonDecoder) overBudget() error {
	return d.fail(d.b.exceeded(len(d.data)))
}

func (d *jsonDecoder) fail(err error) error {
	return &DecodeError{Serializer: JSON, Offset: d.pos, Err: err}
}

func (d *jsonDecoder) ws() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// peek skips white space and returns the next byte, or 0 at the end.
func (d *jsonDecoder) peek() byte {
	d.ws()
	if d.pos < len(d.data) {
		return d.data[d.pos]
	}
	return 0
}

func (d *jsonDecoder) unexpected() error {
	if d.pos >= len(d.data) {
		return d.fail(errTruncated)
	}
	c := d.data[d.pos]
	if c >= 0x20 && c < 0x7f {
		return d.fail(errors.New("unexpected character " + strconv.QuoteRune(rune(c))))
	}
	return d.fail(errors.New("unexpected byte 0x" + hex2(c)))
}

func (d *jsonDecoder) message() (protocol.Message, error) {
	if d.peek() != '[' {
		if d.pos >= len(d.data) {
			return nil, d.fail(errEmpty)
		}
		return nil, d.fail(errNotList)
	}
	d.pos++
	if d.peek() == ']' {
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
	e := lay.New()
	n := 0 // elements after the type code
	for {
		switch d.peek() {
		case ']':
			d.pos++
			if n < lay.Min() {
				return nil, &DecodeError{Serializer: JSON, Offset: -1, Err: arityError(typ, lay, n)}
			}
			if d.ws(); d.pos != len(d.data) {
				return nil, d.fail(errTrailing)
			}
			return decoded(JSON, &e)
		case ',':
			d.pos++
		default:
			return nil, d.unexpected()
		}
		if n == lay.Len() {
			return nil, &DecodeError{Serializer: JSON, Offset: -1, Err: arityError(typ, lay, d.countRest(n))}
		}
		f := lay.Field(n)
		d.ws()
		start := d.pos
		mark := d.b.mark()
		var ok bool
		switch f.Kind {
		case protocol.KindInt:
			var v uint64
			if v, ok, err = d.uintField(); ok {
				e.SetInt(n, v)
			}
		case protocol.KindString:
			if d.peek() == '"' {
				var s string
				var bin []byte
				s, bin, err = d.str(true)
				if ok = bin == nil; ok {
					e.SetString(n, s)
				}
			} else {
				_, err = d.value(2)
			}
		case protocol.KindDict:
			var m map[string]any
			if m, ok, err = d.dict(2); ok {
				e.SetDict(n, m)
			}
		case protocol.KindList:
			var l []any
			if l, ok, err = d.list(2); ok {
				e.SetList(n, l)
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
				return nil, &DecodeError{Serializer: JSON, Offset: -1, Err: err}
			}
		}
		n++
	}
}

// countRest counts the remaining elements of the message list for an
// error message; it gives up (returning n+1) on a syntax error.
func (d *jsonDecoder) countRest(n int) int {
	for {
		if _, err := d.value(2); err != nil {
			return n + 1
		}
		n++
		switch d.peek() {
		case ',':
			d.pos++
		default:
			return n
		}
	}
}

// uintField reads a non-negative integer (or an integral number written
// with a fraction or exponent); ok is false for other values.
func (d *jsonDecoder) uintField() (uint64, bool, error) {
	c := d.peek()
	if c != '-' && (c < '0' || c > '9') {
		if _, err := d.value(2); err != nil {
			return 0, false, err
		}
		return 0, false, nil
	}
	n, err := d.num()
	if err != nil {
		return 0, false, err
	}
	switch n.kind {
	case numInt:
		return uint64(n.i), n.i >= 0, nil
	case numUint:
		return n.u, true, nil
	}
	u, ok := floatToUint(n.f)
	return u, ok, nil
}

// value decodes any value at nesting level depth.
func (d *jsonDecoder) value(depth int) (any, error) {
	switch c := d.peek(); c {
	case '"':
		s, b, err := d.str(true)
		switch {
		case err != nil:
			return nil, err
		case b != nil:
			if len(b) == 0 {
				return emptyBytes, nil
			}
			return b, d.charge(costSliceHeader, 0)
		case s == "":
			return "", nil
		}
		return s, d.charge(costStringHeader, 0)
	case '{':
		m, _, err := d.dict(depth)
		return m, err
	case '[':
		l, _, err := d.list(depth)
		if err != nil {
			return nil, err
		}
		if len(l) == 0 {
			return emptyList, nil
		}
		return l, d.charge(costSliceHeader, 0)
	case 't':
		d.b.credit++
		return true, d.literal("true")
	case 'f':
		d.b.credit++
		return false, d.literal("false")
	case 'n':
		d.b.credit++
		return nil, d.literal("null")
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return d.number()
		}
		return nil, d.unexpected()
	}
}

func (d *jsonDecoder) literal(lit string) error {
	if len(d.data)-d.pos < len(lit) || string(d.data[d.pos:d.pos+len(lit)]) != lit {
		return d.fail(errors.New("invalid literal, want " + lit))
	}
	d.pos += len(lit)
	return nil
}

// list reads an array; ok is false if the next value is not an array.
func (d *jsonDecoder) list(depth int) ([]any, bool, error) {
	if d.peek() != '[' {
		if _, err := d.value(depth); err != nil {
			return nil, false, err
		}
		return nil, false, nil
	}
	if depth > maxDepth {
		return nil, false, d.fail(errTooDeep)
	}
	d.pos++
	d.b.credit++
	if d.peek() == ']' {
		d.pos++
		return []any{}, true, nil
	}
	base := d.st.vals.n
	for {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, false, err
		}
		if !d.st.pushValue(&d.b, v) {
			return nil, false, d.overBudget()
		}
		switch d.peek() {
		case ',':
			d.pos++
			continue
		case ']':
			d.pos++
		default:
			return nil, false, d.unexpected()
		}
		break
	}
	n := d.st.vals.n - base
	if err := d.charge(listCost(n), 0); err != nil {
		return nil, false, err
	}
	l := make([]any, n)
	d.st.vals.popTo(base, l)
	return l, true, nil
}

// dict reads an object; ok is false if the next value is not an object.
// An empty object at the top level of a message (depth 2) decodes to nil.
func (d *jsonDecoder) dict(depth int) (map[string]any, bool, error) {
	if d.peek() != '{' {
		if _, err := d.value(depth); err != nil {
			return nil, false, err
		}
		return nil, false, nil
	}
	if depth > maxDepth {
		return nil, false, d.fail(errTooDeep)
	}
	d.pos++
	d.b.credit++
	if d.peek() == '}' {
		d.pos++
		if depth == 2 {
			return nil, true, nil
		}
		return map[string]any{}, true, d.charge(costMapEmpty, 0)
	}
	base := d.st.ents.n
	for {
		if d.peek() != '"' {
			if d.pos < len(d.data) {
				return nil, false, d.fail(errMapKey)
			}
			return nil, false, d.unexpected()
		}
		k, _, err := d.str(false)
		if err != nil {
			return nil, false, err
		}
		if d.peek() != ':' {
			return nil, false, d.unexpected()
		}
		d.pos++
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, false, err
		}
		if !d.st.pushEntry(&d.b, entry{k, v}) {
			return nil, false, d.overBudget()
		}
		switch d.peek() {
		case ',':
			d.pos++
			continue
		case '}':
			d.pos++
		default:
			return nil, false, d.unexpected()
		}
		break
	}
	n := d.st.ents.n - base
	if err := d.charge(mapCost(n), 0); err != nil {
		return nil, false, err
	}
	m := make(map[string]any, mapHint(n))
	for i := base; i < d.st.ents.n; i++ {
		e := d.st.ents.at(i)
		if _, dup := m[e.key]; dup {
			return nil, false, d.fail(dupKeyError(e.key))
		}
		m[e.key] = e.val
	}
	d.st.ents.pop(base)
	return m, true, nil
}

// str reads a string at d.pos (which holds '"'). With binary set, a
// string that begins with U+0000 is decoded as base64 and returned as
// non-nil bin (WAMP spec basic/serializations, "Binary conversion of JSON
// Strings").
func (d *jsonDecoder) str(binary bool) (s string, bin []byte, err error) {
	d.pos++
	start := d.pos
	ascii := true
	for i := start; i < len(d.data); i++ {
		c := d.data[i]
		switch {
		case c == '"':
			raw := d.data[start:i]
			if !ascii && !utf8.Valid(raw) {
				return "", nil, d.fail(errInvalidUTF8)
			}
			d.pos = i + 1
			if err := d.charge(stringCost(len(raw)), 1+int64(len(raw))); err != nil {
				return "", nil, err
			}
			return string(raw), nil, nil
		case c == '\\':
			return d.strSlow(start, i, binary)
		case c < 0x20:
			d.pos = i
			return "", nil, d.fail(errors.New("control character in string"))
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	d.pos = len(d.data)
	return "", nil, d.fail(errTruncated)
}

// strSlow decodes a string with escapes; data[start:i] has no escapes.
func (d *jsonDecoder) strSlow(start, i int, binary bool) (string, []byte, error) {
	// Unescaping never makes a string longer: find its end first and
	// make room for all of it at once. That buffer is not charged: it
	// is allocated only to grow, to a string's size, so all of them
	// together take at most the size of the message.
	end := i
	for end < len(d.data) && d.data[end] != '"' {
		if d.data[end] == '\\' {
			end++
		}
		end++
	}
	size := min(end, len(d.data)) - start
	b := d.buf[:0]
	if cap(b) < size {
		b = make([]byte, 0, size)
	}
	b = append(b, d.data[start:i]...)
	if !utf8.Valid(b) {
		d.pos = start
		return "", nil, d.fail(errInvalidUTF8)
	}
	for i < len(d.data) {
		c := d.data[i]
		switch {
		case c == '"':
			d.pos = i + 1
			d.buf = b
			if binary && len(b) > 0 && b[0] == 0 {
				return d.binary(start, b[1:])
			}
			if err := d.charge(stringCost(len(b)), 1+int64(len(b))); err != nil {
				return "", nil, err
			}
			return string(b), nil, nil
		case c < 0x20:
			d.pos = i
			return "", nil, d.fail(errors.New("control character in string"))
		case c == '\\':
			if i+1 >= len(d.data) {
				d.pos = len(d.data)
				return "", nil, d.fail(errTruncated)
			}
			e := d.data[i+1]
			i += 2
			switch e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, ok := hex4(d.data[i:])
				if !ok {
					d.pos = i - 2
					return "", nil, d.fail(errors.New(`invalid \u escape`))
				}
				i += 4
				if utf16.IsSurrogate(r) {
					r2, ok := rune(0), false
					if len(d.data)-i >= 6 && d.data[i] == '\\' && d.data[i+1] == 'u' {
						r2, ok = hex4(d.data[i+2:])
					}
					if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError // lone surrogate, as encoding/json does
					}
				}
				b = utf8.AppendRune(b, r)
			default:
				d.pos = i - 2
				return "", nil, d.fail(errors.New("invalid escape " + strconv.QuoteRune(rune(e))))
			}
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, size := utf8.DecodeRune(d.data[i:])
			if r == utf8.RuneError && size == 1 {
				d.pos = i
				return "", nil, d.fail(errInvalidUTF8)
			}
			b = append(b, d.data[i:i+size]...)
			i += size
		}
	}
	d.pos = len(d.data)
	return "", nil, d.fail(errTruncated)
}

// binary decodes the base64 text of a "\u0000"-prefixed string that
// started at start (WAMP spec basic/serializations, "Binary conversion of
// JSON Strings"). It is charged at its decoded size, as the same []byte
// decoded from MessagePack or CBOR would be.
func (d *jsonDecoder) binary(start int, text []byte) (string, []byte, error) {
	enc := base64.StdEncoding
	n := enc.DecodedLen(len(text))
	size := n
	for i := len(text) - 1; i >= len(text)-2 && i >= 0 && text[i] == '='; i-- {
		size--
	}
	// out has room for the padding too (its cost is not the value's).
	size = max(size, 0)
	if err := d.charge(bytesCost(size), 0); err != nil {
		return "", nil, err
	}
	if !d.b.spendStack(bytesCost(n) - bytesCost(size)) {
		return "", nil, d.overBudget()
	}
	out := make([]byte, n)
	n, err := enc.Decode(out, text)
	if err != nil {
		d.pos = start
		return "", nil, d.fail(errBadBinary)
	}
	d.b.credit += 1 + int64(n)
	return "", out[:n:n], nil
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// number reads a JSON number. Integers become int64 (or uint64 above
// math.MaxInt64), so IDs up to 2^53 and beyond are exact; numbers with a
// fraction or exponent, and integers beyond 64 bits, become float64.
func (d *jsonDecoder) number() (any, error) {
	n, err := d.num()
	if err != nil {
		return nil, err
	}
	switch n.kind {
	case numInt:
		return n.i, d.charge(wordCost(uint64(n.i)), intCredit(n.i))
	case numUint:
		return n.u, d.charge(costWord, 9)
	}
	return n.f, d.charge(costWord, floatCredit)
}

// Kinds of a decoded JSON number.
const (
	numInt = iota
	numUint
	numFloat
)

// jsonNum is a decoded number, unboxed.
type jsonNum struct {
	kind int
	i    int64
	u    uint64
	f    float64
}

// num reads a number without boxing it.
func (d *jsonDecoder) num() (jsonNum, error) {
	start := d.pos
	i := d.pos
	neg := false
	if d.data[i] == '-' {
		neg = true
		i++
	}
	digits := i
	var mag uint64
	overflow := false
	for i < len(d.data) && d.data[i] >= '0' && d.data[i] <= '9' {
		c := uint64(d.data[i] - '0')
		if mag > (math.MaxUint64-c)/10 {
			overflow = true
		} else {
			mag = mag*10 + c
		}
		i++
	}
	if i == digits || (d.data[digits] == '0' && i-digits > 1) {
		d.pos = start
		return jsonNum{}, d.fail(errNumberSyntax)
	}
	isFloat := false
	if i < len(d.data) && d.data[i] == '.' {
		isFloat = true
		i++
		f := i
		for i < len(d.data) && d.data[i] >= '0' && d.data[i] <= '9' {
			i++
		}
		if i == f {
			d.pos = start
			return jsonNum{}, d.fail(errNumberSyntax)
		}
	}
	if i < len(d.data) && (d.data[i] == 'e' || d.data[i] == 'E') {
		isFloat = true
		i++
		if i < len(d.data) && (d.data[i] == '+' || d.data[i] == '-') {
			i++
		}
		f := i
		for i < len(d.data) && d.data[i] >= '0' && d.data[i] <= '9' {
			i++
		}
		if i == f {
			d.pos = start
			return jsonNum{}, d.fail(errNumberSyntax)
		}
	}
	d.pos = i
	if !isFloat && !overflow {
		switch {
		case !neg && mag <= math.MaxInt64:
			return jsonNum{kind: numInt, i: int64(mag)}, nil
		case !neg:
			return jsonNum{kind: numUint, u: mag}, nil
		case mag <= 1<<63:
			return jsonNum{kind: numInt, i: -int64(mag-1) - 1}, nil
		}
	}
	f, err := strconv.ParseFloat(string(d.data[start:i]), 64)
	if err != nil {
		d.pos = start
		return jsonNum{}, d.fail(errNumberRange)
	}
	return jsonNum{kind: numFloat, f: f}, nil
}
