package serialize_test

import (
	"math"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

// serializers lists every serializer the tests cover.
var serializers = []serialize.Serializer{serialize.JSON, serialize.MessagePack, serialize.CBOR}

// cmpOpts compares decoded messages: empty and nil dicts/lists are equal
// (an empty Options decodes as nil), NaNs are equal.
var cmpOpts = cmp.Options{cmpopts.EquateEmpty(), cmpopts.EquateNaNs()}

// payload is an application payload with every value kind, in the form
// decoding produces (int64, float64, []any, map[string]any, []byte).
func payload() (protocol.List, protocol.Dict) {
	args := protocol.List{
		int64(1), int64(-1), int64(math.MaxInt64), int64(math.MinInt64), uint64(math.MaxUint64),
		int64(1 << 53), 1.5, -0.25, 2.0, 1e300, "text", "ünïcödé ☃ 𝄞", "", "quote\" backslash\\ ctl\x01\n",
		true, false, nil, []byte{0, 1, 2, 0xff}, []byte{},
		[]any{int64(1), "two", []any{int64(3)}}, map[string]any{"nested": map[string]any{"deep": []any{}}},
	}
	kwargs := protocol.Dict{"a": int64(1), "b": []any{"x", nil}, "bin": []byte("\x00bytes"), "m": map[string]any{}, "\x00\x00key": "NUL-led keys are not binary"}
	return args, kwargs
}

// messages returns one message of every type, with and without payload,
// in the form decoding produces.
func messages() []struct {
	name string
	msg  protocol.Message
} {
	args, kwargs := payload()
	details := protocol.Dict{"roles": map[string]any{"caller": map[string]any{"features": map[string]any{"progressive_call_results": true}}}}
	const big = protocol.MaxID
	return []struct {
		name string
		msg  protocol.Message
	}{
		{"hello", &protocol.Hello{Realm: "realm1", Details: details}},
		{"welcome", &protocol.Welcome{Session: big, Details: details}},
		{"abort", &protocol.Abort{Details: protocol.Dict{"message": "bye"}, Reason: protocol.ErrNoSuchRealm}},
		{"abort/payload", &protocol.Abort{Reason: protocol.ErrNoSuchRealm, Args: args, Kwargs: kwargs}},
		{"challenge", &protocol.Challenge{AuthMethod: "wampcra", Extra: protocol.Dict{"challenge": "{}"}}},
		{"authenticate", &protocol.Authenticate{Signature: "c2lnbmF0dXJl", Extra: protocol.Dict{}}},
		{"goodbye", &protocol.Goodbye{Details: protocol.Dict{}, Reason: protocol.CloseSystemShutdown}},
		{"error", &protocol.Error{RequestType: protocol.TypeCall, Request: 1, URI: protocol.ErrNoSuchProcedure}},
		{"error/args", &protocol.Error{RequestType: protocol.TypeInvocation, Request: 2, URI: "com.example.oops", Args: args}},
		{"error/kwargs", &protocol.Error{RequestType: protocol.TypeSubscribe, Request: 3, URI: "com.example.oops", Kwargs: kwargs}},
		{"publish", &protocol.Publish{Request: 1, Topic: "com.example.topic"}},
		{"publish/payload", &protocol.Publish{Request: big, Options: protocol.Dict{"acknowledge": true}, Topic: "com.example.topic", Args: args, Kwargs: kwargs}},
		{"published", &protocol.Published{Request: 1, Publication: big}},
		{"subscribe", &protocol.Subscribe{Request: 1, Topic: "com.example.topic"}},
		{"subscribe/wildcard", &protocol.Subscribe{Request: 1, Options: protocol.Dict{"match": "wildcard"}, Topic: "com..topic"}},
		{"subscribed", &protocol.Subscribed{Request: 1, Subscription: 42}},
		{"unsubscribe", &protocol.Unsubscribe{Request: 2, Subscription: 42}},
		{"unsubscribed", &protocol.Unsubscribed{Request: 2}},
		{"unsubscribed/revocation", &protocol.Unsubscribed{Request: 0, Details: protocol.Dict{"subscription": int64(42), "reason": "wamp.close.normal"}}},
		{"event", &protocol.Event{Subscription: 42, Publication: big}},
		{"event/args", &protocol.Event{Subscription: 42, Publication: 7, Details: protocol.Dict{"publisher": int64(9)}, Args: args}},
		{"event/payload", &protocol.Event{Subscription: 42, Publication: 7, Args: args, Kwargs: kwargs}},
		{"event/kwargs-only", &protocol.Event{Subscription: 42, Publication: 7, Kwargs: kwargs}},
		{"call", &protocol.Call{Request: 123, Procedure: "com.example.add", Args: protocol.List{int64(1), int64(2)}}},
		{"call/payload", &protocol.Call{Request: big, Options: protocol.Dict{"timeout": int64(1000), "receive_progress": true}, Procedure: "com.example.add", Args: args, Kwargs: kwargs}},
		{"cancel", &protocol.Cancel{Request: 123, Options: protocol.Dict{"mode": "killnowait"}}},
		{"result", &protocol.Result{Request: 123}},
		{"result/payload", &protocol.Result{Request: 123, Details: protocol.Dict{"progress": true}, Args: args, Kwargs: kwargs}},
		{"register", &protocol.Register{Request: 5, Procedure: "com.example.add"}},
		{"register/prefix", &protocol.Register{Request: 5, Options: protocol.Dict{"match": "prefix"}, Procedure: "com.example."}},
		{"registered", &protocol.Registered{Request: 5, Registration: big}},
		{"unregister", &protocol.Unregister{Request: 6, Registration: big}},
		{"unregistered", &protocol.Unregistered{Request: 6}},
		{"unregistered/revocation", &protocol.Unregistered{Request: 0, Details: protocol.Dict{"registration": int64(big), "reason": "wamp.close.normal"}}},
		{"invocation", &protocol.Invocation{Request: 9, Registration: 5}},
		{"invocation/payload", &protocol.Invocation{Request: 9, Registration: 5, Details: protocol.Dict{"caller": int64(3)}, Args: args, Kwargs: kwargs}},
		{"interrupt", &protocol.Interrupt{Request: 9, Options: protocol.Dict{"mode": "kill"}}},
		{"yield", &protocol.Yield{Request: 9}},
		{"yield/payload", &protocol.Yield{Request: 9, Options: protocol.Dict{"progress": true}, Args: args, Kwargs: kwargs}},
	}
}
