// Package serialize encodes and decodes WAMP messages in the serializations
// of the WAMP Basic Profile: JSON, MessagePack and CBOR (WAMP spec,
// basic/serializations; SUMMARY §12). It also knows the WebSocket
// sub-protocol names and RawSocket serializer ids of these formats
// (spec basic/transport; SUMMARY §13), and the framing of the batched JSON
// WebSocket sub-protocol.
//
// The simplest use picks a [Serializer] and its [Codec]:
//
//	c := serialize.JSON.Codec()
//	buf, err := c.Encode(buf[:0], &protocol.Call{Request: 1, Procedure: "com.example.add", Args: protocol.List{1, 2}})
//	...
//	m, err := c.Decode(buf)
//
// A transport that negotiated a WebSocket sub-protocol finds its serializer
// with [BySubProtocol]; a RawSocket transport with [ByRawSocketID].
package serialize
