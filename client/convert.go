package client

import (
	"encoding"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/wampkit/wampkit/protocol"
)

// Convert returns v as a T, for reading the values of a payload (Args,
// Kwargs and everything nested in them) whatever link they came over. A
// value that already has type T is returned as it is, without copying;
// otherwise v is converted by these rules:
//
//   - Integer kinds accept any Go integer, and integral floats (JavaScript
//     peers send large integers as doubles), within the range of T.
//   - Float kinds accept any Go float or integer.
//   - bool accepts bool; string kinds accept string kinds.
//   - []byte accepts []byte (binary in all three serializations).
//   - Slices and arrays accept any slice or array, converting each
//     element; an array needs exactly its length.
//   - Maps with string keys accept maps with string keys, and structs
//     (one entry per field, named as for a dict, below).
//   - Structs accept maps with string keys and other structs: each field
//     takes the entry named like the field's `codec` or `json` tag, else
//     like the field (embedded structs are flattened, as encoding/json
//     does); entries without a field are ignored, fields without an entry
//     keep their value.
//   - Pointers accept what their element accepts, and nil.
//   - Interface types accept any value that implements them (any: every
//     value, returned as it is).
//   - Types whose pointer implements [encoding.TextUnmarshaler], such as
//     time.Time, accept strings.
//   - nil (JSON null, a missing value) gives the zero T.
//
// A value that fits none of these is a *[PayloadError] naming what was
// wanted and what arrived. Convert never panics; values nested more than
// 256 deep are refused.
//
// See "Values" in the package documentation for what a payload holds on
// each kind of link.
func Convert[T any](v any) (T, error) {
	if t, ok := v.(T); ok {
		return t, nil
	}
	var out T
	if e := convertValue(reflect.ValueOf(&out).Elem(), reflect.ValueOf(v), 0); e != nil {
		return out, e
	}
	return out, nil
}

// maxDepth bounds the nesting of values that convertValue follows. Values
// decoded from the network nest at most 100 deep, but an in-process
// sender may hand over a value that contains itself.
const maxDepth = 256

// A PayloadError reports a value of a payload that does not fit the Go
// type it was to become: returned by [Convert] and [Decode], and, in the
// text of ERROR wamp.error.invalid_argument, to the callers of a typed
// procedure ([Procedure]).
type PayloadError struct {
	// Path locates the value in the payload, such as `args[1]`,
	// `kwargs["origin"].X` or `args[0][2]`; it is empty for the value given
	// to Convert itself.
	Path string
	// Field is the Go struct field the value was for, such as
	// "AddArgs.B", if it was for one.
	Field string
	// Want is what was wanted: a Go type, or a number of arguments.
	Want string
	// Got is what arrived: a Go type ("int64", "map[string]interface {}"),
	// "null", "nothing" when the value is missing, or a value out of
	// range.
	Got string
}

// Error returns "client: PATH (field FIELD): want WANT, got GOT".
func (e *PayloadError) Error() string {
	return "client: " + e.text()
}

// text is the error without the package prefix, as sent to a caller.
func (e *PayloadError) text() string {
	var b strings.Builder
	b.WriteString(e.Path)
	if e.Field != "" {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("(field " + e.Field + ")")
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString("want " + e.Want + ", got " + e.Got)
	return b.String()
}

// at prefixes the error's path with seg (an index "[i]" or a key).
func (e *PayloadError) at(seg string) *PayloadError {
	if e.Path == "" || e.Path[0] == '[' || e.Path[0] == '.' {
		e.Path = seg + e.Path
	} else {
		e.Path = seg + "." + e.Path
	}
	return e
}

// atIndex prefixes the path with [i].
func (e *PayloadError) atIndex(i int) *PayloadError { return e.at("[" + strconv.Itoa(i) + "]") }

// atKey prefixes the path with [key] (quoted).
func (e *PayloadError) atKey(key string) *PayloadError { return e.at("[" + strconv.Quote(key) + "]") }

// atField records the struct field if none deeper was recorded.
func (e *PayloadError) atField(t reflect.Type, f *fieldInfo) *PayloadError {
	if e.Field == "" {
		e.Field = typeName(t) + "." + f.goName
	}
	return e
}

// mismatch is the error for src (invalid: nothing) not fitting t.
func mismatch(t reflect.Type, src reflect.Value) *PayloadError {
	return &PayloadError{Want: typeName(t), Got: describe(src)}
}

// describe says what src is, for an error.
func describe(src reflect.Value) string {
	if !src.IsValid() {
		return "nothing"
	}
	return typeName(src.Type())
}

// typeName is t's name as Go prints it.
func typeName(t reflect.Type) string {
	if t == nil {
		return "nil"
	}
	return t.String()
}

var textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()

// convertValue stores src into dst (settable) by the rules of Convert.
// src may be the invalid Value (nil).
func convertValue(dst reflect.Value, src reflect.Value, depth int) *PayloadError {
	// Look through interfaces: the elements of []any and map[string]any.
	for src.IsValid() && src.Kind() == reflect.Interface {
		src = src.Elem()
	}
	if !src.IsValid() {
		dst.SetZero()
		return nil
	}
	dt, st := dst.Type(), src.Type()
	if st == dt {
		dst.Set(src) // passes through: slices, maps and pointers are shared
		return nil
	}
	if depth >= maxDepth {
		return &PayloadError{Want: typeName(dt), Got: "a value nested more than " + strconv.Itoa(maxDepth) + " deep"}
	}
	dk := dst.Kind()
	switch dk {
	case reflect.Interface:
		if st.Implements(dt) {
			dst.Set(src)
			return nil
		}
		return mismatch(dt, src)
	case reflect.Pointer:
		if src.Kind() == reflect.Pointer {
			if src.IsNil() {
				dst.SetZero()
				return nil
			}
			if st.ConvertibleTo(dt) && st.Elem() == dt.Elem() {
				dst.Set(src.Convert(dt))
				return nil
			}
			src = src.Elem()
		}
		p := reflect.New(dt.Elem())
		if e := convertValue(p.Elem(), src, depth+1); e != nil {
			return e
		}
		dst.Set(p)
		return nil
	}
	// A pointer source is read through.
	for src.Kind() == reflect.Pointer {
		if src.IsNil() {
			dst.SetZero()
			return nil
		}
		src = src.Elem()
		st = src.Type()
		if st == dt {
			dst.Set(src)
			return nil
		}
	}
	sk := src.Kind()
	if sk == reflect.String && dk != reflect.String && reflect.PointerTo(dt).Implements(textUnmarshalerType) {
		if err := dst.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(src.String())); err != nil {
			return &PayloadError{Want: typeName(dt), Got: fmt.Sprintf("string %q (%v)", src.String(), err)}
		}
		return nil
	}
	switch dk {
	case reflect.Bool:
		if sk == reflect.Bool {
			dst.SetBool(src.Bool())
			return nil
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok, exact := toInt64(src)
		if ok && exact && !dst.OverflowInt(n) {
			dst.SetInt(n)
			return nil
		}
		if ok {
			return &PayloadError{Want: typeName(dt), Got: outOfRange(src)}
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n, ok, exact := toUint64(src)
		if ok && exact && !dst.OverflowUint(n) {
			dst.SetUint(n)
			return nil
		}
		if ok {
			return &PayloadError{Want: typeName(dt), Got: outOfRange(src)}
		}
	case reflect.Float32, reflect.Float64:
		var f float64
		switch sk {
		case reflect.Float32, reflect.Float64:
			f = src.Float()
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			f = float64(src.Int())
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			f = float64(src.Uint())
		default:
			return mismatch(dt, src)
		}
		if dst.OverflowFloat(f) && !math.IsInf(f, 0) {
			return &PayloadError{Want: typeName(dt), Got: outOfRange(src)}
		}
		dst.SetFloat(f)
		return nil
	case reflect.String:
		if sk == reflect.String {
			dst.SetString(src.String())
			return nil
		}
	case reflect.Slice:
		return convertSlice(dst, src, depth)
	case reflect.Array:
		return convertArray(dst, src, depth)
	case reflect.Map:
		return convertMap(dst, src, depth)
	case reflect.Struct:
		return convertStruct(dst, src, depth)
	}
	return mismatch(dt, src)
}

// outOfRange describes a number that does not fit: a fraction where an
// integer is wanted, or a value out of range. v is a reflect.Value or the
// value itself.
func outOfRange(v any) string {
	if rv, ok := v.(reflect.Value); ok {
		if !rv.CanInterface() {
			return fmt.Sprintf("%v (out of range)", rv)
		}
		v = rv.Interface()
	}
	rv := reflect.ValueOf(v)
	if k := rv.Kind(); (k == reflect.Float32 || k == reflect.Float64) && rv.Float() != math.Trunc(rv.Float()) && !math.IsInf(rv.Float(), 0) {
		return fmt.Sprintf("%v (not an integer)", v)
	}
	return fmt.Sprintf("%v (out of range)", v)
}

// toInt64 reads an integer source: ok if src is a number, exact if it is
// an integer (or an integral float) in the int64 range.
func toInt64(src reflect.Value) (n int64, ok, exact bool) {
	switch src.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return src.Int(), true, true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := src.Uint()
		return int64(u), true, u <= math.MaxInt64
	case reflect.Float32, reflect.Float64:
		f := src.Float()
		// -2^63 is representable; 2^63 is the first value above MaxInt64.
		if f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
			return 0, true, false
		}
		return int64(f), true, true
	}
	return 0, false, false
}

// toUint64 is toInt64 for unsigned destinations.
func toUint64(src reflect.Value) (n uint64, ok, exact bool) {
	switch src.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i := src.Int()
		return uint64(i), true, i >= 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return src.Uint(), true, true
	case reflect.Float32, reflect.Float64:
		f := src.Float()
		if f != math.Trunc(f) || f < 0 || f >= 1<<64 {
			return 0, true, false
		}
		return uint64(f), true, true
	}
	return 0, false, false
}

func convertSlice(dst, src reflect.Value, depth int) *PayloadError {
	dt, st := dst.Type(), src.Type()
	sk := src.Kind()
	if sk != reflect.Slice && sk != reflect.Array {
		return mismatch(dt, src)
	}
	if sk == reflect.Slice && src.IsNil() {
		dst.SetZero()
		return nil
	}
	if sk == reflect.Slice && st.Elem() == dt.Elem() {
		// The same elements under another name ([]any and protocol.List):
		// share them.
		dst.Set(src.Convert(dt))
		return nil
	}
	n := src.Len()
	out := reflect.MakeSlice(dt, n, n)
	if sk == reflect.Array && st.Elem() == dt.Elem() {
		reflect.Copy(out, src)
		dst.Set(out)
		return nil
	}
	for i := range n {
		if e := convertValue(out.Index(i), src.Index(i), depth+1); e != nil {
			return e.atIndex(i)
		}
	}
	dst.Set(out)
	return nil
}

func convertArray(dst, src reflect.Value, depth int) *PayloadError {
	dt := dst.Type()
	sk := src.Kind()
	if sk != reflect.Slice && sk != reflect.Array {
		return mismatch(dt, src)
	}
	if src.Len() != dt.Len() {
		return &PayloadError{Want: typeName(dt), Got: fmt.Sprintf("%d elements", src.Len())}
	}
	for i := range dt.Len() {
		if e := convertValue(dst.Index(i), src.Index(i), depth+1); e != nil {
			return e.atIndex(i)
		}
	}
	return nil
}

func convertMap(dst, src reflect.Value, depth int) *PayloadError {
	dt, st := dst.Type(), src.Type()
	if dt.Key().Kind() != reflect.String {
		return mismatch(dt, src) // WAMP dicts have string keys
	}
	switch src.Kind() {
	case reflect.Map:
		if src.IsNil() {
			dst.SetZero()
			return nil
		}
		if st.Key() == dt.Key() && st.Elem() == dt.Elem() {
			dst.Set(src.Convert(dt)) // Dict and map[string]any: shared
			return nil
		}
		out := reflect.MakeMapWithSize(dt, src.Len())
		val := reflect.New(dt.Elem()).Elem()
		key := reflect.New(dt.Key()).Elem()
		it := src.MapRange()
		for it.Next() {
			k := it.Key()
			for k.Kind() == reflect.Interface && !k.IsNil() {
				k = k.Elem()
			}
			if k.Kind() != reflect.String {
				return &PayloadError{Want: typeName(dt), Got: "a map with " + describe(k) + " keys"}
			}
			val.SetZero()
			if e := convertValue(val, it.Value(), depth+1); e != nil {
				return e.atKey(k.String())
			}
			key.SetString(k.String())
			out.SetMapIndex(key, val)
		}
		dst.Set(out)
		return nil
	case reflect.Struct:
		info := structOf(st)
		out := reflect.MakeMapWithSize(dt, len(info.fields))
		val := reflect.New(dt.Elem()).Elem()
		key := reflect.New(dt.Key()).Elem()
		for i := range info.fields {
			f := &info.fields[i]
			if f.dictName == "" {
				continue
			}
			fv, ok := fieldOf(src, f.index)
			if !ok || (f.dictOmitEmpty && fv.IsZero()) {
				continue
			}
			val.SetZero()
			if e := convertValue(val, fv, depth+1); e != nil {
				return e.atKey(f.dictName)
			}
			key.SetString(f.dictName)
			out.SetMapIndex(key, val)
		}
		dst.Set(out)
		return nil
	}
	return mismatch(dt, src)
}

func convertStruct(dst, src reflect.Value, depth int) *PayloadError {
	dt := dst.Type()
	info := structOf(dt)
	switch src.Kind() {
	case reflect.Map:
		if src.Type().Key().Kind() != reflect.String && src.Type().Key().Kind() != reflect.Interface {
			return mismatch(dt, src)
		}
		var m map[string]any
		fast := true
		switch mm := src.Interface().(type) {
		case map[string]any:
			m = mm
		case protocol.Dict:
			m = mm
		default:
			fast = false
		}
		for i := range info.fields {
			f := &info.fields[i]
			if f.dictName == "" {
				continue
			}
			var v reflect.Value
			if fast {
				x, ok := m[f.dictName]
				if !ok {
					continue
				}
				v = reflect.ValueOf(x)
			} else {
				v = mapIndex(src, f.dictName)
				if !v.IsValid() {
					continue
				}
			}
			if e := setField(dst, f, v, depth); e != nil {
				return e.atField(dt, f).atKey(f.dictName)
			}
		}
		return nil
	case reflect.Struct:
		sinfo := structOf(src.Type())
		for i := range info.fields {
			f := &info.fields[i]
			if f.dictName == "" {
				continue
			}
			sf := sinfo.byDictName(f.dictName)
			if sf == nil {
				continue
			}
			v, ok := fieldOf(src, sf.index)
			if !ok {
				continue
			}
			if e := setField(dst, f, v, depth); e != nil {
				return e.atField(dt, f).atKey(f.dictName)
			}
		}
		return nil
	}
	return mismatch(dt, src)
}

// mapIndex returns m[key] for a map with string-kind or interface keys,
// or the invalid Value.
func mapIndex(m reflect.Value, key string) reflect.Value {
	kt := m.Type().Key()
	k := reflect.New(kt).Elem()
	if kt.Kind() == reflect.String {
		k.SetString(key)
	} else {
		k.Set(reflect.ValueOf(key))
	}
	return m.MapIndex(k)
}

// setField converts v into the field f of the struct dst, allocating
// embedded struct pointers on the way.
func setField(dst reflect.Value, f *fieldInfo, v reflect.Value, depth int) *PayloadError {
	return convertValue(fieldAlloc(dst, f.index), v, depth+1)
}

// fieldOf returns the field at index of the struct v, or false if an
// embedded pointer on the way is nil.
func fieldOf(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}

// fieldAlloc returns the field at index of the settable struct v,
// allocating nil embedded pointers on the way.
func fieldAlloc(v reflect.Value, index []int) reflect.Value {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v
}
