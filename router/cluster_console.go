package router

import (
	"cmp"
	"math"
	"slices"
	"strconv"

	"github.com/wampkit/wampkit/protocol"
)

// The router's console procedures (meta_console.go) over a cluster. With
// a ClusterMeta, ProcedureStats sums the figures of every node and lists
// them per node, and ProcedureSessionPage pages the sessions of every
// node, each with one question to all the other nodes
// (ClusterMeta.GatherMeta), as the session meta API does.
//
// A page takes two questions. The first asks each node for the number of
// its sessions, of those that match the filter, and the IDs of the first
// offset+limit of those (by session ID): the page's sessions are among
// them, as a session at a position of the whole list is at that
// position or before it in its node's. The caller's node merges the IDs
// and picks the page; the second question asks the nodes for the details
// of the page's sessions that are theirs (at most MaxSessionPage). So an
// answer carries at most a node's session IDs (as wamp.session.list's
// does) or a page of details, never all the details of a node.

// stats returns the router's figures, as ProcedureStats gives them; in a
// cluster, with the node's name (if the Cluster has a Name method).
func (r *Router) stats() protocol.Dict {
	sessions := 0
	for _, rm := range r.realms {
		rm.mu.Lock()
		for _, t := range rm.sessions {
			if !t.isCluster() {
				sessions++
			}
		}
		rm.mu.Unlock()
	}
	d := protocol.Dict{"sessions": sessions}
	if m := r.metrics; m != nil {
		var sum totals
		m.sum(&sum)
		var in, out uint64
		for i := range msgKinds {
			in += sum.in[i].Load()
			out += sum.out[i].Load()
		}
		d["messages_in"], d["messages_out"] = in, out
	}
	if n, ok := r.cfg.Cluster.(interface{ Name() string }); ok {
		d["node"] = n.Name()
	}
	return d
}

// clusterStats adds the figures of the other nodes to own, this node's,
// and lists every node's under "nodes", this node's first.
func (q metaRequest) clusterStats(own protocol.Dict) protocol.Dict {
	total := protocol.Dict{}
	nodes := []any{own}
	add := func(d protocol.Dict) {
		for _, k := range []string{"sessions", "messages_in", "messages_out"} {
			if v, ok := protocol.ToID(d[k]); ok {
				n, _ := protocol.ToID(total[k])
				total[k] = uint64(n + v)
			}
		}
	}
	add(own)
	for _, a := range q.gather(nil, nil) {
		if len(a) == 0 {
			continue
		}
		if d, ok := protocol.ToDict(a[0]); ok {
			add(d)
			nodes = append(nodes, d)
		}
	}
	total["nodes"] = nodes
	return total
}

// answerStats answers [figures] of this node.
func answerStats(q metaRequest) (protocol.List, error) {
	return protocol.List{q.rm.r.stats()}, nil
}

// pageSessions returns the number of the realm's sessions and those that
// match filter (see ProcedureSessionPage), ordered by session ID.
func (rm *realm) pageSessions(filter string) (int, []*session) {
	all := rm.snapshot()
	// Transport details are matched only where they are shown (see
	// metaDetails), so that the filter cannot probe for addresses.
	transports := rm.authz.Load() != nil
	matched := all
	if filter != "" {
		matched = make([]*session, 0, len(all))
		for _, t := range all {
			if t.matches(filter, transports) {
				matched = append(matched, t)
			}
		}
	}
	slices.SortFunc(matched, func(a, b *session) int { return cmp.Compare(a.id, b.id) })
	return len(all), matched
}

// clusterSessionPage answers ProcedureSessionPage over the cluster.
func (q metaRequest) clusterSessionPage(filter string, offset, limit int) (protocol.List, error) {
	count, matched := q.rm.pageSessions(filter)
	top := min(offset, math.MaxInt32-limit) + limit
	type entry struct {
		id    protocol.ID
		local *session // nil: another node's
	}
	entries := make([]entry, 0, min(len(matched), top))
	for _, t := range matched[:min(len(matched), top)] {
		entries = append(entries, entry{id: t.id, local: t})
	}
	n := len(matched)
	for _, a := range q.gather(nil, protocol.Dict{"filter": filter, "top": top}) {
		if len(a) != 3 {
			continue
		}
		c, _ := protocol.ToID(a[0])
		m, _ := protocol.ToID(a[1])
		count += int(c)
		n += int(m)
		l, _ := toList(a[2])
		for _, v := range l[:min(len(l), top)] {
			if id, ok := protocol.ToID(v); ok {
				entries = append(entries, entry{id: id})
			}
		}
	}
	slices.SortFunc(entries, func(a, b entry) int { return cmp.Compare(a.id, b.id) })
	var page []entry
	if offset < len(entries) {
		page = entries[offset:min(len(entries), top)]
	}
	var remote []any
	for _, e := range page {
		if e.local == nil {
			remote = append(remote, uint64(e.id))
		}
	}
	details := map[protocol.ID]protocol.Dict{}
	if len(remote) > 0 {
		for _, a := range q.gather(nil, protocol.Dict{"sessions": remote}) {
			if len(a) == 0 {
				continue
			}
			l, _ := toList(a[0])
			for _, v := range l {
				if d, ok := protocol.ToDict(v); ok {
					if id, ok := protocol.ToID(d["session"]); ok {
						details[id] = d
					}
				}
			}
		}
	}
	rows := protocol.List{}
	for _, e := range page {
		switch {
		case e.local != nil:
			rows = append(rows, e.local.metaDetails())
		case details[e.id] != nil:
			rows = append(rows, details[e.id])
		}
		// Else the session left between the two questions.
	}
	return protocol.List{protocol.Dict{"count": count, "matched": n, "sessions": rows}}, nil
}

// answerSessionPage answers the questions of clusterSessionPage: with
// keyword argument sessions (a list of at most MaxSessionPage IDs),
// [[details of those that are this node's sessions]]; else [sessions,
// matching sessions, [IDs of the first top matching sessions]] for
// keyword arguments filter (lower case, trimmed) and top.
func answerSessionPage(q metaRequest) (protocol.List, error) {
	if v, ok := q.kwargs["sessions"]; ok {
		l, ok := toList(v)
		if !ok || len(l) > MaxSessionPage {
			return nil, invalidArgument("sessions must be a list of at most " + strconv.Itoa(MaxSessionPage) + " IDs")
		}
		rows := []any{}
		q.rm.mu.Lock()
		found := make([]*session, 0, len(l))
		for _, v := range l {
			id, _ := protocol.ToID(v)
			if t := q.rm.sessions[id]; t != nil && !t.isCluster() {
				found = append(found, t)
			}
		}
		q.rm.mu.Unlock()
		for _, t := range found {
			rows = append(rows, t.metaDetails())
		}
		return protocol.List{rows}, nil
	}
	filter, ok := q.kwargs["filter"].(string)
	top, ok2 := q.kwargs.Int("top")
	if !ok || !ok2 || top < 0 {
		return nil, invalidArgument("filter must be a string and top a non-negative integer")
	}
	count, matched := q.rm.pageSessions(filter)
	ids := make([]any, 0, min(int64(len(matched)), top))
	for _, t := range matched[:min(int64(len(matched)), top)] {
		ids = append(ids, uint64(t.id))
	}
	return protocol.List{count, len(matched), ids}, nil
}
