package router

import (
	"errors"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/transport"
)

// Undeliverable messages. A transport refuses for good a message its
// client's serializer cannot carry (a NaN or an infinity, or a string
// starting with NUL, for a JSON client) or one larger than the client
// accepts (RawSocket). An EVENT is then lost for that subscriber alone,
// and logged. A call must still end with exactly one answer (spec basic
// "Remote Procedure Calls"), so for an INVOCATION, RESULT or ERROR of a
// call undelivered answers the caller instead: ERROR
// wamp.error.invalid_argument (the router's payload validation, spec
// basic "Interaction"), or wamp.error.payload_size_exceeded for a message
// too large, naming what could not be sent; the callee of a call that
// ends so is told with INTERRUPT if it supports canceling.

// undeliveredURI returns the error URI that tells a caller why a message
// of its call could not be delivered.
func undeliveredURI(err error) protocol.URI {
	if errors.Is(err, transport.ErrMessageTooBig) {
		return protocol.ErrPayloadSizeExceeded
	}
	return protocol.ErrInvalidArgument
}

// undelivered handles a message m that s's transport refused for good
// with err (see above). It runs on a goroutine holding no lock.
func (s *session) undelivered(m protocol.Message, err error) {
	if s.realm == nil {
		return // the handshake, which sends nothing a call waits for
	}
	d := &s.realm.dealer
	uri := undeliveredURI(err)
	switch m := m.(type) {
	case *protocol.Invocation:
		// s is the callee: the call (or, for a chunk of a progressive
		// call invocation, the rest of it) cannot reach it.
		s.mu.Lock()
		inv := s.rpc.invocations[m.Request]
		if inv != nil {
			delete(s.rpc.invocations, m.Request)
		}
		s.mu.Unlock()
		if inv == nil {
			return
		}
		if m != &inv.msg && s.feat.calleeCancel {
			// A later chunk: the callee has the first ones.
			s.send(&protocol.Interrupt{Request: inv.id, Options: protocol.Dict{"mode": cancelKillNoWait}})
		}
		d.answer(nil, inv, callError(inv.callID, uri, "the call could not be sent to the callee: "+err.Error()), true)
	case *protocol.Result:
		// s is the caller. A final RESULT ended the call already; a
		// progressive one ends it now.
		if m.Details.Bool("progress") {
			s.mu.Lock()
			inv := s.rpc.calls[m.Request]
			if inv != nil {
				s.endCallLocked(inv)
				if inv.timer != nil {
					inv.timer.Stop()
				}
			}
			s.mu.Unlock()
			if inv == nil {
				return
			}
			d.interrupt(nil, inv, cancelKillNoWait, true)
		}
		s.send(callError(m.Request, uri, "the result could not be sent to the caller: "+err.Error()))
	case *protocol.Error:
		if m.RequestType != protocol.TypeCall || len(m.Args) == 0 && len(m.Kwargs) == 0 && len(m.Details) == 0 {
			return // nothing the router made could fail but a payload
		}
		// The callee's error, without the payload that could not be sent.
		s.send(callError(m.Request, m.URI, "the error's payload could not be sent to the caller: "+err.Error()))
	}
}
