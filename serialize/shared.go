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
		// Encode into a pooled scratch buffer, then keep an exact-size
		// copy: one allocation, however the encoding grew.
		bp := encodeBuffers.Get().(*[]byte)
		b, err := c.Encode((*bp)[:0], sh.msg)
		if err != nil {
			e.err = err
		} else {
			e.b = append(make([]byte, 0, len(b)), b...)
		}
		if cap(b) <= maxPooledBuffer {
			*bp = b[:0]
			encodeBuffers.Put(bp)
		}
	})
	return e.b, e.err
}

// encodeBuffers holds scratch buffers for encodings whose final size is not
// known in advance. Buffers larger than maxPooledBuffer are dropped, so one
// huge message does not pin memory.
var encodeBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, 1024)
	return &b
}}

const maxPooledBuffer = 64 << 10
