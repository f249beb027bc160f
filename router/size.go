package router

import (
	"reflect"

	"github.com/wampkit/wampkit/protocol"
)

// Byte budgets. What a client can make the router keep beyond its own
// session (retained events, event history) is bounded in bytes, not only
// in count. The router holds decoded values, not their encodings, so
// their cost is estimated: what a value occupies on the Go heap, roughly,
// whatever serializer (or in-process client) it came from. The estimate
// is made once per kept event, on the publisher's goroutine.

// Go heap costs of decoded values, on a 64-bit platform: an interface
// value (the slot in a list or dict), a string or slice header, a boxed
// number, and a map's fixed part and per-entry overhead.
const (
	sizeIface    = 16
	sizeHeader   = 24
	sizeBoxed    = 8
	sizeMap      = 48
	sizeMapEntry = 16 + sizeIface + 8 // key header, value, bucket overhead
	// maxSizeDepth bounds the recursion of sizeOf; deeper values are
	// charged as one opaque value each (decoders refuse deeper nesting
	// anyway).
	maxSizeDepth = 128
	// maxReflectWork bounds the values reflectSize visits for one
	// estimate: a Go value from an in-process client may share or cycle
	// through pointers, which a walk would otherwise visit again and
	// again. Past it, values are charged their own size only.
	maxReflectWork = 1 << 16
)

// payloadSize estimates the bytes an event's or call's payload holds.
// It allocates nothing (a cluster estimates every message of a call that
// crosses nodes with it).
func payloadSize(args protocol.List, kwargs protocol.Dict) int {
	n := 0
	if args != nil {
		n += listSize(args, 0)
	}
	if kwargs != nil {
		n += mapSize(kwargs, 0)
	}
	return n
}

// listSize is sizeOf for a list, without boxing it in an interface.
func listSize(v []any, depth int) int {
	n := sizeHeader + cap(v)*sizeIface
	for _, e := range v {
		n += sizeOf(e, depth+1)
	}
	return n
}

// mapSize is sizeOf for a dict.
func mapSize(v map[string]any, depth int) int {
	n := sizeMap
	for k, e := range v {
		n += sizeMapEntry + len(k) + sizeOf(e, depth+1)
	}
	return n
}

// sizeOf estimates the heap bytes of v beyond the interface slot that
// holds it.
func sizeOf(v any, depth int) int {
	if depth > maxSizeDepth {
		return sizeIface
	}
	switch v := v.(type) {
	case nil, bool:
		return 0
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return sizeBoxed
	case string:
		return sizeHeader + len(v)
	case []byte:
		return sizeHeader + cap(v)
	case []any:
		return listSize(v, depth)
	case protocol.List:
		return listSize(v, depth)
	case map[string]any:
		return mapSize(v, depth)
	case protocol.Dict:
		return mapSize(v, depth)
	}
	// An in-process client may send any Go value.
	work := maxReflectWork
	return reflectSize(reflect.ValueOf(v), depth, &work)
}

// reflectSize estimates the heap bytes behind a Go value of any other
// type: its own size, plus what its strings, slices, maps, pointers and
// interfaces refer to.
func reflectSize(v reflect.Value, depth int, work *int) int {
	if !v.IsValid() {
		return 0
	}
	if *work--; *work <= 0 || depth > maxSizeDepth {
		return int(v.Type().Size())
	}
	n := int(v.Type().Size())
	switch v.Kind() {
	case reflect.String:
		n += v.Len()
	case reflect.Slice:
		n += v.Cap() * int(v.Type().Elem().Size())
		for i := range v.Len() {
			n += reflectSize(v.Index(i), depth+1, work) - int(v.Type().Elem().Size())
		}
	case reflect.Array:
		for i := range v.Len() {
			n += reflectSize(v.Index(i), depth+1, work) - int(v.Type().Elem().Size())
		}
	case reflect.Map:
		n += sizeMap
		for it := v.MapRange(); it.Next(); {
			n += sizeMapEntry + reflectSize(it.Key(), depth+1, work) + reflectSize(it.Value(), depth+1, work)
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			n += reflectSize(v.Elem(), depth+1, work)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			n += reflectSize(v.Field(i), depth+1, work) - int(v.Field(i).Type().Size())
		}
	}
	return n
}
