package router_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

func TestCallResult(t *testing.T) {
	r := newRouter(t, router.Config{})
	callee, caller := join(t, r), join(t, r)
	reg := callee.register("com.example.add", nil)

	req := caller.next()
	caller.send(&protocol.Call{Request: req, Procedure: "com.example.add", Args: protocol.List{1, 2}, Kwargs: protocol.Dict{"x": "y"}})
	inv := expect[*protocol.Invocation](callee)
	want := &protocol.Invocation{Request: 1, Registration: reg, Args: protocol.List{1, 2}, Kwargs: protocol.Dict{"x": "y"}}
	if diff := cmp.Diff(want, inv); diff != "" {
		t.Errorf("INVOCATION mismatch (-want +got):\n%s", diff)
	}
	callee.send(&protocol.Yield{Request: inv.Request, Args: protocol.List{3}, Kwargs: protocol.Dict{"sum": 3}})
	res := expect[*protocol.Result](caller)
	if diff := cmp.Diff(&protocol.Result{Request: req, Args: protocol.List{3}, Kwargs: protocol.Dict{"sum": 3}}, res); diff != "" {
		t.Errorf("RESULT mismatch (-want +got):\n%s", diff)
	}

	// INVOCATION request IDs count up per callee session.
	caller.send(&protocol.Call{Request: caller.next(), Procedure: "com.example.add"})
	if inv := expect[*protocol.Invocation](callee); inv.Request != 2 {
		t.Errorf("second INVOCATION request = %d, want 2", inv.Request)
	}

	// A callee error goes to the caller with its URI and payload.
	req = caller.next()
	caller.send(&protocol.Call{Request: req, Procedure: "com.example.add"})
	inv = expect[*protocol.Invocation](callee)
	callee.send(&protocol.Error{RequestType: protocol.TypeInvocation, Request: inv.Request, Details: protocol.Dict{},
		URI: "com.example.error.overflow", Args: protocol.List{"too big"}, Kwargs: protocol.Dict{"max": 10}})
	e := caller.expectError(protocol.TypeCall, req, "com.example.error.overflow")
	if diff := cmp.Diff(protocol.List{"too big"}, e.Args); diff != "" {
		t.Errorf("ERROR args mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(protocol.Dict{"max": 10}, e.Kwargs); diff != "" {
		t.Errorf("ERROR kwargs mismatch (-want +got):\n%s", diff)
	}
}

func TestDealerErrors(t *testing.T) {
	r := newRouter(t, router.Config{})
	owner := join(t, r)
	reg := owner.register("com.example.taken", nil)
	c := join(t, r)
	tests := []struct {
		name string
		msg  protocol.Message
		typ  protocol.MessageType
		req  protocol.ID
		uri  protocol.URI
	}{
		{"register bad URI", &protocol.Register{Request: 1, Procedure: "com. x"}, protocol.TypeRegister, 1, protocol.ErrInvalidURI},
		{"register taken", &protocol.Register{Request: 2, Procedure: "com.example.taken"}, protocol.TypeRegister, 2, protocol.ErrProcedureAlreadyExists},
		{"register bad policy", &protocol.Register{Request: 3, Procedure: "com.example", Options: protocol.Dict{"match": "regex"}}, protocol.TypeRegister, 3, protocol.ErrInvalidArgument},
		{"register bad wildcard", &protocol.Register{Request: 9, Procedure: "com. .x", Options: protocol.Dict{"match": "wildcard"}}, protocol.TypeRegister, 9, protocol.ErrInvalidURI},
		{"register bad invoke", &protocol.Register{Request: 4, Procedure: "com.example.s", Options: protocol.Dict{"invoke": "everyone"}}, protocol.TypeRegister, 4, protocol.ErrInvalidArgument},
		{"register taken, shared", &protocol.Register{Request: 10, Procedure: "com.example.taken", Options: protocol.Dict{"invoke": "roundrobin"}}, protocol.TypeRegister, 10, protocol.ErrProcedureAlreadyExists},
		{"unregister unknown", &protocol.Unregister{Request: 5, Registration: 999}, protocol.TypeUnregister, 5, protocol.ErrNoSuchRegistration},
		{"unregister other's", &protocol.Unregister{Request: 6, Registration: reg}, protocol.TypeUnregister, 6, protocol.ErrNoSuchRegistration},
		{"register reserved", &protocol.Register{Request: 11, Procedure: "wamp.session.count"}, protocol.TypeRegister, 11, protocol.ErrInvalidURI},
		{"call bad URI", &protocol.Call{Request: 7, Procedure: "com..x"}, protocol.TypeCall, 7, protocol.ErrInvalidURI},
		{"call unknown", &protocol.Call{Request: 8, Procedure: "com.example.none"}, protocol.TypeCall, 8, protocol.ErrNoSuchProcedure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.tb = t
			c.send(tt.msg)
			c.expectError(tt.typ, tt.req, tt.uri)
		})
	}
}

func TestUnregister(t *testing.T) {
	r := newRouter(t, router.Config{})
	callee, caller := join(t, r), join(t, r)
	reg := callee.register("com.example.f", nil)
	// A call in flight survives the UNREGISTER.
	req := caller.next()
	caller.send(&protocol.Call{Request: req, Procedure: "com.example.f"})
	inv := expect[*protocol.Invocation](callee)
	callee.send(&protocol.Unregister{Request: callee.next(), Registration: reg})
	expect[*protocol.Unregistered](callee)
	callee.send(&protocol.Yield{Request: inv.Request})
	if res := expect[*protocol.Result](caller); res.Request != req {
		t.Errorf("RESULT request = %d, want %d", res.Request, req)
	}
	req = caller.next()
	caller.send(&protocol.Call{Request: req, Procedure: "com.example.f"})
	caller.expectError(protocol.TypeCall, req, protocol.ErrNoSuchProcedure)
	// The procedure is free again.
	other := join(t, r)
	other.register("com.example.f", nil)
}

func TestCalleeLeaves(t *testing.T) {
	r := newRouter(t, router.Config{})
	callee := join(t, r)
	caller1, caller2 := join(t, r), join(t, r)
	callee.register("com.example.slow", nil)
	caller1.send(&protocol.Call{Request: 1, Procedure: "com.example.slow"})
	caller1.send(&protocol.Call{Request: 2, Procedure: "com.example.slow"})
	caller2.send(&protocol.Call{Request: 1, Procedure: "com.example.slow"})
	for range 3 {
		expect[*protocol.Invocation](callee)
	}
	callee.p.Close(nil)
	got := map[protocol.ID]bool{}
	for range 2 {
		e := expect[*protocol.Error](caller1)
		if e.RequestType != protocol.TypeCall || e.URI != protocol.ErrCanceled {
			t.Errorf("got %s, want ERROR(CALL, canceled)", describe(e))
		}
		got[e.Request] = true
	}
	if !got[1] || !got[2] {
		t.Errorf("canceled calls %v, want 1 and 2", got)
	}
	caller2.expectError(protocol.TypeCall, 1, protocol.ErrCanceled)
	// The registration went with the callee.
	caller2.send(&protocol.Call{Request: 2, Procedure: "com.example.slow"})
	caller2.expectError(protocol.TypeCall, 2, protocol.ErrNoSuchProcedure)
}

func TestCallerLeaves(t *testing.T) {
	r := newRouter(t, router.Config{})
	callee, caller := join(t, r), join(t, r)
	callee.register("com.example.slow", nil)
	caller.send(&protocol.Call{Request: 1, Procedure: "com.example.slow"})
	inv := expect[*protocol.Invocation](callee)
	caller.p.Close(nil)
	// The callee supports call canceling: INTERRUPT killnowait.
	intr := expect[*protocol.Interrupt](callee)
	if intr.Request != inv.Request || intr.Options.String("mode") != "killnowait" {
		t.Errorf("got INTERRUPT %+v, want request %d mode killnowait", intr, inv.Request)
	}
	// The late YIELD and ERROR are discarded silently: no protocol
	// violation, the callee keeps working.
	callee.send(&protocol.Yield{Request: inv.Request})
	other := join(t, r)
	other.callOK("com.example.slow", callee, "still", "there")
}

func TestProgressiveResults(t *testing.T) {
	r := newRouter(t, router.Config{})
	callee, caller := join(t, r), join(t, r)
	callee.register("com.example.stream", nil)
	caller.send(&protocol.Call{Request: 1, Procedure: "com.example.stream", Options: protocol.Dict{"receive_progress": true}})
	inv := expect[*protocol.Invocation](callee)
	if !inv.Details.Bool("receive_progress") {
		t.Errorf("INVOCATION.Details = %v, want receive_progress", inv.Details)
	}
	for i := range 3 {
		callee.send(&protocol.Yield{Request: inv.Request, Options: protocol.Dict{"progress": true}, Args: protocol.List{i}})
	}
	callee.send(&protocol.Yield{Request: inv.Request, Args: protocol.List{"done"}})
	for i := range 3 {
		res := expect[*protocol.Result](caller)
		want := &protocol.Result{Request: 1, Details: protocol.Dict{"progress": true}, Args: protocol.List{i}}
		if diff := cmp.Diff(want, res); diff != "" {
			t.Errorf("progressive RESULT %d mismatch (-want +got):\n%s", i, diff)
		}
	}
	if res := expect[*protocol.Result](caller); res.Details.Bool("progress") || res.Args[0] != "done" {
		t.Errorf("final RESULT = %+v", res)
	}

	// Without receive_progress, progressive YIELDs are dropped.
	caller.send(&protocol.Call{Request: 2, Procedure: "com.example.stream"})
	inv = expect[*protocol.Invocation](callee)
	callee.send(&protocol.Yield{Request: inv.Request, Options: protocol.Dict{"progress": true}, Args: protocol.List{"dropped"}})
	callee.send(&protocol.Yield{Request: inv.Request, Args: protocol.List{"final"}})
	if res := expect[*protocol.Result](caller); res.Args[0] != "final" {
		t.Errorf("RESULT = %+v, want the final one", res)
	}
}

func TestCancel(t *testing.T) {
	tests := []struct {
		mode          string
		wantInterrupt bool
		// errorFirst: the caller gets ERROR canceled at once; otherwise
		// the callee's answer.
		errorFirst bool
	}{
		{"skip", false, true},
		{"killnowait", true, true},
		{"kill", true, false},
		{"", true, true}, // default killnowait
	}
	for _, tt := range tests {
		t.Run("mode="+tt.mode, func(t *testing.T) {
			r := newRouter(t, router.Config{})
			callee, caller := join(t, r), join(t, r)
			callee.register("com.example.slow", nil)
			caller.send(&protocol.Call{Request: 1, Procedure: "com.example.slow"})
			inv := expect[*protocol.Invocation](callee)
			opts := protocol.Dict{}
			if tt.mode != "" {
				opts["mode"] = tt.mode
			}
			caller.send(&protocol.Cancel{Request: 1, Options: opts})
			if tt.errorFirst {
				caller.expectError(protocol.TypeCall, 1, protocol.ErrCanceled)
			}
			if tt.wantInterrupt {
				intr := expect[*protocol.Interrupt](callee)
				if intr.Request != inv.Request {
					t.Errorf("INTERRUPT request = %d, want %d", intr.Request, inv.Request)
				}
			}
			callee.send(&protocol.Error{RequestType: protocol.TypeInvocation, Request: inv.Request, Details: protocol.Dict{}, URI: protocol.ErrCanceled})
			if !tt.errorFirst {
				caller.expectError(protocol.TypeCall, 1, protocol.ErrCanceled)
			}
			// A CANCEL for a finished call is ignored, the late answer
			// was discarded, and both sessions keep working.
			caller.send(&protocol.Cancel{Request: 1, Options: protocol.Dict{}})
			caller.callOK("com.example.slow", callee)
		})
	}
}

func TestCancelCalleeWithoutCanceling(t *testing.T) {
	r := newRouter(t, router.Config{})
	callee := connect(t, r)
	callee.hello(realm1, protocol.Dict{"roles": protocol.Dict{"callee": map[string]any{}}})
	caller := join(t, r)
	callee.register("com.example.slow", nil)
	caller.send(&protocol.Call{Request: 1, Procedure: "com.example.slow", Options: protocol.Dict{"receive_progress": true}})
	inv := expect[*protocol.Invocation](callee)
	if inv.Details.Bool("receive_progress") {
		t.Errorf("receive_progress forwarded to a callee without the feature")
	}
	caller.send(&protocol.Cancel{Request: 1, Options: protocol.Dict{"mode": "kill"}})
	// Treated as skip: ERROR at once, no INTERRUPT.
	caller.expectError(protocol.TypeCall, 1, protocol.ErrCanceled)
	callee.send(&protocol.Yield{Request: inv.Request})
	caller.callOK("com.example.slow", callee)
}

func TestCallerDisclosure(t *testing.T) {
	r := newRouter(t, router.Config{})
	callee := join(t, r)
	caller := join(t, r)
	callee.register("com.example.who", nil)
	callee.register("com.example.always", protocol.Dict{"disclose_caller": true})
	want := protocol.Dict{"caller": uint64(caller.session), "caller_authid": caller.welcome.Details.String("authid"), "caller_authrole": "anonymous"}
	for _, tt := range []struct {
		proc protocol.URI
		opts protocol.Dict
		want protocol.Dict
	}{
		{"com.example.who", nil, nil},
		{"com.example.who", protocol.Dict{"disclose_me": true}, want},
		{"com.example.always", nil, want},
	} {
		caller.send(&protocol.Call{Request: caller.next(), Procedure: tt.proc, Options: tt.opts})
		inv := expect[*protocol.Invocation](callee)
		if diff := cmp.Diff(tt.want, inv.Details, cmp.Comparer(func(a, b protocol.Dict) bool {
			return len(a) == 0 && len(b) == 0 || cmp.Equal(map[string]any(a), map[string]any(b))
		})); diff != "" {
			t.Errorf("%s %v: INVOCATION.Details mismatch (-want +got):\n%s", tt.proc, tt.opts, diff)
		}
		callee.send(&protocol.Yield{Request: inv.Request})
		expect[*protocol.Result](caller)
	}
}

func TestProgressiveInvocationsRefused(t *testing.T) {
	r := newRouter(t, router.Config{})
	callee, caller := join(t, r), join(t, r)
	callee.register("com.example.f", nil)
	// The caller did not announce progressive_call_invocations: a CALL
	// with progress=true is a protocol violation (spec advanced
	// "Progressive Call Invocations").
	caller.send(&protocol.Call{Request: 1, Procedure: "com.example.f", Options: protocol.Dict{"progress": true}})
	caller.expectAbort(protocol.ErrProtocolViolation)
}

func TestPatternRegistrations(t *testing.T) {
	r := newRouter(t, router.Config{})
	callee, caller := join(t, r), join(t, r)
	regs := map[protocol.ID]string{
		callee.register("com.example.a.b", nil):                                "exact com.example.a.b",
		callee.register("com.example", protocol.Dict{"match": "prefix"}):       "prefix com.example",
		callee.register("com.example.a", protocol.Dict{"match": "prefix"}):     "prefix com.example.a",
		callee.register("com..a.b", protocol.Dict{"match": "wildcard"}):        "wildcard com..a.b",
		callee.register("org.example..b", protocol.Dict{"match": "wildcard"}):  "wildcard org.example..b",
		callee.register("org..x.b", protocol.Dict{"match": "wildcard"}):        "wildcard org..x.b",
		callee.register("org.example.x.", protocol.Dict{"match": "wildcard"}):  "wildcard org.example.x.",
		callee.register("com.example.a.b", protocol.Dict{"match": "wildcard"}): "wildcard com.example.a.b",
	}
	// Same URI, other policy: separate registrations.
	if len(regs) != 8 {
		t.Fatalf("got %d distinct registration IDs, want 8", len(regs))
	}
	tests := []struct {
		procedure protocol.URI
		want      string // "" for no_such_procedure
	}{
		{"com.example.a.b", "exact com.example.a.b"},
		{"com.example.a.c", "prefix com.example.a"},
		{"com.example.abc", "prefix com.example.a"}, // string prefix, as in the spec's example
		{"com.example.z", "prefix com.example"},
		{"com.other.a.b", "wildcard com..a.b"},
		{"org.example.x.b", "wildcard org.example.x."}, // longest concrete run first
		{"org.example.y.b", "wildcard org.example..b"},
		{"org.other.x.b", "wildcard org..x.b"},
		{"org.other.y.b", ""},
		{"net.example", ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.procedure), func(t *testing.T) {
			caller.tb, callee.tb = t, t
			req := caller.next()
			caller.send(&protocol.Call{Request: req, Procedure: tt.procedure})
			if tt.want == "" {
				caller.expectError(protocol.TypeCall, req, protocol.ErrNoSuchProcedure)
				return
			}
			inv := expect[*protocol.Invocation](callee)
			if got := regs[inv.Registration]; got != tt.want {
				t.Errorf("call %s went to %q, want %q", tt.procedure, got, tt.want)
			}
			wantDetail := string(tt.procedure)
			if strings.HasPrefix(tt.want, "exact") {
				wantDetail = ""
			}
			if got := inv.Details.String("procedure"); got != wantDetail {
				t.Errorf("INVOCATION.Details.procedure = %q, want %q", got, wantDetail)
			}
			callee.send(&protocol.Yield{Request: inv.Request})
			expect[*protocol.Result](caller)
		})
	}
	// A pattern registration is unique per URI and policy.
	other := join(t, r)
	other.send(&protocol.Register{Request: 1, Procedure: "com.example", Options: protocol.Dict{"match": "prefix"}})
	other.expectError(protocol.TypeRegister, 1, protocol.ErrProcedureAlreadyExists)
	// Unregistering a pattern frees it.
	for id, name := range regs {
		if name == "prefix com.example.a" {
			callee.tb = t
			callee.send(&protocol.Unregister{Request: callee.next(), Registration: id})
			expect[*protocol.Unregistered](callee)
		}
	}
	caller.tb = t
	req := caller.next()
	caller.send(&protocol.Call{Request: req, Procedure: "com.example.a.c"})
	if inv := expect[*protocol.Invocation](callee); regs[inv.Registration] != "prefix com.example" {
		t.Errorf("after UNREGISTER, call went to %q", regs[inv.Registration])
	}
}

func TestSharedRegistration(t *testing.T) {
	r := newRouter(t, router.Config{})
	caller := join(t, r)
	callees := []*testPeer{join(t, r), join(t, r), join(t, r)}
	t.Run("roundrobin", func(t *testing.T) {
		for _, c := range callees {
			c.tb = t
			c.register("com.example.rr", protocol.Dict{"invoke": "roundrobin"})
		}
		// Policy mismatch.
		other := join(t, r)
		other.send(&protocol.Register{Request: 1, Procedure: "com.example.rr", Options: protocol.Dict{"invoke": "first"}})
		other.expectError(protocol.TypeRegister, 1, protocol.ErrProcedureAlreadyExists)
		for i := range 6 {
			if got := callOne(t, caller, callees, "com.example.rr"); got != i%3 {
				t.Errorf("call %d went to callee %d, want %d", i, got, i%3)
			}
		}
	})
	t.Run("first and last", func(t *testing.T) {
		for _, c := range callees {
			c.tb = t
			c.register("com.example.first", protocol.Dict{"invoke": "first"})
			c.register("com.example.last", protocol.Dict{"invoke": "last"})
		}
		if got := callOne(t, caller, callees, "com.example.first"); got != 0 {
			t.Errorf("first went to callee %d, want 0", got)
		}
		if got := callOne(t, caller, callees, "com.example.last"); got != 2 {
			t.Errorf("last went to callee %d, want 2", got)
		}
	})
	t.Run("random", func(t *testing.T) {
		for _, c := range callees {
			c.tb = t
			c.register("com.example.random", protocol.Dict{"invoke": "random"})
		}
		for range 6 {
			if got := callOne(t, caller, callees, "com.example.random"); got < 0 || got > 2 {
				t.Errorf("random went to callee %d", got)
			}
		}
	})
	t.Run("callee leaves", func(t *testing.T) {
		callees[0].p.Close(nil)
		callees[0].expectClosed()
		rest := callees[1:]
		// The router notices the close on the callee's goroutine; until
		// then a call may still pick the callee and fail with canceled.
		for deadline := time.Now().Add(wait); ; {
			if time.Now().After(deadline) {
				t.Fatalf("calls still fail %v after the callee left", wait)
			}
			if callOneOrError(t, caller, rest, "com.example.first") >= 0 {
				break
			}
		}
		if got := callOne(t, caller, rest, "com.example.first"); got != 0 {
			t.Errorf("first went to callee %d of the rest, want 0", got)
		}
		if got := callOne(t, caller, rest, "com.example.last"); got != 1 {
			t.Errorf("last went to callee %d of the rest, want 1", got)
		}
	})
}

// callOneOrError is callOne that also accepts an ERROR for the call, and
// then returns -1.
func callOneOrError(t *testing.T, caller *testPeer, callees []*testPeer, proc protocol.URI) int {
	t.Helper()
	caller.tb = t
	req := caller.next()
	caller.send(&protocol.Call{Request: req, Procedure: proc})
	deadline := time.After(wait)
	for {
		select {
		case m := <-caller.in:
			if e, ok := m.(*protocol.Error); ok && e.Request == req {
				return -1
			}
			t.Fatalf("caller got %s", describe(m))
		default:
		}
		for i, c := range callees {
			select {
			case m := <-c.in:
				inv, ok := m.(*protocol.Invocation)
				if !ok {
					t.Fatalf("callee %d got %s", i, describe(m))
				}
				c.tb = t
				c.send(&protocol.Yield{Request: inv.Request})
				if res := expect[*protocol.Result](caller); res.Request != req {
					t.Fatalf("RESULT for %d, want %d", res.Request, req)
				}
				return i
			default:
			}
		}
		select {
		case <-deadline:
			t.Fatalf("no answer to the call within %v", wait)
		case <-time.After(100 * time.Microsecond):
		}
	}
}

// callOne makes one call and returns the index in callees of the callee
// that got the INVOCATION (it answers, and the caller gets the RESULT). A
// stray INVOCATION to another callee would show up in the next callOne.
func callOne(t *testing.T, caller *testPeer, callees []*testPeer, proc protocol.URI) int {
	t.Helper()
	caller.tb = t
	req := caller.next()
	caller.send(&protocol.Call{Request: req, Procedure: proc})
	deadline := time.After(wait)
	for {
		for i, c := range callees {
			select {
			case m := <-c.in:
				inv, ok := m.(*protocol.Invocation)
				if !ok {
					t.Fatalf("callee %d got %s", i, describe(m))
				}
				c.tb = t
				c.send(&protocol.Yield{Request: inv.Request})
				if res := expect[*protocol.Result](caller); res.Request != req {
					t.Fatalf("RESULT for %d, want %d", res.Request, req)
				}
				return i
			default:
			}
		}
		select {
		case <-deadline:
			t.Fatalf("no callee got the INVOCATION within %v", wait)
		case <-time.After(100 * time.Microsecond):
		}
	}
}

func TestCallTimeout(t *testing.T) {
	r := newRouter(t, router.Config{})
	callee, caller := join(t, r), join(t, r)
	callee.register("com.example.slow", nil)
	caller.send(&protocol.Call{Request: 1, Procedure: "com.example.slow", Options: protocol.Dict{"timeout": 1}})
	inv := expect[*protocol.Invocation](callee)
	// The callee never answers in time.
	caller.expectError(protocol.TypeCall, 1, protocol.ErrTimeout)
	intr := expect[*protocol.Interrupt](callee)
	if intr.Request != inv.Request || intr.Options.String("mode") != "killnowait" {
		t.Errorf("got INTERRUPT %+v, want request %d mode killnowait", intr, inv.Request)
	}
	callee.send(&protocol.Yield{Request: inv.Request}) // late: discarded
	// A call that is answered in time is not affected by its timeout.
	req := caller.next()
	caller.send(&protocol.Call{Request: req + 1, Procedure: "com.example.slow", Options: protocol.Dict{"timeout": 60000}})
	inv = expect[*protocol.Invocation](callee)
	callee.send(&protocol.Yield{Request: inv.Request})
	if res := expect[*protocol.Result](caller); res.Request != req+1 {
		t.Errorf("RESULT for %d, want %d", res.Request, req+1)
	}
}
