package protocol

import "math"

// ToInt64 converts an integer decoded by any serializer to int64.
//
// It accepts every Go integer kind (int, int8..int64, uint..uint64 up to
// math.MaxInt64) and integral float32/float64 values in the int64 range:
// JavaScript MessagePack encoders send integers above 2^32 as doubles.
// It rejects bool, non-integral or out-of-range floats, and everything
// else. Negative values are returned as they are; callers that need a
// non-negative integer check the sign.
func ToInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case uint64:
		if n > math.MaxInt64 {
			return 0, false
		}
		return int64(n), true
	case int:
		return int64(n), true
	case float64:
		return floatToInt64(n)
	case uint:
		if uint64(n) > math.MaxInt64 {
			return 0, false
		}
		return int64(n), true
	case int32:
		return int64(n), true
	case uint32:
		return int64(n), true
	case int16:
		return int64(n), true
	case uint16:
		return int64(n), true
	case int8:
		return int64(n), true
	case uint8:
		return int64(n), true
	case float32:
		return floatToInt64(float64(n))
	case ID:
		if n > math.MaxInt64 {
			return 0, false
		}
		return int64(n), true
	case MessageType:
		return int64(n), true
	}
	return 0, false
}

// floatToInt64 converts f if it is integral and inside the int64 range.
func floatToInt64(f float64) (int64, bool) {
	// -2^63 is exactly representable; 2^63 is the first value above MaxInt64.
	if f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 { // NaN fails the first test
		return 0, false
	}
	return int64(f), true
}

// ToID converts a decoded integer (see [ToInt64] for the accepted kinds)
// to an ID. It reports false unless the value is a valid ID in [1, MaxID];
// 0 is never a valid ID (spec basic "IDs").
func ToID(v any) (ID, bool) {
	n, ok := ToInt64(v)
	if !ok || n < 1 || n > int64(MaxID) {
		return 0, false
	}
	return ID(n), true
}

// Valid reports whether id is in [1, MaxID].
func (id ID) Valid() bool { return id >= 1 && id <= MaxID }

// NextID returns the ID that follows id in a session-scope sequence:
// id+1, wrapping to 1 after MaxID (spec basic "IDs"). Routers use it to
// check that a new request carries the next request ID.
func NextID(id ID) ID {
	if id >= MaxID {
		return 1
	}
	return id + 1
}

// Bool returns the value of key if it is a bool, otherwise false.
// It is safe on a nil Dict.
func (d Dict) Bool(key string) bool {
	b, _ := d[key].(bool)
	return b
}

// String returns the value of key if it is a string (or a [URI]),
// otherwise "". It is safe on a nil Dict.
func (d Dict) String(key string) string {
	switch s := d[key].(type) {
	case string:
		return s
	case URI:
		return string(s)
	}
	return ""
}

// Int returns the value of key as an int64 if it is an integer in the
// sense of [ToInt64]. It is safe on a nil Dict.
func (d Dict) Int(key string) (int64, bool) {
	v, ok := d[key]
	if !ok {
		return 0, false
	}
	return ToInt64(v)
}

// ID returns the value of key if it is a valid ID (see [ToID]).
// It is safe on a nil Dict.
func (d Dict) ID(key string) (ID, bool) {
	v, ok := d[key]
	if !ok {
		return 0, false
	}
	return ToID(v)
}

// Dict returns the value of key if it is a dictionary with string keys
// (Dict, map[string]any, or a map[any]any whose keys are all strings,
// which is copied), otherwise nil. It is safe on a nil Dict.
func (d Dict) Dict(key string) Dict {
	v, ok := d[key]
	if !ok {
		return nil
	}
	dd, _ := asDict(v)
	return dd
}

// List returns the value of key if it is a list (List or []any),
// otherwise nil. It is safe on a nil Dict.
func (d Dict) List(key string) List {
	switch l := d[key].(type) {
	case List:
		return l
	case []any:
		return l
	}
	return nil
}

// ToDict converts a decoded dictionary (Dict, map[string]any, or a
// map[any]any whose keys are all strings, which is copied) to a Dict. It
// reports false for anything else, nil included.
func ToDict(v any) (Dict, bool) { return asDict(v) }

// asDict converts a decoded dictionary to a Dict without copying when
// possible. map[any]any (as produced by some MessagePack/CBOR decoders) is
// copied if all its keys are strings; ok is false otherwise.
func asDict(v any) (Dict, bool) {
	switch m := v.(type) {
	case Dict:
		return m, true
	case map[string]any:
		return m, true
	case map[any]any:
		d := make(Dict, len(m))
		for k, e := range m {
			s, ok := k.(string)
			if !ok {
				return nil, false
			}
			d[s] = e
		}
		return d, true
	}
	return nil, false
}
