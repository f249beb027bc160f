package integration

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/serialize"
	"github.com/wampkit/wampkit/transport"
)

// Reference figures, from the best other Go WAMP stack measured on the same
// machine (see the report of the integration change): 6.3 µs and 25 allocs
// per in-process call, about 0.5 µs per in-process delivered event, 56 µs
// per WebSocket call, about 7 µs per WebSocket delivered event.

// fanOutSubscribers is the number of subscribers of the fan-out benchmarks.
const fanOutSubscribers = 1000

// fanOutWindow is how many publications the publisher of a fan-out
// benchmark may be ahead of the slowest subscriber. It must stay well below
// the router's per-session queue (benchConfig) so that no subscriber is
// dropped as a slow consumer: the benchmarks measure delivery, not loss.
const fanOutWindow = 64

// benchConfig is the router configuration of the benchmarks: the
// defaults, with outbound queues large enough for fanOutWindow.
func benchConfig() router.Config {
	return router.Config{
		LocalQueueSize: 1024,
		WebSocket:      transport.WebSocketConfig{PeerConfig: transport.PeerConfig{QueueSize: 1024}},
		RawSocket:      transport.RawSocketConfig{PeerConfig: transport.PeerConfig{QueueSize: 1024}},
	}
}

// BenchmarkCall measures one RPC round trip through the router: Call on a
// client, INVOCATION to a client callee whose handler returns the
// arguments, RESULT back. Caller and callee use the same transport.
func BenchmarkCall(b *testing.B) {
	ls := []link{
		{transport: "local"},
		{transport: "websocket", serializer: serialize.JSON},
		{transport: "websocket", serializer: serialize.MessagePack},
		{transport: "websocket", serializer: serialize.CBOR},
		{transport: "tcp", serializer: serialize.MessagePack},
	}
	for _, l := range ls {
		b.Run(benchName(l), func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*testTimeout)
			defer cancel()
			benchCall(ctx, b, l)
		})
	}
}

// benchCall measures calls with ctx from a caller to an echo callee of
// one router, both over l.
func benchCall(ctx context.Context, b *testing.B, l link) {
	e := startEnv(b, benchConfig())
	callee := e.join(b, l)
	register(b, callee, "com.bench.echo", echo)
	caller := e.join(b, l)
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		if _, err := caller.Call(ctx, "com.bench.echo", "hello"); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpuTime()-cpu, float64(b.N), "cpu-ns/op")
}

// BenchmarkCallParallel is BenchmarkCall with GOMAXPROCS callers calling
// at once through one callee (throughput rather than latency).
func BenchmarkCallParallel(b *testing.B) {
	for _, l := range []link{{transport: "local"}, {transport: "websocket", serializer: serialize.MessagePack}} {
		b.Run(benchName(l), func(b *testing.B) {
			e := startEnv(b, benchConfig())
			callee := e.join(b, l)
			register(b, callee, "com.bench.echo", echo)
			caller := e.join(b, l)
			ctx, cancel := context.WithTimeout(context.Background(), 10*testTimeout)
			defer cancel()
			b.ReportAllocs()
			cpu := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := caller.Call(ctx, "com.bench.echo", "hello"); err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportCPU(b, cpuTime()-cpu, float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkFanOut measures the delivery of events from one publisher to
// fanOutSubscribers subscribing clients over the same transport. One
// iteration is one publication; ns/event is the time per delivered event
// (elapsed time / (iterations * subscribers)). The publisher keeps at most
// fanOutWindow publications ahead of the slowest subscriber, and every
// event is counted at the subscribers' handlers before the timer stops.
func BenchmarkFanOut(b *testing.B) {
	ls := []link{
		{transport: "local"},
		{transport: "websocket", serializer: serialize.JSON},
		{transport: "websocket", serializer: serialize.MessagePack},
	}
	for _, l := range ls {
		b.Run(benchName(l), func(b *testing.B) {
			// Set up once here; b.Run below runs the measured part as often as
			// the framework needs.
			e := startEnv(b, benchConfig())
			m := newMeter(fanOutSubscribers)
			const topic = "com.bench.fanout"
			var mu sync.Mutex
			var errs []error
			var wg sync.WaitGroup
			dial := make(chan int)
			for range 16 {
				wg.Go(func() {
					for i := range dial {
						c := e.join(b, l)
						_, err := c.Subscribe(context.Background(), topic, func(*client.Event) { m.hit(i) }, &client.SubscribeOptions{Queue: -1})
						if err != nil {
							mu.Lock()
							errs = append(errs, err)
							mu.Unlock()
						}
					}
				})
			}
			for i := range fanOutSubscribers {
				dial <- i
			}
			close(dial)
			wg.Wait()
			if len(errs) > 0 {
				b.Fatal(errs[0])
			}
			pub := e.join(b, l)
			b.Run(fmt.Sprintf("subscribers=%d", fanOutSubscribers), func(b *testing.B) {
				benchPublish(b, e, pub, topic, m)
			})
			if k := e.log.count("router: disconnecting session"); k > 0 {
				b.Errorf("router dropped %d sessions for a full queue", k)
			}
		})
	}
}

// benchPublish publishes b.N events to topic and waits until every
// subscriber counted by m has them all.
func benchPublish(b *testing.B, e *env, pub *client.Client, topic protocol.URI, m *meter) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*testTimeout)
	defer cancel()
	base := m.min()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for i := 0; i < b.N; {
		if i >= fanOutWindow && i%(fanOutWindow/2) == 0 {
			if err := m.wait(ctx, base+int64(i-fanOutWindow/2)); err != nil {
				b.Fatalf("before publication %d: %v (queue drops: %d)", i, err, e.log.count("router: disconnecting session"))
			}
		}
		err := pub.Publish(ctx, topic, i)
		if errors.Is(err, transport.ErrQueueFull) {
			runtime.Gosched()
			continue
		}
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
	if err := m.wait(ctx, base+int64(b.N)); err != nil {
		b.Fatalf("after %d publications: %v (queue drops: %d)", b.N, err, e.log.count("router: disconnecting session"))
	}
	b.StopTimer()
	events := float64(b.N) * float64(len(m.counts))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/events, "ns/event")
	reportCPU(b, cpuTime()-cpu, events, "cpu-ns/event")
}

// reportCPU reports the process's CPU time spent per unit (user + system,
// all goroutines: router, clients, GC), a figure that other load on the
// machine disturbs far less than elapsed time.
func reportCPU(b *testing.B, cpu time.Duration, units float64, unit string) {
	if cpu > 0 && units > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/units, unit)
	}
}

func benchName(l link) string {
	if l.transport == "local" {
		return "transport=local"
	}
	return "transport=" + l.transport + "/serializer=" + l.serializer.String()
}

// meter counts the events of many subscribers and lets one goroutine wait
// until each of them has reached a count.
type meter struct {
	counts []atomic.Int64
	target atomic.Int64
	mu     sync.Mutex
	cond   *sync.Cond
}

func newMeter(n int) *meter {
	m := &meter{counts: make([]atomic.Int64, n)}
	m.cond = sync.NewCond(&m.mu)
	return m
}

// hit counts an event of subscriber i.
func (m *meter) hit(i int) {
	if m.counts[i].Add(1) == m.target.Load() {
		m.mu.Lock()
		m.cond.Broadcast()
		m.mu.Unlock()
	}
}

// min returns the smallest count.
func (m *meter) min() int64 {
	low := m.counts[0].Load()
	for i := range m.counts {
		low = min(low, m.counts[i].Load())
	}
	return low
}

// wait waits until every count is at least target, or ctx ends. Only one
// goroutine may wait at a time.
func (m *meter) wait(ctx context.Context, target int64) error {
	m.target.Store(target)
	stop := context.AfterFunc(ctx, func() {
		m.mu.Lock()
		m.cond.Broadcast()
		m.mu.Unlock()
	})
	defer stop()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.counts {
		for m.counts[i].Load() < target {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("subscriber %d has %d events, want %d: %w", i, m.counts[i].Load(), target, err)
			}
			m.cond.Wait()
		}
	}
	return nil
}
