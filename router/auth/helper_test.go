package auth_test

import (
	"context"
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
	return protocol.Dict{"caller": map[string]any{}, "subscriber": map[string]any{}}
}

// testPeer is a raw WAMP client over a transport.Peer: it sends messages
// as given and reads them on a goroutine of its own, so that every
// receive can be bounded by a deadline.
type testPeer struct {
	tb   testing.TB
	p    transport.Peer
	in   chan protocol.Message
	done chan struct{} // closed when the reader stopped
	err  error         // Recv's error; read after done
}

// connect opens an in-process transport to r; the test ends it.
func connect(tb testing.TB, r *router.Router) *testPeer {
	tb.Helper()
	p, err := r.Connect(context.Background())
	if err != nil {
		tb.Fatalf("Connect: %v", err)
	}
	return newTestPeer(tb, p)
}

// newTestPeer reads p on a goroutine of its own; the test closes p.
func newTestPeer(tb testing.TB, p transport.Peer) *testPeer {
	c := &testPeer{tb: tb, p: p, in: make(chan protocol.Message, 64), done: make(chan struct{})}
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

// send sends m.
func (c *testPeer) send(m protocol.Message) {
	c.tb.Helper()
	if err := c.p.Send(context.Background(), m); err != nil {
		c.tb.Fatalf("send %v: %v", m.Type(), err)
	}
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
