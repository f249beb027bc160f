package router

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/transport"
)

// These benchmarks measure the router's own work per message, without the
// transports and the goroutine hand-offs around it: sessions are attached
// to sinkPeers that only keep the last message sent to them. The
// end-to-end benchmarks through Router.Connect are in bench_test.go.

// sinkPeer is a transport.Peer whose Send keeps the last message.
type sinkPeer struct {
	last protocol.Message
	n    int
}

func (p *sinkPeer) Recv() (protocol.Message, error) { return nil, transport.ErrClosed }
func (p *sinkPeer) Send(_ context.Context, m protocol.Message) error {
	p.last = m
	p.n++
	return nil
}
func (p *sinkPeer) Close(error) error { return nil }

// benchSession returns an established session of realm1 on a sinkPeer.
func benchSession(tb testing.TB, r *Router, features bool) (*session, *sinkPeer) {
	tb.Helper()
	p := &sinkPeer{}
	s := newSession(r, p)
	details := protocol.Dict{"roles": map[string]any{"caller": map[string]any{}, "callee": map[string]any{},
		"publisher": map[string]any{}, "subscriber": map[string]any{}}}
	if features {
		f := map[string]any{"features": map[string]any{"call_canceling": true, "progressive_call_results": true}}
		details["roles"].(map[string]any)["callee"] = f
	}
	a, err := s.authenticate(context.Background(), &protocol.Hello{Realm: "realm1", Details: details})
	if err == nil {
		err = s.welcome(a)
	}
	if err != nil {
		tb.Fatalf("join: %v", err)
	}
	return s, p
}

// cpuTime returns the CPU time (user + system) the process has used. The
// benchmarks report it per operation as cpu-ns/op, which, unlike ns/op,
// does not grow when a busy machine takes the CPU away from the benchmark.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchRouter(tb testing.TB) *Router {
	tb.Helper()
	return benchRouterWith(tb, RealmConfig{Name: "realm1"})
}

// benchAuthorizer is a RoleAuthorizer as a deployment might have one: a
// few dozen rules for the anonymous role, the one that allows com.example
// being a prefix rule among exact, prefix and wildcard rules that do not
// cover it.
func benchAuthorizer(tb testing.TB) *RoleAuthorizer {
	tb.Helper()
	var perms []Permission
	for i := range 10 {
		n := strconv.Itoa(i)
		perms = append(perms,
			Permission{URI: protocol.URI("com.other" + n + ".proc"), Call: true},
			Permission{URI: protocol.URI("com.other" + n + "."), Match: protocol.MatchPrefix, Subscribe: true},
			Permission{URI: protocol.URI("org." + n + "..x"), Match: protocol.MatchWildcard, Publish: true})
	}
	perms = append(perms, Permission{URI: "com.example.", Match: protocol.MatchPrefix,
		Call: true, Register: true, Publish: true, Subscribe: true})
	a, err := NewRoleAuthorizer(map[string][]Permission{"anonymous": perms, "other": perms[:3]})
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// benchRouterWith returns a router serving rc. With the environment
// variable WAMPKIT_BENCH_METRICS set, the router counts into a Prometheus
// registry, so that one test binary measures the cost of the metrics:
//
//	go test -c ./router && ./router.test -test.bench Route -test.benchmem
//	WAMPKIT_BENCH_METRICS=1 ./router.test -test.bench Route -test.benchmem
func benchRouterWith(tb testing.TB, rc RealmConfig) *Router {
	tb.Helper()
	cfg := Config{Realms: []RealmConfig{rc}, MaxSubscriptions: -1, Logger: slog.New(slog.DiscardHandler)}
	if os.Getenv("WAMPKIT_BENCH_METRICS") != "" {
		cfg.Metrics = prometheus.NewRegistry()
	}
	r, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close() })
	return r
}

// BenchmarkRouteCall measures the router's work for one call round trip:
// CALL -> INVOCATION, YIELD -> RESULT.
func BenchmarkRouteCall(b *testing.B) {
	r := benchRouter(b)
	caller, _ := benchSession(b, r, false)
	callee, calleePeer := benchSession(b, r, true)
	rm := caller.realm
	rm.dealer.register(callee, &protocol.Register{Request: 1, Procedure: "com.example.echo"})
	args := protocol.List{"hello"}
	b.ReportAllocs()
	cpu := cpuTime()
	for i := range b.N {
		call := protocol.Call{Request: protocol.ID(i + 1), Procedure: "com.example.echo", Args: args}
		if v := rm.dealer.call(caller, &call); v != nil {
			b.Fatal(v)
		}
		inv := calleePeer.last.(*protocol.Invocation)
		y := protocol.Yield{Request: inv.Request, Args: inv.Args}
		if v := rm.dealer.yield(callee, &y); v != nil {
			b.Fatal(v)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}

// BenchmarkRouteAuthz measures CALL round trips and publications to one
// subscriber in a realm with a RoleAuthorizer (see benchAuthorizer), to
// compare with BenchmarkRouteCall and BenchmarkRouteEvent/subscribers=1.
func BenchmarkRouteAuthz(b *testing.B) {
	r := benchRouterWith(b, RealmConfig{Name: "realm1", Authorizer: benchAuthorizer(b)})
	caller, _ := benchSession(b, r, false)
	callee, calleePeer := benchSession(b, r, true)
	rm := caller.realm
	rm.dealer.register(callee, &protocol.Register{Request: 1, Procedure: "com.example.echo"})
	rm.broker.subscribe(callee, &protocol.Subscribe{Request: 2, Topic: "com.example.topic"})
	if _, ok := calleePeer.last.(*protocol.Subscribed); !ok {
		b.Fatalf("SUBSCRIBE: %v", calleePeer.last)
	}
	args := protocol.List{"hello"}
	b.Run("call", func(b *testing.B) {
		b.ReportAllocs()
		cpu := cpuTime()
		for i := range b.N {
			call := protocol.Call{Request: protocol.ID(i + 1), Procedure: "com.example.echo", Args: args}
			rm.dealer.call(caller, &call)
			inv := calleePeer.last.(*protocol.Invocation)
			rm.dealer.yield(callee, &protocol.Yield{Request: inv.Request, Args: inv.Args})
		}
		b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
	})
	b.Run("publish", func(b *testing.B) {
		b.ReportAllocs()
		cpu := cpuTime()
		for i := range b.N {
			rm.broker.publish(caller, &protocol.Publish{Request: protocol.ID(i + 1), Topic: "com.example.topic", Args: args}, false)
		}
		b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
	})
}

// BenchmarkRouteEvent measures the router's work per delivered EVENT of a
// publication to n subscribers of one topic.
func BenchmarkRouteEvent(b *testing.B) {
	for _, n := range []int{1, 1000} {
		b.Run("subscribers="+strconv.Itoa(n), func(b *testing.B) {
			r := benchRouter(b)
			pub, _ := benchSession(b, r, false)
			rm := pub.realm
			for range n {
				s, _ := benchSession(b, r, false)
				rm.broker.subscribe(s, &protocol.Subscribe{Request: 1, Topic: "com.example.topic"})
			}
			// Pattern subscriptions elsewhere must not slow exact ones much.
			s, _ := benchSession(b, r, false)
			for i := range 100 {
				rm.broker.subscribe(s, &protocol.Subscribe{Request: protocol.ID(i + 2),
					Topic: protocol.URI("org.example." + strconv.Itoa(i)), Options: protocol.Dict{"match": "prefix"}})
			}
			args := protocol.List{"payload"}
			b.ReportAllocs()
			cpu := cpuTime()
			for i := range b.N {
				rm.broker.publish(pub, &protocol.Publish{Request: protocol.ID(i + 1), Topic: "com.example.topic", Args: args}, false)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/event")
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N)/float64(n), "cpu-ns/event")
		})
	}
}

// BenchmarkRoutePatterns measures a publication to one exact subscriber
// with many prefix and wildcard subscriptions that do not match: its cost
// must not grow with their number.
func BenchmarkRoutePatterns(b *testing.B) {
	for _, n := range []int{0, 100, 100000} {
		b.Run("patterns="+strconv.Itoa(n), func(b *testing.B) {
			r := benchRouter(b)
			pub, _ := benchSession(b, r, false)
			rm := pub.realm
			sub, _ := benchSession(b, r, false)
			rm.broker.subscribe(sub, &protocol.Subscribe{Request: 1, Topic: "com.example.topic"})
			for i := range n {
				opts := protocol.Dict{"match": "prefix"}
				topic := "com.example.t" + strconv.Itoa(i) + "."
				if i%2 == 1 {
					opts["match"] = "wildcard"
					topic = "com." + strconv.Itoa(i) + "..x"
				}
				rm.broker.subscribe(sub, &protocol.Subscribe{Request: protocol.ID(i + 2), Topic: protocol.URI(topic), Options: opts})
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

// BenchmarkRouteRegister measures REGISTER and UNREGISTER of a new
// procedure, and SUBSCRIBE and UNSUBSCRIBE of a new topic, with nobody
// subscribed to the meta events, which must then cost next to nothing.
func BenchmarkRouteRegister(b *testing.B) {
	r := benchRouter(b)
	s, p := benchSession(b, r, false)
	rm := s.realm
	b.ReportAllocs()
	cpu := cpuTime()
	for i := range b.N {
		id := protocol.ID(2*i + 1)
		rm.dealer.register(s, &protocol.Register{Request: id, Procedure: "com.example.proc"})
		reg := p.last.(*protocol.Registered).Registration
		rm.dealer.unregister(s, &protocol.Unregister{Request: id + 1, Registration: reg})
		rm.broker.subscribe(s, &protocol.Subscribe{Request: id, Topic: "com.example.topic"})
		sub := p.last.(*protocol.Subscribed).Subscription
		rm.broker.unsubscribe(s, &protocol.Unsubscribe{Request: id + 1, Subscription: sub})
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}

// TestRouteAllocs pins the allocations of the hot paths that
// BenchmarkRouteCall and BenchmarkRouteEvent measure: the meta API (which
// CALL reaches for wamp.* procedures, and whose events cost a lookup)
// must not add any while nobody uses it.
func TestRouteAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own account")
	}
	t.Run("authorizer=nil", func(t *testing.T) { testRouteAllocs(t, benchRouter(t)) })
	t.Run("authorizer=roles", func(t *testing.T) {
		// The RoleAuthorizer allocates nothing.
		testRouteAllocs(t, benchRouterWith(t, RealmConfig{Name: "realm1", Authorizer: benchAuthorizer(t)}))
	})
}

func testRouteAllocs(t *testing.T, r *Router) {
	caller, _ := benchSession(t, r, false)
	callee, calleePeer := benchSession(t, r, true)
	rm := caller.realm
	rm.dealer.register(callee, &protocol.Register{Request: 1, Procedure: "com.example.echo"})
	rm.broker.subscribe(callee, &protocol.Subscribe{Request: 2, Topic: "com.example.topic"})
	args := protocol.List{"hello"}
	var req protocol.ID
	tests := []struct {
		name string
		max  float64
		f    func()
	}{
		// The INVOCATION, the invocation record and the RESULT.
		{"call", 3, func() {
			req++
			call := protocol.Call{Request: req, Procedure: "com.example.echo", Args: args}
			rm.dealer.call(caller, &call)
			inv := calleePeer.last.(*protocol.Invocation)
			rm.dealer.yield(callee, &protocol.Yield{Request: inv.Request, Args: inv.Args})
		}},
		// The EVENT and its Publish (the publication escapes into it).
		{"publish", 2, func() {
			req++
			rm.broker.publish(caller, &protocol.Publish{Request: req, Topic: "com.example.topic", Args: args}, false)
		}},
	}
	for _, tt := range tests {
		if got := testing.AllocsPerRun(1000, tt.f); got > tt.max {
			t.Errorf("%s: %v allocations, want at most %v", tt.name, got, tt.max)
		}
	}
	if _, ok := calleePeer.last.(*protocol.Event); !ok {
		t.Errorf("the subscriber's last message is %v, want an EVENT", calleePeer.last)
	}
}

// BenchmarkSessionPage measures what one refresh of a console's session
// list costs the router: wampkit.session.page over 10,000 sessions, the
// first page, and with a filter that matches one authid.
func BenchmarkSessionPage(b *testing.B) {
	r := benchRouter(b)
	var s *session
	var p *sinkPeer
	for range 10_000 {
		s, p = benchSession(b, r, false)
	}
	target := s.authID
	for _, bc := range []struct {
		name   string
		kwargs protocol.Dict
	}{
		{"page", protocol.Dict{"limit": 50}},
		{"filter", protocol.Dict{"filter": target}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu := cpuTime()
			for i := range b.N {
				call := protocol.Call{Request: protocol.ID(i + 1), Procedure: ProcedureSessionPage, Kwargs: bc.kwargs}
				if err := s.realm.dealer.call(s, &call); err != nil {
					b.Fatal(err)
				}
				if _, ok := p.last.(*protocol.Result); !ok {
					b.Fatalf("got %v, want RESULT", p.last)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
