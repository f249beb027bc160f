package client

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/wampkit/wampkit/protocol"
)

// noOptions is the empty Options dict of requests without options. Sent
// messages are read-only for every party (see protocol.Message), so one
// value serves all of them and a plain call allocates no map.
var noOptions = protocol.Dict{}

// Result is the outcome of a call: the payload of RESULT, or of a YIELD
// that an [InvocationHandler] returns. Args and Kwargs may be nil. A
// Result received from the router must not be modified.
type Result struct {
	// Args is the positional payload.
	Args protocol.List
	// Kwargs is the keyword payload.
	Kwargs protocol.Dict
	// Details is RESULT.Details as sent by the router (for example
	// "progress": true on a progressive result, or the ppt_* keys read by
	// [PassthruOf]). Ignored in a handler's Result.
	Details protocol.Dict
	// Passthru, in a handler's Result, sends the payload in Payload
	// Passthru Mode (YIELD.Options.ppt_*; see [Passthru]). Nil means a
	// normal payload; it is nil in a received Result.
	Passthru *Passthru
}

// CallRequest is a call with options, for [Client.Do].
type CallRequest struct {
	// Procedure is the procedure to call. Required.
	Procedure protocol.URI
	// Args and Kwargs are the call's payload; nil means none.
	Args   protocol.List
	Kwargs protocol.Dict
	// Timeout, if positive, asks the dealer to cancel the call after this
	// long (CALL.Options.timeout in milliseconds, WAMP spec,
	// advanced/rpc_call_timeout.md); the call then fails with
	// wamp.error.canceled or wamp.error.timeout, as the router decides.
	// Zero means no dealer-side timeout. Independently, the call stops
	// waiting when ctx ends.
	Timeout time.Duration
	// DiscloseMe asks the dealer to tell the callee the caller's session id
	// (CALL.Options.disclose_me, advanced/rpc_caller_identification.md).
	DiscloseMe bool
	// OnProgress, if not nil, asks for progressive results
	// (CALL.Options.receive_progress, advanced/rpc_progressive_call_results.md)
	// and receives each of them, in order, on the goroutine that called Do,
	// before Do returns the final result. If it returns an error, Do stops
	// the call as if ctx had ended (sending CANCEL when the dealer supports
	// it) and returns that error. Nil means progressive results are not
	// requested.
	OnProgress func(*Result) error
	// Passthru, if not nil, sends the payload in Payload Passthru Mode
	// (CALL.Options.ppt_*; see [Passthru]). Nil means a normal payload.
	Passthru *Passthru
	// Options holds extra CALL.Options keys, sent as is; the fields above
	// take precedence. Nil means none.
	Options protocol.Dict
}

// Call calls procedure with positional arguments args and returns its
// result (WAMP spec, basic/remote_procedure_call.md). A [Kwargs] as the
// last of args is sent as the keyword arguments (CALL.ArgumentsKw):
//
//	c.Call(ctx, "com.example.greet", "Ada", client.Kwargs{"shout": true})
//
// Call is [Client.Do] without options.
//
// If the callee or the router answers with ERROR, the error wraps the
// *protocol.Error carrying the URI, Args and Kwargs, and names the
// procedure ("client: call com.example.add: wamp error ..."); match it
// with errors.As.
// When ctx ends before the result arrives, Call returns ctx's error at once,
// sends CANCEL (mode killnowait) if the dealer announced call_canceling,
// and drops the late result.
func (c *Client) Call(ctx context.Context, procedure protocol.URI, args ...any) (*Result, error) {
	x := &callState{msg: protocol.Call{Options: noOptions, Procedure: procedure}}
	var err error
	if x.msg.Args, x.msg.Kwargs, err = copyArgs(&x.args, args); err != nil {
		return nil, err
	}
	return c.call(ctx, x, nil)
}

// inlineArgs is the number of positional arguments that Call and Publish
// keep inside their own allocation.
const inlineArgs = 4

// Kwargs, as the last argument of [Client.Call] or [Client.Publish], is
// sent as the keyword arguments (ArgumentsKw) rather than as a positional
// argument:
//
//	c.Publish(ctx, "com.example.news", "headline", client.Kwargs{"lang": "en"})
//
// Any other dict among the arguments, a protocol.Dict included, is a
// positional argument, as the options of the meta procedures are
// (wamp.subscription.lookup(topic, options)).
type Kwargs protocol.Dict

// errKwargsNotLast is returned by Call and Publish for a Kwargs that is
// not their last argument.
var errKwargsNotLast = errors.New("client: Kwargs must be the last argument")

// copyArgs returns the positional and keyword arguments of args: a Kwargs
// as the last of args is the keyword arguments, the rest are copied, in
// buf if they fit. Copying (rather than keeping args) lets the compiler
// keep the variadic slice of Call and Publish on the caller's stack.
func copyArgs(buf *[inlineArgs]any, args []any) (protocol.List, protocol.Dict, error) {
	var kwargs protocol.Dict
	if n := len(args); n > 0 {
		if d, ok := args[n-1].(Kwargs); ok {
			kwargs, args = protocol.Dict(d), args[:n-1]
		}
	}
	for _, a := range args {
		if _, ok := a.(Kwargs); ok {
			return nil, nil, errKwargsNotLast
		}
	}
	if kwargs != nil && len(args) == 0 {
		return protocol.List{}, kwargs, nil // Arguments must be present before ArgumentsKw
	}
	switch n := len(args); {
	case n == 0:
		return nil, kwargs, nil
	case n <= inlineArgs:
		l := buf[:n:n]
		copy(l, args)
		return l, kwargs, nil
	default:
		return append(protocol.List(nil), args...), kwargs, nil
	}
}

// callState is a CALL, its arguments and the Result that Call returns, in
// one allocation. The Result keeps the CALL's memory alive; the CALL itself
// is the router's to read.
type callState struct {
	msg  protocol.Call
	args [inlineArgs]any
	res  Result
}

// Do makes the call described by req; see [Client.Call] for errors and
// cancellation, and [CallRequest] for the options. req is not retained
// after Do returns and is not modified.
func (c *Client) Do(ctx context.Context, req *CallRequest) (*Result, error) {
	x := &callState{msg: protocol.Call{Options: req.options(false), Procedure: req.Procedure, Args: req.Args, Kwargs: req.Kwargs}}
	if x.msg.Kwargs != nil && x.msg.Args == nil {
		x.msg.Args = protocol.List{} // Arguments must be present before ArgumentsKw
	}
	return c.call(ctx, x, req.OnProgress)
}

// options returns the CALL.Options of req; stream adds progress = true.
func (req *CallRequest) options(stream bool) protocol.Dict {
	if req.Options == nil && req.Timeout <= 0 && !req.DiscloseMe && req.OnProgress == nil && !stream && req.Passthru == nil {
		return noOptions
	}
	opts := make(protocol.Dict, len(req.Options)+4)
	if req.Passthru != nil {
		req.Passthru.addTo(opts)
	}
	for k, v := range req.Options {
		opts[k] = v
	}
	if req.Timeout > 0 {
		opts["timeout"] = req.Timeout.Milliseconds()
	}
	if req.DiscloseMe {
		opts["disclose_me"] = true
	}
	if req.OnProgress != nil {
		opts["receive_progress"] = true
	}
	if stream {
		opts["progress"] = true
	}
	return opts
}

func (c *Client) call(ctx context.Context, x *callState, onProgress func(*Result) error) (*Result, error) {
	msg := &x.msg
	if ctx.Err() != nil {
		return nil, context.Cause(ctx) // nothing sent
	}
	p := getCallPending()
	cr := c.carrierFor(ctx, msg, onProgress)
	c.mu.Lock()
	job, err := c.sendRequestCarryLocked(ctx, p, msg, cr)
	c.mu.Unlock()
	if err != nil {
		putCallPending(p)
		return nil, err
	}
	if job != nil {
		c.runCarried(ctx, job)
	}
	res, err := c.await(ctx, p, msg.Procedure, onProgress, &x.res)
	putCallPending(p) // await returns once p is out of c.pend
	return res, err
}

// await waits for the final answer of the call p and stores a RESULT in
// res. Progressive results go to onProgress (or are ignored if it is
// nil). When ctx ends, or onProgress fails, it gives up on the call and
// sends CANCEL. It returns once p is no longer in c.pend.
func (c *Client) await(ctx context.Context, p *pending, procedure protocol.URI, onProgress func(*Result) error, res *Result) (*Result, error) {
	for {
		m, gaveUp, err := c.next(ctx, p)
		if gaveUp {
			c.cancelCall(p.id)
			return nil, err
		}
		if err != nil {
			return nil, err
		}
		switch m := m.(type) {
		case *protocol.Result:
			if !m.Details.Bool("progress") {
				*res = Result{Args: m.Args, Kwargs: m.Kwargs, Details: m.Details}
				return res, nil
			}
			if onProgress == nil {
				continue // not asked for; ignore
			}
			if err := onProgress(&Result{Args: m.Args, Kwargs: m.Kwargs, Details: m.Details}); err != nil {
				c.mu.Lock()
				if c.pend[p.id] == p {
					delete(c.pend, p.id)
				}
				c.mu.Unlock()
				c.cancelCall(p.id)
				return nil, err
			}
		case *protocol.Error:
			return nil, wrap(m, "client: call %s", procedure)
		}
	}
}

// cancelCall sends CANCEL for the call id if the dealer supports it
// (WAMP spec, advanced/rpc_call_canceling.md). killnowait: the dealer
// answers at once and interrupts the callee; the late reply is dropped.
func (c *Client) cancelCall(id protocol.ID) {
	if !c.canCancel {
		return
	}
	c.mu.Lock()
	if c.state == protocol.StateEstablished {
		c.send(&protocol.Cancel{Request: id, Options: protocol.Dict{"mode": "killnowait"}})
	}
	c.mu.Unlock()
}

// InvocationHandler runs a procedure for a callee. It is called on its own
// goroutine for every INVOCATION (or, for some in-process calls, on the
// waiting caller's; see the package documentation, Concurrency), so it may
// block; ctx is canceled when the
// router interrupts the call (INTERRUPT, WAMP spec,
// advanced/rpc_call_canceling.md), when the session ends, and when the
// handler returns. context.Cause(ctx) tells which: an error wrapping
// [ErrInterrupted] (and naming the INTERRUPT's mode), an error wrapping
// [ErrClosed] and the session's end reason, or context.Canceled.
//
// The returned Result (nil means an empty one) becomes YIELD. A returned
// error becomes ERROR: a *protocol.Error, or an error wrapping one, is sent
// with its URI, Args and Kwargs (and Details, if not nil); an error after ctx was canceled by an
// INTERRUPT is sent as wamp.error.canceled; any other error, and a panic,
// is logged and sent as [ErrRuntimeError] without its text.
type InvocationHandler func(ctx context.Context, inv *Invocation) (*Result, error)

// Invocation is one call of a registered procedure, as the callee sees it.
// It must not be modified.
type Invocation struct {
	// Procedure is the procedure that was called: for a pattern-based
	// registration the concrete URI from INVOCATION.Details.procedure, else
	// the registered procedure.
	Procedure protocol.URI
	// Registration is the registration the call came through.
	Registration *Registration
	// Args and Kwargs are the caller's payload.
	Args   protocol.List
	Kwargs protocol.Dict
	// Details is INVOCATION.Details as sent by the router ([PassthruOf]
	// reads its ppt_* keys).
	Details protocol.Dict
	// Caller is the caller's session id if disclosed
	// (INVOCATION.Details.caller, advanced/rpc_caller_identification.md),
	// else 0.
	Caller protocol.ID

	c        *Client
	request  protocol.ID
	progress bool
	// streaming reports a progressive invocation; its further chunks are
	// queued in Client.chunks.
	streaming bool
	// depth counts the handlers, this one included, that run nested on
	// the goroutine of a caller (see carry.go); 0 on a worker. At most
	// maxCarryDepth.
	depth uint8
}

// ReceiveProgress reports whether the caller asked for progressive results
// (INVOCATION.Details.receive_progress), so that SendProgress may be used.
func (inv *Invocation) ReceiveProgress() bool { return inv.progress }

// SendProgress sends a progressive result to the caller (YIELD with
// Options.progress = true, advanced/rpc_progressive_call_results.md).
// It may be called any number of times before the handler returns, and
// returns [ErrNoProgress] if the caller did not ask for progressive
// results, or [ErrClosed] once the invocation or the session is over.
func (inv *Invocation) SendProgress(ctx context.Context, args protocol.List, kwargs protocol.Dict) error {
	if !inv.progress {
		return ErrNoProgress
	}
	c := inv.c
	if kwargs != nil && args == nil {
		args = protocol.List{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != protocol.StateEstablished || c.invs[inv.request] == nil {
		return ErrClosed
	}
	err := c.peer.Send(ctx, &protocol.Yield{Request: inv.request, Options: protocol.Dict{"progress": true}, Args: args, Kwargs: kwargs})
	if err != nil {
		return fmt.Errorf("client: send progress: %w", err)
	}
	return nil
}

// Registration is a procedure registered by [Client.Register] or
// [Reconnecting.Register]. A Registration of a Reconnecting client stays
// the same across its sessions.
type Registration struct {
	procedure protocol.URI
	handler   InvocationHandler
	options   protocol.Dict // REGISTER.Options

	// id is the registration id on the session it is registered on, 0
	// while it is registered on none. It is written under that Client's
	// mu.
	id atomic.Uint64
}

// ID returns the registration id the router assigned, or 0 once the
// registration is no longer active: after Unregister, after the router
// revoked it or after its session ended, and, for a [Reconnecting]
// client, while it is not (yet) registered on the current session.
func (r *Registration) ID() protocol.ID { return protocol.ID(r.id.Load()) }

// Procedure returns the procedure URI (or pattern) that was registered.
func (r *Registration) Procedure() protocol.URI { return r.procedure }

func newRegistration(procedure protocol.URI, handler InvocationHandler, opts *RegisterOptions) *Registration {
	if handler == nil {
		panic("client: Register with nil handler")
	}
	options := noOptions
	if opts != nil && (opts.Options != nil || opts.Match != "" || opts.Invoke != "") {
		options = make(protocol.Dict, len(opts.Options)+2)
		for k, v := range opts.Options {
			options[k] = v
		}
		if opts.Match != "" && opts.Match != protocol.MatchExact {
			options["match"] = string(opts.Match)
		}
		if opts.Invoke != "" {
			options["invoke"] = opts.Invoke
		}
	}
	return &Registration{procedure: procedure, handler: handler, options: options}
}

// RegisterOptions are the options of [Client.Register]. A nil
// *RegisterOptions means all defaults.
type RegisterOptions struct {
	// Match is the match policy, REGISTER.Options.match: "" or MatchExact
	// (default), MatchPrefix or MatchWildcard
	// (advanced/rpc_pattern_based_registration.md).
	Match protocol.MatchPolicy
	// Invoke is the invocation policy for shared registrations,
	// REGISTER.Options.invoke: "" or "single" (default), "roundrobin",
	// "random", "first" or "last" (advanced/rpc_shared_registration.md).
	Invoke string
	// Options holds extra REGISTER.Options keys, sent as is; the fields
	// above take precedence. Nil means none.
	Options protocol.Dict
}

// Register registers handler for procedure (WAMP spec,
// basic/remote_procedure_call.md, "Registering and Unregistering"). The
// handler may be invoked as soon as the router confirms, even before
// Register returns. If the router refuses (for example
// wamp.error.procedure_already_exists), the error wraps a *protocol.Error.
// Register waits at most Config.ResponseTimeout when ctx has no deadline.
// If it gives up before the router answers, a late registration is undone.
func (c *Client) Register(ctx context.Context, procedure protocol.URI, handler InvocationHandler, opts *RegisterOptions) (*Registration, error) {
	r := newRegistration(procedure, handler, opts)
	if err := c.register(ctx, r); err != nil {
		return nil, err
	}
	return r, nil
}

// register registers r on this session.
func (c *Client) register(ctx context.Context, r *Registration) error {
	p := newPending(protocol.TypeRegister)
	p.reg = r
	_, err := c.request(ctx, p, &protocol.Register{Options: r.options, Procedure: r.procedure})
	return err
}

// registered reports whether r is registered on this session.
func (c *Client) registered(r *Registration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.regs[r.ID()] == r
}

// Unregister removes r (WAMP spec, basic/remote_procedure_call.md). No new
// invocations reach its handler after Unregister is called; invocations
// already running continue. It returns [ErrNotActive] if r was already
// unregistered or revoked, and an error wrapping a *protocol.Error if the
// router refuses.
func (c *Client) Unregister(ctx context.Context, r *Registration) error {
	ctx, cancel := withTimeout(ctx, c.cfg.ResponseTimeout)
	defer cancel()
	c.mu.Lock()
	if c.state != protocol.StateEstablished {
		err := c.errClosedLocked()
		c.mu.Unlock()
		return err
	}
	id := r.ID()
	if c.regs[id] != r {
		c.mu.Unlock()
		return ErrNotActive
	}
	p := newPending(protocol.TypeUnregister)
	err := c.sendRequestLocked(ctx, p, &protocol.Unregister{Registration: id})
	if err == nil {
		delete(c.regs, id)
		r.id.Store(0)
	}
	c.mu.Unlock()
	if err != nil {
		return err
	}
	m, _, err := c.next(ctx, p)
	if err != nil {
		return err
	}
	if e, ok := m.(*protocol.Error); ok {
		return wrap(e, "client: unregister %s", r.procedure)
	}
	return nil
}

// revokeRegistration handles UNREGISTERED with request 0: the router
// removed a registration (advanced/rpc_registration_revocation.md).
func (c *Client) revokeRegistration(details protocol.Dict) {
	id := dictID(details, "registration")
	c.mu.Lock()
	if r := c.regs[id]; r != nil {
		delete(c.regs, id)
		r.id.CompareAndSwap(uint64(id), 0)
	}
	c.mu.Unlock()
	c.log.Info("client: router revoked registration", "session", c.session, "registration", id,
		"reason", details["reason"])
}
