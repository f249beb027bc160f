package router

import (
	"github.com/wampkit/wampkit/protocol"
)

// Progressive call invocations (spec advanced "Progressive Call
// Invocations"): a caller streams a call's arguments in chunks, each a
// CALL with the first one's request ID, progress=true on all but the
// last. The call stays in both tables while the caller streams: each
// further CALL is handled on the caller's goroutine too and queued to the
// same callee as another INVOCATION with the first one's request ID and
// Details, so the chunks reach the callee in the order the caller sent
// them.
//
// A caller's session remembers the request IDs of its last progressive
// calls that ended (rpcState.ended, the spec's "grace period table", kept
// by count rather than by time), so that the chunks it sent before it
// learned of the end are discarded instead of starting calls of their own.

// callStream is what the first CALL of a progressive call invocation fixes
// for the whole call (spec advanced "Freezing of Options in Progressive
// Call Invocations"). It is read-only.
type callStream struct {
	procedure    protocol.URI
	registration protocol.ID
	chunkDetails protocol.Dict // INVOCATION.Details of a chunk with progress=true
	finalDetails protocol.Dict // INVOCATION.Details of the final chunk (may be nil)
}

// startStream makes inv a progressive call invocation of procedure through
// registration, whose INVOCATIONs carry details (and progress); it
// returns the Details of the first INVOCATION.
func (inv *invocation) startStream(procedure protocol.URI, registration protocol.ID, details protocol.Dict) protocol.Dict {
	// Every chunk gets the Details of the first CALL (spec advanced
	// "Freezing of Options in Progressive Call Invocations").
	pd := make(protocol.Dict, len(details)+1)
	for k, v := range details {
		pd[k] = v
	}
	pd["progress"] = true
	inv.streaming = true
	inv.stream = &callStream{procedure: procedure, registration: registration, chunkDetails: pd, finalDetails: details}
	return pd
}

// continueCall handles, on the caller's goroutine, a CALL of a session
// that uses progressive call invocations (spec advanced "Progressive Call
// Invocations", "Verification of CALL Request IDs"). A CALL whose request
// ID is that of a progressive call still streaming is its next chunk; one
// whose request ID is that of a progressive call that ended is a late
// chunk and discarded without reply. stream is the CALL's progress option;
// candidate reports that Config.StrictRequestIDs found the request ID not
// to be a new one, so the CALL must continue a progressive call.
//
// It reports whether m was handled (else it starts a new call), and the
// protocol violation, if any.
func (d *dealer) continueCall(s *session, m *protocol.Call, stream, candidate bool) (bool, error) {
	if stream && !s.feat.callerStreams {
		return true, violationf("CALL with progress=true, but the caller did not announce progressive_call_invocations")
	}
	s.mu.Lock()
	inv := s.rpc.calls[m.Request]
	ended := inv == nil && s.rpc.ended.Contains(m.Request)
	s.mu.Unlock()
	switch {
	case inv != nil && !inv.streaming:
		// A call that is not, or no longer, streaming: the caller sent
		// its final chunk, or never a progressive one.
		return true, violationf("CALL reuses the request ID of a pending call")
	case inv != nil && inv.stream.procedure != m.Procedure:
		// Not a continuation of this call (the spec's pseudocode matches
		// request ID and procedure): discarded, or in strict mode a
		// violation.
		if d.r.cfg.StrictRequestIDs {
			return true, violationf("CALL %d continues a progressive call of %s with procedure %s",
				m.Request, inv.stream.procedure, m.Procedure)
		}
		d.r.log.Debug("router: discarding a CALL that changes the procedure of a progressive call",
			"session", uint64(s.id), "request", uint64(m.Request), "procedure", string(m.Procedure))
		return true, nil
	case inv != nil:
		d.chunk(s, inv, m, stream)
		return true, nil
	case ended:
		// A late chunk of a progressive call that ended (answered,
		// canceled, timed out, refused): the caller learns so from that
		// answer (spec "Continuations on Completed Calls").
		return true, nil
	case candidate:
		return true, violationf("CALL request ID %d is neither new nor that of a progressive call", m.Request)
	}
	if stream {
		s.in.streams = true
	}
	return false, nil
}

// continuation handles a CALL whose request ID Config.StrictRequestIDs
// found not to be new: only the chunk of a progressive call may do that.
func (d *dealer) continuation(s *session, m *protocol.Call) error {
	stream := len(m.Options) > 0 && m.Options.Bool("progress")
	_, err := d.continueCall(s, m, stream, true)
	return err
}

// chunk forwards a further chunk of the progressive call inv to its callee
// as INVOCATION with the first one's request ID and Details; progress is
// the chunk's progress option (false for the final chunk).
func (d *dealer) chunk(s *session, inv *invocation, m *protocol.Call, progress bool) {
	s.mu.Lock()
	if s.rpc.calls[inv.callID] != inv || !inv.streaming {
		s.mu.Unlock()
		return
	}
	if !progress {
		inv.streaming = false
	}
	if inv.interrupted {
		// Canceled with mode kill: the callee was told to stop.
		s.mu.Unlock()
		return
	}
	if inv.timer != nil {
		// Like a progressive result, a chunk restarts the timeout: it
		// bounds the silence of the call, not its length.
		inv.timer.Reset(inv.timeout)
	}
	s.mu.Unlock()
	details := inv.stream.chunkDetails
	if !progress {
		details = inv.stream.finalDetails
	}
	callee := inv.callee
	callee.mu.Lock()
	if callee.rpc.invocations[inv.id] != inv {
		// Answered, interrupted or gone: the caller hears so from that.
		callee.mu.Unlock()
		return
	}
	// Chunks may fill only three quarters of the callee's backlog, so
	// that the INTERRUPT below, and the callee's other messages, find
	// room.
	limit := d.r.cfg.MaxBacklog
	err := callee.put(&protocol.Invocation{
		Request:      inv.id,
		Registration: inv.stream.registration,
		Details:      details,
		Args:         m.Args,
		Kwargs:       m.Kwargs,
	}, limit-limit/4)
	full := err == errBacklogFull
	if err == nil {
		d.r.countOut(s, protocol.TypeInvocation, 1)
	}
	if full {
		// The callee cannot take the chunk now; a stream with a hole in
		// it is useless, so the call ends on both sides.
		delete(callee.rpc.invocations, inv.id)
		callee.send(&protocol.Interrupt{Request: inv.id, Options: protocol.Dict{"mode": cancelKillNoWait}})
		d.r.countOut(s, protocol.TypeInterrupt, 1)
	}
	callee.mu.Unlock()
	if full {
		d.answer(s, inv, callError(inv.callID, protocol.ErrNoAvailableCallee, "the callee's outbound queue is full"), true)
	}
}
