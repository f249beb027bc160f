package bridge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// AuthMethod is the authentication method of the bridge's sessions, as
// it appears in HELLO.Details.authmethods and WELCOME.Details.authmethod.
const AuthMethod = "wampkit-bridge"

// authKeyExtra is the HELLO.Details.authextra key of the one-time key.
const authKeyExtra = "bridge_key"

// Authenticator is the [router.Authenticator] of the bridge's sessions
// (see the package documentation): put it into the Authenticators of
// every realm a [Principal] names, and give it to [New] in
// [Config].Authenticator. It admits a session only if its transport is
// in-process (type "local", see [router.Router.Connect]) and its HELLO
// carries a key the bridge made for that one join, which it forgets on
// first use; the identity (authid and authrole) is the one the bridge
// stored with the key, never one the HELLO asks for. Anything else is
// refused with ABORT wamp.error.authentication_denied, like a wrong
// secret.
//
// An Authenticator is safe for concurrent use. Its zero value is not
// usable; use [NewAuthenticator].
type Authenticator struct {
	mu      sync.Mutex
	pending map[string]router.Identity // guarded by mu: one-time key → identity
}

var _ router.Authenticator = (*Authenticator)(nil)

// NewAuthenticator returns an Authenticator with no pending joins.
func NewAuthenticator() *Authenticator {
	return &Authenticator{pending: make(map[string]router.Identity)}
}

// AuthMethod returns [AuthMethod].
func (a *Authenticator) AuthMethod() string { return AuthMethod }

// Authenticate admits the in-process session whose HELLO carries a
// pending key, with the identity stored for it.
func (a *Authenticator) Authenticate(_ context.Context, req *router.AuthRequest, _ router.Challenger) (*router.Identity, error) {
	denied := &router.AuthError{Reason: protocol.ErrAuthenticationDenied}
	if req.Transport.String("type") != "local" {
		return nil, denied
	}
	key := req.AuthExtra.String(authKeyExtra)
	if key == "" {
		return nil, denied
	}
	a.mu.Lock()
	id, ok := a.pending[key]
	delete(a.pending, key)
	a.mu.Unlock()
	if !ok || id.AuthID != req.AuthID {
		return nil, denied
	}
	return &id, nil
}

// expect makes a one-time key that admits one session with identity id,
// and returns it with the function that forgets it (for a join that
// failed before the router asked).
func (a *Authenticator) expect(id router.Identity) (string, func()) {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	key := hex.EncodeToString(b[:])
	a.mu.Lock()
	a.pending[key] = id
	a.mu.Unlock()
	return key, func() {
		a.mu.Lock()
		delete(a.pending, key)
		a.mu.Unlock()
	}
}
