package router

import (
	"fmt"
	"sync"

	"github.com/wampkit/wampkit/protocol"
)

// realm is one routing domain: messages are routed only between sessions
// joined to the same realm (spec basic "Realms, Sessions and Transports").
// It owns no goroutine; every operation runs on the goroutine of the
// session that asked for it.
type realm struct {
	r    *Router
	name protocol.URI
	auth []Authenticator // read-only
	// authz is the realm's authorization, nil to allow everything
	// (RealmConfig.Authorizer).
	authz *authz
	// dropEvents is RealmConfig.SlowConsumer == SlowConsumerDropEvents.
	dropEvents  bool
	maxSessions int // RealmConfig.MaxSessions; <= 0: none
	// trust holds, by authrole, the Details of EVENTs and INVOCATIONs
	// that carry only the trust level (RealmConfig.TrustLevels), shared
	// read-only; nil without trust levels.
	trust map[string]protocol.Dict
	// welcomeRoles is WELCOME.Details.roles for this realm (event_history
	// is announced only where it is configured); read-only after New.
	welcomeRoles protocol.Dict
	broker       broker
	dealer       dealer

	mu       sync.Mutex
	sessions map[protocol.ID]*session // guarded by mu; joined sessions
}

func newRealm(r *Router, cfg RealmConfig) *realm {
	rm := &realm{
		r:           r,
		name:        cfg.Name,
		auth:        cfg.Authenticators,
		authz:       newAuthz(&cfg),
		dropEvents:  cfg.SlowConsumer == SlowConsumerDropEvents,
		maxSessions: cfg.MaxSessions,
		sessions:    make(map[protocol.ID]*session),
	}
	if cfg.TrustLevels != nil {
		rm.trust = make(map[string]protocol.Dict, len(cfg.TrustLevels))
		for role, level := range cfg.TrustLevels {
			rm.trust[role] = protocol.Dict{"trustlevel": level}
		}
	}
	rm.broker.init(r, &cfg, rm.authz)
	rm.dealer.init(r, &rm.broker, rm.authz)
	return rm
}

// authenticator returns the first Authenticator of the realm for a method
// in methods, in the client's order of preference.
func (rm *realm) authenticator(methods []string) Authenticator {
	for _, m := range methods {
		for _, a := range rm.auth {
			if a.AuthMethod() == m {
				return a
			}
		}
	}
	return nil
}

// join adds s to the realm, unless the realm's or the router's session
// limit is reached: then it returns the message of the ABORT
// LimitExceeded.
func (rm *realm) join(s *session) string {
	r := rm.r
	if n := r.joined.Add(1); r.cfg.MaxSessions > 0 && n > int64(r.cfg.MaxSessions) {
		r.joined.Add(-1)
		return fmt.Sprintf("the router serves its maximum of %d sessions", r.cfg.MaxSessions)
	}
	rm.mu.Lock()
	if rm.maxSessions > 0 && len(rm.sessions) >= rm.maxSessions {
		rm.mu.Unlock()
		r.joined.Add(-1)
		return fmt.Sprintf("realm %s has its maximum of %d sessions", rm.name, rm.maxSessions)
	}
	rm.sessions[s.id] = s
	rm.mu.Unlock()
	return ""
}

// leave removes s and everything it owns from the realm. It runs on the
// session's goroutine after its last message was handled.
func (rm *realm) leave(s *session) {
	rm.broker.leave(s)
	rm.dealer.leave(s)
	rm.mu.Lock()
	delete(rm.sessions, s.id)
	rm.mu.Unlock()
	rm.r.joined.Add(-1)
}
