package router

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wampkit/wampkit/protocol"
)

// The router's own procedures for operators' consoles. The spec's meta
// API has no figures of the router as a whole, and pages a realm's
// sessions only as a list of IDs and one wamp.session.get per session; a
// console that watches 10,000 sessions needs both without 10,000 calls.
// So the router answers two implementation-specific procedures outside
// the reserved wamp namespace (spec basic "Reserved URIs"), from the same
// table as the meta API and like it on the caller's goroutine (see
// meta.go). They are authorized like any CALL; clients may not register
// them, and a pattern registration that covers them does not get their
// calls.

// Procedures of the router outside the reserved wamp namespace.
const (
	// ProcedureStats returns the router's figures, over all its realms:
	// [{"sessions": joined sessions, "messages_in": messages received,
	// "messages_out": messages sent}], counted since the router started,
	// as the wampkit_router_messages_in_total and _out_total metrics
	// (messages_in and messages_out only with [Config].Metrics). With a
	// [ClusterMeta], the figures are the sums over the cluster's nodes
	// (the sessions of the cluster's own left out), and "nodes" lists
	// each node's figures, with its name as "node" when the [Cluster]
	// has a Name() string method; a node that does not answer is left
	// out. Since
	// they are the router's and not the realm's, an open realm refuses
	// it, as it does the kill procedures: it needs an explicit
	// permission.
	ProcedureStats protocol.URI = "wampkit.router.stats"
	// ProcedureSessionPage returns one page of the realm's sessions,
	// ordered by session ID, that match a filter. Keyword arguments, all
	// optional: filter (a string; a session matches if its session ID,
	// authid, authrole, or, where session details show the transport,
	// its transport type or peer address contains it, ignoring case and
	// surrounding spaces), offset (the matching sessions to skip, 0 by
	// default) and limit (the most sessions returned, 1 to
	// [MaxSessionPage], 50 by default). It returns [{"count": sessions
	// joined to the realm, "matched": those that match, "sessions":
	// [details as wamp.session.get gives them, ...]}]. Bad arguments get
	// ERROR wamp.error.invalid_argument. With a [ClusterMeta], the
	// sessions are those of every node of the cluster.
	ProcedureSessionPage protocol.URI = "wampkit.session.page"
)

// MaxSessionPage is the largest limit of [ProcedureSessionPage].
const MaxSessionPage = 1000

// defaultSessionPage is the default limit of ProcedureSessionPage.
const defaultSessionPage = 50

// ownPrefix is the namespace of the router's own procedures.
const ownPrefix = "wampkit."

// routerProcedure reports whether the router answers calls of proc
// itself: the reserved wamp namespace, and its own procedures. A call
// that is not in either pays one prefix comparison.
func routerProcedure(proc protocol.URI) bool {
	if protocol.IsReserved(proc) {
		return true
	}
	if !strings.HasPrefix(string(proc), ownPrefix) {
		return false
	}
	_, ok := metaProcedures[proc]
	return ok
}

// routerStats answers ProcedureStats; over a cluster, see
// cluster_console.go.
func routerStats(q metaRequest) (protocol.List, error) {
	if err := q.explicit(string(ProcedureStats)); err != nil {
		return nil, err
	}
	d := q.rm.r.stats()
	if q.rm.r.clusterMeta() != nil {
		d = q.clusterStats(d)
	}
	return protocol.List{d}, nil
}

// sessionPage answers ProcedureSessionPage; over a cluster, see
// cluster_console.go.
func sessionPage(q metaRequest) (protocol.List, error) {
	filter, offset, limit, err := q.pageArgs()
	if err != nil {
		return nil, err
	}
	if q.rm.r.clusterMeta() != nil {
		return q.clusterSessionPage(filter, offset, limit)
	}
	count, matched := q.rm.pageSessions(filter)
	rows := protocol.List{}
	if offset < len(matched) {
		for _, t := range matched[offset:min(len(matched), offset+limit)] {
			rows = append(rows, t.metaDetails())
		}
	}
	return protocol.List{protocol.Dict{"count": count, "matched": len(matched), "sessions": rows}}, nil
}

// pageArgs returns the keyword arguments of ProcedureSessionPage: the
// filter, lower-cased and trimmed, the offset and the limit.
func (q metaRequest) pageArgs() (filter string, offset, limit int, err error) {
	if v, ok := q.kwargs["filter"]; ok {
		s, ok := v.(string)
		if !ok {
			return "", 0, 0, invalidArgument("filter must be a string")
		}
		filter = strings.ToLower(strings.TrimSpace(s))
	}
	limit = defaultSessionPage
	if _, ok := q.kwargs["limit"]; ok {
		n, ok := q.kwargs.Int("limit")
		if !ok || n < 1 || n > MaxSessionPage {
			return "", 0, 0, invalidArgument("limit must be an integer from 1 to " + strconv.Itoa(MaxSessionPage))
		}
		limit = int(n)
	}
	if _, ok := q.kwargs["offset"]; ok {
		n, ok := q.kwargs.Int("offset")
		if !ok || n < 0 {
			return "", 0, 0, invalidArgument("offset must be a non-negative integer")
		}
		offset = int(min(n, math.MaxInt32)) // any offset past the end is the end
	}
	return filter, offset, limit, nil
}

// matches reports whether the session matches filter (lower case, not
// empty): its ID, authid or authrole, and with transports its transport
// type or peer address, contain it.
func (s *session) matches(filter string, transports bool) bool {
	if containsLower(s.authID, filter) || containsLower(s.authRole, filter) {
		return true
	}
	if transports && s.transport != nil &&
		(containsLower(s.transport.String("type"), filter) || containsLower(s.transport.String("peer"), filter)) {
		return true
	}
	if filter[0] >= '0' && filter[0] <= '9' {
		return strings.Contains(strconv.FormatUint(uint64(s.id), 10), filter)
	}
	return false
}

// containsLower reports whether s contains the lower-case substr,
// ignoring the case of s. It folds ASCII letters in place, so that
// filtering 10,000 sessions allocates nothing; an s with other than ASCII
// is lower-cased first.
func containsLower(s, substr string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return strings.Contains(strings.ToLower(s), substr)
		}
	}
	n := len(substr)
	for i := 0; i+n <= len(s); i++ {
		j := 0
		for ; j < n; j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != substr[j] {
				break
			}
		}
		if j == n {
			return true
		}
	}
	return false
}
