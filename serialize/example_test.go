package serialize_test

import (
	"fmt"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

func ExampleCodec() {
	c := serialize.JSON.Codec()
	call := &protocol.Call{Request: 1, Procedure: "com.example.add", Args: protocol.List{2, 3}}
	buf, err := c.Encode(nil, call)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s\n", buf)

	m, err := c.Decode([]byte(`[50, 1, {}, [5]]`))
	if err != nil {
		panic(err)
	}
	res := m.(*protocol.Result)
	fmt.Printf("RESULT of request %d: %v (%T)\n", res.Request, res.Args[0], res.Args[0])
	// Output:
	// [48,1,{},"com.example.add",[2,3]]
	// RESULT of request 1: 5 (int64)
}

func ExampleCodec_binary() {
	// JSON carries binary values as "\u0000" + base64; MessagePack and CBOR
	// have a binary type of their own.
	ev := &protocol.Event{Subscription: 1, Publication: 2, Args: protocol.List{[]byte{0xca, 0xfe}}}
	for _, s := range []serialize.Serializer{serialize.JSON, serialize.MessagePack, serialize.CBOR} {
		buf, err := s.Codec().Encode(nil, ev)
		if err != nil {
			panic(err)
		}
		if s.Binary() {
			fmt.Printf("%-7v % x\n", s, buf)
		} else {
			fmt.Printf("%-7v %s\n", s, buf)
		}
	}
	// Output:
	// json    [36,1,2,{},["\u0000yv4="]]
	// msgpack 95 24 01 02 80 91 c4 02 ca fe
	// cbor    85 18 24 01 02 a0 81 42 ca fe
}

func ExampleShared() {
	ev := &protocol.Event{Subscription: 7, Publication: 42, Args: protocol.List{"hello"}}
	sh := serialize.NewShared(ev)

	// A router hands sh to every subscriber's transport. Each network
	// transport asks for the bytes of its serializer; only the first call
	// per serializer encodes.
	for range 3 {
		b, err := sh.Bytes(serialize.JSON)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s\n", b)
	}
	// In-process receivers get the message itself.
	fmt.Println(sh.Message() == ev, sh.Type())
	// Output:
	// [36,7,42,{},["hello"]]
	// [36,7,42,{},["hello"]]
	// [36,7,42,{},["hello"]]
	// true EVENT
}

func ExampleSplitJSONBatch() {
	var batch []byte
	batch = serialize.AppendJSONBatch(batch, []byte(`[17,1,5]`))
	batch = serialize.AppendJSONBatch(batch, []byte(`[33,2,6]`))
	msgs, err := serialize.SplitJSONBatch(batch)
	if err != nil {
		panic(err)
	}
	for _, b := range msgs {
		m, err := serialize.JSON.Codec().Decode(b)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%T\n", m)
	}
	// Output:
	// *protocol.Published
	// *protocol.Subscribed
}

func ExampleBySubProtocol() {
	for _, name := range []string{"wamp.2.cbor", "wamp.2.json.batched", "wamp.2.ubjson"} {
		s, ok := serialize.BySubProtocol(name)
		fmt.Println(name, s, ok, s.Binary())
	}
	// Output:
	// wamp.2.cbor cbor true true
	// wamp.2.json.batched json true false
	// wamp.2.ubjson serializer(0) false false
}
