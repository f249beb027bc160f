package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/transport"
)

// Defaults of the ReconnectConfig fields, as their comments say.
const (
	defaultReconnectMinDelay = 100 * time.Millisecond
	defaultReconnectMaxDelay = 5 * time.Second
)

// ConnState is the connection state of a [Reconnecting] client, reported
// to ReconnectConfig.OnState.
type ConnState int

// The states of a [Reconnecting] client.
const (
	// StateConnected: a session is joined, and every registration and
	// subscription made through the Reconnecting client is active on it
	// (restored after a reconnect); the error is nil.
	StateConnected ConnState = iota + 1
	// StateRestoring: a session is joined, but some registrations or
	// subscriptions could not be restored on it (yet), for example
	// because another session registered the procedure first. The error
	// is a *[RestoreError] that lists them, with the router's refusal of
	// each. The client tries them again after each backoff delay (see
	// ReconnectConfig.MaxDelay) for as long as the session lasts, reports
	// StateRestoring again whenever the list changes, and StateConnected
	// once it is empty.
	StateRestoring
	// StateDisconnected: the session ended; the error is its reason
	// (see [Client.Err]).
	StateDisconnected
	// StateReconnecting: an attempt to dial and join is about to start,
	// after the backoff delay; the error is why the previous attempt
	// failed, or nil for the first attempt.
	StateReconnecting
	// StateClosed: the client stopped for good; the error is nil after
	// [Reconnecting.Close], else why it gave up.
	StateClosed
)

// String returns "connected", "restoring", "disconnected", "reconnecting"
// or "closed".
func (s ConnState) String() string {
	switch s {
	case StateConnected:
		return "connected"
	case StateRestoring:
		return "restoring"
	case StateDisconnected:
		return "disconnected"
	case StateReconnecting:
		return "reconnecting"
	case StateClosed:
		return "closed"
	}
	return fmt.Sprintf("ConnState(%d)", int(s))
}

// ReconnectConfig configures automatic reconnection for
// [DialReconnecting]. The zero value is valid: reconnect forever, with
// delays from 100ms up to 5s.
type ReconnectConfig struct {
	// MinDelay is the shortest delay before an attempt. Zero or negative
	// means 100 milliseconds.
	MinDelay time.Duration
	// MaxDelay caps the delay before an attempt. Zero means 5 seconds; a
	// value below MinDelay means MinDelay.
	//
	// Before attempt n (from 0) the client waits a random duration,
	// uniformly chosen between MinDelay and min(MaxDelay, MinDelay*2^n):
	// exponential backoff with full jitter above the floor, so that many
	// clients of a restarted router do not come back in step. Retries of
	// what could not be restored (StateRestoring) are spaced the same way.
	// Dialing and joining are bounded by Config.ResponseTimeout, and so is
	// each request that restores a registration or subscription.
	MaxDelay time.Duration
	// MaxAttempts is how many failed attempts in a row end reconnecting
	// (the client then reports StateClosed with the last error). Zero or
	// negative means no limit.
	MaxAttempts int
	// OnState, if not nil, is called on every state change, with the error
	// that caused it (see [ConnState]). Calls are made one at a time, from
	// DialReconnecting for the first StateConnected and from the client's
	// reconnect goroutine afterwards; OnState must not block for long and
	// must not call [Reconnecting.Close] except from a new goroutine.
	OnState func(ConnState, error)
	// Connect, if not nil, opens the transport of each session instead of
	// dialing the URL (which is then unused), for example
	// router.Connect for an in-process router. Its peer is passed to [Join].
	Connect func(ctx context.Context) (transport.Peer, error)
}

// Reconnecting is a client that joins a new session whenever its session
// ends for a reason other than [Reconnecting.Close] or a final refusal,
// and restores on the new session every registration and subscription
// made through it. What the router refuses to restore is tried again
// until it succeeds (see [StateRestoring]). Create one with
// [DialReconnecting]; it must be closed with [Reconnecting.Close]. Its
// methods are those of [Client] that outlive a session; all of them may
// be called concurrently.
//
// While no session is joined, Call, Do, Publish, DoPublish, Register and
// Subscribe fail at once with an error wrapping [ErrClosed]; they do not
// wait for the next session.
type Reconnecting struct {
	url string
	cfg Config
	rc  ReconnectConfig

	ctx    context.Context // ended by Close; bounds dialing and restoring
	cancel context.CancelFunc
	done   chan struct{} // closed when the reconnect goroutine exits
	wg     sync.WaitGroup

	// opMu serializes Register, Subscribe, Unregister, Unsubscribe and the
	// restoring of a new session, so that every entry reaches every session.
	// Lock order: opMu before mu.
	opMu sync.Mutex
	regs []*Registration // guarded by opMu
	subs []*Subscription // guarded by opMu
	// missing lists the entries not restored on the current session, nil
	// when there are none. Guarded by opMu.
	missing *RestoreError

	mu     sync.Mutex
	cur    *Client // guarded by mu; nil while disconnected
	err    error   // guarded by mu; why reconnecting stopped
	closed bool    // guarded by mu; Close has begun
}

// errDisconnected is wrapped with ErrClosed by requests made while no
// session is joined.
var errDisconnected = fmt.Errorf("%w: reconnecting", ErrClosed)

// DialReconnecting dials url and joins cfg.Realm as [Dial] does (or uses
// rc.Connect), then keeps a session joined: when the session ends because
// the transport broke or the router sent GOODBYE (for example
// wamp.close.system_shutdown) or ABORT, it waits a backoff delay (see
// ReconnectConfig.MaxDelay), dials and joins again, and re-registers and
// re-subscribes everything registered and subscribed through it. It then
// reports StateConnected, or, if the router refused some of them (another
// session registered a procedure first, say), StateRestoring with a
// *[RestoreError] naming them; it tries those again after each backoff
// delay while the session lasts, and reports StateConnected once they are
// all back.
//
// Reconnecting stops, reporting StateClosed with the reason, when a join is
// refused for good (ABORT wamp.error.no_such_realm, authentication and
// authorization refusals, a bad URL or configuration) or after
// rc.MaxAttempts failed attempts in a row; [Reconnecting.Done] is then
// closed and [Reconnecting.Err] tells why.
//
// ctx bounds the first dial and join only. If they fail, DialReconnecting
// returns the error and does not retry.
func DialReconnecting(ctx context.Context, url string, cfg Config, rc ReconnectConfig) (*Reconnecting, error) {
	rc = rc.withDefaults()
	r := &Reconnecting{url: url, cfg: cfg, rc: rc, done: make(chan struct{})}
	c, err := r.dial(ctx)
	if err != nil {
		return nil, err
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.cur = c
	r.report(StateConnected, nil)
	r.wg.Go(func() { r.run(c) })
	return r, nil
}

func (r *Reconnecting) dial(ctx context.Context) (*Client, error) {
	if r.rc.Connect == nil {
		return Dial(ctx, r.url, r.cfg)
	}
	if r.cfg.Realm == "" {
		return nil, ErrNoRealm
	}
	p, err := r.rc.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return Join(ctx, p, r.cfg)
}

func (r *Reconnecting) report(s ConnState, err error) {
	if r.rc.OnState != nil {
		r.rc.OnState(s, err)
	}
}

// run watches the session c and replaces it when it ends, until Close or
// a final error.
func (r *Reconnecting) run(c *Client) {
	defer close(r.done)
	var final error
	for {
		r.keep(c)
		r.mu.Lock()
		r.cur = nil
		r.mu.Unlock()
		reason := c.Err()
		c.Close() // waits for its goroutines
		if r.ctx.Err() != nil {
			r.stop(nil)
			return
		}
		r.report(StateDisconnected, reason)
		if c, final = r.reconnect(); c == nil {
			r.stop(final)
			return
		}
	}
}

// keep returns when the session c ends or Close is called. Meanwhile it
// tries to restore what is missing on c after every backoff delay,
// reporting StateRestoring when the list of missing entries changes and
// StateConnected when it is empty.
func (r *Reconnecting) keep(c *Client) {
	for attempt := 0; ; attempt++ {
		r.opMu.Lock()
		before := r.missing
		r.opMu.Unlock()
		if before == nil {
			select {
			case <-c.Done():
			case <-r.ctx.Done():
			}
			return
		}
		t := time.NewTimer(r.rc.delay(attempt))
		select {
		case <-t.C:
		case <-c.Done():
			t.Stop()
			return
		case <-r.ctx.Done():
			t.Stop()
			return
		}
		r.opMu.Lock()
		// Unregister and Unsubscribe drop entries from r.missing.
		cur := r.missing
		if cur != nil {
			r.missing = r.restoreLocked(c, cur.Registrations, cur.Subscriptions)
		}
		after := r.missing
		r.opMu.Unlock()
		if c.Err() != nil || r.ctx.Err() != nil {
			return // the failures are the session's, not the entries'
		}
		switch {
		case after == nil:
			r.report(StateConnected, nil)
		case !after.same(before):
			r.report(StateRestoring, after)
		}
	}
}

// reconnect dials and joins until it has a session, Close is called (nil,
// nil) or it gives up (nil, the reason). It restores every entry on the
// new session and reports StateConnected, or StateRestoring with what it
// could not restore.
func (r *Reconnecting) reconnect() (*Client, error) {
	var last error
	for attempt := 0; r.rc.MaxAttempts <= 0 || attempt < r.rc.MaxAttempts; attempt++ {
		r.report(StateReconnecting, last)
		t := time.NewTimer(r.rc.delay(attempt))
		select {
		case <-t.C:
		case <-r.ctx.Done():
			t.Stop()
			return nil, nil
		}
		// Bound the attempt: dialing has no timeout of its own.
		actx, cancel := context.WithTimeout(r.ctx, r.cfg.withDefaults().ResponseTimeout)
		c, err := r.dial(actx)
		cancel()
		if err != nil {
			if r.ctx.Err() != nil {
				return nil, nil
			}
			if isFinal(err) {
				return nil, err
			}
			last = err
			continue
		}
		// opMu is held from the restore until c is published, so that
		// no entry is added that c does not have.
		r.opMu.Lock()
		r.missing = r.restoreLocked(c, r.regs, r.subs)
		missing := r.missing
		r.mu.Lock()
		closed := r.closed
		if !closed {
			r.cur = c
		}
		r.mu.Unlock()
		r.opMu.Unlock()
		if closed {
			c.Close()
			return nil, nil
		}
		if missing == nil {
			r.report(StateConnected, nil)
		} else if c.Err() == nil {
			r.report(StateRestoring, missing)
		}
		return c, nil
	}
	return nil, fmt.Errorf("client: gave up reconnecting after %d attempts: %w", r.rc.MaxAttempts, last)
}

// restoreLocked registers and subscribes on c those of regs and subs that
// are not active there, and returns what failed, or nil. r.opMu must be
// held.
func (r *Reconnecting) restoreLocked(c *Client, regs []*Registration, subs []*Subscription) *RestoreError {
	var e RestoreError
	for _, reg := range regs {
		if c.registered(reg) {
			continue
		}
		if err := c.register(r.ctx, reg); err != nil {
			e.Registrations = append(e.Registrations, reg)
			e.errs = append(e.errs, named(err, "register", reg.procedure))
		}
	}
	for _, sub := range subs {
		if c.subscribed(sub) {
			continue
		}
		if err := c.subscribe(r.ctx, sub); err != nil {
			e.Subscriptions = append(e.Subscriptions, sub)
			e.errs = append(e.errs, named(err, "subscribe", sub.topic))
		}
	}
	if e.errs == nil {
		return nil
	}
	return &e
}

// named returns err, which a request for uri failed with, naming the
// request if err does not (a router's refusal does).
func named(err error, request string, uri protocol.URI) error {
	var werr *protocol.Error
	if errors.As(err, &werr) {
		return err
	}
	return wrap(err, "client: %s %s", request, uri)
}

// RestoreError is the error of [StateRestoring]: the registrations and
// subscriptions of a [Reconnecting] client that are not active on its
// current session, because the router refused to restore them. It wraps
// each refusal, so errors.As finds the *protocol.Error of one, such as
// wamp.error.procedure_already_exists.
type RestoreError struct {
	Registrations []*Registration
	Subscriptions []*Subscription
	errs          []error // one per entry, registrations first
}

// Error lists what is not restored and why.
func (e *RestoreError) Error() string {
	var b strings.Builder
	b.WriteString("client: not restored: ")
	for i, err := range e.errs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(strings.TrimPrefix(err.Error(), "client: "))
	}
	return b.String()
}

// Unwrap returns the refusals.
func (e *RestoreError) Unwrap() []error { return e.errs }

// same reports whether e and o list the same entries.
func (e *RestoreError) same(o *RestoreError) bool {
	if e == nil || o == nil {
		return e == o
	}
	return slices.Equal(e.Registrations, o.Registrations) && slices.Equal(e.Subscriptions, o.Subscriptions)
}

// stop records why reconnecting ended and reports StateClosed.
func (r *Reconnecting) stop(err error) {
	r.mu.Lock()
	r.err = err
	if err == nil {
		r.err = ErrClosed
	}
	r.mu.Unlock()
	r.report(StateClosed, err)
}

// isFinal reports whether a failed join should not be retried.
func isFinal(err error) bool {
	var ab *AbortError
	if errors.As(err, &ab) {
		switch ab.Reason {
		case protocol.ErrNoSuchRealm, protocol.ErrNoSuchRole, protocol.ErrNoSuchPrincipal,
			protocol.ErrAuthenticationDenied, protocol.ErrAuthenticationFailed,
			protocol.ErrNotAuthorized:
			return true
		}
		return false
	}
	return errors.Is(err, ErrBadURL) || errors.Is(err, ErrNoRealm) ||
		errors.Is(err, ErrNoAuthenticator) || errors.Is(err, protocol.ErrMalformed)
}

// delay returns the delay before reconnect attempt n (counting from 0):
// a random duration, uniformly chosen between MinDelay and
// min(MaxDelay, MinDelay*2^n), with the defaults applied to zero fields.
func (rc ReconnectConfig) delay(n int) time.Duration {
	rc = rc.withDefaults()
	ceil := rc.MinDelay
	for i := 0; i < n && ceil < rc.MaxDelay; i++ {
		if ceil > rc.MaxDelay/2 {
			ceil = rc.MaxDelay
			break
		}
		ceil *= 2
	}
	ceil = min(ceil, rc.MaxDelay)
	if ceil <= rc.MinDelay {
		return rc.MinDelay
	}
	return rc.MinDelay + rand.N(ceil-rc.MinDelay+1)
}

func (rc ReconnectConfig) withDefaults() ReconnectConfig {
	if rc.MinDelay <= 0 {
		rc.MinDelay = defaultReconnectMinDelay
	}
	if rc.MaxDelay == 0 {
		rc.MaxDelay = defaultReconnectMaxDelay
	}
	if rc.MaxDelay < rc.MinDelay {
		rc.MaxDelay = rc.MinDelay
	}
	return rc
}

// Client returns the current session, or nil while none is joined. Use it
// for methods that Reconnecting does not offer; registrations and
// subscriptions made on it directly are not restored.
func (r *Reconnecting) Client() *Client {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur
}

func (r *Reconnecting) client() (*Client, error) {
	if c := r.Client(); c != nil {
		return c, nil
	}
	return nil, errDisconnected
}

// Call is [Client.Call] on the current session.
func (r *Reconnecting) Call(ctx context.Context, procedure protocol.URI, args ...any) (*Result, error) {
	c, err := r.client()
	if err != nil {
		return nil, err
	}
	return c.Call(ctx, procedure, args...)
}

// Do is [Client.Do] on the current session.
func (r *Reconnecting) Do(ctx context.Context, req *CallRequest) (*Result, error) {
	c, err := r.client()
	if err != nil {
		return nil, err
	}
	return c.Do(ctx, req)
}

// DoStream is [Client.DoStream] on the current session. The stream
// belongs to that session: when it ends, Result returns an error wrapping
// [ErrClosed] and Send fails; a new session does not take it over.
func (r *Reconnecting) DoStream(ctx context.Context, req *CallRequest) (*CallStream, error) {
	c, err := r.client()
	if err != nil {
		return nil, err
	}
	return c.DoStream(ctx, req)
}

// Publish is [Client.Publish] on the current session.
func (r *Reconnecting) Publish(ctx context.Context, topic protocol.URI, args ...any) error {
	c, err := r.client()
	if err != nil {
		return err
	}
	return c.Publish(ctx, topic, args...)
}

// DoPublish is [Client.DoPublish] on the current session.
func (r *Reconnecting) DoPublish(ctx context.Context, req *PublishRequest) (protocol.ID, error) {
	c, err := r.client()
	if err != nil {
		return 0, err
	}
	return c.DoPublish(ctx, req)
}

// Register registers handler for procedure on the current session (see
// [Client.Register]) and again on every later session; the
// [Registration] it returns stays the same. It fails, and nothing is
// restored, if the current session refuses the registration.
func (r *Reconnecting) Register(ctx context.Context, procedure protocol.URI, handler InvocationHandler, opts *RegisterOptions) (*Registration, error) {
	reg := newRegistration(procedure, handler, opts)
	r.opMu.Lock()
	defer r.opMu.Unlock()
	c, err := r.client()
	if err != nil {
		return nil, err
	}
	if err := c.register(ctx, reg); err != nil {
		return nil, err
	}
	r.regs = append(r.regs, reg)
	return reg, nil
}

// Unregister removes reg, made by [Reconnecting.Register]: it is no
// longer restored, and is unregistered from the current session, if it
// is registered there. It returns [ErrNotActive] if reg was already
// removed (or not made by r).
func (r *Reconnecting) Unregister(ctx context.Context, reg *Registration) error {
	r.opMu.Lock()
	defer r.opMu.Unlock()
	i := slices.Index(r.regs, reg)
	if i < 0 {
		return ErrNotActive
	}
	r.regs = slices.Delete(r.regs, i, i+1)
	if m := r.missing; m != nil {
		if j := slices.Index(m.Registrations, reg); j >= 0 {
			m = &RestoreError{Registrations: slices.Delete(slices.Clone(m.Registrations), j, j+1),
				Subscriptions: m.Subscriptions, errs: slices.Delete(slices.Clone(m.errs), j, j+1)}
			r.missing = m
		}
	}
	if c := r.Client(); c != nil {
		if err := c.Unregister(ctx, reg); err != nil && !errors.Is(err, ErrNotActive) && !errors.Is(err, ErrClosed) {
			return err
		}
	}
	return nil
}

// Subscribe subscribes handler to topic on the current session (see
// [Client.Subscribe]) and again on every later session; the
// [Subscription] it returns stays the same. It fails, and nothing is
// restored, if the current session refuses the subscription. Events
// published while no session is joined are lost.
func (r *Reconnecting) Subscribe(ctx context.Context, topic protocol.URI, handler EventHandler, opts *SubscribeOptions) (*Subscription, error) {
	sub := newSubscription(topic, handler, opts)
	r.opMu.Lock()
	defer r.opMu.Unlock()
	c, err := r.client()
	if err != nil {
		return nil, err
	}
	if err := c.subscribe(ctx, sub); err != nil {
		return nil, err
	}
	r.subs = append(r.subs, sub)
	return sub, nil
}

// Unsubscribe removes sub, made by [Reconnecting.Subscribe]: it is no
// longer restored, and is unsubscribed from the current session, if it is
// subscribed there. It returns [ErrNotActive] if sub was already removed
// (or not made by r).
func (r *Reconnecting) Unsubscribe(ctx context.Context, sub *Subscription) error {
	r.opMu.Lock()
	defer r.opMu.Unlock()
	i := slices.Index(r.subs, sub)
	if i < 0 {
		return ErrNotActive
	}
	r.subs = slices.Delete(r.subs, i, i+1)
	if m := r.missing; m != nil {
		if j := slices.Index(m.Subscriptions, sub); j >= 0 {
			k := len(m.Registrations) + j
			m = &RestoreError{Registrations: m.Registrations,
				Subscriptions: slices.Delete(slices.Clone(m.Subscriptions), j, j+1), errs: slices.Delete(slices.Clone(m.errs), k, k+1)}
			r.missing = m
		}
	}
	if c := r.Client(); c != nil {
		if err := c.Unsubscribe(ctx, sub); err != nil && !errors.Is(err, ErrNotActive) && !errors.Is(err, ErrClosed) {
			return err
		}
	}
	return nil
}

// Done is closed when the client has stopped for good: after Close, a
// final refusal or MaxAttempts failed attempts.
func (r *Reconnecting) Done() <-chan struct{} { return r.done }

// Err returns nil while the client is running, then why it stopped:
// [ErrClosed] after Close, else the final error (also reported with
// StateClosed).
func (r *Reconnecting) Err() error {
	select {
	case <-r.done:
	default:
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Close stops reconnecting and closes the current session gracefully (see
// [Client.Close]). It returns after every goroutine the client started has
// exited, so it must not be called from a handler or from OnState except on
// a new goroutine. It returns nil, or [ErrClosed] if the client had already
// stopped; it is safe to call more than once.
func (r *Reconnecting) Close() error {
	r.mu.Lock()
	already := r.closed
	r.closed = true
	c := r.cur
	r.mu.Unlock()
	select {
	case <-r.done:
		already = true
	default:
	}
	r.cancel()
	if c != nil {
		c.Close()
	}
	r.wg.Wait()
	if already {
		return ErrClosed
	}
	return nil
}
