package router_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// nodeCluster is the least a router.Cluster can be: a cluster of one
// node, which hands the tests the router's ClusterNode.
type nodeCluster struct {
	node *router.ClusterNode
}

func (c *nodeCluster) Attach(n *router.ClusterNode) error        { c.node = n; return nil }
func (c *nodeCluster) Detach()                                   {}
func (c *nodeCluster) SessionID() protocol.ID                    { return protocol.GlobalID() }
func (c *nodeCluster) Subscribe(*router.ClusterSubscription)     {}
func (c *nodeCluster) Unsubscribe(*router.ClusterSubscription)   {}
func (c *nodeCluster) Publish(*router.ClusterEvent) error        { return nil }
func (c *nodeCluster) Register(router.ClusterRegistration) error { return nil }
func (c *nodeCluster) Unregister(router.ClusterRegistration)     {}

// TestLinkCallWhileSessionEnds sends a CALL on a ClusterLink whose
// session is ending, from its ClusterDeliver as a cluster's read loop may:
// the CALL must be refused by Send (ErrClosed, so the cluster opens a new
// link for it) or answered with an ERROR, never accepted and dropped,
// which would leave its caller on the other node waiting forever. The
// link's session ends by a protocol violation, with a call pending.
func TestLinkCallWhileSessionEnds(t *testing.T) {
	const pending, late = protocol.ID(1), protocol.ID(7)
	for _, tc := range []struct {
		name    string
		at      func(m protocol.Message) bool // when deliver sends the late CALL
		refused bool                          // Send refuses it, else it is answered
	}{
		// The ABORT reaches deliver while the violating message is
		// routed: the CALL waits in the queue of the session, which then
		// ends.
		{"routing", func(m protocol.Message) bool {
			_, ok := m.(*protocol.Abort)
			return ok
		}, false},
		// The pending call's ERROR reaches deliver as the session leaves,
		// after it stopped routing.
		{"leaving", func(m protocol.Message) bool {
			e, ok := m.(*protocol.Error)
			return ok && e.Request == pending
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := &nodeCluster{}
			r := newRouter(t, router.Config{Cluster: cl})
			callee := join(t, r)
			callee.register("p", nil)

			var (
				mu      sync.Mutex
				link    *router.ClusterLink
				sendErr error
				sent    bool
			)
			answered := make(chan protocol.Message, 16)
			deliver := func(m protocol.Message) {
				if tc.at(m) {
					mu.Lock()
					l := link
					mu.Unlock()
					err := l.Send(&protocol.Call{Request: late, Options: protocol.Dict{}, Procedure: "p"})
					mu.Lock()
					sendErr, sent = err, true
					mu.Unlock()
				}
				switch m := m.(type) {
				case *protocol.Error:
					if m.Request == late {
						answered <- m
					}
				case *protocol.Result:
					if m.Request == late {
						answered <- m
					}
				}
			}
			mu.Lock()
			l, err := cl.node.Link(context.Background(), realm1, "relay-test", deliver)
			link = l
			mu.Unlock()
			if err != nil {
				t.Fatalf("Link: %v", err)
			}
			defer l.Close()
			if err := l.Send(&protocol.Call{Request: pending, Options: protocol.Dict{}, Procedure: "p"}); err != nil {
				t.Fatalf("Send CALL: %v", err)
			}
			expect[*protocol.Invocation](callee) // the call is pending
			if err := l.Send(&protocol.Welcome{Session: 1, Details: protocol.Dict{}}); err != nil {
				t.Fatalf("Send WELCOME: %v", err)
			}

			deadline := time.After(wait)
			for {
				mu.Lock()
				done, err := sent, sendErr
				mu.Unlock()
				if done {
					switch {
					case tc.refused && !errors.Is(err, router.ErrClosed):
						t.Fatalf("Send CALL on a link whose session ended: %v, want ErrClosed", err)
					case tc.refused:
						return // the cluster knows
					case err != nil:
						t.Fatalf("Send CALL while the session routes: %v", err)
					}
					break
				}
				select {
				case <-deadline:
					t.Fatal("the link's session did not end")
				case <-time.After(time.Millisecond):
				}
			}
			// Accepted: the call must be answered.
			select {
			case m := <-answered:
				e, ok := m.(*protocol.Error)
				if !ok {
					t.Fatalf("got %s for a call of a session that ended, want ERROR", describe(m))
				}
				if e.URI != protocol.ErrCanceled {
					t.Fatalf("ERROR %s, want %s", e.URI, protocol.ErrCanceled)
				}
			case <-time.After(wait):
				t.Fatal("CALL accepted by an ending link was never answered")
			}
		})
	}
}
