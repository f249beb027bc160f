package serialize

import (
	"fmt"
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
	h.WriteExt = true    // spec v5: str8 and bin types
	h.RawToString = true // not used for decoding here, but keep str and bin apart
	h.Canonical = true
	h.StructToArray = false
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
	d := mpDecoder{data: ne.buf}
	g, err = d.value(1)
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
