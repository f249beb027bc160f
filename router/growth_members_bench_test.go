package router

import (
	"strconv"
	"testing"

	"github.com/wampkit/wampkit/protocol"
)

// BenchmarkGrowthMembers measures one session joining and leaving a set
// that n sessions are in already: SUBSCRIBE and UNSUBSCRIBE of a topic
// with n subscribers, and REGISTER and UNREGISTER of a roundrobin
// procedure with n callees. A burst of n sessions subscribing to one
// topic (clients reconnecting after a restart) costs n times this.
func BenchmarkGrowthMembers(b *testing.B) {
	for _, n := range []int{100, 10000, 50000} {
		b.Run("subscribers="+strconv.Itoa(n), func(b *testing.B) {
			r := growthRouter(b)
			s, p := benchSession(b, r, false)
			rm := s.realm
			for range n {
				o, _ := benchSession(b, r, false)
				rm.broker.subscribe(o, &protocol.Subscribe{Request: 1, Topic: "com.example.topic"})
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			for i := range b.N {
				rm.broker.subscribe(s, &protocol.Subscribe{Request: protocol.ID(2*i + 1), Topic: "com.example.topic"})
				sub := p.last.(*protocol.Subscribed).Subscription
				rm.broker.unsubscribe(s, &protocol.Unsubscribe{Request: protocol.ID(2*i + 2), Subscription: sub})
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
		b.Run("callees="+strconv.Itoa(n), func(b *testing.B) {
			r := growthRouter(b)
			s, p := benchSession(b, r, false)
			rm := s.realm
			reg := &protocol.Register{Request: 1, Procedure: "com.example.proc", Options: protocol.Dict{"invoke": "roundrobin"}}
			for range n {
				o, _ := benchSession(b, r, false)
				rm.dealer.register(o, reg)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			for i := range b.N {
				rm.dealer.register(s, &protocol.Register{Request: protocol.ID(2*i + 1), Procedure: "com.example.proc", Options: reg.Options})
				id := p.last.(*protocol.Registered).Registration
				rm.dealer.unregister(s, &protocol.Unregister{Request: protocol.ID(2*i + 2), Registration: id})
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
