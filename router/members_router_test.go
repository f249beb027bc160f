package router_test

import (
	"testing"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// bigSet is more members than one chunk of the router's sets holds (256),
// so that the sets below span several.
const bigSet = 600

// TestLargeSharedRegistration checks the invocation policies over a
// registration of more callees than fit one chunk, before and after
// callees in the middle chunks leave.
func TestLargeSharedRegistration(t *testing.T) {
	r := newRouter(t, router.Config{})
	caller := join(t, r)
	callees := make([]*testPeer, bigSet)
	regs := make([]protocol.ID, bigSet)
	for i := range callees {
		callees[i] = join(t, r)
		regs[i] = callees[i].register("com.example.rr", protocol.Dict{"invoke": "roundrobin"})
		callees[i].register("com.example.first", protocol.Dict{"invoke": "first"})
		callees[i].register("com.example.last", protocol.Dict{"invoke": "last"})
	}
	for i := range bigSet {
		if got := callOne(t, caller, callees, "com.example.rr"); got != i {
			t.Fatalf("call %d went to callee %d", i, got)
		}
	}
	// The callees 100 to 399 unregister; round robin goes on with the
	// rest in their order.
	for i := 100; i < 400; i++ {
		c := callees[i]
		c.send(&protocol.Unregister{Request: c.next(), Registration: regs[i]})
		expect[*protocol.Unregistered](c)
	}
	rest := append(append([]*testPeer{}, callees[:100]...), callees[400:]...)
	for i := range rest {
		if got := callOne(t, caller, rest, "com.example.rr"); got != i {
			t.Fatalf("after the UNREGISTERs, call %d went to callee %d of the rest", i, got)
		}
	}
	if got := callOne(t, caller, callees, "com.example.first"); got != 0 {
		t.Errorf("first went to callee %d", got)
	}
	if got := callOne(t, caller, callees, "com.example.last"); got != bigSet-1 {
		t.Errorf("last went to callee %d", got)
	}
	// The first and the last leave: the next in line take their place.
	for _, i := range []int{0, bigSet - 1} {
		callees[i].p.Close(nil)
		callees[i].expectClosed()
	}
	inner := callees[1 : bigSet-1]
	for _, p := range []struct {
		proc protocol.URI
		want int
	}{{"com.example.first", 0}, {"com.example.last", len(inner) - 1}} {
		got := -1
		// The router notices a close on the callee's goroutine; until
		// then a call may still pick it and fail.
		for range 1000 {
			if got = callOneOrError(t, caller, inner, p.proc); got >= 0 {
				break
			}
		}
		if got != p.want {
			t.Errorf("%s went to callee %d of the inner ones, want %d", p.proc, got, p.want)
		}
	}
}

// TestLargeSubscription checks that every subscriber of a topic with more
// subscribers than fit one chunk gets each event once, and those that
// unsubscribed none.
func TestLargeSubscription(t *testing.T) {
	r := newRouter(t, router.Config{})
	pub := join(t, r)
	subs := make([]*testPeer, bigSet)
	ids := make([]protocol.ID, bigSet)
	for i := range subs {
		subs[i] = join(t, r)
		ids[i] = subs[i].subscribe("com.example.big", nil)
	}
	for i := 100; i < 400; i++ {
		s := subs[i]
		s.send(&protocol.Unsubscribe{Request: s.next(), Subscription: ids[i]})
		expect[*protocol.Unsubscribed](s)
	}
	pub.publishAck("com.example.big", nil, "one")
	pub.publishAck("com.example.big", nil, "two")
	for i, s := range subs {
		if i >= 100 && i < 400 {
			s.expectNothing()
			continue
		}
		for _, want := range []string{"one", "two"} {
			ev := expect[*protocol.Event](s)
			if len(ev.Args) != 1 || ev.Args[0] != want {
				t.Fatalf("subscriber %d got %v, want %q", i, ev.Args, want)
			}
		}
		s.expectNothing()
	}
}
