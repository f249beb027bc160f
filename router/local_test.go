package router_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/transport"
)

// TestConnectOrderConcurrentSenders sends acknowledged publications from
// several goroutines at once over one in-process session, whose messages
// are routed on the senders' goroutines when the session is idle and
// queued behind the one being routed otherwise: each sender's PUBLISHED
// must come in the order it sent (spec basic "Ordering Guarantees").
func TestConnectOrderConcurrentSenders(t *testing.T) {
	const (
		senders = 4
		each    = 500
	)
	r := newRouter(t, router.Config{LocalQueueSize: senders * each})
	c := join(t, r)
	var wg sync.WaitGroup
	for i := range senders {
		wg.Go(func() {
			for k := range each {
				id := protocol.ID(i*each + k + 1)
				err := c.p.(transport.Waiter).SendWait(t.Context(), &protocol.Publish{Request: id,
					Options: protocol.Dict{"acknowledge": true}, Topic: "com.example.order"})
				if err != nil {
					t.Errorf("Send: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	var last [senders]protocol.ID
	for range senders * each {
		m := expect[*protocol.Published](c)
		i := int(m.Request-1) / each
		if m.Request <= last[i] {
			t.Fatalf("PUBLISHED for %d after %d of the same sender", m.Request, last[i])
		}
		last[i] = m.Request
	}
}

// TestConnectPipelinedBeforeWelcome sends requests right behind HELLO,
// before WELCOME arrives: they cross the link and are routed before
// anything sent after the session is established.
func TestConnectPipelinedBeforeWelcome(t *testing.T) {
	r := newRouter(t, router.Config{StrictRequestIDs: true})
	c := connect(t, r)
	c.send(&protocol.Hello{Realm: realm1, Details: protocol.Dict{"roles": clientRoles()}})
	for id := protocol.ID(1); id <= 3; id++ {
		c.send(&protocol.Publish{Request: id, Options: protocol.Dict{"acknowledge": true}, Topic: "com.example.t"})
	}
	expect[*protocol.Welcome](c)
	c.send(&protocol.Publish{Request: 4, Options: protocol.Dict{"acknowledge": true}, Topic: "com.example.t"})
	for id := protocol.ID(1); id <= 4; id++ {
		if m := expect[*protocol.Published](c); m.Request != id {
			t.Fatalf("PUBLISHED for %d, want %d", m.Request, id)
		}
	}
}

// TestConnectSendAfterClose checks the link's contract on the router's
// in-process peer: after Close, Send and SendWait return ErrClosed, and
// after GOODBYE the session ends however the client keeps sending.
func TestConnectSendAfterClose(t *testing.T) {
	r := newRouter(t, router.Config{})
	c := join(t, r)
	c.send(&protocol.Goodbye{Details: protocol.Dict{}, Reason: protocol.CloseRealm})
	// Sent after GOODBYE, before the echo: not routed.
	c.send(&protocol.Publish{Request: c.next(), Options: protocol.Dict{"acknowledge": true}, Topic: "com.example.t"})
	expect[*protocol.Goodbye](c)
	if err := c.expectClosed(); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("Recv after GOODBYE: %v, want ErrClosed", err)
	}
	if err := c.p.Send(context.Background(), &protocol.Publish{Request: c.next(), Topic: "com.example.t"}); !errors.Is(err, transport.ErrClosed) {
		t.Errorf("Send after close: %v, want ErrClosed", err)
	}
	err := c.p.(transport.Waiter).SendWait(context.Background(), &protocol.Publish{Request: c.next(), Topic: "com.example.t"})
	if !errors.Is(err, transport.ErrClosed) {
		t.Errorf("SendWait after close: %v, want ErrClosed", err)
	}
}
