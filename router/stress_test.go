package router_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/transport"
)

// TestConcurrentSessions runs many sessions that subscribe, publish,
// register, call, cancel and leave at the same time, for the race
// detector and to catch deadlocks. Every client reads its transport on its
// own goroutine and checks only what is certain under concurrency: every
// CALL gets exactly one final answer, and the router stays usable.
func TestConcurrentSessions(t *testing.T) {
	const (
		workers = 8
		rounds  = 200
	)
	r := newRouter(t, router.Config{LocalQueueSize: 4096})
	ctx := context.Background()

	// Nothing below waits without a deadline: if the test hangs, the
	// router is closed, which ends every Recv.
	watchdog := time.AfterFunc(3*wait, func() {
		t.Errorf("stress test still running after %v; closing the router", 3*wait)
		r.Close()
	})
	defer watchdog.Stop()

	// Callees that come and go, answering some invocations, some with
	// progress, some with errors, and ignoring the rest.
	var wg sync.WaitGroup
	var mu sync.Mutex
	stopped := false
	active := map[transport.Peer]bool{}
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				p, err := r.Connect(ctx)
				if err != nil {
					return
				}
				mu.Lock()
				if stopped {
					mu.Unlock()
					p.Close(nil)
					return
				}
				active[p] = true
				mu.Unlock()
				runCallee(p, protocol.URI(fmt.Sprintf("com.example.proc%d", i)), 50)
				p.Close(nil)
				mu.Lock()
				delete(active, p)
				mu.Unlock()
			}
		}()
	}

	errc := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- runWorker(r, w, rounds)
		}()
	}
	for range workers {
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}
	mu.Lock()
	stopped = true
	for p := range active {
		p.Close(nil)
	}
	mu.Unlock()
	wg.Wait()

	// Still fine afterwards.
	callee, caller := join(t, r), join(t, r)
	callee.register("com.example.final", nil)
	caller.callOK("com.example.final", callee)
}

// runCallee registers proc on p and answers up to n invocations; it
// returns early, leaving with invocations pending, on every fourth.
func runCallee(p transport.Peer, proc protocol.URI, n int) {
	ctx := context.Background()
	p.Send(ctx, &protocol.Hello{Realm: realm1, Details: protocol.Dict{"roles": clientRoles()}})
	p.Send(ctx, &protocol.Register{Request: 1, Procedure: proc})
	p.Send(ctx, &protocol.Register{Request: 2, Procedure: "com.example.shared", Options: protocol.Dict{"invoke": "roundrobin"}})
	// Only one callee at a time gets this one; the others get ERROR.
	p.Send(ctx, &protocol.Register{Request: 3, Procedure: "com.example.pfx", Options: protocol.Dict{"match": "prefix"}})
	answered := 0
	for answered < n {
		m, err := p.Recv()
		if err != nil {
			return
		}
		inv, ok := m.(*protocol.Invocation)
		if !ok {
			continue
		}
		answered++
		switch inv.Request % 4 {
		case 0:
			// Leave without answering: the callers of every pending
			// invocation get canceled.
			return
		case 1:
			p.Send(ctx, &protocol.Yield{Request: inv.Request, Options: protocol.Dict{"progress": true}})
			p.Send(ctx, &protocol.Yield{Request: inv.Request})
		case 2:
			p.Send(ctx, &protocol.Error{RequestType: protocol.TypeInvocation, Request: inv.Request, Details: protocol.Dict{}, URI: "com.example.oops"})
		default:
			p.Send(ctx, &protocol.Yield{Request: inv.Request, Args: inv.Args})
		}
	}
}

// runWorker is one client session doing a mix of everything; it returns
// an error if a call got no final answer or two.
func runWorker(r *router.Router, w, rounds int) error {
	ctx := context.Background()
	p, err := r.Connect(ctx)
	if err != nil {
		return err
	}
	defer p.Close(nil)
	p.Send(ctx, &protocol.Hello{Realm: realm1, Details: protocol.Dict{"roles": clientRoles()}})
	if m, err := p.Recv(); err != nil || m.Type() != protocol.TypeWelcome {
		return fmt.Errorf("worker %d: no WELCOME: %v %v", w, m, err)
	}
	var req protocol.ID
	next := func() protocol.ID { req++; return req }
	calls := map[protocol.ID]bool{} // pending calls
	for i := range rounds {
		topic := protocol.URI(fmt.Sprintf("com.example.topic%d", i%5))
		switch i % 6 {
		case 0:
			p.Send(ctx, &protocol.Subscribe{Request: next(), Topic: topic, Options: protocol.Dict{"match": []string{"exact", "prefix", "wildcard"}[i%3]}})
		case 1:
			p.Send(ctx, &protocol.Publish{Request: next(), Topic: topic, Options: protocol.Dict{"exclude_me": false}, Args: protocol.List{w, i}})
		case 2, 3:
			id := next()
			calls[id] = true
			opts := protocol.Dict{"receive_progress": i%2 == 0}
			if i%7 == 0 {
				opts["timeout"] = 1
			}
			proc := []protocol.URI{"com.example.proc0", "com.example.proc1", "com.example.proc2", "com.example.shared", "com.example.pfx.x"}[i%5]
			p.Send(ctx, &protocol.Call{Request: id, Procedure: proc, Options: opts})
			if i%5 == 0 {
				p.Send(ctx, &protocol.Cancel{Request: id, Options: protocol.Dict{"mode": []string{"skip", "kill", "killnowait"}[i%3]}})
			}
		case 4:
			p.Send(ctx, &protocol.Unsubscribe{Request: next(), Subscription: protocol.ID(i%7 + 1)})
		case 5:
			p.Send(ctx, &protocol.Publish{Request: next(), Topic: topic, Options: protocol.Dict{"acknowledge": true}})
		}
	}
	// Wait for every call's final answer, ignoring everything else.
	for len(calls) > 0 {
		m, err := p.Recv()
		if err != nil {
			return fmt.Errorf("worker %d: %v with %d calls pending", w, err, len(calls))
		}
		var id protocol.ID
		switch m := m.(type) {
		case *protocol.Result:
			if m.Details.Bool("progress") {
				continue
			}
			id = m.Request
		case *protocol.Error:
			if m.RequestType != protocol.TypeCall {
				continue
			}
			id = m.Request
		default:
			continue
		}
		if !calls[id] {
			return fmt.Errorf("worker %d: second or unknown final answer for call %d: %v", w, id, describe(m))
		}
		delete(calls, id)
	}
	return nil
}
