package cluster

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
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

// Calls across nodes (see doc.go, "Calls").
//
// The bucket "<prefix>_regs" has one key per registered procedure and
// match policy of a realm, "<hex realm>.<match>.<hex procedure>", whose
// value (regValue, JSON) is the invocation policy and the slots of the
// nodes that hold it. Register and Unregister change it with
// compare-and-set writes, so two nodes never both hold a single
// registration. Every node watches the bucket: for each other node that
// holds procedures in a realm, it keeps a stand-in, a session of its
// router (see router.ClusterNode.Link) that registers them there, so that
// a CALL on this node resolves them like local ones; call.go carries the
// calls from the stand-in to the holding node and back, on the nodes'
// subjects "<prefix>.node.<slot>.rpc" (see batch.go). A node answers on
// "<prefix>.node.<slot>.ping" while it is connected (its frames
// connection, Cluster.fc, which also carries the frames): the monitor pings
// the nodes that hold procedures, that this node has a stand-in for, or
// that call here, and when NATS answers that nobody listens there any
// more, the node is gone: its calls fail and its holdings are removed
// from the bucket.

const (
	// pingEvery is the period of the monitor's liveness checks, and
	// pingTimeout bounds one check.
	pingEvery   = 400 * time.Millisecond
	pingTimeout = time.Second
	// silentPings is how many pings in a row a node leaves unanswered
	// before the calls waiting on it fail (see rpc.silent): about 4 s
	// of silence, longer than a node's read loop may wait for a lock
	// (kvTimeout).
	silentPings = 3
	// kvTimeout bounds each change of the bucket.
	kvTimeout = 2 * time.Second

	// natsWriteTimeout bounds a write to NATS, and natsPingEvery and
	// natsPingsOut the silence of a NATS server, before the node drops
	// its connection and makes it again (see New). A server that takes
	// no write for 2 s has stopped reading; the pings' bound, 4 to 6 s,
	// is longer than a read loop of the frames connection may wait for
	// a lock (kvTimeout), during which it reads no PONG.
	natsWriteTimeout = 2 * time.Second
	natsPingEvery    = 2 * time.Second
	natsPingsOut     = 2
)

// regValue is the value of a procedure's key. For the policies first and
// last it also orders the callees over the cluster (see order.go): Order
// has the place of each callee, by session ID, and Seq the last place
// given. For roundrobin and random, Counts has the number of callees of
// each holder, by slot.
type regValue struct {
	Invoke  string            `json:"invoke"`
	Holders []uint32          `json:"holders"`
	Seq     uint64            `json:"seq,omitempty"`
	Order   map[string]uint64 `json:"order,omitempty"`
	Counts  map[uint32]int    `json:"counts,omitempty"`
}

// regKeyOf returns the bucket key of reg.
func regKeyOf(realm, procedure protocol.URI, match protocol.MatchPolicy) string {
	if match == "" {
		match = protocol.MatchExact
	}
	return hex.EncodeToString([]byte(realm)) + "." + string(match) + "." + hex.EncodeToString([]byte(procedure))
}

// parseRegKey is the inverse of regKeyOf.
func parseRegKey(key string) (realm, procedure protocol.URI, match protocol.MatchPolicy, ok bool) {
	parts := strings.Split(key, ".")
	if len(parts) != 3 {
		return "", "", "", false
	}
	r, err1 := hex.DecodeString(parts[0])
	p, err2 := hex.DecodeString(parts[2])
	if err1 != nil || err2 != nil {
		return "", "", "", false
	}
	return protocol.URI(r), protocol.URI(p), protocol.MatchPolicy(parts[1]), true
}

// nodeSubject returns the subject of kind for the node of slot.
func (c *Cluster) nodeSubject(slot uint32, kind string) string {
	return c.cfg.Prefix + ".node." + strconv.FormatUint(uint64(slot), 10) + "." + kind
}

// openRegs opens (or makes) the registrations bucket.
func (c *Cluster) openRegs(ctx context.Context) error {
	kv, err := c.openBucket(ctx, jetstream.KeyValueConfig{
		Bucket:      c.cfg.Prefix + "_regs",
		Description: "wampkit cluster: registered procedures and the nodes that hold them",
		// On disk, so that the registrations outlive a restart of the
		// NATS servers.
		Storage:  jetstream.FileStorage,
		Replicas: c.cfg.Replicas,
		History:  1,
	})
	if err != nil {
		return err
	}
	c.regs.Store(&kv)
	return nil
}

// regsKV returns the registrations bucket.
func (c *Cluster) regsKV() jetstream.KeyValue { return *c.regs.Load() }

// Register implements [router.Cluster].
func (c *Cluster) Register(reg router.ClusterRegistration) error {
	err := c.register(reg)
	if bucketGone(err) {
		// The NATS servers lost the bucket (restarted without their
		// storage): make it again.
		if err = c.openRegs(context.Background()); err == nil {
			err = c.register(reg)
		}
	}
	return err
}

// bucketGone reports whether err says that a bucket no longer exists.
func bucketGone(err error) bool {
	return errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrBucketNotFound)
}

// register is Register on the bucket as it is.
func (c *Cluster) register(reg router.ClusterRegistration) error {
	ctx, cancel := context.WithTimeout(context.Background(), kvTimeout)
	defer cancel()
	key := regKeyOf(reg.Realm, reg.Procedure, reg.Match)
	me := c.slot.Load()
	for range 16 {
		e, err := c.regsKV().Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			_, err = c.regsKV().Create(ctx, key, encodeReg(regValue{Invoke: reg.Invoke, Holders: []uint32{me}}))
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue
			}
			if err == nil {
				c.claimed(key, reg)
			}
			return err
		}
		if err != nil {
			return err
		}
		v := decodeReg(e.Value())
		others := c.liveHolders(v.Holders, me)
		if len(others) > 0 && excludes(v.Invoke, reg.Invoke) {
			return fmt.Errorf("%w (node slot %d, policy %s)", router.ErrRegisteredElsewhere, others[0], v.Invoke)
		}
		_, err = c.regsKV().Update(ctx, key, encodeReg(regValue{Invoke: reg.Invoke, Holders: append(others, me)}), e.Revision())
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue
		}
		if err == nil {
			c.claimed(key, reg)
		}
		return err
	}
	return errors.New("cluster: registration contended, try again")
}

// excludes reports whether a registration held with the policy held
// keeps out one with the policy wanted, on another node: a single
// registration has one callee, and shared ones share one policy (spec
// advanced "Shared Registration").
func excludes(held, wanted string) bool {
	return held == "single" || wanted == "single" || held != wanted
}

// Unregister implements [router.Cluster].
func (c *Cluster) Unregister(reg router.ClusterRegistration) {
	key := regKeyOf(reg.Realm, reg.Procedure, reg.Match)
	c.unclaimed(key)
	if err := c.dropHolder(key, c.slot.Load()); err != nil {
		c.log.Warn("cluster: unregister", "realm", string(reg.Realm), "procedure", string(reg.Procedure), "error", err)
	}
}

// errRegRaced is writeBackReg's error when another node changed the key
// since it was read: read it again and retry.
var errRegRaced = errors.New("cluster: registration changed meanwhile")

// writeBackReg stores v as key's value if key is still at revision rev,
// or deletes key when v has no holders left; it returns errRegRaced if
// another node changed key meanwhile.
func (c *Cluster) writeBackReg(ctx context.Context, key string, v regValue, rev uint64) error {
	var err error
	if len(v.Holders) == 0 {
		err = c.regsKV().Delete(ctx, key, jetstream.LastRevision(rev))
	} else {
		_, err = c.regsKV().Update(ctx, key, encodeReg(v), rev)
	}
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
		return errRegRaced
	}
	return err
}

// dropHolder removes slot from the holders of key, and the key when none
// is left.
func (c *Cluster) dropHolder(key string, slot uint32) error {
	ctx, cancel := context.WithTimeout(context.Background(), kvTimeout)
	defer cancel()
	return c.editReg(ctx, key, func(v *regValue) bool {
		if !slices.Contains(v.Holders, slot) {
			return false
		}
		v.Holders = slices.DeleteFunc(v.Holders, func(s uint32) bool { return s == slot })
		dropOrders(v, func(s uint32) bool { return s == slot })
		return true
	})
}

// editReg reads the value of key, lets edit change it (edit returns false
// when there is nothing to write) and writes it back with writeBackReg,
// reading again when another node changed the key meanwhile. A key that
// does not exist is left alone.
func (c *Cluster) editReg(ctx context.Context, key string, edit func(v *regValue) bool) error {
	for range 16 {
		e, err := c.regsKV().Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		v := decodeReg(e.Value())
		if !edit(&v) {
			return nil
		}
		if err := c.writeBackReg(ctx, key, v, e.Revision()); !errors.Is(err, errRegRaced) {
			return err
		}
	}
	return errors.New("cluster: registration contended")
}

// liveHolders returns the holders other than me that are not gone. A
// holder that the monitor finds silent counts as live without a ping,
// which would wait pingTimeout for nothing (with the dealer's lock held,
// see Register).
func (c *Cluster) liveHolders(holders []uint32, me uint32) []uint32 {
	var out []uint32
	for _, h := range holders {
		if h != me && (c.isSilent(h) || c.alive(h)) {
			out = append(out, h)
		}
	}
	return out
}

// isSilent reports whether the monitor last found the node of slot
// silent (see rpc.silent).
func (c *Cluster) isSilent(slot uint32) bool { return c.silentSnapshot()[slot] }

// alive reports whether the node of slot is connected: NATS tells at once
// when nobody listens on its ping subject. A node that does not answer in
// time counts as alive (busy is not gone).
func (c *Cluster) alive(slot uint32) bool {
	return c.ping(slot) != pingGone
}

// pingResult is what a ping of another node found.
type pingResult int

const (
	pingAnswered pingResult = iota
	// pingGone: NATS has nobody listening on the node's ping subject.
	pingGone
	// pingSilent: no answer within pingTimeout. The node may be busy, or
	// cut off from NATS by a path that lost its packets without closing
	// its connections, which NATS notices only after its own pings.
	pingSilent
)

// ping asks the node of slot whether it is there.
func (c *Cluster) ping(slot uint32) pingResult {
	_, err := c.nc.Request(c.nodeSubject(slot, "ping"), nil, pingTimeout)
	switch {
	case err == nil:
		return pingAnswered
	case errors.Is(err, nats.ErrNoResponders):
		return pingGone
	default:
		return pingSilent
	}
}

func encodeReg(v regValue) []byte {
	b, _ := json.Marshal(v)
	return b
}

func decodeReg(b []byte) regValue {
	var v regValue
	_ = json.Unmarshal(b, &v) // a malformed value holds nothing
	return v
}

// rpc is the state of calls across nodes while a router is attached.
type rpc struct {
	c    *Cluster
	node *router.ClusterNode
	ctx  context.Context // ends at Detach
	stop context.CancelFunc
	// rewatch asks watch to watch the bucket anew (after a reconnection).
	rewatch chan struct{}
	wg      sync.WaitGroup
	subs    []*nats.Subscription
	// header starts every frame this node sends to another (see
	// call.go): its slot.
	header []byte
	out    *sender // publishes the frames (see batch.go)
	// frames receives the messages of the subject "rpc" from the frames
	// connection's read loop, which handles them itself (drain, see
	// framesDialer); frameQueue bounds it.
	frames chan *nats.Msg
	// draining is held while frames are handled: one drain at a time.
	draining sync.Mutex
	// opts decodes the frames' messages (see optcache.go); only
	// takeFrames uses it, with draining held.
	opts optCache

	// standins and relays are read without a lock on every frame (see
	// call.go): copy on write, under mu.
	standins atomic.Pointer[map[uint32]*standin] // by index
	relays   atomic.Pointer[map[relayKey]*relay]

	mu     sync.Mutex
	closed bool                         // guarded by mu; set by close: no new links
	byNode map[mirrorKey]*standin       // guarded by mu; stand-ins by node slot and realm
	held   map[string]map[uint32]string // guarded by mu; by key: holder slot -> policy (others only)
	// ended holds the relays that ended in the last endedGrace, by key,
	// for the late chunks of their calls (see late); guarded by mu.
	ended   map[relayKey]*relay
	nextIdx uint32 // guarded by mu; index of the next stand-in

	synced regSync // the revision of the bucket applied (sync.go)
}

type mirrorKey struct {
	slot  uint32
	realm protocol.URI
}

// startRPC starts serving calls across nodes for node (Attach).
func (c *Cluster) startRPC(node *router.ClusterNode) error {
	ctx, stop := context.WithCancel(context.Background())
	x := &rpc{c: c, node: node, ctx: ctx, stop: stop, rewatch: make(chan struct{}, 1),
		byNode: make(map[mirrorKey]*standin), held: make(map[string]map[uint32]string),
		ended: make(map[relayKey]*relay),
		// Stand-in indexes start at random, so that those of a node that
		// restarted in the same slot differ from its predecessor's.
		nextIdx: rand.Uint32()}
	x.standins.Store(&map[uint32]*standin{})
	x.relays.Store(&map[relayKey]*relay{})
	x.out = newSender(x)
	x.frames = make(chan *nats.Msg, frameQueue)
	drain := x.drain
	c.drainFrames.Store(&drain)
	me := c.slot.Load()
	x.header = binary.AppendUvarint(nil, uint64(me))
	// Both on the frames connection: a node that answers pings can take
	// frames.
	sub, err := c.fc.ChanSubscribe(c.nodeSubject(me, "rpc"), x.frames)
	if err == nil {
		x.subs = append(x.subs, sub)
		sub, err = c.fc.Subscribe(c.nodeSubject(me, "ping"), func(m *nats.Msg) { _ = m.Respond(nil) })
	}
	if err != nil {
		x.close()
		return fmt.Errorf("cluster: %w", err)
	}
	x.subs = append(x.subs, sub)
	// The other nodes say when they are back after losing NATS (see
	// reconnected); on the main connection, which carries no frames.
	if sub, err = c.nc.Subscribe(c.cfg.Prefix+".node.*.back", x.peerBack); err != nil {
		x.close()
		return fmt.Errorf("cluster: %w", err)
	}
	x.subs = append(x.subs, sub)
	if err := c.nc.FlushTimeout(c.cfg.ConnectTimeout); err != nil {
		c.log.Warn("cluster: subject of the nodes' returns not confirmed by NATS", "error", err)
	}
	if err := c.fc.FlushTimeout(c.cfg.ConnectTimeout); err != nil {
		c.log.Warn("cluster: call subjects not confirmed by NATS", "error", err)
	}
	x.wg.Add(3)
	go x.watch()
	go x.monitor()
	go x.out.run()
	c.rpc = x // c.mu is held (Attach)
	return nil
}

// frameQueue bounds rpc.frames. The frames connection's read loop
// empties it before each read of its socket (see framesDialer), so it
// holds at most the messages of one read (nats.go reads 32 KiB at a
// time, TLS a record); one that does not fit is dropped as by a slow
// consumer, and logged (Cluster.framesError).
const frameQueue = 1 << 12

// lostFrames, set only by tests (export_test.go), is how many messages
// of frames the nodes of the process are yet to drop, as if NATS had
// lost them.
var lostFrames atomic.Int64

// drain handles the messages of frames, in order, until it is empty.
// The frames connection's read loop calls it before each read, and its
// handler of a lost connection after the read loop stopped.
func (x *rpc) drain() {
	x.draining.Lock()
	defer x.draining.Unlock()
	for {
		select {
		case m := <-x.frames:
			if lostFrames.Load() > 0 && lostFrames.Add(-1) >= 0 {
				continue // a test plays a message lost on the way
			}
			x.takeFrames(m)
		default:
			return
		}
	}
}

// close stops x and waits for its goroutines, then closes its links.
func (x *rpc) close() {
	x.stop()
	for _, s := range x.subs {
		_ = s.Unsubscribe()
	}
	x.c.drainFrames.Store(nil)
	x.wg.Wait()
	x.mu.Lock()
	x.closed = true
	clear(x.byNode)
	clear(x.ended)
	sts, rls := *x.standins.Load(), *x.relays.Load()
	x.standins.Store(&map[uint32]*standin{})
	x.relays.Store(&map[relayKey]*relay{})
	x.mu.Unlock()
	for _, st := range sts {
		st.link.Load().Close()
	}
	for _, r := range rls {
		r.link.Load().Close()
	}
}

// watch applies the changes of the registrations bucket to the mirrors,
// until x stops. It watches anew when told to (rewatch: the node
// reconnected to NATS, whose servers may have lost the watch), and then
// drops the mirrors of keys that went away meanwhile.
func (x *rpc) watch() {
	defer x.wg.Done()
	for {
		w, err := x.c.regsKV().WatchAll(x.ctx)
		if err != nil {
			if x.ctx.Err() != nil {
				return
			}
			x.c.failLog.log(x.c.log, "cluster: cannot watch the registrations", "error", err)
			select {
			case <-x.ctx.Done():
				return
			case <-time.After(time.Second):
				continue
			}
		}
		if !x.follow(w) {
			return
		}
	}
}

// follow applies the updates of w until x stops (false) or a rewatch is
// asked for (true).
func (x *rpc) follow(w jetstream.KeyWatcher) bool {
	defer w.Stop()
	seen := map[string]bool{}
	initial := true
	for {
		select {
		case <-x.ctx.Done():
			return false
		case <-x.rewatch:
			return true
		case e, ok := <-w.Updates():
			if !ok {
				return true
			}
			if e == nil {
				// The initial values are all there: what this node
				// mirrors and the bucket no longer has went away.
				initial = false
				x.c.reclaimUnseen(seen)
				x.mu.Lock()
				var gone []string
				for key := range x.held {
					if !seen[key] {
						gone = append(gone, key)
					}
				}
				x.mu.Unlock()
				for _, key := range gone {
					x.apply(key, nil)
				}
				continue
			}
			if initial {
				seen[e.Key()] = true
			}
			var v *regValue
			if e.Operation() == jetstream.KeyValuePut {
				r := decodeReg(e.Value())
				v = &r
			}
			x.apply(e.Key(), v)
			x.synced.advance(e.Revision())
		}
	}
}

// apply makes the mirrors follow the value v of key (nil: deleted).
func (x *rpc) apply(key string, v *regValue) {
	realm, procedure, match, ok := parseRegKey(key)
	if !ok || !slices.Contains(x.node.Realms(), realm) {
		return
	}
	me := x.c.slot.Load()
	if v == nil || !slices.Contains(v.Holders, me) {
		x.c.reclaim(key)
	}
	now := map[uint32]string{}
	if v != nil {
		for _, h := range v.Holders {
			if h != me {
				now[h] = v.Invoke
			}
		}
	}
	x.mu.Lock()
	before := x.held[key]
	if len(now) == 0 {
		delete(x.held, key)
	} else {
		x.held[key] = now
	}
	x.mu.Unlock()
	for slot, invoke := range before {
		if now[slot] != invoke {
			x.unmirror(slot, realm, key)
		}
	}
	for slot, invoke := range now {
		if before[slot] != invoke {
			x.mirror(slot, realm, key, procedure, match, invoke)
		}
	}
	if v != nil {
		switch v.Invoke {
		case "first", "last":
			for slot := range now {
				x.order(slot, realm, key, placeOf(v, slot))
			}
		case "roundrobin", "random":
			for slot := range now {
				x.weigh(slot, realm, key, calleesOf(v, slot))
			}
		}
	}
}

// monitor pings the nodes that hold procedures, that this node has a
// stand-in for, or that make calls here, and clears up after those that
// are gone, until x stops.
func (x *rpc) monitor() {
	defer x.wg.Done()
	t := time.NewTicker(pingEvery)
	defer t.Stop()
	silent := map[uint32]int{} // pings in a row each node left unanswered
	for {
		select {
		case <-x.ctx.Done():
			return
		case now := <-t.C:
			x.pruneEnded(now)
		}
		if !x.c.nc.IsConnected() || !x.c.fc.IsConnected() {
			// This node is the one cut off: fail what waits on others.
			for _, st := range *x.standins.Load() {
				st.link.Load().Abandon(protocol.ErrCanceled, "this node lost its link to the cluster")
			}
			continue
		}
		watched := x.watched()
		for _, slot := range watched {
			if x.ctx.Err() != nil {
				return
			}
			switch x.c.ping(slot) {
			case pingGone:
				delete(silent, slot)
				x.gone(slot)
			case pingSilent:
				silent[slot]++
				if silent[slot] >= silentPings {
					x.silent(slot, silent[slot] == silentPings)
				}
			default:
				if silent[slot] >= silentPings {
					x.c.log.Info("cluster: node answers again", "slot", slot)
				}
				delete(silent, slot)
			}
		}
		for slot := range silent {
			if !slices.Contains(watched, slot) {
				delete(silent, slot)
			}
		}
		now := map[uint32]bool{}
		for slot, n := range silent {
			if n >= silentPings {
				now[slot] = true
			}
		}
		if !maps.Equal(now, x.c.silentSnapshot()) {
			x.c.silentNodes.Store(&now)
		}
	}
}

// watched returns the slots of the other nodes that hold procedures, that
// this node has a stand-in for, or that have relays here.
func (x *rpc) watched() []uint32 {
	set := map[uint32]bool{}
	x.mu.Lock()
	for _, hs := range x.held {
		for h := range hs {
			set[h] = true
		}
	}
	x.mu.Unlock()
	for _, st := range *x.standins.Load() {
		set[st.slot] = true
	}
	for k := range *x.relays.Load() {
		set[k.slot] = true
	}
	out := make([]uint32, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	return out
}

// gone fails the calls waiting on the node of slot, closes the links that
// serve it, and removes its holdings from the bucket (the watch then
// withdraws them on every node).
func (x *rpc) gone(slot uint32) {
	x.c.log.Warn("cluster: node gone: its calls fail and its registrations are withdrawn", "slot", slot)
	sts, rls := x.dropLinks(slot)
	for _, st := range sts {
		st.link.Load().Abandon(protocol.ErrCanceled, "the callee's node left the cluster")
		st.link.Load().Close()
	}
	for _, r := range rls {
		// Its callees are interrupted: their caller is gone.
		r.link.Load().Close()
	}
	x.mu.Lock()
	var keys []string
	for key, hs := range x.held {
		if _, ok := hs[slot]; ok {
			keys = append(keys, key)
		}
	}
	x.mu.Unlock()
	for _, key := range keys {
		if err := x.c.dropHolder(key, slot); err != nil {
			x.c.log.Warn("cluster: withdraw a gone node's registration", "slot", slot, "error", err)
		}
	}
}

// silentSnapshot returns the nodes the monitor last found silent.
func (c *Cluster) silentSnapshot() map[uint32]bool {
	if m := c.silentNodes.Load(); m != nil {
		return *m
	}
	return nil
}

// silent fails the calls waiting on the node of slot, which has answered
// no ping for a while (silentPings): it may be cut off from NATS by a path
// that loses packets without closing connections, so that NATS still
// lists its subscriptions (it is not gone) but neither their calls'
// messages nor their answers get through. While it stays silent, each
// round fails the calls that waited since; its registrations stay, as
// does it, if it was only busy. first says whether it just fell silent.
func (x *rpc) silent(slot uint32, first bool) {
	if first {
		x.c.log.Warn("cluster: node does not answer: the calls waiting on it fail", "slot", slot)
	}
	x.abandonCalls(slot, "the callee's node does not answer")
}

// abandonCalls fails the calls waiting on the node of slot with
// wamp.error.canceled and why; the stand-ins and their registrations
// stay.
func (x *rpc) abandonCalls(slot uint32, why string) {
	for _, st := range *x.standins.Load() {
		if st.slot == slot {
			st.link.Load().Abandon(protocol.ErrCanceled, why)
		}
	}
}

// reconnected tells x that the node's main connection reconnected to
// NATS (the frames connection's handler updates x.out.maxPayload).
//
// Messages of calls may have been lost while this node was cut off: a
// frame that NATS got for a node whose frames subscription was not (yet)
// back at its server reaches nobody, and nothing would ever answer its
// call. So the calls this node's sessions wait for on other nodes fail
// now, with wamp.error.canceled (as when the monitor finds this node cut
// off), and the node says it is back on "<prefix>.node.<slot>.back", so
// that the others fail the calls they wait for here (peerBack). An
// answer that comes later is ignored.
func (x *rpc) reconnected() {
	select {
	case x.rewatch <- struct{}{}:
	default:
	}
	for _, st := range *x.standins.Load() {
		st.link.Load().Abandon(protocol.ErrCanceled, "this node lost its link to the cluster for a moment: the call's messages may be lost")
	}
	// The frames connection sent its subscriptions again before it
	// counted as back, but the NATS server handles each connection on
	// its own: a round trip on it makes sure the server has them before
	// the others, told on the other connection, send calls here again.
	if err := x.c.fc.FlushTimeout(x.c.cfg.ConnectTimeout); err != nil {
		x.c.log.Warn("cluster: call subjects not confirmed by NATS after reconnecting", "error", err)
	}
	if err := x.c.nc.Publish(x.c.nodeSubject(x.c.slot.Load(), "back"), nil); err != nil {
		x.c.log.Warn("cluster: cannot tell the other nodes this node is back", "error", err)
	}
}

// peerBack handles another node's word that it is back after losing
// NATS (see reconnected): the calls waiting on that node fail with
// wamp.error.canceled, since their messages may have been lost.
func (x *rpc) peerBack(m *nats.Msg) {
	// "<prefix>.node.<slot>.back": the slot is the next to last token.
	subj := strings.TrimSuffix(m.Subject, ".back")
	slot, err := strconv.ParseUint(subj[strings.LastIndexByte(subj, '.')+1:], 10, 32)
	if err != nil || uint32(slot) == x.c.slot.Load() {
		return
	}
	x.abandonCalls(uint32(slot), "the callee's node lost its link to the cluster for a moment: the call's messages may be lost")
}
