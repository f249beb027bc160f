package router

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/wampkit/wampkit/protocol"
)

// Event history (spec advanced "Event History"): the realm's
// RealmConfig.EventHistory names topics (exact or patterns) whose events
// the broker keeps, and wamp.subscription.get_events returns them.
//
// The spec keeps history per subscription. Each configured topic and
// match policy gets a subscription of its own when the realm is made,
// which lives as long as the router, with or without subscribers: its ID
// is stable, wamp.subscription.lookup and .match find it before anybody
// subscribes (the spec's "preinitialized" subscriptions), and no event is
// missed while nobody is subscribed. Clients that subscribe to the same
// topic with the same policy share it, as with any subscription.
//
// The events of a subscription are kept in a ring of RealmConfig's Limit
// entries (allocated as it fills), and entries older than MaxAge are
// skipped and released. Each ring has its own mutex, a leaf lock; a
// publication is recorded on the publisher's goroutine.

// defaultHistoryLimit is the default of [HistoryConfig].Limit.
const defaultHistoryLimit = 100

// NoEventHistory is the error URI of wamp.subscription.get_events for a
// subscription whose events are not kept: the spec defines none, so it is
// an implementation-specific one outside the reserved wamp namespace.
const NoEventHistory protocol.URI = "wampkit.error.no_event_history"

// HistoryConfig makes the broker of a realm keep the recent events of a
// topic (spec advanced "Event History"); see [RealmConfig].EventHistory.
type HistoryConfig struct {
	// Topic is the topic, or the pattern when Match is prefix or
	// wildcard. It is required and must be valid for Match.
	Topic protocol.URI
	// Match is the match policy, as in SUBSCRIBE.Options.match: "" or
	// MatchExact (default), MatchPrefix or MatchWildcard. The history is
	// that of the subscription with this topic and policy: a prefix
	// pattern keeps the events of every topic it matches.
	Match protocol.MatchPolicy
	// Limit is the most events kept; the oldest are dropped first. Zero
	// means 100; negative is invalid.
	Limit int
	// MaxAge, if positive, drops events older than it. Zero means no
	// limit of age; negative is invalid.
	MaxAge time.Duration
}

// checkHistory fills in the defaults of the history configuration of a
// realm and checks it.
func checkHistory(rc *RealmConfig, strict bool) error {
	if len(rc.EventHistory) == 0 {
		return nil
	}
	hs := make([]HistoryConfig, len(rc.EventHistory))
	copy(hs, rc.EventHistory)
	rc.EventHistory = hs
	seen := make(map[subKey]bool, len(hs))
	for i := range hs {
		h := &hs[i]
		if h.Match == "" {
			h.Match = protocol.MatchExact
		}
		if !h.Match.Valid() {
			return fmt.Errorf("%w: realm %q: event history %q: unknown match policy %q", ErrConfig, rc.Name, h.Topic, h.Match)
		}
		if err := protocol.CheckPattern(h.Topic, h.Match, strict); err != nil || h.Topic == "" {
			return fmt.Errorf("%w: realm %q: event history topic %q (match %s) is not valid", ErrConfig, rc.Name, h.Topic, h.Match)
		}
		if h.Limit < 0 || h.MaxAge < 0 {
			return fmt.Errorf("%w: realm %q: event history %q: negative Limit or MaxAge", ErrConfig, rc.Name, h.Topic)
		}
		if h.Limit == 0 {
			h.Limit = defaultHistoryLimit
		}
		k := subKey{h.Topic, h.Match}
		if seen[k] {
			return fmt.Errorf("%w: realm %q: event history %q (match %s) listed twice", ErrConfig, rc.Name, h.Topic, h.Match)
		}
		seen[k] = true
	}
	return nil
}

// eventLog is the history of one subscription: its most recent events, at
// most limit of them and at most maxBytes of estimated payload (see
// payloadSize), oldest dropped first.
type eventLog struct {
	limit    int
	maxBytes int           // <= 0: none
	maxAge   time.Duration // <= 0: none
	log      *slog.Logger

	mu    sync.Mutex     // a leaf lock; guards the fields below
	buf   []historyEntry // ring of n entries from head; grows to limit
	head  int
	n     int
	bytes int // estimated bytes of the kept entries
	// refused counts events too large to keep at all; warned is when
	// that was last logged.
	refused uint64
	warned  time.Time
}

type historyEntry struct {
	at      time.Time
	id      protocol.ID
	topic   protocol.URI
	details protocol.Dict
	args    protocol.List
	kwargs  protocol.Dict
	filter  *eligibility // authid and authrole lists only
	size    int          // estimated bytes, for eventLog.maxBytes
}

// entryOverhead is what an entry costs beyond its payload and details.
const entryOverhead = 128

// record adds the publication p, delivered with details. Events with
// session-ID black/white lists are not kept: session IDs do not outlive
// sessions, so the lists could not be applied later (spec advanced "Event
// History", "Security Aspects"). It returns false if the event alone is
// larger than the log's byte budget, and then keeps nothing of it.
func (l *eventLog) record(p *publication, details protocol.Dict) bool {
	if p.filter != nil && p.filter.bySession {
		return true
	}
	// get_events reports times to the millisecond and compares its time
	// bounds with what it reports (spec advanced "Event History"), so
	// the stored time is cut to the millisecond too.
	e := historyEntry{at: time.Now().Truncate(time.Millisecond), id: p.id, topic: p.msg.Topic, details: details,
		args: p.msg.Args, kwargs: p.msg.Kwargs, filter: p.filter}
	e.size = entryOverhead + len(e.topic) + payloadSize(e.args, e.kwargs)
	if details != nil {
		e.size += sizeOf(map[string]any(details), 0)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.maxBytes > 0 && e.size > l.maxBytes {
		l.refused++
		if now := time.Now(); l.log != nil && now.Sub(l.warned) >= DropLogInterval {
			l.warned = now
			l.log.Warn("router: event too large for the event history, not kept", "topic", string(e.topic),
				"bytes", e.size, "max_history_bytes", l.maxBytes, "refused", l.refused)
		}
		return false
	}
	for l.n > 0 && (l.n == l.limit || l.maxBytes > 0 && l.bytes+e.size > l.maxBytes) {
		l.dropOldestLocked()
	}
	if l.n == len(l.buf) {
		// Grow (the ring is full below limit): unroll it into a larger
		// slice.
		nb := make([]historyEntry, l.n, min(max(2*l.n, 8), l.limit))
		for i := range l.n {
			nb[i] = l.buf[(l.head+i)%len(l.buf)]
		}
		l.buf, l.head = nb[:cap(nb)], 0
	}
	l.buf[(l.head+l.n)%len(l.buf)] = e
	l.n++
	l.bytes += e.size
	return true
}

// dropOldestLocked releases the oldest entry. l.mu must be held.
func (l *eventLog) dropOldestLocked() {
	l.bytes -= l.buf[l.head].size
	l.buf[l.head] = historyEntry{}
	l.head = (l.head + 1) % len(l.buf)
	l.n--
}

// entries returns the kept events younger than maxAge, oldest first; it
// releases the older ones.
func (l *eventLog) entries(now time.Time) []historyEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.maxAge > 0 {
		cut := now.Add(-l.maxAge)
		for l.n > 0 && l.buf[l.head].at.Before(cut) {
			l.dropOldestLocked()
		}
	}
	out := make([]historyEntry, l.n)
	for i := range l.n {
		out[i] = l.buf[(l.head+i)%len(l.buf)]
	}
	return out
}

// historyQuery is the arguments of wamp.subscription.get_events.
type historyQuery struct {
	limit   int // 0: none
	reverse bool
	topic   protocol.URI
	// Time bounds; the zero time is none.
	fromTime, afterTime, beforeTime, untilTime time.Time
	// Publication bounds; 0 is none.
	fromPub, afterPub, beforePub, untilPub protocol.ID
}

// parseHistoryQuery reads the arguments of wamp.subscription.get_events
// after the subscription ID: an optional positional limit, and the
// keyword arguments of the spec. It returns a message for ERROR
// wamp.error.invalid_argument if one is malformed.
func parseHistoryQuery(args protocol.List, kw protocol.Dict) (historyQuery, string) {
	var q historyQuery
	limit := func(v any) string {
		n, ok := protocol.ToInt64(v)
		if !ok || n <= 0 {
			return "limit must be a positive integer"
		}
		q.limit = int(min(n, 1<<31))
		return ""
	}
	if len(args) > 1 && args[1] != nil {
		if msg := limit(args[1]); msg != "" {
			return q, msg
		}
	}
	for k, v := range kw {
		var msg string
		switch k {
		case "limit":
			msg = limit(v)
		case "reverse":
			b, ok := v.(bool)
			if !ok {
				msg = "reverse must be a bool"
			}
			q.reverse = b
		case "topic":
			s, ok := v.(string)
			if !ok {
				msg = "topic must be a URI"
			}
			q.topic = protocol.URI(s)
		case "from_time", "after_time", "before_time", "until_time":
			s, _ := v.(string)
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				msg = k + " must be an RFC 3339 timestamp"
			}
			switch k {
			case "from_time":
				q.fromTime = t
			case "after_time":
				q.afterTime = t
			case "before_time":
				q.beforeTime = t
			default:
				q.untilTime = t
			}
		case "from_publication", "after_publication", "before_publication", "until_publication":
			id, ok := protocol.ToID(v)
			if !ok {
				msg = k + " must be a publication ID"
			}
			switch k {
			case "from_publication":
				q.fromPub = id
			case "after_publication":
				q.afterPub = id
			case "before_publication":
				q.beforePub = id
			default:
				q.untilPub = id
			}
		}
		if msg != "" {
			return q, msg
		}
	}
	return q, ""
}

// run returns the events of es (oldest first) that q selects and s may
// see, as the spec's result list.
func (q *historyQuery) run(es []historyEntry, s *session, sub *subscription) []any {
	// Publication bounds are positions in the order of arrival: an ID
	// that is not (or no longer) kept selects nothing on that side.
	lo, hi := 0, len(es) // es[lo:hi]
	pos := func(id protocol.ID) int {
		return slices.IndexFunc(es, func(e historyEntry) bool { return e.id == id })
	}
	bound := func(id protocol.ID, offset int, lower bool) {
		if id == 0 {
			return
		}
		i := pos(id)
		switch {
		case i < 0:
			lo, hi = 0, 0
		case lower:
			lo = max(lo, i+offset)
		default:
			hi = min(hi, i+offset)
		}
	}
	bound(q.fromPub, 0, true)
	bound(q.afterPub, 1, true)
	bound(q.beforePub, 0, false)
	bound(q.untilPub, 1, false)
	var sel []historyEntry
	if lo < hi {
		sel = es[lo:hi]
	}
	out := []any{}
	// The events of a pattern are shown topic by topic to who may see
	// them (see authz.permits).
	pattern := sub.match != protocol.MatchExact
	add := func(e *historyEntry) bool {
		if q.topic != "" && e.topic != q.topic ||
			!q.fromTime.IsZero() && e.at.Before(q.fromTime) ||
			!q.afterTime.IsZero() && !e.at.After(q.afterTime) ||
			!q.beforeTime.IsZero() && !e.at.Before(q.beforeTime) ||
			!q.untilTime.IsZero() && e.at.After(q.untilTime) ||
			e.filter != nil && !e.filter.allows(s) ||
			pattern && !s.realm.authz.Load().permits(s, ActionSubscribe, e.topic) {
			return true
		}
		out = append(out, e.dict(sub))
		return q.limit == 0 || len(out) < q.limit
	}
	if q.reverse {
		for i := len(sel) - 1; i >= 0 && add(&sel[i]); i-- {
		}
	} else {
		for i := 0; i < len(sel) && add(&sel[i]); i++ {
		}
	}
	return out
}

// dict is the entry in the result of wamp.subscription.get_events.
func (e *historyEntry) dict(sub *subscription) protocol.Dict {
	details := e.details
	if details == nil {
		details = protocol.Dict{}
	}
	d := protocol.Dict{
		"timestamp":    e.at.UTC().Format("2006-01-02T15:04:05.000Z"),
		"subscription": uint64(sub.id),
		"publication":  uint64(e.id),
		"details":      details,
	}
	if e.args != nil {
		d["args"] = e.args
	}
	if e.kwargs != nil {
		d["kwargs"] = e.kwargs
	}
	return d
}
