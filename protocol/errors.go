package protocol

import (
	"errors"
	"strconv"
)

// ErrMalformed is the sentinel every validation error of this package wraps:
// [FromList], [ToList] and [Validate] return a *[MessageError] for which
// errors.Is(err, ErrMalformed) holds. A peer that receives a malformed
// message answers with ABORT [ErrProtocolViolation] (spec basic
// "Protocol Errors").
var ErrMalformed = errors.New("protocol: malformed message")

// MessageError describes why a message or wire list is malformed.
//
// Type is the message type at fault (0 if the list had no usable type
// code), Field names the element at fault in the message struct's terms
// ("Request", "Options", "Options.match", "Args", ...) or is empty when the
// whole message is at fault (wrong length, unknown type), and Reason says
// what is wrong. Its Unwrap method returns [ErrMalformed].
type MessageError struct {
	Type   MessageType
	Field  string
	Reason string
}

// Error returns e.g. `protocol: CALL: Procedure: invalid URI "a..b"`.
func (e *MessageError) Error() string {
	s := "protocol: "
	if e.Type != 0 {
		s += e.Type.String() + ": "
	}
	if e.Field != "" {
		s += e.Field + ": "
	}
	return s + e.Reason
}

// Unwrap returns [ErrMalformed].
func (e *MessageError) Unwrap() error { return ErrMalformed }

func malformed(t MessageType, field, reason string) *MessageError {
	return &MessageError{Type: t, Field: field, Reason: reason}
}

// String returns the spec's upper-case name of the message type ("CALL"),
// or "MessageType(n)" for a code this package does not know.
func (t MessageType) String() string {
	if l := LayoutOf(t); l != nil {
		return l.name
	}
	return "MessageType(" + strconv.Itoa(int(t)) + ")"
}

// Known reports whether t is one of the 24 message types of the Basic and
// Advanced Profile.
func (t MessageType) Known() bool {
	return LayoutOf(t) != nil
}
