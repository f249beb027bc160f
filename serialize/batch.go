package serialize

import (
	"bytes"
	"errors"
)

// batchSeparator ends every message of a wamp.2.json.batched WebSocket
// message (WAMP spec, basic/transport "Batched WebSocket transport"). It
// cannot occur inside JSON text, where control characters in strings are
// escaped.
const batchSeparator = 0x1e

// SplitJSONBatch splits one WebSocket message of the wamp.2.json.batched
// sub-protocol into the JSON messages it holds. Every message must be
// followed by 0x1e. It returns an error wrapping protocol.ErrMalformed for
// an empty batch (which the spec says must fail the transport), an empty
// message, or data that does not end with 0x1e. The returned slices alias
// data.
func SplitJSONBatch(data []byte) ([][]byte, error) {
	if len(data) == 0 {
		return nil, &DecodeError{Serializer: JSON, Offset: 0, Err: errors.New("empty batch")}
	}
	if data[len(data)-1] != batchSeparator {
		return nil, &DecodeError{Serializer: JSON, Offset: len(data), Err: errors.New("batch does not end with 0x1e")}
	}
	msgs := make([][]byte, 0, bytes.Count(data, []byte{batchSeparator}))
	for off := 0; off < len(data); {
		i := bytes.IndexByte(data[off:], batchSeparator)
		if i == 0 {
			return nil, &DecodeError{Serializer: JSON, Offset: off, Err: errors.New("empty message in batch")}
		}
		msgs = append(msgs, data[off:off+i:off+i])
		off += i + 1
	}
	return msgs, nil
}

// AppendJSONBatch appends one encoded JSON message and the 0x1e separator
// to dst, building a wamp.2.json.batched WebSocket message.
func AppendJSONBatch(dst, msg []byte) []byte {
	dst = append(dst, msg...)
	return append(dst, batchSeparator)
}
