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
		if got := errorAllowed(SideRouter, ty); got != wantRouter {
			t.Errorf("errorAllowed(router, %v) = %v, want %v", ty, got, wantRouter)
		}
		if got := errorAllowed(SideClient, ty); got != wantClient {
			t.Errorf("errorAllowed(client, %v) = %v, want %v", ty, got, wantClient)
		}
	}
	if errorAllowed(Side(5), TypeCall) {
		t.Error("errorAllowed(unknown side) = true")
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
