package protocol

import (
	"math"
	"unsafe"
)

// Elements gives access to the fields of one message in wire order: element
// i after the type code is read with the method of its [Field.Kind] (Int,
// String, Dict or List) and written with the matching Set method. It is
// what serializers work with: [ElementsOf] takes a message apart for an
// encoder, [Layout.New] starts a message for a decoder.
//
// Elements refer to the message's fields, without copying them: the Set
// methods write into the message. The methods of a kind panic if element i
// is of another kind, or out of range. Only ElementsOf and Layout.New make
// usable Elements.
type Elements struct {
	// At most four fields, so that the compiler keeps Elements in
	// registers: a larger struct returned by ElementsOf is copied through
	// memory, which cost more than all the rest of taking a small message
	// apart (BenchmarkEncode).
	l    *Layout
	base unsafe.Pointer // the message struct
	// n is the number of elements after the type code: to write (from
	// ElementsOf), or set so far (from Layout.New).
	n int
	// bad is 1 + the index of the first integer set too large for its
	// field, or 0.
	bad int
}

// ElementsOf validates m as [Validate] does and returns its elements, with
// [Elements.Len] set to the number to write: a nil Details or Options is
// written (as {}), empty trailing Arguments and ArgumentsKw are left out,
// and so on, as [ToList] describes. The error is a *[MessageError].
func ElementsOf(m Message) (Elements, error) {
	e, err := elementsOf(m)
	if err != nil {
		return Elements{}, err
	}
	return e, nil
}

func elementsOf(m Message) (Elements, *MessageError) {
	l, base, err := baseOf(m)
	if err == nil {
		err = l.validate(base, false)
	}
	if err != nil {
		return Elements{}, err
	}
	return Elements{l: l, base: base, n: l.count(base)}, nil
}

// baseOf returns m's layout and a pointer to its struct. A nil message, a
// nil pointer and a Message type not defined in this package are errors.
func baseOf(m Message) (*Layout, unsafe.Pointer, *MessageError) {
	if m == nil {
		return nil, nil, malformed(0, "", "nil message")
	}
	t := m.Type()
	if l := LayoutOf(t); l != nil {
		base, st := l.base(m)
		switch st {
		case baseOK:
			return l, base, nil
		case baseNil:
			return nil, nil, malformed(t, "", "nil message")
		}
	}
	return nil, nil, malformed(0, "", "unsupported message type "+t.String())
}

// Layout returns the layout of the message's type.
func (e *Elements) Layout() *Layout { return e.l }

// Len returns the number of elements after the type code: those to write
// for elements from [ElementsOf], those set so far (the highest index set,
// plus one) for elements from [Layout.New].
func (e *Elements) Len() int { return e.n }

// Int returns the integer element i (of [KindInt]).
func (e *Elements) Int(i int) uint64 {
	f := &e.l.fields[i]
	switch f.rule {
	case ruleID, ruleRevocable:
		return uint64(*idAt(e.base, f))
	case ruleRequestType:
		return uint64(*typeAt(e.base, f))
	}
	panic(errKind)
}

// String returns the string element i (of [KindString]).
func (e *Elements) String(i int) string {
	f := &e.l.fields[i]
	if f.Kind != KindString {
		panic(errKind)
	}
	return *strAt(e.base, f) // a URI is a string in memory too
}

// Dict returns the dict element i (of [KindDict]), which may be nil: a
// serializer writes a nil dict as an empty one.
func (e *Elements) Dict(i int) Dict {
	f := &e.l.fields[i]
	if f.Kind != KindDict {
		panic(errKind)
	}
	return *dictAt(e.base, f)
}

// List returns the list element i (of [KindList]), which may be nil: a
// serializer writes a nil list as an empty one.
func (e *Elements) List(i int) List {
	f := &e.l.fields[i]
	if f.Kind != KindList {
		panic(errKind)
	}
	return *listAt(e.base, f)
}

// SetInt sets the integer element i (of [KindInt]). A value too large for
// its field (a REQUEST.Type above 65535) makes [Elements.Message] fail; an
// ID out of range is reported by its validation.
func (e *Elements) SetInt(i int, v uint64) {
	f := &e.l.fields[i]
	switch f.rule {
	case ruleID, ruleRevocable:
		*idAt(e.base, f) = ID(v)
	case ruleRequestType:
		if v > math.MaxUint16 {
			if e.bad == 0 {
				e.bad = i + 1
			}
		} else {
			*typeAt(e.base, f) = MessageType(v)
		}
	default:
		panic(errKind)
	}
	e.set(i)
}

// SetString sets the string element i (of [KindString]).
func (e *Elements) SetString(i int, s string) {
	f := &e.l.fields[i]
	if f.Kind != KindString {
		panic(errKind)
	}
	*strAt(e.base, f) = s // a URI is a string in memory too
	e.set(i)
}

// SetDict sets the dict element i (of [KindDict]).
func (e *Elements) SetDict(i int, d Dict) {
	f := &e.l.fields[i]
	if f.Kind != KindDict {
		panic(errKind)
	}
	*dictAt(e.base, f) = d
	e.set(i)
}

// SetList sets the list element i (of [KindList]).
func (e *Elements) SetList(i int, l List) {
	f := &e.l.fields[i]
	if f.Kind != KindList {
		panic(errKind)
	}
	*listAt(e.base, f) = l
	e.set(i)
}

func (e *Elements) set(i int) {
	if i >= e.n {
		e.n = i + 1
	}
}

// Message checks the message a decoder filled from [Layout.New] and
// returns it: as [ValidateReceived] does, and also that no integer was too
// large for its field and that the Request of UNSUBSCRIBED or UNREGISTERED
// is 0 only in the revocation form, which has Details. A decoder reports
// a list of the wrong length itself, as soon as it sees it; Message only
// refuses fewer than [Layout.Min] elements. The error is a
// *[MessageError].
func (e *Elements) Message() (Message, error) {
	l := e.l
	if e.n < l.min {
		return nil, malformed(l.typ, "", l.lengthReason(e.n+1))
	}
	if e.bad > 0 {
		return nil, malformed(l.typ, l.fields[e.bad-1].Name, "out of range")
	}
	if i := l.revocable; i >= 0 && i+1 >= e.n && *idAt(e.base, &l.fields[i]) == 0 {
		return nil, malformed(l.typ, l.fields[i].Name, "ID 0 out of range [1, 2^53]")
	}
	if err := l.validate(e.base, true); err != nil {
		return nil, err
	}
	return l.msg(e.base), nil
}

// errKind is the panic of an Elements method called for an element of
// another kind (or out of range).
const errKind = "protocol: Elements: element of another kind"

// count returns the number of elements of the message at base to write:
// optional fields are left out from the end while their rule allows it
// (nothing after them being written).
func (l *Layout) count(base unsafe.Pointer) int {
	n := len(l.fields)
	for ; n > l.min; n-- {
		f := &l.fields[n-1]
		switch f.rule {
		case ruleArgs:
			if len(*listAt(base, f)) > 0 {
				return n
			}
		case ruleKwargs:
			if len(*dictAt(base, f)) > 0 {
				return n
			}
		case ruleRevocationDetails:
			// The revocation form [UNSUBSCRIBED, 0, Details] always has them.
			if *dictAt(base, f) != nil || *idAt(base, &l.fields[n-2]) == 0 {
				return n
			}
		}
	}
	return n
}
