package router_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/transport"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// wait bounds every wait of the tests; nothing in them is timed, it only
// turns a hang into a failure.
const wait = 10 * time.Second

const realm1 = protocol.URI("realm1")

// quietLogger discards the router's logs.
var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// newRouter returns a router serving realm1 (unless cfg names realms),
// closed when the test ends.
func newRouter(tb testing.TB, cfg router.Config) *router.Router {
	tb.Helper()
	if cfg.Realms == nil {
		cfg.Realms = []router.RealmConfig{{Name: realm1}}
	}
	if cfg.Logger == nil {
		cfg.Logger = quietLogger
	}
	r, err := router.New(cfg)
	if err != nil {
		tb.Fatalf("router.New: %v", err)
	}
	tb.Cleanup(func() { r.Close() })
	return r
}

// clientRoles is the HELLO role announcement of test clients.
func clientRoles() protocol.Dict {
	features := map[string]any{"progressive_call_results": true, "call_canceling": true}
	return protocol.Dict{
		"publisher":  map[string]any{},
		"subscriber": map[string]any{},
		"caller":     map[string]any{"features": features},
		"callee":     map[string]any{"features": features},
	}
}

// testPeer is a raw WAMP client over a transport.Peer: it sends messages
// as given and reads them on a goroutine of its own, so that every
// receive can be bounded by a deadline.
type testPeer struct {
	tb      testing.TB
	p       transport.Peer
	in      chan protocol.Message
	done    chan struct{} // closed when the reader stopped
	err     error         // Recv's error; read after done
	session protocol.ID
	welcome *protocol.Welcome
	req     protocol.ID // last request ID sent
}

// connect opens an in-process transport to r; the test ends it.
func connect(tb testing.TB, r *router.Router) *testPeer {
	tb.Helper()
	p, err := r.Connect(context.Background())
	if err != nil {
		tb.Fatalf("Connect: %v", err)
	}
	return newTestPeer(tb, p, 1<<16)
}

func newTestPeer(tb testing.TB, p transport.Peer, buf int) *testPeer {
	c := &testPeer{tb: tb, p: p, in: make(chan protocol.Message, buf), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			m, err := p.Recv()
			if err != nil {
				c.err = err
				return
			}
			c.in <- m
		}
	}()
	tb.Cleanup(func() {
		p.Close(nil)
		select {
		case <-c.done:
		case <-time.After(wait):
			tb.Errorf("test peer reader did not stop")
		}
	})
	return c
}

// join connects to r and joins realm1 with details (clientRoles if nil).
func join(tb testing.TB, r *router.Router) *testPeer {
	tb.Helper()
	c := connect(tb, r)
	c.hello(realm1, nil)
	return c
}

// hello sends HELLO and expects WELCOME.
func (c *testPeer) hello(realm protocol.URI, details protocol.Dict) *protocol.Welcome {
	c.tb.Helper()
	if details == nil {
		details = protocol.Dict{}
	}
	if details["roles"] == nil {
		details["roles"] = clientRoles()
	}
	c.send(&protocol.Hello{Realm: realm, Details: details})
	w := expect[*protocol.Welcome](c)
	c.session = w.Session
	c.welcome = w
	return w
}

// send sends m, retrying while the queue towards the router is full.
func (c *testPeer) send(m protocol.Message) {
	c.tb.Helper()
	deadline := time.Now().Add(wait)
	for {
		err := c.p.Send(context.Background(), m)
		if err == nil {
			return
		}
		if !errors.Is(err, transport.ErrQueueFull) || time.Now().After(deadline) {
			c.tb.Fatalf("send %v: %v", m.Type(), err)
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// next returns the next request ID.
func (c *testPeer) next() protocol.ID {
	c.req++
	return c.req
}

// recv returns the next message; it fails the test if the transport
// closes or nothing arrives within the deadline.
func (c *testPeer) recv() protocol.Message {
	c.tb.Helper()
	select {
	case m := <-c.in:
		return m
	case <-time.After(wait):
		c.tb.Fatalf("no message within %v", wait)
	case <-c.done:
		select {
		case m := <-c.in:
			return m
		default:
		}
		c.tb.Fatalf("transport closed while waiting for a message: %v", c.err)
	}
	return nil
}

// expect receives the next message and requires it to be a T.
func expect[T protocol.Message](c *testPeer) T {
	c.tb.Helper()
	m := c.recv()
	t, ok := m.(T)
	if !ok {
		var zero T
		c.tb.Fatalf("got %s, want %T", describe(m), zero)
	}
	return t
}

func describe(m protocol.Message) string {
	switch m := m.(type) {
	case *protocol.Error:
		return fmt.Sprintf("ERROR(%v, %d, %s, %v)", m.RequestType, m.Request, m.URI, m.Args)
	case *protocol.Abort:
		return fmt.Sprintf("ABORT(%s, %v)", m.Reason, m.Details)
	}
	return fmt.Sprintf("%v %+v", m.Type(), m)
}

// expectError receives an ERROR and checks its request type, ID and URI.
func (c *testPeer) expectError(t protocol.MessageType, req protocol.ID, uri protocol.URI) *protocol.Error {
	c.tb.Helper()
	e := expect[*protocol.Error](c)
	if e.RequestType != t || e.Request != req || e.URI != uri {
		c.tb.Fatalf("got %s, want ERROR(%v, %d, %s)", describe(e), t, req, uri)
	}
	return e
}

// expectClosed requires the transport to close (after any messages still
// queued, which must be none) and returns Recv's error.
func (c *testPeer) expectClosed() error {
	c.tb.Helper()
	select {
	case <-c.done:
	case <-time.After(wait):
		c.tb.Fatalf("transport still open after %v", wait)
	}
	select {
	case m := <-c.in:
		c.tb.Fatalf("unexpected %s before close", describe(m))
	default:
	}
	return c.err
}

// expectAbort receives ABORT with reason and then the close.
func (c *testPeer) expectAbort(reason protocol.URI) *protocol.Abort {
	c.tb.Helper()
	a := expect[*protocol.Abort](c)
	if a.Reason != reason {
		c.tb.Fatalf("got %s, want reason %s", describe(a), reason)
	}
	c.expectClosed()
	return a
}

// subscribe subscribes and returns the subscription ID.
func (c *testPeer) subscribe(topic protocol.URI, opts protocol.Dict) protocol.ID {
	c.tb.Helper()
	req := c.next()
	c.send(&protocol.Subscribe{Request: req, Options: opts, Topic: topic})
	s := expect[*protocol.Subscribed](c)
	if s.Request != req {
		c.tb.Fatalf("SUBSCRIBED for request %d, want %d", s.Request, req)
	}
	return s.Subscription
}

// register registers procedure and returns the registration ID.
func (c *testPeer) register(proc protocol.URI, opts protocol.Dict) protocol.ID {
	c.tb.Helper()
	req := c.next()
	c.send(&protocol.Register{Request: req, Options: opts, Procedure: proc})
	r := expect[*protocol.Registered](c)
	if r.Request != req {
		c.tb.Fatalf("REGISTERED for request %d, want %d", r.Request, req)
	}
	return r.Registration
}

// publishAck publishes with acknowledge and waits for PUBLISHED. Because
// the router answers in order, everything the publisher would get from
// its own earlier publications arrives before the PUBLISHED.
func (c *testPeer) publishAck(topic protocol.URI, opts protocol.Dict, args ...any) protocol.ID {
	c.tb.Helper()
	o := protocol.Dict{"acknowledge": true}
	for k, v := range opts {
		o[k] = v
	}
	req := c.next()
	c.send(&protocol.Publish{Request: req, Options: o, Topic: topic, Args: args})
	p := expect[*protocol.Published](c)
	if p.Request != req {
		c.tb.Fatalf("PUBLISHED for request %d, want %d", p.Request, req)
	}
	return p.Publication
}

// serveEcho answers INVOCATIONs of c as a callee: YIELD with the same args
// (run it after register; ends with the transport).
func (c *testPeer) callOK(proc protocol.URI, callee *testPeer, args ...any) {
	c.tb.Helper()
	req := c.next()
	c.send(&protocol.Call{Request: req, Procedure: proc, Args: args})
	inv := expect[*protocol.Invocation](callee)
	callee.send(&protocol.Yield{Request: inv.Request, Args: inv.Args})
	res := expect[*protocol.Result](c)
	if res.Request != req {
		c.tb.Fatalf("RESULT for request %d, want %d", res.Request, req)
	}
}
