package serialize

import (
	"fmt"

	"github.com/wampkit/wampkit/protocol"
)

// Codec encodes and decodes WAMP messages in one serialization format.
// Codecs are stateless values; all methods are safe for concurrent use.
type Codec interface {
	// Encode appends the encoding of m to dst and returns the extended
	// buffer. A *Shared message is encoded at most once per serializer
	// (see [Shared.Bytes]).
	Encode(dst []byte, m protocol.Message) ([]byte, error)
	// Decode decodes one message. The returned message does not alias
	// data, so the caller may reuse the buffer. Decode never panics; every
	// error it returns wraps protocol.ErrMalformed and says what is wrong.
	Decode(data []byte) (protocol.Message, error)
}

// maxDepth is the deepest nesting of lists and dicts accepted in a message
// (the message list itself is level 1). The memory decoding may take is
// bounded by a budget (see budget.go).
const maxDepth = 100

// undefined is what the MessagePack and CBOR decoders return for
// JavaScript's undefined (see the package documentation, "JavaScript
// undefined"): the lists and dicts holding it make it nil, or leave the
// entry out.
type undefined struct{}

func isUndefined(v any) bool {
	_, ok := v.(undefined)
	return ok
}

// kind is the wire type of one element of a message list.
type kind uint8

const (
	kindID   kind = iota + 1 // integer (ID, request type)
	kindURI                  // string holding a URI
	kindStr                  // string
	kindDict                 // Details, Options, Extra, Kwargs; kinds from here on have a budget (see budget.check)
	kindList                 // Args
)

// fieldSpec describes one element after the type code.
type fieldSpec struct {
	name string
	kind kind
}

// layout is the wire layout of one message type: min..len(fields)
// elements follow the type code (WAMP spec, basic/messages).
type layout struct {
	min    int
	fields []fieldSpec
}

var (
	fDetails = fieldSpec{"Details", kindDict}
	fOptions = fieldSpec{"Options", kindDict}
	fExtra   = fieldSpec{"Extra", kindDict}
	fArgs    = fieldSpec{"Args", kindList}
	fKwargs  = fieldSpec{"Kwargs", kindDict}
	fRequest = fieldSpec{"Request", kindID}
)

// layouts is indexed by message type code; unknown codes have a zero layout.
var layouts = func() (t [protocol.TypeYield + 1]layout) {
	id := func(n string) fieldSpec { return fieldSpec{n, kindID} }
	uri := func(n string) fieldSpec { return fieldSpec{n, kindURI} }
	str := func(n string) fieldSpec { return fieldSpec{n, kindStr} }
	l := func(min int, f ...fieldSpec) layout { return layout{min, f} }
	t[protocol.TypeHello] = l(2, uri("Realm"), fDetails)
	t[protocol.TypeWelcome] = l(2, id("Session"), fDetails)
	t[protocol.TypeAbort] = l(2, fDetails, uri("Reason"), fArgs, fKwargs)
	t[protocol.TypeChallenge] = l(2, str("AuthMethod"), fExtra)
	t[protocol.TypeAuthenticate] = l(2, str("Signature"), fExtra)
	t[protocol.TypeGoodbye] = l(2, fDetails, uri("Reason"))
	t[protocol.TypeError] = l(4, id("RequestType"), fRequest, fDetails, uri("URI"), fArgs, fKwargs)
	t[protocol.TypePublish] = l(3, fRequest, fOptions, uri("Topic"), fArgs, fKwargs)
	t[protocol.TypePublished] = l(2, fRequest, id("Publication"))
	t[protocol.TypeSubscribe] = l(3, fRequest, fOptions, uri("Topic"))
	t[protocol.TypeSubscribed] = l(2, fRequest, id("Subscription"))
	t[protocol.TypeUnsubscribe] = l(2, fRequest, id("Subscription"))
	t[protocol.TypeUnsubscribed] = l(1, fRequest, fDetails)
	t[protocol.TypeEvent] = l(3, id("Subscription"), id("Publication"), fDetails, fArgs, fKwargs)
	t[protocol.TypeCall] = l(3, fRequest, fOptions, uri("Procedure"), fArgs, fKwargs)
	t[protocol.TypeCancel] = l(2, fRequest, fOptions)
	t[protocol.TypeResult] = l(2, fRequest, fDetails, fArgs, fKwargs)
	t[protocol.TypeRegister] = l(3, fRequest, fOptions, uri("Procedure"))
	t[protocol.TypeRegistered] = l(2, fRequest, id("Registration"))
	t[protocol.TypeUnregister] = l(2, fRequest, id("Registration"))
	t[protocol.TypeUnregistered] = l(1, fRequest, fDetails)
	t[protocol.TypeInvocation] = l(3, fRequest, id("Registration"), fDetails, fArgs, fKwargs)
	t[protocol.TypeInterrupt] = l(2, fRequest, fOptions)
	t[protocol.TypeYield] = l(2, fRequest, fOptions, fArgs, fKwargs)
	return t
}()

// layoutOf returns the layout of type code t, or nil if t is unknown.
func layoutOf(t uint64) *layout {
	if t >= uint64(len(layouts)) || layouts[t].fields == nil {
		return nil
	}
	return &layouts[t]
}

// maxFields is the largest number of elements after the type code.
const maxFields = 6

// envelope is a message taken apart into its list elements, without
// boxing them in interfaces. Element i is in num[i], str[i], dict[i] or
// list[i] according to the layout.
type envelope struct {
	typ  protocol.MessageType
	n    int // elements after the type code
	num  [maxFields]uint64
	str  [maxFields]string
	dict [maxFields]protocol.Dict
	list [maxFields]protocol.List
}

func (e *envelope) id(v protocol.ID)  { e.num[e.n] = uint64(v); e.n++ }
func (e *envelope) s(v string)        { e.str[e.n] = v; e.n++ }
func (e *envelope) d(v protocol.Dict) { e.dict[e.n] = v; e.n++ }
func (e *envelope) l(v protocol.List) { e.list[e.n] = v; e.n++ }
func (e *envelope) payload(args protocol.List, kwargs protocol.Dict) {
	// The spec says SHOULD omit empty trailing Args/Kwargs (basic/messages,
	// "Empty Arguments and Keyword Arguments").
	if len(kwargs) > 0 {
		e.l(args)
		e.d(kwargs)
	} else if len(args) > 0 {
		e.l(args)
	}
}

// toEnvelope validates m with protocol.Validate (as protocol.ToList does,
// so nothing invalid is ever sent) and takes it apart.
func toEnvelope(s Serializer, e *envelope, m protocol.Message) error {
	if m == nil {
		return fmt.Errorf("serialize: %s: encode nil message", s)
	}
	if err := protocol.Validate(m); err != nil {
		return fmt.Errorf("serialize: %s: encode %s: %w", s, m.Type(), err)
	}
	switch m := m.(type) {
	case *protocol.Hello:
		e.s(string(m.Realm))
		e.d(m.Details)
	case *protocol.Welcome:
		e.id(m.Session)
		e.d(m.Details)
	case *protocol.Abort:
		e.d(m.Details)
		e.s(string(m.Reason))
		e.payload(m.Args, m.Kwargs)
	case *protocol.Challenge:
		e.s(m.AuthMethod)
		e.d(m.Extra)
	case *protocol.Authenticate:
		e.s(m.Signature)
		e.d(m.Extra)
	case *protocol.Goodbye:
		e.d(m.Details)
		e.s(string(m.Reason))
	case *protocol.Error:
		e.id(protocol.ID(m.RequestType))
		e.id(m.Request)
		e.d(m.Details)
		e.s(string(m.URI))
		e.payload(m.Args, m.Kwargs)
	case *protocol.Publish:
		e.id(m.Request)
		e.d(m.Options)
		e.s(string(m.Topic))
		e.payload(m.Args, m.Kwargs)
	case *protocol.Published:
		e.id(m.Request)
		e.id(m.Publication)
	case *protocol.Subscribe:
		e.id(m.Request)
		e.d(m.Options)
		e.s(string(m.Topic))
	case *protocol.Subscribed:
		e.id(m.Request)
		e.id(m.Subscription)
	case *protocol.Unsubscribe:
		e.id(m.Request)
		e.id(m.Subscription)
	case *protocol.Unsubscribed:
		e.id(m.Request)
		if m.Details != nil || m.Request == 0 { // revocation form, as protocol.ToList
			e.d(m.Details)
		}
	case *protocol.Event:
		e.id(m.Subscription)
		e.id(m.Publication)
		e.d(m.Details)
		e.payload(m.Args, m.Kwargs)
	case *protocol.Call:
		e.id(m.Request)
		e.d(m.Options)
		e.s(string(m.Procedure))
		e.payload(m.Args, m.Kwargs)
	case *protocol.Cancel:
		e.id(m.Request)
		e.d(m.Options)
	case *protocol.Result:
		e.id(m.Request)
		e.d(m.Details)
		e.payload(m.Args, m.Kwargs)
	case *protocol.Register:
		e.id(m.Request)
		e.d(m.Options)
		e.s(string(m.Procedure))
	case *protocol.Registered:
		e.id(m.Request)
		e.id(m.Registration)
	case *protocol.Unregister:
		e.id(m.Request)
		e.id(m.Registration)
	case *protocol.Unregistered:
		e.id(m.Request)
		if m.Details != nil || m.Request == 0 { // revocation form, as protocol.ToList
			e.d(m.Details)
		}
	case *protocol.Invocation:
		e.id(m.Request)
		e.id(m.Registration)
		e.d(m.Details)
		e.payload(m.Args, m.Kwargs)
	case *protocol.Interrupt:
		e.id(m.Request)
		e.d(m.Options)
	case *protocol.Yield:
		e.id(m.Request)
		e.d(m.Options)
		e.payload(m.Args, m.Kwargs)
	default:
		return fmt.Errorf("serialize: %s: encode %T: unknown message type %d", s, m, m.Type())
	}
	e.typ = m.Type()
	return nil
}

// message builds the message of a decoded envelope and validates it.
func (e *envelope) message() (protocol.Message, error) {
	var m protocol.Message
	switch e.typ {
	case protocol.TypeHello:
		m = &protocol.Hello{Realm: protocol.URI(e.str[0]), Details: e.dict[1]}
	case protocol.TypeWelcome:
		m = &protocol.Welcome{Session: protocol.ID(e.num[0]), Details: e.dict[1]}
	case protocol.TypeAbort:
		m = &protocol.Abort{Details: e.dict[0], Reason: protocol.URI(e.str[1]), Args: e.list[2], Kwargs: e.dict[3]}
	case protocol.TypeChallenge:
		m = &protocol.Challenge{AuthMethod: e.str[0], Extra: e.dict[1]}
	case protocol.TypeAuthenticate:
		m = &protocol.Authenticate{Signature: e.str[0], Extra: e.dict[1]}
	case protocol.TypeGoodbye:
		m = &protocol.Goodbye{Details: e.dict[0], Reason: protocol.URI(e.str[1])}
	case protocol.TypeError:
		if e.num[0] > 0xffff {
			return nil, &protocol.MessageError{Type: e.typ, Field: "RequestType", Reason: "out of range"}
		}
		m = &protocol.Error{RequestType: protocol.MessageType(e.num[0]), Request: protocol.ID(e.num[1]),
			Details: e.dict[2], URI: protocol.URI(e.str[3]), Args: e.list[4], Kwargs: e.dict[5]}
	case protocol.TypePublish:
		m = &protocol.Publish{Request: protocol.ID(e.num[0]), Options: e.dict[1], Topic: protocol.URI(e.str[2]),
			Args: e.list[3], Kwargs: e.dict[4]}
	case protocol.TypePublished:
		m = &protocol.Published{Request: protocol.ID(e.num[0]), Publication: protocol.ID(e.num[1])}
	case protocol.TypeSubscribe:
		m = &protocol.Subscribe{Request: protocol.ID(e.num[0]), Options: e.dict[1], Topic: protocol.URI(e.str[2])}
	case protocol.TypeSubscribed:
		m = &protocol.Subscribed{Request: protocol.ID(e.num[0]), Subscription: protocol.ID(e.num[1])}
	case protocol.TypeUnsubscribe:
		m = &protocol.Unsubscribe{Request: protocol.ID(e.num[0]), Subscription: protocol.ID(e.num[1])}
	case protocol.TypeUnsubscribed:
		if e.n == 1 && e.num[0] == 0 {
			return nil, errRevocationDetails(e.typ)
		}
		m = &protocol.Unsubscribed{Request: protocol.ID(e.num[0]), Details: e.dict[1]}
	case protocol.TypeEvent:
		m = &protocol.Event{Subscription: protocol.ID(e.num[0]), Publication: protocol.ID(e.num[1]),
			Details: e.dict[2], Args: e.list[3], Kwargs: e.dict[4]}
	case protocol.TypeCall:
		m = &protocol.Call{Request: protocol.ID(e.num[0]), Options: e.dict[1], Procedure: protocol.URI(e.str[2]),
			Args: e.list[3], Kwargs: e.dict[4]}
	case protocol.TypeCancel:
		m = &protocol.Cancel{Request: protocol.ID(e.num[0]), Options: e.dict[1]}
	case protocol.TypeResult:
		m = &protocol.Result{Request: protocol.ID(e.num[0]), Details: e.dict[1], Args: e.list[2], Kwargs: e.dict[3]}
	case protocol.TypeRegister:
		m = &protocol.Register{Request: protocol.ID(e.num[0]), Options: e.dict[1], Procedure: protocol.URI(e.str[2])}
	case protocol.TypeRegistered:
		m = &protocol.Registered{Request: protocol.ID(e.num[0]), Registration: protocol.ID(e.num[1])}
	case protocol.TypeUnregister:
		m = &protocol.Unregister{Request: protocol.ID(e.num[0]), Registration: protocol.ID(e.num[1])}
	case protocol.TypeUnregistered:
		if e.n == 1 && e.num[0] == 0 {
			return nil, errRevocationDetails(e.typ)
		}
		m = &protocol.Unregistered{Request: protocol.ID(e.num[0]), Details: e.dict[1]}
	case protocol.TypeInvocation:
		m = &protocol.Invocation{Request: protocol.ID(e.num[0]), Registration: protocol.ID(e.num[1]),
			Details: e.dict[2], Args: e.list[3], Kwargs: e.dict[4]}
	case protocol.TypeInterrupt:
		m = &protocol.Interrupt{Request: protocol.ID(e.num[0]), Options: e.dict[1]}
	case protocol.TypeYield:
		m = &protocol.Yield{Request: protocol.ID(e.num[0]), Options: e.dict[1], Args: e.list[2], Kwargs: e.dict[3]}
	default:
		return nil, fmt.Errorf("unknown message type %d", e.typ)
	}
	// The checks of protocol.FromList: a bad topic or procedure URI is the
	// router's to refuse with ERROR wamp.error.invalid_uri, not a
	// malformed message.
	if err := protocol.ValidateReceived(m); err != nil {
		return nil, err
	}
	return m, nil
}

// DecodeError is the error returned by [Codec.Decode]. It wraps
// protocol.ErrMalformed (and a *protocol.MessageError when a message field
// is invalid).
type DecodeError struct {
	// Serializer is the format being decoded.
	Serializer Serializer
	// Offset is the byte offset in the input where the problem was found,
	// or -1 if the problem concerns the decoded message as a whole.
	Offset int
	// Err is the underlying problem.
	Err error
}

// Error returns e.g. "serialize: json: offset 12: invalid UTF-8 in string".
func (e *DecodeError) Error() string {
	if e.Offset < 0 {
		return "serialize: " + e.Serializer.String() + ": " + e.Err.Error()
	}
	return "serialize: " + e.Serializer.String() + ": offset " + itoa(e.Offset) + ": " + e.Err.Error()
}

// Unwrap returns the underlying error and protocol.ErrMalformed.
func (e *DecodeError) Unwrap() []error { return []error{e.Err, protocol.ErrMalformed} }

// recovered turns a panic during decoding into an error. Decoders do not
// panic by design; this is a last line of defence for Decode's contract.
func recovered(s Serializer, r any, m *protocol.Message, err *error) {
	*m = nil
	*err = &DecodeError{Serializer: s, Offset: -1, Err: fmt.Errorf("internal decoder error: %v", r)}
}

// errRevocationDetails rejects [UNSUBSCRIBED, 0] and [UNREGISTERED, 0]:
// Request 0 is only valid in the revocation form, which has Details
// (as protocol.FromList checks).
func errRevocationDetails(t protocol.MessageType) error {
	return &protocol.MessageError{Type: t, Field: "Request", Reason: "ID 0 out of range [1, 2^53]"}
}
