package serialize_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

// TestDecodeJSUndefined decodes what wampy.js 8.0.2 sends for JavaScript
// undefined, as its serializers write it: msgpackr 2.1.3's pack (the
// extension value d4 00 00) and cbor-x 1.6.8 with wampy's options (the
// simple value f7); the json column is JSON.stringify of the same value.
// A dict entry whose value is undefined is left out and an undefined list
// element is nil, as JSON.stringify does, so that a wampy session behaves
// the same in every serializer: wampy's SUBSCRIBE carries Options
// {match: undefined, get_retained: undefined} unless given options, and
// the router refuses a match that is not a string, nil included.
func TestDecodeJSUndefined(t *testing.T) {
	for _, tt := range jsUndefined() {
		inputs := map[serialize.Serializer][]byte{
			serialize.MessagePack: unhex(tt.msgpack),
			serialize.CBOR:        unhex(tt.cbor),
			serialize.JSON:        []byte(tt.json),
		}
		for _, s := range serializers {
			t.Run(tt.name+"/"+s.String(), func(t *testing.T) {
				got, err := s.Codec().Decode(inputs[s])
				if err != nil {
					t.Fatalf("Decode(%x) = %v", inputs[s], err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("Decode(%x) mismatch (-want +got):\n%s", inputs[s], diff)
				}
			})
		}
	}
}

// jsUndefined returns messages with undefined values as wampy.js writes
// them (see TestDecodeJSUndefined), and what they decode to.
func jsUndefined() []struct {
	name                string
	msgpack, cbor, json string
	want                protocol.Message
} {
	return []struct {
		name                string
		msgpack, cbor, json string
		want                protocol.Message
	}{
		{
			name:    "subscribe",
			msgpack: "942001de0002a56d61746368d40000ac6765745f72657461696e6564d40000b1636f6d2e6578616d706c652e746f706963",
			cbor:    "84182001b90002656d61746368f76c6765745f72657461696e6564f771636f6d2e6578616d706c652e746f706963",
			json:    `[32,1,{},"com.example.topic"]`,
			want:    &protocol.Subscribe{Request: 1, Topic: "com.example.topic"},
		},
		{
			name:    "call",
			msgpack: "963002de0000b0636f6d2e6578616d706c652e70726f639301d40000a178de0003a161d40000a16202a66e6573746564de0002a163d40000a16491d40000",
			cbor:    "86183002b9000070636f6d2e6578616d706c652e70726f638301f76178b900036161f7616202666e6573746564b900026163f7616481f7",
			json:    `[48,2,{},"com.example.proc",[1,null,"x"],{"b":2,"nested":{"d":[null]}}]`,
			want: &protocol.Call{Request: 2, Procedure: "com.example.proc", Args: protocol.List{int64(1), nil, "x"},
				Kwargs: protocol.Dict{"b": int64(2), "nested": map[string]any{"d": []any{nil}}}},
		},
	}
}

// TestDecodeJSUndefinedOnly checks that only the extension value msgpackr
// writes for undefined (type 0, data 0) is taken for it.
func TestDecodeJSUndefinedOnly(t *testing.T) {
	mpCall := unhex("30 01 80 a3 612e62")
	for _, in := range [][]byte{
		cat(unhex("95"), mpCall, unhex("91 d4 00 01")),
		cat(unhex("95"), mpCall, unhex("91 d4 01 00")),
		cat(unhex("95"), mpCall, unhex("91 d5 00 0000")),
	} {
		if m, err := serialize.MessagePack.Codec().Decode(in); err == nil {
			t.Errorf("Decode(%x) = %#v, want an unsupported type error", in, m)
		}
	}
}
