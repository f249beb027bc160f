package cluster

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wampkit/wampkit/client"
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
// holds procedures, it keeps a mirror, a session of its router (see
// router.ClusterNode.Connect) that registers them there, so that a CALL
// on this node resolves them like local ones. A mirror's handler sends
// the call to the holding node ("<prefix>.node.<slot>.call"), whose relay
// session calls its own callees; the answers come back on
// "<prefix>.node.<slot>.reply" of the caller's node, cancellations go on
// "<prefix>.node.<slot>.cancel". A node answers on
// "<prefix>.node.<slot>.ping" while it is connected: the monitor pings
// the nodes that hold procedures or answer calls, and when NATS answers
// that nobody listens there any more, the node is gone: its calls fail
// and its holdings are removed from the bucket.

const (
	// pingEvery is the period of the monitor's liveness checks, and
	// pingTimeout bounds one check.
	pingEvery   = 400 * time.Millisecond
	pingTimeout = time.Second
	// cancelGrace bounds how long a mirror waits for the callee's node to
	// answer a cancelled call before it gives up.
	cancelGrace = 5 * time.Second
	// kvTimeout bounds each change of the bucket.
	kvTimeout = 2 * time.Second
)

// Keys of the CALL options between nodes, besides the caller's identity
// (router's keyClusterCaller and keyClusterTrust).
const (
	optRealm    = "wampkit_realm"
	optNode     = "wampkit_node"
	optProgress = "receive_progress"
	keyCaller   = "wampkit_caller"
	keyTrust    = "wampkit_trustlevel"
)

// regValue is the value of a procedure's key.
type regValue struct {
	Invoke  string   `json:"invoke"`
	Holders []uint32 `json:"holders"`
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
	js, err := jetstream.New(c.nc)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	cfg := jetstream.KeyValueConfig{
		Bucket:      c.cfg.Prefix + "_regs",
		Description: "wampkit cluster: registered procedures and the nodes that hold them",
		// On disk, so that the registrations outlive a restart of the
		// NATS servers.
		Storage:  jetstream.FileStorage,
		Replicas: c.cfg.Replicas,
		History:  1,
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, cfg)
	if errors.Is(err, jetstream.ErrBucketExists) {
		kv, err = js.KeyValue(ctx, cfg.Bucket)
	}
	if err != nil {
		return fmt.Errorf("cluster: open bucket %s: %w", cfg.Bucket, err)
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
			return err
		}
		if err != nil {
			return err
		}
		v := decodeReg(e.Value())
		others := c.liveHolders(v.Holders, me)
		if len(others) > 0 && (v.Invoke == "single" || reg.Invoke == "single" || v.Invoke != reg.Invoke) {
			return fmt.Errorf("%w (node slot %d, policy %s)", router.ErrRegisteredElsewhere, others[0], v.Invoke)
		}
		_, err = c.regsKV().Update(ctx, key, encodeReg(regValue{Invoke: reg.Invoke, Holders: append(others, me)}), e.Revision())
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue
		}
		return err
	}
	return errors.New("cluster: registration contended, try again")
}

// Unregister implements [router.Cluster].
func (c *Cluster) Unregister(reg router.ClusterRegistration) {
	if err := c.dropHolder(regKeyOf(reg.Realm, reg.Procedure, reg.Match), c.slot.Load()); err != nil {
		c.log.Warn("cluster: unregister", "realm", string(reg.Realm), "procedure", string(reg.Procedure), "error", err)
	}
}

// dropHolder removes slot from the holders of key, and the key when none
// is left.
func (c *Cluster) dropHolder(key string, slot uint32) error {
	ctx, cancel := context.WithTimeout(context.Background(), kvTimeout)
	defer cancel()
	for range 16 {
		e, err := c.regsKV().Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		v := decodeReg(e.Value())
		if !slices.Contains(v.Holders, slot) {
			return nil
		}
		v.Holders = slices.DeleteFunc(v.Holders, func(s uint32) bool { return s == slot })
		if len(v.Holders) == 0 {
			err = c.regsKV().Delete(ctx, key, jetstream.LastRevision(e.Revision()))
		} else {
			_, err = c.regsKV().Update(ctx, key, encodeReg(v), e.Revision())
		}
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
			continue
		}
		return err
	}
	return errors.New("cluster: registration contended")
}

// liveHolders returns the holders other than me that answer a ping.
func (c *Cluster) liveHolders(holders []uint32, me uint32) []uint32 {
	var out []uint32
	for _, h := range holders {
		if h != me && c.alive(h) {
			out = append(out, h)
		}
	}
	return out
}

// alive reports whether the node of slot is connected: NATS tells at once
// when nobody listens on its ping subject. A node that does not answer in
// time counts as alive (busy is not gone).
func (c *Cluster) alive(slot uint32) bool {
	_, err := c.nc.Request(c.nodeSubject(slot, "ping"), nil, pingTimeout)
	return !errors.Is(err, nats.ErrNoResponders)
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

	mu      sync.Mutex
	mirrors map[mirrorKey]*mirror        // guarded by mu
	relays  map[protocol.URI]*relay      // guarded by mu; by realm
	calls   map[uint64]*pendingCall      // guarded by mu; forwarded calls by key
	serving map[servingKey]func()        // guarded by mu; calls served for other nodes, their cancel
	held    map[string]map[uint32]string // guarded by mu; by key: holder slot -> policy (others only)
	nextKey uint64                       // guarded by mu
}

type mirrorKey struct {
	slot  uint32
	realm protocol.URI
}

type servingKey struct {
	slot uint32
	key  uint64
}

// mirror is the session of this node that stands for the callees of
// another node in one realm.
type mirror struct {
	slot uint32
	cl   *client.Client
	regs map[string]*client.Registration // by bucket key
}

// relay is the session of this node that makes the calls of other nodes
// to this node's callees, in one realm.
type relay struct {
	cl *client.Client
}

// pendingCall is a call forwarded to another node, waiting for its
// answers.
type pendingCall struct {
	slot    uint32
	answers chan protocol.Message // RESULT (progress or final) or ERROR
	gone    chan struct{}         // closed when the node is found gone
}

// startRPC starts serving calls across nodes for node (Attach).
func (c *Cluster) startRPC(node *router.ClusterNode) error {
	ctx, stop := context.WithCancel(context.Background())
	x := &rpc{c: c, node: node, ctx: ctx, stop: stop, rewatch: make(chan struct{}, 1),
		mirrors: make(map[mirrorKey]*mirror), relays: make(map[protocol.URI]*relay),
		calls: make(map[uint64]*pendingCall), serving: make(map[servingKey]func()),
		held: make(map[string]map[uint32]string)}
	me := c.slot.Load()
	for kind, h := range map[string]nats.MsgHandler{
		"ping":   func(m *nats.Msg) { _ = m.Respond(nil) },
		"call":   x.serveCall,
		"cancel": x.serveCancel,
		"reply":  x.takeReply,
	} {
		sub, err := c.nc.Subscribe(c.nodeSubject(me, kind), h)
		if err != nil {
			x.close()
			return fmt.Errorf("cluster: %w", err)
		}
		x.subs = append(x.subs, sub)
	}
	if err := c.nc.FlushTimeout(c.cfg.ConnectTimeout); err != nil {
		c.log.Warn("cluster: call subjects not confirmed by NATS", "error", err)
	}
	x.wg.Add(2)
	go x.watch()
	go x.monitor()
	c.rpc = x // c.mu is held (Attach)
	return nil
}

// close stops x and waits for its goroutines; the router's sessions (and
// so the mirrors' and relays') have ended before.
func (x *rpc) close() {
	x.stop()
	for _, s := range x.subs {
		_ = s.Unsubscribe()
	}
	x.wg.Wait()
	x.mu.Lock()
	ms, rs := x.mirrors, x.relays
	x.mirrors, x.relays = map[mirrorKey]*mirror{}, map[protocol.URI]*relay{}
	x.mu.Unlock()
	for _, m := range ms {
		m.cl.Close()
	}
	for _, r := range rs {
		r.cl.Close()
	}
}

// join opens a session of the cluster's own in realm.
func (x *rpc) join(realm protocol.URI, name string) (*client.Client, error) {
	ctx, cancel := context.WithTimeout(x.ctx, x.c.cfg.ConnectTimeout)
	defer cancel()
	peer, err := x.node.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return client.Join(ctx, peer, client.Config{Realm: realm, AuthID: name, Auth: []client.Authenticator{clusterAuth{}},
		Logger: x.c.log})
}

// clusterAuth announces router.ClusterAuthMethod; the router asks no
// challenge of it.
type clusterAuth struct{}

func (clusterAuth) Method() string { return router.ClusterAuthMethod }

func (clusterAuth) Authenticate(context.Context, *protocol.Challenge) (*protocol.Authenticate, error) {
	return nil, errors.New("cluster: the router challenged a cluster session")
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
}

// mirror registers procedure on this node for the node of slot.
func (x *rpc) mirror(slot uint32, realm protocol.URI, key string, procedure protocol.URI, match protocol.MatchPolicy, invoke string) {
	m, err := x.mirrorOf(slot, realm)
	if err != nil {
		x.c.log.Warn("cluster: no session for another node's callees", "slot", slot, "realm", string(realm), "error", err)
		return
	}
	ctx, cancel := context.WithTimeout(x.ctx, x.c.cfg.ConnectTimeout)
	defer cancel()
	opts := &client.RegisterOptions{Match: match}
	if invoke != "single" {
		opts.Invoke = invoke
	}
	reg, err := m.cl.Register(ctx, procedure, x.forwarder(slot, realm), opts)
	if err != nil {
		x.c.log.Warn("cluster: procedure of another node not registered here", "slot", slot, "realm", string(realm),
			"procedure", string(procedure), "match", string(match), "error", err)
		return
	}
	x.mu.Lock()
	m.regs[key] = reg
	x.mu.Unlock()
}

// unmirror withdraws the registration of key made for the node of slot.
func (x *rpc) unmirror(slot uint32, realm protocol.URI, key string) {
	x.mu.Lock()
	m := x.mirrors[mirrorKey{slot, realm}]
	var reg *client.Registration
	if m != nil {
		reg = m.regs[key]
		delete(m.regs, key)
	}
	x.mu.Unlock()
	if reg == nil {
		return
	}
	ctx, cancel := context.WithTimeout(x.ctx, x.c.cfg.ConnectTimeout)
	defer cancel()
	if err := m.cl.Unregister(ctx, reg); err != nil && x.ctx.Err() == nil {
		x.c.log.Warn("cluster: unregister another node's procedure", "slot", slot, "error", err)
	}
}

// mirrorOf returns the mirror session of slot in realm, opening it.
func (x *rpc) mirrorOf(slot uint32, realm protocol.URI) (*mirror, error) {
	x.mu.Lock()
	m := x.mirrors[mirrorKey{slot, realm}]
	x.mu.Unlock()
	if m != nil {
		return m, nil
	}
	cl, err := x.join(realm, "node-"+strconv.FormatUint(uint64(slot), 10))
	if err != nil {
		return nil, err
	}
	m = &mirror{slot: slot, cl: cl, regs: make(map[string]*client.Registration)}
	x.mu.Lock()
	x.mirrors[mirrorKey{slot, realm}] = m
	x.mu.Unlock()
	return m, nil
}

// relayOf returns the relay session of realm, opening it.
func (x *rpc) relayOf(realm protocol.URI) (*relay, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if r := x.relays[realm]; r != nil {
		return r, nil
	}
	cl, err := x.join(realm, "relay")
	if err != nil {
		return nil, err
	}
	r := &relay{cl: cl}
	x.relays[realm] = r
	return r, nil
}

// errNodeGone is the error of calls whose callee's node left the cluster.
func errNodeGone() error {
	return &protocol.Error{URI: protocol.ErrCanceled, Args: protocol.List{"the callee's node left the cluster"}}
}

// forwarder returns the handler of the mirror of slot: it sends each
// call to that node and relays its answers.
func (x *rpc) forwarder(slot uint32, realm protocol.URI) client.InvocationHandler {
	return func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		if inv.Details.Bool("progress") {
			return nil, &protocol.Error{URI: protocol.ErrFeatureNotSupported,
				Args: protocol.List{"progressive call invocations do not cross nodes"}}
		}
		pc := &pendingCall{slot: slot, answers: make(chan protocol.Message, 64), gone: make(chan struct{})}
		x.mu.Lock()
		x.nextKey++
		key := x.nextKey
		x.calls[key] = pc
		x.mu.Unlock()
		defer func() {
			x.mu.Lock()
			delete(x.calls, key)
			x.mu.Unlock()
		}()
		opts := protocol.Dict{optRealm: string(realm), optNode: uint64(x.c.slot.Load())}
		if v, ok := inv.Details[keyCaller]; ok {
			opts[keyCaller] = v
		}
		if v, ok := inv.Details[keyTrust]; ok {
			opts[keyTrust] = v
		}
		if inv.ReceiveProgress() {
			opts[optProgress] = true
		}
		call := &protocol.Call{Request: protocol.ID(key), Options: opts, Procedure: inv.Procedure, Args: inv.Args, Kwargs: inv.Kwargs}
		if err := x.send(slot, "call", call); err != nil {
			return nil, &protocol.Error{URI: router.ClusterUnavailable, Args: protocol.List{err.Error()}}
		}
		done := ctx.Done()
		var grace <-chan time.Time
		for {
			select {
			case m := <-pc.answers:
				switch m := m.(type) {
				case *protocol.Result:
					if m.Details.Bool("progress") {
						if inv.ReceiveProgress() {
							_ = inv.SendProgress(ctx, m.Args, m.Kwargs)
						}
						continue
					}
					return &client.Result{Args: m.Args, Kwargs: m.Kwargs}, nil
				case *protocol.Error:
					return nil, &protocol.Error{URI: m.URI, Args: m.Args, Kwargs: m.Kwargs}
				}
			case <-done:
				// INTERRUPT (cancel or timeout): pass it on, then wait a
				// while for the callee's node to answer.
				done = nil
				_ = x.send(slot, "cancel", &protocol.Cancel{Request: protocol.ID(key),
					Options: protocol.Dict{optNode: uint64(x.c.slot.Load())}})
				t := time.NewTimer(cancelGrace)
				defer t.Stop()
				grace = t.C
			case <-grace:
				return nil, ctx.Err()
			case <-pc.gone:
				return nil, errNodeGone()
			case <-x.ctx.Done():
				return nil, errNodeGone()
			}
		}
	}
}

// send encodes m and publishes it to the node of slot.
func (x *rpc) send(slot uint32, kind string, m protocol.Message) error {
	bp := bufs.Get().(*[]byte)
	defer bufs.Put(bp)
	b, err := codec.Encode((*bp)[:0], m)
	if err != nil {
		return err
	}
	*bp = b
	return x.c.nc.Publish(x.c.nodeSubject(slot, kind), b)
}

// takeReply hands an answer from another node to its forwarded call.
func (x *rpc) takeReply(msg *nats.Msg) {
	m, err := codec.Decode(msg.Data)
	if err != nil {
		x.c.log.Warn("cluster: malformed answer from another node", "error", err)
		return
	}
	var key uint64
	switch m := m.(type) {
	case *protocol.Result:
		key = uint64(m.Request)
	case *protocol.Error:
		key = uint64(m.Request)
	default:
		return
	}
	x.mu.Lock()
	pc := x.calls[key]
	x.mu.Unlock()
	if pc == nil {
		return // the call ended meanwhile
	}
	select {
	case pc.answers <- m:
	default:
		// The caller reads progressive results slower than they come:
		// they are not dropped silently.
		x.c.failLog.log(x.c.log, "cluster: progressive result from another node dropped", "call", key)
	}
}

// serveCall makes a call of another node to this node's callees.
func (x *rpc) serveCall(msg *nats.Msg) {
	m, err := codec.Decode(msg.Data)
	call, ok := m.(*protocol.Call)
	if err != nil || !ok {
		x.c.log.Warn("cluster: malformed call from another node", "error", err)
		return
	}
	from64, _ := call.Options.Int(optNode)
	from := uint32(from64)
	realm := protocol.URI(call.Options.String(optRealm))
	key := servingKey{from, uint64(call.Request)}
	ctx, cancel := context.WithCancel(x.ctx)
	x.mu.Lock()
	x.serving[key] = cancel
	x.mu.Unlock()
	x.wg.Add(1)
	go func() {
		defer x.wg.Done()
		defer func() {
			x.mu.Lock()
			delete(x.serving, key)
			x.mu.Unlock()
			cancel()
		}()
		answer := x.call(ctx, realm, from, call)
		if err := x.send(from, "reply", answer); err != nil {
			x.c.log.Warn("cluster: answer to another node not sent", "slot", from, "error", err)
		}
	}()
}

// call makes call on this node and returns its final answer for the
// caller's node; progressive results go there as they come.
func (x *rpc) call(ctx context.Context, realm protocol.URI, from uint32, call *protocol.Call) protocol.Message {
	fail := func(uri protocol.URI, args protocol.List, kwargs protocol.Dict) protocol.Message {
		return &protocol.Error{RequestType: protocol.TypeCall, Request: call.Request, Details: protocol.Dict{}, URI: uri, Args: args, Kwargs: kwargs}
	}
	r, err := x.relayOf(realm)
	if err != nil {
		return fail(router.ClusterUnavailable, protocol.List{err.Error()}, nil)
	}
	req := &client.CallRequest{Procedure: call.Procedure, Args: call.Args, Kwargs: call.Kwargs,
		Options: protocol.Dict{keyCaller: call.Options[keyCaller]}}
	if v, ok := call.Options[keyTrust]; ok {
		req.Options[keyTrust] = v
	}
	if call.Options.Bool(optProgress) {
		req.OnProgress = func(res *client.Result) error {
			return x.send(from, "reply", &protocol.Result{Request: call.Request, Details: protocol.Dict{"progress": true},
				Args: res.Args, Kwargs: res.Kwargs})
		}
	}
	res, err := r.cl.Do(ctx, req)
	var werr *protocol.Error
	switch {
	case err == nil:
		return &protocol.Result{Request: call.Request, Details: protocol.Dict{}, Args: res.Args, Kwargs: res.Kwargs}
	case errors.As(err, &werr):
		return fail(werr.URI, werr.Args, werr.Kwargs)
	case ctx.Err() != nil:
		return fail(protocol.ErrCanceled, nil, nil)
	}
	return fail(router.ClusterUnavailable, protocol.List{err.Error()}, nil)
}

// serveCancel cancels a call that another node forwarded here.
func (x *rpc) serveCancel(msg *nats.Msg) {
	m, err := codec.Decode(msg.Data)
	c, ok := m.(*protocol.Cancel)
	if err != nil || !ok {
		return
	}
	from, _ := c.Options.Int(optNode)
	x.mu.Lock()
	cancel := x.serving[servingKey{uint32(from), uint64(c.Request)}]
	x.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// monitor pings the nodes that hold procedures or have calls of this
// node, and clears up after those that are gone, until x stops.
func (x *rpc) monitor() {
	defer x.wg.Done()
	t := time.NewTicker(pingEvery)
	defer t.Stop()
	for {
		select {
		case <-x.ctx.Done():
			return
		case <-t.C:
		}
		if !x.c.nc.IsConnected() {
			// This node is the one cut off: fail what waits on others.
			x.failCalls(func(uint32) bool { return true })
			continue
		}
		for _, slot := range x.watched() {
			if x.ctx.Err() != nil {
				return
			}
			if !x.c.alive(slot) {
				x.gone(slot)
			}
		}
	}
}

// watched returns the slots of the other nodes that hold procedures or
// have calls of this node.
func (x *rpc) watched() []uint32 {
	x.mu.Lock()
	defer x.mu.Unlock()
	set := map[uint32]bool{}
	for _, hs := range x.held {
		for h := range hs {
			set[h] = true
		}
	}
	for _, pc := range x.calls {
		set[pc.slot] = true
	}
	out := make([]uint32, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	return out
}

// gone fails the calls waiting on the node of slot and removes its
// holdings from the bucket (the watch then withdraws its mirrors here
// and on every node).
func (x *rpc) gone(slot uint32) {
	x.c.log.Warn("cluster: node gone: its calls fail and its registrations are withdrawn", "slot", slot)
	x.failCalls(func(s uint32) bool { return s == slot })
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

// failCalls ends the forwarded calls to the nodes for which which is
// true.
func (x *rpc) failCalls(which func(uint32) bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for key, pc := range x.calls {
		if which(pc.slot) {
			close(pc.gone)
			delete(x.calls, key)
		}
	}
}

// reconnected tells x that the node reconnected to NATS.
func (x *rpc) reconnected() {
	select {
	case x.rewatch <- struct{}{}:
	default:
	}
}
