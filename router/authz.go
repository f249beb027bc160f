package router

import (
	"context"
	"fmt"
	"time"

	"github.com/wampkit/wampkit/protocol"
)

// Authorization (spec advanced "Authorization"; basic "Predefined URIs"):
// a realm with an [Authorizer] asks it, on the session's own goroutine,
// before it routes a CALL, REGISTER, PUBLISH or SUBSCRIBE. A realm
// without one allows everything, and its sessions pay one nil check.

// defaultAuthorizeTimeout is the default of
// [RealmConfig].AuthorizeTimeout.
const defaultAuthorizeTimeout = 5 * time.Second

// Action is what a session asks to do with a URI.
type Action uint8

// The actions an [Authorizer] decides on.
const (
	// ActionCall is a CALL of a procedure, the router's own meta
	// procedures (wamp.session.*, wamp.registration.*,
	// wamp.subscription.*) included.
	ActionCall Action = iota + 1
	// ActionRegister is a REGISTER of a procedure or procedure pattern.
	ActionRegister
	// ActionPublish is a PUBLISH to a topic, or a testament for it
	// (wamp.session.add_testament, decided when it is added).
	ActionPublish
	// ActionSubscribe is a SUBSCRIBE to a topic or topic pattern, the
	// router's meta topics included. wamp.subscription.get_events asks
	// for it too, on the subscription's topic and match policy.
	ActionSubscribe
)

// String returns "call", "register", "publish" or "subscribe".
func (a Action) String() string {
	switch a {
	case ActionCall:
		return "call"
	case ActionRegister:
		return "register"
	case ActionPublish:
		return "publish"
	case ActionSubscribe:
		return "subscribe"
	}
	return fmt.Sprintf("Action(%d)", uint8(a))
}

// AuthzRequest is what an [Authorizer] decides on: who (the session and
// the identity it authenticated with), what ([Action]) and on which URI.
type AuthzRequest struct {
	Session    protocol.ID  // the session's ID
	Realm      protocol.URI // the session's realm
	AuthID     string       // WELCOME.Details.authid
	AuthRole   string       // WELCOME.Details.authrole
	AuthMethod string       // WELCOME.Details.authmethod

	Action Action
	// URI is the procedure or topic; a pattern for REGISTER and SUBSCRIBE
	// with a Match other than exact.
	URI protocol.URI
	// Match is the match policy of REGISTER and SUBSCRIBE (exact,
	// prefix or wildcard); always exact for CALL and PUBLISH.
	Match protocol.MatchPolicy
	// Options are the request's options as the client sent them (the
	// publish_options of a testament). Read-only.
	Options protocol.Dict
}

// Authorizer decides whether a session may perform an action on a URI
// (spec advanced "Authorization"). Set one per realm in
// [RealmConfig.Authorizer]; [RoleAuthorizer] is a built-in one.
//
// Authorize returns true to allow, false to deny (the client gets ERROR
// wamp.error.not_authorized), or an error when it could not decide (the
// client gets ERROR wamp.error.authorization_failed and the error is
// logged). It is called on the goroutine of the session that asks, so a
// slow Authorizer delays only that session, and concurrently for
// different sessions. It must return once ctx is done; ctx ends after
// [RealmConfig.AuthorizeTimeout] or when the router closes. req is valid
// only until Authorize returns; it must not be kept or modified.
//
// Allowing a SUBSCRIBE or REGISTER of a prefix or wildcard pattern
// (req.Match) allows every URI the pattern matches: the router does not
// ask again for each EVENT or INVOCATION the pattern carries, since a
// publisher or caller never waits for another session's authorization.
// An Authorizer that wants to deny part of a pattern must therefore deny
// the pattern. [RoleAuthorizer] is the exception: it decides without
// waiting, so the router checks each delivery against it too.
type Authorizer interface {
	Authorize(ctx context.Context, req *AuthzRequest) (bool, error)
}

// instantAuthorizer is implemented by Authorizers that decide without
// waiting and without a context (RoleAuthorizer): the router calls allow
// instead of Authorize and so spares a context with a timer per request.
type instantAuthorizer interface {
	allow(req *AuthzRequest) bool
}

// authz is the authorization of one realm; a nil *authz allows
// everything.
type authz struct {
	a       Authorizer
	instant instantAuthorizer // a, if it is one; else nil
	roles   *RoleAuthorizer   // a, if it is one; else nil
	timeout time.Duration     // <= 0: none
}

func newAuthz(rc *RealmConfig) *authz {
	if rc.Authorizer == nil {
		return nil
	}
	z := &authz{a: rc.Authorizer, timeout: rc.AuthorizeTimeout}
	if z.timeout == 0 {
		z.timeout = defaultAuthorizeTimeout
	}
	z.instant, _ = rc.Authorizer.(instantAuthorizer)
	z.roles, _ = rc.Authorizer.(*RoleAuthorizer)
	return z
}

// Authorization of deliveries. A pattern subscription or registration is
// authorized for its pattern when it is made; what it then carries is
// authorized again, URI by URI, where the Authorizer decides without
// waiting (RoleAuthorizer): an EVENT of a prefix or wildcard subscription
// reaches a session only if its role may subscribe to the concrete topic,
// and a call is routed through a prefix or wildcard registration only to
// a callee whose role may register the concrete procedure. Retained
// events and event history follow the same rule. An Authorizer that may
// wait is not asked on these paths (a publisher never waits for a
// subscriber's authorization): it answers for a whole pattern when the
// pattern is subscribed or registered (see Authorizer).

// permits reports, without waiting, whether t may receive what act on the
// concrete URI uri carries: true in a realm without a RoleAuthorizer
// (whose patterns were authorized as a whole). It runs on any goroutine.
func (z *authz) permits(t *session, act Action, uri protocol.URI) bool {
	if z == nil || z.roles == nil || t.isCluster() {
		return true
	}
	return z.roles.permits(t.authRole, act, string(uri), protocol.MatchExact)
}

// checksDelivery reports whether deliveries through patterns need permits.
func (z *authz) checksDelivery() bool {
	return z != nil && z.roles != nil
}

// allowed reports whether s may do act on uri (with match), asking the
// realm's Authorizer as authorize does; a failed decision is a refusal.
// It runs on the session's goroutine.
func (s *session) allowed(act Action, uri protocol.URI, match protocol.MatchPolicy) bool {
	return s.authorize(act, uri, match, nil) == nil
}

// seesTopic reports whether the meta API may show s the topic or topic
// pattern of a subscription: s may subscribe to it, or publish to it.
func (s *session) seesTopic(topic protocol.URI, match protocol.MatchPolicy) bool {
	return s.allowed(ActionSubscribe, topic, match) ||
		match == protocol.MatchExact && s.allowed(ActionPublish, topic, match)
}

// seesProcedure reports whether the meta API may show s the procedure or
// procedure pattern of a registration: s may register it, or call it.
func (s *session) seesProcedure(proc protocol.URI, match protocol.MatchPolicy) bool {
	return s.allowed(ActionRegister, proc, match) ||
		match == protocol.MatchExact && s.allowed(ActionCall, proc, match)
}

// viewer returns, for a meta event about uri, the predicate that decides
// without waiting which subscribers may see uri (see seesTopic and
// seesProcedure), or nil when all may: in a realm without a
// RoleAuthorizer the subscription to the meta topic is authorization
// enough.
func (z *authz) viewer(topic bool, uri protocol.URI, match protocol.MatchPolicy) func(*session) bool {
	if !z.checksDelivery() {
		return nil
	}
	a := z.roles
	if topic {
		return func(t *session) bool {
			return a.permits(t.authRole, ActionSubscribe, string(uri), match) ||
				match == protocol.MatchExact && a.permits(t.authRole, ActionPublish, string(uri), match)
		}
	}
	return func(t *session) bool {
		return a.permits(t.authRole, ActionRegister, string(uri), match) ||
			match == protocol.MatchExact && a.permits(t.authRole, ActionCall, string(uri), match)
	}
}

// authorize asks the realm's Authorizer, if it has one, whether s may do
// act on uri; it returns nil if s may, or the refusal to answer with
// (wamp.error.not_authorized, or wamp.error.authorization_failed if the
// Authorizer failed). It runs on the session's goroutine, which owns
// s.authzReq.
func (s *session) authorize(act Action, uri protocol.URI, match protocol.MatchPolicy, opts protocol.Dict) error {
	z := s.realm.authz.Load()
	if z == nil || s.isCluster() {
		return nil
	}
	return s.decide(z, act, uri, match, opts)
}

// decide is authorize with the realm's authorization z.
func (s *session) decide(z *authz, act Action, uri protocol.URI, match protocol.MatchPolicy, opts protocol.Dict) error {
	req := &s.in.authzReq
	*req = AuthzRequest{
		Session: s.id, Realm: s.realm.name, AuthID: s.authID, AuthRole: s.authRole, AuthMethod: s.authMethod,
		Action: act, URI: uri, Match: match, Options: opts,
	}
	ok, err := z.ask(s.r.ctx, req)
	*req = AuthzRequest{} // keep no options or strings alive
	switch {
	case err != nil:
		s.r.log.Warn("router: authorization failed", "session", uint64(s.id), "realm", s.realmName(),
			"action", act.String(), "uri", string(uri), "error", err)
		return refuse(protocol.ErrAuthorizationFailed, "authorization of "+act.String()+" "+string(uri)+" failed")
	case !ok:
		return refuse(protocol.ErrNotAuthorized, "not authorized to "+act.String()+" "+string(uri))
	}
	return nil
}

// ask asks the Authorizer about req, bounded by the realm's
// AuthorizeTimeout within parent. It does not allocate for an Authorizer
// that decides at once.
func (z *authz) ask(parent context.Context, req *AuthzRequest) (bool, error) {
	if z.instant != nil {
		return z.instant.allow(req), nil
	}
	ctx, cancel := parent, context.CancelFunc(nil)
	if z.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, z.timeout)
	}
	ok, err := z.a.Authorize(ctx, req)
	if cancel != nil {
		cancel()
	}
	return ok, err
}

// still reports whether t may still have what it was allowed when it
// subscribed or registered: act on uri with match. It runs on any
// goroutine (with a request of its own); a failed decision keeps what t
// has.
func (z *authz) still(ctx context.Context, t *session, act Action, uri protocol.URI, match protocol.MatchPolicy) bool {
	req := &AuthzRequest{Session: t.id, Realm: t.realm.name, AuthID: t.authID, AuthRole: t.authRole,
		AuthMethod: t.authMethod, Action: act, URI: uri, Match: match}
	ok, err := z.ask(ctx, req)
	return ok || err != nil
}

// authzInstant reports whether authorization in rm never waits: no
// Authorizer, or one that decides at once (RoleAuthorizer). Only then may
// an in-process session's messages be routed on the sending goroutine
// (see localInbox), since Peer.Send must not block.
func (rm *realm) authzInstant() bool {
	z := rm.authz.Load()
	return z == nil || z.instant != nil
}
