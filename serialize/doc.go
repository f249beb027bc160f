// Package serialize encodes and decodes WAMP messages in the serializations
// of the WAMP Basic Profile: JSON, MessagePack and CBOR (WAMP spec,
// basic/serializations). It also knows the WebSocket sub-protocol names and
// RawSocket serializer ids of these formats (spec basic/transport), and the
// framing of the batched JSON WebSocket sub-protocol.
//
// The simplest use picks a [Serializer] and its [Codec]:
//
//	c := serialize.JSON.Codec()
//	buf, err := c.Encode(buf[:0], &protocol.Call{Request: 1, Procedure: "com.example.add", Args: protocol.List{2, 3}})
//	// buf is [48,1,{},"com.example.add",[2,3]]
//	m, err := c.Decode(buf)
//
// A transport that negotiated a WebSocket sub-protocol finds its serializer
// with [BySubProtocol]; a RawSocket serializer id is a [Serializer] value.
// [Serializer.Binary] says whether WebSocket text or binary messages carry it.
//
// # Messages and values
//
// Encode writes a message list as the spec lays it out (spec
// basic/messages): a nil Details or Options is written as an empty dict,
// and empty trailing Args and Kwargs are left out. It first checks the
// message as protocol.Validate does, so nothing invalid is ever sent.
//
// Decode checks the list's length and element types and then the checks
// of protocol.ValidateReceived, which together are the checks of
// protocol.FromList (a bad topic or procedure URI is left to the router).
//
// The codecs know no message type by name: each message list's layout
// comes from protocol's table (protocol.LayoutOf, protocol.ElementsOf), so
// a message type added there is encoded and decoded here unchanged.
// Decoded values use a small set of types: nil, bool, int64 (uint64 for
// integers above math.MaxInt64), float64, string, []byte, []any and
// map[string]any. Top-level Details, Options, Extra and Kwargs are
// protocol.Dict and Args is protocol.List; an empty top-level dict decodes
// as a nil Dict (its accessors are nil-safe). Integers are never passed
// through float64, so IDs up to 2^53, and every 64-bit integer, are exact
// in all three formats. Where an integer is expected, an integral float is
// accepted too (JavaScript encoders send large integers as doubles).
//
// Encode writes those types, every other Go integer and float kind,
// protocol.ID, protocol.URI, Dict and List directly. Other values
// (structs, typed slices and maps, pointers) are converted with
// github.com/ugorji/go/codec, which honours `codec` and `json` struct tags;
// channels, functions and complex numbers are refused. Dict keys are
// written in sorted order, so an encoding is deterministic.
//
// # Binary in JSON
//
// JSON has no binary type. As the spec prescribes (basic/serializations,
// "Binary conversion of JSON Strings"), a []byte is written as a string
// holding a NUL character followed by the standard, padded base64 encoding
// of the bytes, and on decoding every string that starts with NUL is turned
// back into a []byte, at any depth of the payload:
//
//	[]byte{0x10, 0xe3, 0xff, ...}  <->  "\u0000EOP/kFMHXFJvX8BtT+N82w=="
//
// Dict keys are never converted. A Go string that starts with NUL cannot
// be written in JSON and is an encoding error. MessagePack (str8 and bin
// types of spec version 5) and CBOR keep strings and bytes apart.
//
// # JavaScript undefined
//
// JavaScript peers may send undefined values: wampy.js, for one, sends
// SUBSCRIBE with Options {match: undefined, get_retained: undefined}
// unless it is given options. JSON.stringify leaves such dict entries out
// and writes an undefined list element as null, but MessagePack encoders
// such as msgpackr write undefined as the extension value d4 00 00
// (fixext 1, type 0, data 0) and CBOR encoders as the simple value 23
// (f7). The decoders do what JSON.stringify does: a dict entry whose value
// is undefined is left out (Options, Details or Kwargs left empty are nil,
// as when they are empty), and an undefined list element is nil. So a
// JavaScript peer's message means the same in every serializer; in
// particular the router does not see a match option that is not a
// string, which it would refuse. Other MessagePack extension types are
// refused.
//
// # Limits on hostile input
//
// Decode never panics, whatever the input, and every error it returns is a
// *[DecodeError] that wraps protocol.ErrMalformed and says what is wrong and
// where. Lengths declared in MessagePack and CBOR headers are checked
// against the remaining input before anything is allocated, nesting
// deeper than 100 lists or dicts is refused, strings must be valid UTF-8,
// dict keys must be strings and unique, and data after the message is an
// error. The decoded message never aliases the input buffer.
//
// Decoding is bounded in memory. A few bytes can stand for much more Go
// memory ({} is one byte of MessagePack and a 48-byte map; {"":0} three
// bytes and a 336-byte map), so the decoders estimate what every value
// they build takes on the heap (interface slots, boxed numbers, strings,
// slices and map tables, as measured on Go 1.26) and charge it before they
// allocate it:
//
//   - Decoding a message of n bytes allocates at most [BudgetPerByte]*n +
//     4*[BudgetBase] bytes (40n + 256 KiB), plus, for JSON, a buffer for
//     escaped strings of at most n bytes. Decoding stops as soon as more
//     would be needed.
//   - Each list or dict element of a message (Details, Options, Args,
//     Kwargs ...) may take at most BudgetPerByte bytes per byte of its
//     compact size, plus BudgetBase (64 KiB). The compact size of a value
//     counts one byte per value, the bytes of its strings, binary values
//     and keys, and the shortest size of its numbers in any of the three
//     formats; it depends on the value only, not on its encoding.
//
// A message over either limit is refused with an error that matches
// [ErrDecodeBudget]. Payloads of numbers, strings, binary, lists, records
// and nested dicts take far less than the limits (at most about 34 bytes
// per byte of compact size for lists of dicts of two short entries such
// as {"x":1.5,"y":2.5}); what takes more is mostly dicts of one or two
// tiny entries, such as lists of {} or {"x":1,"y":2}, and only when there
// are more than BudgetBase worth of them. Because the second limit does
// not depend on the encoding, a message that one peer sent within its
// budget, in any format and however padded, is within its budget again
// when a router forwards its Args and Kwargs to other peers, in any
// format. The values [Codec.Encode] writes are not checked.
//
// # Encode once
//
// A router that sends one EVENT to many subscribers wraps it with
// [NewShared]. The resulting *[Shared] is itself a protocol.Message; each
// network transport asks it for [Shared.Bytes] of its serializer, and the
// message is encoded at most once per serializer, however many peers
// receive it. In-process transports deliver [Shared.Message] instead, so
// that receivers never see a *Shared.
//
// # Batched JSON
//
// The wamp.2.json.batched WebSocket sub-protocol ([JSONBatchedSubProtocol])
// puts one or more JSON messages into a WebSocket message, each followed by
// the byte 0x1e. [AppendJSONBatch] builds such a batch and
// [SplitJSONBatch] takes it apart; an empty batch is an error.
//
// # Concurrency
//
// Codecs are stateless: Encode and Decode may be called from any number of
// goroutines at once (they share internal sync.Pool caches). All methods
// of *Shared may be called concurrently. A message must not be changed
// while it is being encoded, nor after it was wrapped by NewShared.
package serialize
