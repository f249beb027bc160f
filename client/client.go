package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wampkit/wampkit/internal/recent"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/transport"
)

// Client is a WAMP session joined to a realm: it calls, registers,
// publishes and subscribes. Create one with [Join] or [Dial]; end it with
// [Client.Close] or [Client.Leave]. All methods may be called concurrently.
type Client struct {
	peer    transport.Peer
	cfg     Config
	log     *slog.Logger
	session protocol.ID
	details protocol.Dict  // WELCOME.Details, read-only
	roles   protocol.Roles // parsed WELCOME.Details.roles, read-only
	// canCancel reports that the dealer announced call_canceling, so a call
	// whose context ends sends CANCEL.
	canCancel bool
	// canStream reports that the dealer announced
	// progressive_call_invocations, so DoStream may be used.
	canStream bool

	// ctx is the context of the client's own sends; cancel ends it when
	// the session ends. (Invocation handlers get an invContext each, which
	// finish cancels.)
	ctx    context.Context
	cancel context.CancelFunc
	// answerCtx bounds the answers to invocations that wait for room in
	// the outbound queue (see sendAnswerLocked); Leave and finish cancel
	// it. answering counts those answers; Leave waits for them before it
	// sends GOODBYE, so that nothing follows GOODBYE. Add is called under
	// mu in StateEstablished only.
	answerCtx    context.Context
	answerCancel context.CancelFunc
	answering    sync.WaitGroup

	// wg counts the reader, the subscription goroutines and the invocation
	// workers. Only the reader starts goroutines, so Add never races with a
	// Wait that could see zero.
	wg sync.WaitGroup

	done chan struct{} // closed by finish when the session has ended

	// mu guards the fields below. Requests are numbered and sent while
	// holding mu, so request ids reach the router in order (WAMP spec,
	// basic/building_blocks.md, "IDs": session scope, sequential); so are
	// GOODBYE and the answers to invocations, so nothing follows GOODBYE.
	// This is safe because peer.Send never blocks. No other lock is taken
	// while mu is held (Subscription.mu is never held together with it).
	mu sync.Mutex
	// state is StateEstablished, StateShuttingDown (we sent GOODBYE),
	// StateClosing (the router sent GOODBYE) or StateClosed (finish ran).
	state protocol.State
	// stateCopy is state, for the reader to load without taking mu
	// (stored under mu by setStateLocked).
	stateCopy atomic.Uint32
	cause     error       // why the session ended (Err); set by finish
	closeErr  error       // ErrClosed wrapping cause; set by finish
	lastID    protocol.ID // last request id sent
	pend      map[protocol.ID]*pending
	subs      map[protocol.ID][]*subscriber // by router subscription id; copy on write
	// subsGen counts the changes of subs (written under mu), so that the
	// reader's subsCache knows when to look again.
	subsGen atomic.Uint64
	// unsubscribing counts the UNSUBSCRIBEs in flight per subscription id:
	// a SUBSCRIBED naming such an id is for a subscription the router is
	// about to remove, so that Subscribe is sent again (see reply).
	unsubscribing map[protocol.ID]int
	regs          map[protocol.ID]*Registration
	invs          map[protocol.ID]*invocation // running invocations by INVOCATION.Request
	idle          []*worker                   // parked invocation workers, at most maxIdleWorkers
	// carried counts the invocations taken by carry that have not
	// ended (see carry.go).
	carried int
	// chunks holds the queued chunks of the running progressive
	// invocations, by INVOCATION.Request.
	chunks map[protocol.ID]*chunks
	// ended holds the request IDs of the last progressive invocations
	// that ended: their late chunks are discarded (see invoke, spec
	// "Continuations on Completed Calls").
	ended recent.IDs

	// Reader only.
	subsCache subsCache // last lookup in subs
	events    []Event   // the rest of the current block of Events (newEvent)
}

// Join establishes a WAMP session over peer (WAMP spec,
// basic/sessions.md, "Session Establishment"): it sends HELLO for
// cfg.Realm, answers CHALLENGEs with cfg.Auth, and returns when the router
// sends WELCOME. peer can be any transport, including the in-process end of
// [transport.LocalPair] or a router's in-process connection.
//
// cfg.Realm must be a valid URI (spec basic "URIs", loose rules), else Join
// fails before sending anything.
//
// Join takes ownership of peer: it closes peer when it fails, and the
// Client closes it when the session ends. If the router refuses the session
// with ABORT, the error wraps an [*AbortError] carrying the reason URI (for
// example wamp.error.no_such_realm). If ctx ends first, or
// cfg.ResponseTimeout passes when ctx has no deadline, Join closes peer and
// returns ctx's error or [ErrResponseTimeout].
func Join(ctx context.Context, peer transport.Peer, cfg Config) (*Client, error) {
	if cfg.Realm == "" {
		peer.Close(ErrNoRealm)
		return nil, ErrNoRealm
	}
	if err := protocol.CheckURI(cfg.Realm, false); err != nil {
		peer.Close(err)
		return nil, wrap(err, "client: join realm")
	}
	cfg = cfg.withDefaults()
	ctx, cancel := withTimeout(ctx, cfg.ResponseTimeout)
	defer cancel()
	welcome, err := handshake(ctx, peer, cfg)
	if err != nil {
		peer.Close(err)
		return nil, wrap(err, "client: join realm %q", cfg.Realm)
	}
	c := &Client{
		peer:          peer,
		cfg:           cfg,
		log:           cfg.Logger,
		session:       welcome.Session,
		details:       welcome.Details,
		state:         protocol.StateEstablished,
		done:          make(chan struct{}),
		pend:          make(map[protocol.ID]*pending),
		subs:          make(map[protocol.ID][]*subscriber),
		unsubscribing: make(map[protocol.ID]int),
		regs:          make(map[protocol.ID]*Registration),
		invs:          make(map[protocol.ID]*invocation),
	}
	if roles, err := protocol.ParseRoles(welcome.Details); err == nil {
		c.roles = roles
		c.canCancel = roles.Supports(protocol.RoleDealer, protocol.FeatureCallCanceling)
		c.canStream = roles.Supports(protocol.RoleDealer, protocol.FeatureProgressiveCallInvocations)
	} else {
		c.log.Warn("client: WELCOME without valid roles; assuming no advanced features",
			"session", c.session, "error", err)
	}
	c.stateCopy.Store(uint32(c.state))
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.answerCtx, c.answerCancel = context.WithCancel(c.ctx)
	if p, ok := peer.(transport.Pusher); ok {
		p.SetPush(c.push)
	}
	if p, ok := peer.(transport.Carrier); ok {
		p.SetCarry(c.carry)
	}
	c.wg.Add(1)
	go c.readLoop()
	return c, nil
}

// push takes a message an in-process link offers on the router's
// goroutine (see transport.Pusher): the answer to a call, which wakes the
// caller, and a new INVOCATION, which goes to a worker, so that neither
// waits for the reader. It declines the rest, and any message it cannot
// take without waiting for c.mu; the reader gets those in order.
func (c *Client) push(m protocol.Message) bool {
	switch m := m.(type) {
	case *protocol.Result:
		return c.pushResult(m)
	case *protocol.Invocation:
		return c.pushInvocation(m)
	}
	return false
}

// pushResult is reply for a RESULT pushed by an in-process link: it takes
// the answer to a pending call that still waits, when c.mu is free. It
// keeps a final RESULT's fields, not the message (see transport.Pusher).
func (c *Client) pushResult(m *protocol.Result) bool {
	if !c.mu.TryLock() {
		return false
	}
	p := c.pend[m.Request]
	if c.state != protocol.StateEstablished || p == nil || p.kind != protocol.TypeCall || p.abandoned {
		c.mu.Unlock()
		return false
	}
	if !m.Details.Bool("progress") {
		delete(c.pend, m.Request)
		// The router may reuse a final RESULT it pushed (see
		// transport.Pusher): keep a copy.
		p.result = *m
		m = &p.result
	}
	p.msgs = append(p.msgs, m)
	c.mu.Unlock()
	p.wake()
	return true
}

// helloAuthExtra merges the authextra of every extraAuthenticator in
// cfg.Auth with cfg.AuthExtra, which wins where both set a key. It
// returns nil when there is nothing to send.
func helloAuthExtra(cfg Config) map[string]any {
	var extra map[string]any
	for _, a := range cfg.Auth {
		if ea, ok := a.(extraAuthenticator); ok {
			for k, v := range ea.AuthExtra() {
				if extra == nil {
					extra = make(map[string]any)
				}
				extra[k] = v
			}
		}
	}
	if extra == nil {
		if cfg.AuthExtra == nil {
			return nil
		}
		return map[string]any(cfg.AuthExtra)
	}
	for k, v := range cfg.AuthExtra {
		extra[k] = v
	}
	return extra
}

// handshake sends HELLO and reads until WELCOME. A goroutine closes peer if
// ctx ends, which unblocks Recv.
func handshake(ctx context.Context, peer transport.Peer, cfg Config) (*protocol.Welcome, error) {
	// Authenticators with state (SCRAM's nonces) get a fresh copy per
	// handshake, so that a Config can serve concurrent and repeated Joins.
	hs := handshakeInfo{authID: cfg.AuthID}
	if ts, ok := peer.(transport.TLSStater); ok {
		hs.tls = ts.TLSConnectionState()
	}
	auths := make([]Authenticator, len(cfg.Auth))
	for i, a := range cfg.Auth {
		if h, ok := a.(handshaker); ok {
			a = h.forHandshake(hs)
		}
		auths[i] = a
	}
	cfg.Auth = auths
	details := make(protocol.Dict, len(cfg.HelloDetails)+5)
	for k, v := range cfg.HelloDetails {
		details[k] = v
	}
	details["roles"] = clientRoles(cfg.PayloadPassthru)
	details["agent"] = cfg.Agent
	if cfg.AuthID != "" {
		details["authid"] = cfg.AuthID
	}
	if len(cfg.Auth) > 0 {
		methods := make([]any, len(cfg.Auth))
		for i, a := range cfg.Auth {
			methods[i] = a.Method()
		}
		details["authmethods"] = methods
	}
	if extra := helloAuthExtra(cfg); extra != nil {
		details["authextra"] = extra
	}

	stop := context.AfterFunc(ctx, func() { peer.Close(context.Cause(ctx)) })
	welcome, err := handshakeLoop(ctx, peer, cfg, &protocol.Hello{Realm: cfg.Realm, Details: details})
	if !stop() {
		// ctx ended: the peer is (being) closed, whatever we read.
		return nil, context.Cause(ctx)
	}
	return welcome, err
}

func handshakeLoop(ctx context.Context, peer transport.Peer, cfg Config, hello *protocol.Hello) (*protocol.Welcome, error) {
	if err := peer.Send(ctx, hello); err != nil {
		return nil, err
	}
	for {
		m, err := peer.Recv()
		if err != nil {
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			return nil, err
		}
		switch m := m.(type) {
		case *protocol.Welcome:
			if err := checkWelcome(cfg.Auth, m.Details); err != nil {
				return nil, err
			}
			return m, nil
		case *protocol.Abort:
			return nil, &AbortError{Reason: m.Reason, Details: m.Details, Args: m.Args, Kwargs: m.Kwargs}
		case *protocol.Challenge:
			auth, err := answer(ctx, cfg.Auth, m)
			if err != nil {
				abort(ctx, peer, protocol.ErrAuthenticationFailed, err.Error())
				return nil, err
			}
			if err := peer.Send(ctx, auth); err != nil {
				return nil, err
			}
		default:
			// Anything else before WELCOME fails the session (WAMP spec,
			// basic/sessions.md, "Protocol Errors").
			msg := fmt.Sprintf("unexpected message type %v during session establishment", m.Type())
			abort(ctx, peer, protocol.ErrProtocolViolation, msg)
			return nil, fmt.Errorf("%w: %s", ErrProtocolViolation, msg)
		}
	}
}

// handshaker is an Authenticator with state of its own per handshake:
// Join authenticates with forHandshake's result, made for HELLO's authid
// and the transport's TLS connection.
type handshaker interface {
	forHandshake(hs handshakeInfo) Authenticator
}

// handshakeInfo is what a handshaker needs to know of one handshake.
type handshakeInfo struct {
	authID string               // HELLO.Details.authid, or ""
	tls    *tls.ConnectionState // the transport's TLS connection, or nil
}

// welcomeChecker is an Authenticator that checks the router's WELCOME
// (mutual authentication, as WAMP-SCRAM's verifier).
type welcomeChecker interface {
	checkWelcome(details protocol.Dict) error
}

// checkWelcome lets the authenticator of WELCOME.Details.authmethod check
// the WELCOME, if it is a welcomeChecker.
func checkWelcome(auths []Authenticator, details protocol.Dict) error {
	method := details.String("authmethod")
	for _, a := range auths {
		if a.Method() != method {
			continue
		}
		if wc, ok := a.(welcomeChecker); ok {
			if err := wc.checkWelcome(details); err != nil {
				return wrap(err, "client: authenticate %q", method)
			}
		}
		return nil
	}
	return nil
}

func answer(ctx context.Context, auths []Authenticator, ch *protocol.Challenge) (*protocol.Authenticate, error) {
	for _, a := range auths {
		if a.Method() == ch.AuthMethod {
			auth, err := a.Authenticate(ctx, ch)
			if err != nil {
				return nil, wrap(err, "client: authenticate %q", ch.AuthMethod)
			}
			if auth == nil {
				return nil, fmt.Errorf("client: authenticate %q: nil AUTHENTICATE", ch.AuthMethod)
			}
			if auth.Extra == nil {
				auth.Extra = protocol.Dict{}
			}
			return auth, nil
		}
	}
	return nil, fmt.Errorf("%w %q", ErrNoAuthenticator, ch.AuthMethod)
}

// abort sends ABORT with reason and Details.message (best effort).
func abort(ctx context.Context, peer transport.Peer, reason protocol.URI, msg string) {
	_ = peer.Send(ctx, &protocol.Abort{Details: protocol.Dict{"message": msg}, Reason: reason})
}

// withTimeout returns ctx bounded by d (cause ErrResponseTimeout) when ctx
// has no deadline and d > 0.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok || d <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeoutCause(ctx, d, ErrResponseTimeout)
}

// SessionID returns the session id the router assigned in WELCOME.
func (c *Client) SessionID() protocol.ID { return c.session }

// Realm returns the realm the session joined.
func (c *Client) Realm() protocol.URI { return c.cfg.Realm }

// WelcomeDetails returns WELCOME.Details as sent by the router: its roles,
// and after authentication authid, authrole, authmethod and so on. The
// returned Dict must not be modified.
func (c *Client) WelcomeDetails() protocol.Dict { return c.details }

// RouterRoles returns the roles and features the router announced in
// WELCOME.Details.roles, for example to check
// RouterRoles().Supports(protocol.RoleDealer, protocol.FeatureProgressiveCallResults).
// It is nil if the router announced none. It must not be modified.
func (c *Client) RouterRoles() protocol.Roles { return c.roles }

// Done returns a channel that is closed when the session has ended, by
// Close, Leave, the router (GOODBYE or ABORT), a protocol violation or the
// transport failing. [Client.Err] then tells why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns nil while the session is open. After Done is closed it
// returns why the session ended: [ErrClosed] after Close or Leave, an
// [*AbortError] or [*GoodbyeError] when the router ended it, an error
// wrapping [ErrProtocolViolation] when the router broke the protocol, or
// the transport's error.
func (c *Client) Err() error {
	select {
	case <-c.done:
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.cause
	default:
		return nil
	}
}

// Close leaves the session gracefully: it sends GOODBYE
// wamp.close.close_realm, waits at most Config.CloseTimeout for the router's
// echo, closes the transport, and returns after every goroutine the client
// started has exited -- including handlers, whose contexts are canceled
// (a handler that ignores its context delays Close; a handler must not call
// Close itself, except from a new goroutine). Requests still pending fail
// with an error wrapping [ErrClosed]. Close returns nil, or ErrClosed if the
// session had already ended before Close; it is safe to call more than once.
func (c *Client) Close() error {
	ctx := context.Background()
	if c.cfg.CloseTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.CloseTimeout)
		defer cancel()
	} else {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		cancel()
	}
	return c.Leave(ctx)
}

// Leave is Close with a context that bounds the wait for the router's echo
// instead of Config.CloseTimeout. When ctx ends first, Leave closes the
// transport anyway; it always returns after the client's goroutines have
// exited. Its result is that of Close.
func (c *Client) Leave(ctx context.Context) error {
	c.mu.Lock()
	first := c.state == protocol.StateEstablished
	if first {
		c.setStateLocked(protocol.StateShuttingDown)
		// Pending requests fail now; replies other than the GOODBYE echo
		// are ignored from here on (WAMP spec, basic/sessions.md: SHUTTING
		// DOWN ignores everything but GOODBYE).
		c.failPendingLocked(ErrClosed)
	}
	c.mu.Unlock()
	if first {
		// Answers still waiting for room give up (the router fails their
		// calls when the session ends), and GOODBYE goes out after them.
		c.answerCancel()
		c.answering.Wait()
		c.mu.Lock()
		if c.state == protocol.StateShuttingDown {
			_ = c.peer.Send(context.Background(), &protocol.Goodbye{Details: protocol.Dict{}, Reason: protocol.CloseRealm})
		}
		c.mu.Unlock()
	}
	// Wait for the echo (or for a concurrent Close, or for the router's
	// own GOODBYE exchange to finish).
	select {
	case <-c.done:
	case <-ctx.Done():
	}
	c.peer.Close(ErrClosed)
	c.wg.Wait()
	if !first {
		return ErrClosed
	}
	return nil
}

// readLoop is the session's reader: it receives every message and
// dispatches it, never blocking on handlers.
func (c *Client) readLoop() {
	defer c.wg.Done()
	var cause error
	for {
		m, err := c.peer.Recv()
		if err != nil {
			cause = err
			if errors.Is(err, protocol.ErrMalformed) {
				// A message that does not decode is a protocol error the
				// router must hear about (WAMP spec, basic/sessions.md,
				// "Protocol Errors").
				cause = c.violation("%v", err)
			}
			break
		}
		if cause = c.dispatch(m); cause != nil {
			break
		}
	}
	c.finish(cause)
}

// finish ends the session: it records cause, closes the transport, fails
// every pending request, stops subscriptions and cancels invocations.
// Only the reader calls it, once.
func (c *Client) finish(cause error) {
	c.mu.Lock()
	if c.state == protocol.StateShuttingDown {
		// We sent GOODBYE: however the session ended, it was our close.
		cause = ErrClosed
	}
	c.setStateLocked(protocol.StateClosed)
	c.cause = cause
	if errors.Is(cause, ErrClosed) {
		c.closeErr = ErrClosed
	} else {
		c.closeErr = &closedError{cause: cause}
	}
	c.failPendingLocked(c.closeErr)
	subs := c.subs
	invs := c.invs
	idle := c.idle
	for id, r := range c.regs {
		r.id.CompareAndSwap(uint64(id), 0)
	}
	for id, list := range c.subs {
		for _, sb := range list {
			sb.sub.id.CompareAndSwap(uint64(id), 0)
		}
	}
	c.subs = nil
	c.subsGen.Add(1)
	c.regs = nil
	c.invs = nil
	c.chunks = nil
	c.idle = nil
	c.mu.Unlock()

	c.peer.Close(cause)
	c.cancel()
	for _, x := range invs {
		x.ctx.cancel(c.closeErr)
	}
	for _, w := range idle {
		close(w.jobs)
	}
	for _, list := range subs {
		for _, sb := range list {
			sb.stop()
		}
	}
	close(c.done)
}

// setStateLocked sets the session state. c.mu must be held.
func (c *Client) setStateLocked(s protocol.State) {
	c.state = s
	c.stateCopy.Store(uint32(s))
}

// errClosedLocked returns the error a request fails with once the session
// is no longer established. c.mu must be held.
func (c *Client) errClosedLocked() error {
	if c.closeErr != nil {
		return c.closeErr
	}
	return ErrClosed
}

// failPendingLocked fails every pending request with err. c.mu must be held.
func (c *Client) failPendingLocked(err error) {
	for id, p := range c.pend {
		delete(c.pend, id)
		p.err = err
		p.wake()
	}
}

// violation ends the session after the router broke the protocol: ABORT
// wamp.error.protocol_violation (WAMP spec, basic/sessions.md, "Protocol
// Errors"). It returns the session's end cause.
func (c *Client) violation(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	c.log.Warn("client: router broke the protocol; aborting session", "session", c.session, "error", msg)
	abort(context.Background(), c.peer, protocol.ErrProtocolViolation, msg)
	return fmt.Errorf("%w: %s", ErrProtocolViolation, msg)
}

// dispatch handles one message from the router on the reader goroutine.
// It returns non-nil when the session ends.
func (c *Client) dispatch(m protocol.Message) error {
	// Only the reader changes the state to anything but
	// StateShuttingDown, and a message that races with Leave is handled
	// either way, as when the lock was taken.
	state := protocol.State(c.stateCopy.Load())
	// One table decides what a client may receive in which state (WAMP
	// spec, basic/sessions.md, "Session Lifecycle" and "Protocol Errors").
	switch _, action := protocol.ReceiveMessage(protocol.SideClient, state, m); action {
	case protocol.VerdictViolation:
		if e, ok := m.(*protocol.Error); ok {
			return c.violation("ERROR for request type %v", e.RequestType)
		}
		return c.violation("unexpected message type %v in state %v", m.Type(), state)
	case protocol.VerdictIgnore:
		return nil
	}
	if state == protocol.StateShuttingDown {
		switch m := m.(type) {
		case *protocol.Goodbye:
			return ErrClosed // the echo
		case *protocol.Abort:
			return &AbortError{Reason: m.Reason, Details: m.Details, Args: m.Args, Kwargs: m.Kwargs}
		}
		return nil
	}
	switch m := m.(type) {
	case *protocol.Result:
		return c.reply(m.Request, protocol.TypeCall, m, !m.Details.Bool("progress"))
	case *protocol.Error:
		// ReceiveMessage checked that a client may get an ERROR for
		// m.RequestType; reply checks it matches the request.
		return c.reply(m.Request, m.RequestType, m, true)
	case *protocol.Event:
		c.event(m)
		return nil
	case *protocol.Invocation:
		return c.invoke(m)
	case *protocol.Interrupt:
		c.interrupt(m)
		return nil
	case *protocol.Subscribed:
		return c.reply(m.Request, protocol.TypeSubscribe, m, true)
	case *protocol.Unsubscribed:
		if m.Request == 0 {
			c.revokeSubscription(m.Details)
			return nil
		}
		return c.reply(m.Request, protocol.TypeUnsubscribe, m, true)
	case *protocol.Published:
		return c.reply(m.Request, protocol.TypePublish, m, true)
	case *protocol.Registered:
		return c.reply(m.Request, protocol.TypeRegister, m, true)
	case *protocol.Unregistered:
		if m.Request == 0 {
			c.revokeRegistration(m.Details)
			return nil
		}
		return c.reply(m.Request, protocol.TypeUnregister, m, true)
	case *protocol.Goodbye:
		// The router closes the session; echo (WAMP spec, basic/sessions.md,
		// "Session Closing").
		c.mu.Lock()
		c.setStateLocked(protocol.StateClosing) // nothing more may be sent but the echo
		c.mu.Unlock()
		_ = c.peer.Send(context.Background(), &protocol.Goodbye{Details: protocol.Dict{}, Reason: protocol.CloseGoodbyeAndOut})
		return &GoodbyeError{Reason: m.Reason, Details: m.Details}
	case *protocol.Abort:
		return &AbortError{Reason: m.Reason, Details: m.Details, Args: m.Args, Kwargs: m.Kwargs}
	default:
		// protocol.Receive let through a type this switch does not know.
		return c.violation("unexpected message type %v", m.Type())
	}
}

// reply hands the router's reply m to the pending request id of type want.
// final replies remove the request. A reply for a request that was
// abandoned (its caller's context ended) is dropped, and a late SUBSCRIBED
// or REGISTERED is undone. A reply naming a request never sent, or of the
// wrong kind, is a protocol violation.
func (c *Client) reply(id protocol.ID, want protocol.MessageType, m protocol.Message, final bool) error {
	c.mu.Lock()
	p, ok := c.pend[id]
	if !ok {
		sent := id != 0 && id <= c.lastID
		c.mu.Unlock()
		if !sent {
			return c.violation("reply (type %v) to request %d that was never sent", m.Type(), id)
		}
		c.log.Debug("client: dropping late reply", "session", c.session, "type", m.Type(), "request", id)
		return nil
	}
	if p.kind != want {
		c.mu.Unlock()
		return c.violation("reply type %v to request %d of type %v", m.Type(), id, p.kind)
	}
	if final {
		delete(c.pend, id)
	}
	if p.kind == protocol.TypeUnsubscribe {
		if c.unsubscribing[p.subID]--; c.unsubscribing[p.subID] <= 0 {
			delete(c.unsubscribing, p.subID)
		}
	}
	if sub, ok := m.(*protocol.Subscribed); ok && c.unsubscribing[sub.Subscription] > 0 {
		// The router processed this SUBSCRIBE before our UNSUBSCRIBE of the
		// same (shared) subscription id, which will remove it. Subscribe
		// again: that SUBSCRIBE reaches the router after the UNSUBSCRIBE.
		if !p.abandoned {
			msg := &protocol.Subscribe{Options: p.sub.sub.options, Topic: p.sub.sub.topic}
			if err := c.sendRequestLocked(context.Background(), p, msg); err != nil {
				p.err = err
				p.wake()
			}
		}
		c.mu.Unlock()
		return nil
	}
	if p.abandoned {
		c.undoLocked(p, m)
		c.mu.Unlock()
		return nil
	}
	switch m := m.(type) {
	case *protocol.Subscribed:
		c.addSubscriberLocked(p.sub, m.Subscription)
	case *protocol.Registered:
		if old := c.regs[m.Registration]; old != nil {
			c.log.Warn("client: router reused a registration id; replacing its handler",
				"session", c.session, "registration", m.Registration, "procedure", p.reg.procedure)
			old.id.CompareAndSwap(uint64(m.Registration), 0)
		}
		p.reg.id.Store(uint64(m.Registration))
		c.regs[m.Registration] = p.reg
	}
	p.msgs = append(p.msgs, m)
	c.mu.Unlock()
	// Wake the waiter after unlocking, since it takes c.mu at once. If
	// the waiter took the reply meanwhile and p went back to callPool and
	// out to another call, that call sees one spurious wake-up, which next
	// tolerates (it looks for a reply under c.mu after every wake-up).
	p.wake()
	return nil
}

// undoLocked cleans up after a late SUBSCRIBED or REGISTERED whose
// requester gave up: the router holds a subscription or registration
// nobody wants, so it is released. c.mu must be held.
func (c *Client) undoLocked(p *pending, m protocol.Message) {
	var err error
	switch m := m.(type) {
	case *protocol.Subscribed:
		if len(c.subs[m.Subscription]) > 0 {
			return // another Subscribe of ours shares it
		}
		q := &pending{kind: protocol.TypeUnsubscribe, abandoned: true}
		err = c.unsubscribeLocked(context.Background(), q, m.Subscription)
	case *protocol.Registered:
		q := &pending{kind: protocol.TypeUnregister, abandoned: true}
		err = c.sendRequestLocked(context.Background(), q, &protocol.Unregister{Registration: m.Registration})
	}
	if err != nil {
		c.log.Debug("client: cannot release abandoned subscription/registration", "error", err)
	}
}

// unsubscribeLocked sends UNSUBSCRIBE for the subscription id with pending
// p and counts it in flight. c.mu must be held.
func (c *Client) unsubscribeLocked(ctx context.Context, p *pending, id protocol.ID) error {
	p.subID = id
	if err := c.sendRequestLocked(ctx, p, &protocol.Unsubscribe{Subscription: id}); err != nil {
		return err
	}
	c.unsubscribing[id]++
	return nil
}

// sendRequestLocked numbers msg with the next request id, validates it,
// records p under the id (unless p is nil) and sends msg. On failure
// nothing is recorded and the id is reused; an invalid message gives an
// error wrapping protocol.ErrMalformed. c.mu must be held.
func (c *Client) sendRequestLocked(ctx context.Context, p *pending, msg protocol.Message) error {
	_, err := c.sendRequestCarryLocked(ctx, p, msg, nil)
	return err
}

// sendRequestCarryLocked is sendRequestLocked, which sends msg with
// cr.SendCarry if cr is not nil, and returns the work SendCarry returned
// (see transport.Carrier). c.mu must be held.
func (c *Client) sendRequestCarryLocked(ctx context.Context, p *pending, msg protocol.Message, cr transport.Carrier) (transport.Job, error) {
	if c.state != protocol.StateEstablished {
		return nil, c.errClosedLocked()
	}
	id := protocol.NextID(c.lastID)
	setRequest(msg, id)
	// Refuse here what the router would refuse or a serializer could not
	// encode (a bad URI, say): over a network transport such a message
	// would be dropped after queueing and the request would never end.
	if err := protocol.Validate(msg); err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	var job transport.Job
	var err error
	if cr != nil {
		job, err = cr.SendCarry(ctx, msg)
	} else {
		err = c.peer.Send(ctx, msg)
	}
	if err != nil {
		return nil, fmt.Errorf("client: send: %w", err)
	}
	c.lastID = id
	if p != nil {
		p.id = id
		c.pend[id] = p
	}
	return job, nil
}

// answerRequest returns the INVOCATION request ID a YIELD or ERROR answers.
func answerRequest(m protocol.Message) protocol.ID {
	switch m := m.(type) {
	case *protocol.Yield:
		return m.Request
	case *protocol.Error:
		return m.Request
	}
	return 0
}

func setRequest(m protocol.Message, id protocol.ID) {
	switch m := m.(type) {
	case *protocol.Call:
		m.Request = id
	case *protocol.Publish:
		m.Request = id
	case *protocol.Subscribe:
		m.Request = id
	case *protocol.Unsubscribe:
		m.Request = id
	case *protocol.Register:
		m.Request = id
	case *protocol.Unregister:
		m.Request = id
	default:
		panic(fmt.Sprintf("client: message type %d is not a request", m.Type()))
	}
}

// send sends a message that is not a new request (YIELD, ERROR, CANCEL).
// It never blocks, so it may be called with c.mu held.
// Failures are logged: the session is ending or the link is congested, and
// the router handles the missing message (timeout or session end).
func (c *Client) send(m protocol.Message) {
	if err := c.peer.Send(c.ctx, m); err != nil && !errors.Is(err, transport.ErrClosed) {
		c.log.Warn("client: send failed", "session", c.session, "type", m.Type(), "error", err)
	}
}

// sendAnswerLocked queues a callee's answer to an INVOCATION (YIELD or
// ERROR) and returns the answer it queued or is to queue. An answer the
// transport cannot carry (a payload the serializer cannot encode, or one
// too large for the router) is replaced by ERROR wamp.error.runtime_error,
// logged. Unlike send it never drops the answer for a full queue, as the
// caller would wait for it in vain: if the queue is full it reports wait,
// and the caller must then call awaitRoom with the returned answer after
// unlocking c.mu. Any other failure but the session's end is returned.
// c.mu must be held, and the session established.
func (c *Client) sendAnswerLocked(m protocol.Message) (answer protocol.Message, wait bool, err error) {
	err = c.peer.Send(c.ctx, m)
	if errors.Is(err, transport.ErrEncode) || errors.Is(err, transport.ErrMessageTooBig) {
		c.log.Warn("client: answer to an invocation cannot be sent; sending an error instead",
			"session", c.session, "type", m.Type(), "error", err)
		m = &protocol.Error{RequestType: protocol.TypeInvocation, Request: answerRequest(m),
			Details: protocol.Dict{}, URI: ErrRuntimeError}
		err = c.peer.Send(c.ctx, m)
	}
	if errors.Is(err, transport.ErrQueueFull) {
		if _, ok := c.peer.(transport.Waiter); ok {
			c.answering.Add(1)
			return m, true, nil
		}
	}
	if err == nil || errors.Is(err, transport.ErrClosed) {
		return m, false, nil
	}
	return m, false, err
}

// awaitRoom sends the answer m that sendAnswerLocked could not queue,
// waiting for room up to Config.ResponseTimeout without holding c.mu, so
// that the reader and the other methods go on meanwhile. If there is
// still no room, it ends the session (logged), so that the router
// answers the caller with an error. It runs on the invocation's worker.
func (c *Client) awaitRoom(m protocol.Message) {
	defer c.answering.Done()
	ctx, cancel := withTimeout(c.answerCtx, c.cfg.ResponseTimeout)
	err := c.peer.(transport.Waiter).SendWait(ctx, m)
	cancel()
	if err == nil || errors.Is(err, transport.ErrClosed) || c.answerCtx.Err() != nil {
		return // sent, or the session is ending anyway
	}
	c.failAnswer(m, err)
}

// failAnswer ends the session because the answer m could not be sent.
func (c *Client) failAnswer(m protocol.Message, err error) {
	c.log.Error("client: ending the session: no room for an answer", "session", c.session, "type", m.Type(), "error", err)
	c.peer.Close(fmt.Errorf("client: no room for the answer to an INVOCATION: %w", err))
}
