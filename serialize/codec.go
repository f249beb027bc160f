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

// invalidMessage describes the error of protocol.ElementsOf for m, which
// encoders call (as protocol.ToList does, so that nothing invalid is ever
// sent).
func invalidMessage(s Serializer, m protocol.Message, err error) error {
	if m == nil {
		return fmt.Errorf("serialize: %s: encode nil message", s)
	}
	return fmt.Errorf("serialize: %s: encode %s: %w", s, m.Type(), err)
}

// decoded finishes a message a decoder filled: the checks of
// protocol.FromList, where a bad topic or procedure URI is the router's to
// refuse with ERROR wamp.error.invalid_uri, not a malformed message.
func decoded(s Serializer, e *protocol.Elements) (protocol.Message, error) {
	m, err := e.Message()
	if err != nil {
		return nil, &DecodeError{Serializer: s, Offset: -1, Err: err}
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
