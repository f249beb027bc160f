package router

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/wampkit/wampkit/protocol"
)

// realm is one routing domain: messages are routed only between sessions
// joined to the same realm (spec basic "Realms, Sessions and Transports").
// It owns no goroutine; every operation runs on the goroutine of the
// session that asked for it.
type realm struct {
	r    *Router
	name protocol.URI
	// auth is the realm's authentication (RealmConfig.Authenticators);
	// each slice is read-only, replaced whole by Router.UpdateRealm.
	auth atomic.Pointer[[]Authenticator]
	// authz is the realm's authorization (RealmConfig.Authorizer), nil to
	// allow everything; replaced by Router.UpdateRealm.
	authz atomic.Pointer[authz]
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
	rm.auth.Store(&cfg.Authenticators)
	rm.authz.Store(newAuthz(&cfg))
	rm.broker.init(r, &cfg, &rm.authz)
	rm.dealer.init(r, &rm.broker, &rm.authz)
	return rm
}

// authenticator returns the first Authenticator of the realm for a method
// in methods, in the client's order of preference.
func (rm *realm) authenticator(methods []string) Authenticator {
	if a := rm.r.clusterAuthenticator(methods); a != nil {
		return a
	}
	for _, m := range methods {
		for _, a := range *rm.auth.Load() {
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

// revocationReason is the reason of the revocations of UpdateRealm.
const revocationReason = "no longer authorized"

// revokeUnauthorized revokes the subscriptions and registrations of the
// realm's sessions that z does not allow (see Router.UpdateRealm). It
// asks z without holding a lock, then revokes under the broker's or
// dealer's mu what is still there.
func (rm *realm) revokeUnauthorized(ctx context.Context, z *authz) error {
	b := &rm.broker
	type subscriber struct {
		sub *subscription
		t   *session
	}
	var subs []subscriber
	b.mu.Lock()
	for _, sub := range b.byID {
		for t := range sub.subscribers.load().values() {
			subs = append(subs, subscriber{sub, t})
		}
	}
	b.mu.Unlock()
	var denied []subscriber
	for _, x := range subs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !z.still(ctx, x.t, ActionSubscribe, x.sub.topic, x.sub.match) {
			denied = append(denied, x)
		}
	}
	if len(denied) > 0 {
		b.mu.Lock()
		for _, x := range denied {
			if b.revokeLocked(x.sub, x.t, revocationReason) {
				rm.r.log.Info("router: subscription revoked", "realm", string(rm.name), "session", uint64(x.t.id),
					"topic", string(x.sub.topic), "match", string(x.sub.match), "reason", revocationReason)
			}
		}
		b.mu.Unlock()
	}

	d := &rm.dealer
	var regs []*registrant
	d.mu.Lock()
	for _, reg := range d.byID {
		regs = slices.AppendSeq(regs, reg.callees.load().values())
	}
	d.mu.Unlock()
	var refused []*registrant
	for _, rg := range regs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !z.still(ctx, rg.callee, ActionRegister, rg.reg.procedure, rg.reg.match) {
			refused = append(refused, rg)
		}
	}
	if len(refused) > 0 {
		d.mu.Lock()
		for _, rg := range refused {
			if d.revokeLocked(rg, revocationReason) {
				rm.r.log.Info("router: registration revoked", "realm", string(rm.name), "session", uint64(rg.callee.id),
					"procedure", string(rg.reg.procedure), "match", string(rg.reg.match), "reason", revocationReason)
			}
		}
		d.mu.Unlock()
	}
	return nil
}
