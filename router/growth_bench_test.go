package router

import (
	"log/slog"
	"runtime"
	"strconv"
	"testing"

	"github.com/wampkit/wampkit/protocol"
)

// The benchmarks of how the router's cost grows (issue 14): per delivery
// with 1 to 10,000 subscribers, per CALL and PUBLISH lookup with up to
// 100,000 exact registrations and subscriptions (which must not grow with
// their number), the memory of each registration and subscription, and
// the match time with 10,000 prefix and wildcard subscriptions. Like the
// Route benchmarks they measure the router's own work, on sinkPeers. Run
// them with -cpu 1,2 to see the use of the cores.

// growthRouter is benchRouter without limits on registrations and
// subscriptions per session.
func growthRouter(tb testing.TB) *Router {
	tb.Helper()
	r, err := New(Config{Realms: []RealmConfig{{Name: "realm1"}}, MaxSubscriptions: -1, MaxRegistrations: -1,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close() })
	return r
}

// heapInUse returns the heap in use after a collection.
func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// BenchmarkGrowthEvent measures the router's work per delivered EVENT of
// a publication to n subscribers of one topic.
func BenchmarkGrowthEvent(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		b.Run("subscribers="+strconv.Itoa(n), func(b *testing.B) {
			r := growthRouter(b)
			pub, _ := benchSession(b, r, false)
			rm := pub.realm
			for range n {
				s, _ := benchSession(b, r, false)
				rm.broker.subscribe(s, &protocol.Subscribe{Request: 1, Topic: "com.example.topic"})
			}
			args := protocol.List{"payload"}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			for i := range b.N {
				rm.broker.publish(pub, &protocol.Publish{Request: protocol.ID(i + 1), Topic: "com.example.topic", Args: args}, false)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/event")
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N)/float64(n), "cpu-ns/event")
		})
	}
}

// BenchmarkGrowthLookup measures a CALL round trip and a publication to
// one subscriber among n exact registrations and n exact subscriptions
// of other URIs, and reports the heap each registration and subscription
// takes.
func BenchmarkGrowthLookup(b *testing.B) {
	for _, n := range []int{1, 100000} {
		b.Run("uris="+strconv.Itoa(n), func(b *testing.B) {
			r := growthRouter(b)
			caller, _ := benchSession(b, r, false)
			callee, calleePeer := benchSession(b, r, true)
			rm := caller.realm
			h0 := heapInUse()
			for i := range n {
				rm.dealer.register(callee, &protocol.Register{Request: protocol.ID(i + 1), Procedure: protocol.URI("com.other.proc" + strconv.Itoa(i))})
			}
			h1 := heapInUse()
			for i := range n {
				rm.broker.subscribe(callee, &protocol.Subscribe{Request: protocol.ID(i + 1), Topic: protocol.URI("com.other.topic" + strconv.Itoa(i))})
			}
			h2 := heapInUse()
			rm.dealer.register(callee, &protocol.Register{Request: 1, Procedure: "com.example.echo"})
			rm.broker.subscribe(callee, &protocol.Subscribe{Request: 2, Topic: "com.example.topic"})
			args := protocol.List{"hello"}
			b.Run("call", func(b *testing.B) {
				b.ReportMetric(float64(h1-h0)/float64(n), "B/registration")
				b.ReportAllocs()
				cpu := cpuTime()
				for i := range b.N {
					call := protocol.Call{Request: protocol.ID(i + 1), Procedure: "com.example.echo", Args: args}
					if v := rm.dealer.call(caller, &call); v != nil {
						b.Fatal(v)
					}
					inv := calleePeer.last.(*protocol.Invocation)
					if v := rm.dealer.yield(callee, &protocol.Yield{Request: inv.Request, Args: inv.Args}); v != nil {
						b.Fatal(v)
					}
				}
				b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
			})
			b.Run("publish", func(b *testing.B) {
				b.ReportMetric(float64(h2-h1)/float64(n), "B/subscription")
				b.ReportAllocs()
				cpu := cpuTime()
				for i := range b.N {
					rm.broker.publish(caller, &protocol.Publish{Request: protocol.ID(i + 1), Topic: "com.example.topic", Args: args}, false)
				}
				b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
			})
		})
	}
}

// BenchmarkGrowthPatterns measures the match time of a publication with
// n prefix and n wildcard subscriptions, of which one of each matches.
func BenchmarkGrowthPatterns(b *testing.B) {
	for _, n := range []int{1, 10000} {
		b.Run("patterns="+strconv.Itoa(n), func(b *testing.B) {
			r := growthRouter(b)
			pub, _ := benchSession(b, r, false)
			rm := pub.realm
			sub, _ := benchSession(b, r, false)
			req := protocol.ID(1)
			subscribe := func(topic, match string) {
				rm.broker.subscribe(sub, &protocol.Subscribe{Request: req, Topic: protocol.URI(topic), Options: protocol.Dict{"match": match}})
				req++
			}
			subscribe("com.example.", "prefix")
			subscribe("com..topic", "wildcard")
			for i := range n - 1 {
				subscribe("com.example"+strconv.Itoa(i)+".", "prefix")
				subscribe("com."+strconv.Itoa(i)+".topic", "wildcard")
			}
			args := protocol.List{"payload"}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			for i := range b.N {
				rm.broker.publish(pub, &protocol.Publish{Request: protocol.ID(i + 1), Topic: "com.example.topic", Args: args}, false)
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
