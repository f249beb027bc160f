package router_test

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/transport"
)

// cpuTime returns the CPU time (user + system) the process has used;
// benchmarks report it per operation next to ns/op. With several
// goroutines it includes the scheduler's spinning, so it is an upper
// bound of the work, but unlike ns/op it does not grow when other
// processes take the CPU away.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rawJoin connects to r and joins realm1 without a test reader: the
// benchmark reads the peer itself.
func rawJoin(tb testing.TB, r *router.Router) transport.Peer {
	tb.Helper()
	p, err := r.Connect(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close(nil) })
	if err := p.Send(context.Background(), &protocol.Hello{Realm: realm1, Details: protocol.Dict{"roles": clientRoles()}}); err != nil {
		tb.Fatal(err)
	}
	if m := recvRaw(tb, p); m == nil || m.Type() != protocol.TypeWelcome {
		tb.Fatalf("got %v, want WELCOME", m)
	}
	return p
}

// rawRequest sends m and expects a reply of type want.
func rawRequest(tb testing.TB, p transport.Peer, m protocol.Message, want protocol.MessageType) protocol.Message {
	tb.Helper()
	if err := p.Send(context.Background(), m); err != nil {
		tb.Fatal(err)
	}
	got := recvRaw(tb, p)
	if got == nil || got.Type() != want {
		tb.Fatalf("got %v, want %v", got, want)
	}
	return got
}

// echoCallee answers every INVOCATION on p with a YIELD of its args until
// p closes; wait for the returned channel.
func echoCallee(p transport.Peer) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := p.Recv()
			if err != nil {
				return
			}
			if inv, ok := m.(*protocol.Invocation); ok {
				p.Send(context.Background(), &protocol.Yield{Request: inv.Request, Args: inv.Args})
			}
		}
	}()
	return done
}

// BenchmarkCall measures one in-process RPC round trip: CALL from a
// caller, INVOCATION to a callee, YIELD, RESULT back, through Connect.
func BenchmarkCall(b *testing.B) {
	r := newRouter(b, router.Config{})
	callee := rawJoin(b, r)
	rawRequest(b, callee, &protocol.Register{Request: 1, Procedure: "com.example.echo"}, protocol.TypeRegistered)
	done := echoCallee(callee)
	caller := rawJoin(b, r)
	args := protocol.List{"hello"}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for i := range b.N {
		if err := caller.Send(ctx, &protocol.Call{Request: protocol.ID(i + 1), Procedure: "com.example.echo", Args: args}); err != nil {
			b.Fatal(err)
		}
		m, err := caller.Recv()
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := m.(*protocol.Result); !ok {
			b.Fatalf("got %v, want RESULT", m.Type())
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
	callee.Close(nil)
	<-done
}

// BenchmarkCallParallel measures in-process RPC throughput with one
// caller session per goroutine against one callee.
func BenchmarkCallParallel(b *testing.B) {
	r := newRouter(b, router.Config{})
	callee := rawJoin(b, r)
	rawRequest(b, callee, &protocol.Register{Request: 1, Procedure: "com.example.echo"}, protocol.TypeRegistered)
	done := echoCallee(callee)
	var mu sync.Mutex
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		caller := rawJoin(b, r)
		mu.Unlock()
		ctx := context.Background()
		args := protocol.List{"hello"}
		var req protocol.ID
		for pb.Next() {
			req++
			if err := caller.Send(ctx, &protocol.Call{Request: req, Procedure: "com.example.echo", Args: args}); err != nil {
				b.Error(err)
				return
			}
			if _, err := caller.Recv(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	callee.Close(nil)
	<-done
}

// BenchmarkPublish measures in-process fan-out: one publisher, n
// subscribers of one topic, each reading its own transport. ns/event is
// the time per delivered EVENT.
func BenchmarkPublish(b *testing.B) {
	for _, n := range []int{1, 1000} {
		b.Run("subscribers="+strconv.Itoa(n), func(b *testing.B) {
			benchmarkPublish(b, n)
		})
	}
}

func benchmarkPublish(b *testing.B, n int) {
	// Publications go out in bursts, two bursts in flight at most: each
	// subscriber reports the end of each burst it received, and the
	// publisher waits for burst k-2 to be complete everywhere before it
	// publishes burst k. So queues never overflow, nobody spins, and
	// publisher and subscribers work at the same time.
	const burst = 256
	r := newRouter(b, router.Config{LocalQueueSize: 3 * burst})
	total := b.N
	bursts := (total + burst - 1) / burst
	remaining := make([]atomic.Int64, bursts)
	complete := make([]chan struct{}, bursts)
	for k := range bursts {
		remaining[k].Store(int64(n))
		complete[k] = make(chan struct{})
	}
	var wg sync.WaitGroup
	subs := make([]transport.Peer, n)
	for i := range subs {
		p := rawJoin(b, r)
		rawRequest(b, p, &protocol.Subscribe{Request: 1, Topic: "com.example.topic"}, protocol.TypeSubscribed)
		subs[i] = p
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := 0
			for {
				if _, err := p.Recv(); err != nil {
					return
				}
				got++
				if got%burst == 0 || got == total {
					k := (got - 1) / burst
					if remaining[k].Add(-1) == 0 {
						close(complete[k])
					}
				}
			}
		}()
	}
	pub := rawJoin(b, r)
	ctx := context.Background()
	args := protocol.List{"payload"}
	waitBurst := func(k int) {
		select {
		case <-complete[k]:
		case <-time.After(wait):
			b.Fatalf("subscribers did not receive burst %d within %v", k, wait)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for k := range bursts {
		if k >= 2 {
			waitBurst(k - 2)
		}
		for i := k * burst; i < min((k+1)*burst, total); i++ {
			for pub.Send(ctx, &protocol.Publish{Request: protocol.ID(i + 1), Topic: "com.example.topic", Args: args}) != nil {
				runtime.Gosched() // the router's queue from the publisher is full
			}
		}
	}
	for k := max(bursts-2, 0); k < bursts; k++ {
		waitBurst(k)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(total)/float64(n), "ns/event")
	b.ReportMetric(float64(cpuTime()-cpu)/float64(total)/float64(n), "cpu-ns/event")
	for _, p := range subs {
		p.Close(nil)
	}
	wg.Wait()
}
