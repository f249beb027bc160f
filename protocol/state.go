package protocol

import "strconv"

// State is the state of a WAMP session as one peer sees it (spec basic
// "Session Lifecycle", state chart and transition table).
type State uint8

// Session states. The zero value is StateClosed.
const (
	// StateClosed: no session. A client leaves it by sending HELLO, a
	// router by receiving HELLO.
	StateClosed State = iota
	// StateEstablishing: HELLO sent (client) or received (router); waiting
	// for WELCOME, CHALLENGE or ABORT.
	StateEstablishing
	// StateChallenging: CHALLENGE sent (router) or received (client);
	// authentication in progress ("CHALLENGING / AUTHENTICATING").
	StateChallenging
	// StateEstablished: WELCOME sent or received; the session is open.
	StateEstablished
	// StateShuttingDown: this peer sent GOODBYE and waits for the echo;
	// everything but GOODBYE and ABORT is ignored.
	StateShuttingDown
	// StateClosing: the other peer sent GOODBYE; this peer must answer with
	// GOODBYE, then the session is closed.
	StateClosing
	// StateFailed: a protocol violation was detected; the peer sends ABORT
	// (wamp.error.protocol_violation) and drops everything that follows.
	StateFailed
)

var stateNames = [...]string{
	StateClosed:       "closed",
	StateEstablishing: "establishing",
	StateChallenging:  "challenging",
	StateEstablished:  "established",
	StateShuttingDown: "shutting down",
	StateClosing:      "closing",
	StateFailed:       "failed",
}

// String returns the state's name in lower case ("shutting down").
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// Side says which end of a session a state machine belongs to.
type Side uint8

// The two sides of a session.
const (
	SideRouter Side = iota
	SideClient
)

// String returns "router" or "client".
func (s Side) String() string {
	switch s {
	case SideRouter:
		return "router"
	case SideClient:
		return "client"
	}
	return "Side(" + strconv.Itoa(int(s)) + ")"
}

// Verdict tells the receiver of a message what to do with it; see [Receive].
type Verdict uint8

// Verdicts returned by [Receive].
const (
	// VerdictProcess: handle the message.
	VerdictProcess Verdict = iota
	// VerdictIgnore: drop the message silently (anything but GOODBYE/ABORT
	// while shutting down or closing, anything after a failure).
	VerdictIgnore
	// VerdictViolation: protocol violation. Send ABORT with reason
	// [ErrProtocolViolation], drop the session's subscriptions and
	// registrations, process no further input and close the transport
	// (spec basic "Protocol Errors").
	VerdictViolation
)

// String returns "process", "ignore" or "violation".
func (v Verdict) String() string {
	switch v {
	case VerdictProcess:
		return "process"
	case VerdictIgnore:
		return "ignore"
	case VerdictViolation:
		return "violation"
	}
	return "Verdict(" + strconv.Itoa(int(v)) + ")"
}

// Bit sets of message types, indexed by type code (all codes are < 128).
type typeSet [2]uint64

func setOf(ts ...MessageType) typeSet {
	var s typeSet
	for _, t := range ts {
		s[t/64] |= 1 << (t % 64)
	}
	return s
}

func (s *typeSet) has(t MessageType) bool {
	return t < 128 && s[t/64]&(1<<(t%64)) != 0
}

var (
	// Messages a client sends (and a router receives) in an established
	// session, besides GOODBYE and ABORT (spec basic and advanced
	// messages.md, "Message Codes and Direction"). ERROR: callee -> router
	// for INVOCATION.
	clientSends = setOf(TypePublish, TypeSubscribe, TypeUnsubscribe, TypeCall, TypeCancel,
		TypeRegister, TypeUnregister, TypeYield, TypeError)
	// Messages a router sends (and a client receives) in an established
	// session, besides GOODBYE and ABORT.
	routerSends = setOf(TypePublished, TypeSubscribed, TypeUnsubscribed, TypeEvent,
		TypeResult, TypeRegistered, TypeUnregistered, TypeInvocation, TypeInterrupt, TypeError)
)

// Receive is the receiving half of the session state machine: side, in
// state s, receives a message of type t. It returns the state after the
// message and what to do with it.
//
// The table (spec basic "Session Lifecycle" transitions 1-14 and
// "Protocol Errors"):
//
//	state         side    message                            next          verdict
//	any but Closed/Failed  ABORT                             Closed        process
//	Closed        router  HELLO                              Establishing  process
//	Closed        router  ABORT                              Closed        ignore
//	Closed        router  other                              Failed        violation
//	Closed        client  ABORT                              Closed        ignore
//	Closed        client  other                              Failed        violation
//	Establishing  router  other                              Failed        violation
//	Establishing  client  WELCOME                            Established   process
//	Establishing  client  CHALLENGE                          Challenging   process
//	Establishing  client  other                              Failed        violation
//	Challenging   router  AUTHENTICATE                       Challenging   process
//	Challenging   client  WELCOME                            Established   process
//	Challenging   client  CHALLENGE (another round)          Challenging   process
//	Challenging   any     other                              Failed        violation
//	Established   any     GOODBYE                            Closing       process
//	Established   router  PUBLISH SUBSCRIBE UNSUBSCRIBE CALL CANCEL
//	                      REGISTER UNREGISTER YIELD ERROR    Established   process
//	Established   client  PUBLISHED SUBSCRIBED UNSUBSCRIBED EVENT RESULT
//	                      REGISTERED UNREGISTERED INVOCATION
//	                      INTERRUPT ERROR                    Established   process
//	Established   any     other (HELLO, WELCOME, ...)        Failed        violation
//	ShuttingDown  any     GOODBYE                            Closed        process
//	ShuttingDown  any     other                              ShuttingDown  ignore
//	Closing       any     other                              Closing       ignore
//	Failed        any     any                                Failed        ignore
//
// Receive checks message types only; which REQUEST.Type an ERROR may
// carry is checked by [FromList] (type level) and by the session (which
// side may answer which request).
func Receive(side Side, s State, t MessageType) (State, Verdict) {
	if t == TypeAbort {
		switch s {
		case StateClosed, StateFailed:
			return s, VerdictIgnore
		}
		return StateClosed, VerdictProcess
	}
	switch s {
	case StateClosed:
		if side == SideRouter && t == TypeHello {
			return StateEstablishing, VerdictProcess
		}
	case StateEstablishing:
		if side == SideClient {
			switch t {
			case TypeWelcome:
				return StateEstablished, VerdictProcess
			case TypeChallenge:
				return StateChallenging, VerdictProcess
			}
		}
	case StateChallenging:
		switch {
		case side == SideRouter && t == TypeAuthenticate:
			return StateChallenging, VerdictProcess
		case side == SideClient && t == TypeWelcome:
			return StateEstablished, VerdictProcess
		case side == SideClient && t == TypeChallenge:
			return StateChallenging, VerdictProcess
		}
	case StateEstablished:
		switch {
		case t == TypeGoodbye:
			return StateClosing, VerdictProcess
		case side == SideRouter && clientSends.has(t):
			return StateEstablished, VerdictProcess
		case side == SideClient && routerSends.has(t):
			return StateEstablished, VerdictProcess
		}
	case StateShuttingDown:
		if t == TypeGoodbye {
			return StateClosed, VerdictProcess
		}
		return s, VerdictIgnore
	case StateClosing, StateFailed:
		return s, VerdictIgnore
	}
	return StateFailed, VerdictViolation
}

// Allowed reports whether side may receive a message of type t in state s
// without a protocol violation, that is whether [Receive] does not return
// [VerdictViolation]. Messages that Receive says to ignore (anything but
// GOODBYE while shutting down, for instance) are allowed; use Receive to
// tell them apart.
func Allowed(side Side, s State, t MessageType) bool {
	_, a := Receive(side, s, t)
	return a != VerdictViolation
}

// errorAllowed reports whether side may receive an ERROR answering a
// request of type requestType (see ReceiveMessage).
func errorAllowed(side Side, requestType MessageType) bool {
	switch side {
	case SideRouter:
		return requestType == TypeInvocation
	case SideClient:
		return requestType != TypeInvocation && errorRequestTypeValid(requestType)
	}
	return false
}

// ReceiveMessage is [Receive] for a whole message: in addition it treats
// an ERROR whose RequestType side may not receive as a violation where
// Receive would process it. A router only gets ERROR for INVOCATION (from
// the callee); a client gets ERROR for SUBSCRIBE, UNSUBSCRIBE, PUBLISH,
// REGISTER, UNREGISTER and CALL (spec basic messages.md, "Message Codes
// and Direction").
func ReceiveMessage(side Side, s State, m Message) (State, Verdict) {
	if m == nil {
		return StateFailed, VerdictViolation
	}
	next, a := Receive(side, s, m.Type())
	if a == VerdictProcess {
		if e, ok := m.(*Error); ok && (e == nil || !errorAllowed(side, e.RequestType)) {
			return StateFailed, VerdictViolation
		}
	}
	return next, a
}
