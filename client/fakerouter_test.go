package client_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/transport"
)

// deadline bounds every wait in the tests; it is a failure guard, not a
// timing assertion.
const deadline = 10 * time.Second

// wire is the router end of a local link, driven step by step by a test:
// it lets a test check every message the client sends and answer by hand.
type wire struct {
	tb   testing.TB
	peer transport.Peer
	in   chan protocol.Message // closed when the link is closed
}

func newWire(tb testing.TB, peer transport.Peer) *wire {
	w := &wire{tb: tb, peer: peer, in: make(chan protocol.Message, 1024)}
	go func() {
		defer close(w.in)
		for {
			m, err := peer.Recv()
			if err != nil {
				return
			}
			w.in <- m
		}
	}()
	return w
}

// recv returns the next message from the client.
func (w *wire) recv() protocol.Message {
	w.tb.Helper()
	select {
	case m, ok := <-w.in:
		if !ok {
			w.tb.Fatal("wire: link closed, want a message")
		}
		return m
	case <-time.After(deadline):
		w.tb.Fatal("wire: no message from the client")
	}
	return nil
}

var cmpOpts = []cmp.Option{cmpopts.EquateEmpty()}

// expect reads the next message and compares it with want.
func (w *wire) expect(want protocol.Message) protocol.Message {
	w.tb.Helper()
	got := w.recv()
	if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
		w.tb.Fatalf("client sent unexpected message (-want +got):\n%s", diff)
	}
	return got
}

// expectClosed waits until the link is closed, failing on any message
// other than those allowed by skip.
func (w *wire) expectClosed() {
	w.tb.Helper()
	for {
		select {
		case m, ok := <-w.in:
			if !ok {
				return
			}
			w.tb.Fatalf("wire: got %#v, want the link closed", m)
		case <-time.After(deadline):
			w.tb.Fatal("wire: link not closed")
		}
	}
}

func (w *wire) send(m protocol.Message) {
	w.tb.Helper()
	if err := w.peer.Send(context.Background(), m); err != nil {
		w.tb.Fatalf("wire: send %T: %v", m, err)
	}
}

// routerWelcome returns WELCOME.Details roles; cancel announces call_canceling.
func routerWelcome(cancel bool) protocol.Dict {
	dealer := map[string]any{"progressive_call_results": true, "progressive_call_invocations": true}
	if cancel {
		dealer["call_canceling"] = true
	}
	return protocol.Dict{"roles": map[string]any{
		"broker": map[string]any{"features": map[string]any{}},
		"dealer": map[string]any{"features": dealer},
	}}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// join runs a client against a wire: it answers HELLO with WELCOME (session
// 42, details) and returns both. Cleanup closes the link and the client.
func join(tb testing.TB, details protocol.Dict, cfg client.Config) (*client.Client, *wire) {
	tb.Helper()
	if cfg.Realm == "" {
		cfg.Realm = "realm1"
	}
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	cp, rp := transport.LocalPair(256)
	w := newWire(tb, rp)
	type res struct {
		c   *client.Client
		err error
	}
	ch := make(chan res, 1)
	go func() {
		// A deadline in ctx: Config.ResponseTimeout does not apply to Join.
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		c, err := client.Join(ctx, cp, cfg)
		ch <- res{c, err}
	}()
	if _, ok := w.recv().(*protocol.Hello); !ok {
		tb.Fatal("first message is not HELLO")
	}
	w.send(&protocol.Welcome{Session: 42, Details: details})
	var r res
	select {
	case r = <-ch:
	case <-time.After(deadline):
		tb.Fatal("Join did not return")
	}
	if r.err != nil {
		tb.Fatalf("Join: %v", r.err)
	}
	tb.Cleanup(func() {
		rp.Close(nil)
		r.c.Close()
		for range w.in {
		}
	})
	return r.c, w
}

// result runs f on a goroutine and returns a channel for its outcome.
func async[T any](f func() (T, error)) <-chan outcome[T] {
	ch := make(chan outcome[T], 1)
	go func() {
		v, err := f()
		ch <- outcome[T]{v, err}
	}()
	return ch
}

type outcome[T any] struct {
	v   T
	err error
}

func await[T any](tb testing.TB, ch <-chan outcome[T]) (T, error) {
	tb.Helper()
	select {
	case o := <-ch:
		return o.v, o.err
	case <-time.After(deadline):
		tb.Fatal("operation did not return")
	}
	var zero T
	return zero, nil
}

// fakeRouter is an automatic single-session router for benchmarks and
// examples: it answers HELLO (realm "realm1" only), REGISTER, CALL (routing
// to the session's own registrations; "test.echo" answers at once with the
// call's payload), SUBSCRIBE, PUBLISH (events go to the session itself only
// with exclude_me=false), UNSUBSCRIBE, UNREGISTER, CANCEL and GOODBYE.
// It is a test double, not a router: no authorization, no URI checks.
type fakeRouter struct {
	peer   transport.Peer
	done   chan struct{}
	nextID protocol.ID
	procs  map[protocol.URI]protocol.ID
	regs   map[protocol.ID]protocol.URI
	topics map[protocol.URI]protocol.ID
	invs   map[protocol.ID]protocol.ID // INVOCATION.Request -> CALL.Request
	calls  map[protocol.ID]protocol.ID // CALL.Request -> INVOCATION.Request
	invID  protocol.ID
}

// startFakeRouter returns the client end of a local link served by a
// fakeRouter, and a function that waits for the router to stop (after the
// link closes).
func startFakeRouter() (transport.Peer, func()) {
	cp, rp := transport.LocalPair(1024)
	r := newFakeRouter(rp)
	go r.serve()
	return cp, func() { rp.Close(nil); <-r.done }
}

// serveFake runs a fakeRouter on peer until the session ends.
func serveFake(peer transport.Peer) { newFakeRouter(peer).serve() }

func newFakeRouter(peer transport.Peer) *fakeRouter {
	return &fakeRouter{
		peer: peer, done: make(chan struct{}),
		procs: map[protocol.URI]protocol.ID{}, regs: map[protocol.ID]protocol.URI{},
		topics: map[protocol.URI]protocol.ID{},
		invs:   map[protocol.ID]protocol.ID{}, calls: map[protocol.ID]protocol.ID{},
	}
}

func (r *fakeRouter) id() protocol.ID { r.nextID++; return r.nextID }

func (r *fakeRouter) send(m protocol.Message) { _ = r.peer.Send(context.Background(), m) }

func (r *fakeRouter) serve() {
	defer close(r.done)
	for {
		m, err := r.peer.Recv()
		if err != nil {
			return
		}
		switch m := m.(type) {
		case *protocol.Hello:
			if m.Realm != "realm1" {
				r.send(&protocol.Abort{Details: protocol.Dict{"message": "no realm " + string(m.Realm)}, Reason: protocol.ErrNoSuchRealm})
				r.peer.Close(nil)
				return
			}
			r.send(&protocol.Welcome{Session: 1, Details: routerWelcome(true)})
		case *protocol.Register:
			if _, ok := r.procs[m.Procedure]; ok {
				r.send(&protocol.Error{RequestType: protocol.TypeRegister, Request: m.Request, Details: protocol.Dict{}, URI: protocol.ErrProcedureAlreadyExists})
				continue
			}
			id := r.id()
			r.procs[m.Procedure], r.regs[id] = id, m.Procedure
			r.send(&protocol.Registered{Request: m.Request, Registration: id})
		case *protocol.Unregister:
			delete(r.procs, r.regs[m.Registration])
			delete(r.regs, m.Registration)
			r.send(&protocol.Unregistered{Request: m.Request})
		case *protocol.Call:
			if m.Procedure == "wamp.session.add_testament" || m.Procedure == "wamp.session.flush_testaments" {
				r.send(&protocol.Result{Request: m.Request, Details: protocol.Dict{}})
				continue
			}
			if inv, ok := r.calls[m.Request]; ok {
				// The next chunk of a progressive call invocation.
				details := protocol.Dict{}
				if b, _ := m.Options["progress"].(bool); b {
					details["progress"] = true
				}
				r.send(&protocol.Invocation{Request: inv, Registration: r.procs[m.Procedure], Details: details, Args: m.Args, Kwargs: m.Kwargs})
				continue
			}
			if m.Procedure == "test.echo" {
				r.send(&protocol.Result{Request: m.Request, Details: protocol.Dict{}, Args: m.Args, Kwargs: m.Kwargs})
				continue
			}
			reg, ok := r.procs[m.Procedure]
			if !ok {
				r.send(&protocol.Error{RequestType: protocol.TypeCall, Request: m.Request, Details: protocol.Dict{}, URI: protocol.ErrNoSuchProcedure})
				continue
			}
			r.invID++
			r.invs[r.invID], r.calls[m.Request] = m.Request, r.invID
			details := protocol.Dict{}
			if b, _ := m.Options["receive_progress"].(bool); b {
				details["receive_progress"] = true
			}
			if b, _ := m.Options["progress"].(bool); b {
				details["progress"] = true
			}
			r.send(&protocol.Invocation{Request: r.invID, Registration: reg, Details: details, Args: m.Args, Kwargs: m.Kwargs})
		case *protocol.Yield:
			call, ok := r.invs[m.Request]
			if !ok {
				continue
			}
			details := protocol.Dict{}
			if b, _ := m.Options["progress"].(bool); b {
				details["progress"] = true
			} else {
				delete(r.invs, m.Request)
				delete(r.calls, call)
			}
			r.send(&protocol.Result{Request: call, Details: details, Args: m.Args, Kwargs: m.Kwargs})
		case *protocol.Error:
			if call, ok := r.invs[m.Request]; ok {
				delete(r.invs, m.Request)
				delete(r.calls, call)
				r.send(&protocol.Error{RequestType: protocol.TypeCall, Request: call, Details: protocol.Dict{}, URI: m.URI, Args: m.Args, Kwargs: m.Kwargs})
			}
		case *protocol.Cancel:
			if inv, ok := r.calls[m.Request]; ok {
				delete(r.invs, inv)
				delete(r.calls, m.Request)
				r.send(&protocol.Error{RequestType: protocol.TypeCall, Request: m.Request, Details: protocol.Dict{}, URI: protocol.ErrCanceled})
				r.send(&protocol.Interrupt{Request: inv, Options: protocol.Dict{"mode": "killnowait"}})
			}
		case *protocol.Subscribe:
			id, ok := r.topics[m.Topic]
			if !ok {
				id = r.id()
				r.topics[m.Topic] = id
			}
			r.send(&protocol.Subscribed{Request: m.Request, Subscription: id})
		case *protocol.Unsubscribe:
			for t, id := range r.topics {
				if id == m.Subscription {
					delete(r.topics, t)
				}
			}
			r.send(&protocol.Unsubscribed{Request: m.Request})
		case *protocol.Publish:
			pub := r.id()
			if ex, ok := m.Options["exclude_me"].(bool); ok && !ex {
				if sub, ok := r.topics[m.Topic]; ok {
					r.send(&protocol.Event{Subscription: sub, Publication: pub, Details: protocol.Dict{}, Args: m.Args, Kwargs: m.Kwargs})
				}
			}
			if ack, _ := m.Options["acknowledge"].(bool); ack {
				r.send(&protocol.Published{Request: m.Request, Publication: pub})
			}
		case *protocol.Goodbye:
			r.send(&protocol.Goodbye{Details: protocol.Dict{}, Reason: protocol.CloseGoodbyeAndOut})
			r.peer.Close(nil)
			return
		}
	}
}

var errTest = errors.New("test error")

// wait waits until ch is closed (or yields a value), failing after the deadline.
func wait[T any](tb testing.TB, ch <-chan T) {
	tb.Helper()
	select {
	case <-ch:
	case <-time.After(deadline):
		tb.Fatal("timed out waiting")
	}
}
