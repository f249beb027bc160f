package router

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wampkit/wampkit/protocol"
)

// Metrics (Config.Metrics): Prometheus collectors registered on the
// Registerer the embedding application passes in.
//
// Counting must not slow routing, so what happens once per message is
// counted without atomic read-modify-write instructions: every session
// with metrics has a sessionStats that only the goroutine routing its
// messages writes (single writer: a plain load and store, see bump), and
// a scrape adds up the live sessions' stats and those of the sessions
// that ended (folded into ended when they leave). A message is counted
// where the goroutine that caused it runs: a CALL's INVOCATION in the
// caller's stats, its RESULT in the callee's, a publication's EVENTs in
// the publisher's (one addition per subscription, not per subscriber).
// Messages sent from elsewhere (timers, Router.Shutdown, meta events) go
// to the shared atomic counters of other. Rare events (joins, failures,
// drops) use ordinary Prometheus counters.

// msgKinds is the number of message types counted; kindOf maps a type
// to its index.
const msgKinds = 25

var (
	kindOf    [256]uint8
	kindNames [msgKinds]string
)

func init() {
	types := []protocol.MessageType{
		protocol.TypeHello, protocol.TypeWelcome, protocol.TypeAbort, protocol.TypeChallenge,
		protocol.TypeAuthenticate, protocol.TypeGoodbye, protocol.TypeError, protocol.TypePublish,
		protocol.TypePublished, protocol.TypeSubscribe, protocol.TypeSubscribed, protocol.TypeUnsubscribe,
		protocol.TypeUnsubscribed, protocol.TypeEvent, protocol.TypeCall, protocol.TypeCancel,
		protocol.TypeResult, protocol.TypeRegister, protocol.TypeRegistered, protocol.TypeUnregister,
		protocol.TypeUnregistered, protocol.TypeInvocation, protocol.TypeInterrupt, protocol.TypeYield,
	}
	kindNames[0] = "OTHER"
	for i, t := range types {
		kindOf[t] = uint8(i + 1)
		kindNames[i+1] = t.String()
	}
}

// kind returns the counting index of t.
func kind(t protocol.MessageType) int {
	if t > 255 {
		return 0
	}
	return int(kindOf[t])
}

// totals returns the messages the session received and was sent so far,
// of every type. Any goroutine may call it.
func (st *sessionStats) totals() (in, out uint64) {
	for i := range st.in {
		in += st.in[i].load()
		out += st.out[i].load()
	}
	return in, out
}

// counter is a count with a single writer: the writer adds with bump, any
// goroutine reads with load.
type counter struct{ v atomic.Uint64 }

func (c *counter) bump(n uint64) { c.v.Store(c.v.Load() + n) }
func (c *counter) load() uint64  { return c.v.Load() }

// sessionStats are the counts of one session, written only by the
// goroutine routing its messages.
type sessionStats struct {
	in, out   [msgKinds]counter
	published counter // publications routed
	delivered counter // EVENTs of those publications sent
	calls     counter // CALLs that reached a callee (for sampling)
	// folded is set, under metrics.mu, once the counts were added to
	// metrics.ended: a scrape then skips the session.
	folded bool
}

// totals are counts any goroutine adds to.
type totals struct {
	in, out              [msgKinds]atomic.Uint64
	published, delivered atomic.Uint64
}

func (t *totals) add(s *sessionStats) {
	for i := range msgKinds {
		if n := s.in[i].load(); n > 0 {
			t.in[i].Add(n)
		}
		if n := s.out[i].load(); n > 0 {
			t.out[i].Add(n)
		}
	}
	t.published.Add(s.published.load())
	t.delivered.Add(s.delivered.load())
}

// callSample is how often a call's duration is measured: one call in
// callSample of each caller (two clock readings per call would cost more
// than the rest of the counting).
const callSample = 16

// maxErrorURIs bounds the label values of the call errors counter: error
// URIs come from callees, and an unbounded set would let one grow the
// router's memory; beyond the bound they are counted as "other".
const maxErrorURIs = 256

// metrics holds the router's collectors; a nil *metrics counts nothing.
type metrics struct {
	r *Router

	sessions     *prometheus.GaugeVec
	joins        *prometheus.CounterVec
	leaves       *prometheus.CounterVec
	authFailures *prometheus.CounterVec
	callDuration prometheus.Histogram
	callErrors   *prometheus.CounterVec
	dropped      prometheus.Counter
	slowDrops    prometheus.Counter

	ended totals // of the sessions that left
	other totals // of messages sent by no session's goroutine

	// mu makes folding a session's counts into ended and a scrape's sum
	// atomic with respect to each other (see left).
	mu sync.Mutex

	uriMu     sync.Mutex            // a leaf lock
	errorURIs map[protocol.URI]bool // guarded by uriMu
}

// newMetrics makes the collectors and registers them on reg, or returns
// nil if reg is nil.
func newMetrics(r *Router, reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	const ns = "wampkit_router_"
	m := &metrics{
		r: r,
		sessions: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: ns + "sessions",
			Help: "Sessions joined, by realm and transport."}, []string{"realm", "transport"}),
		joins: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "joins_total",
			Help: "Sessions that joined, by realm."}, []string{"realm"}),
		leaves: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "leaves_total",
			Help: "Sessions that left, by realm."}, []string{"realm"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "auth_failures_total",
			Help: "Failed authentications, by authmethod and ABORT reason."}, []string{"method", "reason"}),
		callDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: ns + "call_duration_seconds",
			Help:    "Time from CALL to its final RESULT or ERROR, of one call in 16 of each caller.",
			Buckets: prometheus.ExponentialBuckets(25e-6, 4, 10)}),
		callErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "call_errors_total",
			Help: "Calls that ended with ERROR, by error URI (at most 256 URIs, then \"other\")."}, []string{"uri"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "dropped_events_total",
			Help: "EVENTs dropped for slow consumers (SlowConsumerDropEvents)."}),
		slowDrops: prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "slow_consumer_disconnects_total",
			Help: "Sessions disconnected as slow consumers."}),
		errorURIs: make(map[protocol.URI]bool),
	}
	for _, c := range []prometheus.Collector{m.sessions, m.joins, m.leaves, m.authFailures, m.callDuration,
		m.callErrors, m.dropped, m.slowDrops, (*statsCollector)(m)} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// stats returns a session's counts, or nil without metrics.
func (m *metrics) stats() *sessionStats {
	if m == nil {
		return nil
	}
	return new(sessionStats)
}

// joined and left count a session that joined or left its realm.
func (m *metrics) joined(s *session) {
	if m == nil {
		return
	}
	m.joins.WithLabelValues(string(s.realm.name)).Inc()
	m.sessions.WithLabelValues(string(s.realm.name), s.transport.String("type")).Inc()
}

func (m *metrics) left(s *session) {
	if m == nil {
		return
	}
	m.leaves.WithLabelValues(string(s.realm.name)).Inc()
	m.sessions.WithLabelValues(string(s.realm.name), s.transport.String("type")).Dec()
	m.fold(s)
}

// fold adds the counts of s, which ends, to ended. It is done under mu, so
// that a scrape counts the session either live or ended, never both or
// neither: the counters never go back.
func (m *metrics) fold(s *session) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.ended.add(s.st)
	s.st.folded = true
	m.mu.Unlock()
}

func (m *metrics) authFailed(method string, reason protocol.URI) {
	if m != nil {
		m.authFailures.WithLabelValues(method, string(reason)).Inc()
	}
}

func (m *metrics) eventDropped() {
	if m != nil {
		m.dropped.Inc()
	}
}

func (m *metrics) slowConsumer() {
	if m != nil {
		m.slowDrops.Inc()
	}
}

// callEnded counts the final answer of a call: its duration if it was
// sampled, and its error URI if it failed.
func (m *metrics) callEnded(inv *invocation, answer protocol.Message) {
	if m == nil {
		return
	}
	if inv.started != 0 {
		m.callDuration.Observe(time.Duration(time.Now().UnixNano() - inv.started).Seconds())
	}
	e, ok := answer.(*protocol.Error)
	if !ok {
		return
	}
	uri := e.URI
	m.uriMu.Lock()
	if !m.errorURIs[uri] {
		if len(m.errorURIs) < maxErrorURIs {
			m.errorURIs[uri] = true
		} else {
			uri = "other"
		}
	}
	m.uriMu.Unlock()
	m.callErrors.WithLabelValues(string(uri)).Inc()
}

// countIn counts a message s received; it runs on the goroutine routing
// s's messages.
func (s *session) countIn(t protocol.MessageType) {
	s.in.msgs++
	if s.st != nil {
		s.st.in[kind(t)].bump(1)
	}
}

// countOut counts n messages of type t sent because of by, whose
// routing goroutine this runs on; by nil means no session's goroutine.
func (r *Router) countOut(by *session, t protocol.MessageType, n uint64) {
	switch {
	case r.metrics == nil:
	case by != nil && by.st != nil:
		by.st.out[kind(t)].bump(n)
	default:
		r.metrics.other.out[kind(t)].Add(n)
	}
}

// statsCollector collects the message counts of every session (see the
// comment at the top).
type statsCollector metrics

var (
	descIn = prometheus.NewDesc("wampkit_router_messages_in_total",
		"WAMP messages received from clients, by type.", []string{"type"}, nil)
	descOut = prometheus.NewDesc("wampkit_router_messages_out_total",
		"WAMP messages sent to clients, by type.", []string{"type"}, nil)
	descPublished = prometheus.NewDesc("wampkit_router_publications_total",
		"Publications routed.", nil, nil)
	descDelivered = prometheus.NewDesc("wampkit_router_events_delivered_total",
		"EVENTs sent for publications (meta events included).", nil, nil)
	descSubscriptions = prometheus.NewDesc("wampkit_router_subscriptions",
		"Subscriptions, by realm.", []string{"realm"}, nil)
	descRegistrations = prometheus.NewDesc("wampkit_router_registrations",
		"Registrations, by realm.", []string{"realm"}, nil)
	descBacklog = prometheus.NewDesc("wampkit_router_backlog_messages",
		"Messages waiting in sessions' backlogs, over all sessions.", nil, nil)
	descBacklogMax = prometheus.NewDesc("wampkit_router_backlog_messages_max",
		"The longest backlog of a session.", nil, nil)
)

// Describe implements prometheus.Collector.
func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descIn, descOut, descPublished, descDelivered,
		descSubscriptions, descRegistrations, descBacklog, descBacklogMax} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	m := (*metrics)(c)
	var sum totals
	live := m.sum(&sum)
	var backlog, backlogMax int
	for _, s := range live {
		n := s.backlog()
		backlog += n
		backlogMax = max(backlogMax, n)
	}
	for i := range msgKinds {
		if n := sum.in[i].Load(); n > 0 {
			ch <- prometheus.MustNewConstMetric(descIn, prometheus.CounterValue, float64(n), kindNames[i])
		}
		if n := sum.out[i].Load(); n > 0 {
			ch <- prometheus.MustNewConstMetric(descOut, prometheus.CounterValue, float64(n), kindNames[i])
		}
	}
	ch <- prometheus.MustNewConstMetric(descPublished, prometheus.CounterValue, float64(sum.published.Load()))
	ch <- prometheus.MustNewConstMetric(descDelivered, prometheus.CounterValue, float64(sum.delivered.Load()))
	for name, rm := range m.r.realms {
		rm.broker.mu.Lock()
		subs := len(rm.broker.byID)
		rm.broker.mu.Unlock()
		rm.dealer.mu.Lock()
		regs := len(rm.dealer.byID)
		rm.dealer.mu.Unlock()
		ch <- prometheus.MustNewConstMetric(descSubscriptions, prometheus.GaugeValue, float64(subs), string(name))
		ch <- prometheus.MustNewConstMetric(descRegistrations, prometheus.GaugeValue, float64(regs), string(name))
	}
	ch <- prometheus.MustNewConstMetric(descBacklog, prometheus.GaugeValue, float64(backlog))
	ch <- prometheus.MustNewConstMetric(descBacklogMax, prometheus.GaugeValue, float64(backlogMax))
}

// sum adds up into the zero sum the counts of the sessions that ended,
// of no session and of the live sessions, and returns the live sessions.
// A scrape and ProcedureStats call it.
func (m *metrics) sum(sum *totals) []*session {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range msgKinds {
		sum.in[i].Store(m.ended.in[i].Load() + m.other.in[i].Load())
		sum.out[i].Store(m.ended.out[i].Load() + m.other.out[i].Load())
	}
	sum.published.Store(m.ended.published.Load())
	sum.delivered.Store(m.ended.delivered.Load() + m.other.delivered.Load())
	live := m.r.live()
	for _, s := range live {
		if s.st != nil && !s.st.folded {
			sum.add(s.st)
		}
	}
	return live
}

// live returns the sessions being served.
func (r *Router) live() []*session {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*session, 0, len(r.sessions))
	for s := range r.sessions {
		out = append(out, s)
	}
	return out
}

// backlog returns the number of messages in s's backlog.
func (s *session) backlog() int {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	return s.out.pending()
}
