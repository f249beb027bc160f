package router

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/wampkit/wampkit/protocol"
)

// Authenticator authenticates the sessions that join a realm with one
// authentication method (spec advanced "Authentication").
// [Anonymous] is the built-in one; ticket, WAMP-CRA and cryptosign fit the
// same interface.
//
// Authenticate runs on the session's goroutine during the opening
// handshake, bounded by ctx (which ends at [Config.HandshakeTimeout]). It
// may run any number of CHALLENGE/AUTHENTICATE rounds through ch. It
// returns the session's identity, or an error: an [*AuthError] becomes the
// ABORT reason and message sent to the client; any other error is logged
// and answered with ABORT wamp.error.authentication_failed.
//
// Implementations must be safe for concurrent use: many sessions may
// authenticate at once.
type Authenticator interface {
	// AuthMethod returns the method name as it appears in
	// HELLO.Details.authmethods, e.g. "anonymous" or "ticket".
	AuthMethod() string
	// Authenticate authenticates the client described by req.
	Authenticate(ctx context.Context, req *AuthRequest, ch Challenger) (*Identity, error)
}

// AuthRequest describes a client asking to join a realm. It is read-only
// for the Authenticator.
type AuthRequest struct {
	// Realm is the realm the client asked to join.
	Realm protocol.URI
	// Session is the ID the session will have once welcomed (WAMP-CRA
	// puts it in its challenge).
	Session protocol.ID
	// AuthID is HELLO.Details.authid, or "" if absent.
	AuthID string
	// AuthMethods is HELLO.Details.authmethods, or ["anonymous"] if absent.
	AuthMethods []string
	// AuthExtra is HELLO.Details.authextra, or nil.
	AuthExtra protocol.Dict
	// Hello is the client's HELLO message.
	Hello *protocol.Hello
	// Transport describes the carrier (see transport.Detailer), or is nil.
	Transport protocol.Dict
	// TLS is the state of the client's TLS connection (see
	// transport.TLSStater), for authenticating it by its certificate or
	// binding the authentication to the TLS channel; nil without TLS
	// (plain TCP, Unix sockets, in-process, or TLS ended by a proxy in
	// front). It must not be modified.
	TLS *tls.ConnectionState
}

// Challenger runs one CHALLENGE/AUTHENTICATE round for an
// [Authenticator]: it sends [CHALLENGE, method, extra] to the client and
// returns its AUTHENTICATE. It returns an error if ctx ends, the client
// goes away or answers with anything else.
type Challenger interface {
	Challenge(ctx context.Context, method string, extra protocol.Dict) (*protocol.Authenticate, error)
}

// Identity is the result of a successful authentication, sent to the
// client in WELCOME.Details (spec advanced "Authentication").
type Identity struct {
	// AuthID is the authenticated principal's ID (WELCOME.Details.authid).
	AuthID string
	// AuthRole is the role the session acts in (WELCOME.Details.authrole).
	AuthRole string
	// AuthMethod is the method used; empty means the Authenticator's
	// AuthMethod.
	AuthMethod string
	// AuthProvider names what checked the credentials; empty means
	// "static".
	AuthProvider string
	// AuthExtra is sent as WELCOME.Details.authextra if not nil.
	AuthExtra protocol.Dict
}

// AuthError is returned by an [Authenticator] to refuse a client: the
// router answers ABORT with Reason and, if not empty, Details.message.
type AuthError struct {
	// Reason is the ABORT reason, e.g. wamp.error.authentication_denied.
	Reason protocol.URI
	// Message is a human-readable explanation for the client.
	Message string
}

// Error returns "router: authentication refused: <reason>: <message>".
func (e *AuthError) Error() string {
	if e.Message == "" {
		return "router: authentication refused: " + string(e.Reason)
	}
	return "router: authentication refused: " + string(e.Reason) + ": " + e.Message
}

// Anonymous admits every client without credentials: authmethod and
// authrole "anonymous", authprovider "static", and a random authid such
// as "ZR6F-KQ7A-3YMT-HJ2C" (80 random bits), new for every session.
//
// HELLO.Details.authid is ignored: the authid is the identity the router
// vouches for (WELCOME.Details.authid, spec advanced "Authentication"),
// and other sessions act on it (eligible_authid and exclude_authid,
// caller_authid and publisher_authid, wamp.session.kill_by_authid), so an
// anonymous client must not be able to take a principal's authid by
// asking for it. A client that needs a stable identity should
// authenticate with a method that proves it.
type Anonymous struct {
	// AuthRole is the role given to anonymous sessions. Empty means
	// "anonymous".
	AuthRole string
}

// AuthMethod returns "anonymous".
func (Anonymous) AuthMethod() string { return "anonymous" }

// Authenticate admits the client with a random authid, whatever
// req.AuthID is.
func (a Anonymous) Authenticate(context.Context, *AuthRequest, Challenger) (*Identity, error) {
	role := a.AuthRole
	if role == "" {
		role = "anonymous"
	}
	return &Identity{AuthID: randomAuthID(), AuthRole: role, AuthMethod: "anonymous", AuthProvider: "static"}, nil
}

// randomAuthID returns a random authid like "ZR6F-KQ7A-3YMT-HJ2C".
func randomAuthID() string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789" // 32 symbols, no 0/O/1/I
	var b [16]byte
	rand.Read(b[:])
	out := make([]byte, 0, 19)
	for i, c := range b {
		if i > 0 && i%4 == 0 {
			out = append(out, '-')
		}
		out = append(out, alphabet[c%32])
	}
	return string(out)
}

// authChallenger is the Challenger of one session's handshake. Its
// receives are bounded by ctx, the handshake's: a Challenge returns when
// the handshake's time is up even if the Authenticator passes a context
// without that bound.
type authChallenger struct {
	s   *session
	ctx context.Context
}

func (c authChallenger) Challenge(ctx context.Context, method string, extra protocol.Dict) (*protocol.Authenticate, error) {
	if err := c.ctx.Err(); err != nil {
		return nil, context.Cause(c.ctx)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := c.s.peer.Send(ctx, &protocol.Challenge{AuthMethod: method, Extra: extra}); err != nil {
		return nil, fmt.Errorf("router: send CHALLENGE: %w", err)
	}
	c.s.r.countOut(c.s, protocol.TypeChallenge, 1)
	rctx, cancel := context.WithCancelCause(c.ctx)
	defer cancel(nil)
	stop := context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) })
	defer stop()
	m, err := c.s.recv(rctx)
	switch {
	case errors.Is(err, protocol.ErrMalformed):
		return nil, &violation{msg: err.Error()}
	case err != nil && rctx.Err() != nil:
		return nil, fmt.Errorf("router: wait for AUTHENTICATE: %w", context.Cause(rctx))
	case err != nil:
		return nil, fmt.Errorf("router: wait for AUTHENTICATE: %w", err)
	case isNil(m):
		return nil, &violation{msg: "nil message"}
	}
	c.s.countIn(m.Type())
	a, ok := m.(*protocol.Authenticate)
	if !ok {
		return nil, violationf("expected AUTHENTICATE, got %v", m.Type())
	}
	return a, nil
}

// refusal returns the ABORT reason and message for an Authenticate that
// returned err, or no Identity and no error.
func refusal(err error) (protocol.URI, string) {
	var ae *AuthError
	var ve *violation
	switch {
	case errors.As(err, &ae):
		return ae.Reason, ae.Message
	case errors.As(err, &ve):
		return protocol.ErrProtocolViolation, ve.msg
	case errors.Is(err, errHandshakeTimeout):
		return protocol.ErrTimeout, "handshake timed out"
	case errors.Is(err, errAuthTimeout) || errors.Is(err, context.DeadlineExceeded):
		return protocol.ErrTimeout, "authentication timed out"
	}
	return protocol.ErrAuthenticationFailed, "authentication failed"
}
