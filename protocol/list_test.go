package protocol

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// equateEmpty treats nil and empty dicts and lists alike: ToList writes a
// nil Details as {} and leaves an empty Args out.
var equateEmpty = cmpopts.EquateEmpty()

// roundTripMessages has at least one message of each of the 24 types, and
// the payload shapes (none, args only, kwargs only, both).
var roundTripMessages = []struct {
	name string
	m    Message
}{
	{"hello", &Hello{Realm: "realm1", Details: Dict{"roles": map[string]any{"caller": map[string]any{}}, "agent": "wampkit"}}},
	{"hello/nil details", &Hello{Realm: "com.example.realm"}},
	{"welcome", &Welcome{Session: 9129137332, Details: Dict{"roles": map[string]any{"broker": map[string]any{}}}}},
	{"welcome/max id", &Welcome{Session: MaxID, Details: Dict{}}},
	{"abort", &Abort{Details: Dict{"message": "The realm does not exist."}, Reason: ErrNoSuchRealm}},
	{"abort/args", &Abort{Details: Dict{}, Reason: ErrProtocolViolation, Args: List{"bad"}}},
	{"abort/kwargs", &Abort{Details: Dict{}, Reason: CloseSystemShutdown, Args: List{}, Kwargs: Dict{"a": 1}}},
	{"challenge", &Challenge{AuthMethod: "wampcra", Extra: Dict{"challenge": "{}"}}},
	{"authenticate", &Authenticate{Signature: "gir1mSx+deCDUV7wRM5SGIn/+R/ClqLZuH4m7FJeBVI=", Extra: Dict{}}},
	{"authenticate/empty", &Authenticate{}},
	{"goodbye", &Goodbye{Details: Dict{"message": "bye"}, Reason: CloseSystemShutdown}},
	{"error/subscribe", &Error{RequestType: TypeSubscribe, Request: 713845233, Details: Dict{}, URI: ErrNotAuthorized}},
	{"error/call args", &Error{RequestType: TypeCall, Request: 7814135, Details: Dict{}, URI: "com.myapp.error.object_write_protected",
		Args: List{"Object is write protected."}, Kwargs: Dict{"severity": 3}}},
	{"error/invocation", &Error{RequestType: TypeInvocation, Request: 6131533, Details: Dict{}, URI: ErrInvalidArgument, Args: List{1, 2}}},
	{"error/publish", &Error{RequestType: TypePublish, Request: 1, URI: ErrNotAuthorized}},
	{"error/unsubscribe", &Error{RequestType: TypeUnsubscribe, Request: 2, URI: ErrNoSuchSubscription}},
	{"error/register", &Error{RequestType: TypeRegister, Request: 3, URI: ErrProcedureAlreadyExists}},
	{"error/unregister", &Error{RequestType: TypeUnregister, Request: 4, URI: ErrNoSuchRegistration}},
	{"publish", &Publish{Request: 239714735, Options: Dict{}, Topic: "com.myapp.mytopic1"}},
	{"publish/args", &Publish{Request: 239714735, Options: Dict{"acknowledge": true}, Topic: "com.myapp.mytopic1", Args: List{"Hello, world!"}}},
	{"publish/kwargs", &Publish{Request: 239714735, Options: Dict{}, Topic: "com.myapp.mytopic1", Args: List{},
		Kwargs: Dict{"color": "orange", "sizes": []any{23, 42, 7}}}},
	{"published", &Published{Request: 239714735, Publication: 4429313566}},
	{"subscribe", &Subscribe{Request: 713845233, Options: Dict{}, Topic: "com.myapp.mytopic1"}},
	{"subscribe/prefix", &Subscribe{Request: 1, Options: Dict{"match": "prefix"}, Topic: "com.myapp."}},
	{"subscribe/wildcard", &Subscribe{Request: 1, Options: Dict{"match": "wildcard"}, Topic: "com..topic"}},
	{"subscribed", &Subscribed{Request: 713845233, Subscription: 5512315355}},
	{"unsubscribe", &Unsubscribe{Request: 85346237, Subscription: 5512315355}},
	{"unsubscribed", &Unsubscribed{Request: 85346237}},
	{"unsubscribed/revocation", &Unsubscribed{Request: 0, Details: Dict{"subscription": 5512315355, "reason": "removed"}}},
	{"unsubscribed/details", &Unsubscribed{Request: 5, Details: Dict{}}},
	{"event", &Event{Subscription: 5512315355, Publication: 4429313566, Details: Dict{}}},
	{"event/args", &Event{Subscription: 5512315355, Publication: 4429313566, Details: Dict{}, Args: List{"Hello, world!"}}},
	{"event/kwargs", &Event{Subscription: 5512315355, Publication: 4429313566, Details: Dict{"topic": "com.a"},
		Args: List{}, Kwargs: Dict{"color": "orange", "nested": map[string]any{"l": []any{map[string]any{"k": "v"}}}}}},
	{"call", &Call{Request: 7814135, Options: Dict{}, Procedure: "com.myapp.ping"}},
	{"call/args", &Call{Request: 7814135, Options: Dict{}, Procedure: "com.myapp.echo", Args: List{"Hello, world!"}}},
	{"call/both", &Call{Request: 7814135, Options: Dict{"receive_progress": true}, Procedure: "com.myapp.user.new",
		Args: List{"johnny"}, Kwargs: Dict{"firstname": "John", "surname": "Doe"}}},
	{"call/unicode uri", &Call{Request: 1, Procedure: "com.bücher.suche"}},
	{"call/reserved", &Call{Request: 1, Procedure: "wamp.session.count"}},
	{"cancel", &Cancel{Request: 7814135, Options: Dict{"mode": "kill"}}},
	{"result", &Result{Request: 7814135, Details: Dict{}}},
	{"result/args", &Result{Request: 7814135, Details: Dict{"progress": true}, Args: List{30}}},
	{"result/kwargs", &Result{Request: 7814135, Details: Dict{}, Args: List{}, Kwargs: Dict{"userid": 123, "karma": 10}}},
	{"register", &Register{Request: 25349185, Options: Dict{}, Procedure: "com.myapp.myprocedure1"}},
	{"register/prefix", &Register{Request: 1, Options: Dict{"match": "prefix"}, Procedure: "com.myapp.myobject1"}},
	{"register/wildcard", &Register{Request: 1, Options: Dict{"match": "wildcard", "invoke": "roundrobin"}, Procedure: "com.myapp..myprocedure1"}},
	{"registered", &Registered{Request: 25349185, Registration: 2103333224}},
	{"unregister", &Unregister{Request: 788923562, Registration: 2103333224}},
	{"unregistered", &Unregistered{Request: 788923562}},
	{"unregistered/revocation", &Unregistered{Request: 0, Details: Dict{"registration": 2103333224, "reason": "moving"}}},
	{"invocation", &Invocation{Request: 6131533, Registration: 9823526, Details: Dict{}}},
	{"invocation/args", &Invocation{Request: 6131533, Registration: 9823526, Details: Dict{}, Args: List{"Hello, world!"}}},
	{"invocation/both", &Invocation{Request: 6131533, Registration: 9823528, Details: Dict{"caller": 1},
		Args: List{23, 7}, Kwargs: Dict{"x": []byte{1, 2}}}},
	{"interrupt", &Interrupt{Request: 6131533, Options: Dict{"mode": "killnowait"}}},
	{"yield", &Yield{Request: 6131533, Options: Dict{}}},
	{"yield/args", &Yield{Request: 6131533, Options: Dict{"progress": true}, Args: List{"Hello, world!"}}},
	{"yield/kwargs", &Yield{Request: 6131533, Options: Dict{}, Args: List{}, Kwargs: Dict{"userid": 123}}},
}

func TestRoundTrip(t *testing.T) {
	seen := map[MessageType]bool{}
	for _, tt := range roundTripMessages {
		t.Run(tt.name, func(t *testing.T) {
			seen[tt.m.Type()] = true
			l, err := ToList(tt.m)
			if err != nil {
				t.Fatalf("ToList(%#v) error: %v", tt.m, err)
			}
			got, err := FromList(l)
			if err != nil {
				t.Fatalf("FromList(%v) error: %v", l, err)
			}
			if diff := cmp.Diff(tt.m, got, equateEmpty); diff != "" {
				t.Errorf("FromList(ToList(m)) mismatch (-want +got):\n%s", diff)
			}
			// The decoded message encodes to the same list again.
			l2, err := ToList(got)
			if err != nil {
				t.Fatalf("ToList(FromList(...)) error: %v", err)
			}
			if diff := cmp.Diff(l, l2); diff != "" {
				t.Errorf("ToList(FromList(l)) mismatch (-want +got):\n%s", diff)
			}
		})
	}
	for code := range layouts {
		if MessageType(code).Known() && !seen[MessageType(code)] {
			t.Errorf("no round-trip test for %v", MessageType(code))
		}
	}
}

func TestToListShape(t *testing.T) {
	tests := []struct {
		name string
		m    Message
		want List
	}{
		{"nil details become {}", &Hello{Realm: "r"}, List{uint64(1), "r", map[string]any{}}},
		{"no payload", &Call{Request: 1, Procedure: "p"}, List{uint64(48), uint64(1), map[string]any{}, "p"}},
		{"empty args left out", &Call{Request: 1, Procedure: "p", Args: List{}}, List{uint64(48), uint64(1), map[string]any{}, "p"}},
		{"empty kwargs left out", &Call{Request: 1, Procedure: "p", Args: List{1}, Kwargs: Dict{}},
			List{uint64(48), uint64(1), map[string]any{}, "p", []any{1}}},
		{"kwargs only gets []", &Call{Request: 1, Procedure: "p", Kwargs: Dict{"a": 1}},
			List{uint64(48), uint64(1), map[string]any{}, "p", []any{}, map[string]any{"a": 1}}},
		{"unsubscribed short", &Unsubscribed{Request: 3}, List{uint64(35), uint64(3)}},
		{"unsubscribed revocation nil details", &Unsubscribed{}, List{uint64(35), uint64(0), map[string]any{}}},
		{"unregistered revocation", &Unregistered{Details: Dict{"registration": 5}},
			List{uint64(67), uint64(0), map[string]any{"registration": 5}}},
		{"error", &Error{RequestType: TypeCall, Request: 2, URI: ErrCanceled},
			List{uint64(8), uint64(48), uint64(2), map[string]any{}, "wamp.error.canceled"}},
		{"yield kwargs", &Yield{Request: 1, Kwargs: Dict{"k": "v"}},
			List{uint64(70), uint64(1), map[string]any{}, []any{}, map[string]any{"k": "v"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ToList(tt.m)
			if err != nil {
				t.Fatalf("ToList(%#v) error: %v", tt.m, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ToList(%#v) mismatch (-want +got):\n%s", tt.m, diff)
			}
		})
	}
}

func TestToListFreshEmptyDict(t *testing.T) {
	l1, _ := ToList(&Hello{Realm: "r"})
	l2, _ := ToList(&Hello{Realm: "r"})
	l1[2].(map[string]any)["x"] = 1
	if len(l2[2].(map[string]any)) != 0 {
		t.Fatal("ToList shares the empty dict it writes for nil Details")
	}
}

// obj is an empty dict, the most common Details/Options.
func obj() map[string]any { return map[string]any{} }

var malformedLists = []struct {
	name  string
	l     List
	typ   MessageType // want MessageError.Type
	field string      // want MessageError.Field
	sub   string      // want in the error text
}{
	{"empty list", List{}, 0, "", "empty list"},
	{"type code string", List{"48", 1, obj(), "a"}, 0, "", "type code is not an integer"},
	{"type code bool", List{true, 1, obj(), "a"}, 0, "", "not an integer"},
	{"type code float", List{48.5, 1, obj(), "a"}, 0, "", "not an integer"},
	{"type code null", List{nil}, 0, "", "not an integer"},
	{"type code negative", List{-48, 1, obj(), "a"}, 0, "", "unknown message type -48"},
	{"unknown type 7 (heartbeat)", List{7, 1, 2}, 0, "", "unknown message type 7"},
	{"unknown type 0", List{0}, 0, "", "unknown message type 0"},
	{"unknown type 71", List{71, 1}, 0, "", "unknown message type 71"},
	{"unknown type 300 (extension)", List{300, 1}, 0, "", "unknown message type 300"},
	{"unknown huge type", List{uint64(math.MaxUint64)}, 0, "", "not an integer"},
	{"hello too short", List{1, "realm1"}, TypeHello, "", "2 elements, want 3"},
	{"hello too long", List{1, "realm1", obj(), obj()}, TypeHello, "", "4 elements, want 3"},
	{"hello realm not string", List{1, 42, obj()}, TypeHello, "Realm", "not a string: integer 42"},
	{"hello realm empty", List{1, "", obj()}, TypeHello, "Realm", `invalid URI "": empty`},
	{"hello details list", List{1, "realm1", []any{}}, TypeHello, "Details", "not a dict: list"},
	{"hello details null", List{1, "realm1", nil}, TypeHello, "Details", "not a dict: null"},
	{"hello nested non-string key", List{1, "realm1", map[string]any{"roles": map[any]any{1: obj()}}}, TypeHello, "Details", "non-string key: integer 1"},
	{"hello top non-string key", List{1, "realm1", map[any]any{"roles": obj(), 2: 3}}, TypeHello, "Details", "non-string key"},
	{"welcome id 0", List{2, 0, obj()}, TypeWelcome, "Session", "ID 0 out of range"},
	{"welcome id 2^53+1", List{2, uint64(MaxID) + 1, obj()}, TypeWelcome, "Session", "ID 9007199254740993 out of range"},
	{"welcome id negative", List{2, -5, obj()}, TypeWelcome, "Session", "ID -5 out of range"},
	{"welcome id non-integral float", List{2, 1.5, obj()}, TypeWelcome, "Session", "not an integer: float 1.5"},
	{"welcome id bool", List{2, true, obj()}, TypeWelcome, "Session", "not an integer: bool true"},
	{"welcome id string", List{2, "1", obj()}, TypeWelcome, "Session", `not an integer: string "1"`},
	{"welcome id NaN", List{2, math.NaN(), obj()}, TypeWelcome, "Session", "not an integer"},
	{"welcome id float 2^53+2", List{2, float64(1<<53 + 2), obj()}, TypeWelcome, "Session", "out of range"},
	{"abort reason bad uri", List{3, obj(), "wamp..close"}, TypeAbort, "Reason", `invalid URI "wamp..close": empty component`},
	{"abort args dict", List{3, obj(), "wamp.close.x", obj()}, TypeAbort, "Args", "not a list: dict"},
	{"abort kwargs list", List{3, obj(), "wamp.close.x", []any{}, []any{}}, TypeAbort, "Kwargs", "not a dict: list"},
	{"challenge authmethod int", List{4, 1, obj()}, TypeChallenge, "AuthMethod", "not a string"},
	{"authenticate extra string", List{5, "sig", "extra"}, TypeAuthenticate, "Extra", "not a dict: string"},
	{"goodbye reason with space", List{6, obj(), "wamp.close.good bye"}, TypeGoodbye, "Reason", "white space"},
	{"goodbye reason with hash", List{6, obj(), "wamp.close.#"}, TypeGoodbye, "Reason", "reserved"},
	{"goodbye with args", List{6, obj(), "wamp.close.x", []any{}}, TypeGoodbye, "", "4 elements, want 3"},
	{"error request type WELCOME", List{8, 2, 1, obj(), "wamp.error.x"}, TypeError, "RequestType", "ERROR cannot answer message type 2"},
	{"error request type CANCEL", List{8, 49, 1, obj(), "wamp.error.x"}, TypeError, "RequestType", "message type 49"},
	{"error request type ERROR", List{8, 8, 1, obj(), "wamp.error.x"}, TypeError, "RequestType", "message type 8"},
	{"error request type string", List{8, "CALL", 1, obj(), "wamp.error.x"}, TypeError, "RequestType", "not an integer"},
	{"error request id 0", List{8, 48, 0, obj(), "wamp.error.x"}, TypeError, "Request", "ID 0"},
	{"error uri empty", List{8, 48, 1, obj(), ""}, TypeError, "URI", "invalid URI"},
	{"error too short", List{8, 48, 1, obj()}, TypeError, "", "4 elements, want 5..7"},
	{"error too long", List{8, 48, 1, obj(), "a.b", []any{}, obj(), 1}, TypeError, "", "8 elements, want 5..7"},
	{"publish options null", List{16, 1, nil, "com.topic"}, TypePublish, "Options", "not a dict: null"},
	{"publish kwargs without args", List{16, 1, obj(), "com.topic", map[string]any{"a": 1}}, TypePublish, "Args", "not a list: dict"},
	{"publish args null", List{16, 1, obj(), "com.topic", nil}, TypePublish, "Args", "not a list: null"},
	{"publish invalid utf8", List{16, 1, obj(), "com.\xff"}, TypePublish, "Topic", "invalid UTF-8"},
	{"published publication 0", List{17, 1, 0}, TypePublished, "Publication", "ID 0"},
	{"subscribe with payload", List{32, 1, obj(), "a.b", []any{}}, TypeSubscribe, "", "5 elements, want 4"},
	{"subscribed subscription float", List{33, 1, 2.25}, TypeSubscribed, "Subscription", "not an integer: float 2.25"},
	{"unsubscribe too short", List{34, 1}, TypeUnsubscribe, "", "2 elements, want 3"},
	{"unsubscribed request 0 short form", List{35, 0}, TypeUnsubscribed, "Request", "ID 0"},
	{"unsubscribed negative", List{35, -1, obj()}, TypeUnsubscribed, "Request", "ID -1 out of range [0, 2^53]"},
	{"unsubscribed details list", List{35, 0, []any{}}, TypeUnsubscribed, "Details", "not a dict"},
	{"event publication string", List{36, 1, "2", obj()}, TypeEvent, "Publication", "not an integer"},
	{"event too short", List{36, 1, 2}, TypeEvent, "", "3 elements, want 4..6"},
	{"event nested non-string key in args", List{36, 1, 2, obj(), []any{[]any{map[any]any{1.5: "x"}}}}, TypeEvent, "Args", "non-string key: float 1.5"},
	{"call request 2^53+1", List{48, uint64(1<<53 + 1), obj(), "a.b"}, TypeCall, "Request", "out of range"},
	{"call request float id", List{48, 1.0000001, obj(), "a.b"}, TypeCall, "Request", "not an integer"},
	{"call kwargs non-string key", List{48, 1, obj(), "a.b", []any{}, map[any]any{true: 1}}, TypeCall, "Kwargs", "non-string key"},
	{"call nested kwargs non-string key", List{48, 1, obj(), "a.b", []any{}, map[string]any{"x": map[any]any{int8(1): 1}}}, TypeCall, "Kwargs", "non-string key"},
	{"call procedure is list", List{48, 1, obj(), []any{"a"}}, TypeCall, "Procedure", "not a string: list"},
	{"cancel options missing", List{49, 1}, TypeCancel, "", "2 elements, want 3"},
	{"result kwargs string", List{50, 1, obj(), []any{}, "kw"}, TypeResult, "Kwargs", "not a dict: string"},
	{"registered registration negative", List{65, 1, int64(-9)}, TypeRegistered, "Registration", "ID -9"},
	{"unregister request bool", List{66, false, 1}, TypeUnregister, "Request", "bool false"},
	{"unregistered too long", List{67, 0, obj(), obj()}, TypeUnregistered, "", "4 elements, want 2..3"},
	{"invocation registration 0", List{68, 1, 0, obj()}, TypeInvocation, "Registration", "ID 0"},
	{"interrupt options int", List{69, 1, 5}, TypeInterrupt, "Options", "not a dict: integer 5"},
	{"yield args string", List{70, 1, obj(), "x"}, TypeYield, "Args", "not a list: string"},
	{"yield uint64 overflow", List{70, uint64(math.MaxUint64), obj()}, TypeYield, "Request", "not an integer: integer 18446744073709551615"},
}

// requestURILists are messages whose only fault is the syntax of the topic
// or procedure of PUBLISH, SUBSCRIBE, CALL or REGISTER (or the match option
// it depends on). FromList accepts them, because that is the router's to
// answer with ERROR wamp.error.invalid_uri, not a malformed message that
// ends the session (spec basic "URIs"); Validate, which checks what is
// sent, refuses them.
var requestURILists = []struct {
	name  string
	l     List
	typ   MessageType
	field string
	sub   string
}{
	{"publish topic with empty component", List{16, 1, obj(), "com..topic"}, TypePublish, "Topic", "empty component"},
	{"publish topic trailing dot", List{16, 1, obj(), "com.topic."}, TypePublish, "Topic", "empty component"},
	{"publish topic leading dot", List{16, 1, obj(), ".com.topic"}, TypePublish, "Topic", "empty component"},
	{"subscribe match not string", List{32, 1, map[string]any{"match": 1}, "a.b"}, TypeSubscribe, "Options.match", "not a string"},
	{"subscribe exact with empty component", List{32, 1, map[string]any{"match": "exact"}, "a..b"}, TypeSubscribe, "Topic", "(match exact)"},
	{"subscribe prefix with empty component", List{32, 1, map[string]any{"match": "prefix"}, "a..b"}, TypeSubscribe, "Topic", "(match prefix)"},
	{"subscribe wildcard with hash", List{32, 1, map[string]any{"match": "wildcard"}, "a.#.b"}, TypeSubscribe, "Topic", "reserved"},
	{"call procedure a..b", List{48, 1, obj(), "a..b"}, TypeCall, "Procedure", `invalid URI "a..b": empty component`},
	{"register wildcard empty", List{64, 1, map[string]any{"match": "wildcard"}, ""}, TypeRegister, "Procedure", "empty"},
	{"register prefix ends with two dots", List{64, 1, map[string]any{"match": "prefix"}, "a.."}, TypeRegister, "Procedure", "empty component"},
}

func TestFromListLeavesRequestURIs(t *testing.T) {
	for _, tt := range requestURILists {
		t.Run(tt.name, func(t *testing.T) {
			m, err := FromList(tt.l)
			if err != nil {
				t.Fatalf("FromList(%v) = %v, want the message", tt.l, err)
			}
			if err := ValidateReceived(m); err != nil {
				t.Errorf("ValidateReceived(%#v) = %v, want nil", m, err)
			}
			err = Validate(m)
			var me *MessageError
			if !errors.As(err, &me) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("Validate(%#v) = %v, want a *MessageError", m, err)
			}
			if me.Type != tt.typ || me.Field != tt.field || !strings.Contains(err.Error(), tt.sub) {
				t.Errorf("Validate(%#v) = %v, want type %v, field %q, text containing %q", m, err, tt.typ, tt.field, tt.sub)
			}
		})
	}
}

func TestFromListMalformed(t *testing.T) {
	if len(malformedLists) < 40 {
		t.Fatalf("only %d malformed cases", len(malformedLists))
	}
	for _, tt := range malformedLists {
		t.Run(tt.name, func(t *testing.T) {
			m, err := FromList(tt.l)
			if err == nil {
				t.Fatalf("FromList(%v) = %#v, want error", tt.l, m)
			}
			if m != nil {
				t.Errorf("FromList(%v) returned message %#v with error", tt.l, m)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("FromList(%v) error %v does not wrap ErrMalformed", tt.l, err)
			}
			var me *MessageError
			if !errors.As(err, &me) {
				t.Fatalf("FromList(%v) error %T, want *MessageError", tt.l, err)
			}
			if me.Type != tt.typ || me.Field != tt.field {
				t.Errorf("FromList(%v) error at (%v, %q), want (%v, %q): %v", tt.l, me.Type, me.Field, tt.typ, tt.field, err)
			}
			if !strings.Contains(err.Error(), tt.sub) {
				t.Errorf("FromList(%v) error %q, want it to contain %q", tt.l, err, tt.sub)
			}
			if !strings.HasPrefix(err.Error(), "protocol: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestMessageErrorText(t *testing.T) {
	err := Validate(&Call{Request: 1, Procedure: "a..b"})
	want := `protocol: CALL: Procedure: invalid URI "a..b": empty component`
	if err == nil || err.Error() != want {
		t.Errorf("Validate(CALL a..b) error = %v, want %s", err, want)
	}
	_, err = FromList(List{})
	if err == nil || err.Error() != "protocol: empty list" {
		t.Errorf("FromList([]) error = %v, want protocol: empty list", err)
	}
}

func TestFromValue(t *testing.T) {
	for _, v := range []any{nil, "hello", 1, map[string]any{}, []string{"a"}, true} {
		_, err := FromValue(v)
		var me *MessageError
		if !errors.As(err, &me) || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "not a list") {
			t.Errorf("FromValue(%#v) error = %v, want a *MessageError \"not a list\"", v, err)
		}
	}
	for _, v := range []any{[]any{17, 1, 2}, List{17, 1, 2}} {
		m, err := FromValue(v)
		if err != nil {
			t.Fatalf("FromValue(%v) error: %v", v, err)
		}
		if diff := cmp.Diff(&Published{Request: 1, Publication: 2}, m); diff != "" {
			t.Errorf("FromValue(%v) mismatch (-want +got):\n%s", v, diff)
		}
	}
}

// TestFromListIntegerKinds checks that every integer kind a decoder may
// produce is accepted where WAMP expects an integer.
func TestFromListIntegerKinds(t *testing.T) {
	kinds := []func(n int) any{
		func(n int) any { return n }, func(n int) any { return int8(n) }, func(n int) any { return int16(n) },
		func(n int) any { return int32(n) }, func(n int) any { return int64(n) }, func(n int) any { return uint(n) },
		func(n int) any { return uint8(n) }, func(n int) any { return uint16(n) }, func(n int) any { return uint32(n) },
		func(n int) any { return uint64(n) }, func(n int) any { return float32(n) }, func(n int) any { return float64(n) },
		func(n int) any { return ID(n) }, func(n int) any { return MessageType(n) },
	}
	for _, kind := range kinds {
		l := List{kind(34), kind(7), kind(9)}
		m, err := FromList(l)
		if err != nil {
			t.Errorf("FromList([%T ...]) error: %v", l[0], err)
			continue
		}
		if diff := cmp.Diff(&Unsubscribe{Request: 7, Subscription: 9}, m); diff != "" {
			t.Errorf("FromList([%T ...]) mismatch (-want +got):\n%s", l[0], diff)
		}
	}
	// JavaScript MessagePack: big IDs arrive as doubles.
	m, err := FromList(List{2, float64(MaxID), obj()})
	if err != nil || m.(*Welcome).Session != MaxID {
		t.Errorf("FromList(WELCOME 2^53 as float64) = %v, %v", m, err)
	}
}

func TestFromListConvertsAnyMaps(t *testing.T) {
	l := List{48, 1, map[any]any{"receive_progress": true, "x": map[any]any{"y": []any{map[any]any{"z": 1}}}},
		"com.a", []any{map[any]any{"k": "v"}}, map[any]any{"kw": map[any]any{"a": 1}}}
	m, err := FromList(l)
	if err != nil {
		t.Fatalf("FromList error: %v", err)
	}
	want := &Call{Request: 1, Options: Dict{"receive_progress": true, "x": map[string]any{"y": []any{map[string]any{"z": 1}}}},
		Procedure: "com.a", Args: List{map[string]any{"k": "v"}}, Kwargs: Dict{"kw": map[string]any{"a": 1}}}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("FromList mismatch (-want +got):\n%s", diff)
	}
}

func TestFromListDeepNesting(t *testing.T) {
	// Deep but acyclic: accepted without recursion.
	var deep any = "leaf"
	for range 5000 {
		deep = []any{deep}
	}
	if _, err := FromList(List{50, 1, obj(), []any{deep}}); err != nil {
		t.Errorf("FromList(deeply nested args) error: %v", err)
	}
	// A cycle built in Go ends at the depth bound instead of looping.
	cyc := []any{nil}
	cyc[0] = cyc
	_, err := FromList(List{50, 1, obj(), cyc})
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "nested deeper") {
		t.Errorf("FromList(cyclic args) error = %v, want nesting error", err)
	}
	m := map[string]any{}
	m["self"] = m
	if _, err := FromList(List{50, 1, m}); !errors.Is(err, ErrMalformed) {
		t.Errorf("FromList(cyclic details) error = %v, want nesting error", err)
	}
}

func TestValidate(t *testing.T) {
	var nilCall *Call
	tests := []struct {
		name  string
		m     Message
		field string
		sub   string
	}{
		{"nil", nil, "", "nil message"},
		{"typed nil", nilCall, "", "nil message"},
		{"foreign type", foreign{}, "", "unsupported message type MessageType(99)"},
		{"welcome 0", &Welcome{}, "Session", "ID 0"},
		{"welcome too big", &Welcome{Session: MaxID + 1}, "Session", "out of range"},
		{"hello realm", &Hello{Realm: "a b"}, "Realm", "white space"},
		{"abort reason", &Abort{}, "Reason", "empty"},
		{"goodbye reason", &Goodbye{Reason: "x..y"}, "Reason", "empty component"},
		{"error type", &Error{RequestType: TypeResult, Request: 1, URI: "a"}, "RequestType", "message type 50"},
		{"error request", &Error{RequestType: TypeCall, URI: "a"}, "Request", "ID 0"},
		{"error uri", &Error{RequestType: TypeCall, Request: 1}, "URI", "empty"},
		{"publish topic", &Publish{Request: 1, Topic: "a.#"}, "Topic", "reserved"},
		{"published", &Published{Request: 1}, "Publication", "ID 0"},
		{"subscribe pattern", &Subscribe{Request: 1, Options: Dict{"match": MatchPrefix}, Topic: ".a"}, "Topic", "match prefix"},
		{"subscribe match type", &Subscribe{Request: 1, Options: Dict{"match": true}, Topic: "a"}, "Options.match", "not a string"},
		{"subscribed", &Subscribed{Subscription: 1}, "Request", "ID 0"},
		{"unsubscribe", &Unsubscribe{Request: 1}, "Subscription", "ID 0"},
		{"unsubscribed", &Unsubscribed{Request: MaxID + 1}, "Request", "out of range"},
		{"event", &Event{Subscription: 1}, "Publication", "ID 0"},
		{"call", &Call{Request: 1, Procedure: ""}, "Procedure", "empty"},
		{"cancel", &Cancel{}, "Request", "ID 0"},
		{"result", &Result{}, "Request", "ID 0"},
		{"register", &Register{Request: 1, Options: Dict{"match": "wildcard"}, Procedure: "a.b c"}, "Procedure", "white space"},
		{"registered", &Registered{Request: 1}, "Registration", "ID 0"},
		{"unregister", &Unregister{Registration: 1}, "Request", "ID 0"},
		{"unregistered", &Unregistered{Request: MaxID + 1}, "Request", "out of range"},
		{"invocation", &Invocation{Request: 1}, "Registration", "ID 0"},
		{"interrupt", &Interrupt{}, "Request", "ID 0"},
		{"yield", &Yield{}, "Request", "ID 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.m)
			var me *MessageError
			if !errors.As(err, &me) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("Validate(%#v) = %v, want a *MessageError", tt.m, err)
			}
			if me.Field != tt.field || !strings.Contains(err.Error(), tt.sub) {
				t.Errorf("Validate(%#v) = %q (field %q), want field %q and %q", tt.m, err, me.Field, tt.field, tt.sub)
			}
			if _, err2 := ToList(tt.m); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("ToList(%#v) error = %v, want %v", tt.m, err2, err)
			}
		})
	}
	for _, tt := range roundTripMessages {
		if err := Validate(tt.m); err != nil {
			t.Errorf("Validate(%s) = %v, want nil", tt.name, err)
		}
	}
}

// foreign is a Message type not defined by this package.
type foreign struct{}

func (foreign) Type() MessageType { return 99 }

func TestMessageTypeString(t *testing.T) {
	tests := []struct {
		t    MessageType
		want string
	}{
		{TypeHello, "HELLO"}, {TypeError, "ERROR"}, {TypeCall, "CALL"}, {TypeYield, "YIELD"},
		{7, "MessageType(7)"}, {0, "MessageType(0)"}, {1000, "MessageType(1000)"},
	}
	for _, tt := range tests {
		if got := tt.t.String(); got != tt.want {
			t.Errorf("MessageType(%d).String() = %q, want %q", tt.t, got, tt.want)
		}
	}
	n := 0
	for code := range 1024 {
		if MessageType(code).Known() {
			n++
		}
	}
	if n != 24 {
		t.Errorf("%d known message types, want 24", n)
	}
}

func TestErrorRequestTypeValid(t *testing.T) {
	valid := map[MessageType]bool{TypeSubscribe: true, TypeUnsubscribe: true, TypePublish: true,
		TypeRegister: true, TypeUnregister: true, TypeCall: true, TypeInvocation: true}
	for code := range 256 {
		ty := MessageType(code)
		if got := errorRequestTypeValid(ty); got != valid[ty] {
			t.Errorf("errorRequestTypeValid(%v) = %v, want %v", ty, got, valid[ty])
		}
	}
}
