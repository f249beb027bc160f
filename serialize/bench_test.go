package serialize_test

import (
	"strings"
	"testing"

	"github.com/ugorji/go/codec"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

// benchMessages returns CALL and EVENT with a small payload and with about
// 1 KiB of payload.
func benchMessages() []struct {
	name string
	msg  protocol.Message
} {
	kib := protocol.Dict{
		"name":   strings.Repeat("x", 200),
		"items":  []any{int64(1), int64(2), int64(3), "four", 5.5, true, nil, map[string]any{"k": "v"}},
		"blob":   make([]byte, 256),
		"text":   strings.Repeat("lorem ipsum ", 30),
		"counts": map[string]any{"a": int64(1), "b": int64(1 << 40), "c": int64(-7)},
	}
	return []struct {
		name string
		msg  protocol.Message
	}{
		{"call/small", &protocol.Call{Request: 123, Options: protocol.Dict{}, Procedure: "com.example.add", Args: protocol.List{int64(1), int64(2)}}},
		{"call/1KiB", &protocol.Call{Request: 123, Options: protocol.Dict{"timeout": int64(1000)}, Procedure: "com.example.store", Args: protocol.List{"key", int64(42)}, Kwargs: kib}},
		{"event/small", &protocol.Event{Subscription: 5512315355, Publication: 4429313566, Details: protocol.Dict{}, Args: protocol.List{"hello"}}},
		{"event/1KiB", &protocol.Event{Subscription: 5512315355, Publication: 4429313566, Details: protocol.Dict{"topic": "com.example.topic"}, Args: protocol.List{"hello"}, Kwargs: kib}},
	}
}

func BenchmarkEncode(b *testing.B) {
	for _, s := range serializers {
		for _, bm := range benchMessages() {
			b.Run(s.String()+"/"+bm.name, func(b *testing.B) {
				c := s.Codec()
				buf, err := c.Encode(nil, bm.msg)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(buf)))
				b.ReportAllocs()
				for b.Loop() {
					buf, _ = c.Encode(buf[:0], bm.msg)
				}
			})
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, s := range serializers {
		for _, bm := range benchMessages() {
			b.Run(s.String()+"/"+bm.name, func(b *testing.B) {
				c := s.Codec()
				buf, err := c.Encode(nil, bm.msg)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(buf)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.Decode(buf); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkShared measures the fan-out path: one EVENT handed to many
// receivers, encoded once per serializer.
func BenchmarkShared(b *testing.B) {
	ev := benchMessages()[3].msg
	for _, receivers := range []int{1, 100} {
		b.Run("receivers="+itoa(receivers), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sh := serialize.NewShared(ev)
				for range receivers {
					if _, err := sh.Bytes(serialize.JSON); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkBaseline measures the generic reflection-based path this
// package replaces: ugorji's codec on the message as a []any list, for
// comparison with BenchmarkEncode and BenchmarkDecode.
func BenchmarkBaseline(b *testing.B) {
	handles := []struct {
		name string
		h    codec.Handle
	}{
		{"json", &codec.JsonHandle{}},
		{"msgpack", mpHandle()},
		{"cbor", &codec.CborHandle{}},
	}
	call := []any{48, 123, map[string]any{}, "com.example.add", []any{1, 2}}
	for _, h := range handles {
		var buf []byte
		if err := codec.NewEncoderBytes(&buf, h.h).Encode(call); err != nil {
			b.Fatal(err)
		}
		b.Run("encode/"+h.name+"/call/small", func(b *testing.B) {
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			var out []byte
			for b.Loop() {
				out = out[:0]
				if err := codec.NewEncoderBytes(&out, h.h).Encode(call); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("decode/"+h.name+"/call/small", func(b *testing.B) {
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				var v []any
				if err := codec.NewDecoderBytes(buf, h.h).Decode(&v); err != nil {
					b.Fatal(err)
				}
				if _, err := protocol.FromList(v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func mpHandle() *codec.MsgpackHandle {
	h := &codec.MsgpackHandle{WriteExt: true}
	h.RawToString = true
	return h
}
