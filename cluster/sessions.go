package cluster

import (
	"context"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// Session records, so that the survivors of a node that dies can publish
// wamp.session.on_leave for its sessions (see doc.go, "Meta API").
//
// The bucket "<prefix>_sessions" has one key per session of every node,
// "<slot>.<hex node name>.<session ID>", whose value is the realm, authid
// and authrole (a MessagePack WAMP PUBLISH whose topic is the realm).
// A node writes it when a session joins and deletes it when the session
// leaves, on a goroutine of its own (recorder), so that joining does not
// wait for JetStream; a session that joined a moment before its node died
// may thus have no record, and no on_leave. The survivors claim the
// records of a gone node with compare-and-set deletes (see meta.sweep).

// DefaultSessionBytes is the default size of the session records bucket
// (see [Config.SessionBytes]).
const DefaultSessionBytes = 64 << 20

// recordQueue is the most session records that wait to be written.
const recordQueue = 1 << 14

// record is a change of a session record: put or delete; or, with done
// set, a barrier that the recorder closes once it wrote what came before.
type record struct {
	realm            protocol.URI
	session          protocol.ID
	authID, authRole string
	del              bool
	done             chan struct{}
}

// openSessions opens (or makes) the session records bucket.
func (c *Cluster) openSessions(ctx context.Context) error {
	kv, err := c.openBucket(ctx, jetstream.KeyValueConfig{
		Bucket:      c.cfg.Prefix + "_sessions",
		Description: "wampkit cluster: the sessions of every node",
		Storage:     jetstream.FileStorage,
		Replicas:    c.cfg.Replicas,
		History:     1,
		MaxBytes:    c.cfg.SessionBytes,
	})
	if err != nil {
		return err
	}
	c.sessions = kv
	return nil
}

// ownerPrefix returns the start of the keys of the node of slot and name,
// in the session records and testaments buckets.
func ownerPrefix(slot uint32, name string) string {
	return strconv.FormatUint(uint64(slot), 10) + "." + hex.EncodeToString([]byte(name)) + "."
}

// SessionJoined implements [router.ClusterMeta].
func (c *Cluster) SessionJoined(realm protocol.URI, session protocol.ID, authID, authRole string) {
	c.queueRecord(record{realm: realm, session: session, authID: authID, authRole: authRole})
}

// SessionLeft implements [router.ClusterMeta].
func (c *Cluster) SessionLeft(realm protocol.URI, session protocol.ID) {
	c.queueRecord(record{realm: realm, session: session, del: true})
}

// queueRecord hands r to the recorder, or counts and logs it when the
// queue is full.
func (c *Cluster) queueRecord(r record) {
	select {
	case c.records <- r:
	default:
		c.failLog.log(c.log, "cluster: session record not written (queue full): its on_leave is not published if this node dies",
			"session", uint64(r.session))
	}
}

// flushRecords waits, at most kvTimeout, until the records queued so far
// are written: so that a session whose testaments are stored has its
// record too, and its on_leave goes out before them if its node dies.
func (c *Cluster) flushRecords() {
	done := make(chan struct{})
	select {
	case c.records <- record{done: done}:
	default:
		return // full: logged by queueRecord
	}
	t := time.NewTimer(kvTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// recorder writes the session records until m stops, then what is left
// in the queue, for at most Config.ConnectTimeout.
func (m *meta) recorder() {
	defer m.wg.Done()
	c := m.c
	for {
		select {
		case r := <-c.records:
			m.write(context.Background(), r)
		case <-c.recheck:
			m.recheck(c.recheckAll.Swap(false))
		case <-m.ctx.Done():
			ctx, cancel := context.WithTimeout(context.Background(), c.cfg.ConnectTimeout)
			defer cancel()
			for {
				select {
				case r := <-c.records:
					m.write(ctx, r)
				default:
					return
				}
			}
		}
	}
}

// write applies r to the bucket.
func (m *meta) write(ctx context.Context, r record) {
	if r.done != nil {
		close(r.done)
		return
	}
	c := m.c
	ctx, cancel := context.WithTimeout(ctx, kvTimeout)
	defer cancel()
	key := c.sessionKey(r.session)
	if rec, ok := m.recorded[r.session]; ok {
		key = rec.key // written before the node's slot changed
	}
	var err error
	if r.del {
		delete(m.recorded, r.session)
		delete(m.unwritten, r.session)
		err = c.sessions.Delete(ctx, key)
	} else {
		var b []byte
		b, err = codec.Encode(nil, &protocol.Publish{Request: 1, Options: protocol.Dict{}, Topic: r.realm,
			Args: protocol.List{r.authID, r.authRole}})
		if err == nil {
			_, err = c.sessions.Put(ctx, key, b)
		}
		if err == nil {
			m.recorded[r.session] = recordedSession{key: key, r: r}
			delete(m.unwritten, r.session)
		} else {
			m.unwritten[r.session] = r
		}
	}
	if err != nil && ctx.Err() == nil {
		c.failLog.log(c.log, "cluster: session record not written", "session", uint64(r.session), "error", err)
	}
}

// recheckSessions asks the recorder to write again the session records
// it could not write and, with all, to check every record it wrote (see
// meta.recheck).
func (c *Cluster) recheckSessions(all bool) {
	if all {
		c.recheckAll.Store(true)
	}
	select {
	case c.recheck <- struct{}{}:
	default:
	}
}

// endedMessage is the GOODBYE message of a session that the other nodes
// took for gone (see recheck).
const endedMessage = "the cluster took this session for gone while its node was cut off from NATS: join again"

// recheck writes again the session records the recorder could not write
// and, with all, checks the records it wrote. It runs when the node is
// back after losing NATS (all: when it had to claim its lease again).
//
// A node cut off from NATS for longer than its lease is gone for the
// others, which cannot tell it from a node that died: one of them claims
// its sessions' records (deleting them) and publishes their on_leave and
// testaments. Yet the node and its sessions lived on. A session whose
// record another node deleted was announced gone, and has no record any
// more (so no on_leave should the node really die later): the node ends
// it, quietly (router.ClusterNode.EndSessions: no second on_leave), so
// that the cluster's view and the session's clients agree again; they
// join anew. A record missing without a trace of such a delete (the NATS
// servers lost the bucket) is written again.
func (m *meta) recheck(all bool) {
	c := m.c
	for _, r := range m.unwritten {
		m.write(m.ctx, r)
	}
	if !all {
		return
	}
	defer c.rechecked.Add(1)
	listed := m.listRecorded()
	dead := map[protocol.URI][]protocol.ID{}
	for id, rec := range m.recorded {
		if m.ctx.Err() != nil {
			return
		}
		if listed[rec.key] {
			continue
		}
		c.recheckGets.Add(1)
		ctx, cancel := context.WithTimeout(m.ctx, kvTimeout)
		_, err := c.sessions.Get(ctx, rec.key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			var h []jetstream.KeyValueEntry
			h, err = c.sessions.History(ctx, rec.key)
			if err == nil && len(h) > 0 && h[len(h)-1].Operation() != jetstream.KeyValuePut {
				delete(m.recorded, id)
				dead[rec.r.realm] = append(dead[rec.r.realm], id)
			} else {
				m.write(ctx, rec.r)
				err = nil
			}
		}
		cancel()
		if err != nil {
			c.failLog.log(c.log, "cluster: session record not checked", "session", uint64(id), "error", err)
		}
	}
	for realm, ids := range dead {
		ended := m.node.EndSessions(realm, ids, endedMessage)
		c.log.Warn("cluster: sessions the other nodes took for gone while this node was cut off ended",
			"realm", string(realm), "sessions", len(ended))
	}
}

// listRecorded returns the keys of the node's records that the bucket
// lists, under each owner prefix the records were written with (the
// node's slot may have changed since): one listing instead of a read per
// record. A record the listing lacks is read on its own, so a listing
// that fails or ends early costs time, not correctness.
func (m *meta) listRecorded() map[string]bool {
	prefixes := map[string]bool{}
	for _, rec := range m.recorded {
		prefixes[rec.key[:strings.LastIndexByte(rec.key, '.')+1]] = true
	}
	listed := make(map[string]bool, len(m.recorded))
	for p := range prefixes {
		ctx, cancel := context.WithTimeout(m.ctx, kvTimeout)
		l, err := m.c.sessions.ListKeysFiltered(ctx, p+">")
		if err == nil {
			for k := range l.Keys() {
				listed[k] = true
			}
		}
		cancel()
	}
	return listed
}

// leaveGone publishes wamp.session.on_leave for each session of the gone
// node whose record this node claims.
func (m *meta) leaveGone(ctx context.Context, slot uint32, name string) {
	c := m.c
	l, err := c.sessions.ListKeysFiltered(ctx, ownerPrefix(slot, name)+">")
	if err != nil {
		c.log.Warn("cluster: sessions of a gone node not listed", "slot", slot, "node", name, "error", err)
		return
	}
	var keys []string
	for k := range l.Keys() {
		keys = append(keys, k)
	}
	if f := sessionListingFilter.Load(); f != nil {
		keys = (*f)(keys)
	}
	for _, key := range keys {
		m.leaveOne(ctx, key)
	}
}

// sessionListingFilter, when set (tests only), passes the keys a listing
// of the session records found through it, as a listing that ended early
// would (see SetSessionListingFilter).
var sessionListingFilter atomic.Pointer[func([]string) []string]

// leaveOne publishes wamp.session.on_leave of the session whose record is
// key, if this node is the one that deletes the record. It does nothing
// when there is no record (another node claimed it, or none was written).
// claim calls it before it publishes a session's testaments: a listing of
// the records can end before its last key (nats.go's key lister), and the
// on_leave must still come first.
func (m *meta) leaveOne(ctx context.Context, key string) {
	c := m.c
	e, err := c.sessions.Get(ctx, key)
	if err != nil {
		return
	}
	if err := c.sessions.Delete(ctx, key, jetstream.LastRevision(e.Revision())); err != nil {
		return // claimed by another node
	}
	_, _, id, ok := parseOwnerKey(key)
	d, err := codec.Decode(e.Value())
	p, isPub := d.(*protocol.Publish)
	if !ok || err != nil || !isPub || len(p.Args) != 2 {
		c.log.Warn("cluster: malformed session record", "key", key, "error", err)
		return
	}
	ev := &router.ClusterEvent{Realm: p.Topic, Topic: "wamp.session.on_leave",
		Args: protocol.List{uint64(id), p.Args[0], p.Args[1]}}
	if err := m.node.PublishEvent(ev); err != nil {
		c.log.Warn("cluster: on_leave of a gone node's session not published to every node", "session", uint64(id),
			"error", err)
	}
}

// parseOwnerKey returns the slot, node name and session ID of a key of
// the session records or testaments buckets.
func parseOwnerKey(key string) (slot uint32, name string, session protocol.ID, ok bool) {
	slot, name, rest, ok := splitOwnerKey(key)
	if !ok {
		return 0, "", 0, false
	}
	n, err := strconv.ParseUint(rest, 10, 64)
	if err != nil {
		return 0, "", 0, false
	}
	return slot, name, protocol.ID(n), true
}
