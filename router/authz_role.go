package router

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/wampkit/wampkit/protocol"
)

// Permission is one rule of a [RoleAuthorizer]: the actions allowed on
// the URIs that URI and Match cover. A rule with no action allowed
// denies all four on what it covers.
type Permission struct {
	// URI is a procedure or topic (Match exact), a URI prefix (Match
	// prefix; the empty prefix covers every URI) or a wildcard pattern
	// with empty components matching any one component (Match wildcard),
	// as in spec advanced "Pattern-based Subscription".
	URI protocol.URI
	// Match is exact (also when empty), prefix or wildcard.
	Match protocol.MatchPolicy

	Call, Register, Publish, Subscribe bool
}

// RoleAuthorizer is an [Authorizer] with a static table of [Permission]
// rules per authrole. Make one with [NewRoleAuthorizer]; it is read-only
// and safe for concurrent use, and decides without waiting or
// allocating for exact and prefix rules.
//
// A session whose authrole has no rules may do nothing. Otherwise one
// rule of its role decides, the most specific that covers the request:
//
//  1. the exact rule for the URI, if any;
//  2. else the longest prefix rule that the URI starts with;
//  3. else the first wildcard rule (in the order given) that matches.
//
// No covering rule denies. A SUBSCRIBE or REGISTER of a pattern is
// covered only by rules that cover every URI the pattern matches: a
// prefix pattern by prefix rules it starts with; a wildcard pattern by
// prefix rules that its part before the first empty component starts
// with, then by wildcard rules with the same number of components that
// match each of its non-empty components and have an empty component
// where it does. Exact rules never cover patterns. For example, with the
// rules {"com.app.", prefix, Call} and {"com.app.admin", exact}, a
// session may call com.app.x but not com.app.admin, and may not
// subscribe to anything. An exact rule covers that one URI only: to deny
// a namespace, add a prefix rule for it ({"com.app.admin.", prefix}).
//
// What an allowed pattern carries is checked again, URI by URI, as if
// the session had asked for that URI exactly: an EVENT of a prefix or
// wildcard subscription reaches the session only if its role may
// subscribe to the event's topic, and a call reaches a callee through a
// prefix or wildcard registration only if the callee's role may register
// the called procedure (else the call goes to the next matching
// registration, by the spec's precedence, or fails with
// wamp.error.no_such_procedure). So with {"com.app.", prefix, Subscribe}
// and {"com.app.secret", exact}, a prefix subscription to com.app. is
// allowed and never carries the events of com.app.secret. Retained
// events, event history and the meta API follow the same rule.
type RoleAuthorizer struct {
	roles map[string]*roleRules // read-only
}

var (
	_ Authorizer        = (*RoleAuthorizer)(nil)
	_ instantAuthorizer = (*RoleAuthorizer)(nil)
)

// actionSet holds the allowed actions of a rule, one bit per Action.
type actionSet uint8

func (a actionSet) has(act Action) bool { return a&(1<<act) != 0 }

// roleRules are the compiled rules of one role.
type roleRules struct {
	exact    map[protocol.URI]actionSet
	prefix   []prefixRule   // longest first
	wildcard []wildcardRule // in the order given
}

type prefixRule struct {
	prefix string
	allow  actionSet
}

type wildcardRule struct {
	parts []string // components; "" matches any one
	allow actionSet
}

// NewRoleAuthorizer compiles roles, which maps an authrole to its rules.
// It returns an error if a rule has an unknown match policy or an
// invalid URI (by the loose rules), or if a role lists the same URI and
// match policy twice.
func NewRoleAuthorizer(roles map[string][]Permission) (*RoleAuthorizer, error) {
	a := &RoleAuthorizer{roles: make(map[string]*roleRules, len(roles))}
	for role, perms := range roles {
		rr := &roleRules{exact: make(map[protocol.URI]actionSet)}
		seen := make(map[subKey]bool, len(perms))
		for _, p := range perms {
			match := p.Match
			if match == "" {
				match = protocol.MatchExact
			}
			if !match.Valid() {
				return nil, fmt.Errorf("router: role %q: unknown match policy %q", role, p.Match)
			}
			if !(match == protocol.MatchPrefix && p.URI == "") {
				if err := protocol.CheckPattern(p.URI, match, false); err != nil {
					return nil, fmt.Errorf("router: role %q: %w", role, err)
				}
			}
			if seen[subKey{p.URI, match}] {
				return nil, fmt.Errorf("router: role %q: %s rule for %q listed twice", role, match, p.URI)
			}
			seen[subKey{p.URI, match}] = true
			var allow actionSet
			for act, ok := range map[Action]bool{ActionCall: p.Call, ActionRegister: p.Register,
				ActionPublish: p.Publish, ActionSubscribe: p.Subscribe} {
				if ok {
					allow |= 1 << act
				}
			}
			switch match {
			case protocol.MatchExact:
				rr.exact[p.URI] = allow
			case protocol.MatchPrefix:
				rr.prefix = append(rr.prefix, prefixRule{string(p.URI), allow})
			case protocol.MatchWildcard:
				rr.wildcard = append(rr.wildcard, wildcardRule{strings.Split(string(p.URI), "."), allow})
			}
		}
		slices.SortStableFunc(rr.prefix, func(x, y prefixRule) int { return len(y.prefix) - len(x.prefix) })
		a.roles[role] = rr
	}
	return a, nil
}

// Authorize reports whether the rules of req.AuthRole allow req; it never
// waits and never fails.
func (a *RoleAuthorizer) Authorize(_ context.Context, req *AuthzRequest) (bool, error) {
	return a.allow(req), nil
}

func (a *RoleAuthorizer) allow(req *AuthzRequest) bool {
	return a.permits(req.AuthRole, req.Action, string(req.URI), req.Match)
}

// permits reports whether role may do act on uri requested with match.
// It does not allocate.
func (a *RoleAuthorizer) permits(role string, act Action, uri string, match protocol.MatchPolicy) bool {
	rr := a.roles[role]
	if rr == nil {
		return false
	}
	allow, ok := rr.lookup(uri, match)
	return ok && allow.has(act)
}

// lookup returns the actions of the rule that decides on uri requested
// with match, and whether there is one.
func (rr *roleRules) lookup(uri string, match protocol.MatchPolicy) (actionSet, bool) {
	lit := uri // the part every URI the request covers starts with
	switch match {
	case "", protocol.MatchExact:
		if allow, ok := rr.exact[protocol.URI(uri)]; ok {
			return allow, true
		}
	case protocol.MatchWildcard:
		switch i := strings.Index(uri, ".."); {
		case strings.HasPrefix(uri, "."):
			lit = ""
		case i >= 0:
			lit = uri[:i+1]
		}
	}
	for _, p := range rr.prefix {
		if strings.HasPrefix(lit, p.prefix) {
			return p.allow, true
		}
	}
	if match == protocol.MatchPrefix {
		return 0, false
	}
	for _, w := range rr.wildcard {
		if w.covers(uri) {
			return w.allow, true
		}
	}
	return 0, false
}

// covers reports whether uri, a URI or wildcard pattern, has as many
// components as the rule and each of them is equal to the rule's or the
// rule's is empty. An empty component of uri thus needs an empty one of
// the rule.
func (w *wildcardRule) covers(uri string) bool {
	for i, part := range w.parts {
		var c string
		if i == len(w.parts)-1 {
			c, uri = uri, ""
			if strings.IndexByte(c, '.') >= 0 {
				return false // more components than the rule
			}
		} else {
			var ok bool
			if c, uri, ok = strings.Cut(uri, "."); !ok {
				return false // fewer components
			}
		}
		if part != "" && part != c {
			return false
		}
	}
	return true
}
