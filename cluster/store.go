package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// Retained events and event history in JetStream (see doc.go,
// "Retention and history").
//
// Each realm's retained events are a stream, "<prefix>_retained_<realm
// hash>", with one subject per topic, "<prefix>.rt.<realm>.<topic
// components>" (escaped as in subject.go), that keeps the last
// retainedPerTopic messages of each subject: the newest retained event
// and the earlier ones a subscriber left out of it by black or white
// lists may still get (the router's own rule, see router/retain.go). A
// node publishes its retained events there asynchronously and reads the
// whole stream, from its start and then as it grows, with an ordered
// consumer; each message goes to the router (router.ClusterNode.Retained)
// in stream order, so every node holds the same retained events.
//
// Each history log (a topic and match policy of a realm's
// router.RealmConfig.EventHistory) is a stream of its own,
// "<prefix>_history_<hash>", on "<prefix>.hi.<hash>.<topic components>",
// limited like the router's log: Limit messages, MaxAge, its share of
// MaxHistoryBytes. A node publishes to it what its sessions publish on
// a matching topic; wamp.subscription.get_events reads it with an
// ordered consumer on whichever node it is called.

const (
	// retainedPerTopic is the router's bound of the retained events of
	// one topic (router/retain.go, maxRetainedPerTopic).
	retainedPerTopic = 8
	// storeTimeout bounds a JetStream request of the store: making a
	// stream, the acknowledgement of a publication, a read.
	storeTimeout = 5 * time.Second
	// headerPublisher carries the publisher's session ID of a retained
	// event (router.ClusterRetention.Retain), in decimal.
	headerPublisher = "Wampkit-Publisher"
	// storeKind* tell the kinds of stored messages apart in logs and
	// counts.
	storeKindRetained = "rt"
	storeKindHistory  = "hi"
)

var (
	_ router.ClusterRetention = (*Cluster)(nil)
	_ router.ClusterHistory   = (*Cluster)(nil)
)

// StoreStats are a node's counts of retained events and history events
// (see [Cluster.StoreStats]).
type StoreStats struct {
	// Retained counts the retained events of this node stored in
	// JetStream; RetainFailed those that were not (JetStream unreachable
	// or without an answer within 5 s, an event larger than the stream
	// takes); each such event stays retained on this node only.
	Retained, RetainFailed uint64
	// Recorded counts the events of this node added to a history log
	// in JetStream; RecordFailed those that could not be.
	Recorded, RecordFailed uint64
	// Applied counts the retained events of any node that this node
	// read from JetStream and handed to its router; Undecodable those
	// it could not read.
	Applied, Undecodable uint64
}

// store is the JetStream side of retention and history.
type store struct {
	c  *Cluster
	js jetstream.JetStream

	// mu guards the fields below.
	mu      sync.Mutex
	mirrors map[protocol.URI]*retainedMirror  // retained streams read, by realm, while attached
	hist    map[router.ClusterHistoryLog]bool // history logs whose stream this node made or updated
	own     map[*nats.Msg]*ownRetained        // retained events of this node not yet acknowledged or failed

	retained, retainFailed, recorded, recordFailed, appliedN, undecodable atomic.Uint64
	failLog                                                               logLimiter
}

// newStore returns the store of c; it does nothing until attach.
func newStore(c *Cluster) (*store, error) {
	s := &store{
		c:       c,
		mirrors: make(map[protocol.URI]*retainedMirror),
		hist:    make(map[router.ClusterHistoryLog]bool),
		own:     make(map[*nats.Msg]*ownRetained),
	}
	s.failLog.every = 10 * time.Second
	js, err := jetstream.New(c.nc,
		jetstream.WithPublishAsyncTimeout(storeTimeout),
		jetstream.WithPublishAsyncAckHandler(s.publishAcked),
		jetstream.WithPublishAsyncErrHandler(s.publishFailed))
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	s.js = js
	return s, nil
}

// StoreStats returns the node's counts of retained events and history
// events so far.
func (c *Cluster) StoreStats() StoreStats {
	s := c.store
	return StoreStats{
		Retained:     s.retained.Load(),
		RetainFailed: s.retainFailed.Load(),
		Recorded:     s.recorded.Load(),
		RecordFailed: s.recordFailed.Load(),
		Applied:      s.appliedN.Load(),
		Undecodable:  s.undecodable.Load(),
	}
}

// storeHash returns a short name for parts, for stream names and
// subjects: the first 16 hex digits of their SHA-256.
func storeHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// retainedStream returns the name of realm's retained stream and the
// prefix of its subjects.
func (s *store) retainedStream(realm protocol.URI) (string, string) {
	var b strings.Builder
	b.WriteString(s.c.cfg.Prefix)
	b.WriteString(".rt.")
	escapeToken(&b, string(realm))
	return s.c.cfg.Prefix + "_retained_" + storeHash(string(realm)), b.String()
}

// historyStream returns the name of h's stream and the prefix of its
// subjects.
func (s *store) historyStream(h router.ClusterHistoryLog) (string, string) {
	id := storeHash(string(h.Realm), string(h.Match), string(h.Topic))
	return s.c.cfg.Prefix + "_history_" + id, s.c.cfg.Prefix + ".hi." + id
}

// limitBytes returns n as a stream's byte limits (MaxBytes, MaxMsgSize):
// none (-1) when n is not positive.
func limitBytes(n int64) (int64, int32) {
	if n <= 0 {
		return -1, -1
	}
	return n, int32(min(n, math.MaxInt32))
}

// retainedMirror reads one realm's retained stream into the router.
type retainedMirror struct {
	realm   protocol.URI
	subject string                   // prefix of the stream's subjects
	cc      jetstream.ConsumeContext // set once reading started
	applied atomic.Uint64            // last stream sequence handed to the router
	// mu serializes the handler with stop, so that the router is never
	// called after Detach returned, and with Retain.
	mu   sync.Mutex
	node *router.ClusterNode // guarded by mu; nil once stopped
	// pending holds what the mirror knows of the subjects (topics) for
	// which this node has retained events on their way. Guarded by mu.
	pending map[string]*ownTopic
}

// ownTopic is a topic for which this node has retained events on their
// way through JetStream. The node holds its newest already, so an
// event of the topic that the stream gives back is handed to the router
// only if it is newer than all of them: while the stream sequence of
// one of them is not known yet, the event waits in held.
type ownTopic struct {
	own  []*ownRetained // oldest first
	held *heldRetained  // the last event given back meanwhile, or nil
}

// ownRetained is a retained event of this node on its way through
// JetStream.
type ownRetained struct {
	m       *retainedMirror
	subject string
	id      protocol.ID // the publication
	seq     uint64      // guarded by m.mu: its stream sequence once acknowledged, else 0
}

// heldRetained is an event given back by the stream that waits for the
// sequence of an event of this node.
type heldRetained struct {
	seq       uint64
	ev        router.ClusterEvent
	publisher protocol.ID
}

// readLocked handles the event at stream sequence seq of subject. m.mu
// must be held.
func (m *retainedMirror) readLocked(subject string, seq uint64, ev *router.ClusterEvent, publisher protocol.ID) {
	t := m.pending[subject]
	if t == nil {
		m.node.Retained(ev, publisher)
		return
	}
	// This node's events that the stream has passed are older than ev
	// (or ev itself): forget them.
	t.own = slices.DeleteFunc(t.own, func(o *ownRetained) bool {
		return o.id == ev.Publication || o.seq != 0 && o.seq <= seq
	})
	t.held = &heldRetained{seq: seq, ev: *ev, publisher: publisher}
	m.settleLocked(subject, t)
}

// settleLocked hands the held event of subject to the router once no
// event of this node may be newer, or drops it once one is. m.mu must
// be held.
func (m *retainedMirror) settleLocked(subject string, t *ownTopic) {
	if h := t.held; h != nil {
		t.own = slices.DeleteFunc(t.own, func(o *ownRetained) bool { return o.seq != 0 && o.seq <= h.seq })
		newer, unknown := false, false
		for _, o := range t.own {
			if o.seq == 0 {
				unknown = true
			} else {
				newer = true
			}
		}
		switch {
		case newer:
			t.held = nil // the node holds a newer event of the topic
		case unknown:
			// Wait for the acknowledgement.
		default:
			if m.node != nil {
				m.node.Retained(&h.ev, h.publisher)
			}
			t.held = nil
		}
	}
	if len(t.own) == 0 && t.held == nil {
		delete(m.pending, subject)
	}
}

// attach makes or updates the retained stream of every realm of node and
// starts mirroring it into the router; it returns once the router has
// what the streams held (or after a few seconds, with a warning, and the
// rest follows). c.mu is held.
func (s *store) attach(node *router.ClusterNode) error {
	type wait struct {
		m    *retainedMirror
		last uint64
	}
	var waits []wait
	for _, realm := range node.Realms() {
		name, subj := s.retainedStream(realm)
		maxBytes, maxMsg := limitBytes(node.MaxRetainedBytes(realm))
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		st, err := s.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name:              name,
			Description:       "wampkit cluster: retained events of realm " + string(realm),
			Subjects:          []string{subj + ".>"},
			MaxMsgsPerSubject: retainedPerTopic,
			MaxBytes:          maxBytes,
			MaxMsgSize:        maxMsg,
			Discard:           jetstream.DiscardOld,
			Storage:           jetstream.FileStorage, // outlives a restart of NATS
			Replicas:          s.c.cfg.Replicas,
		})
		if err != nil {
			cancel()
			s.detach()
			return fmt.Errorf("cluster: retained events of realm %q: stream %s: %w", realm, name, err)
		}
		m := &retainedMirror{realm: realm, subject: subj, node: node, pending: make(map[string]*ownTopic)}
		last := st.CachedInfo().State.LastSeq
		cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
		cancel()
		if err == nil {
			m.cc, err = cons.Consume(func(msg jetstream.Msg) { s.apply(m, msg) })
		}
		if err != nil {
			s.detach()
			return fmt.Errorf("cluster: retained events of realm %q: read stream %s: %w", realm, name, err)
		}
		s.mu.Lock()
		s.mirrors[realm] = m
		s.mu.Unlock()
		waits = append(waits, wait{m, last})
	}
	// Make the history streams now, so that recording an event needs no
	// round trip.
	for _, h := range node.HistoryLogs() {
		if _, _, err := s.historyStreamFor(h); err != nil {
			s.detach()
			return err
		}
	}
	// The router serves SUBSCRIBE with get_retained from what it holds:
	// give it what the cluster retained before it starts.
	deadline := time.Now().Add(storeTimeout)
	for _, w := range waits {
		for w.m.applied.Load() < w.last {
			if time.Now().After(deadline) {
				s.c.log.Warn("cluster: retained events not all read at start; the rest follows",
					"realm", string(w.m.realm), "read", w.m.applied.Load(), "stored", w.last)
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return nil
}

// apply hands a message of m's stream to the router.
func (s *store) apply(m *retainedMirror, msg jetstream.Msg) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.node == nil {
		return
	}
	var seq uint64
	if md, err := msg.Metadata(); err == nil {
		seq = md.Sequence.Stream
		defer m.applied.Store(seq)
	}
	var ev router.ClusterEvent
	err := decodeEvent(msg.Data(), m.realm, &ev)
	var publisher uint64
	if err == nil {
		publisher, err = strconv.ParseUint(msg.Headers().Get(headerPublisher), 10, 64)
	}
	if err != nil {
		s.undecodable.Add(1)
		s.failLog.log(s.c.log, "cluster: retained event from JetStream not readable", "subject", msg.Subject(), "error", err)
		return
	}
	s.appliedN.Add(1)
	m.readLocked(msg.Subject(), seq, &ev, protocol.ID(publisher))
}

// detach stops mirroring the retained streams; it returns once the
// router is not called any more.
func (s *store) detach() {
	s.mu.Lock()
	mirrors := s.mirrors
	s.mirrors = make(map[protocol.URI]*retainedMirror)
	s.mu.Unlock()
	for _, m := range mirrors {
		m.cc.Stop()
		// A handler under way finishes before the lock is free; later
		// ones find no node.
		m.mu.Lock()
		m.node = nil
		m.mu.Unlock()
	}
}

// Retain implements [router.ClusterRetention]: the node retains the
// event, then it is published to its realm's retained stream
// asynchronously; the node's mirror gives it back to the router with
// every other node's, in stream order.
func (c *Cluster) Retain(ev *router.ClusterEvent, publisher protocol.ID, store func()) {
	s := c.store
	s.mu.Lock()
	m := s.mirrors[ev.Realm]
	s.mu.Unlock()
	if m == nil {
		store() // not attached
		return
	}
	data, err := encodeEvent(nil, ev)
	if err != nil {
		store()
		s.failed(storeKindRetained, ev.Realm, ev.Topic, err)
		return
	}
	msg := &nats.Msg{Subject: topicSubject(m.subject, ev.Topic), Data: data, Header: nats.Header{}}
	msg.Header.Set(headerPublisher, strconv.FormatUint(uint64(publisher), 10))
	o := &ownRetained{m: m, subject: msg.Subject, id: ev.Publication}
	// Retained here and known as on its way in one step for the mirror,
	// which may be giving back an earlier event of the topic right now.
	m.mu.Lock()
	store()
	t := m.pending[o.subject]
	if t == nil {
		t = &ownTopic{}
		m.pending[o.subject] = t
	}
	t.own = append(t.own, o)
	m.mu.Unlock()
	s.mu.Lock()
	s.own[msg] = o
	s.mu.Unlock()
	if err := s.publish(msg); err != nil {
		s.resolve(msg, 0)
		s.failed(storeKindRetained, ev.Realm, ev.Topic, err)
	}
}

// resolve records the outcome of the publication of msg, if it was a
// retained event of this node: its stream sequence, or 0 if it failed.
func (s *store) resolve(msg *nats.Msg, seq uint64) {
	s.mu.Lock()
	o := s.own[msg]
	delete(s.own, msg)
	s.mu.Unlock()
	if o == nil {
		return
	}
	m := o.m
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.pending[o.subject]
	if t == nil {
		return
	}
	if seq == 0 || m.applied.Load() >= seq {
		// Failed, or the mirror is past it already (its own event was
		// given back, or dropped by the stream's limits).
		t.own = slices.DeleteFunc(t.own, func(x *ownRetained) bool { return x == o })
	} else {
		o.seq = seq
	}
	m.settleLocked(o.subject, t)
}

// Record implements [router.ClusterHistory]: the event is published to
// the stream of h asynchronously.
func (c *Cluster) Record(h router.ClusterHistoryLog, ev *router.ClusterEvent) {
	s := c.store
	name, subj, err := s.historyStreamFor(h)
	if err == nil {
		var data []byte
		data, err = encodeEvent(nil, ev)
		if err == nil {
			err = s.publish(&nats.Msg{Subject: topicSubject(subj, ev.Topic), Data: data},
				jetstream.WithExpectStream(name))
		}
	}
	if err != nil {
		s.failed(storeKindHistory, ev.Realm, ev.Topic, err)
	}
}

// Events implements [router.ClusterHistory]: it reads the stream of h
// from its start.
func (c *Cluster) Events(h router.ClusterHistoryLog) ([]router.ClusterHistoryEvent, error) {
	s := c.store
	name, _, err := s.historyStreamFor(h)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	cons, err := s.js.OrderedConsumer(ctx, name, jetstream.OrderedConsumerConfig{InactiveThreshold: storeTimeout})
	if err != nil {
		return nil, fmt.Errorf("cluster: read the event history: %w", err)
	}
	defer func() {
		// The server would drop it after InactiveThreshold anyway.
		if info := cons.CachedInfo(); info != nil {
			dctx, dcancel := context.WithTimeout(context.Background(), storeTimeout)
			_ = s.js.DeleteConsumer(dctx, name, info.Name)
			dcancel()
		}
	}()
	var out []router.ClusterHistoryEvent
	for {
		batch, err := cons.Fetch(max(min(h.Limit, 256), 1), jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return nil, fmt.Errorf("cluster: read the event history: %w", err)
		}
		pending := uint64(0)
		n := 0
		for m := range batch.Messages() {
			n++
			md, err := m.Metadata()
			if err != nil {
				continue
			}
			pending = md.NumPending
			var e router.ClusterHistoryEvent
			if err := decodeEvent(m.Data(), h.Realm, &e.Event); err != nil {
				s.undecodable.Add(1)
				s.failLog.log(s.c.log, "cluster: history event from JetStream not readable", "subject", m.Subject(), "error", err)
				continue
			}
			e.Time = md.Timestamp
			out = append(out, e)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return nil, fmt.Errorf("cluster: read the event history: %w", err)
		}
		if n == 0 || pending == 0 {
			break
		}
	}
	if h.Limit > 0 && len(out) > h.Limit {
		out = out[len(out)-h.Limit:]
	}
	return out, nil
}

// historyStreamFor makes or updates the stream of h once per node, and
// returns its name and subject prefix.
func (s *store) historyStreamFor(h router.ClusterHistoryLog) (string, string, error) {
	name, subj := s.historyStream(h)
	s.mu.Lock()
	ok := s.hist[h]
	s.mu.Unlock()
	if ok {
		return name, subj, nil
	}
	maxBytes, maxMsg := limitBytes(h.MaxBytes)
	cfg := jetstream.StreamConfig{
		Name:        name,
		Description: fmt.Sprintf("wampkit cluster: event history of %s (match %s) in realm %s", h.Topic, h.Match, h.Realm),
		Subjects:    []string{subj + ".>"},
		MaxMsgs:     int64(max(h.Limit, 1)),
		MaxBytes:    maxBytes,
		MaxMsgSize:  maxMsg,
		Discard:     jetstream.DiscardOld,
		Storage:     jetstream.FileStorage,
		Replicas:    s.c.cfg.Replicas,
	}
	if h.MaxAge > 0 {
		// JetStream refuses very short ages; the router drops older
		// events when it reads them anyway.
		cfg.MaxAge = max(h.MaxAge, time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if _, err := s.js.CreateOrUpdateStream(ctx, cfg); err != nil {
		return "", "", fmt.Errorf("cluster: event history stream %s: %w", name, err)
	}
	s.mu.Lock()
	s.hist[h] = true
	s.mu.Unlock()
	return name, subj, nil
}

// publish publishes m to a stream asynchronously; publishAcked or
// publishFailed count the outcome.
func (s *store) publish(m *nats.Msg, opts ...jetstream.PublishOpt) error {
	_, err := s.js.PublishMsgAsync(m, opts...)
	return err
}

// publishAcked is the asynchronous acknowledgement handler of the
// store's publications.
func (s *store) publishAcked(_ jetstream.JetStream, m *nats.Msg, ack *jetstream.PubAck) {
	if s.kindOf(m.Subject) == storeKindRetained {
		s.retained.Add(1)
		s.resolve(m, max(ack.Sequence, 1))
	} else {
		s.recorded.Add(1)
	}
}

// kindOf returns the kind of a stored message's subject.
func (s *store) kindOf(subject string) string {
	if strings.HasPrefix(subject, s.c.cfg.Prefix+".rt.") {
		return storeKindRetained
	}
	return storeKindHistory
}

// publishFailed is the asynchronous error handler of the store's
// publications.
func (s *store) publishFailed(_ jetstream.JetStream, m *nats.Msg, err error) {
	s.resolve(m, 0)
	s.failed(s.kindOf(m.Subject), "", "", fmt.Errorf("%s: %w", m.Subject, err))
}

// failed counts and logs a retained or history event that JetStream did
// not store.
func (s *store) failed(kind string, realm, topic protocol.URI, err error) {
	what := "cluster: event not recorded in the cluster's event history"
	if kind == storeKindRetained {
		s.retainFailed.Add(1)
		what = "cluster: event not retained in the cluster"
	} else {
		s.recordFailed.Add(1)
	}
	args := []any{"error", err}
	if realm != "" {
		args = append(args, "realm", string(realm), "topic", string(topic))
	}
	s.failLog.log(s.c.log, what, args...)
}
