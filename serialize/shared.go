package serialize

import (
	"sync"

	"github.com/wampkit/wampkit/protocol"
)

// Shared is a message that is encoded at most once per serializer, however
// many peers it is sent to: a router publishing one EVENT to many
// subscribers wraps it with [NewShared] and hands the same *Shared to every
// subscriber's transport.
//
// *Shared implements protocol.Message; its Type is that of the inner
// message. Network transports check for it and write [Shared.Bytes];
// [Codec.Encode] also accepts it. In-process transports deliver
// [Shared.Message] instead, so receivers never see a *Shared.
//
// All methods are safe for concurrent use. The inner message must not be
// changed after NewShared.
type Shared struct {
	msg protocol.Message
	enc [CBOR + 1]sharedEncoding // indexed by Serializer
}

// sharedEncoding is the lazily computed encoding for one serializer;
// once guards b and err.
type sharedEncoding struct {
	once sync.Once
	b    []byte
	err  error
}

var _ protocol.Message = (*Shared)(nil)

// NewShared wraps m. If m is already a *Shared, NewShared returns it.
func NewShared(m protocol.Message) *Shared {
	if sh, ok := m.(*Shared); ok {
		return sh
	}
	return &Shared{msg: m}
}

// Type returns the type of the inner message.
func (sh *Shared) Type() protocol.MessageType { return sh.msg.Type() }

// Message returns the inner message.
func (sh *Shared) Message() protocol.Message { return sh.msg }

// Bytes returns the encoding of the inner message in s. The first call for
// a serializer encodes; later and concurrent calls wait for and share that
// result (bytes or error). The returned slice is shared by all callers and
// must not be modified.
func (sh *Shared) Bytes(s Serializer) ([]byte, error) {
	c := s.Codec()
	if c == nil {
		return nil, errUnknownSerializer(s)
	}
	e := &sh.enc[s]
	e.once.Do(func() {
		b, err := c.Encode(nil, sh.msg)
		if err != nil {
			e.err = err
			return
		}
		e.b = b[:len(b):len(b)] // appending to it must copy
	})
	return e.b, e.err
}
