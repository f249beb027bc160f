package router_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// gatherTotal returns the sum of the counter family name in reg.
func gatherTotal(tb testing.TB, reg prometheus.Gatherer, name string) uint64 {
	tb.Helper()
	families, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	var sum uint64
	for _, f := range families {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				sum += uint64(m.GetCounter().GetValue())
			}
		}
	}
	return sum
}

// resultDict returns the first argument of a RESULT as a Dict.
func resultDict(tb testing.TB, m protocol.Message) protocol.Dict {
	tb.Helper()
	res, ok := m.(*protocol.Result)
	if !ok || len(res.Args) != 1 {
		tb.Fatalf("got %s, want RESULT with one argument", describe(m))
	}
	d, ok := res.Args[0].(protocol.Dict)
	if !ok {
		tb.Fatalf("RESULT argument %T, want a dict", res.Args[0])
	}
	return d
}

func TestRouterStatsProcedure(t *testing.T) {
	reg := prometheus.NewRegistry()
	r := newRouter(t, router.Config{Metrics: reg, Realms: []router.RealmConfig{
		{Name: realm1, Authorizer: mustRoles(t, map[string][]router.Permission{
			"anonymous": {{URI: "", Match: protocol.MatchPrefix, Call: true, Register: true}}})},
		{Name: "other"},
	}})
	admin := join(t, r)
	join(t, r)
	c := connect(t, r)
	c.hello("other", nil)

	// The figures are the router's, over every realm: three sessions,
	// and the counters /metrics shows, the CALL asking included.
	in := gatherTotal(t, reg, "wampkit_router_messages_in_total")
	out := gatherTotal(t, reg, "wampkit_router_messages_out_total")
	got := resultDict(t, admin.metaCall(router.ProcedureStats, nil, nil))
	want := protocol.Dict{"sessions": 3, "messages_in": in + 1, "messages_out": out}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", router.ProcedureStats, diff)
	}

	// A registration of the router's procedure is refused, and a pattern
	// registration that covers it does not get its calls.
	admin.send(&protocol.Register{Request: admin.next(), Options: protocol.Dict{}, Procedure: router.ProcedureStats})
	admin.expectError(protocol.TypeRegister, admin.req, protocol.ErrInvalidURI)
	admin.register("wampkit", protocol.Dict{"match": "prefix"})
	got = resultDict(t, admin.metaCall(router.ProcedureStats, nil, nil))
	if got["sessions"] != 3 {
		t.Errorf("%s through a prefix registration of wampkit = %v, want the router's answer", router.ProcedureStats, got)
	}

	// An open realm refuses it: the figures are the router's, not the
	// realm's, and need an explicit permission.
	c.send(&protocol.Call{Request: c.next(), Options: protocol.Dict{}, Procedure: router.ProcedureStats})
	c.expectError(protocol.TypeCall, c.req, protocol.ErrNotAuthorized)
}

func TestRouterStatsProcedureAuthorized(t *testing.T) {
	r := newRouter(t, router.Config{Realms: []router.RealmConfig{
		{Name: realm1, Authorizer: mustRoles(t, map[string][]router.Permission{
			"anonymous": {{URI: "wamp.", Match: protocol.MatchPrefix, Call: true}}})},
	}})
	c := join(t, r)
	c.send(&protocol.Call{Request: c.next(), Options: protocol.Dict{}, Procedure: router.ProcedureStats})
	c.expectError(protocol.TypeCall, c.req, protocol.ErrNotAuthorized)

	// Without Config.Metrics the router counts no messages: the answer
	// has the sessions only.
	r = newRouter(t, router.Config{Realms: []router.RealmConfig{{Name: realm1, Authorizer: allowAll(t)}}})
	c = join(t, r)
	got := resultDict(t, c.metaCall(router.ProcedureStats, nil, nil))
	if diff := cmp.Diff(protocol.Dict{"sessions": 1}, got); diff != "" {
		t.Errorf("%s without metrics mismatch (-want +got):\n%s", router.ProcedureStats, diff)
	}
}

func TestSessionPageProcedure(t *testing.T) {
	r := newRouter(t, router.Config{Realms: []router.RealmConfig{
		{Name: realm1, Authorizer: allowAll(t)},
		{Name: "open"},
	}})
	var ids []uint64
	var peers []*testPeer
	for range 5 {
		p := join(t, r)
		peers = append(peers, p)
		ids = append(ids, uint64(p.session))
	}
	slices.Sort(ids)
	admin := peers[0]
	page := func(kwargs protocol.Dict) (count, matched int, got []uint64) {
		t.Helper()
		d := resultDict(t, admin.metaCall(router.ProcedureSessionPage, nil, kwargs))
		for _, s := range d["sessions"].(protocol.List) {
			got = append(got, s.(protocol.Dict)["session"].(uint64))
		}
		return d["count"].(int), d["matched"].(int), got
	}

	tests := []struct {
		name    string
		kwargs  protocol.Dict
		matched int
		want    []uint64
	}{
		{"all", nil, 5, ids},
		{"first page", protocol.Dict{"limit": 2}, 5, ids[:2]},
		{"second page", protocol.Dict{"limit": 2, "offset": 2}, 5, ids[2:4]},
		{"last page", protocol.Dict{"limit": 2, "offset": uint64(4)}, 5, ids[4:]},
		{"past the end", protocol.Dict{"offset": 5}, 5, nil},
		{"by transport", protocol.Dict{"filter": "LOCAL"}, 5, ids},
		{"by role", protocol.Dict{"filter": "anonym"}, 5, ids},
		{"by nothing", protocol.Dict{"filter": "no such session"}, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			count, matched, got := page(tt.kwargs)
			if count != 5 || matched != tt.matched || !slices.Equal(got, tt.want) {
				t.Errorf("%s(%v) = count %d, matched %d, sessions %v; want 5, %d, %v",
					router.ProcedureSessionPage, tt.kwargs, count, matched, got, tt.matched, tt.want)
			}
		})
	}

	// By authid, any case, and by session ID: one session, with the
	// details wamp.session.get gives.
	victim := peers[3]
	authid := victim.welcome.Details.String("authid")
	for _, filter := range []string{strings.ToUpper(authid), "  " + authid + " ", strconv.FormatUint(uint64(victim.session), 10)} {
		d := resultDict(t, admin.metaCall(router.ProcedureSessionPage, nil, protocol.Dict{"filter": filter}))
		want := resultDict(t, admin.metaCall("wamp.session.get", protocol.List{uint64(victim.session)}, nil))
		if diff := cmp.Diff(protocol.Dict{"count": 5, "matched": 1, "sessions": protocol.List{want}}, d); diff != "" {
			t.Errorf("%s filter %q mismatch (-want +got):\n%s", router.ProcedureSessionPage, filter, diff)
		}
	}

	// A session that left is gone.
	victim.send(&protocol.Goodbye{Details: protocol.Dict{}, Reason: protocol.CloseSystemShutdown})
	expect[*protocol.Goodbye](victim)
	if count, matched, _ := page(protocol.Dict{"filter": authid}); count != 4 || matched != 0 {
		t.Errorf("after the session left: count %d, matched %d; want 4, 0", count, matched)
	}

	// Bad arguments.
	for _, kwargs := range []protocol.Dict{
		{"limit": 0}, {"limit": -1}, {"limit": router.MaxSessionPage + 1}, {"limit": "10"},
		{"offset": -1}, {"offset": 1.5}, {"filter": 7},
	} {
		admin.send(&protocol.Call{Request: admin.next(), Options: protocol.Dict{}, Procedure: router.ProcedureSessionPage, Kwargs: kwargs})
		admin.expectError(protocol.TypeCall, admin.req, protocol.ErrInvalidArgument)
	}

	// An open realm shows no transport details, so it does not filter on
	// them either: the filter cannot probe addresses.
	o := connect(t, r)
	o.hello("open", nil)
	d := resultDict(t, o.metaCall(router.ProcedureSessionPage, nil, protocol.Dict{"filter": "local"}))
	if d["count"] != 1 || d["matched"] != 0 {
		t.Errorf("%s filter \"local\" in an open realm = %v, want count 1, matched 0", router.ProcedureSessionPage, d)
	}
}
