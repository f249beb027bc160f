package client

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/wampkit/wampkit/protocol"
)

// ErrRuntimeError is the error URI a callee sends when its
// [InvocationHandler] fails with an error that is not a *protocol.Error, or
// panics. The spec predefines no URI for this; wampkit uses the one
// Autobahn and Crossbar.io use. The error's text is logged, not sent: peers
// see only the URI.
const ErrRuntimeError protocol.URI = "wamp.error.runtime_error"

var (
	// ErrClosed is returned by every method of a [Client] once its session
	// has ended or [Client.Close] has begun, and is wrapped by the error that
	// pending requests fail with when the session ends (together with the
	// reason, see [Client.Err]).
	ErrClosed = errors.New("client: session closed")

	// ErrNoRealm is returned by [Join] and [Dial] when Config.Realm is empty.
	ErrNoRealm = errors.New("client: no realm configured")

	// ErrProtocolViolation is the reason ([Client.Err]) a session ends when
	// the router sent a message the client may not receive in its state
	// (WAMP spec, basic/sessions.md, "Protocol Errors"); the client then
	// sends ABORT wamp.error.protocol_violation and closes the transport.
	// [Join] wraps it when the handshake breaks the protocol.
	ErrProtocolViolation = errors.New("client: protocol violation by router")

	// ErrResponseTimeout is the cause of the context of a request that
	// waited Config.ResponseTimeout for the router's reply; the request
	// returns it (see [Config.ResponseTimeout]).
	ErrResponseTimeout = errors.New("client: timed out waiting for the router")

	// ErrBadURL is returned (wrapped) by [Dial] for a URL it cannot use.
	ErrBadURL = errors.New("client: unsupported URL")

	// ErrNoAuthenticator is returned (wrapped) by [Join] when the router
	// sends a CHALLENGE for an authentication method that Config.Auth does
	// not hold; the client aborts the handshake.
	ErrNoAuthenticator = errors.New("client: no authenticator for challenge")

	// ErrNotActive is returned by [Client.Unregister] and
	// [Client.Unsubscribe] for a registration or subscription that was
	// already removed (by an earlier call or by the router revoking it).
	ErrNotActive = errors.New("client: registration or subscription not active")

	// ErrNoProgress is returned by [Invocation.SendProgress] when the caller
	// did not ask for progressive results.
	ErrNoProgress = errors.New("client: caller did not ask for progressive results")

	// ErrNotSupported is returned by [Client.DoStream] when the router did
	// not announce progressive_call_invocations for its dealer role.
	ErrNotSupported = errors.New("client: feature not supported by the router")

	// ErrInterrupted is wrapped by the cause (context.Cause) of an
	// invocation handler's context that the router canceled with
	// INTERRUPT (WAMP spec, advanced/rpc_call_canceling.md), together
	// with context.Canceled; the error also names the INTERRUPT's mode.
	// Compare [ErrClosed], the cause when the session ended.
	ErrInterrupted = errors.New("client: invocation interrupted by the router")

	// ErrStreamDone is returned by [CallStream.Send] and
	// [CallStream.CloseSend] after CloseSend, or once the call has ended
	// ([CallStream.Result] then tells how).
	ErrStreamDone = errors.New("client: call stream done")
)

// AbortError is the ABORT message that refused or ended a session
// (WAMP spec, basic/sessions.md, "Session Establishment" and "Protocol
// Errors"). [Join] returns it (wrapped) when the router refuses the
// session, for example with Reason wamp.error.no_such_realm; [Client.Err]
// returns it when the router aborts an established session. Match it with
// errors.As.
type AbortError struct {
	Reason  protocol.URI
	Details protocol.Dict
	Args    protocol.List
	Kwargs  protocol.Dict
}

// Error returns "client: session aborted: <Reason>" and the router's
// Details.message, if any.
func (e *AbortError) Error() string {
	if msg, ok := e.Details["message"].(string); ok && msg != "" {
		return fmt.Sprintf("client: session aborted: %s: %s", e.Reason, msg)
	}
	return "client: session aborted: " + string(e.Reason)
}

// GoodbyeError is the router's GOODBYE that ended an established session
// (WAMP spec, basic/sessions.md, "Session Closing"), for example with
// Reason wamp.close.system_shutdown or wamp.close.killed. [Client.Err]
// returns it; the client has answered with GOODBYE wamp.close.goodbye_and_out.
type GoodbyeError struct {
	Reason  protocol.URI
	Details protocol.Dict
}

// Error returns "client: router closed the session: <Reason>" and the
// router's Details.message, if any.
func (e *GoodbyeError) Error() string {
	if msg, ok := e.Details["message"].(string); ok && msg != "" {
		return fmt.Sprintf("client: router closed the session: %s: %s", e.Reason, msg)
	}
	return "client: router closed the session: " + string(e.Reason)
}

// interruptError is the cause of an invocation context canceled by
// INTERRUPT: ErrInterrupted, and also context.Canceled, which it is.
type interruptError struct{ mode string }

func (e *interruptError) Error() string {
	return ErrInterrupted.Error() + " (INTERRUPT, mode " + e.mode + ")"
}

func (e *interruptError) Unwrap() []error { return []error{ErrInterrupted, context.Canceled} }

// wrapped is an error that adds context to another error without
// repeating the package prefixes the other error's text starts with.
type wrapped struct {
	msg string
	err error
}

// wrap returns err with the context of format and args before it.
func wrap(err error, format string, args ...any) error {
	return &wrapped{msg: fmt.Sprintf(format, args...), err: err}
}

func (w *wrapped) Error() string { return joinText(w.msg, w.err.Error()) }

func (w *wrapped) Unwrap() error { return w.err }

// closedError is the error of requests that fail because the session
// ended: ErrClosed and the reason.
type closedError struct{ cause error }

func (e *closedError) Error() string { return joinText(ErrClosed.Error(), e.cause.Error()) }

func (e *closedError) Unwrap() []error { return []error{ErrClosed, e.cause} }

// prefixes are the package prefixes of wampkit's errors ("client: ").
var prefixes = []string{"client", "transport", "serialize", "protocol", "router"}

// joinText returns outer + ": " + inner, leaving out of inner each package
// prefix ("transport: ") that outer or inner has already said, so that
// "client: join realm: client: session aborted" reads
// "client: join realm: session aborted".
func joinText(outer, inner string) string {
	seen := make(map[string]bool, 2)
	note := func(s string) {
		for _, seg := range strings.Split(s, ": ") {
			for _, p := range prefixes {
				if seg == p {
					seen[p] = true
				}
			}
		}
	}
	note(outer)
	var b strings.Builder
	b.WriteString(outer)
	for _, seg := range strings.Split(inner, ": ") {
		known := false
		for _, p := range prefixes {
			if seg == p {
				known = true
			}
		}
		if known && seen[seg] {
			continue
		}
		if known {
			seen[seg] = true
		}
		b.WriteString(": ")
		b.WriteString(seg)
	}
	return b.String()
}
