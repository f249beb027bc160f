package protocol

import (
	"reflect"
	"strconv"
	"unsafe"
)

// The wire layout of every message type is written once, in the table
// layouts below: one row per message type, naming its fields in wire order
// with what each one is. FromList, ToList, Validate, ValidateReceived,
// MessageType.String and the serializers of the serialize package (through
// Layout and Elements) are all derived from it, so a new message type is
// its struct (with its Type method and type code) and one row.

// layouts is indexed by message type code; codes that are not message
// types have no row.
var layouts = [...]*Layout{
	TypeHello: row("HELLO", func(m *Hello) refs { return refs{&m.Realm, &m.Details} },
		uri("Realm"), dict("Details")),
	TypeWelcome: row("WELCOME", func(m *Welcome) refs { return refs{&m.Session, &m.Details} },
		id("Session"), dict("Details")),
	TypeAbort: row("ABORT", func(m *Abort) refs { return refs{&m.Details, &m.Reason, &m.Args, &m.Kwargs} },
		dict("Details"), uri("Reason"), arguments, argumentsKw),
	TypeChallenge: row("CHALLENGE", func(m *Challenge) refs { return refs{&m.AuthMethod, &m.Extra} },
		str("AuthMethod"), dict("Extra")),
	TypeAuthenticate: row("AUTHENTICATE", func(m *Authenticate) refs { return refs{&m.Signature, &m.Extra} },
		str("Signature"), dict("Extra")),
	TypeGoodbye: row("GOODBYE", func(m *Goodbye) refs { return refs{&m.Details, &m.Reason} },
		dict("Details"), uri("Reason")),
	TypeError: row("ERROR", func(m *Error) refs {
		return refs{&m.RequestType, &m.Request, &m.Details, &m.URI, &m.Args, &m.Kwargs}
	}, requestType("RequestType"), id("Request"), dict("Details"), uri("URI"), arguments, argumentsKw),
	TypePublish: row("PUBLISH", func(m *Publish) refs { return refs{&m.Request, &m.Options, &m.Topic, &m.Args, &m.Kwargs} },
		id("Request"), dict("Options"), requestURI("Topic"), arguments, argumentsKw),
	TypePublished: row("PUBLISHED", func(m *Published) refs { return refs{&m.Request, &m.Publication} },
		id("Request"), id("Publication")),
	TypeSubscribe: row("SUBSCRIBE", func(m *Subscribe) refs { return refs{&m.Request, &m.Options, &m.Topic} },
		id("Request"), dict("Options"), pattern("Topic")),
	TypeSubscribed: row("SUBSCRIBED", func(m *Subscribed) refs { return refs{&m.Request, &m.Subscription} },
		id("Request"), id("Subscription")),
	TypeUnsubscribe: row("UNSUBSCRIBE", func(m *Unsubscribe) refs { return refs{&m.Request, &m.Subscription} },
		id("Request"), id("Subscription")),
	TypeUnsubscribed: row("UNSUBSCRIBED", func(m *Unsubscribed) refs { return refs{&m.Request, &m.Details} },
		revocable("Request"), revocationDetails("Details")),
	TypeEvent: row("EVENT", func(m *Event) refs {
		return refs{&m.Subscription, &m.Publication, &m.Details, &m.Args, &m.Kwargs}
	}, id("Subscription"), id("Publication"), dict("Details"), arguments, argumentsKw),
	TypeCall: row("CALL", func(m *Call) refs { return refs{&m.Request, &m.Options, &m.Procedure, &m.Args, &m.Kwargs} },
		id("Request"), dict("Options"), requestURI("Procedure"), arguments, argumentsKw),
	TypeCancel: row("CANCEL", func(m *Cancel) refs { return refs{&m.Request, &m.Options} },
		id("Request"), dict("Options")),
	TypeResult: row("RESULT", func(m *Result) refs { return refs{&m.Request, &m.Details, &m.Args, &m.Kwargs} },
		id("Request"), dict("Details"), arguments, argumentsKw),
	TypeRegister: row("REGISTER", func(m *Register) refs { return refs{&m.Request, &m.Options, &m.Procedure} },
		id("Request"), dict("Options"), pattern("Procedure")),
	TypeRegistered: row("REGISTERED", func(m *Registered) refs { return refs{&m.Request, &m.Registration} },
		id("Request"), id("Registration")),
	TypeUnregister: row("UNREGISTER", func(m *Unregister) refs { return refs{&m.Request, &m.Registration} },
		id("Request"), id("Registration")),
	TypeUnregistered: row("UNREGISTERED", func(m *Unregistered) refs { return refs{&m.Request, &m.Details} },
		revocable("Request"), revocationDetails("Details")),
	TypeInvocation: row("INVOCATION", func(m *Invocation) refs {
		return refs{&m.Request, &m.Registration, &m.Details, &m.Args, &m.Kwargs}
	}, id("Request"), id("Registration"), dict("Details"), arguments, argumentsKw),
	TypeInterrupt: row("INTERRUPT", func(m *Interrupt) refs { return refs{&m.Request, &m.Options} },
		id("Request"), dict("Options")),
	TypeYield: row("YIELD", func(m *Yield) refs { return refs{&m.Request, &m.Options, &m.Args, &m.Kwargs} },
		id("Request"), dict("Options"), arguments, argumentsKw),
}

// Kind is the wire type of an element of a message list after the type
// code: all a serializer needs to know to write or read it.
type Kind uint8

// The kinds of message list elements.
const (
	// KindInt is a non-negative integer: an ID, or the REQUEST.Type of
	// ERROR. [Elements.Int] reads it as a uint64.
	KindInt Kind = iota + 1
	// KindString is a string: a URI, CHALLENGE.AuthMethod or
	// AUTHENTICATE.Signature.
	KindString
	// KindDict is a dictionary with string keys: Details, Options, Extra
	// or ArgumentsKw.
	KindDict
	// KindList is a list: Arguments.
	KindList
)

// Field describes one element of a message list after the type code.
type Field struct {
	// Name is the name of the message struct's field that holds the
	// element, as [MessageError] reports it: "Request", "Options",
	// "Procedure", "Args", "Kwargs", ...
	Name string
	// Kind is the element's wire type.
	Kind Kind
}

// slot is a field of a layout: what Field says, and what the package needs
// to check it and to reach it in a message.
type slot struct {
	Field
	rule rule
	off  uintptr // of the field in the message struct
}

// rule is what a field means beyond its wire type: how it is checked, and
// when an optional one is written.
type rule uint8

// The rules up to rulePattern have something to check (see
// Layout.validate).
const (
	// ruleID is an ID in [1, MaxID].
	ruleID rule = iota + 1
	// ruleRevocable is the Request of UNSUBSCRIBED and UNREGISTERED: an
	// ID, or 0 in the revocation form, which carries the Details that
	// follow it.
	ruleRevocable
	// ruleRequestType is ERROR's REQUEST.Type (see errorRequestTypeValid).
	ruleRequestType
	// ruleURI is a URI by the loose rules of CheckURI.
	ruleURI
	// ruleRequestURI is the topic of PUBLISH or the procedure of CALL:
	// checked like ruleURI when sent; on receipt only its UTF-8, because a
	// bad one is the router's to refuse with ERROR
	// wamp.error.invalid_uri (see ValidateReceived).
	ruleRequestURI
	// rulePattern is the topic of SUBSCRIBE or the procedure of REGISTER:
	// as ruleRequestURI, but checked under the message's Options["match"].
	rulePattern
	// ruleString is any string.
	ruleString
	// ruleDict is a dict, written as {} when nil.
	ruleDict

	// The optional fields, which trail the required ones.

	// ruleRevocationDetails is the optional Details of UNSUBSCRIBED and
	// UNREGISTERED: written when non-nil or when the Request before it is
	// 0 (as {} if nil).
	ruleRevocationDetails
	// ruleArgs is Arguments: written when non-empty or when ArgumentsKw
	// is (as [] if empty).
	ruleArgs
	// ruleKwargs is ArgumentsKw: written when non-empty.
	ruleKwargs
)

func (r rule) kind() Kind {
	switch r {
	case ruleID, ruleRevocable, ruleRequestType:
		return KindInt
	case ruleURI, ruleRequestURI, rulePattern, ruleString:
		return KindString
	case ruleDict, ruleRevocationDetails, ruleKwargs:
		return KindDict
	}
	return KindList
}

func (r rule) optional() bool { return r >= ruleRevocationDetails }

func field(name string, r rule) slot { return slot{Field: Field{Name: name, Kind: r.kind()}, rule: r} }

func id(name string) slot                { return field(name, ruleID) }
func revocable(name string) slot         { return field(name, ruleRevocable) }
func requestType(name string) slot       { return field(name, ruleRequestType) }
func uri(name string) slot               { return field(name, ruleURI) }
func requestURI(name string) slot        { return field(name, ruleRequestURI) }
func pattern(name string) slot           { return field(name, rulePattern) }
func str(name string) slot               { return field(name, ruleString) }
func dict(name string) slot              { return field(name, ruleDict) }
func revocationDetails(name string) slot { return field(name, ruleRevocationDetails) }

// arguments and argumentsKw are the optional payload that ends many
// messages (spec basic messages.md "Empty Arguments and Keyword
// Arguments").
var (
	arguments   = field("Args", ruleArgs)
	argumentsKw = field("Kwargs", ruleKwargs)
)

// maxFields is the largest number of elements after the type code (ERROR
// has six).
const maxFields = 6

// refs holds pointers to the fields of one message in wire order, as a
// row of the table gives them: *ID, *MessageType, *URI, *string, *Dict or
// *List, as the field's rule says.
type refs [maxFields]any

// Layout is the wire layout of one message type: the elements that follow
// the type code in its list, in order (spec basic messages.md "Message
// Definitions"). The first [Layout.Min] of its [Layout.Len] elements are
// required; the others are optional and may be left out from the end.
//
// Layouts let a serializer encode and decode every message type without
// knowing them one by one: it reads a message's elements with
// [ElementsOf], or fills a new message from [Layout.New]. A Layout is
// immutable and safe for concurrent use.
type Layout struct {
	typ    MessageType
	name   string
	fields []slot
	min    int
	// options is the index of the Options field, which rulePattern
	// fields are checked under; -1 if there is none.
	options int
	// revocable is the index of the ruleRevocable field; -1 if there is
	// none.
	revocable int
	// checked are the indexes of the fields validate checks: IDs, the
	// request type and URIs.
	checked []uint8
	// new returns a pointer to a new zero message struct.
	new func() unsafe.Pointer
	// msg returns the message whose struct is at base.
	msg func(base unsafe.Pointer) Message
	// base returns a pointer to m's struct if m is a non-nil pointer to
	// the layout's message struct.
	base func(m Message) (unsafe.Pointer, baseStatus)
}

// baseStatus says whether Layout.base found the message struct.
type baseStatus uint8

const (
	baseOK      baseStatus = iota
	baseNil                // a nil pointer of the layout's type
	baseForeign            // a Message of another Go type
)

// row builds the layout of the message struct T (P is *T) from its name,
// the pointers to its fields in wire order, and what each field is. It
// panics if they disagree (in number, order, name or type): the table is
// checked when the package is initialized, and so by every test.
//
// The layout keeps the offset of each field in T, taken from the pointers
// get returns, and reaches the fields of a message through them (see
// Elements): reading or writing a field then costs no call and no copy.
// Handing over the pointers of every message instead (a [6]any) made
// encoding a small message twice as slow (BenchmarkEncode).
func row[T any, P interface {
	*T
	Message
}](name string, get func(P) refs, fields ...slot) *Layout {
	x := P(new(T))
	l := &Layout{typ: x.Type(), name: name, fields: fields, min: len(fields), options: -1, revocable: -1}
	l.new = func() unsafe.Pointer { return unsafe.Pointer(new(T)) }
	l.msg = func(base unsafe.Pointer) Message { return P((*T)(base)) }
	l.base = func(m Message) (unsafe.Pointer, baseStatus) {
		x, ok := m.(P)
		switch {
		case !ok:
			return nil, baseForeign
		case x == nil:
			return nil, baseNil
		}
		return unsafe.Pointer(x), baseOK
	}
	if err := l.init(reflect.TypeFor[T](), unsafe.Pointer(x), get(x)); err != "" {
		panic("protocol: layout of " + name + ": " + err)
	}
	return l
}

// init completes the layout of the message struct of type t at base from
// the pointers p to its fields, and checks that the fields agree with
// them and with each other. It returns what is wrong, or "".
func (l *Layout) init(t reflect.Type, base unsafe.Pointer, p refs) string {
	if len(l.fields) > maxFields {
		return "more than maxFields fields"
	}
	for _, x := range p[len(l.fields):] {
		if x != nil {
			return "more pointers than fields"
		}
	}
	for i := range l.fields {
		f := &l.fields[i]
		var ptr unsafe.Pointer
		ok := false
		switch v := p[i].(type) {
		case *ID:
			ptr, ok = unsafe.Pointer(v), f.rule == ruleID || f.rule == ruleRevocable
		case *MessageType:
			ptr, ok = unsafe.Pointer(v), f.rule == ruleRequestType
		case *URI:
			ptr, ok = unsafe.Pointer(v), f.rule == ruleURI || f.rule == ruleRequestURI || f.rule == rulePattern
		case *string:
			ptr, ok = unsafe.Pointer(v), f.rule == ruleString
		case *Dict:
			ptr, ok = unsafe.Pointer(v), f.Kind == KindDict
		case *List:
			ptr, ok = unsafe.Pointer(v), f.Kind == KindList
		}
		if !ok {
			return "field " + f.Name + ": its pointer is of another type"
		}
		f.off = uintptr(ptr) - uintptr(base)
		if sf, found := fieldAt(t, f.off); !found || sf.Name != f.Name {
			return "field " + f.Name + ": its pointer is to another field"
		}
		switch {
		case f.rule.optional() && l.min == len(l.fields):
			l.min = i
		case !f.rule.optional() && l.min < i:
			return "required field " + f.Name + " after an optional one"
		}
		switch {
		case f.Name == "Options" && f.Kind == KindDict:
			l.options = i
		case f.rule == ruleRevocable:
			l.revocable = i
		case f.rule == rulePattern && l.options < 0:
			return "pattern " + f.Name + " without Options before it"
		}
		if f.rule <= rulePattern {
			l.checked = append(l.checked, uint8(i))
		}
		if (f.rule == ruleRevocable) != (i+1 < len(l.fields) && l.fields[i+1].rule == ruleRevocationDetails) ||
			(f.rule == ruleRevocationDetails) != (i > 0 && l.fields[i-1].rule == ruleRevocable) {
			return "a revocable ID must be followed by revocation details"
		}
	}
	return ""
}

// fieldAt returns the field of struct type t at offset off.
func fieldAt(t reflect.Type, off uintptr) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); f.Offset == off {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// idAt, typeAt, uriAt, strAt, dictAt and listAt return a pointer to
// field f of the message struct at base, whose Go type the field's rule
// gives (row checked it).
func idAt(base unsafe.Pointer, f *slot) *ID { return (*ID)(unsafe.Add(base, f.off)) }
func typeAt(base unsafe.Pointer, f *slot) *MessageType {
	return (*MessageType)(unsafe.Add(base, f.off))
}
func uriAt(base unsafe.Pointer, f *slot) *URI    { return (*URI)(unsafe.Add(base, f.off)) }
func strAt(base unsafe.Pointer, f *slot) *string { return (*string)(unsafe.Add(base, f.off)) }
func dictAt(base unsafe.Pointer, f *slot) *Dict  { return (*Dict)(unsafe.Add(base, f.off)) }
func listAt(base unsafe.Pointer, f *slot) *List  { return (*List)(unsafe.Add(base, f.off)) }

// LayoutOf returns the layout of message type t, or nil if t is not one of
// the 24 message types.
func LayoutOf(t MessageType) *Layout {
	if int(t) < len(layouts) {
		return layouts[t]
	}
	return nil
}

// Type returns the message type the layout describes.
func (l *Layout) Type() MessageType { return l.typ }

// Len returns the number of elements after the type code, optional ones
// included.
func (l *Layout) Len() int { return len(l.fields) }

// Min returns the number of required elements after the type code: a
// list of the type has between Min()+1 and Len()+1 elements.
func (l *Layout) Min() int { return l.min }

// lengthReason says what is wrong with a list of n elements, type code
// included.
func (l *Layout) lengthReason(n int) string {
	want := strconv.Itoa(l.min + 1)
	if len(l.fields) != l.min {
		want += ".." + strconv.Itoa(len(l.fields)+1)
	}
	return strconv.Itoa(n) + " elements, want " + want
}

// Field returns the description of element i after the type code
// (element i+1 of the list), 0 <= i < Len().
func (l *Layout) Field(i int) Field { return l.fields[i].Field }

// New returns the elements of a new, zero message of the layout's type,
// for a decoder to fill with the Set methods of [Elements] and to finish
// with [Elements.Message].
func (l *Layout) New() Elements {
	return Elements{l: l, base: l.new()}
}
