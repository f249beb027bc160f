package cluster_test

import (
	"slices"
	"strconv"
	"testing"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/cluster"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// callDict calls procedure on c with kwargs and returns the RESULT's
// first argument as a dict.
func callDict(tb testing.TB, c *client.Client, procedure protocol.URI, kwargs protocol.Dict) protocol.Dict {
	tb.Helper()
	ctx, cancel := testContext()
	defer cancel()
	res, err := c.Do(ctx, &client.CallRequest{Procedure: procedure, Kwargs: kwargs})
	if err != nil {
		tb.Fatalf("%s%v: %v", procedure, kwargs, err)
	}
	if len(res.Args) != 1 {
		tb.Fatalf("%s%v = %v, want one argument", procedure, kwargs, res.Args)
	}
	d, ok := protocol.ToDict(res.Args[0])
	if !ok {
		tb.Fatalf("%s%v = %v, want a dict", procedure, kwargs, res.Args[0])
	}
	return d
}

// pageIDs returns the session IDs of the rows of a session page.
func pageIDs(tb testing.TB, page protocol.Dict) []protocol.ID {
	tb.Helper()
	rows := asList(page["sessions"])
	if rows == nil {
		tb.Fatalf("sessions of %v is no list", page)
	}
	out := make([]protocol.ID, 0, len(rows))
	for _, row := range rows {
		d, ok := protocol.ToDict(row)
		if !ok {
			tb.Fatalf("row %v is no dict", row)
		}
		id, ok := protocol.ToID(d["session"])
		if !ok {
			tb.Fatalf("row %v has no session ID", d)
		}
		out = append(out, id)
	}
	return out
}

// TestConsoleProceduresAcrossNodes: wampkit.session.page pages, filters
// and counts the sessions of every node, in session ID order, never the
// cluster's own; wampkit.router.stats sums the nodes' figures and lists
// them per node.
func TestConsoleProceduresAcrossNodes(t *testing.T) {
	nodes := startMetaNodes(t, startNATS(t), 3, router.RealmConfig{Authorizer: openAuthorizer(t)}, cluster.Config{})
	admin := nodes[0].join(t, client.Config{})
	callee := nodes[1].join(t, client.Config{})
	register(t, callee, "console.echo", nil, echo)
	all := []protocol.ID{admin.SessionID(), callee.SessionID()}
	for _, n := range nodes {
		for range 2 {
			all = append(all, n.join(t, client.Config{}).SessionID())
		}
	}
	slices.Sort(all)
	// A call across nodes opens the cluster's own sessions on both.
	if _, err := callWhenThere(t, admin, &client.CallRequest{Procedure: "console.echo"}); err != nil {
		t.Fatal(err)
	}

	var got []protocol.ID
	for offset := 0; offset < len(all)+2; offset += 3 {
		page := callDict(t, admin, router.ProcedureSessionPage, protocol.Dict{"offset": offset, "limit": 3})
		if !sameID(page["count"], protocol.ID(len(all))) || !sameID(page["matched"], protocol.ID(len(all))) {
			t.Errorf("page at %d: count %v, matched %v; want %d and %d", offset, page["count"], page["matched"], len(all), len(all))
		}
		got = append(got, pageIDs(t, page)...)
	}
	if !slices.Equal(got, all) {
		t.Errorf("pages = %v, want every node's sessions in order %v", got, all)
	}

	// A filter by a session of another node's ID finds it there.
	want := callee.SessionID()
	page := callDict(t, nodes[2].join(t, client.Config{}), router.ProcedureSessionPage,
		protocol.Dict{"filter": strconv.FormatUint(uint64(want), 10)})
	if ids := pageIDs(t, page); !sameID(page["matched"], 1) || len(ids) != 1 || ids[0] != want {
		t.Errorf("page filtered by %d = %v", want, page)
	}

	stats := callDict(t, admin, router.ProcedureStats, nil)
	if !sameID(stats["sessions"], protocol.ID(len(all)+1)) {
		t.Errorf("stats sessions = %v, want %d (every node's, the cluster's own left out)", stats["sessions"], len(all)+1)
	}
	perNode := asList(stats["nodes"])
	if len(perNode) != len(nodes) {
		t.Fatalf("stats nodes = %v, want one entry per node", stats["nodes"])
	}
	var names []string
	sum := 0
	for _, v := range perNode {
		d, _ := protocol.ToDict(v)
		names = append(names, d.String("node"))
		n, _ := protocol.ToID(d["sessions"])
		sum += int(n)
	}
	var wantNames []string
	for _, n := range nodes {
		wantNames = append(wantNames, n.c.Name())
	}
	if !slices.Equal(sorted(names), sorted(wantNames)) || sum != len(all)+1 {
		t.Errorf("stats per node = %v, want nodes %v with %d sessions in all", perNode, wantNames, len(all)+1)
	}
}
