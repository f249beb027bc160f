package protocol

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// FromValue is [FromList] for a value of unknown type, as a generic decoder
// produces it: v must be a List or []any, anything else is a
// *[MessageError] ("not a list").
func FromValue(v any) (Message, error) {
	switch l := v.(type) {
	case List:
		return FromList(l)
	case []any:
		return FromList(l)
	}
	return nil, malformed(0, "", "not a list: "+typeName(v))
}

// FromList converts a decoded wire list into its message, validating it
// fully (spec basic messages.md "Message Definitions", basic "URIs", "IDs"):
//
//   - the list is not empty and starts with a known type code (one of the
//     24 message types);
//   - its length fits the type, with optional trailing Arguments and
//     ArgumentsKw (ArgumentsKw only after Arguments);
//   - integers may be any Go integer kind or an integral float (see
//     [ToInt64]); IDs are in [1, MaxID], except the Request 0 of the
//     revocation forms [UNSUBSCRIBED, 0, Details] and
//     [UNREGISTERED, 0, Details];
//   - URIs follow the loose rules of [CheckURI], except the topic of
//     PUBLISH and SUBSCRIBE and the procedure of CALL and REGISTER: those
//     must be valid UTF-8 strings, and their syntax is left to the router,
//     which refuses a bad one with ERROR wamp.error.invalid_uri (see
//     [ValidateReceived]);
//   - Details, Options, Extra and ArgumentsKw are dicts, Arguments is a list;
//     ERROR's REQUEST.Type is one an ERROR may answer (see [Error]).
//
// Dict keys must be strings. A dictionary decoded as map[any]any (some
// MessagePack and CBOR decoders do that) is converted to map[string]any (or
// Dict at the top level), at every depth, including the payload; a non-string
// key anywhere is an error. The conversion replaces the nested value in place,
// so FromList takes ownership of l: the message shares l's payload (no copy).
//
// Every error is a *[MessageError] that names the message type and field,
// for example `protocol: HELLO: Realm: invalid URI "a..b": empty
// component`; errors.Is(err, [ErrMalformed]) holds. FromList never panics.
func FromList(l List) (Message, error) {
	if len(l) == 0 {
		return nil, malformed(0, "", "empty list")
	}
	code, ok := ToInt64(l[0])
	if !ok {
		return nil, malformed(0, "", "type code is not an integer: "+typeName(l[0]))
	}
	if code < 0 || code >= int64(len(layouts)) || layouts[code] == nil {
		return nil, malformed(0, "", "unknown message type "+strconv.FormatInt(code, 10))
	}
	lay := layouts[code]
	if len(l) < lay.min+1 || len(l) > len(lay.fields)+1 {
		return nil, malformed(lay.typ, "", lay.lengthReason(len(l)))
	}
	e := lay.New()
	e.n = len(l) - 1
	for i, v := range l[1:] {
		if r := e.setValue(i, v); r != "" {
			return nil, malformed(lay.typ, lay.fields[i].Name, r)
		}
	}
	return lay.msg(e.base), nil
}

// setValue sets element i from the decoded value v, checking it as
// FromList does; e.n must be the number of elements in the list. It
// returns what is wrong with v, or "".
func (e *Elements) setValue(i int, v any) string {
	f := &e.l.fields[i]
	switch f.rule {
	case ruleID:
		n, r := listID(v, 1)
		*idAt(e.base, f) = n
		return r
	case ruleRevocable:
		// [T, Request|id] or [T, Request|id, Details|dict], where Request
		// may be 0 in the second (revocation) form.
		lo := int64(1)
		if i+1 < e.n {
			lo = 0
		}
		n, r := listID(v, lo)
		*idAt(e.base, f) = n
		return r
	case ruleRequestType:
		n, ok := ToInt64(v)
		if !ok {
			return "not an integer: " + describe(v)
		}
		if n < 0 || n > math.MaxUint16 || !errorRequestTypeValid(MessageType(n)) {
			return "ERROR cannot answer message type " + strconv.FormatInt(n, 10)
		}
		*typeAt(e.base, f) = MessageType(n)
	case ruleURI, ruleRequestURI, rulePattern, ruleString:
		s, ok := v.(string)
		if !ok {
			return "not a string: " + describe(v)
		}
		switch f.rule {
		case ruleURI:
			if r := uriReason(URI(s)); r != "" {
				return r
			}
		case ruleRequestURI, rulePattern:
			// Only the type is checked: the syntax (and the match option it
			// depends on) is for the router to answer with ERROR
			// wamp.error.invalid_uri (spec basic "URIs"), not a malformed
			// message that ends the session. See ValidateReceived.
			if !utf8.ValidString(s) {
				// Not a URI question: no string may carry invalid UTF-8.
				return "invalid UTF-8"
			}
		}
		e.SetString(i, s)
	case ruleArgs:
		var args List
		switch a := v.(type) {
		case []any:
			args = a
		case List:
			args = a
		default:
			return "not a list: " + describe(v)
		}
		if r := normalizeList(args); r != "" {
			return r
		}
		*listAt(e.base, f) = args
	default: // the dicts
		m, ok := asDict(v)
		if !ok {
			if _, isMap := v.(map[any]any); isMap {
				return "dict with a non-string key"
			}
			return "not a dict: " + describe(v)
		}
		if r := normalizeDict(m); r != "" {
			return r
		}
		*dictAt(e.base, f) = m
	}
	return ""
}

// listID converts a decoded integer to an ID in [lo, MaxID]; it returns
// what is wrong with v, or "".
func listID(v any, lo int64) (ID, string) {
	n, ok := ToInt64(v)
	if !ok {
		return 0, "not an integer: " + describe(v)
	}
	if n < lo || n > int64(MaxID) {
		return 0, "ID " + strconv.FormatInt(n, 10) + " out of range [" + strconv.FormatInt(lo, 10) + ", 2^53]"
	}
	return ID(n), ""
}

// ToList converts a message into its wire list, ready for a serializer
// (spec basic messages.md "Message Definitions").
//
// It first runs [Validate] and returns its error, so nothing invalid is
// ever sent. Then:
//
//   - a nil Details, Options or Extra is written as an empty dict {}
//     (never null);
//   - empty trailing ArgumentsKw is left out, and Arguments is left out when
//     it is empty and there is no ArgumentsKw; with a non-empty ArgumentsKw,
//     an empty Arguments is written as [] (spec basic "Empty Arguments and
//     Keyword Arguments");
//   - UNSUBSCRIBED and UNREGISTERED get their Details element when Details
//     is non-nil or Request is 0 (revocation form [35, 0, Details]).
//
// Dicts and payload go into the list as plain map[string]any and []any
// (the types serializers handle fastest), sharing the message's memory
// (no copy). ToList never panics; a nil message or one of a type not
// defined in this package is a *[MessageError].
func ToList(m Message) (List, error) {
	e, err := elementsOf(m)
	if err != nil {
		return nil, err
	}
	l := make(List, e.n+1)
	l[0] = uint64(e.l.typ)
	for i := range e.n {
		f := &e.l.fields[i]
		switch f.rule {
		case ruleID, ruleRevocable:
			l[i+1] = uint64(*idAt(e.base, f))
		case ruleRequestType:
			l[i+1] = uint64(*typeAt(e.base, f))
		case ruleURI, ruleRequestURI, rulePattern:
			l[i+1] = string(*uriAt(e.base, f))
		case ruleString:
			l[i+1] = *strAt(e.base, f)
		case ruleArgs:
			if args := *listAt(e.base, f); args != nil {
				l[i+1] = []any(args)
			} else {
				l[i+1] = []any{} // before ArgumentsKw
			}
		default: // the dicts
			l[i+1] = orEmpty(*dictAt(e.base, f))
		}
	}
	return l, nil
}

// orEmpty returns d, or a new empty dict if d is nil: WAMP never sends null
// for a dict. (A fresh map, not a shared one: receivers of the decoded
// message may add keys.)
func orEmpty(d Dict) map[string]any {
	if d == nil {
		return map[string]any{}
	}
	return d
}

// maxDepth bounds the nesting that normalize walks. Decoded data is a
// tree and serializers limit nesting well below this; the bound only
// stops a walk over a cyclic value built in Go.
const maxDepth = 10000

// maxContainers bounds the number of nested dicts and lists one walk
// visits: more than a 16 MiB message can hold, and a stop for values built
// in Go that share sub-lists exponentially often.
const maxContainers = 1 << 24

// frame is a container waiting to be walked by normalize.
type frame struct {
	v     any
	depth int
}

// normalizeList and normalizeDict walk a payload list or a dict without
// recursion, replacing every nested map[any]any by a map[string]any with
// the same entries. They return "" or what is wrong. Scalars cost one type
// switch each; the walk allocates only when containers nest deeply or
// map[any]any values must be converted.
func normalizeList(l []any) string {
	var buf [8]frame
	stack, r := walkList(l, 1, buf[:0])
	if r != "" {
		return r
	}
	return drain(stack)
}

func normalizeDict(m map[string]any) string {
	var buf [8]frame
	stack, r := walkMap(m, 1, buf[:0])
	if r != "" {
		return r
	}
	return drain(stack)
}

// drain walks the containers on stack and those nested in them.
func drain(stack []frame) string {
	for n := 0; len(stack) > 0; n++ {
		if n > maxContainers {
			return "more than " + strconv.Itoa(maxContainers) + " nested containers"
		}
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		var r string
		switch c := f.v.(type) {
		case map[string]any:
			stack, r = walkMap(c, f.depth+1, stack)
		case Dict:
			stack, r = walkMap(c, f.depth+1, stack)
		case []any:
			stack, r = walkList(c, f.depth+1, stack)
		case List:
			stack, r = walkList(c, f.depth+1, stack)
		}
		if r != "" {
			return r
		}
	}
	return ""
}

func walkMap(m map[string]any, depth int, stack []frame) ([]frame, string) {
	for k, e := range m {
		n, changed, r := nested(e)
		if r != "" {
			return stack, r
		}
		if changed {
			m[k] = n
			e = n
		}
		if n != nil || isContainer(e) {
			if depth > maxDepth {
				return stack, "nested deeper than " + strconv.Itoa(maxDepth) + " levels"
			}
			stack = append(stack, frame{e, depth})
		}
	}
	return stack, ""
}

func walkList(l []any, depth int, stack []frame) ([]frame, string) {
	for i, e := range l {
		n, changed, r := nested(e)
		if r != "" {
			return stack, r
		}
		if changed {
			l[i] = n
			e = n
		}
		if n != nil || isContainer(e) {
			if depth > maxDepth {
				return stack, "nested deeper than " + strconv.Itoa(maxDepth) + " levels"
			}
			stack = append(stack, frame{e, depth})
		}
	}
	return stack, ""
}

// nested converts e if it is a map[any]any with string keys.
func nested(e any) (map[string]any, bool, string) {
	c, ok := e.(map[any]any)
	if !ok {
		return nil, false, ""
	}
	m := make(map[string]any, len(c))
	for k, x := range c {
		s, ok := k.(string)
		if !ok {
			return nil, false, "dict with a non-string key: " + describe(k)
		}
		m[s] = x
	}
	return m, true, ""
}

// isContainer reports whether e is a non-empty dict or list to walk.
func isContainer(e any) bool {
	switch c := e.(type) {
	case map[string]any:
		return len(c) > 0
	case []any:
		return len(c) > 0
	case Dict:
		return len(c) > 0
	case List:
		return len(c) > 0
	}
	return false
}

// describe names a value's kind for an error message, without printing
// (possibly large) payload.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool " + strconv.FormatBool(x)
	case float64:
		return "float " + strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		return "float " + strconv.FormatFloat(float64(x), 'g', -1, 32)
	case string:
		return "string " + quoteTrunc(x)
	case int64, int, int32, int16, int8, uint64, uint, uint32, uint16, uint8:
		if n, ok := ToInt64(x); ok {
			return "integer " + strconv.FormatInt(n, 10)
		}
		switch u := x.(type) {
		case uint64:
			return "integer " + strconv.FormatUint(u, 10)
		case uint:
			return "integer " + strconv.FormatUint(uint64(u), 10)
		}
		return "integer"
	case []any, List:
		return "list"
	case map[string]any, Dict, map[any]any:
		return "dict"
	}
	return typeName(v)
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any, List:
		return "list"
	case map[string]any, Dict, map[any]any:
		return "dict"
	case string:
		return "string"
	case bool:
		return "bool"
	case float32, float64:
		return "float"
	case []byte:
		return "binary"
	}
	if _, ok := ToInt64(v); ok {
		return "integer"
	}
	return "value of an unsupported type"
}
