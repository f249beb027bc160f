package transport

import "strconv"

// RawSocket wire constants (WAMP spec, advanced/transport_rawsocket.md).
const (
	rawMagic = 0x7F

	frameMessage = 0 // TTT = 0: a regular WAMP message
	framePing    = 1 // TTT = 1: PING, answered by exactly one PONG
	framePong    = 2 // TTT = 2: PONG echoing the PING's payload

	rawMinLength = 1 << 9  // LLLL = 0
	rawMaxLength = 1 << 24 // LLLL = 15, and the longest frame (X bit)

)

// RawSocketErrorCode is the error code of a RawSocket handshake error reply
// (WAMP spec, advanced/transport_rawsocket.md, "Handshake: Router-to-Client
// Reply"). The value 0 is never used on the wire.
type RawSocketErrorCode uint8

// The error codes a router may answer a RawSocket handshake with.
const (
	// RawSocketUnsupportedSerializer means the requested serializer is not spoken.
	RawSocketUnsupportedSerializer RawSocketErrorCode = 1
	// RawSocketUnacceptableLength means the announced maximum message length is refused.
	RawSocketUnacceptableLength RawSocketErrorCode = 2
	// RawSocketReservedBits means the request used reserved bits.
	RawSocketReservedBits RawSocketErrorCode = 3
	// RawSocketConnectionLimit means the router's connection limit is reached.
	RawSocketConnectionLimit RawSocketErrorCode = 4
)

// String returns the spec's wording of the code.
func (c RawSocketErrorCode) String() string {
	switch c {
	case RawSocketUnsupportedSerializer:
		return "serializer unsupported"
	case RawSocketUnacceptableLength:
		return "maximum message length unacceptable"
	case RawSocketReservedBits:
		return "use of reserved bits (unsupported feature)"
	case RawSocketConnectionLimit:
		return "maximum connection count reached"
	}
	return "error " + strconv.Itoa(int(c))
}

// RawSocketError is returned (wrapped) by [DialRawSocket] when the router
// answers the handshake with an error reply. It unwraps to [ErrHandshake]:
//
//	var rerr *transport.RawSocketError
//	if errors.As(err, &rerr) && rerr.Code == transport.RawSocketConnectionLimit { ... }
type RawSocketError struct {
	// Code is the error code of the router's reply.
	Code RawSocketErrorCode
}

// Error implements error.
func (e *RawSocketError) Error() string {
	return "transport: rawsocket handshake refused: " + e.Code.String()
}

// Unwrap returns ErrHandshake.
func (e *RawSocketError) Unwrap() error { return ErrHandshake }

// rawRoundDown rounds a maximum message size down to a length RawSocket
// can announce: a power of two from 512 B to 16 MiB.
func rawRoundDown(n int64) int64 {
	return int64(1) << (9 + rawLengthExp(n))
}

// rawLengthExp is the LLLL of the handshake for a maximum of n bytes: the
// largest L with 2^(9+L) <= n, within 0..15.
func rawLengthExp(n int64) byte {
	var l byte
	for l < 15 && int64(1)<<(9+l+1) <= n {
		l++
	}
	return l
}

// appendFrameHeader appends the 4-octet frame header for a payload of n
// bytes (n <= 2^24; exactly 2^24 sets the X bit).
func appendFrameHeader(b []byte, typ byte, n int) []byte {
	if n == rawMaxLength {
		return append(b, 0x08|typ, 0, 0, 0)
	}
	return append(b, typ, byte(n>>16), byte(n>>8), byte(n))
}
