package router

import (
	"github.com/wampkit/wampkit/protocol"
)

// The session meta API (spec advanced "Session Meta API"): events
// published by the router in each realm, and procedures the dealer
// answers itself on the caller's goroutine, so the meta API needs no
// session or goroutine of its own.
const (
	metaOnJoin  protocol.URI = "wamp.session.on_join"
	metaOnLeave protocol.URI = "wamp.session.on_leave"
)

// metaDetails is the session's description in wamp.session.on_join and
// wamp.session.get.
func (s *session) metaDetails() protocol.Dict {
	d := protocol.Dict{
		"session":      uint64(s.id),
		"authid":       s.authID,
		"authrole":     s.authRole,
		"authmethod":   s.authMethod,
		"authprovider": s.authProvider,
	}
	if s.transport != nil {
		d["transport"] = s.transport
	}
	if s.realm != nil && s.realm.dropEvents {
		// Implementation-specific key (spec basic "Extensibility").
		d["_dropped_events"] = s.dropped.Load()
	}
	return d
}

// metaCall answers a CALL of a meta procedure of the realm; it reports
// false if procedure is none.
func (rm *realm) metaCall(s *session, m *protocol.Call) bool {
	result := func(args ...any) {
		s.send(&protocol.Result{Request: m.Request, Args: args})
	}
	fail := func(uri protocol.URI, msg string) {
		var args protocol.List
		if msg != "" {
			args = protocol.List{msg}
		}
		s.send(&protocol.Error{RequestType: protocol.TypeCall, Request: m.Request, URI: uri, Args: args})
	}
	switch m.Procedure {
	case "wamp.session.count", "wamp.session.list":
		var roles []string
		if len(m.Args) > 0 && m.Args[0] != nil {
			roles = strList(m.Args[0])
		}
		ids := []any{}
		for _, t := range rm.snapshot() {
			if roles == nil || containsStr(roles, t.authRole) {
				ids = append(ids, uint64(t.id))
			}
		}
		if m.Procedure == "wamp.session.count" {
			result(len(ids))
		} else {
			result(ids)
		}
	case "wamp.session.get":
		t, ok := rm.target(m)
		if !ok {
			fail(protocol.ErrInvalidArgument, "the argument must be a session ID")
			return true
		}
		if t == nil {
			fail(protocol.ErrNoSuchSession, "")
			return true
		}
		result(t.metaDetails())
	case "wamp.session.kill", "wamp.session.kill_by_authid", "wamp.session.kill_by_authrole", "wamp.session.kill_all":
		reason := protocol.CloseKilled
		if v, ok := m.Kwargs["reason"]; ok {
			u, _ := v.(string)
			if err := protocol.CheckURI(protocol.URI(u), false); err != nil {
				fail(protocol.ErrInvalidURI, "reason: "+err.Error())
				return true
			}
			reason = protocol.URI(u)
		}
		message := m.Kwargs.String("message")
		var victims []*session
		switch m.Procedure {
		case "wamp.session.kill":
			t, ok := rm.target(m)
			if !ok {
				fail(protocol.ErrInvalidArgument, "the argument must be a session ID")
				return true
			}
			if t == nil || t == s {
				// The caller's own session is no other session.
				fail(protocol.ErrNoSuchSession, "")
				return true
			}
			victims = []*session{t}
		case "wamp.session.kill_by_authid", "wamp.session.kill_by_authrole":
			key, _ := firstArg(m).(string)
			for _, t := range rm.snapshot() {
				if t == s {
					continue
				}
				if m.Procedure == "wamp.session.kill_by_authid" && t.authID == key ||
					m.Procedure == "wamp.session.kill_by_authrole" && t.authRole == key {
					victims = append(victims, t)
				}
			}
		default: // kill_all
			for _, t := range rm.snapshot() {
				if t != s {
					t.quiet.Store(true) // kill_all emits no on_leave
					victims = append(victims, t)
				}
			}
		}
		killed := []any{}
		for _, t := range victims {
			if t.shutdown(reason, message) {
				killed = append(killed, uint64(t.id))
			}
		}
		switch m.Procedure {
		case "wamp.session.kill":
			result()
		case "wamp.session.kill_by_authid":
			result(killed)
		default:
			result(len(killed))
		}
	default:
		return false
	}
	return true
}

// snapshot returns the sessions joined to the realm.
func (rm *realm) snapshot() []*session {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	out := make([]*session, 0, len(rm.sessions))
	for _, t := range rm.sessions {
		out = append(out, t)
	}
	return out
}

// target returns the session whose ID is the first argument of m (nil if
// there is none); ok is false if the argument is no session ID.
func (rm *realm) target(m *protocol.Call) (t *session, ok bool) {
	id, ok := protocol.ToID(firstArg(m))
	if !ok {
		return nil, false
	}
	rm.mu.Lock()
	defer rm.mu.Unlock()
	return rm.sessions[id], true
}

func firstArg(m *protocol.Call) any {
	if len(m.Args) == 0 {
		return nil
	}
	return m.Args[0]
}
