package client

import (
	"context"
	"fmt"
	"io"

	"github.com/wampkit/wampkit/protocol"
)

// progressOptions is CALL.Options of a chunk that is not the final one.
// Like noOptions it is shared, since sent messages are read-only.
var progressOptions = protocol.Dict{"progress": true}

// CallStream is a call whose arguments the caller sends in chunks
// (progressive call invocations, WAMP spec,
// advanced/rpc_progressive_call_invocations.md): the CALL that
// [Client.DoStream] sends is the first chunk, [CallStream.Send] sends more,
// and [CallStream.CloseSend] sends the final one. The callee receives them
// in order, through [Invocation.Recv]. [CallStream.Result] waits for the
// call's result; it may be called while chunks are still being sent, and
// receives the callee's progressive results meanwhile (OnProgress), so
// that both directions stream at once.
//
// Send and CloseSend must not be called concurrently with each other;
// Result may be called concurrently with either, but only once.
type CallStream struct {
	c          *Client
	p          *pending
	procedure  protocol.URI
	onProgress func(*Result) error
	stop       func() bool // stops the AfterFunc of DoStream's context
	res        Result
	closed     bool // CloseSend sent the final chunk; guarded by c.mu
}

// DoStream starts the call described by req as a progressive call
// invocation: it sends req.Args and req.Kwargs as the first chunk and
// returns the stream for the rest. All options of the call (Timeout,
// DiscloseMe, OnProgress, Options) are fixed by this first CALL; a
// dealer-side Timeout then bounds the silence between chunks and results
// rather than the whole call.
//
// The call lasts until its result arrives or ctx ends: when ctx ends
// first, the call is canceled (CANCEL killnowait if the dealer supports
// it) and Result returns ctx's cause. The caller must call
// [CallStream.Result], or end ctx, to release the call. Nothing is sent,
// and DoStream returns [ErrNotSupported], if the router did not announce
// progressive_call_invocations.
//
// The callee must announce progressive_call_invocations too (this package
// does); otherwise the call fails with wamp.error.feature_not_supported,
// which Result returns wrapped like any call's error.
func (c *Client) DoStream(ctx context.Context, req *CallRequest) (*CallStream, error) {
	if !c.canStream {
		return nil, ErrNotSupported
	}
	if ctx.Err() != nil {
		return nil, context.Cause(ctx) // nothing sent
	}
	msg := &protocol.Call{Options: req.options(true), Procedure: req.Procedure, Args: req.Args, Kwargs: req.Kwargs}
	if msg.Kwargs != nil && msg.Args == nil {
		msg.Args = protocol.List{}
	}
	p := newPending(protocol.TypeCall)
	c.mu.Lock()
	err := c.sendRequestLocked(ctx, p, msg)
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s := &CallStream{c: c, p: p, procedure: req.Procedure, onProgress: req.OnProgress}
	s.stop = context.AfterFunc(ctx, func() { s.abandon(context.Cause(ctx)) })
	return s, nil
}

// abandon gives up on the call when the context of DoStream ends: Result
// returns cause, and the dealer hears CANCEL.
func (s *CallStream) abandon(cause error) {
	c := s.c
	c.mu.Lock()
	pending := c.pend[s.p.id] == s.p
	if pending {
		delete(c.pend, s.p.id)
		s.p.err = cause
		s.p.wake()
	}
	c.mu.Unlock()
	if pending {
		c.cancelCall(s.p.id)
	}
}

// Send sends the next chunk of the call's arguments: a CALL with the
// call's request ID and Options.progress = true. Like every send of the
// client it does not wait for room in the transport's queue: when the
// queue is full it returns an error wrapping [transport.ErrQueueFull], and
// the same chunk may be sent again (see Flow control in the package
// documentation). It returns [ErrStreamDone] after CloseSend or once the
// call has ended, for example because the callee answered before reading
// every chunk; Result then tells how it ended.
func (s *CallStream) Send(ctx context.Context, args protocol.List, kwargs protocol.Dict) error {
	return s.send(ctx, progressOptions, args, kwargs)
}

// CloseSend sends the final chunk of the call's arguments (a CALL without
// Options.progress; args and kwargs may be nil). No chunk may follow. Its
// errors are those of Send; after an error wrapping
// [transport.ErrQueueFull] it may be called again.
func (s *CallStream) CloseSend(ctx context.Context, args protocol.List, kwargs protocol.Dict) error {
	return s.send(ctx, noOptions, args, kwargs)
}

func (s *CallStream) send(ctx context.Context, opts protocol.Dict, args protocol.List, kwargs protocol.Dict) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if kwargs != nil && args == nil {
		args = protocol.List{}
	}
	c := s.c
	msg := &protocol.Call{Request: s.p.id, Options: opts, Procedure: s.procedure, Args: args, Kwargs: kwargs}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case s.closed:
		return ErrStreamDone
	case c.state != protocol.StateEstablished:
		return c.errClosedLocked()
	case c.pend[s.p.id] != s.p:
		return ErrStreamDone
	}
	if err := protocol.Validate(msg); err != nil {
		return fmt.Errorf("client: %w", err)
	}
	if err := c.peer.Send(ctx, msg); err != nil {
		return fmt.Errorf("client: send: %w", err)
	}
	if len(opts) == 0 {
		s.closed = true
	}
	return nil
}

// Result waits for the call's final result, passing its progressive
// results to the request's OnProgress on this goroutine; see [Client.Do]
// for its errors. When ctx ends first, Result cancels the call (as does
// the end of DoStream's context) and returns ctx's cause.
func (s *CallStream) Result(ctx context.Context) (*Result, error) {
	defer s.stop()
	return s.c.await(ctx, s.p, s.procedure, s.onProgress, &s.res)
}

// Chunk is one chunk of the arguments of a progressive call invocation,
// after the first, which is the [Invocation]'s own Args and Kwargs. It
// must not be modified.
type Chunk struct {
	// Args and Kwargs are the chunk's payload; either may be nil.
	Args   protocol.List
	Kwargs protocol.Dict
	// Details is INVOCATION.Details as sent by the router: the details of
	// the first INVOCATION, with "progress": true on all but the final
	// chunk.
	Details protocol.Dict
}

// chunks is the queue of chunks of a progressive invocation that the
// reader has received and the handler has not taken yet. It grows without
// bound when the handler falls behind the caller.
type chunks struct {
	// Guarded by Client.mu.
	q     []*Chunk
	final bool // the final chunk is in q, or was taken

	notify chan struct{} // capacity 1: a chunk arrived
	ctx    *invContext   // the handler's context
}

func (q *chunks) wake() {
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// Progressive reports whether the caller sends the invocation's arguments
// in chunks (INVOCATION.Details.progress, WAMP spec,
// advanced/rpc_progressive_call_invocations.md): then Args and Kwargs are
// the first chunk, and [Invocation.Recv] returns the others.
func (inv *Invocation) Progressive() bool { return inv.streaming }

// Recv returns the next chunk of a progressive invocation's arguments, in
// the order the caller sent them, waiting for it until ctx ends. After the
// final chunk, and for an invocation that is not progressive, it returns
// io.EOF. When the handler's context is canceled (by INTERRUPT, because the
// handler returned, or because the session ended), Recv returns that
// context's error; when ctx ends, ctx's cause.
//
// Recv must not be called concurrently with itself. A handler may return
// before it has read every chunk; the rest are dropped.
func (inv *Invocation) Recv(ctx context.Context) (*Chunk, error) {
	if !inv.streaming {
		return nil, io.EOF
	}
	c := inv.c
	c.mu.Lock()
	q := c.chunks[inv.request]
	c.mu.Unlock()
	if q == nil {
		// The invocation ended, or the session.
		return nil, context.Canceled
	}
	for {
		c.mu.Lock()
		if len(q.q) > 0 {
			ch := q.q[0]
			q.q[0] = nil
			q.q = q.q[1:]
			c.mu.Unlock()
			return ch, nil
		}
		final := q.final
		c.mu.Unlock()
		if final {
			return nil, io.EOF
		}
		select {
		case <-q.notify:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-q.ctx.Done():
			return nil, q.ctx.Err()
		}
	}
}
