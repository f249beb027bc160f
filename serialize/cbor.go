package serialize

import (
	"errors"

	"github.com/wampkit/wampkit/protocol"
)

// cborCodec implements CBOR (RFC 8949, WAMP spec basic/serializations).
type cborCodec struct{}

var _ Codec = cborCodec{}

// Encode implements [Codec].
func (cborCodec) Encode(dst []byte, m protocol.Message) ([]byte, error) {
	return dst, errors.New("serialize: cbor: not implemented yet")
}

// Decode implements [Codec].
func (cborCodec) Decode(data []byte) (protocol.Message, error) {
	return nil, &DecodeError{Serializer: CBOR, Offset: -1, Err: errors.New("not implemented yet")}
}
