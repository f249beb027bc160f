package protocol

import (
	"strconv"
	"unicode/utf8"
)

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
	if err := Validate(m); err != nil {
		return nil, err
	}
	switch x := m.(type) {
	case *Hello:
		return List{uint64(TypeHello), string(x.Realm), orEmpty(x.Details)}, nil
	case *Welcome:
		return List{uint64(TypeWelcome), uint64(x.Session), orEmpty(x.Details)}, nil
	case *Abort:
		return withPayload(x.Args, x.Kwargs, uint64(TypeAbort), orEmpty(x.Details), string(x.Reason)), nil
	case *Challenge:
		return List{uint64(TypeChallenge), x.AuthMethod, orEmpty(x.Extra)}, nil
	case *Authenticate:
		return List{uint64(TypeAuthenticate), x.Signature, orEmpty(x.Extra)}, nil
	case *Goodbye:
		return List{uint64(TypeGoodbye), orEmpty(x.Details), string(x.Reason)}, nil
	case *Error:
		return withPayload(x.Args, x.Kwargs, uint64(TypeError), uint64(x.RequestType), uint64(x.Request), orEmpty(x.Details), string(x.URI)), nil
	case *Publish:
		return withPayload(x.Args, x.Kwargs, uint64(TypePublish), uint64(x.Request), orEmpty(x.Options), string(x.Topic)), nil
	case *Published:
		return List{uint64(TypePublished), uint64(x.Request), uint64(x.Publication)}, nil
	case *Subscribe:
		return List{uint64(TypeSubscribe), uint64(x.Request), orEmpty(x.Options), string(x.Topic)}, nil
	case *Subscribed:
		return List{uint64(TypeSubscribed), uint64(x.Request), uint64(x.Subscription)}, nil
	case *Unsubscribe:
		return List{uint64(TypeUnsubscribe), uint64(x.Request), uint64(x.Subscription)}, nil
	case *Unsubscribed:
		if x.Details == nil && x.Request != 0 {
			return List{uint64(TypeUnsubscribed), uint64(x.Request)}, nil
		}
		return List{uint64(TypeUnsubscribed), uint64(x.Request), orEmpty(x.Details)}, nil
	case *Event:
		return withPayload(x.Args, x.Kwargs, uint64(TypeEvent), uint64(x.Subscription), uint64(x.Publication), orEmpty(x.Details)), nil
	case *Call:
		return withPayload(x.Args, x.Kwargs, uint64(TypeCall), uint64(x.Request), orEmpty(x.Options), string(x.Procedure)), nil
	case *Cancel:
		return List{uint64(TypeCancel), uint64(x.Request), orEmpty(x.Options)}, nil
	case *Result:
		return withPayload(x.Args, x.Kwargs, uint64(TypeResult), uint64(x.Request), orEmpty(x.Details)), nil
	case *Register:
		return List{uint64(TypeRegister), uint64(x.Request), orEmpty(x.Options), string(x.Procedure)}, nil
	case *Registered:
		return List{uint64(TypeRegistered), uint64(x.Request), uint64(x.Registration)}, nil
	case *Unregister:
		return List{uint64(TypeUnregister), uint64(x.Request), uint64(x.Registration)}, nil
	case *Unregistered:
		if x.Details == nil && x.Request != 0 {
			return List{uint64(TypeUnregistered), uint64(x.Request)}, nil
		}
		return List{uint64(TypeUnregistered), uint64(x.Request), orEmpty(x.Details)}, nil
	case *Invocation:
		return withPayload(x.Args, x.Kwargs, uint64(TypeInvocation), uint64(x.Request), uint64(x.Registration), orEmpty(x.Details)), nil
	case *Interrupt:
		return List{uint64(TypeInterrupt), uint64(x.Request), orEmpty(x.Options)}, nil
	case *Yield:
		return withPayload(x.Args, x.Kwargs, uint64(TypeYield), uint64(x.Request), orEmpty(x.Options)), nil
	}
	return nil, malformed(0, "", "unsupported message")
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

// withPayload returns head followed by Arguments and ArgumentsKw as the
// spec recommends: nothing for an empty payload, Arguments alone without
// ArgumentsKw, and [] for Arguments when only ArgumentsKw is present. The
// list is allocated once, at its final size.
func withPayload(args List, kwargs Dict, head ...any) List {
	n := len(head)
	switch {
	case len(kwargs) > 0:
		n += 2
	case len(args) > 0:
		n++
	}
	l := make(List, len(head), n)
	copy(l, head)
	switch {
	case len(kwargs) > 0:
		if args == nil {
			args = List{}
		}
		l = append(l, []any(args), map[string]any(kwargs))
	case len(args) > 0:
		l = append(l, []any(args))
	}
	return l
}

// Validate checks the fields of a message built in Go, as [ToList] needs
// them: IDs in [1, MaxID] (Request 0 is allowed only for UNSUBSCRIBED and
// UNREGISTERED, the revocation form), URIs by the loose rules of
// [CheckURI] (SUBSCRIBE.Topic and REGISTER.Procedure by [CheckPattern] for
// their Options["match"]), ERROR's RequestType by [ErrorRequestTypeValid].
// Dicts and payload are not inspected: the serializer rejects what it
// cannot encode.
//
// The error is a *[MessageError]. A nil message, a typed nil pointer and
// message types not defined in this package are errors too.
func Validate(m Message) error {
	return validate(m, validator{})
}

// ValidateReceived is [Validate] for a message that arrived from a peer, as
// [FromList] and the decoders of the serialize package check it: the
// topic of PUBLISH and SUBSCRIBE and the procedure of CALL and REGISTER
// (with SUBSCRIBE's and REGISTER's Options["match"]) are not checked. A
// bad URI there is not a malformed message but a request the router
// refuses with ERROR wamp.error.invalid_uri (spec basic "URIs"); the
// router checks them with [CheckURI] and [CheckPattern].
func ValidateReceived(m Message) error {
	return validate(m, validator{received: true})
}

func validate(m Message, v validator) error {
	switch x := m.(type) {
	case *Hello:
		if x == nil {
			return nilMessage(TypeHello)
		}
		v.t = TypeHello
		v.uri("Realm", x.Realm)
	case *Welcome:
		if x == nil {
			return nilMessage(TypeWelcome)
		}
		v.t = TypeWelcome
		v.id("Session", x.Session)
	case *Abort:
		if x == nil {
			return nilMessage(TypeAbort)
		}
		v.t = TypeAbort
		v.uri("Reason", x.Reason)
	case *Challenge:
		if x == nil {
			return nilMessage(TypeChallenge)
		}
	case *Authenticate:
		if x == nil {
			return nilMessage(TypeAuthenticate)
		}
	case *Goodbye:
		if x == nil {
			return nilMessage(TypeGoodbye)
		}
		v.t = TypeGoodbye
		v.uri("Reason", x.Reason)
	case *Error:
		if x == nil {
			return nilMessage(TypeError)
		}
		v.t = TypeError
		if !ErrorRequestTypeValid(x.RequestType) {
			v.fail("RequestType", "ERROR cannot answer message type "+strconv.Itoa(int(x.RequestType)))
		}
		v.id("Request", x.Request)
		v.uri("URI", x.URI)
	case *Publish:
		if x == nil {
			return nilMessage(TypePublish)
		}
		v.t = TypePublish
		v.id("Request", x.Request)
		v.requestURI("Topic", x.Topic)
	case *Published:
		if x == nil {
			return nilMessage(TypePublished)
		}
		v.t = TypePublished
		v.id("Request", x.Request)
		v.id("Publication", x.Publication)
	case *Subscribe:
		if x == nil {
			return nilMessage(TypeSubscribe)
		}
		v.t = TypeSubscribe
		v.id("Request", x.Request)
		if !v.received {
			v.pattern("Topic", x.Topic, x.Options)
		} else {
			v.requestURI("Topic", x.Topic)
		}
	case *Subscribed:
		if x == nil {
			return nilMessage(TypeSubscribed)
		}
		v.t = TypeSubscribed
		v.id("Request", x.Request)
		v.id("Subscription", x.Subscription)
	case *Unsubscribe:
		if x == nil {
			return nilMessage(TypeUnsubscribe)
		}
		v.t = TypeUnsubscribe
		v.id("Request", x.Request)
		v.id("Subscription", x.Subscription)
	case *Unsubscribed:
		if x == nil {
			return nilMessage(TypeUnsubscribed)
		}
		v.t = TypeUnsubscribed
		if x.Request != 0 {
			v.id("Request", x.Request)
		}
	case *Event:
		if x == nil {
			return nilMessage(TypeEvent)
		}
		v.t = TypeEvent
		v.id("Subscription", x.Subscription)
		v.id("Publication", x.Publication)
	case *Call:
		if x == nil {
			return nilMessage(TypeCall)
		}
		v.t = TypeCall
		v.id("Request", x.Request)
		v.requestURI("Procedure", x.Procedure)
	case *Cancel:
		if x == nil {
			return nilMessage(TypeCancel)
		}
		v.t = TypeCancel
		v.id("Request", x.Request)
	case *Result:
		if x == nil {
			return nilMessage(TypeResult)
		}
		v.t = TypeResult
		v.id("Request", x.Request)
	case *Register:
		if x == nil {
			return nilMessage(TypeRegister)
		}
		v.t = TypeRegister
		v.id("Request", x.Request)
		if !v.received {
			v.pattern("Procedure", x.Procedure, x.Options)
		} else {
			v.requestURI("Procedure", x.Procedure)
		}
	case *Registered:
		if x == nil {
			return nilMessage(TypeRegistered)
		}
		v.t = TypeRegistered
		v.id("Request", x.Request)
		v.id("Registration", x.Registration)
	case *Unregister:
		if x == nil {
			return nilMessage(TypeUnregister)
		}
		v.t = TypeUnregister
		v.id("Request", x.Request)
		v.id("Registration", x.Registration)
	case *Unregistered:
		if x == nil {
			return nilMessage(TypeUnregistered)
		}
		v.t = TypeUnregistered
		if x.Request != 0 {
			v.id("Request", x.Request)
		}
	case *Invocation:
		if x == nil {
			return nilMessage(TypeInvocation)
		}
		v.t = TypeInvocation
		v.id("Request", x.Request)
		v.id("Registration", x.Registration)
	case *Interrupt:
		if x == nil {
			return nilMessage(TypeInterrupt)
		}
		v.t = TypeInterrupt
		v.id("Request", x.Request)
	case *Yield:
		if x == nil {
			return nilMessage(TypeYield)
		}
		v.t = TypeYield
		v.id("Request", x.Request)
	case nil:
		return malformed(0, "", "nil message")
	default:
		return malformed(0, "", "unsupported message type "+m.Type().String())
	}
	if v.err != nil {
		return v.err
	}
	return nil
}

func nilMessage(t MessageType) error { return malformed(t, "", "nil message") }

// validator collects the first error of Validate.
type validator struct {
	t   MessageType
	err *MessageError
	// received leaves the request URIs of PUBLISH, SUBSCRIBE, CALL and
	// REGISTER unchecked (see ValidateReceived).
	received bool
}

func (v *validator) fail(field, reason string) {
	if v.err == nil {
		v.err = malformed(v.t, field, reason)
	}
}

func (v *validator) id(field string, id ID) {
	if !id.Valid() {
		v.fail(field, "ID "+strconv.FormatUint(uint64(id), 10)+" out of range [1, 2^53]")
	}
}

func (v *validator) uri(field string, u URI) {
	if r := checkURI(u, false, false, false); r != "" {
		v.fail(field, (&URIError{URI: u, Reason: r}).short())
	}
}

// requestURI checks the topic of PUBLISH or the procedure of CALL, unless
// the message was received (see ValidateReceived).
func (v *validator) requestURI(field string, u URI) {
	switch {
	case !v.received:
		v.uri(field, u)
	case !utf8.ValidString(string(u)):
		v.fail(field, "invalid UTF-8")
	}
}

func (v *validator) pattern(field string, u URI, options Dict) {
	match, r := matchOption(options)
	if r != "" {
		v.fail("Options.match", r)
		return
	}
	if err := CheckPattern(u, match, false); err != nil {
		v.fail(field, err.(*URIError).short()+" (match "+string(match)+")")
	}
}

// matchOption returns the policy to check a SUBSCRIBE topic or REGISTER
// procedure with: options["match"], MatchExact if absent, MatchWildcard
// (the most permissive rules) if unknown, which the router then refuses
// with an ERROR. It returns a reason if match is not a string.
func matchOption(options Dict) (MatchPolicy, string) {
	x, ok := options["match"]
	if !ok {
		return MatchExact, ""
	}
	var match MatchPolicy
	switch s := x.(type) {
	case string:
		match = MatchPolicy(s)
	case MatchPolicy:
		match = s
	default:
		return "", "not a string: " + describe(x)
	}
	if !match.Valid() {
		return MatchWildcard, ""
	}
	if match == "" {
		return MatchExact, ""
	}
	return match, ""
}
