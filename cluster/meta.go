package cluster

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
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

// The meta API over the cluster (see doc.go, "Meta API"): the Cluster
// implements router.ClusterMeta.
//
// Questions. Every node subscribes, for each realm of its router, to
// "<prefix>.meta.<realm>". A node that needs the other nodes' part of a
// meta procedure's answer publishes the question there as a WAMP CALL
// (MessagePack, the procedure and its arguments) with a reply inbox,
// and every other node answers with a RESULT (router.ClusterNode.AnswerMeta)
// or an ERROR. The asking node expects as many answers as its view of
// the "<prefix>_nodes" bucket (lease.go) has other nodes, and waits for
// them at most
// Config.MetaTimeout: a node that does not answer by then is left out,
// and logged.
//
// Meta events go on the subjects of their topics, as any event, but are
// not counted in Stats.
//
// Testaments. The bucket "<prefix>_testaments" holds the testaments of
// the sessions that have some, one key per session,
// "<slot>.<hex node name>.<session ID>", whose value is the events to
// publish. A node writes a session's key when its testaments change and
// deletes it, with a compare-and-set on its revision, when the session
// ends: if the delete fails because the key is gone, another node has
// published them. Every node watches the keys, and every
// Config.LeaseTTL/3 checks the nodes it knows of (sweep): for a node that
// is gone, the survivor that claims it (a marker key, created once)
// publishes the on_leave of its sessions (sessions.go), then its
// testaments, each claimed with a compare-and-set delete, so each goes
// out once.

// DefaultMetaTimeout bounds how long a meta procedure waits for the other
// nodes' answers (see [Config.MetaTimeout]).
const DefaultMetaTimeout = time.Second

// DefaultTestamentBytes is the default size of the testaments bucket (see
// [Config.TestamentBytes]).
const DefaultTestamentBytes = 64 << 20

var _ router.ClusterMeta = (*Cluster)(nil)

// meta is the state of the meta API while a router is attached.
type meta struct {
	c    *Cluster
	node *router.ClusterNode
	ctx  context.Context
	stop context.CancelFunc
	subs []*nats.Subscription
	wg   sync.WaitGroup

	mu   sync.Mutex
	keys map[string]struct{} // guarded by mu; the testaments bucket's keys

	// known and swept are the watch goroutine's (see sweep): the other
	// nodes at the last sweep, and whether the session records were
	// looked at once.
	known map[owner]bool
	swept bool

	// recorded are the sessions whose records the recorder wrote, by ID,
	// and unwritten those whose record it could not write (NATS was cut
	// off, say); both the recorder's (see recheck).
	recorded  map[protocol.ID]recordedSession
	unwritten map[protocol.ID]record
}

// recordedSession is a session record written: its key and what it holds.
type recordedSession struct {
	key string
	r   record
}

// metaSubject returns the subject of the meta questions of realm.
func (c *Cluster) metaSubject(realm protocol.URI) string {
	var b strings.Builder
	b.WriteString(c.cfg.Prefix)
	b.WriteString(".meta.")
	escapeToken(&b, string(realm))
	return b.String()
}

// openTestaments opens (or makes) the testaments bucket.
func (c *Cluster) openTestaments(ctx context.Context) error {
	kv, err := c.openBucket(ctx, jetstream.KeyValueConfig{
		Bucket:      c.cfg.Prefix + "_testaments",
		Description: "wampkit cluster: testaments of the sessions",
		Storage:     jetstream.FileStorage,
		Replicas:    c.cfg.Replicas,
		History:     1,
		MaxBytes:    c.cfg.TestamentBytes,
	})
	if err != nil {
		return err
	}
	c.testaments = kv
	return nil
}

// startMeta starts answering the other nodes' meta questions and
// watching the testaments for node (Attach); c.mu is held.
func (c *Cluster) startMeta(node *router.ClusterNode) error {
	ctx, stop := context.WithCancel(context.Background())
	m := &meta{c: c, node: node, ctx: ctx, stop: stop, keys: make(map[string]struct{}), known: make(map[owner]bool),
		recorded: make(map[protocol.ID]recordedSession), unwritten: make(map[protocol.ID]record)}
	for _, realm := range node.Realms() {
		sub, err := c.nc.Subscribe(c.metaSubject(realm), m.answer(realm))
		if err != nil {
			m.close()
			return fmt.Errorf("cluster: %w", err)
		}
		m.subs = append(m.subs, sub)
	}
	// Other nodes count this node as soon as its lease is there: its
	// answers must not miss the questions asked from then on.
	if err := c.nc.FlushTimeout(c.cfg.ConnectTimeout); err != nil {
		c.log.Warn("cluster: meta subjects not confirmed by NATS", "error", err)
	}
	m.wg.Add(2)
	go m.watch()
	go m.recorder()
	c.meta = m
	return nil
}

// close stops m and waits for its goroutines.
func (m *meta) close() {
	m.stop()
	for _, s := range m.subs {
		_ = s.Unsubscribe()
	}
	m.wg.Wait()
}

// answer returns the handler of the meta questions of realm.
func (m *meta) answer(realm protocol.URI) nats.MsgHandler {
	return func(msg *nats.Msg) {
		if msg.Reply == "" {
			return
		}
		var reply protocol.Message
		d, err := codec.Decode(msg.Data)
		call, ok := d.(*protocol.Call)
		if err != nil || !ok {
			m.c.log.Warn("cluster: malformed meta question from another node", "error", err)
			return
		}
		args, err := m.node.AnswerMeta(&router.ClusterMetaQuery{Realm: realm, Procedure: call.Procedure,
			Args: call.Args, Kwargs: call.Kwargs})
		if err != nil {
			reply = &protocol.Error{RequestType: protocol.TypeCall, Request: call.Request, Details: protocol.Dict{},
				URI: protocol.ErrInvalidArgument, Args: protocol.List{err.Error()}}
		} else {
			reply = &protocol.Result{Request: call.Request, Details: protocol.Dict{}, Args: args}
		}
		b, err := codec.Encode(nil, reply)
		if err == nil {
			err = msg.Respond(b)
		}
		if err != nil {
			m.c.log.Warn("cluster: meta answer not sent", "error", err)
		}
	}
}

// GatherMeta implements [router.ClusterMeta].
func (c *Cluster) GatherMeta(q *router.ClusterMetaQuery) []protocol.List {
	if !c.nc.IsConnected() {
		c.failLog.log(c.log, "cluster: meta procedure answered for this node only: NATS is not connected",
			"procedure", string(q.Procedure))
		return nil
	}
	want := c.otherNodes()
	if want == 0 {
		return nil
	}
	data, err := codec.Encode(nil, &protocol.Call{Request: 1, Options: protocol.Dict{}, Procedure: q.Procedure,
		Args: q.Args, Kwargs: q.Kwargs})
	if err != nil {
		c.log.Warn("cluster: meta question not encoded", "procedure", string(q.Procedure), "error", err)
		return nil
	}
	inbox := c.nc.NewRespInbox()
	sub, err := c.nc.SubscribeSync(inbox)
	if err != nil {
		c.log.Warn("cluster: meta question not asked", "procedure", string(q.Procedure), "error", err)
		return nil
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := c.nc.PublishRequest(c.metaSubject(q.Realm), inbox, data); err != nil {
		c.log.Warn("cluster: meta question not asked", "procedure", string(q.Procedure), "error", err)
		return nil
	}
	var out []protocol.List
	deadline := time.Now().Add(c.cfg.MetaTimeout)
	for got := 0; got < want; got++ {
		msg, err := sub.NextMsg(time.Until(deadline))
		if err != nil {
			c.log.Warn("cluster: meta answer missing: the result leaves out some nodes",
				"procedure", string(q.Procedure), "answers", got, "nodes", want, "error", err)
			break
		}
		d, err := codec.Decode(msg.Data)
		switch r := d.(type) {
		case *protocol.Result:
			out = append(out, r.Args)
		case *protocol.Error:
			c.log.Warn("cluster: meta question refused by another node", "procedure", string(q.Procedure),
				"error", r.URI, "args", r.Args)
		default:
			c.log.Warn("cluster: malformed meta answer", "procedure", string(q.Procedure), "error", err)
		}
	}
	return out
}

// otherNodes returns the number of other nodes in the cluster, as the
// node's view of the slot leases tells (see lease.go), waiting at most
// Config.MetaTimeout for the view's first state.
func (c *Cluster) otherNodes() int {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.MetaTimeout)
	defer cancel()
	live, ok := c.liveNodes(ctx)
	if !ok {
		c.log.Warn("cluster: the nodes are not known yet: meta procedure answered for this node only")
		return 0
	}
	me := c.slot.Load()
	n := 0
	for slot := range live {
		if slot != me {
			n++
		}
	}
	return n
}

// PublishMeta implements [router.ClusterMeta].
func (c *Cluster) PublishMeta(ev *router.ClusterEvent) {
	c.mu.Lock()
	rs := c.realmSubjectLocked(ev.Realm)
	c.mu.Unlock()
	bp := bufs.Get().(*[]byte)
	defer bufs.Put(bp)
	buf, err := encodeEvent((*bp)[:0], ev)
	if err == nil {
		*bp = buf
		err = c.nc.Publish(topicSubject(rs, ev.Topic), buf)
	}
	if err != nil {
		c.failLog.log(c.log, "cluster: meta event not forwarded to other nodes", "realm", string(ev.Realm),
			"topic", string(ev.Topic), "error", err)
	}
}

// Testaments.

// sessionKey returns the key of a session of this node, under its
// current slot, in the testaments and the session records buckets.
func (c *Cluster) sessionKey(session protocol.ID) string {
	return ownerPrefix(c.slot.Load(), c.name) + strconv.FormatUint(uint64(session), 10)
}

// splitOwnerKey returns the slot, node name and the rest of a key of the
// testaments or session records buckets.
func splitOwnerKey(key string) (slot uint32, name, rest string, ok bool) {
	parts := strings.SplitN(key, ".", 3)
	if len(parts) != 3 {
		return 0, "", "", false
	}
	s, err1 := strconv.ParseUint(parts[0], 10, 32)
	n, err2 := hex.DecodeString(parts[1])
	if err1 != nil || err2 != nil {
		return 0, "", "", false
	}
	return uint32(s), string(n), parts[2], true
}

// encodeTestaments returns the value of a testament key: a PUBLISH whose
// topic is the realm and whose arguments are the event envelopes.
func encodeTestaments(realm protocol.URI, evs []*router.ClusterEvent) ([]byte, error) {
	args := make(protocol.List, len(evs))
	for i, ev := range evs {
		ev := *ev
		ev.Publication = 1 // the envelope needs one; PublishEvent draws a new one
		b, err := encodeEvent(nil, &ev)
		if err != nil {
			return nil, err
		}
		args[i] = b
	}
	return codec.Encode(nil, &protocol.Publish{Request: 1, Options: protocol.Dict{}, Topic: realm, Args: args})
}

// decodeTestaments is the inverse of encodeTestaments.
func decodeTestaments(data []byte) ([]*router.ClusterEvent, error) {
	m, err := codec.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errEnvelope, err)
	}
	p, ok := m.(*protocol.Publish)
	if !ok {
		return nil, fmt.Errorf("%w: %v instead of PUBLISH", errEnvelope, m.Type())
	}
	out := make([]*router.ClusterEvent, 0, len(p.Args))
	for _, a := range p.Args {
		b, ok := a.([]byte)
		if !ok {
			return nil, fmt.Errorf("%w: testament is %T", errEnvelope, a)
		}
		ev := new(router.ClusterEvent)
		if err := decodeEvent(b, p.Topic, ev); err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}

// SaveTestaments implements [router.ClusterMeta].
func (c *Cluster) SaveTestaments(realm protocol.URI, session protocol.ID, evs []*router.ClusterEvent) error {
	ctx, cancel := context.WithTimeout(context.Background(), kvTimeout)
	defer cancel()
	key := c.sessionKey(session)
	if len(evs) == 0 {
		err := c.testaments.Delete(ctx, key)
		if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("cluster: delete testaments: %w", err)
		}
		return nil
	}
	b, err := encodeTestaments(realm, evs)
	if err != nil {
		return fmt.Errorf("cluster: encode testaments: %w", err)
	}
	c.flushRecords()
	if _, err := c.testaments.Put(ctx, key, b); err != nil {
		return fmt.Errorf("cluster: store testaments: %w", err)
	}
	return nil
}

// TakeTestaments implements [router.ClusterMeta].
func (c *Cluster) TakeTestaments(_ protocol.URI, session protocol.ID) bool {
	ctx, cancel := context.WithTimeout(context.Background(), kvTimeout)
	defer cancel()
	key := c.sessionKey(session)
	e, err := c.testaments.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false // another node published them
	}
	if err == nil {
		err = c.testaments.Delete(ctx, key, jetstream.LastRevision(e.Revision()))
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return false
		}
	}
	if err != nil {
		// Cut off from the cluster: the node's own subscribers at least
		// get them.
		c.log.Warn("cluster: testaments not withdrawn from the cluster; published here", "session", uint64(session),
			"error", err)
	}
	return true
}

// watch keeps m.keys and claims the testaments of nodes that are gone,
// until m stops.
func (m *meta) watch() {
	defer m.wg.Done()
	t := time.NewTicker(m.c.cfg.LeaseTTL / 3)
	defer t.Stop()
	purge := time.NewTicker(10 * time.Minute)
	defer purge.Stop()
	for m.ctx.Err() == nil {
		w, err := m.c.testaments.WatchAll(m.ctx, jetstream.MetaOnly())
		if err != nil {
			m.c.failLog.log(m.c.log, "cluster: cannot watch the testaments", "error", err)
			select {
			case <-m.ctx.Done():
				return
			case <-time.After(time.Second):
				continue
			}
		}
		m.follow(w, t.C, purge.C)
	}
}

// follow applies the updates of w until m stops or w ends, and sweeps at
// every tick.
func (m *meta) follow(w jetstream.KeyWatcher, tick, purge <-chan time.Time) {
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-m.ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil {
				continue
			}
			m.mu.Lock()
			if e.Operation() == jetstream.KeyValuePut {
				m.keys[e.Key()] = struct{}{}
			} else {
				delete(m.keys, e.Key())
			}
			m.mu.Unlock()
		case <-tick:
			m.sweep()
		case <-purge:
			ctx, cancel := context.WithTimeout(m.ctx, kvTimeout)
			_ = m.c.testaments.PurgeDeletes(ctx)
			cancel()
		}
	}
}

// owner is a node as the keys of the testaments and session records
// buckets name it.
type owner struct {
	slot uint32
	name string
}

// sweep finds the nodes that are gone, and for each that this node
// claims first publishes the on_leave of its sessions, then their
// testaments. The nodes it looks at are those it saw in the node
// bucket at the last sweep, those with testaments, and at the first
// sweep those with session records.
func (m *meta) sweep() {
	ctx, cancel := context.WithTimeout(m.ctx, kvTimeout)
	defer cancel()
	live, ok := m.c.liveNodes(ctx)
	if !ok {
		m.c.failLog.log(m.c.log, "cluster: the nodes are not known yet: no sweep")
		return
	}
	if f := listingFilter.Load(); f != nil {
		live = (*f)(live)
	}
	check := map[owner]bool{}
	for o := range m.known {
		check[o] = true
	}
	m.mu.Lock()
	for key := range m.keys {
		if slot, name, _, ok := splitOwnerKey(key); ok {
			check[owner{slot, name}] = true
		}
	}
	m.mu.Unlock()
	if !m.swept {
		if l, err := m.c.sessions.ListKeys(ctx); err == nil {
			for key := range l.Keys() {
				if slot, name, _, ok := splitOwnerKey(key); ok {
					check[owner{slot, name}] = true
				}
			}
			m.swept = true
		}
	}
	clear(m.known)
	for slot, name := range live {
		if name != m.c.name {
			m.known[owner{slot, name}] = true
		}
	}
	for o := range check {
		if m.ctx.Err() != nil {
			return
		}
		if o.name == m.c.name || live[o.slot] == o.name {
			continue
		}
		if m.c.holdsLease(ctx, o) {
			// Not listed, yet holding its lease, or the bucket could not
			// tell: the next sweep checks it again, which it would not
			// if known held only the listed nodes.
			m.known[o] = true
			continue
		}
		m.gone(o)
	}
}

// holdsLease reports whether node o still holds its slot's lease, read
// directly rather than from a listing: nats.go's key lister can end
// before the last key when leases are renewed while it lists, and a node
// it misses must not be taken for gone. When the bucket cannot be read,
// o counts as holding it (gone is decided at a later sweep).
func (c *Cluster) holdsLease(ctx context.Context, o owner) bool {
	if c.leaseReadFails.Load() > 0 && c.leaseReadFails.Add(-1) >= 0 {
		return true // a test's unreadable bucket
	}
	e, err := c.kv.Get(ctx, slotKey(o.slot))
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted):
		return false
	case err != nil:
		return true
	}
	return string(e.Value()) == o.name
}

// listingFilter, set only by tests (export_test.go), changes the live
// nodes the sweeps see, to play a view (or, before lease.go kept one, a
// listing) that misses a node.
var listingFilter atomic.Pointer[func(map[uint32]string) map[uint32]string]

// gone publishes, if this node is the first to claim the gone node o,
// the on_leave of its sessions and then their testaments.
func (m *meta) gone(o owner) {
	ctx, cancel := context.WithTimeout(m.ctx, 4*kvTimeout)
	defer cancel()
	marker := "gone." + strings.TrimSuffix(ownerPrefix(o.slot, o.name), ".")
	if _, err := m.c.sessions.Create(ctx, marker, nil); err != nil {
		return // another node is at it, or NATS cannot tell now
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), kvTimeout)
		defer cancel()
		if err := m.c.sessions.Delete(ctx, marker); err != nil {
			m.c.log.Warn("cluster: marker of a gone node not deleted", "key", marker, "error", err)
		}
	}()
	m.c.log.Warn("cluster: node gone: its sessions' on_leave and testaments are published", "slot", o.slot, "node", o.name)
	m.leaveGone(ctx, o.slot, o.name)
	l, err := m.c.testaments.ListKeysFiltered(ctx, ownerPrefix(o.slot, o.name)+">")
	if err != nil {
		m.c.log.Warn("cluster: testaments of a gone node not listed", "slot", o.slot, "node", o.name, "error", err)
		return
	}
	var keys []string
	for k := range l.Keys() {
		keys = append(keys, k)
	}
	for _, key := range keys {
		m.claim(key)
	}
}

// claim publishes the testaments of key if this node is the one that
// deletes it.
func (m *meta) claim(key string) {
	ctx, cancel := context.WithTimeout(m.ctx, kvTimeout)
	defer cancel()
	e, err := m.c.testaments.Get(ctx, key)
	if err != nil {
		return // another node claimed it, or it cannot be read now
	}
	if err := m.c.testaments.Delete(ctx, key, jetstream.LastRevision(e.Revision())); err != nil {
		return // another node claimed it first
	}
	m.mu.Lock()
	delete(m.keys, key)
	m.mu.Unlock()
	m.leaveOne(ctx, key) // the session's on_leave first, if still due
	evs, err := decodeTestaments(e.Value())
	if err != nil {
		m.c.log.Warn("cluster: testaments of a gone node not published", "key", key, "error", err)
		return
	}
	for _, ev := range evs {
		if err := m.node.PublishEvent(ev); err != nil {
			m.c.log.Warn("cluster: testament of a gone node not published to every node", "topic", string(ev.Topic),
				"error", err)
		}
	}
}
