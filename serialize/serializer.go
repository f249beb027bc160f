package serialize

// Serializer identifies a WAMP serialization format. Its value is the
// serializer id of the RawSocket handshake (WAMP spec, basic/transport,
// "RawSocket Transport"), so Serializer(id) is the serializer a handshake
// asks for, and its [Serializer.Codec] is nil if it is not supported
// (UBJSON, 4, and FlatBuffers, 5, are not); the zero value is invalid.
type Serializer uint8

// The serializers of the Basic Profile (WAMP spec, basic/serializations).
const (
	// JSON is RFC 8259 JSON, carried in WebSocket text messages, with
	// binary values encoded as "\u0000" + base64 strings.
	JSON Serializer = 1
	// MessagePack is MessagePack (spec version 5, str and bin kept apart).
	MessagePack Serializer = 2
	// CBOR is RFC 8949 CBOR.
	CBOR Serializer = 3
)

// JSONBatchedSubProtocol is the WebSocket sub-protocol of batched JSON
// (WAMP spec, basic/transport, "Batched WebSocket transport"): a WebSocket
// message holds one or more JSON messages, each followed by 0x1e. Use
// [SplitJSONBatch] and [AppendJSONBatch] for its framing.
const JSONBatchedSubProtocol = "wamp.2.json.batched"

// String returns "json", "msgpack" or "cbor", or "serializer(N)" for an
// unknown value.
func (s Serializer) String() string {
	switch s {
	case JSON:
		return "json"
	case MessagePack:
		return "msgpack"
	case CBOR:
		return "cbor"
	}
	return "serializer(" + itoa(int(s)) + ")"
}

// SubProtocol returns the WebSocket sub-protocol name of s ("wamp.2.json",
// "wamp.2.msgpack", "wamp.2.cbor"), or "" for an unknown value.
func (s Serializer) SubProtocol() string {
	switch s {
	case JSON, MessagePack, CBOR:
		return "wamp.2." + s.String()
	}
	return ""
}

// Binary reports whether s produces binary data. Over WebSocket, JSON goes
// in text messages and the binary formats in binary messages.
func (s Serializer) Binary() bool {
	return s == MessagePack || s == CBOR
}

// Codec returns the codec of s, or nil if s is not a known serializer.
// Codecs are stateless and safe for concurrent use.
func (s Serializer) Codec() Codec {
	switch s {
	case JSON:
		return jsonCodec{}
	case MessagePack:
		return msgpackCodec{}
	case CBOR:
		return cborCodec{}
	}
	return nil
}

// BySubProtocol returns the serializer of a WebSocket sub-protocol name.
// It accepts "wamp.2.json", "wamp.2.msgpack", "wamp.2.cbor" and also
// [JSONBatchedSubProtocol], for which it returns JSON: callers that accept
// the batched variant compare the name with JSONBatchedSubProtocol to choose
// the framing.
func BySubProtocol(name string) (Serializer, bool) {
	switch name {
	case "wamp.2.json", JSONBatchedSubProtocol:
		return JSON, true
	case "wamp.2.msgpack":
		return MessagePack, true
	case "wamp.2.cbor":
		return CBOR, true
	}
	return 0, false
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
