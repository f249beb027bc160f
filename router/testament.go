package router

import (
	"fmt"

	"github.com/wampkit/wampkit/protocol"
)

// Session testaments (spec advanced "Session Testament"): events a session
// leaves with the router, which the router publishes on the session's
// behalf once the session is gone.
//
// The router has no session resumption, so every end of a session both
// detaches and destroys it: a GOODBYE from either side, a lost or closed
// transport, wamp.session.kill and a protocol violation alike. The spec
// still asks for two buckets (so that flush_testaments works per scope)
// and for the detached ones to go out before the destroyed ones. Only
// wamp.session.kill_all publishes none (spec advanced "Session Meta API").
//
// The testaments are owned by the session's goroutine: the meta
// procedures run on it (answered inline, see meta.go), and so does the
// end of the session, so no lock guards them.

// Testament scopes, the values of the scope keyword argument.
const (
	scopeDetached  = "detached"
	scopeDestroyed = "destroyed"
)

// testamentCall answers wamp.session.add_testament and
// wamp.session.flush_testaments; it reports false for any other
// procedure.
func (rm *realm) testamentCall(s *session, m *protocol.Call) bool {
	r := newMetaReply(s, m)
	switch m.Procedure {
	case "wamp.session.add_testament":
		msg, scope, ok := rm.newTestament(s, r, m)
		if !ok {
			return true
		}
		if max := rm.r.cfg.MaxTestaments; max > 0 && len(s.testaments[0])+len(s.testaments[1]) >= max {
			r.fail(LimitExceeded, fmt.Sprintf("the session holds its maximum of %d testaments", max))
			return true
		}
		s.testaments[scope] = append(s.testaments[scope], msg)
		r.result()
	case "wamp.session.flush_testaments":
		scope, ok := testamentScope(r, m.Kwargs)
		if !ok {
			return true
		}
		clear(s.testaments[scope])
		s.testaments[scope] = s.testaments[scope][:0]
		r.result()
	default:
		return false
	}
	return true
}

// testamentScope returns the index in session.testaments of the scope
// keyword argument (default destroyed), or answers ERROR
// wamp.error.invalid_argument.
func testamentScope(r metaReply, kwargs protocol.Dict) (int, bool) {
	v, ok := kwargs["scope"]
	if !ok || v == nil {
		return 1, true
	}
	switch v {
	case scopeDetached:
		return 0, true
	case scopeDestroyed:
		return 1, true
	}
	r.fail(protocol.ErrInvalidArgument, "scope must be detached or destroyed")
	return 0, false
}

// newTestament checks the arguments of wamp.session.add_testament
// (topic, args, kwargs; keyword arguments publish_options and scope) as
// PUBLISH would check them, and returns the PUBLISH to make when the
// session is gone, and its scope. It answers the call with an ERROR if
// they are invalid.
func (rm *realm) newTestament(s *session, r metaReply, m *protocol.Call) (*protocol.Publish, int, bool) {
	topic, ok := r.metaURI()
	if !ok {
		return nil, 0, false
	}
	if err := protocol.CheckURI(topic, rm.r.cfg.StrictURIs); err != nil {
		r.fail(protocol.ErrInvalidURI, err.Error())
		return nil, 0, false
	}
	if protocol.IsReserved(topic) {
		// A testament is published as if by the session, which may not
		// publish in the wamp namespace (spec basic "Reserved URIs").
		r.fail(protocol.ErrInvalidURI, "topic "+string(topic)+" is in the reserved wamp namespace")
		return nil, 0, false
	}
	var args protocol.List
	if len(m.Args) > 1 && m.Args[1] != nil {
		if args, ok = toList(m.Args[1]); !ok {
			r.fail(protocol.ErrInvalidArgument, "the second argument (args) must be a list")
			return nil, 0, false
		}
	}
	var kwargs protocol.Dict
	if len(m.Args) > 2 && m.Args[2] != nil {
		if kwargs, ok = protocol.ToDict(m.Args[2]); !ok {
			r.fail(protocol.ErrInvalidArgument, "the third argument (kwargs) must be a dict")
			return nil, 0, false
		}
	}
	scope, ok := testamentScope(r, m.Kwargs)
	if !ok {
		return nil, 0, false
	}
	var opts protocol.Dict
	if v, ok := m.Kwargs["publish_options"]; ok && v != nil {
		given, ok := protocol.ToDict(v)
		if !ok {
			r.fail(protocol.ErrInvalidArgument, "publish_options must be a dict")
			return nil, 0, false
		}
		msg := checkOptions(given, publishOptions)
		if msg == "" && pptUsed(given) {
			msg = checkPPT(given, args, kwargs)
			if !s.pptPublisher {
				msg = "payload passthru mode, but the publisher did not announce payload_passthru_mode"
			}
		}
		if msg != "" {
			r.fail(protocol.ErrInvalidArgument, "publish_options: "+msg)
			return nil, 0, false
		}
		// A copy: the caller's dict is read-only, and nobody would hear
		// an acknowledgement (the spec lets the router ignore it).
		opts = make(protocol.Dict, len(given))
		for k, v := range given {
			if k != "acknowledge" {
				opts[k] = v
			}
		}
	}
	if rm.authz != nil {
		// Decided now: when the testament is published its session is
		// gone, and nobody would hear a refusal.
		if uri, msg := s.authorize(ActionPublish, topic, protocol.MatchExact, opts); uri != "" {
			r.fail(uri, msg)
			return nil, 0, false
		}
	}
	if kwargs != nil && args == nil {
		args = protocol.List{} // Arguments must be present before ArgumentsKw
	}
	return &protocol.Publish{Options: opts, Topic: topic, Args: args, Kwargs: kwargs}, scope, true
}

// publishTestaments publishes the testaments of s, detached before
// destroyed, each scope in the order they were added. It runs on the
// session's goroutine after s left the realm, so s receives none itself.
func (rm *realm) publishTestaments(s *session) {
	for i, scope := range s.testaments {
		for _, msg := range scope {
			rm.broker.publish(s, msg, true)
		}
		s.testaments[i] = nil
	}
}

// toList converts a decoded list to a List.
func toList(v any) (protocol.List, bool) {
	switch l := v.(type) {
	case protocol.List:
		return l, true
	case []any:
		return l, true
	}
	return nil, false
}
