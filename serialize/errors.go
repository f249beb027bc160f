package serialize

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"

	"github.com/wampkit/wampkit/protocol"
)

// Problems found while decoding; they are wrapped in a *DecodeError.
var (
	errEmpty       = errors.New("empty input")
	errNotList     = errors.New("message is not a list")
	errEmptyList   = errors.New("message is an empty list")
	errTruncated   = errors.New("unexpected end of input")
	errTrailing    = errors.New("trailing data after the message")
	errInvalidUTF8 = errors.New("invalid UTF-8 in string")
	errTooDeep     = errors.New("nesting deeper than " + strconv.Itoa(maxDepth) + " levels")
	errMapKey      = errors.New("map key is not a string")
)

func dupKeyError(k string) error {
	return fmt.Errorf("duplicate map key %q", k)
}

// checkType returns the layout of a message type code read from the input.
func checkType(t uint64, ok bool) (*protocol.Layout, protocol.MessageType, error) {
	if !ok {
		return nil, 0, &protocol.MessageError{Reason: "message type is not a non-negative integer"}
	}
	var lay *protocol.Layout
	if t <= math.MaxUint16 {
		lay = protocol.LayoutOf(protocol.MessageType(t))
	}
	if lay == nil {
		return nil, 0, &protocol.MessageError{Reason: "unknown message type " + strconv.FormatUint(t, 10)}
	}
	return lay, protocol.MessageType(t), nil
}

func arityError(t protocol.MessageType, lay *protocol.Layout, n int) error {
	want := strconv.Itoa(lay.Min() + 1)
	if lay.Len() != lay.Min() {
		want += ".." + strconv.Itoa(lay.Len()+1)
	}
	return &protocol.MessageError{Type: t, Reason: "list has " + strconv.Itoa(n+1) + " elements, want " + want}
}

func fieldTypeError(t protocol.MessageType, f protocol.Field) error {
	var want string
	switch f.Kind {
	case protocol.KindInt:
		want = "a non-negative integer"
	case protocol.KindString:
		want = "a string"
	case protocol.KindDict:
		want = "a dict"
	case protocol.KindList:
		want = "a list"
	}
	return &protocol.MessageError{Type: t, Field: f.Name, Reason: "not " + want}
}

// hasBudget reports whether a field's value is checked against the memory
// budget (see budget.check): dicts and lists.
func hasBudget(k protocol.Kind) bool { return k == protocol.KindDict || k == protocol.KindList }

// floatToUint converts an integral non-negative float to uint64.
func floatToUint(f float64) (uint64, bool) {
	if f != math.Trunc(f) || f < 0 || f >= 1<<64 { // NaN fails the first test
		return 0, false
	}
	return uint64(f), true
}

// encodeError describes a value that cannot be encoded.
func encodeError(s Serializer, t protocol.MessageType, field string, err error) error {
	return fmt.Errorf("serialize: %s: encode %s: %s%w", s, t, fieldPrefix(field, err), err)
}

// pathError and indexError record where in a nested value a problem is.
type pathErr struct {
	path string
	err  error
}

func (e *pathErr) Error() string { return e.path + ": " + e.err.Error() }
func (e *pathErr) Unwrap() error { return e.err }

func fieldPrefix(field string, err error) string {
	var pe *pathErr
	if errors.As(err, &pe) {
		return field
	}
	return field + ": "
}

func pathError(key string, err error) error {
	if pe, ok := err.(*pathErr); ok {
		return &pathErr{path: "." + key + pe.path, err: pe.err}
	}
	return &pathErr{path: "." + key, err: err}
}

func indexError(i int, err error) error {
	p := "[" + strconv.Itoa(i) + "]"
	if pe, ok := err.(*pathErr); ok {
		return &pathErr{path: p + pe.path, err: pe.err}
	}
	return &pathErr{path: p, err: err}
}

// sortedKeys returns the keys of d in increasing order, using buf if it is
// large enough, so that encodings are deterministic.
func sortedKeys(d map[string]any, buf []string) []string {
	keys := buf[:0]
	for k := range d {
		keys = append(keys, k)
	}
	if len(keys) > 1 {
		slices.Sort(keys)
	}
	return keys
}

// intValue and uintValue convert the integer kinds the fast paths of the
// encoders do not list.
func intValue(v any) (int64, bool) {
	switch n := v.(type) {
	case int8:
		return int64(n), true
	case int16:
		return int64(n), true
	case int32:
		return int64(n), true
	}
	return 0, false
}

func uintValue(v any) (uint64, bool) {
	switch n := v.(type) {
	case uint:
		return uint64(n), true
	case uint8:
		return uint64(n), true
	case uint16:
		return uint64(n), true
	case uint32:
		return uint64(n), true
	case protocol.ID:
		return uint64(n), true
	case protocol.MessageType:
		return uint64(n), true
	}
	return 0, false
}

func stringValue(v any) (string, bool) {
	if u, ok := v.(protocol.URI); ok {
		return string(u), true
	}
	return "", false
}

// errUnsupported reports a value none of the encoders can represent.
func errUnsupported(v any) error {
	return fmt.Errorf("unsupported type %s", reflect.TypeOf(v))
}

func errUnknownSerializer(s Serializer) error {
	return fmt.Errorf("serialize: unknown serializer %d", uint8(s))
}
