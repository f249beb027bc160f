package serialize_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ugorji/go/codec"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

// TestUgorjiInterop checks our MessagePack and CBOR against another
// implementation, ugorji/go/codec configured as WAMP peers need it
// (MessagePack spec v5: str8 and bin types via WriteExt). Note that
// RawToString must stay false: set, it makes ugorji decode bin as string,
// which loses the str/bin distinction WAMP needs. Each side decodes what
// the other encoded.
func TestUgorjiInterop(t *testing.T) {
	mp := &codec.MsgpackHandle{WriteExt: true}
	mp.RawToString = false // true would decode bin as string too
	cb := &codec.CborHandle{}
	handles := map[serialize.Serializer]codec.Handle{serialize.MessagePack: mp, serialize.CBOR: cb}

	list := []any{48, uint64(protocol.MaxID), map[string]any{"timeout": 1000}, "com.example.add",
		[]any{[]byte{0, 1, 2}, "str", 1.5, -5, uint64(1 << 60), int64(-1 << 40), nil, true, []any{}, map[string]any{"k": []byte("v")}},
		map[string]any{"bin": []byte{0xff}, "s": "ünï"}}
	want := &protocol.Call{Request: protocol.MaxID, Options: protocol.Dict{"timeout": int64(1000)}, Procedure: "com.example.add",
		Args:   protocol.List{[]byte{0, 1, 2}, "str", 1.5, int64(-5), int64(1 << 60), int64(-1 << 40), nil, true, []any{}, map[string]any{"k": []byte("v")}},
		Kwargs: protocol.Dict{"bin": []byte{0xff}, "s": "ünï"}}

	for s, h := range handles {
		// ugorji -> us
		var theirs []byte
		if err := codec.NewEncoderBytes(&theirs, h).Encode(list); err != nil {
			t.Fatal(err)
		}
		got, err := s.Codec().Decode(theirs)
		if err != nil {
			t.Fatalf("%v: Decode(ugorji %x): %v", s, theirs, err)
		}
		if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
			t.Errorf("%v: Decode(ugorji encoding) mismatch (-want +got):\n%s", s, diff)
		}

		// us -> ugorji: bytes stay []byte, strings stay string.
		ours, err := s.Codec().Encode(nil, want)
		if err != nil {
			t.Fatal(err)
		}
		var back []any
		if err := codec.NewDecoderBytes(ours, h).Decode(&back); err != nil {
			t.Fatalf("%v: ugorji Decode(%x): %v", s, ours, err)
		}
		m, err := protocol.FromList(back)
		if err != nil {
			t.Fatalf("%v: FromList(ugorji decoding %#v): %v", s, back, err)
		}
		call := m.(*protocol.Call)
		if b, ok := call.Args[0].([]byte); !ok || len(b) != 3 {
			t.Errorf("%v: ugorji decoded Args[0] as %#v, want []byte", s, call.Args[0])
		}
		if str, ok := call.Args[1].(string); !ok || str != "str" {
			t.Errorf("%v: ugorji decoded Args[1] as %#v, want \"str\"", s, call.Args[1])
		}
		if call.Request != protocol.MaxID || call.Procedure != "com.example.add" {
			t.Errorf("%v: ugorji decoded %+v", s, call)
		}
	}
}
