package protocol_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

// ping is a message type WAMP does not have, written the way every message
// type of this package is, to show all that a new message type needs:
//
//  1. its struct, with a Type method that returns its type code;
//  2. one row in the layout table (layouts in layout.go) that names its
//     fields in wire order and says what each one is.
//
// Everything else follows from the row: FromList, ToList, Validate,
// ValidateReceived, MessageType.String, and the JSON, MessagePack and CBOR
// codecs of the serialize package. (Which side may send it in which
// session state is a separate question, answered by the state machine.)
type ping struct {
	Request protocol.ID
	Details protocol.Dict
	Topic   protocol.URI
	Args    protocol.List
	Kwargs  protocol.Dict
}

// typePing is the code of ping: 7 is not a WAMP message type.
const typePing protocol.MessageType = 7

func (*ping) Type() protocol.MessageType { return typePing }

// pingRow is ping's row, as it would be written in the table:
//
//	typePing: row("PING", func(m *ping) refs { return refs{&m.Request, &m.Details, &m.Topic, &m.Args, &m.Kwargs} },
//		id("Request"), dict("Details"), uri("Topic"), arguments, argumentsKw),
func pingRow() *protocol.Layout {
	return protocol.Row("PING", func(m *ping) protocol.Refs {
		return protocol.Refs{&m.Request, &m.Details, &m.Topic, &m.Args, &m.Kwargs}
	},
		protocol.FieldID("Request"), protocol.FieldDict("Details"), protocol.FieldURI("Topic"),
		protocol.FieldArguments, protocol.FieldArgumentsKw)
}

func TestNewMessageType(t *testing.T) {
	if typePing.Known() {
		t.Fatalf("%v is a message type already", typePing)
	}
	protocol.AddLayout(t, pingRow())
	if got := typePing.String(); got != "PING" || !typePing.Known() {
		t.Errorf("MessageType(7): String() = %q, Known() = %v; want PING, true", got, typePing.Known())
	}
	lay := protocol.LayoutOf(typePing)
	if lay.Min() != 3 || lay.Len() != 5 || lay.Field(2) != (protocol.Field{Name: "Topic", Kind: protocol.KindString}) {
		t.Errorf("LayoutOf(PING): Min %d, Len %d, Field(2) %+v; want 3, 5, Topic string", lay.Min(), lay.Len(), lay.Field(2))
	}

	// Lists.
	m := &ping{Request: 9, Topic: "com.example.ping", Args: protocol.List{"x"}}
	l, err := protocol.ToList(m)
	want := protocol.List{uint64(7), uint64(9), map[string]any{}, "com.example.ping", []any{"x"}}
	if err != nil || !cmp.Equal(l, want) {
		t.Errorf("ToList(%#v) = %v, %v; want %v", m, l, err, want)
	}
	got, err := protocol.FromList(protocol.List{7, 9, map[string]any{}, "com.example.ping", []any{"x"}})
	if diff := cmp.Diff(protocol.Message(m), got, cmpopts.EquateEmpty()); err != nil || diff != "" {
		t.Errorf("FromList(PING) = %v, mismatch (-want +got):\n%s", err, diff)
	}

	// Validation.
	malformed := []struct {
		name string
		err  error
		want string
	}{
		{"FromList id 0", fromList(protocol.List{7, 0, map[string]any{}, "a"}), `protocol: PING: Request: ID 0 out of range [1, 2^53]`},
		{"FromList too short", fromList(protocol.List{7, 1, map[string]any{}}), "protocol: PING: 3 elements, want 4..6"},
		{"FromList topic", fromList(protocol.List{7, 1, map[string]any{}, "a..b"}), `protocol: PING: Topic: invalid URI "a..b": empty component`},
		{"FromList args", fromList(protocol.List{7, 1, map[string]any{}, "a", "b"}), `protocol: PING: Args: not a list: string "b"`},
		{"Validate", protocol.Validate(&ping{Request: 1}), `protocol: PING: Topic: invalid URI "": empty`},
		{"ValidateReceived", protocol.ValidateReceived(&ping{Topic: "a"}), "protocol: PING: Request: ID 0 out of range [1, 2^53]"},
	}
	for _, tt := range malformed {
		if tt.err == nil || tt.err.Error() != tt.want || !errors.Is(tt.err, protocol.ErrMalformed) {
			t.Errorf("%s: error %v, want %s", tt.name, tt.err, tt.want)
		}
	}

	// Serializers.
	m = &ping{Request: 9, Details: protocol.Dict{"a": int64(1)}, Topic: "com.example.ping", Kwargs: protocol.Dict{"k": "v"}}
	encodings := map[serialize.Serializer]string{
		serialize.JSON:        `[7,9,{"a":1},"com.example.ping",[],{"k":"v"}]`,
		serialize.MessagePack: "\x96\x07\x09\x81\xa1a\x01\xb0com.example.ping\x90\x81\xa1k\xa1v",
		serialize.CBOR:        "\x86\x07\x09\xa1aa\x01\x70com.example.ping\x80\xa1ak\x61v",
	}
	for s, want := range encodings {
		b, err := s.Codec().Encode(nil, m)
		if err != nil || string(b) != want {
			t.Errorf("%v: Encode(%#v) = %q, %v; want %q", s, m, b, err, want)
		}
		got, err := s.Codec().Decode([]byte(want))
		if diff := cmp.Diff(protocol.Message(m), got, cmpopts.EquateEmpty()); err != nil || diff != "" {
			t.Errorf("%v: Decode(%q) = %v, mismatch (-want +got):\n%s", s, want, err, diff)
		}
	}
	_, err = serialize.JSON.Codec().Decode([]byte(`[7,9,{},"com..ping"]`))
	if err == nil || err.Error() != `serialize: json: protocol: PING: Topic: invalid URI "com..ping": empty component` {
		t.Errorf(`Decode([7,9,{},"com..ping"]) error = %v, want the Topic refused`, err)
	}
}

func fromList(l protocol.List) error {
	_, err := protocol.FromList(l)
	return err
}
