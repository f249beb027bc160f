package protocol

import "testing"

// What a row of the layout table is made of, for the external tests of
// this package (see TestNewMessageType).

// Refs are the pointers to a message's fields that a row gives.
type Refs = refs

// Row builds a row of the layout table, as the rows of layouts are built.
func Row[T any, P interface {
	*T
	Message
}](name string, get func(P) Refs, fields ...slot) *Layout {
	return row(name, get, fields...)
}

// The kinds of fields of a row.
var (
	FieldID          = id
	FieldDict        = dict
	FieldURI         = uri
	FieldArguments   = arguments
	FieldArgumentsKw = argumentsKw
)

// AddLayout adds l to the layout table, for message type code l.Type(),
// until the end of the test.
func AddLayout(tb testing.TB, l *Layout) {
	t := l.Type()
	old := layouts[t]
	layouts[t] = l
	tb.Cleanup(func() { layouts[t] = old })
}
