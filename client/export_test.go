package client

import (
	"reflect"
	"time"

	"github.com/wampkit/wampkit/protocol"
)

// Delay is ReconnectConfig.delay, for tests.
func (rc ReconnectConfig) Delay(n int) time.Duration { return rc.delay(n) }

// CryptosignAuthExtra is cryptosignAuthExtra, for tests.
var CryptosignAuthExtra = cryptosignAuthExtra

// DefaultAgent is defaultAgent, for tests.
const DefaultAgent = defaultAgent

// DecodeTyped is decodeTyped for tests: it takes the flat path where the
// type has a flat layout.
func DecodeTyped[T any](args protocol.List, kwargs protocol.Dict) (T, error) {
	var v T
	if e := decodeTyped(args, kwargs, &v); e != nil {
		return v, e
	}
	return v, nil
}

// EncodeTyped is encodeTyped for tests.
func EncodeTyped[T any](v T) (protocol.List, protocol.Dict) { return encodeTyped(&v, nil) }

// HasFlatLayout reports whether values of T take the flat path.
func HasFlatLayout[T any](v T) bool { return flatOf(reflect.TypeOf(v)) != nil }
