package client

import (
	"context"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/transport"
)

// An in-process call may run its handler on the caller's goroutine (see
// transport.Carrier): the caller's CALL is routed on its own goroutine;
// when the router hands the INVOCATION to the callee's client on the way,
// carry registers the invocation (so that INTERRUPT and the session's end
// reach its context, and Leave waits for it) and returns it; once the
// router is done and the caller holds no lock, the caller runs the
// handler and sends the YIELD itself, whose RESULT the router then hands
// straight back to the still running caller. No goroutine is woken.
//
// The caller only asks for it (carrierFor) when that changes nothing the
// caller could see: a plain call (Call, or Do without options or
// OnProgress), whose ctx can never end (ctx.Done() is nil), so that Call
// would wait for the handler in any case. The callee's client takes the
// work only when its lock is free (so never for a call of its own
// procedure, whose caller holds it), for a complete INVOCATION of a known
// registration, and while fewer than maxCarried of its invocations run
// on callers' goroutines. Handlers that call on nest on the same
// goroutine to maxCarryDepth; deeper calls go to workers as before.

// maxCarried is how many invocations of one client may run on their
// callers' goroutines at once; further ones go to workers. It also bounds
// the nesting of handlers that call on with a context not derived from
// their own, where maxCarryDepth cannot count.
const maxCarried = 16

// maxCarryDepth is how deep handlers that call on with their context (or
// one derived from it) nest on the goroutine of the first caller.
const maxCarryDepth = 8

// carrierFor returns the transport.Carrier to send the CALL msg with, or
// nil when its handler must not run on this goroutine (see above).
func (c *Client) carrierFor(ctx context.Context, msg *protocol.Call, onProgress func(*Result) error) transport.Carrier {
	if onProgress != nil || len(msg.Options) > 0 || ctx.Done() != nil {
		return nil
	}
	cr, ok := c.peer.(transport.Carrier)
	if !ok {
		return nil
	}
	if inv := InvocationOf(ctx); inv != nil && int(inv.depth) >= maxCarryDepth {
		return nil
	}
	return cr
}

// carry is the client's carry function (transport.Carrier): it takes a
// new, complete INVOCATION of a known registration, when c.mu is free and
// fewer than maxCarried invocations are carried, and returns it as the
// work for the caller's goroutine; it declines everything else. Like
// invoke, it keeps m's fields, not m.
func (c *Client) carry(m protocol.Message) transport.Job {
	inv, ok := m.(*protocol.Invocation)
	if !ok || inv.Details.Bool("progress") || !c.mu.TryLock() {
		return nil
	}
	r := c.regs[inv.Registration]
	if c.state != protocol.StateEstablished || r == nil || c.invs[inv.Request] != nil ||
		c.ended.Contains(inv.Request) || c.carried >= maxCarried {
		c.mu.Unlock()
		return nil
	}
	x := &invocation{}
	c.invs[inv.Request] = x
	c.carried++
	// In StateEstablished, under c.mu: the reader still counts in wg, so
	// this Add cannot race with a Wait that saw zero (see work).
	c.wg.Add(1)
	c.mu.Unlock()
	c.fill(x, inv, r)
	return x
}

// runCarried runs job on the caller's goroutine. An invocation that carry
// took runs one level deeper than the handler, if any, whose context ctx
// is.
func (c *Client) runCarried(ctx context.Context, job transport.Job) {
	if x, ok := job.(*invocation); ok {
		x.inv.depth = 1
		if inv := InvocationOf(ctx); inv != nil {
			x.inv.depth = inv.depth + 1
		}
	}
	job.Run()
}

// Run implements transport.Job: it runs the handler of a carried
// invocation and sends its answer, as a worker does.
func (x *invocation) Run() {
	c := x.inv.c
	counted := true
	defer func() {
		if counted { // the handler called runtime.Goexit
			c.mu.Lock()
			c.carried--
			c.mu.Unlock()
		}
		x.ctx.cancel(context.Canceled)
		c.wg.Done()
	}()
	c.answerInvocation(x, c.handle(x))
	c.carried--
	counted = false
	c.mu.Unlock()
}
