package interop

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
)

// TestIndexMetaAutobahnPython has Autobahn|Python (MessagePack over
// RawSocket, its advanced cell) use the registration and subscription meta
// APIs (SUMMARY §16.2, §16.3) on a router of its own: it subscribes to
// wamp.registration.on_create and wamp.subscription.on_create, sees a Go
// client register PREFIX.proc and subscribe PREFIX.topic, and then calls
// every procedure of both APIs about them. It runs with one library
// only: the router's logic does not depend on the serializer, and the
// JavaScript peers are covered by the session meta API scenarios.
//
// Over a cluster (cluster3) the Go client and the peer are on two nodes.
func TestIndexMetaAutobahnPython(t *testing.T) {
	t.Parallel()
	for _, topo := range topologies {
		t.Run(topo.name, func(t *testing.T) {
			skipOnCluster(t)
			t.Parallel()
			testIndexMetaAutobahnPython(t, startDeployment(t, topo))
		})
	}
}

func testIndexMetaAutobahnPython(t *testing.T, d *deployment) {
	rot := d.rotation(0)
	dir := interopDir(t)
	l := libByName(t, "autobahn_py")
	l.require(t)
	const prefix = "wampkit.interop.indexmeta"
	unknown := protocol.MaxID
	argv := append(l.argv(dir, rot.next().rsURL, "msgpack", "index_meta", prefix),
		paramsArg(t, map[string]any{"unknown": unknown})...)
	p := startScript(t, dir, argv...)
	m := p.next()
	if m["ready"] != true {
		t.Fatalf("want a ready line, got %v\nstderr:\n%s", m, p.stderr)
	}
	peer := m["session"].(float64)

	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	g := joinGo(t, rot.next())
	reg, err := g.Register(ctx, prefix+".proc", func(context.Context, *client.Invocation) (*client.Result, error) {
		return &client.Result{}, nil
	}, nil)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	sub, err := g.Subscribe(ctx, prefix+".topic", func(*client.Event) {}, nil)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	res := p.result()

	// "created" is a time of the router's; check its form, then leave it out.
	for _, k := range []string{"reg_on_create", "sub_on_create"} {
		d, _ := res[k].(map[string]any)["details"].(map[string]any)
		if c, _ := d["created"].(string); len(c) != len("2006-01-02T15:04:05.000Z") || c[len(c)-1] != 'Z' {
			t.Errorf("%s: created %q, want an ISO 8601 UTC time", k, d["created"])
		}
		delete(d, "created")
	}
	for _, k := range []string{"reg_get", "sub_get"} {
		delete(res[k].(map[string]any), "created")
	}
	regDetails := map[string]any{"id": reg.ID(), "uri": prefix + ".proc", "match": "exact", "invoke": "single"}
	subDetails := map[string]any{"id": sub.ID(), "uri": prefix + ".topic", "match": "exact"}
	// wamp.registration.get adds the implementation-specific
	// _invocations (none were made).
	regGet := map[string]any{"_invocations": 0}
	for k, v := range regDetails {
		regGet[k] = v
	}
	want := map[string]any{
		"reg_on_create": map[string]any{"session": g.SessionID(), "details": regDetails},
		"sub_on_create": map[string]any{"session": g.SessionID(), "details": subDetails},
		// The router is the test's own: the Go client's is its only
		// registration.
		"reg_list":              map[string]any{"exact": []any{reg.ID()}, "prefix": []any{}, "wildcard": []any{}},
		"reg_lookup":            reg.ID(),
		"reg_lookup_prefix":     nil,
		"reg_match":             reg.ID(),
		"reg_get":               regGet,
		"reg_list_callees":      []any{g.SessionID()},
		"reg_count_callees":     1,
		"reg_get_unknown":       string(protocol.ErrNoSuchRegistration),
		"sub_lookup":            sub.ID(),
		"sub_match":             []any{sub.ID()},
		"sub_get":               subDetails,
		"sub_list_subscribers":  []any{g.SessionID()},
		"sub_count_subscribers": 1,
		"sub_get_unknown":       string(protocol.ErrNoSuchSubscription),
	}
	got := map[string]any{}
	for k := range want {
		got[k] = res[k]
	}
	if d := cmp.Diff(normal(t, want), normal(t, got)); d != "" {
		t.Errorf("what Autobahn|Python %v saw (-want +got):\n%s", peer, d)
	}
}
