package router

import (
	"time"

	"github.com/wampkit/wampkit/protocol"
)

// The meta API (spec advanced "Session Meta API", "Registration Meta
// API", "Subscription Meta API", "Session Testament", "Event History"):
// events published by the router in each realm, and procedures answered
// on the caller's goroutine, one small handler per procedure in
// metaProcedures, so the meta API needs no session or goroutine of its
// own. This file holds the table and the session procedures;
// meta_index.go the registration and subscription ones, testament.go the
// testament ones, meta_console.go the router's own procedures for
// consoles (outside the wamp namespace).
//
// A meta event costs one map lookup (broker.listening) while nobody
// subscribes to it. The registration and subscription events are
// published under the dealer's or broker's mu, in the order of the
// changes: on_create before on_register (on_subscribe), on_unregister
// (on_unsubscribe) before on_delete.
const (
	metaOnJoin  protocol.URI = "wamp.session.on_join"
	metaOnLeave protocol.URI = "wamp.session.on_leave"

	metaRegOnCreate     protocol.URI = "wamp.registration.on_create"
	metaRegOnRegister   protocol.URI = "wamp.registration.on_register"
	metaRegOnUnregister protocol.URI = "wamp.registration.on_unregister"
	metaRegOnDelete     protocol.URI = "wamp.registration.on_delete"

	metaSubOnCreate      protocol.URI = "wamp.subscription.on_create"
	metaSubOnSubscribe   protocol.URI = "wamp.subscription.on_subscribe"
	metaSubOnUnsubscribe protocol.URI = "wamp.subscription.on_unsubscribe"
	metaSubOnDelete      protocol.URI = "wamp.subscription.on_delete"
)

// metaRequest is a CALL of a meta procedure as its handler sees it. It
// holds the CALL's fields, not the CALL: escape analysis does not tell a
// struct's fields apart, and a *protocol.Call kept beside the session
// would be moved to the heap on every call, meta or not.
type metaRequest struct {
	s      *session // the caller; nil for another node (see ClusterNode.AnswerMeta)
	rm     *realm   // the caller's realm
	proc   protocol.URI
	args   protocol.List
	kwargs protocol.Dict
}

// metaHandler answers one meta procedure: it returns the RESULT's
// arguments, or a refusal (see refusal.go).
type metaHandler func(q metaRequest) (protocol.List, error)

// metaProcedures holds the handler of every meta procedure the router
// answers. It is read-only.
var metaProcedures = map[protocol.URI]metaHandler{
	"wamp.session.count":            sessionCount,
	"wamp.session.list":             sessionList,
	"wamp.session.get":              sessionGet,
	"wamp.session.kill":             sessionKill,
	"wamp.session.kill_by_authid":   sessionKillByAuthID,
	"wamp.session.kill_by_authrole": sessionKillByAuthRole,
	"wamp.session.kill_all":         sessionKillAll,
	"wamp.session.add_testament":    addTestament,
	"wamp.session.flush_testaments": flushTestaments,

	"wamp.registration.list":              registrationList,
	"wamp.registration.lookup":            registrationLookup,
	"wamp.registration.match":             registrationMatch,
	"wamp.registration.get":               registrationGet,
	"wamp.registration.list_callees":      registrationListCallees,
	"wamp.registration.count_callees":     registrationCountCallees,
	"wamp.subscription.list":              subscriptionList,
	"wamp.subscription.lookup":            subscriptionLookup,
	"wamp.subscription.match":             subscriptionMatch,
	"wamp.subscription.get":               subscriptionGet,
	"wamp.subscription.list_subscribers":  subscriptionListSubscribers,
	"wamp.subscription.count_subscribers": subscriptionCountSubscribers,
	"wamp.subscription.get_events":        subscriptionGetEvents,

	"wamp.registration.remove_callee":     registrationRemoveCallee,
	"wamp.subscription.remove_subscriber": subscriptionRemoveSubscriber,

	// The router's own (see meta_console.go).
	ProcedureStats:       routerStats,
	ProcedureSessionPage: sessionPage,
}

// metaCall answers a CALL m of a procedure in the reserved wamp namespace,
// or of one of the router's own procedures (see routerProcedure and
// dealer.startCall), on the caller's goroutine. stream and ppt say that the CALL is the first
// chunk of a progressive call invocation, or in payload passthru mode,
// which no meta procedure takes.
func (rm *realm) metaCall(s *session, m *protocol.Call, stream, ppt bool) error {
	switch {
	case stream:
		return refuse(protocol.ErrFeatureNotSupported,
			"procedure "+string(m.Procedure)+" does not take progressive call invocations")
	case ppt:
		return errPPTCallee
	}
	h := metaProcedures[m.Procedure]
	if h == nil {
		return refuse(protocol.ErrNoSuchProcedure, "")
	}
	args, err := h(metaRequest{s: s, rm: rm, proc: m.Procedure, args: m.Args, kwargs: m.Kwargs})
	if err != nil {
		return err
	}
	s.sendOwn(&protocol.Result{Request: m.Request, Args: args})
	return nil
}

// first returns the first argument, or nil.
func (q metaRequest) first() any {
	if len(q.args) == 0 {
		return nil
	}
	return q.args[0]
}

// id returns the first argument as a registration or subscription ID.
func (q metaRequest) id() (protocol.ID, error) {
	id, ok := protocol.ToID(q.first())
	if !ok {
		return 0, invalidArgument("the argument must be an ID")
	}
	return id, nil
}

// uri returns the first argument as a URI.
func (q metaRequest) uri() (protocol.URI, error) {
	u, ok := q.first().(string)
	if !ok {
		return "", invalidArgument("the first argument must be a URI")
	}
	return protocol.URI(u), nil
}

// session returns the session of the caller's realm whose ID is the
// first argument (nil if there is none).
func (q metaRequest) session() (*session, error) {
	id, ok := protocol.ToID(q.first())
	if !ok {
		return nil, invalidArgument("the argument must be a session ID")
	}
	q.rm.mu.Lock()
	defer q.rm.mu.Unlock()
	if t := q.rm.sessions[id]; t != nil && !t.isCluster() {
		return t, nil
	}
	return nil, nil
}

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
	if s.transport != nil && s.realm != nil && s.realm.authz.Load() != nil {
		// Transport details (the peer's address) are shown only in a
		// realm whose Authorizer decides who may read them (who may
		// call wamp.session.get or subscribe to wamp.session.on_join),
		// never to everyone in an open realm.
		d["transport"] = s.transport
	}
	if s.realm != nil && s.realm.dropEvents {
		// Implementation-specific key (spec basic "Extensibility").
		d["_dropped_events"] = s.out.dropped.Load()
	}
	// Implementation-specific keys for operators' consoles.
	d["_joined"] = metaTime(s.joined)
	if s.st != nil {
		in, out := s.st.totals()
		d["_messages_in"], d["_messages_out"] = in, out
	}
	return d
}

// sessionIDs returns the IDs of the realm's sessions, of the authroles of
// the first argument if it is a list (spec advanced "Session Meta API").
func sessionIDs(q metaRequest) []any {
	var roles []string
	if len(q.args) > 0 && q.args[0] != nil {
		roles = strList(q.args[0])
	}
	ids := []any{}
	for _, t := range q.rm.snapshot() {
		if roles == nil || containsStr(roles, t.authRole) {
			ids = append(ids, uint64(t.id))
		}
	}
	if q.s != nil {
		ids = idsOf(ids, q.gather(q.args, nil))
	}
	return ids
}

func sessionCount(q metaRequest) (protocol.List, error) {
	return protocol.List{len(sessionIDs(q))}, nil
}

func sessionList(q metaRequest) (protocol.List, error) {
	return protocol.List{sessionIDs(q)}, nil
}

func sessionGet(q metaRequest) (protocol.List, error) {
	t, err := q.session()
	if err != nil {
		return nil, err
	}
	if t == nil {
		// Another node's, if any.
		for _, a := range q.gather(q.args, nil) {
			if len(a) > 0 {
				return a[:1], nil
			}
		}
		return nil, refuse(protocol.ErrNoSuchSession, "")
	}
	return protocol.List{t.metaDetails()}, nil
}

// The kill procedures end other sessions with GOODBYE (reason
// wamp.close.killed, or the reason keyword argument, and the message
// keyword argument). They are destructive, so an open realm refuses them:
// they need an explicit permission, which only an Authorizer gives.

// goodbye returns the reason and message of the GOODBYE the kill
// procedures send: the reason and message keyword arguments, or
// wamp.close.killed and none.
func (q metaRequest) goodbye() (protocol.URI, string, error) {
	reason := protocol.CloseKilled
	if v, ok := q.kwargs["reason"]; ok {
		u, _ := v.(string)
		if err := protocol.CheckURI(protocol.URI(u), false); err != nil {
			return "", "", refuse(protocol.ErrInvalidURI, "reason: "+err.Error())
		}
		reason = protocol.URI(u)
	}
	return reason, q.kwargs.String("message"), nil
}

// kill says GOODBYE to each victim and returns the IDs of those it said it
// to (the others were leaving already).
func kill(victims []*session, reason protocol.URI, message string) []any {
	killed := []any{}
	for _, t := range victims {
		if t.shutdown(reason, message) {
			killed = append(killed, uint64(t.id))
		}
	}
	return killed
}

// killing checks a kill procedure's request: a realm without an
// Authorizer refuses it, then the GOODBYE's reason and message.
func (q metaRequest) killing(proc string) (protocol.URI, string, error) {
	if err := q.explicit(proc); err != nil {
		return "", "", err
	}
	return q.goodbye()
}

// explicit refuses a procedure that needs an explicit permission (the
// destructive kill and remove procedures, and the router-wide
// ProcedureStats) in a realm without an Authorizer, which cannot give
// one.
func (q metaRequest) explicit(proc string) error {
	if q.rm.authz.Load() == nil {
		return refuse(protocol.ErrNotAuthorized, proc+" needs an explicit permission; the realm has no Authorizer")
	}
	return nil
}

// others returns the realm's sessions but the caller for which match is
// true.
func (q metaRequest) others(match func(t *session) bool) []*session {
	var out []*session
	for _, t := range q.rm.snapshot() {
		if t != q.s && match(t) {
			out = append(out, t)
		}
	}
	return out
}

func sessionKill(q metaRequest) (protocol.List, error) {
	reason, message, err := q.killing("wamp.session.kill")
	if err != nil {
		return nil, err
	}
	t, err := q.session()
	if err != nil {
		return nil, err
	}
	if t == nil && len(idsOf(nil, q.gather(q.args, q.kwargs))) > 0 {
		return nil, nil // another node's
	}
	if t == nil || t == q.s {
		// The caller's own session is no other session.
		return nil, refuse(protocol.ErrNoSuchSession, "")
	}
	kill([]*session{t}, reason, message)
	return nil, nil
}

func sessionKillByAuthID(q metaRequest) (protocol.List, error) {
	reason, message, err := q.killing("wamp.session.kill_by_authid")
	if err != nil {
		return nil, err
	}
	authID, _ := q.first().(string)
	victims := q.others(func(t *session) bool { return t.authID == authID })
	return protocol.List{idsOf(kill(victims, reason, message), q.gather(q.args, q.kwargs))}, nil
}

func sessionKillByAuthRole(q metaRequest) (protocol.List, error) {
	reason, message, err := q.killing("wamp.session.kill_by_authrole")
	if err != nil {
		return nil, err
	}
	role, _ := q.first().(string)
	victims := q.others(func(t *session) bool { return t.authRole == role })
	return protocol.List{len(idsOf(kill(victims, reason, message), q.gather(q.args, q.kwargs)))}, nil
}

func sessionKillAll(q metaRequest) (protocol.List, error) {
	reason, message, err := q.killing("wamp.session.kill_all")
	if err != nil {
		return nil, err
	}
	victims := q.others(func(*session) bool { return true })
	for _, t := range victims {
		// kill_all emits no on_leave and no testaments (spec advanced
		// "Session Meta API").
		t.quiet.Store(true)
	}
	return protocol.List{len(idsOf(kill(victims, reason, message), q.gather(q.args, q.kwargs)))}, nil
}

// snapshot returns the sessions joined to the realm, but the cluster's
// own (see ClusterNode.Connect): the session meta API neither shows nor
// kills those.
func (rm *realm) snapshot() []*session {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	out := make([]*session, 0, len(rm.sessions))
	for _, t := range rm.sessions {
		if !t.isCluster() {
			out = append(out, t)
		}
	}
	return out
}

// metaTime formats the creation time of a registration or subscription
// as ISO 8601 in UTC, to the millisecond.
func metaTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}
