package router_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// pptRoles is clientRoles with payload_passthru_mode on every role.
func pptRoles() protocol.Dict {
	features := map[string]any{"progressive_call_results": true, "call_canceling": true, "payload_passthru_mode": true}
	ppt := map[string]any{"features": map[string]any{"payload_passthru_mode": true}}
	return protocol.Dict{
		"publisher":  ppt,
		"subscriber": ppt,
		"caller":     map[string]any{"features": features},
		"callee":     map[string]any{"features": features},
	}
}

// joinPPT joins realm1 announcing payload_passthru_mode.
func joinPPT(tb testing.TB, r *router.Router) *testPeer {
	tb.Helper()
	c := connect(tb, r)
	c.hello(realm1, protocol.Dict{"roles": pptRoles()})
	return c
}

// e2ee are the options of an end-to-end encrypted payload.
func e2ee() protocol.Dict {
	return protocol.Dict{"ppt_scheme": "wamp", "ppt_serializer": "cbor", "ppt_cipher": "xsalsa20poly1305", "ppt_keyid": "0xabc"}
}

// sealed is a payload the router must pass on untouched.
var sealed = []byte{0x00, 0xff, 0x10, 0x80}

func TestPPTAnnounced(t *testing.T) {
	r := newRouter(t, router.Config{})
	c := join(t, r)
	roles, err := protocol.ParseRoles(c.welcome.Details)
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range []protocol.Role{protocol.RoleBroker, protocol.RoleDealer} {
		if !roles.Supports(role, protocol.FeaturePayloadPassthruMode) {
			t.Errorf("%s does not announce payload_passthru_mode", role)
		}
	}
}

func TestPPTPublish(t *testing.T) {
	r := newRouter(t, router.Config{})
	pub := joinPPT(t, r)
	plain := join(t, r) // the spec leaves non-ppt subscribers to cope
	subPlain := plain.subscribe("com.example.t", nil)
	pattern := joinPPT(t, r)
	subPattern := pattern.subscribe("com.example", protocol.Dict{"match": "prefix"})
	opts := e2ee()
	opts["disclose_me"] = true
	args := protocol.List{sealed}
	pub.publishAck("com.example.t", opts, args...)

	ev := expect[*protocol.Event](plain)
	want := e2ee()
	want["publisher"], want["publisher_authid"], want["publisher_authrole"] = uint64(pub.session), pub.welcome.Details.String("authid"), "anonymous"
	if diff := cmp.Diff(&protocol.Event{Subscription: subPlain, Publication: ev.Publication, Details: want, Args: args}, ev); diff != "" {
		t.Errorf("EVENT mismatch (-want +got):\n%s", diff)
	}
	if &ev.Args[0].([]byte)[0] != &sealed[0] {
		t.Errorf("the payload was copied")
	}
	ev = expect[*protocol.Event](pattern)
	want["topic"] = "com.example.t"
	if diff := cmp.Diff(&protocol.Event{Subscription: subPattern, Publication: ev.Publication, Details: want, Args: args}, ev); diff != "" {
		t.Errorf("pattern EVENT mismatch (-want +got):\n%s", diff)
	}
}

func TestPPTNotAnnounced(t *testing.T) {
	tests := []struct {
		name string
		send func(c *testPeer)
	}{
		{"publish", func(c *testPeer) {
			c.send(&protocol.Publish{Request: c.next(), Options: e2ee(), Topic: "com.example.t", Args: protocol.List{sealed}})
		}},
		{"call", func(c *testPeer) {
			c.send(&protocol.Call{Request: c.next(), Options: e2ee(), Procedure: "com.example.p", Args: protocol.List{sealed}})
		}},
		{"only ppt_keyid", func(c *testPeer) {
			c.send(&protocol.Call{Request: c.next(), Options: protocol.Dict{"ppt_keyid": "k"}, Procedure: "com.example.p", Args: protocol.List{sealed}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRouter(t, router.Config{})
			c := join(t, r)
			tt.send(c)
			c.expectAbort(protocol.ErrProtocolViolation)
		})
	}
}

func TestPPTCall(t *testing.T) {
	r := newRouter(t, router.Config{})
	callee := joinPPT(t, r)
	reg := callee.register("com.example.p", nil)
	caller := joinPPT(t, r)
	args := protocol.List{sealed}

	req := caller.next()
	caller.send(&protocol.Call{Request: req, Options: e2ee(), Procedure: "com.example.p", Args: args})
	inv := expect[*protocol.Invocation](callee)
	if diff := cmp.Diff(&protocol.Invocation{Request: inv.Request, Registration: reg, Details: e2ee(), Args: args}, inv); diff != "" {
		t.Errorf("INVOCATION mismatch (-want +got):\n%s", diff)
	}
	mqtt := protocol.Dict{"ppt_scheme": "mqtt", "ppt_serializer": "native"}
	callee.send(&protocol.Yield{Request: inv.Request, Options: mqtt, Args: args})
	res := expect[*protocol.Result](caller)
	if diff := cmp.Diff(&protocol.Result{Request: req, Details: mqtt, Args: args}, res); diff != "" {
		t.Errorf("RESULT mismatch (-want +got):\n%s", diff)
	}

	// ERROR of the callee: Details with the ppt keys reach the caller.
	req = caller.next()
	caller.send(&protocol.Call{Request: req, Options: e2ee(), Procedure: "com.example.p", Args: args})
	inv = expect[*protocol.Invocation](callee)
	callee.send(&protocol.Error{RequestType: protocol.TypeInvocation, Request: inv.Request, Details: e2ee(),
		URI: "com.example.failed", Args: args})
	e := caller.expectError(protocol.TypeCall, req, "com.example.failed")
	if diff := cmp.Diff(e2ee(), e.Details); diff != "" {
		t.Errorf("ERROR.Details mismatch (-want +got):\n%s", diff)
	}

	// Progressive results keep progress beside the ppt keys.
	req = caller.next()
	caller.send(&protocol.Call{Request: req, Options: protocol.Dict{"ppt_scheme": "x_mine", "receive_progress": true},
		Procedure: "com.example.p", Args: args})
	inv = expect[*protocol.Invocation](callee)
	callee.send(&protocol.Yield{Request: inv.Request, Options: protocol.Dict{"ppt_scheme": "x_mine", "progress": true}, Args: args})
	res = expect[*protocol.Result](caller)
	if diff := cmp.Diff(protocol.Dict{"ppt_scheme": "x_mine", "progress": true}, res.Details); diff != "" {
		t.Errorf("progressive RESULT.Details mismatch (-want +got):\n%s", diff)
	}
	callee.send(&protocol.Yield{Request: inv.Request, Args: protocol.List{"done"}})
	expect[*protocol.Result](caller)
}

func TestPPTFeatureNotSupported(t *testing.T) {
	r := newRouter(t, router.Config{})
	plainCallee := join(t, r)
	plainCallee.register("com.example.plain", nil)
	pptCallee := joinPPT(t, r)
	pptCallee.register("com.example.ppt", nil)
	caller := joinPPT(t, r)
	args := protocol.List{sealed}

	// A callee that did not announce the mode.
	req := caller.next()
	caller.send(&protocol.Call{Request: req, Options: e2ee(), Procedure: "com.example.plain", Args: args})
	caller.expectError(protocol.TypeCall, req, protocol.ErrFeatureNotSupported)
	// The router's own procedures cannot read the payload.
	req = caller.next()
	caller.send(&protocol.Call{Request: req, Options: e2ee(), Procedure: "wamp.session.count", Args: args})
	caller.expectError(protocol.TypeCall, req, protocol.ErrFeatureNotSupported)

	// A callee answering in the mode to a caller that did not announce it.
	plainCaller := join(t, r)
	for _, progress := range []bool{false, true} {
		req = plainCaller.next()
		opts := protocol.Dict{}
		if progress {
			opts["receive_progress"] = true
		}
		plainCaller.send(&protocol.Call{Request: req, Options: opts, Procedure: "com.example.ppt", Args: protocol.List{1}})
		inv := expect[*protocol.Invocation](pptCallee)
		yopts := e2ee()
		if progress {
			yopts["progress"] = true
		}
		pptCallee.send(&protocol.Yield{Request: inv.Request, Options: yopts, Args: args})
		plainCaller.expectError(protocol.TypeCall, req, protocol.ErrFeatureNotSupported)
		if progress {
			if in := expect[*protocol.Interrupt](pptCallee); in.Request != inv.Request {
				t.Errorf("got %s, want INTERRUPT of %d", describe(in), inv.Request)
			}
		}
	}
	req = plainCaller.next()
	plainCaller.send(&protocol.Call{Request: req, Procedure: "com.example.ppt", Args: protocol.List{1}})
	inv := expect[*protocol.Invocation](pptCallee)
	pptCallee.send(&protocol.Error{RequestType: protocol.TypeInvocation, Request: inv.Request, Details: e2ee(), URI: "com.example.failed", Args: args})
	plainCaller.expectError(protocol.TypeCall, req, protocol.ErrFeatureNotSupported)
}

func TestPPTCalleeViolations(t *testing.T) {
	tests := []struct {
		name   string
		roles  protocol.Dict
		answer func(inv protocol.ID) protocol.Message
	}{
		{"yield not announced", nil, func(inv protocol.ID) protocol.Message {
			return &protocol.Yield{Request: inv, Options: e2ee(), Args: protocol.List{sealed}}
		}},
		{"error not announced", nil, func(inv protocol.ID) protocol.Message {
			return &protocol.Error{RequestType: protocol.TypeInvocation, Request: inv, Details: e2ee(), URI: "com.example.e", Args: protocol.List{sealed}}
		}},
		{"yield bad scheme", pptRoles(), func(inv protocol.ID) protocol.Message {
			return &protocol.Yield{Request: inv, Options: protocol.Dict{"ppt_scheme": 1}, Args: protocol.List{sealed}}
		}},
		{"yield two items", pptRoles(), func(inv protocol.ID) protocol.Message {
			return &protocol.Yield{Request: inv, Options: protocol.Dict{"ppt_scheme": "x_a"}, Args: protocol.List{sealed, sealed}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRouter(t, router.Config{})
			roles := tt.roles
			if roles == nil {
				roles = clientRoles()
			}
			callee := connect(t, r)
			callee.hello(realm1, protocol.Dict{"roles": roles})
			callee.register("com.example.p", nil)
			caller := joinPPT(t, r)
			req := caller.next()
			caller.send(&protocol.Call{Request: req, Procedure: "com.example.p"})
			inv := expect[*protocol.Invocation](callee)
			callee.send(tt.answer(inv.Request))
			callee.expectAbort(protocol.ErrProtocolViolation)
			caller.expectError(protocol.TypeCall, req, protocol.ErrCanceled)
		})
	}
}

func TestPPTOptions(t *testing.T) {
	tests := []struct {
		name   string
		opts   protocol.Dict
		args   protocol.List
		kwargs protocol.Dict
		ok     bool
	}{
		{"e2ee", e2ee(), protocol.List{sealed}, nil, true},
		{"wamp flatbuffers aes", protocol.Dict{"ppt_scheme": "wamp", "ppt_serializer": "flatbuffers", "ppt_cipher": "aes256gcm"}, protocol.List{sealed}, nil, true},
		{"wamp without cipher", protocol.Dict{"ppt_scheme": "wamp", "ppt_serializer": "cbor"}, protocol.List{sealed}, nil, true},
		{"mqtt default serializer", protocol.Dict{"ppt_scheme": "mqtt"}, protocol.List{sealed}, nil, true},
		{"mqtt json", protocol.Dict{"ppt_scheme": "mqtt", "ppt_serializer": "json"}, protocol.List{sealed}, nil, true},
		{"custom", protocol.Dict{"ppt_scheme": "x_my_ppt", "ppt_serializer": "custom", "ppt_cipher": "custom", "ppt_keyid": "custom"}, protocol.List{sealed}, nil, true},
		{"key provider", protocol.Dict{"ppt_scheme": "com.example.kms", "ppt_cipher": "whatever"}, protocol.List{sealed}, protocol.Dict{}, true},
		{"no scheme", protocol.Dict{"ppt_serializer": "cbor"}, protocol.List{sealed}, nil, false},
		{"scheme not a string", protocol.Dict{"ppt_scheme": true}, protocol.List{sealed}, nil, false},
		{"empty scheme", protocol.Dict{"ppt_scheme": ""}, protocol.List{sealed}, nil, false},
		{"keyid not a string", protocol.Dict{"ppt_scheme": "x_a", "ppt_keyid": 7}, protocol.List{sealed}, nil, false},
		{"wamp without serializer", protocol.Dict{"ppt_scheme": "wamp"}, protocol.List{sealed}, nil, false},
		{"wamp json", protocol.Dict{"ppt_scheme": "wamp", "ppt_serializer": "json"}, protocol.List{sealed}, nil, false},
		{"wamp unknown cipher", protocol.Dict{"ppt_scheme": "wamp", "ppt_serializer": "cbor", "ppt_cipher": "rot13"}, protocol.List{sealed}, nil, false},
		{"mqtt flatbuffers", protocol.Dict{"ppt_scheme": "mqtt", "ppt_serializer": "flatbuffers"}, protocol.List{sealed}, nil, false},
		{"mqtt cipher", protocol.Dict{"ppt_scheme": "mqtt", "ppt_cipher": "aes256gcm"}, protocol.List{sealed}, nil, false},
		{"no payload", protocol.Dict{"ppt_scheme": "x_a"}, nil, nil, false},
		{"two items", protocol.Dict{"ppt_scheme": "x_a"}, protocol.List{sealed, sealed}, nil, false},
		{"kwargs", protocol.Dict{"ppt_scheme": "x_a"}, protocol.List{sealed}, protocol.Dict{"a": 1}, false},
	}
	r := newRouter(t, router.Config{})
	callee := joinPPT(t, r)
	callee.register("com.example.p", nil)
	c := joinPPT(t, r)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// PUBLISH (acknowledged) and CALL are checked alike.
			opts := protocol.Dict{"acknowledge": true}
			for k, v := range tt.opts {
				opts[k] = v
			}
			req := c.next()
			c.send(&protocol.Publish{Request: req, Options: opts, Topic: "com.example.t", Args: tt.args, Kwargs: tt.kwargs})
			if tt.ok {
				expect[*protocol.Published](c)
			} else {
				c.expectError(protocol.TypePublish, req, protocol.ErrInvalidArgument)
			}

			req = c.next()
			c.send(&protocol.Call{Request: req, Options: tt.opts, Procedure: "com.example.p", Args: tt.args, Kwargs: tt.kwargs})
			if !tt.ok {
				c.expectError(protocol.TypeCall, req, protocol.ErrInvalidArgument)
				return
			}
			inv := expect[*protocol.Invocation](callee)
			if diff := cmp.Diff(tt.opts, inv.Details); diff != "" {
				t.Errorf("INVOCATION.Details mismatch (-want +got):\n%s", diff)
			}
			callee.send(&protocol.Yield{Request: inv.Request})
			expect[*protocol.Result](c)
		})
	}
}

func TestPPTTestament(t *testing.T) {
	r := newRouter(t, router.Config{})
	watcher := join(t, r)
	sub := watcher.subscribe("com.example.t", nil)
	plain := join(t, r)
	m := plain.metaCall("wamp.session.add_testament", protocol.List{"com.example.t", protocol.List{sealed}},
		protocol.Dict{"publish_options": e2ee()})
	if e, ok := m.(*protocol.Error); !ok || e.URI != protocol.ErrInvalidArgument {
		t.Errorf("testament in ppt mode without the feature = %s, want ERROR %s", describe(m), protocol.ErrInvalidArgument)
	}
	c := joinPPT(t, r)
	c.addTestament("com.example.t", protocol.List{sealed}, nil, e2ee(), "")
	c.p.Close(nil)
	ev := expect[*protocol.Event](watcher)
	if diff := cmp.Diff(&protocol.Event{Subscription: sub, Publication: ev.Publication, Details: e2ee(), Args: protocol.List{sealed}}, ev); diff != "" {
		t.Errorf("EVENT mismatch (-want +got):\n%s", diff)
	}
}
