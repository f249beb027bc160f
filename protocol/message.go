package protocol

// MessageType is the integer code that opens every WAMP message
// (WAMP spec, basic/messages.md, "Message Codes and Direction").
type MessageType uint16

// Message type codes of the Basic and Advanced Profile.
const (
	TypeHello        MessageType = 1
	TypeWelcome      MessageType = 2
	TypeAbort        MessageType = 3
	TypeChallenge    MessageType = 4
	TypeAuthenticate MessageType = 5
	TypeGoodbye      MessageType = 6
	TypeError        MessageType = 8
	TypePublish      MessageType = 16
	TypePublished    MessageType = 17
	TypeSubscribe    MessageType = 32
	TypeSubscribed   MessageType = 33
	TypeUnsubscribe  MessageType = 34
	TypeUnsubscribed MessageType = 35
	TypeEvent        MessageType = 36
	TypeCall         MessageType = 48
	TypeCancel       MessageType = 49
	TypeResult       MessageType = 50
	TypeRegister     MessageType = 64
	TypeRegistered   MessageType = 65
	TypeUnregister   MessageType = 66
	TypeUnregistered MessageType = 67
	TypeInvocation   MessageType = 68
	TypeInterrupt    MessageType = 69
	TypeYield        MessageType = 70
)

// ID is a WAMP identifier: an integer in [1, 2^53] (spec, basic "IDs").
type ID uint64

// MaxID is the largest valid ID, 2^53.
const MaxID ID = 1 << 53

// URI is a WAMP URI: a topic, procedure, error or close reason.
type URI string

// Dict is a WAMP dictionary: string keys, values of any serializable type.
// Details and Options of every message, and the keyword payload, are Dicts.
// Nested dictionaries inside a decoded message are plain map[string]any.
type Dict map[string]any

// List is a WAMP list, used for positional payload. Nested lists inside a
// decoded message are plain []any.
type List []any

// Message is one WAMP message. Every message type of the protocol is a
// pointer to one of the structs in this package (*Hello, *Call, ...).
//
// A message handed to a transport must not be changed afterwards: receivers
// (and the in-process link, which does not copy) treat it as read-only.
type Message interface {
	// Type returns the message's type code.
	Type() MessageType
}

// Hello opens a session: [HELLO, Realm|uri, Details|dict].
// See the spec, basic "Session Establishment".
type Hello struct {
	Realm   URI
	Details Dict
}

// Welcome confirms a session: [WELCOME, Session|id, Details|dict].
// See the spec, basic "Session Establishment".
type Welcome struct {
	Session ID
	Details Dict
}

// Abort refuses or ends a session without reply:
// [ABORT, Details|dict, Reason|uri, Arguments|list, ArgumentsKw|dict].
// See the spec, basic "Session Establishment", "Protocol Errors".
type Abort struct {
	Details Dict
	Reason  URI
	Args    List
	Kwargs  Dict
}

// Challenge asks the client to authenticate: [CHALLENGE, AuthMethod|string, Extra|dict].
// See the spec, advanced "Authentication".
type Challenge struct {
	AuthMethod string
	Extra      Dict
}

// Authenticate answers a Challenge: [AUTHENTICATE, Signature|string, Extra|dict].
// See the spec, advanced "Authentication".
type Authenticate struct {
	Signature string
	Extra     Dict
}

// Goodbye closes a session and is echoed by the peer: [GOODBYE, Details|dict, Reason|uri].
// See the spec, basic "Session Closing".
type Goodbye struct {
	Details Dict
	Reason  URI
}

// Error reports that a request failed:
// [ERROR, REQUEST.Type|int, REQUEST.Request|id, Details|dict, Error|uri, Arguments|list, ArgumentsKw|dict].
//
// See the spec, basic messages.md "ERROR". It may answer SUBSCRIBE,
// UNSUBSCRIBE, PUBLISH, REGISTER, UNREGISTER, CALL and INVOCATION; ERROR
// with another REQUEST.Type is a protocol violation. The spec never
// answers CANCEL with ERROR (a canceled call gets ERROR for the CALL), so
// CANCEL is not accepted.
//
// *Error also implements the error interface, so the client returns the
// router's ERROR message itself to callers, who match it with errors.As.
type Error struct {
	RequestType MessageType
	Request     ID
	Details     Dict
	URI         URI
	Args        List
	Kwargs      Dict
}

// Publish publishes an event: [PUBLISH, Request|id, Options|dict, Topic|uri, Arguments|list, ArgumentsKw|dict].
// See the spec, basic "Publishing and Events".
type Publish struct {
	Request ID
	Options Dict
	Topic   URI
	Args    List
	Kwargs  Dict
}

// Published acknowledges a Publish: [PUBLISHED, PUBLISH.Request|id, Publication|id].
// See the spec, basic "Publishing and Events".
type Published struct {
	Request     ID
	Publication ID
}

// Subscribe subscribes to a topic: [SUBSCRIBE, Request|id, Options|dict, Topic|uri].
// See the spec, basic "Subscribing and Unsubscribing".
type Subscribe struct {
	Request ID
	Options Dict
	Topic   URI
}

// Subscribed acknowledges a Subscribe: [SUBSCRIBED, SUBSCRIBE.Request|id, Subscription|id].
// See the spec, basic "Subscribing and Unsubscribing".
type Subscribed struct {
	Request      ID
	Subscription ID
}

// Unsubscribe ends a subscription: [UNSUBSCRIBE, Request|id, SUBSCRIBED.Subscription|id].
// See the spec, basic "Subscribing and Unsubscribing".
type Unsubscribe struct {
	Request      ID
	Subscription ID
}

// Unsubscribed acknowledges an Unsubscribe: [UNSUBSCRIBED, UNSUBSCRIBE.Request|id].
// In the revocation form (Advanced Profile, subscription revocation) Request
// is 0 and Details is present: [UNSUBSCRIBED, 0, Details|dict].
type Unsubscribed struct {
	Request ID
	Details Dict
}

// Event delivers a publication to a subscriber:
// [EVENT, Subscription|id, Publication|id, Details|dict, Arguments|list, ArgumentsKw|dict].
// See the spec, basic "Publishing and Events".
type Event struct {
	Subscription ID
	Publication  ID
	Details      Dict
	Args         List
	Kwargs       Dict
}

// Call calls a procedure: [CALL, Request|id, Options|dict, Procedure|uri, Arguments|list, ArgumentsKw|dict].
// See the spec, basic "Calling and Invocations".
type Call struct {
	Request   ID
	Options   Dict
	Procedure URI
	Args      List
	Kwargs    Dict
}

// Cancel cancels a pending call: [CANCEL, CALL.Request|id, Options|dict].
// See the spec, advanced "Call Canceling".
type Cancel struct {
	Request ID
	Options Dict
}

// Result returns a call's result: [RESULT, CALL.Request|id, Details|dict, Arguments|list, ArgumentsKw|dict].
// See the spec, basic "Calling and Invocations".
type Result struct {
	Request ID
	Details Dict
	Args    List
	Kwargs  Dict
}

// Register registers a procedure: [REGISTER, Request|id, Options|dict, Procedure|uri].
// See the spec, basic "Registering and Unregistering".
type Register struct {
	Request   ID
	Options   Dict
	Procedure URI
}

// Registered acknowledges a Register: [REGISTERED, REGISTER.Request|id, Registration|id].
// See the spec, basic "Registering and Unregistering".
type Registered struct {
	Request      ID
	Registration ID
}

// Unregister ends a registration: [UNREGISTER, Request|id, REGISTERED.Registration|id].
// See the spec, basic "Registering and Unregistering".
type Unregister struct {
	Request      ID
	Registration ID
}

// Unregistered acknowledges an Unregister: [UNREGISTERED, UNREGISTER.Request|id].
// In the revocation form Request is 0 and Details is present.
type Unregistered struct {
	Request ID
	Details Dict
}

// Invocation asks a callee to run a procedure:
// [INVOCATION, Request|id, REGISTERED.Registration|id, Details|dict, CALL.Arguments|list, CALL.ArgumentsKw|dict].
// See the spec, basic "Calling and Invocations".
type Invocation struct {
	Request      ID
	Registration ID
	Details      Dict
	Args         List
	Kwargs       Dict
}

// Interrupt asks a callee to stop an invocation: [INTERRUPT, INVOCATION.Request|id, Options|dict].
// See the spec, advanced "Call Canceling".
type Interrupt struct {
	Request ID
	Options Dict
}

// Yield returns an invocation's result: [YIELD, INVOCATION.Request|id, Options|dict, Arguments|list, ArgumentsKw|dict].
// See the spec, basic "Calling and Invocations".
type Yield struct {
	Request ID
	Options Dict
	Args    List
	Kwargs  Dict
}

// Type returns [TypeHello].
func (*Hello) Type() MessageType { return TypeHello }

// Type returns [TypeWelcome].
func (*Welcome) Type() MessageType { return TypeWelcome }

// Type returns [TypeAbort].
func (*Abort) Type() MessageType { return TypeAbort }

// Type returns [TypeChallenge].
func (*Challenge) Type() MessageType { return TypeChallenge }

// Type returns [TypeAuthenticate].
func (*Authenticate) Type() MessageType { return TypeAuthenticate }

// Type returns [TypeGoodbye].
func (*Goodbye) Type() MessageType { return TypeGoodbye }

// Type returns [TypeError].
func (*Error) Type() MessageType { return TypeError }

// Type returns [TypePublish].
func (*Publish) Type() MessageType { return TypePublish }

// Type returns [TypePublished].
func (*Published) Type() MessageType { return TypePublished }

// Type returns [TypeSubscribe].
func (*Subscribe) Type() MessageType { return TypeSubscribe }

// Type returns [TypeSubscribed].
func (*Subscribed) Type() MessageType { return TypeSubscribed }

// Type returns [TypeUnsubscribe].
func (*Unsubscribe) Type() MessageType { return TypeUnsubscribe }

// Type returns [TypeUnsubscribed].
func (*Unsubscribed) Type() MessageType { return TypeUnsubscribed }

// Type returns [TypeEvent].
func (*Event) Type() MessageType { return TypeEvent }

// Type returns [TypeCall].
func (*Call) Type() MessageType { return TypeCall }

// Type returns [TypeCancel].
func (*Cancel) Type() MessageType { return TypeCancel }

// Type returns [TypeResult].
func (*Result) Type() MessageType { return TypeResult }

// Type returns [TypeRegister].
func (*Register) Type() MessageType { return TypeRegister }

// Type returns [TypeRegistered].
func (*Registered) Type() MessageType { return TypeRegistered }

// Type returns [TypeUnregister].
func (*Unregister) Type() MessageType { return TypeUnregister }

// Type returns [TypeUnregistered].
func (*Unregistered) Type() MessageType { return TypeUnregistered }

// Type returns [TypeInvocation].
func (*Invocation) Type() MessageType { return TypeInvocation }

// Type returns [TypeInterrupt].
func (*Interrupt) Type() MessageType { return TypeInterrupt }

// Type returns [TypeYield].
func (*Yield) Type() MessageType { return TypeYield }

// Error implements the error interface: "wamp error <URI>: <first arg>".
func (e *Error) Error() string {
	if len(e.Args) > 0 {
		if s, ok := e.Args[0].(string); ok {
			return "wamp error " + string(e.URI) + ": " + s
		}
	}
	return "wamp error " + string(e.URI)
}
