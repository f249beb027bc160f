package router_test

import (
	"testing"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

func TestTrustLevels(t *testing.T) {
	r := newRouter(t, router.Config{Realms: []router.RealmConfig{{Name: realm1,
		Authenticators: []router.Authenticator{roleAuth{}}, TrustLevels: map[string]int{"backend": 2, "guest": 0}}}})
	backend, guest, other := joinAs(t, r, "backend"), joinAs(t, r, "guest"), joinAs(t, r, "other")
	roles, _ := protocol.ParseRoles(other.welcome.Details)
	if !roles.Supports(protocol.RoleBroker, protocol.FeaturePublicationTrustLevels) ||
		!roles.Supports(protocol.RoleDealer, protocol.FeatureCallTrustLevels) {
		t.Errorf("WELCOME roles %v do not announce trust levels", other.welcome.Details["roles"])
	}
	other.subscribe("com.example.t", nil)
	other.subscribe("com.example.", protocol.Dict{"match": "prefix"})
	for _, tt := range []struct {
		pub   *testPeer
		level any // nil: no trustlevel
		opts  protocol.Dict
	}{
		{backend, 2, nil},
		{guest, 0, nil},
		{other, nil, nil},
		{backend, 2, protocol.Dict{"disclose_me": true}},
	} {
		tt.pub.publishAck("com.example.t", tt.opts, "x")
		for range 2 { // the exact and the prefix subscription
			if tt.pub == other {
				break
			}
			ev := expect[*protocol.Event](other)
			if got, ok := ev.Details["trustlevel"]; tt.level == nil && ok || tt.level != nil && got != tt.level {
				t.Errorf("EVENT details %v, want trustlevel %v", ev.Details, tt.level)
			}
		}
	}
	// Calls.
	other.register("com.example.p", nil)
	for _, tt := range []struct {
		caller *testPeer
		level  any
	}{{backend, 2}, {guest, 0}} {
		req := tt.caller.next()
		tt.caller.send(&protocol.Call{Request: req, Procedure: "com.example.p"})
		inv := expect[*protocol.Invocation](other)
		if got, ok := inv.Details["trustlevel"]; !ok || got != tt.level {
			t.Errorf("INVOCATION details %v, want trustlevel %v", inv.Details, tt.level)
		}
		other.send(&protocol.Yield{Request: inv.Request})
		expect[*protocol.Result](tt.caller)
	}

	if _, err := router.New(router.Config{Realms: []router.RealmConfig{{Name: realm1,
		TrustLevels: map[string]int{"x": -1}}}}); err == nil {
		t.Error("New with a negative trust level: nil error")
	}
}
