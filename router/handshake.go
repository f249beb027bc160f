package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/transport"
)

// The opening handshake (spec basic "Session Establishment"): HELLO,
// authentication (CHALLENGE and AUTHENTICATE rounds), then WELCOME or
// ABORT. It runs on the session's goroutine, which alone answers the
// client: the time limits only end the context that bounds it, which
// interrupts a receive (see recv) and the Authenticator, and the session's
// goroutine then sends the ABORT and closes the transport.
//
// A refusal is an *AuthError: its Reason and Message become the ABORT's
// (a *violation becomes ABORT wamp.error.protocol_violation).

// handshake runs the opening handshake and reports whether the session
// is established; if not, it has closed the transport.
func (s *session) handshake() bool {
	ctx := bg
	if d := s.r.cfg.HandshakeTimeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, d, errHandshakeTimeout)
		defer cancel()
	}
	hello, err := s.hello(ctx)
	if err == nil {
		actx := ctx
		if d := s.r.cfg.AuthTimeout; d > 0 {
			// Authentication gets its own bound (Config.AuthTimeout),
			// within the handshake's.
			var cancel context.CancelFunc
			actx, cancel = context.WithTimeoutCause(ctx, d, errAuthTimeout)
			defer cancel()
		}
		var a *admission
		if a, err = s.authenticate(actx, hello); err == nil {
			err = s.welcome(a)
		}
	}
	if err == nil {
		return true
	}
	s.refuseHandshake(err)
	return false
}

// refuseHandshake answers the client for err, which ended the handshake,
// and closes the transport.
func (s *session) refuseHandshake(err error) {
	var ae *AuthError
	var v *violation
	switch {
	case errors.As(err, &v):
		s.violation(v.msg)
		s.peer.Close(errProtocolViolation)
	case errors.As(err, &ae):
		s.abort(ae.Reason, ae.Message)
		s.peer.Close(fmt.Errorf("router: session refused: %s", ae.Reason))
	case errors.Is(err, errSessionClosed):
		s.peer.Close(errSessionClosed) // the client's ABORT is never answered
	default:
		if errors.Is(err, errHandshakeTimeout) {
			s.r.log.Info("router: handshake timeout")
		}
		s.peer.Close(err) // the transport failed; nobody to answer
	}
}

// recv receives the next message of the handshake, bounded by ctx: when
// ctx ends the receive is interrupted (the transport stays open, so that
// the session can still answer) and the error wraps ctx's cause. A Peer
// that cannot be interrupted is closed instead.
func (s *session) recv(ctx context.Context) (protocol.Message, error) {
	if rc, ok := s.peer.(transport.RecverContext); ok {
		return rc.RecvContext(ctx)
	}
	stop := context.AfterFunc(ctx, func() { s.peer.Close(context.Cause(ctx)) })
	defer stop()
	return s.peer.Recv()
}

// hello receives the client's HELLO.
func (s *session) hello(ctx context.Context) (*protocol.Hello, error) {
	m, err := s.recv(ctx)
	switch {
	case errors.Is(err, protocol.ErrMalformed):
		return nil, &violation{msg: err.Error()}
	case err != nil && ctx.Err() != nil:
		// No HELLO in time: the client has not spoken WAMP, nothing to
		// answer.
		return nil, fmt.Errorf("%w: %w", errHandshakeTimeout, err)
	case err != nil:
		return nil, err
	case isNil(m):
		return nil, violationf("nil message")
	}
	s.countIn(m.Type())
	hello, ok := m.(*protocol.Hello)
	if !ok && m.Type() == protocol.TypeAbort {
		return nil, errSessionClosed
	}
	if !ok {
		return nil, violationf("expected HELLO, got %v", m.Type())
	}
	return hello, nil
}

// admission is what authenticate decided about a client, for welcome.
type admission struct {
	realm *realm
	auth  Authenticator
	req   *AuthRequest
	idn   *Identity
}

// authenticate checks the client's HELLO and authenticates it for the
// realm it asks for (spec advanced "Authentication").
func (s *session) authenticate(ctx context.Context, hello *protocol.Hello) (*admission, error) {
	if err := protocol.CheckURI(hello.Realm, s.r.cfg.StrictURIs); err != nil {
		return nil, &AuthError{Reason: protocol.ErrInvalidURI, Message: "invalid realm: " + err.Error()}
	}
	rm := s.r.realms[hello.Realm]
	if rm == nil {
		return nil, &AuthError{Reason: protocol.ErrNoSuchRealm, Message: "no realm " + string(hello.Realm)}
	}
	roles, err := protocol.ParseRoles(hello.Details)
	if err != nil {
		return nil, &AuthError{Reason: protocol.ErrProtocolViolation, Message: err.Error()}
	}
	if !roles.Has(protocol.RolePublisher) && !roles.Has(protocol.RoleSubscriber) &&
		!roles.Has(protocol.RoleCaller) && !roles.Has(protocol.RoleCallee) {
		return nil, &AuthError{Reason: protocol.ErrNoSuchRole, Message: "HELLO announces no client role"}
	}
	s.feat = clientFeatures(roles)

	req := &AuthRequest{
		Realm:     hello.Realm,
		AuthID:    hello.Details.String("authid"),
		AuthExtra: hello.Details.Dict("authextra"),
		Hello:     hello,
	}
	for _, v := range hello.Details.List("authmethods") {
		if m, ok := v.(string); ok {
			req.AuthMethods = append(req.AuthMethods, m)
		}
	}
	if len(req.AuthMethods) == 0 {
		req.AuthMethods = []string{"anonymous"}
	}
	if d, ok := s.peer.(transport.Detailer); ok {
		req.Transport = d.TransportDetails()
	}
	if ts, ok := s.peer.(transport.TLSStater); ok {
		req.TLS = ts.TLSConnectionState()
	}
	auth := rm.authenticator(req.AuthMethods)
	if auth == nil {
		return nil, &AuthError{Reason: protocol.ErrNoMatchingAuthMethod, Message: "no acceptable authmethod"}
	}
	if s.r.guard.refuse(req) {
		return nil, &AuthError{Reason: protocol.ErrAuthenticationDenied, Message: ThrottledMessage}
	}
	s.id = s.r.assignID(s)
	req.Session = s.id
	idn, err := auth.Authenticate(ctx, req, authChallenger{s, ctx})
	if err != nil || idn == nil {
		if err != nil && ctx.Err() != nil {
			// The handshake's or authentication's time ran out: say which.
			err = fmt.Errorf("%w: %w", context.Cause(ctx), err)
		}
		s.r.releaseID(s.id)
		reason, msg := refusal(err)
		if v := new(violation); errors.As(err, &v) {
			s.r.guard.failed(req, auth.AuthMethod(), reason, msg, err)
			return nil, v
		}
		s.r.guard.failed(req, auth.AuthMethod(), reason, msg, err)
		return nil, &AuthError{Reason: reason, Message: msg}
	}
	s.r.guard.succeeded(req.Realm, idn.AuthID)
	return &admission{realm: rm, auth: auth, req: req, idn: idn}, nil
}

// clientFeatures returns the client features the router acts on.
func clientFeatures(roles protocol.Roles) features {
	var f features
	f.calleeCancel = roles.Supports(protocol.RoleCallee, protocol.FeatureCallCanceling)
	// Progressive call results need call canceling on the callee too
	// (spec advanced "Progressive Call Results").
	f.calleeProgress = f.calleeCancel && roles.Supports(protocol.RoleCallee, protocol.FeatureProgressiveCallResults)
	// So do progressive call invocations (spec advanced "Progressive
	// Call Invocations").
	f.calleeStreams = f.calleeCancel && roles.Supports(protocol.RoleCallee, protocol.FeatureProgressiveCallInvocations)
	f.callerStreams = roles.Supports(protocol.RoleCaller, protocol.FeatureProgressiveCallInvocations)
	f.pptCaller = roles.Supports(protocol.RoleCaller, protocol.FeaturePayloadPassthruMode)
	f.pptCallee = roles.Supports(protocol.RoleCallee, protocol.FeaturePayloadPassthruMode)
	f.pptPublisher = roles.Supports(protocol.RolePublisher, protocol.FeaturePayloadPassthruMode)
	f.calleeRevocation = roles.Supports(protocol.RoleCallee, protocol.FeatureRegistrationRevocation)
	f.subscriberRevocation = roles.Supports(protocol.RoleSubscriber, protocol.FeatureSubscriptionRevocation)
	return f
}

// welcome joins the authenticated client to its realm and sends WELCOME,
// unless a session limit refuses it.
func (s *session) welcome(a *admission) error {
	rm, idn := a.realm, a.idn
	s.realm = rm
	s.authID = idn.AuthID
	s.authRole = idn.AuthRole
	s.trust = rm.trust[idn.AuthRole]
	s.transport = a.req.Transport
	s.in.subs = make(map[protocol.ID]*subscription)
	s.in.regs = make(map[protocol.ID]*registrant)
	s.rpc.calls = make(map[protocol.ID]*invocation)
	s.rpc.invocations = make(map[protocol.ID]*invocation)
	method, provider := idn.AuthMethod, idn.AuthProvider
	if method == "" {
		method = a.auth.AuthMethod()
	}
	if provider == "" {
		provider = "static"
	}
	s.authMethod, s.authProvider = method, provider
	details := protocol.Dict{
		"roles":        rm.welcomeRoles,
		"agent":        s.r.cfg.Agent,
		"realm":        string(rm.name),
		"authid":       idn.AuthID,
		"authrole":     idn.AuthRole,
		"authmethod":   method,
		"authprovider": provider,
	}
	if idn.AuthExtra != nil {
		details["authextra"] = idn.AuthExtra
	}
	// Before the realm has it: wamp.session.get may read it from then on.
	s.joined = time.Now()
	if msg := rm.join(s); msg != "" {
		s.r.releaseID(s.id)
		s.r.log.Warn("router: session refused", "realm", string(rm.name), "reason", msg)
		return &AuthError{Reason: LimitExceeded, Message: msg}
	}
	// State and WELCOME change together under mu so that a concurrent
	// Shutdown sends GOODBYE either to an established session after its
	// WELCOME, or not at all.
	s.mu.Lock()
	s.state.Store(stateEstablished)
	ok := s.sendOwn(&protocol.Welcome{Session: s.id, Details: details})
	s.mu.Unlock()
	if !ok {
		// The transport is gone; run() sees Recv fail and cleans up.
		s.r.log.Debug("router: WELCOME not delivered", slog.Uint64("session", uint64(s.id)))
	}
	s.r.metrics.joined(s)
	s.r.log.Info("router: session joined", "session", uint64(s.id), "realm", string(rm.name),
		"authid", s.authID, "authrole", s.authRole, "authmethod", s.authMethod,
		"transport", s.transport.String("type"), "remote", s.transport.String("peer"))
	if !s.isCluster() {
		rm.clusterJoined(s)
		rm.broker.publishMeta(metaOnJoin, protocol.List{s.metaDetails()})
	}
	return nil
}
