package protocol

import (
	"strings"
	"testing"
)

// TestLayoutLengths pins the list lengths of every message type (type code
// included) that the layout table gives (spec basic messages.md "Message
// Definitions").
func TestLayoutLengths(t *testing.T) {
	want := map[MessageType][2]int{
		TypeHello: {3, 3}, TypeWelcome: {3, 3}, TypeAbort: {3, 5}, TypeChallenge: {3, 3},
		TypeAuthenticate: {3, 3}, TypeGoodbye: {3, 3}, TypeError: {5, 7}, TypePublish: {4, 6},
		TypePublished: {3, 3}, TypeSubscribe: {4, 4}, TypeSubscribed: {3, 3}, TypeUnsubscribe: {3, 3},
		TypeUnsubscribed: {2, 3}, TypeEvent: {4, 6}, TypeCall: {4, 6}, TypeCancel: {3, 3},
		TypeResult: {3, 5}, TypeRegister: {4, 4}, TypeRegistered: {3, 3}, TypeUnregister: {3, 3},
		TypeUnregistered: {2, 3}, TypeInvocation: {4, 6}, TypeInterrupt: {3, 3}, TypeYield: {3, 5},
	}
	for code := range 1 << 16 {
		typ := MessageType(code)
		l := LayoutOf(typ)
		w, ok := want[typ]
		switch {
		case !ok && l != nil:
			t.Errorf("LayoutOf(%v) = %v, want nil", typ, l.name)
		case ok && l == nil:
			t.Errorf("LayoutOf(%v) = nil", typ)
		case ok && (l.Min()+1 != w[0] || l.Len()+1 != w[1] || l.Type() != typ):
			t.Errorf("LayoutOf(%v): %v with %d..%d elements, want %d..%d", typ, l.Type(), l.Min()+1, l.Len()+1, w[0], w[1])
		}
	}
}

// TestRowChecks checks that a row whose fields disagree with its pointers
// is refused (the package would not start).
func TestRowChecks(t *testing.T) {
	tests := []struct {
		name string
		row  func() *Layout
		want string
	}{
		{"wrong name", func() *Layout {
			return row("CANCEL", func(m *Cancel) refs { return refs{&m.Request, &m.Options} }, id("Request"), dict("Details"))
		}, "field Details: its pointer is to another field"},
		{"wrong type", func() *Layout {
			return row("CANCEL", func(m *Cancel) refs { return refs{&m.Request, &m.Options} }, dict("Request"), dict("Options"))
		}, "field Request: its pointer is of another type"},
		{"wrong order", func() *Layout {
			return row("PUBLISHED", func(m *Published) refs { return refs{&m.Publication, &m.Request} }, id("Request"), id("Publication"))
		}, "field Request: its pointer is to another field"},
		{"missing field", func() *Layout {
			return row("CANCEL", func(m *Cancel) refs { return refs{&m.Request, &m.Options} }, id("Request"))
		}, "more pointers than fields"},
		{"missing pointer", func() *Layout {
			return row("CANCEL", func(m *Cancel) refs { return refs{&m.Request} }, id("Request"), dict("Options"))
		}, "field Options: its pointer is of another type"},
		{"optional first", func() *Layout {
			return row("RESULT", func(m *Result) refs { return refs{&m.Request, &m.Args, &m.Details} }, id("Request"), arguments, dict("Details"))
		}, "required field Details after an optional one"},
		{"pattern without options", func() *Layout {
			return row("REGISTER", func(m *Register) refs { return refs{&m.Request, &m.Procedure} }, id("Request"), pattern("Procedure"))
		}, "pattern Procedure without Options before it"},
		{"revocable alone", func() *Layout {
			return row("UNSUBSCRIBED", func(m *Unsubscribed) refs { return refs{&m.Request} }, revocable("Request"))
		}, "a revocable ID must be followed by revocation details"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.HasPrefix(s, "protocol: layout of ") || !strings.HasSuffix(s, tt.want) {
					t.Errorf("row panics with %v, want %q", r, tt.want)
				}
			}()
			tt.row()
		})
	}
}

// TestElements checks the accessors serializers use.
func TestElements(t *testing.T) {
	e, err := ElementsOf(&Error{RequestType: TypeCall, Request: 5, URI: ErrCanceled, Kwargs: Dict{"a": 1}})
	if err != nil {
		t.Fatal(err)
	}
	if e.Len() != 6 || e.Int(0) != 48 || e.Int(1) != 5 || e.Dict(2) != nil || e.String(3) != "wamp.error.canceled" ||
		e.List(4) != nil || e.Dict(5)["a"] != 1 {
		t.Errorf("ElementsOf(ERROR) = %d elements %v %v %v %q %v %v", e.Len(), e.Int(0), e.Int(1), e.Dict(2), e.String(3), e.List(4), e.Dict(5))
	}
	for _, f := range []func(){func() { e.Dict(0) }, func() { e.Int(2) }, func() { e.String(4) }, func() { e.List(5) },
		func() { e.SetList(0, nil) }, func() { e.SetString(1, "") }} {
		func() {
			defer func() {
				if r := recover(); r != errKind {
					t.Errorf("accessor of another kind panics with %v, want %q", r, errKind)
				}
			}()
			f()
		}()
	}

	// A decoder's message: SetInt refuses a REQUEST.Type above 65535, and
	// the revocation form needs its Details.
	e = LayoutOf(TypeError).New()
	e.SetInt(0, 1<<16+48)
	e.SetInt(1, 1)
	e.SetDict(2, nil)
	e.SetString(3, "a.b")
	if m, err := e.Message(); err == nil || err.Error() != "protocol: ERROR: RequestType: out of range" {
		t.Errorf("Message() of ERROR with REQUEST.Type 65584 = %v, %v; want out of range", m, err)
	}
	e = LayoutOf(TypeCall).New()
	e.SetInt(0, 1)
	if m, err := e.Message(); err == nil || err.Error() != "protocol: CALL: 2 elements, want 4..6" {
		t.Errorf("Message() of [CALL, 1] = %v, %v; want too few elements", m, err)
	}
	e = LayoutOf(TypeUnsubscribed).New()
	e.SetInt(0, 0)
	if m, err := e.Message(); err == nil || err.Error() != "protocol: UNSUBSCRIBED: Request: ID 0 out of range [1, 2^53]" {
		t.Errorf("Message() of [UNSUBSCRIBED, 0] = %v, %v; want ID 0 out of range", m, err)
	}
	e.SetDict(1, Dict{"reason": "gone"})
	m, err := e.Message()
	if u, ok := m.(*Unsubscribed); err != nil || !ok || u.Request != 0 || u.Details["reason"] != "gone" {
		t.Errorf("Message() of [UNSUBSCRIBED, 0, {reason: gone}] = %#v, %v", m, err)
	}
}
