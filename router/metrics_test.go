package router_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/router/auth"
)

// metricValues gathers reg and returns every sample by name and labels
// ("name{k=v,...}").
func metricValues(tb testing.TB, reg *prometheus.Registry) map[string]float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatalf("Gather: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			key := mf.GetName()
			if len(m.Label) > 0 {
				key += "{"
				for i, l := range m.Label {
					if i > 0 {
						key += ","
					}
					key += l.GetName() + "=" + l.GetValue()
				}
				key += "}"
			}
			out[key] = value(m)
		}
	}
	return out
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return -1
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	r := newRouter(t, router.Config{Metrics: reg, Realms: []router.RealmConfig{{Name: realm1,
		Authenticators: []router.Authenticator{router.Anonymous{}, &auth.Ticket{Principals: map[string]auth.Principal{
			"alice": {Secret: "right"}}}}}}})
	callee, caller := join(t, r), join(t, r)
	subs := []*testPeer{join(t, r), join(t, r), join(t, r)}
	callee.register("com.example.p", nil)
	for _, s := range subs {
		s.subscribe("com.example.t", nil)
	}
	const calls = 40
	for range calls {
		caller.callOK("com.example.p", callee)
	}
	req := caller.next()
	caller.send(&protocol.Call{Request: req, Procedure: "com.example.p"})
	inv := expect[*protocol.Invocation](callee)
	callee.send(&protocol.Error{RequestType: protocol.TypeInvocation, Request: inv.Request, Details: protocol.Dict{},
		URI: "com.example.oops"})
	caller.expectError(protocol.TypeCall, req, "com.example.oops")
	for range 5 {
		caller.publishAck("com.example.t", nil, "x")
	}
	for _, s := range subs {
		for range 5 {
			expect[*protocol.Event](s)
		}
	}
	// A failed authentication.
	bad := connect(t, r)
	bad.send(&protocol.Hello{Realm: realm1, Details: protocol.Dict{"roles": clientRoles(), "authid": "alice",
		"authmethods": []any{"ticket"}}})
	expect[*protocol.Challenge](bad)
	bad.send(&protocol.Authenticate{Signature: "wrong", Extra: protocol.Dict{}})
	bad.expectAbort(protocol.ErrAuthenticationDenied)
	// A session that left.
	gone := join(t, r)
	gone.send(&protocol.Goodbye{Details: protocol.Dict{}, Reason: protocol.CloseGoodbyeAndOut})
	expect[*protocol.Goodbye](gone)
	gone.expectClosed()

	got := metricValues(t, reg)
	want := map[string]float64{
		"wampkit_router_sessions{realm=realm1,transport=local}":                                     5,
		"wampkit_router_joins_total{realm=realm1}":                                                  6,
		"wampkit_router_leaves_total{realm=realm1}":                                                 1,
		"wampkit_router_auth_failures_total{method=ticket,reason=wamp.error.authentication_denied}": 1,
		"wampkit_router_messages_in_total{type=CALL}":                                               calls + 1,
		"wampkit_router_messages_in_total{type=YIELD}":                                              calls,
		"wampkit_router_messages_out_total{type=INVOCATION}":                                        calls + 1,
		"wampkit_router_messages_out_total{type=RESULT}":                                            calls,
		"wampkit_router_messages_in_total{type=PUBLISH}":                                            5,
		"wampkit_router_messages_out_total{type=PUBLISHED}":                                         5,
		"wampkit_router_messages_out_total{type=EVENT}":                                             15,
		"wampkit_router_publications_total":                                                         5,
		"wampkit_router_events_delivered_total":                                                     15,
		"wampkit_router_messages_in_total{type=HELLO}":                                              7,
		"wampkit_router_messages_out_total{type=WELCOME}":                                           6,
		"wampkit_router_messages_out_total{type=CHALLENGE}":                                         1,
		"wampkit_router_messages_in_total{type=AUTHENTICATE}":                                       1,
		"wampkit_router_call_errors_total{uri=com.example.oops}":                                    1,
		"wampkit_router_call_duration_seconds":                                                      3, // calls 0, 16, 32 of the caller
		"wampkit_router_subscriptions{realm=realm1}":                                                1,
		"wampkit_router_registrations{realm=realm1}":                                                1,
		"wampkit_router_backlog_messages":                                                           0,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}

	// A second router on the same registry cannot register its metrics.
	if _, err := router.New(router.Config{Metrics: reg, Realms: []router.RealmConfig{{Name: realm1}}}); err == nil {
		t.Error("New with an already used registry: nil error")
	}
	_ = context.Background
}
