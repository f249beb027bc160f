package router

import (
	"slices"

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

// addTestament answers wamp.session.add_testament.
func addTestament(q metaRequest) (protocol.List, error) {
	msg, scope, err := q.testament()
	if err != nil {
		return nil, err
	}
	s := q.s
	if max := s.r.cfg.MaxTestaments; max > 0 && len(s.in.testaments[0])+len(s.in.testaments[1]) >= max {
		return nil, refusef(LimitExceeded, "the session holds its maximum of %d testaments", max)
	}
	if q.rm.r.clusterMeta() == nil {
		s.in.testaments[scope] = append(s.in.testaments[scope], msg)
		return nil, nil
	}
	// Copied, so that saveTestaments can restore before.
	before := s.in.testaments
	s.in.testaments[scope] = append(slices.Clip(before[scope]), msg)
	return nil, q.saveTestaments(before)
}

// flushTestaments answers wamp.session.flush_testaments.
func flushTestaments(q metaRequest) (protocol.List, error) {
	scope, err := q.testamentScope()
	if err != nil {
		return nil, err
	}
	t := &q.s.in.testaments
	if q.rm.r.clusterMeta() != nil {
		// Kept intact for saveTestaments to restore.
		before := *t
		t[scope] = nil
		return nil, q.saveTestaments(before)
	}
	clear(t[scope])
	t[scope] = t[scope][:0]
	return nil, nil
}

// testamentScope returns the index in inbound.testaments of the scope
// keyword argument (default destroyed).
func (q metaRequest) testamentScope() (int, error) {
	v, ok := q.kwargs["scope"]
	if !ok || v == nil {
		return 1, nil
	}
	switch v {
	case scopeDetached:
		return 0, nil
	case scopeDestroyed:
		return 1, nil
	}
	return 0, invalidArgument("scope must be detached or destroyed")
}

// testament checks the arguments of wamp.session.add_testament (topic,
// args, kwargs; keyword arguments publish_options and scope) as PUBLISH
// would check them, and returns the PUBLISH to make when the session is
// gone, and its scope.
func (q metaRequest) testament() (*protocol.Publish, int, error) {
	s, rm := q.s, q.rm
	topic, err := q.uri()
	if err != nil {
		return nil, 0, err
	}
	if err := protocol.CheckURI(topic, rm.r.cfg.StrictURIs); err != nil {
		return nil, 0, refuse(protocol.ErrInvalidURI, err.Error())
	}
	if protocol.IsReserved(topic) {
		// A testament is published as if by the session, which may not
		// publish in the wamp namespace (spec basic "Reserved URIs").
		return nil, 0, refuse(protocol.ErrInvalidURI, "topic "+string(topic)+" is in the reserved wamp namespace")
	}
	var args protocol.List
	if len(q.args) > 1 && q.args[1] != nil {
		var ok bool
		if args, ok = toList(q.args[1]); !ok {
			return nil, 0, invalidArgument("the second argument (args) must be a list")
		}
	}
	var kwargs protocol.Dict
	if len(q.args) > 2 && q.args[2] != nil {
		var ok bool
		if kwargs, ok = protocol.ToDict(q.args[2]); !ok {
			return nil, 0, invalidArgument("the third argument (kwargs) must be a dict")
		}
	}
	scope, err := q.testamentScope()
	if err != nil {
		return nil, 0, err
	}
	var opts protocol.Dict
	if v, ok := q.kwargs["publish_options"]; ok && v != nil {
		given, ok := protocol.ToDict(v)
		if !ok {
			return nil, 0, invalidArgument("publish_options must be a dict")
		}
		msg := ""
		if err := checkOptions(given, publishOptions); err != nil {
			msg = asRequestError(err).msg
		} else if pptUsed(given) {
			msg = pptProblem(given, args, kwargs)
			if !s.feat.pptPublisher {
				msg = "payload passthru mode, but the publisher did not announce payload_passthru_mode"
			}
		}
		if msg != "" {
			return nil, 0, invalidArgument("publish_options: " + msg)
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
	// Decided now: when the testament is published its session is gone,
	// and nobody would hear a refusal.
	if err := s.authorize(ActionPublish, topic, protocol.MatchExact, opts); err != nil {
		return nil, 0, err
	}
	if kwargs != nil && args == nil {
		args = protocol.List{} // Arguments must be present before ArgumentsKw
	}
	return &protocol.Publish{Options: opts, Topic: topic, Args: args, Kwargs: kwargs}, scope, nil
}

// publishTestaments publishes the testaments of s, detached before
// destroyed, each scope in the order they were added. It runs on the
// session's goroutine after s left the realm, so s receives none itself.
func (rm *realm) publishTestaments(s *session) {
	for i, scope := range s.in.testaments {
		for _, msg := range scope {
			// Checked when it was added; a topic that cannot be published
			// to now is not published to, with nobody to tell.
			_ = rm.broker.publish(s, msg, true)
		}
		s.in.testaments[i] = nil
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
