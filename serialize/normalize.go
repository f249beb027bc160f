package serialize

import (
	"fmt"
	"reflect"
	"sync"

	"github.com/ugorji/go/codec"
)

// The encoders write the common payload types (the ones decoding produces,
// every Go integer and float kind, string, []byte, Dict, List, URI, ID)
// directly. Any other value (structs, typed slices and maps, pointers, ...)
// is first turned into that generic form by encoding it with ugorji's
// MessagePack encoder (which honours `codec` and `json` struct tags) and
// decoding the result with our own decoder. That keeps the three formats
// consistent: a []byte in a struct field is binary in MessagePack and CBOR
// and a "\u0000"+base64 string in JSON.

// mpHandle is configured once and then only read, as ugorji requires.
var mpHandle = func() *codec.MsgpackHandle {
	h := &codec.MsgpackHandle{}
	h.WriteExt = true // spec v5: str8 and bin types
	// RawToString stays false: with WriteExt, ugorji decodes str as string
	// and bin as []byte; RawToString=true would turn bin into string too
	// (see TestUgorjiInterop). Only the encoder is used here anyway.
	h.Canonical = true
	// Only the encoder is used, but keep the decoder's limits sane in case
	// anyone ever decodes with this handle.
	h.MaxInitLen = 1 << 12
	return h
}()

// normEncoder is a pooled ugorji encoder with its output buffer.
type normEncoder struct {
	enc *codec.Encoder
	buf []byte
}

var normPool = sync.Pool{New: func() any {
	ne := &normEncoder{}
	ne.enc = codec.NewEncoderBytes(&ne.buf, mpHandle)
	return ne
}}

// normalize converts v to the generic form: nil, bool, int64, uint64,
// float64, string, []byte, []any and map[string]any.
func normalize(v any) (g any, err error) {
	if err := checkGoType(reflect.TypeOf(v)); err != nil {
		return nil, err
	}
	ne := normPool.Get().(*normEncoder)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cannot encode %T: %v", v, r)
			ne = &normEncoder{} // do not reuse an encoder in an unknown state
		}
		if cap(ne.buf) <= 64<<10 && ne.enc != nil {
			normPool.Put(ne)
		}
	}()
	ne.buf = ne.buf[:0]
	ne.enc.ResetBytes(&ne.buf)
	if err := ne.enc.Encode(v); err != nil {
		return nil, fmt.Errorf("cannot encode %T: %w", v, err)
	}
	// The input is our own encoding of a value the caller holds, not a
	// message from a peer: it has no budget.
	d := mpDecoder{data: ne.buf, b: unlimited}
	g, err = d.value(1)
	if isUndefined(g) {
		g = nil
	}
	if err == nil && d.pos != len(d.data) {
		err = errTrailing
	}
	if err != nil {
		return nil, fmt.Errorf("cannot encode %T: %w", v, err)
	}
	if m, ok := g.(map[string]any); ok && m == nil {
		return nil, errUnsupported(v)
	}
	return g, nil
}

// checkedTypes caches the result of checkGoType per reflect.Type.
var checkedTypes sync.Map // reflect.Type -> error (nil error stored as errOK)

var errOK = fmt.Errorf("ok")

// checkGoType refuses types that hold channels, functions, complex numbers or
// unsafe pointers: ugorji would silently encode them as nil or empty, and a
// message would lose data without an error.
func checkGoType(t reflect.Type) error {
	if t == nil {
		return nil
	}
	if v, ok := checkedTypes.Load(t); ok {
		if v.(error) == errOK {
			return nil
		}
		return v.(error)
	}
	err := walkType(t, map[reflect.Type]bool{})
	if err == nil {
		checkedTypes.Store(t, errOK)
	} else {
		checkedTypes.Store(t, err)
	}
	return err
}

func walkType(t reflect.Type, seen map[reflect.Type]bool) error {
	if seen[t] {
		return nil
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Chan, reflect.Func, reflect.UnsafePointer, reflect.Complex64, reflect.Complex128:
		return fmt.Errorf("unsupported type %s", t)
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return walkType(t.Elem(), seen)
	case reflect.Map:
		if err := walkType(t.Key(), seen); err != nil {
			return err
		}
		return walkType(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() || f.Tag.Get("json") == "-" || f.Tag.Get("codec") == "-" {
				continue
			}
			if err := walkType(f.Type, seen); err != nil {
				return fmt.Errorf("%s.%s: %w", t, f.Name, err)
			}
		}
	}
	return nil
}
