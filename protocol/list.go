package protocol

import (
	"strconv"
	"unicode/utf8"
)

// arity gives the allowed list lengths (type code included) per type.
type arity struct{ min, max uint8 }

var arities = [...]arity{
	TypeHello:        {3, 3},
	TypeWelcome:      {3, 3},
	TypeAbort:        {3, 5},
	TypeChallenge:    {3, 3},
	TypeAuthenticate: {3, 3},
	TypeGoodbye:      {3, 3},
	TypeError:        {5, 7},
	TypePublish:      {4, 6},
	TypePublished:    {3, 3},
	TypeSubscribe:    {4, 4},
	TypeSubscribed:   {3, 3},
	TypeUnsubscribe:  {3, 3},
	TypeUnsubscribed: {2, 3},
	TypeEvent:        {4, 6},
	TypeCall:         {4, 6},
	TypeCancel:       {3, 3},
	TypeResult:       {3, 5},
	TypeRegister:     {4, 4},
	TypeRegistered:   {3, 3},
	TypeUnregister:   {3, 3},
	TypeUnregistered: {2, 3},
	TypeInvocation:   {4, 6},
	TypeInterrupt:    {3, 3},
	TypeYield:        {3, 5},
}

// ErrorRequestTypeValid reports whether an ERROR message may answer a
// request of type t: SUBSCRIBE, UNSUBSCRIBE, PUBLISH, REGISTER, UNREGISTER,
// CALL or INVOCATION (spec basic messages.md "ERROR"). ERROR
// with another REQUEST.Type is a protocol violation. The spec never
// answers CANCEL with ERROR (a canceled call gets ERROR for the CALL), so
// CANCEL is not accepted.
func ErrorRequestTypeValid(t MessageType) bool {
	switch t {
	case TypeSubscribe, TypeUnsubscribe, TypePublish, TypeRegister, TypeUnregister, TypeCall, TypeInvocation:
		return true
	}
	return false
}

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
//     ERROR's REQUEST.Type is one of [ErrorRequestTypeValid].
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
	if code < 0 || code >= int64(len(arities)) || !MessageType(code).Known() {
		return nil, malformed(0, "", "unknown message type "+strconv.FormatInt(code, 10))
	}
	t := MessageType(code)
	a := arities[t]
	if len(l) < int(a.min) || len(l) > int(a.max) {
		want := strconv.Itoa(int(a.min))
		if a.max != a.min {
			want += ".." + strconv.Itoa(int(a.max))
		}
		return nil, malformed(t, "", strconv.Itoa(len(l))+" elements, want "+want)
	}
	d := decoder{t: t, l: l}
	var m Message
	switch t {
	case TypeHello:
		m = &Hello{Realm: d.uri(1, "Realm"), Details: d.dict(2, "Details")}
	case TypeWelcome:
		m = &Welcome{Session: d.id(1, "Session"), Details: d.dict(2, "Details")}
	case TypeAbort:
		x := &Abort{Details: d.dict(1, "Details"), Reason: d.uri(2, "Reason")}
		x.Args, x.Kwargs = d.payload(3)
		m = x
	case TypeChallenge:
		m = &Challenge{AuthMethod: d.str(1, "AuthMethod"), Extra: d.dict(2, "Extra")}
	case TypeAuthenticate:
		m = &Authenticate{Signature: d.str(1, "Signature"), Extra: d.dict(2, "Extra")}
	case TypeGoodbye:
		m = &Goodbye{Details: d.dict(1, "Details"), Reason: d.uri(2, "Reason")}
	case TypeError:
		x := &Error{RequestType: d.requestType(1), Request: d.id(2, "Request"),
			Details: d.dict(3, "Details"), URI: d.uri(4, "URI")}
		x.Args, x.Kwargs = d.payload(5)
		m = x
	case TypePublish:
		x := &Publish{Request: d.id(1, "Request"), Options: d.dict(2, "Options"), Topic: d.requestURI(3, "Topic")}
		x.Args, x.Kwargs = d.payload(4)
		m = x
	case TypePublished:
		m = &Published{Request: d.id(1, "Request"), Publication: d.id(2, "Publication")}
	case TypeSubscribe:
		x := &Subscribe{Request: d.id(1, "Request"), Options: d.dict(2, "Options")}
		x.Topic = d.requestURI(3, "Topic")
		m = x
	case TypeSubscribed:
		m = &Subscribed{Request: d.id(1, "Request"), Subscription: d.id(2, "Subscription")}
	case TypeUnsubscribe:
		m = &Unsubscribe{Request: d.id(1, "Request"), Subscription: d.id(2, "Subscription")}
	case TypeUnsubscribed:
		x := &Unsubscribed{}
		x.Request, x.Details = d.revocable()
		m = x
	case TypeEvent:
		x := &Event{Subscription: d.id(1, "Subscription"), Publication: d.id(2, "Publication"),
			Details: d.dict(3, "Details")}
		x.Args, x.Kwargs = d.payload(4)
		m = x
	case TypeCall:
		x := &Call{Request: d.id(1, "Request"), Options: d.dict(2, "Options"), Procedure: d.requestURI(3, "Procedure")}
		x.Args, x.Kwargs = d.payload(4)
		m = x
	case TypeCancel:
		m = &Cancel{Request: d.id(1, "Request"), Options: d.dict(2, "Options")}
	case TypeResult:
		x := &Result{Request: d.id(1, "Request"), Details: d.dict(2, "Details")}
		x.Args, x.Kwargs = d.payload(3)
		m = x
	case TypeRegister:
		x := &Register{Request: d.id(1, "Request"), Options: d.dict(2, "Options")}
		x.Procedure = d.requestURI(3, "Procedure")
		m = x
	case TypeRegistered:
		m = &Registered{Request: d.id(1, "Request"), Registration: d.id(2, "Registration")}
	case TypeUnregister:
		m = &Unregister{Request: d.id(1, "Request"), Registration: d.id(2, "Registration")}
	case TypeUnregistered:
		x := &Unregistered{}
		x.Request, x.Details = d.revocable()
		m = x
	case TypeInvocation:
		x := &Invocation{Request: d.id(1, "Request"), Registration: d.id(2, "Registration"),
			Details: d.dict(3, "Details")}
		x.Args, x.Kwargs = d.payload(4)
		m = x
	case TypeInterrupt:
		m = &Interrupt{Request: d.id(1, "Request"), Options: d.dict(2, "Options")}
	case TypeYield:
		x := &Yield{Request: d.id(1, "Request"), Options: d.dict(2, "Options")}
		x.Args, x.Kwargs = d.payload(3)
		m = x
	}
	if d.err != nil {
		return nil, d.err
	}
	return m, nil
}

// decoder reads the elements of one wire list. Its methods record the
// first error in err and return zero values once an error is recorded.
type decoder struct {
	t   MessageType
	l   List
	err *MessageError
}

func (d *decoder) fail(field, reason string) {
	if d.err == nil {
		d.err = malformed(d.t, field, reason)
	}
}

func (d *decoder) id(i int, field string) ID {
	if d.err != nil {
		return 0
	}
	v := d.l[i]
	n, ok := ToInt64(v)
	if !ok {
		d.fail(field, "not an integer: "+describe(v))
		return 0
	}
	if n < 1 || n > int64(MaxID) {
		d.fail(field, "ID "+strconv.FormatInt(n, 10)+" out of range [1, 2^53]")
		return 0
	}
	return ID(n)
}

func (d *decoder) requestType(i int) MessageType {
	if d.err != nil {
		return 0
	}
	v := d.l[i]
	n, ok := ToInt64(v)
	if !ok {
		d.fail("RequestType", "not an integer: "+describe(v))
		return 0
	}
	if n < 0 || n > 0xffff || !ErrorRequestTypeValid(MessageType(n)) {
		d.fail("RequestType", "ERROR cannot answer message type "+strconv.FormatInt(n, 10))
		return 0
	}
	return MessageType(n)
}

func (d *decoder) str(i int, field string) string {
	if d.err != nil {
		return ""
	}
	s, ok := d.l[i].(string)
	if !ok {
		d.fail(field, "not a string: "+describe(d.l[i]))
	}
	return s
}

func (d *decoder) uri(i int, field string) URI {
	if d.err != nil {
		return ""
	}
	s, ok := d.l[i].(string)
	if !ok {
		d.fail(field, "not a string: "+describe(d.l[i]))
		return ""
	}
	u := URI(s)
	if r := checkURI(u, false, false, false); r != "" {
		d.fail(field, (&URIError{URI: u, Reason: r}).short())
		return ""
	}
	return u
}

// requestURI reads the topic or procedure of PUBLISH, SUBSCRIBE, CALL or
// REGISTER. Only its type is checked: its syntax (and the match option it
// depends on) is for the router to answer with ERROR
// wamp.error.invalid_uri (spec basic "URIs"), not a malformed message that
// ends the session. See [ValidateReceived].
func (d *decoder) requestURI(i int, field string) URI {
	s := d.str(i, field)
	if d.err == nil && !utf8.ValidString(s) {
		// Not a URI question: no string may carry invalid UTF-8.
		d.fail(field, "invalid UTF-8")
	}
	return URI(s)
}

func (d *decoder) dict(i int, field string) Dict {
	if d.err != nil {
		return nil
	}
	v := d.l[i]
	m, ok := asDict(v)
	if !ok {
		if _, isMap := v.(map[any]any); isMap {
			d.fail(field, "dict with a non-string key")
		} else {
			d.fail(field, "not a dict: "+describe(v))
		}
		return nil
	}
	if r := normalizeDict(m); r != "" {
		d.fail(field, r)
		return nil
	}
	return m
}

// payload reads the optional Arguments at i and ArgumentsKw at i+1.
func (d *decoder) payload(i int) (List, Dict) {
	if d.err != nil || i >= len(d.l) {
		return nil, nil
	}
	var args List
	switch a := d.l[i].(type) {
	case []any:
		args = a
	case List:
		args = a
	default:
		d.fail("Args", "not a list: "+describe(d.l[i]))
		return nil, nil
	}
	if r := normalizeList(args); r != "" {
		d.fail("Args", r)
		return nil, nil
	}
	if i+1 >= len(d.l) {
		return args, nil
	}
	return args, d.dict(i+1, "Kwargs")
}

// revocable reads UNSUBSCRIBED and UNREGISTERED: [T, Request|id] or
// [T, Request|id, Details|dict], where Request may be 0 in the second
// (revocation) form.
func (d *decoder) revocable() (ID, Dict) {
	if len(d.l) == 2 {
		return d.id(1, "Request"), nil
	}
	v := d.l[1]
	n, ok := ToInt64(v)
	if !ok {
		d.fail("Request", "not an integer: "+describe(v))
		return 0, nil
	}
	if n < 0 || n > int64(MaxID) {
		d.fail("Request", "ID "+strconv.FormatInt(n, 10)+" out of range [0, 2^53]")
		return 0, nil
	}
	return ID(n), d.dict(2, "Details")
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
