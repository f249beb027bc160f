package router_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/transport"
)

// FuzzRouterSessions drives the router's whole message handling with
// random message sequences from several in-process sessions at once. The
// input is decoded by a small generator (fuzzGen) into steps: a session
// index and one of the 24 message types with plausible and implausible
// fields (IDs 0, 2^53+1 and the ones the router handed out, good and bad
// URIs, options of the wrong type), or an action: close and reopen a
// session's transport, stop or resume reading one.
//
// Required: no panic (the router runs in this process, a panic fails the
// run); no deadlock (sending never blocks, and afterwards a fresh pair of
// sessions must still complete a call and the router must close within
// a deadline); no goroutine left behind once the router is closed.
func FuzzRouterSessions(f *testing.F) {
	for _, seed := range fuzzSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRouterSessions(t, data)
	})
}

// fuzzSeeds are hand-written sequences through the interesting paths: join
// and call, subscribe and publish, cancel, meta API, protocol violations.
func fuzzSeeds() [][]byte {
	// Step encoding: see fuzzGen.step; the first byte is the config.
	return [][]byte{
		{0, 0, 26, 1, 26, 1, 30, 0, 0, 0, 0, 1, 27, 0, 0, 0, 0, 0, 0, 28, 0, 5},
		{1, 0, 26, 1, 26, 1, 31, 0, 0, 0, 1, 29, 0, 0, 0, 0, 0, 0, 1, 25, 1, 29, 0, 0, 0},
		{2, 0, 26, 0, 27, 0, 14, 4, 0, 0, 0, 0, 24, 0, 3},
		{3, 0, 26, 1, 26, 0, 30, 0, 0, 0, 0, 1, 27, 0, 0, 0, 1, 0, 0, 0, 15, 5, 1, 0, 1, 28, 0, 5, 0},
		{4, 0, 26, 0, 27, 0, 7, 3, 0, 0, 0, 0, 0, 0, 27, 0, 10, 5, 0, 0, 0},
		{0, 0, 1, 0, 2, 1, 14, 0, 0, 0, 0},
		{5, 2, 26, 2, 30, 0, 1, 3, 0, 0, 2, 27, 0, 12, 0, 0, 0, 0, 0, 5, 0, 0},
	}
}

// fuzzSessions is the most sessions one input drives.
const fuzzSessions = 4

// fuzzStepWait bounds each wait of the fuzz target. Nothing is timed: it
// only turns a deadlock into a failure.
const fuzzStepWait = 10 * time.Second

func fuzzRouterSessions(t *testing.T, data []byte) {
	ignore := goleak.IgnoreCurrent()
	g := &fuzzGen{data: data}
	cfgByte := g.byte()
	cfg := router.Config{
		// The health check joins a realm of its own: the fuzz sessions'
		// messages are still routed after their transports closed, and
		// the session meta API (wamp.session.kill_all) acts per realm.
		Realms: []router.RealmConfig{{Name: realm1, MaxRetained: 4, EventHistory: []router.HistoryConfig{
			{Topic: "com.a", Match: protocol.MatchPrefix, Limit: 4},
		}}, {Name: fuzzHealthRealm}},
		Logger:           quietLogger,
		LocalQueueSize:   16,
		SlowConsumerWait: time.Millisecond,
		GoodbyeTimeout:   50 * time.Millisecond,
		StrictRequestIDs: cfgByte&1 != 0,
		StrictURIs:       cfgByte&2 != 0,
	}
	if cfgByte&4 != 0 {
		// A backlog this small overflows: the slow-consumer paths run.
		cfg.MaxBacklog = 4
	}
	if cfgByte&8 != 0 {
		cfg.Realms[0].SlowConsumer = router.SlowConsumerDropEvents
	}
	if cfgByte&16 != 0 {
		// Authorization: some of the fuzz URIs allowed, the rest denied.
		a, err := router.NewRoleAuthorizer(map[string][]router.Permission{"anonymous": {
			{URI: "com.a", Match: protocol.MatchPrefix, Call: true, Register: true, Publish: true, Subscribe: true},
			{URI: "wamp.session.", Match: protocol.MatchPrefix, Call: true, Subscribe: true},
			{URI: "com..b", Match: protocol.MatchWildcard, Publish: true},
		}})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Realms[0].Authorizer = a
	}
	fuzzConfig(&cfg, cfgByte)
	r, err := router.New(cfg)
	if err != nil {
		t.Fatalf("router.New: %v", err)
	}
	closed := false
	closeRouter := func() {
		if closed {
			return
		}
		closed = true
		done := make(chan struct{})
		go func() {
			r.Close()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(fuzzStepWait):
			buf := make([]byte, 1<<20)
			t.Fatalf("Router.Close still running after %v\n%s", fuzzStepWait, buf[:runtime.Stack(buf, true)])
		}
	}
	defer closeRouter()

	n := 1 + int(g.byte())%fuzzSessions
	sessions := make([]*fuzzSession, n)
	for i := range sessions {
		sessions[i] = openFuzzSession(t, r)
	}
	defer func() {
		for _, s := range sessions {
			s.close()
		}
	}()
	for g.more() {
		s := sessions[int(g.byte())%n]
		switch op := g.byte() % 32; op {
		case 24:
			s.close()
			s = openFuzzSession(t, r)
			for i := range sessions {
				if sessions[i].closed.Load() {
					sessions[i] = s
					break
				}
			}
		case 25:
			s.stall(!s.stalled.Load())
		default:
			if m := g.message(op, s); m != nil {
				// Send never blocks; a full queue towards the router
				// drops this step.
				s.p.Send(context.Background(), m)
			}
		}
	}

	// The router still serves: a fresh callee and caller complete a call
	// (after closing the fuzz sessions, as the session limits may be tiny).
	for _, s := range sessions {
		s.close()
	}
	fuzzHealthy(t, r)
	closeRouter()
	for _, s := range sessions {
		select {
		case <-s.done:
		case <-time.After(fuzzStepWait):
			t.Fatalf("session reader still running after Router.Close")
		}
	}
	goleak.VerifyNone(t, ignore)
}

// fuzzConfig is extended by the robustness options (see limits_test.go);
// it picks them from the config byte.
var fuzzConfig = func(*router.Config, byte) {}

// fuzzSession is one in-process client of the fuzz target. Its reader
// drains the transport (unless stalled) and remembers the IDs the router
// handed out, so that the generator can answer and refer to them.
type fuzzSession struct {
	p       transport.Peer
	done    chan struct{}
	closed  atomic.Bool
	stalled atomic.Bool
	resume  chan struct{}
	mu      sync.Mutex
	req     protocol.ID // last request ID sent
	lastInv atomic.Uint64
	lastSub atomic.Uint64
	lastReg atomic.Uint64
	session atomic.Uint64
}

func openFuzzSession(t *testing.T, r *router.Router) *fuzzSession {
	p, err := r.Connect(context.Background())
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	s := &fuzzSession{p: p, done: make(chan struct{}), resume: make(chan struct{}, 1)}
	go s.read()
	return s
}

func (s *fuzzSession) read() {
	defer close(s.done)
	for {
		for s.stalled.Load() && !s.closed.Load() {
			<-s.resume
		}
		m, err := s.p.Recv()
		if err != nil {
			return
		}
		switch m := m.(type) {
		case *protocol.Welcome:
			s.session.Store(uint64(m.Session))
		case *protocol.Invocation:
			s.lastInv.Store(uint64(m.Request))
		case *protocol.Subscribed:
			s.lastSub.Store(uint64(m.Subscription))
		case *protocol.Registered:
			s.lastReg.Store(uint64(m.Registration))
		}
	}
}

func (s *fuzzSession) stall(on bool) {
	s.stalled.Store(on)
	if !on {
		select {
		case s.resume <- struct{}{}:
		default:
		}
	}
}

func (s *fuzzSession) close() {
	if s.closed.Swap(true) {
		return
	}
	s.p.Close(nil)
	select {
	case s.resume <- struct{}{}:
	default:
	}
}

// fuzzHealthy requires a fresh callee and caller to complete a call.
func fuzzHealthy(t *testing.T, r *router.Router) {
	t.Helper()
	callee, caller := joinRetry(t, r), joinRetry(t, r)
	callee.register("com.fuzz.health", nil)
	caller.callOK("com.fuzz.health", callee, "ok")
	callee.p.Close(nil)
	caller.p.Close(nil)
}

// fuzzHealthRealm is the realm of fuzzHealthy; the generator never names it.
const fuzzHealthRealm = protocol.URI("com.fuzz.health")

// joinRetry joins fuzzHealthRealm, retrying while the router refuses with
// LimitExceeded (closed sessions leave the realm asynchronously) or
// wamp.error.timeout (authentication timeout).
func joinRetry(t *testing.T, r *router.Router) *testPeer {
	t.Helper()
	deadline := time.Now().Add(fuzzStepWait)
	for {
		c := connect(t, r)
		c.send(&protocol.Hello{Realm: fuzzHealthRealm, Details: protocol.Dict{"roles": clientRoles()}})
		switch m := c.recv().(type) {
		case *protocol.Welcome:
			c.session = m.Session
			return c
		case *protocol.Abort:
			// With the tiny limits of fuzzConfig, also a 1 ms
			// authentication timeout.
			if m.Reason != router.LimitExceeded && m.Reason != protocol.ErrTimeout || time.Now().After(deadline) {
				t.Fatalf("join: got %s", describe(m))
			}
		default:
			t.Fatalf("join: got %s", describe(m))
		}
		time.Sleep(time.Millisecond)
	}
}

// fuzzGen decodes fuzz bytes into messages. Every choice reads one byte;
// past the end every byte is 0, so any input decodes.
type fuzzGen struct {
	data []byte
	pos  int
}

func (g *fuzzGen) more() bool { return g.pos < len(g.data) }

func (g *fuzzGen) byte() byte {
	if g.pos >= len(g.data) {
		g.pos++
		return 0
	}
	b := g.data[g.pos]
	g.pos++
	return b
}

func (g *fuzzGen) pick(n int) int { return int(g.byte()) % n }

// id returns a plausible or implausible ID for s.
func (g *fuzzGen) id(s *fuzzSession) protocol.ID {
	switch g.pick(12) {
	case 0:
		return 0
	case 1:
		return 1
	case 2:
		return 2
	case 3:
		return protocol.ID(s.lastInv.Load())
	case 4:
		return protocol.ID(s.lastSub.Load())
	case 5:
		return protocol.ID(s.lastReg.Load())
	case 6:
		return protocol.MaxID
	case 7:
		return protocol.MaxID + 1
	case 8:
		return 1 << 63
	case 9:
		return protocol.ID(s.session.Load())
	default:
		return s.nextReq()
	}
}

func (s *fuzzSession) nextReq() protocol.ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.req = protocol.NextID(s.req)
	return s.req
}

var fuzzURIs = []protocol.URI{
	"com.a", "com.a.b", "com.a.b.c", "com", "com..b", "com.", "", ".a",
	"wamp.session.get", "wamp.session.count", "wamp.session.list", "wamp.session.kill",
	"wamp.session.kill_all", "wamp.session.kill_by_authid", "wamp.session.kill_by_authrole",
	"wamp.session.on_join", "wamp.x", "a b", "#", "com.a#b", "realm1", "\xff\xfe", "COM.A",
	"com.a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p",
	"wamp.session.add_testament", "wamp.session.flush_testaments",
	"wamp.registration.list", "wamp.registration.lookup", "wamp.registration.match",
	"wamp.registration.get", "wamp.registration.list_callees", "wamp.registration.count_callees",
	"wamp.subscription.list", "wamp.subscription.lookup", "wamp.subscription.match",
	"wamp.subscription.get", "wamp.subscription.list_subscribers", "wamp.subscription.count_subscribers",
	"wamp.subscription.get_events", "wamp.registration.on_create", "wamp.subscription.on_subscribe",
	"com.h.retained",
}

// fuzzRoles announces every feature a client can: progressive call
// invocations and results, canceling, payload passthru, so that the
// router's paths for them run too.
func fuzzRoles() protocol.Dict {
	all := map[string]any{
		"progressive_call_results": true, "progressive_call_invocations": true,
		"call_canceling": true, "payload_passthru_mode": true,
	}
	return protocol.Dict{
		"publisher":  map[string]any{"features": all},
		"subscriber": map[string]any{"features": all},
		"caller":     map[string]any{"features": all},
		"callee":     map[string]any{"features": all},
	}
}

func (g *fuzzGen) uri() protocol.URI { return fuzzURIs[g.pick(len(fuzzURIs))] }

// options returns a new Options or Details dict, plausible or not.
func (g *fuzzGen) options(s *fuzzSession) protocol.Dict {
	switch g.pick(46) {
	case 36:
		return protocol.Dict{"retain": true}
	case 37:
		return protocol.Dict{"get_retained": true}
	case 38:
		return protocol.Dict{"retain": "yes", "get_retained": 1}
	case 39:
		return protocol.Dict{"ppt_scheme": "x_custom", "ppt_serializer": "native"}
	case 40:
		return protocol.Dict{"ppt_scheme": "wamp", "ppt_serializer": "cbor", "ppt_cipher": "xsalsa20poly1305", "ppt_keyid": "k"}
	case 41:
		return protocol.Dict{"ppt_scheme": 5, "ppt_cipher": protocol.Dict{}}
	case 42:
		return protocol.Dict{"progress": true, "ppt_scheme": "mqtt", "ppt_serializer": "json"}
	case 43:
		return protocol.Dict{"scope": "detached", "publish_options": protocol.Dict{"exclude_me": false}}
	case 44:
		return protocol.Dict{"scope": 3}
	case 45:
		return protocol.Dict{"limit": int64(2), "reverse": true, "match": "prefix"}
	case 0:
		return nil
	case 1:
		return protocol.Dict{}
	case 2:
		return protocol.Dict{"match": "prefix"}
	case 3:
		return protocol.Dict{"match": "wildcard"}
	case 4:
		return protocol.Dict{"match": "bogus"}
	case 5:
		return protocol.Dict{"match": 5}
	case 6:
		return protocol.Dict{"invoke": "roundrobin"}
	case 7:
		return protocol.Dict{"invoke": "bogus"}
	case 8:
		return protocol.Dict{"receive_progress": true}
	case 9:
		return protocol.Dict{"receive_progress": "yes"}
	case 10:
		return protocol.Dict{"timeout": int64(-1)}
	case 11:
		return protocol.Dict{"timeout": int64(1)}
	case 12:
		return protocol.Dict{"timeout": uint64(1 << 63)}
	case 13:
		return protocol.Dict{"timeout": 2.5}
	case 14:
		return protocol.Dict{"exclude": "notalist"}
	case 15:
		return protocol.Dict{"exclude": protocol.List{s.session.Load(), "x", nil}}
	case 16:
		return protocol.Dict{"eligible": protocol.List{s.session.Load()}}
	case 17:
		return protocol.Dict{"exclude_me": false}
	case 18:
		return protocol.Dict{"exclude_me": "no"}
	case 19:
		return protocol.Dict{"acknowledge": true}
	case 20:
		return protocol.Dict{"acknowledge": true, "exclude_me": false}
	case 21:
		return protocol.Dict{"progress": true}
	case 22:
		return protocol.Dict{"mode": "kill"}
	case 23:
		return protocol.Dict{"mode": "killnowait"}
	case 24:
		return protocol.Dict{"mode": "skip"}
	case 25:
		return protocol.Dict{"mode": 7}
	case 26:
		return protocol.Dict{"disclose_me": true}
	case 27:
		return protocol.Dict{"disclose_caller": true, "invoke": "random"}
	case 28:
		return protocol.Dict{"roles": clientRoles()}
	case 29:
		return protocol.Dict{"roles": "none"}
	case 30:
		return protocol.Dict{"roles": protocol.Dict{"callee": protocol.Dict{}}, "authmethods": protocol.List{"ticket", 5}}
	case 31:
		return protocol.Dict{"eligible_authid": protocol.List{"x"}, "exclude_authrole": "anonymous"}
	case 32:
		return protocol.Dict{"invoke": "first", "match": "prefix"}
	case 33:
		return protocol.Dict{"invoke": "last", "match": "wildcard"}
	case 34:
		return protocol.Dict{"_private": protocol.Dict{"nested": protocol.List{protocol.Dict{}}}}
	default:
		return protocol.Dict{"progress": true, "receive_progress": true, "timeout": int64(3)}
	}
}

func (g *fuzzGen) args(s *fuzzSession) protocol.List {
	switch g.pick(8) {
	case 0:
		return nil
	case 1:
		return protocol.List{}
	case 2:
		return protocol.List{1}
	case 3:
		return protocol.List{nil}
	case 4:
		return protocol.List{s.session.Load()}
	case 5:
		return protocol.List{"anonymous"}
	case 6:
		return protocol.List{protocol.Dict{}, protocol.List{}}
	default:
		return protocol.List{int64(-1), 2.5, []byte{0}}
	}
}

func (g *fuzzGen) kwargs() protocol.Dict {
	switch g.pick(6) {
	case 0:
		return nil
	case 1:
		return protocol.Dict{"reason": "wamp.close.test"}
	case 2:
		return protocol.Dict{"reason": 5}
	case 3:
		return protocol.Dict{"reason": "not a uri"}
	case 4:
		return protocol.Dict{"message": "bye"}
	default:
		return protocol.Dict{"x": protocol.List{}}
	}
}

// message returns the message of op (0-23: one per message type; 26-31:
// HELLO, SUBSCRIBE, PUBLISH, CALL, YIELD, REGISTER again, the common
// ones) for s.
func (g *fuzzGen) message(op byte, s *fuzzSession) protocol.Message {
	switch op {
	case 0, 26:
		realm := protocol.URI(realm1)
		if g.pick(8) == 0 {
			realm = g.uri()
		}
		d := g.options(s)
		switch g.pick(4) {
		case 1, 2:
			d = protocol.Dict{"roles": fuzzRoles()}
		case 3:
			d = protocol.Dict{"roles": clientRoles()}
		}
		return &protocol.Hello{Realm: realm, Details: d}
	case 1:
		return &protocol.Welcome{Session: g.id(s), Details: g.options(s)}
	case 2:
		return &protocol.Abort{Details: g.options(s), Reason: g.uri()}
	case 3:
		return &protocol.Challenge{AuthMethod: "ticket", Extra: g.options(s)}
	case 4:
		return &protocol.Authenticate{Signature: "secret", Extra: g.options(s)}
	case 5:
		return &protocol.Goodbye{Details: g.options(s), Reason: g.uri()}
	case 6:
		types := []protocol.MessageType{protocol.TypeInvocation, protocol.TypeInvocation, protocol.TypeCall,
			protocol.TypeSubscribe, 0, 999}
		return &protocol.Error{RequestType: types[g.pick(len(types))], Request: g.id(s), Details: g.options(s),
			URI: g.uri(), Args: g.args(s), Kwargs: g.kwargs()}
	case 7, 28:
		return &protocol.Publish{Request: g.id(s), Options: g.options(s), Topic: g.uri(), Args: g.args(s), Kwargs: g.kwargs()}
	case 8:
		return &protocol.Published{Request: g.id(s), Publication: g.id(s)}
	case 9, 27:
		return &protocol.Subscribe{Request: g.id(s), Options: g.options(s), Topic: g.uri()}
	case 10:
		return &protocol.Subscribed{Request: g.id(s), Subscription: g.id(s)}
	case 11:
		return &protocol.Unsubscribe{Request: g.id(s), Subscription: g.id(s)}
	case 12:
		return &protocol.Unsubscribed{Request: g.id(s), Details: g.options(s)}
	case 13:
		return &protocol.Event{Subscription: g.id(s), Publication: g.id(s), Details: g.options(s), Args: g.args(s)}
	case 14, 29:
		return &protocol.Call{Request: g.id(s), Options: g.options(s), Procedure: g.uri(), Args: g.args(s), Kwargs: g.kwargs()}
	case 15:
		return &protocol.Cancel{Request: g.id(s), Options: g.options(s)}
	case 16:
		return &protocol.Result{Request: g.id(s), Details: g.options(s), Args: g.args(s)}
	case 17, 31:
		return &protocol.Register{Request: g.id(s), Options: g.options(s), Procedure: g.uri()}
	case 18:
		return &protocol.Registered{Request: g.id(s), Registration: g.id(s)}
	case 19:
		return &protocol.Unregister{Request: g.id(s), Registration: g.id(s)}
	case 20:
		return &protocol.Unregistered{Request: g.id(s), Details: g.options(s)}
	case 21:
		return &protocol.Invocation{Request: g.id(s), Registration: g.id(s), Details: g.options(s), Args: g.args(s)}
	case 22:
		return &protocol.Interrupt{Request: g.id(s), Options: g.options(s)}
	case 23, 30:
		return &protocol.Yield{Request: g.id(s), Options: g.options(s), Args: g.args(s), Kwargs: g.kwargs()}
	}
	return nil
}

// TestFuzzSeeds runs the seeds with every config byte, as a quick check
// that is part of every go test run.
func TestFuzzSeeds(t *testing.T) {
	for i, seed := range fuzzSeeds() {
		for c := range 8 {
			in := append([]byte{byte(c)}, seed[1:]...)
			t.Run(fmt.Sprintf("seed%d/config%d", i, c), func(t *testing.T) { fuzzRouterSessions(t, in) })
		}
	}
}
