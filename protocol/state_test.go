package protocol

import (
	"testing"
)

type outcome struct {
	next   State
	action Verdict
}

// receiveTable restates basic "Session Lifecycle" and "Protocol Errors"
// as data: per side and state, the outcome for listed message types and
// the outcome for every other type (unknown codes included).
var receiveTable = map[Side]map[State]struct {
	rules map[MessageType]outcome
	other outcome
}{
	SideRouter: {
		StateClosed: {
			rules: map[MessageType]outcome{
				TypeHello: {StateEstablishing, VerdictProcess},
				TypeAbort: {StateClosed, VerdictIgnore},
			},
			other: outcome{StateFailed, VerdictViolation},
		},
		StateEstablishing: {
			rules: map[MessageType]outcome{TypeAbort: {StateClosed, VerdictProcess}},
			other: outcome{StateFailed, VerdictViolation},
		},
		StateChallenging: {
			rules: map[MessageType]outcome{
				TypeAuthenticate: {StateChallenging, VerdictProcess},
				TypeAbort:        {StateClosed, VerdictProcess},
			},
			other: outcome{StateFailed, VerdictViolation},
		},
		StateEstablished: {
			rules: map[MessageType]outcome{
				TypePublish:     {StateEstablished, VerdictProcess},
				TypeSubscribe:   {StateEstablished, VerdictProcess},
				TypeUnsubscribe: {StateEstablished, VerdictProcess},
				TypeCall:        {StateEstablished, VerdictProcess},
				TypeCancel:      {StateEstablished, VerdictProcess},
				TypeRegister:    {StateEstablished, VerdictProcess},
				TypeUnregister:  {StateEstablished, VerdictProcess},
				TypeYield:       {StateEstablished, VerdictProcess},
				TypeError:       {StateEstablished, VerdictProcess},
				TypeGoodbye:     {StateClosing, VerdictProcess},
				TypeAbort:       {StateClosed, VerdictProcess},
			},
			other: outcome{StateFailed, VerdictViolation},
		},
		StateShuttingDown: {
			rules: map[MessageType]outcome{
				TypeGoodbye: {StateClosed, VerdictProcess},
				TypeAbort:   {StateClosed, VerdictProcess},
			},
			other: outcome{StateShuttingDown, VerdictIgnore},
		},
		StateClosing: {
			rules: map[MessageType]outcome{TypeAbort: {StateClosed, VerdictProcess}},
			other: outcome{StateClosing, VerdictIgnore},
		},
		StateFailed: {other: outcome{StateFailed, VerdictIgnore}},
	},
	SideClient: {
		StateClosed: {
			rules: map[MessageType]outcome{TypeAbort: {StateClosed, VerdictIgnore}},
			other: outcome{StateFailed, VerdictViolation},
		},
		StateEstablishing: {
			rules: map[MessageType]outcome{
				TypeWelcome:   {StateEstablished, VerdictProcess},
				TypeChallenge: {StateChallenging, VerdictProcess},
				TypeAbort:     {StateClosed, VerdictProcess},
			},
			other: outcome{StateFailed, VerdictViolation},
		},
		StateChallenging: {
			rules: map[MessageType]outcome{
				TypeWelcome:   {StateEstablished, VerdictProcess},
				TypeChallenge: {StateChallenging, VerdictProcess},
				TypeAbort:     {StateClosed, VerdictProcess},
			},
			other: outcome{StateFailed, VerdictViolation},
		},
		StateEstablished: {
			rules: map[MessageType]outcome{
				TypePublished:    {StateEstablished, VerdictProcess},
				TypeSubscribed:   {StateEstablished, VerdictProcess},
				TypeUnsubscribed: {StateEstablished, VerdictProcess},
				TypeEvent:        {StateEstablished, VerdictProcess},
				TypeResult:       {StateEstablished, VerdictProcess},
				TypeRegistered:   {StateEstablished, VerdictProcess},
				TypeUnregistered: {StateEstablished, VerdictProcess},
				TypeInvocation:   {StateEstablished, VerdictProcess},
				TypeInterrupt:    {StateEstablished, VerdictProcess},
				TypeError:        {StateEstablished, VerdictProcess},
				TypeGoodbye:      {StateClosing, VerdictProcess},
				TypeAbort:        {StateClosed, VerdictProcess},
			},
			other: outcome{StateFailed, VerdictViolation},
		},
		StateShuttingDown: {
			rules: map[MessageType]outcome{
				TypeGoodbye: {StateClosed, VerdictProcess},
				TypeAbort:   {StateClosed, VerdictProcess},
			},
			other: outcome{StateShuttingDown, VerdictIgnore},
		},
		StateClosing: {
			rules: map[MessageType]outcome{TypeAbort: {StateClosed, VerdictProcess}},
			other: outcome{StateClosing, VerdictIgnore},
		},
		StateFailed: {other: outcome{StateFailed, VerdictIgnore}},
	},
}

var allStates = []State{StateClosed, StateEstablishing, StateChallenging, StateEstablished,
	StateShuttingDown, StateClosing, StateFailed}

// testTypes is every known message type plus unknown codes.
func testTypes() []MessageType {
	var ts []MessageType
	for code := range 128 {
		if MessageType(code).Known() {
			ts = append(ts, MessageType(code))
		}
	}
	return append(ts, 0, 7, 71, 127, 128, 300, 0xffff)
}

func TestReceiveTable(t *testing.T) {
	n := 0
	for _, side := range []Side{SideRouter, SideClient} {
		for _, s := range allStates {
			row, ok := receiveTable[side][s]
			if !ok {
				t.Fatalf("test table lacks %v/%v", side, s)
			}
			for _, ty := range testTypes() {
				want, ok := row.rules[ty]
				if !ok {
					want = row.other
				}
				next, action := Receive(side, s, ty)
				if next != want.next || action != want.action {
					t.Errorf("Receive(%v, %v, %v) = %v, %v, want %v, %v", side, s, ty, next, action, want.next, want.action)
				}
				if got, wantOK := Allowed(side, s, ty), want.action != VerdictViolation; got != wantOK {
					t.Errorf("Allowed(%v, %v, %v) = %v, want %v", side, s, ty, got, wantOK)
				}
				n++
			}
		}
	}
	t.Logf("checked %d (side, state, type) combinations", n)
}

func TestSendTable(t *testing.T) {
	type key struct {
		side Side
		s    State
		t    MessageType
	}
	allowed := map[key]State{
		{SideClient, StateClosed, TypeHello}:             StateEstablishing,
		{SideRouter, StateEstablishing, TypeWelcome}:     StateEstablished,
		{SideRouter, StateEstablishing, TypeChallenge}:   StateChallenging,
		{SideRouter, StateChallenging, TypeWelcome}:      StateEstablished,
		{SideRouter, StateChallenging, TypeChallenge}:    StateChallenging,
		{SideClient, StateChallenging, TypeAuthenticate}: StateChallenging,
		{SideClient, StateEstablished, TypeGoodbye}:      StateShuttingDown,
		{SideRouter, StateEstablished, TypeGoodbye}:      StateShuttingDown,
		{SideClient, StateClosing, TypeGoodbye}:          StateClosed,
		{SideRouter, StateClosing, TypeGoodbye}:          StateClosed,
		{SideClient, StateEstablished, TypePublish}:      StateEstablished,
		{SideClient, StateEstablished, TypeSubscribe}:    StateEstablished,
		{SideClient, StateEstablished, TypeUnsubscribe}:  StateEstablished,
		{SideClient, StateEstablished, TypeCall}:         StateEstablished,
		{SideClient, StateEstablished, TypeCancel}:       StateEstablished,
		{SideClient, StateEstablished, TypeRegister}:     StateEstablished,
		{SideClient, StateEstablished, TypeUnregister}:   StateEstablished,
		{SideClient, StateEstablished, TypeYield}:        StateEstablished,
		{SideClient, StateEstablished, TypeError}:        StateEstablished,
		{SideRouter, StateEstablished, TypePublished}:    StateEstablished,
		{SideRouter, StateEstablished, TypeSubscribed}:   StateEstablished,
		{SideRouter, StateEstablished, TypeUnsubscribed}: StateEstablished,
		{SideRouter, StateEstablished, TypeEvent}:        StateEstablished,
		{SideRouter, StateEstablished, TypeResult}:       StateEstablished,
		{SideRouter, StateEstablished, TypeRegistered}:   StateEstablished,
		{SideRouter, StateEstablished, TypeUnregistered}: StateEstablished,
		{SideRouter, StateEstablished, TypeInvocation}:   StateEstablished,
		{SideRouter, StateEstablished, TypeInterrupt}:    StateEstablished,
		{SideRouter, StateEstablished, TypeError}:        StateEstablished,
	}
	for _, side := range []Side{SideRouter, SideClient} {
		for _, s := range allStates {
			for _, ty := range testTypes() {
				want, wantOK := allowed[key{side, s, ty}]
				if ty == TypeAbort && s != StateClosed {
					want, wantOK = StateClosed, true
				}
				if !wantOK {
					want = s
				}
				got, ok := Send(side, s, ty)
				if got != want || ok != wantOK {
					t.Errorf("Send(%v, %v, %v) = %v, %v, want %v, %v", side, s, ty, got, ok, want, wantOK)
				}
			}
		}
	}
}

// TestSessionWalk drives both ends of an authenticated session through
// the state machine, checking that each message one side may send is one
// the other side may receive.
func TestSessionWalk(t *testing.T) {
	client, router := StateClosed, StateClosed
	step := func(from Side, ty MessageType, wantClient, wantRouter State) {
		t.Helper()
		var ok bool
		var action Verdict
		if from == SideClient {
			if client, ok = Send(SideClient, client, ty); !ok {
				t.Fatalf("client may not send %v", ty)
			}
			router, action = Receive(SideRouter, router, ty)
		} else {
			if router, ok = Send(SideRouter, router, ty); !ok {
				t.Fatalf("router may not send %v", ty)
			}
			client, action = Receive(SideClient, client, ty)
		}
		if action != VerdictProcess {
			t.Fatalf("%v sending %v: receiver action %v", from, ty, action)
		}
		if client != wantClient || router != wantRouter {
			t.Fatalf("after %v sent %v: client %v, router %v, want %v, %v", from, ty, client, router, wantClient, wantRouter)
		}
	}
	step(SideClient, TypeHello, StateEstablishing, StateEstablishing)
	step(SideRouter, TypeChallenge, StateChallenging, StateChallenging)
	step(SideClient, TypeAuthenticate, StateChallenging, StateChallenging)
	step(SideRouter, TypeChallenge, StateChallenging, StateChallenging) // second factor
	step(SideClient, TypeAuthenticate, StateChallenging, StateChallenging)
	step(SideRouter, TypeWelcome, StateEstablished, StateEstablished)
	step(SideClient, TypeCall, StateEstablished, StateEstablished)
	step(SideRouter, TypeInvocation, StateEstablished, StateEstablished)
	step(SideClient, TypeYield, StateEstablished, StateEstablished)
	step(SideRouter, TypeResult, StateEstablished, StateEstablished)
	step(SideRouter, TypeGoodbye, StateClosing, StateShuttingDown)
	// The client still gets to nothing but the echo; the router ignores
	// anything else it receives meanwhile.
	if next, a := Receive(SideRouter, router, TypeCall); next != StateShuttingDown || a != VerdictIgnore {
		t.Errorf("router shutting down got CALL: %v, %v, want shutting down, ignore", next, a)
	}
	step(SideClient, TypeGoodbye, StateClosed, StateClosed)

	// A violation: a second HELLO after establishment.
	if next, a := Receive(SideRouter, StateEstablished, TypeHello); next != StateFailed || a != VerdictViolation {
		t.Errorf("second HELLO: %v, %v, want failed, violation", next, a)
	}
	if next, ok := Send(SideRouter, StateFailed, TypeAbort); next != StateClosed || !ok {
		t.Errorf("ABORT after failure: %v, %v, want closed, true", next, ok)
	}
}

func TestStateStrings(t *testing.T) {
	tests := []struct{ got, want string }{
		{StateClosed.String(), "closed"},
		{StateShuttingDown.String(), "shutting down"},
		{StateFailed.String(), "failed"},
		{State(42).String(), "State(42)"},
		{SideRouter.String(), "router"},
		{SideClient.String(), "client"},
		{Side(9).String(), "Side(9)"},
		{VerdictProcess.String(), "process"},
		{VerdictIgnore.String(), "ignore"},
		{VerdictViolation.String(), "violation"},
		{Verdict(7).String(), "Verdict(7)"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("String() = %q, want %q", tt.got, tt.want)
		}
	}
}

func TestErrorAllowed(t *testing.T) {
	for code := range 256 {
		ty := MessageType(code)
		wantRouter := ty == TypeInvocation
		wantClient := ty == TypeSubscribe || ty == TypeUnsubscribe || ty == TypePublish ||
			ty == TypeRegister || ty == TypeUnregister || ty == TypeCall
		if got := ErrorAllowed(SideRouter, ty); got != wantRouter {
			t.Errorf("ErrorAllowed(router, %v) = %v, want %v", ty, got, wantRouter)
		}
		if got := ErrorAllowed(SideClient, ty); got != wantClient {
			t.Errorf("ErrorAllowed(client, %v) = %v, want %v", ty, got, wantClient)
		}
	}
	if ErrorAllowed(Side(5), TypeCall) {
		t.Error("ErrorAllowed(unknown side) = true")
	}
}

func TestReceiveMessage(t *testing.T) {
	var nilErr *Error
	tests := []struct {
		side   Side
		s      State
		m      Message
		next   State
		action Verdict
	}{
		{SideRouter, StateEstablished, &Error{RequestType: TypeInvocation, Request: 1, URI: "a"}, StateEstablished, VerdictProcess},
		{SideRouter, StateEstablished, &Error{RequestType: TypeCall, Request: 1, URI: "a"}, StateFailed, VerdictViolation},
		{SideClient, StateEstablished, &Error{RequestType: TypeCall, Request: 1, URI: "a"}, StateEstablished, VerdictProcess},
		{SideClient, StateEstablished, &Error{RequestType: TypeInvocation, Request: 1, URI: "a"}, StateFailed, VerdictViolation},
		{SideClient, StateEstablished, nilErr, StateFailed, VerdictViolation},
		{SideClient, StateShuttingDown, &Error{RequestType: TypeInvocation}, StateShuttingDown, VerdictIgnore},
		{SideRouter, StateEstablished, &Call{Request: 1, Procedure: "a"}, StateEstablished, VerdictProcess},
		{SideRouter, StateEstablished, &Hello{}, StateFailed, VerdictViolation},
		{SideRouter, StateEstablished, nil, StateFailed, VerdictViolation},
	}
	for _, tt := range tests {
		next, action := ReceiveMessage(tt.side, tt.s, tt.m)
		if next != tt.next || action != tt.action {
			t.Errorf("ReceiveMessage(%v, %v, %#v) = %v, %v, want %v, %v", tt.side, tt.s, tt.m, next, action, tt.next, tt.action)
		}
	}
}
