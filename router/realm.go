package router

import (
	"sync"

	"github.com/wampkit/wampkit/protocol"
)

// realm is one routing domain: messages are routed only between sessions
// joined to the same realm (spec basic "Realms, Sessions and Transports").
// It owns no goroutine; every operation runs on the goroutine of the
// session that asked for it.
type realm struct {
	r      *Router
	name   protocol.URI
	auth   []Authenticator // read-only
	broker broker
	dealer dealer

	mu       sync.Mutex
	sessions map[protocol.ID]*session // guarded by mu; joined sessions
}

func newRealm(r *Router, cfg RealmConfig) *realm {
	rm := &realm{
		r:        r,
		name:     cfg.Name,
		auth:     cfg.Authenticators,
		sessions: make(map[protocol.ID]*session),
	}
	rm.broker.init(r)
	rm.dealer.init(r)
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

func (rm *realm) join(s *session) {
	rm.mu.Lock()
	rm.sessions[s.id] = s
	rm.mu.Unlock()
}

// leave removes s and everything it owns from the realm. It runs on the
// session's goroutine after its last message was handled.
func (rm *realm) leave(s *session) {
	rm.broker.leave(s)
	rm.dealer.leave(s)
	rm.mu.Lock()
	delete(rm.sessions, s.id)
	rm.mu.Unlock()
}
