package client

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"time"
	"unsafe"

	"github.com/wampkit/wampkit/protocol"
)

// maxIdleWorkers is how many invocation workers a client keeps parked for
// the next INVOCATION. More may run at once (a handler may block, and the
// reader never waits for one); those beyond this number exit when their
// handler returns.
const maxIdleWorkers = 16

// invocation is a running INVOCATION: the Invocation and the context the
// handler gets and the YIELD that answers it, in one allocation. It is
// never reused, since a handler may keep inv or ctx after it returns.
type invocation struct {
	// ctx comes first: invContext.invocation finds the invocation from
	// it, so that the context needs no pointer of its own.
	ctx   invContext
	inv   Invocation
	yield protocol.Yield
}

// worker is a goroutine that runs invocation handlers one after another,
// parked in Client.idle between them: handing an INVOCATION to a parked
// worker is cheaper than starting a goroutine for it.
type worker struct {
	// jobs carries the next invocation; capacity 1, so the reader never
	// waits. finish closes it to end a parked worker.
	jobs chan *invocation
}

// invoke hands an INVOCATION to a worker: a parked one, else a new one.
// The handler never runs on the reader. An INVOCATION reusing the id of one
// still running is the next chunk of a progressive invocation, queued for
// its handler (WAMP spec, advanced/rpc_progressive_call_invocations.md),
// or else a protocol violation; one reusing the id of a progressive
// invocation that ended is a late chunk, dropped.
func (c *Client) invoke(m *protocol.Invocation) error {
	c.mu.Lock()
	if x := c.invs[m.Request]; x != nil {
		q := c.chunks[m.Request]
		if q == nil || q.final {
			c.mu.Unlock()
			return c.violation("INVOCATION %d while invocation %d is running", m.Request, m.Request)
		}
		q.q = append(q.q, &Chunk{Args: m.Args, Kwargs: m.Kwargs, Details: m.Details})
		q.final = !m.Details.Bool("progress")
		c.mu.Unlock()
		q.wake()
		return nil
	}
	if c.ended.Contains(m.Request) {
		c.mu.Unlock()
		return nil
	}
	r := c.regs[m.Registration]
	if r == nil {
		c.mu.Unlock()
		// Unregistered meanwhile (or never known).
		c.send(&protocol.Error{RequestType: protocol.TypeInvocation, Request: m.Request,
			Details: protocol.Dict{}, URI: protocol.ErrNoSuchRegistration})
		return nil
	}
	c.startLocked(m, r)
	return nil
}

// pushInvocation is invoke for an INVOCATION pushed by an in-process link
// on the router's goroutine (see transport.Pusher): it takes only a new,
// complete invocation of a known registration, when c.mu is free, and
// declines everything else, which the reader then handles as usual. Like
// invoke, it keeps m's fields, not m (see transport.Pusher).
func (c *Client) pushInvocation(m *protocol.Invocation) bool {
	if m.Details.Bool("progress") || !c.mu.TryLock() {
		return false
	}
	r := c.regs[m.Registration]
	if c.state != protocol.StateEstablished || r == nil || c.invs[m.Request] != nil || c.ended.Contains(m.Request) {
		c.mu.Unlock()
		return false
	}
	c.startLocked(m, r)
	return true
}

// startLocked starts a new invocation of r on a worker; c.mu must be held
// and is unlocked.
func (c *Client) startLocked(m *protocol.Invocation, r *Registration) {
	x := &invocation{}
	c.invs[m.Request] = x
	var w *worker
	if n := len(c.idle); n > 0 {
		w = c.idle[n-1]
		c.idle[n-1] = nil
		c.idle = c.idle[:n-1]
	} else {
		c.wg.Add(1)
	}
	c.mu.Unlock()

	// Only this goroutine and the worker, after the hand-off below, use
	// x: filling it in after the unlock is safe.
	c.fill(x, m, r)
	if w != nil {
		w.jobs <- x
	} else {
		go c.work(x)
	}
}

// fill fills in the invocation x of r for m.
func (c *Client) fill(x *invocation, m *protocol.Invocation, r *Registration) {
	x.inv = Invocation{
		Procedure:    r.procedure,
		Registration: r,
		Args:         m.Args,
		Kwargs:       m.Kwargs,
		Details:      m.Details,
		Caller:       dictID(m.Details, "caller"),
		c:            c,
		request:      m.Request,
		progress:     m.Details.Bool("receive_progress"),
	}
	if proc := m.Details.String("procedure"); proc != "" {
		x.inv.Procedure = protocol.URI(proc)
	}
	if m.Details.Bool("progress") {
		x.inv.streaming = true
		c.mu.Lock()
		if c.chunks == nil {
			c.chunks = make(map[protocol.ID]*chunks)
		}
		if c.state != protocol.StateClosed {
			c.chunks[m.Request] = &chunks{notify: make(chan struct{}, 1), ctx: &x.ctx}
		}
		c.mu.Unlock()
	}
}

// work runs x's handler and then those handed to it while parked, until
// the session ends or enough other workers are parked.
func (c *Client) work(x *invocation) {
	defer c.wg.Done()
	defer func() {
		// A handler that called runtime.Goexit still gets its context
		// canceled (a no-op after a normal return).
		if x != nil {
			x.ctx.cancel(context.Canceled)
		}
	}()
	var w *worker
	for {
		c.answerInvocation(x, c.handle(x))
		// finish collects the parked workers under c.mu after setting
		// StateClosed, so a worker parks either before (and is ended by
		// finish) or not at all.
		park := c.state != protocol.StateClosed && len(c.idle) < maxIdleWorkers
		if park {
			if w == nil {
				w = &worker{jobs: make(chan *invocation, 1)}
			}
			c.idle = append(c.idle, w)
		}
		c.mu.Unlock()
		x.ctx.cancel(context.Canceled)
		x = nil
		if !park {
			return
		}
		x = <-w.jobs
		if x == nil {
			return // closed by finish
		}
	}
}

// answerInvocation sends reply, the answer of x, and returns with c.mu
// held (it may release it meanwhile). It answers under c.mu in
// StateEstablished, so nothing follows our GOODBYE (Leave changes the
// state under c.mu, and sends GOODBYE after the answers that wait for
// room).
func (c *Client) answerInvocation(x *invocation, reply protocol.Message) {
	c.mu.Lock()
	var wait bool
	var failed error
	if c.invs[x.inv.request] == x {
		delete(c.invs, x.inv.request)
		if x.inv.streaming {
			delete(c.chunks, x.inv.request)
			c.ended.Add(x.inv.request)
		}
		if c.state == protocol.StateEstablished {
			reply, wait, failed = c.sendAnswerLocked(reply)
		}
	}
	if wait || failed != nil {
		c.mu.Unlock()
		if wait {
			c.awaitRoom(reply)
		} else {
			c.failAnswer(reply, failed)
		}
		c.mu.Lock()
	}
}

// handle runs x's handler and returns the message that answers it: YIELD,
// or ERROR.
func (c *Client) handle(x *invocation) protocol.Message {
	inv := &x.inv
	res, err := c.safeHandle(&x.ctx, inv)
	if err == nil {
		y := &x.yield
		*y = protocol.Yield{Request: inv.request, Options: noOptions}
		if res != nil {
			y.Args, y.Kwargs = res.Args, res.Kwargs
			if res.Passthru != nil {
				y.Options = protocol.Dict{}
				res.Passthru.addTo(y.Options)
			}
			if y.Kwargs != nil && y.Args == nil {
				y.Args = protocol.List{}
			}
		}
		return y
	}
	e := &protocol.Error{RequestType: protocol.TypeInvocation, Request: inv.request, Details: protocol.Dict{}}
	var werr *protocol.Error
	interrupted := x.ctx.interrupted()
	switch {
	case errors.As(err, &werr):
		e.URI, e.Args, e.Kwargs = werr.URI, werr.Args, werr.Kwargs
		if werr.Details != nil {
			// For example the ppt_* keys of an error payload in Payload
			// Passthru Mode.
			e.Details = werr.Details
		}
		if e.Kwargs != nil && e.Args == nil {
			e.Args = protocol.List{}
		}
	case interrupted:
		e.URI = protocol.ErrCanceled
	default:
		c.log.Warn("client: invocation handler failed", "session", c.session,
			"procedure", inv.Procedure, "error", err)
		e.URI = ErrRuntimeError
	}
	if verr := protocol.Validate(e); verr != nil {
		// The handler's error URI is not a valid URI: the transport
		// would drop the ERROR and leave the caller waiting.
		c.log.Warn("client: invocation handler returned an invalid error", "session", c.session,
			"procedure", inv.Procedure, "error", verr)
		e.URI, e.Args, e.Kwargs = ErrRuntimeError, nil, nil
	}
	return e
}

// safeHandle runs the handler, turning a panic into an error.
func (c *Client) safeHandle(ctx context.Context, inv *Invocation) (res *Result, err error) {
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("client: invocation handler panicked", "session", c.session,
				"procedure", inv.Procedure, "panic", v, "stack", string(debug.Stack()))
			res, err = nil, fmt.Errorf("client: handler panic: %v", v)
		}
	}()
	return inv.Registration.handler(ctx, inv)
}

// interrupt cancels the context of a running invocation, with a cause
// wrapping ErrInterrupted.
func (c *Client) interrupt(m *protocol.Interrupt) {
	c.mu.Lock()
	x := c.invs[m.Request]
	c.mu.Unlock()
	if x != nil {
		mode := m.Options.String("mode")
		if mode == "" {
			mode = "kill" // the spec's default
		}
		x.ctx.cancel(&interruptError{mode: mode})
	}
}

// invContext is the context of an invocation handler. It is canceled by
// INTERRUPT, when the handler returns and when the session ends; it has no
// deadline and carries only the Invocation (a child of the background
// context). Unlike context.WithCancel it costs nothing until Done (or a
// derived context) asks for a channel: most handlers never look.
//
// context.Cause looks for the context package's own cancelCtx through
// Value, so a context of another type cannot give its cause directly. The
// first Value of a key other than ours makes one, real, canceled with the
// same cause when x is, and Value answers from it: context.Cause(x) is
// then the cause.
//
// An invContext is always the first field of an invocation (see
// invocation), which keeps both small: an INVOCATION costs one allocation.
type invContext struct {
	mu   sync.Mutex
	done chan struct{} // made by the first Done; closed by cancel
	// cause is nil until x is canceled, then why: context.Canceled, an
	// interruptError, or the session's end (Err is context.Canceled).
	cause  error
	afters []*afterFunc // pending AfterFunc callbacks
	// real is made by Value; it is canceled with cause, under mu, when x
	// is (real has no children: nobody derives from it, so that is safe).
	real *causeContext
}

// causeContext is the real context of an invContext.
type causeContext struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
}

// invocation returns the invocation whose context x is.
func (x *invContext) invocation() *invocation {
	return (*invocation)(unsafe.Pointer(x)) // x is its first field
}

type afterFunc struct{ f func() }

// closedChan is the Done channel of a context canceled before anybody
// asked for one. It is never written to.
var closedChan = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

var _ context.Context = (*invContext)(nil)

// Deadline implements context.Context: there is none.
func (x *invContext) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done implements context.Context.
func (x *invContext) Done() <-chan struct{} {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.done == nil {
		if x.cause != nil {
			x.done = closedChan
		} else {
			x.done = make(chan struct{})
		}
	}
	return x.done
}

// Err implements context.Context.
func (x *invContext) Err() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.cause == nil {
		return nil
	}
	return context.Canceled
}

// interrupted reports whether an INTERRUPT canceled x.
func (x *invContext) interrupted() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	_, ok := x.cause.(*interruptError)
	return ok
}

// Value implements context.Context: an invocation context carries the
// Invocation, for InvocationOf, and no other values. Other keys are
// answered by x.real, so that context.Cause, which asks Value for the
// context package's cancelCtx, finds real's and its cause. A context
// derived from x does not attach to real as a child: the context package
// takes a parent's cancelCtx only if its Done channel is the parent's,
// and ours is our own; derived contexts follow x through AfterFunc.
func (x *invContext) Value(key any) any {
	if key == (invocationKey{}) {
		return &x.invocation().inv
	}
	x.mu.Lock()
	if x.real == nil {
		ctx, cancel := context.WithCancelCause(context.Background())
		x.real = &causeContext{ctx: ctx, cancel: cancel}
		if x.cause != nil {
			cancel(x.cause)
		}
	}
	real := x.real.ctx
	x.mu.Unlock()
	return real.Value(key)
}

// String implements fmt.Stringer, like the context package's contexts.
func (x *invContext) String() string { return "client.invocationContext" }

// AfterFunc arranges for f to run on its own goroutine once x is canceled,
// with context.AfterFunc's contract. The context package uses it when a
// handler derives a context from x (context.WithCancel and so on), which
// then needs no goroutine of its own to follow x.
func (x *invContext) AfterFunc(f func()) (stop func() bool) {
	a := &afterFunc{f: f}
	x.mu.Lock()
	if x.cause != nil {
		x.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	x.afters = append(x.afters, a)
	x.mu.Unlock()
	return func() bool {
		x.mu.Lock()
		defer x.mu.Unlock()
		i := slices.Index(x.afters, a)
		if i < 0 {
			return false
		}
		x.afters = slices.Delete(x.afters, i, i+1)
		return true
	}
}

// cancel cancels x with cause (nil means context.Canceled); later calls
// do nothing.
func (x *invContext) cancel(cause error) {
	if cause == nil {
		cause = context.Canceled
	}
	x.mu.Lock()
	if x.cause != nil {
		x.mu.Unlock()
		return
	}
	x.cause = cause
	if x.real != nil {
		x.real.cancel(cause)
	}
	if x.done == nil {
		x.done = closedChan
	} else {
		close(x.done)
	}
	afters := x.afters
	x.afters = nil
	x.mu.Unlock()
	for _, a := range afters {
		go a.f()
	}
}
