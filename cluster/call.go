package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// The path of a call between nodes (see doc.go, "Calls").
//
// On the caller's node, a stand-in (a router.ClusterLink) registers the
// procedures of another node in one realm; the router hands its
// INVOCATIONs and INTERRUPTs to standin.deliver, on the router's
// goroutine, which sends each as one frame to the callee's node (see
// batch.go): an INVOCATION as the CALL to make there
// (same request ID; its Details as the CALL's Options, which carry the
// caller's identity, receive_progress, and progress for the chunks of a
// progressive call invocation), an INTERRUPT as a CANCEL with its mode.
//
// On the callee's node, a relay (a router.ClusterLink too), one per
// stand-in of another node, routes those CALLs and CANCELs as its own,
// with the stand-in's INVOCATION request IDs as its CALL request IDs; the
// router hands its RESULTs and ERRORs to relay.deliver, which sends each
// back as the stand-in's YIELD or ERROR to the caller's node, where the
// stand-in routes it.
//
// So a call costs, besides the router's own work on both nodes, one
// encoding and one decoding of each message (of its options only once
// per distinct options, see optcache.go) and a frame each way, which
// shares its NATS message with the other calls' frames under load; no
// goroutine, timer or map entry of the cluster's own. The router
// keeps the state of the call on both nodes (its pending call and
// invocation tables), and with it the timeout, cancellation (INTERRUPT
// mode kill reaches the callee as kill) and the order of progressive
// results and invocations. A node that is gone is found by the monitor (see
// rpc.go): its stand-ins are abandoned and closed, which ends their
// calls with wamp.error.canceled.
//
// A frame is a kind byte and a header, followed by the WAMP message in
// MessagePack:
//
//	'c' uvarint(caller's slot) uvarint(stand-in index) uvarint(len(realm)) realm  CALL|CANCEL
//	'r' uvarint(stand-in index)  YIELD|ERROR
//
// All frames from one node to another travel in order on one subject, so
// the chunks of a progressive call invocation, progressive results and a
// CANCEL keep their order relative to the call's other messages.
//
// A stand-in's index is unique on its node (they start at random, so
// that those of a node that restarted in the same slot are new too).

// standin is the session of this node that stands for the callees of
// another node in one realm.
type standin struct {
	x      *rpc
	slot   uint32
	realm  protocol.URI
	idx    uint32
	q      *outQueue // of the node of slot
	header []byte    // of the frames to that node
	link   atomic.Pointer[router.ClusterLink]
	// procs are the procedures of the stand-in's exact registrations by
	// registration ID (a pattern registration's INVOCATION tells its
	// procedure): protocol.ID to protocol.URI, read on every call without
	// a lock. (A map copied on write made mirroring n registrations of
	// another node cost O(n²).)
	procs sync.Map
	// regs are the registrations by bucket key; only the watch goroutine
	// touches it.
	regs map[string]protocol.ID

	mu      sync.Mutex
	waiting map[protocol.ID]chan protocol.Message // guarded by mu; REGISTER and UNREGISTER waiting for an answer
	lastReq protocol.ID                           // guarded by mu
	// registering holds the procedure of each exact REGISTER waiting for
	// its REGISTERED, by request ID; guarded by mu. The procedure is
	// recorded in procs when REGISTERED arrives, on the router's
	// goroutine: a CALL that finds the registration comes after it.
	registering map[protocol.ID]protocol.URI
}

// relayKey names a relay: the stand-in it serves.
type relayKey struct {
	slot uint32 // the caller's node
	idx  uint32 // the stand-in's index there
}

// relay is the session of this node that makes the calls of one stand-in
// of another node to this node's callees.
type relay struct {
	x      *rpc
	key    relayKey
	q      *outQueue // of the node of key.slot
	header []byte    // of the frames to that node
	link   atomic.Pointer[router.ClusterLink]
	// last is the highest request ID of the CALLs sent through the
	// relay, or through the relays of its key before it: the stand-in's
	// INVOCATION IDs grow, so a CALL with an ID up to last is a chunk of
	// a call already made (see takeCall). Only the goroutine of the
	// subject "rpc" (takeFrames) touches it.
	last protocol.ID
	// ended is when closeRelay forgot the relay; guarded by x.mu.
	ended time.Time
}

// linkOf returns the stand-in's link (nil while it opens).
func (st *standin) linkOf() *router.ClusterLink { return st.link.Load() }

// deliver handles what the router sends the stand-in (router.ClusterDeliver).
func (st *standin) deliver(m protocol.Message) {
	switch m := m.(type) {
	case *protocol.Invocation:
		st.invoke(m)
	case *protocol.Interrupt:
		// The caller canceled (with the mode it chose), the call timed
		// out, or the caller left: the callee's node cancels its call.
		if err := st.x.sendFrame(st.q, st.header, &protocol.Cancel{Request: m.Request, Options: m.Options}); err != nil {
			st.x.c.failLog.log(st.x.c.log, "cluster: cancel to another node not sent", "slot", st.slot, "error", err)
		}
	case *protocol.Registered:
		st.mu.Lock()
		procedure, exact := st.registering[m.Request]
		delete(st.registering, m.Request)
		st.mu.Unlock()
		if exact {
			st.setProc(m.Registration, procedure)
		}
		st.answered(m.Request, m)
	case *protocol.Unregistered:
		st.answered(m.Request, m)
	case *protocol.Error:
		st.answered(m.Request, m)
	case *protocol.Goodbye:
		// The router shuts down: the session ends.
		go st.x.closeStandin(st, false)
	case *protocol.Abort:
		// The router ended the session (a protocol violation), or its
		// link closed, and with it the registrations and calls it had;
		// the node it stands for is still there.
		go st.x.closeStandin(st, true)
	}
}

// errUnknownRegistration is the error of an INVOCATION of a registration
// the stand-in no longer knows.
var errUnknownRegistration = errors.New("cluster: unknown registration")

// invoke sends the CALL of INVOCATION m to the callee's node.
func (st *standin) invoke(m *protocol.Invocation) {
	procedure := protocol.URI(m.Details.String("procedure"))
	if procedure == "" {
		if p, ok := st.procs.Load(m.Registration); ok {
			procedure = p.(protocol.URI)
		}
	}
	err := errUnknownRegistration
	if procedure != "" {
		err = st.x.out.enqueue(st.q, outFrame{header: st.header, st: st, held: protocol.TypeCall,
			call: protocol.Call{Request: m.Request, Options: m.Details, Procedure: procedure, Args: m.Args, Kwargs: m.Kwargs}})
	}
	if err == nil {
		return
	}
	// The call fails now; the answer is routed after deliver returns.
	st.x.c.failLog.log(st.x.c.log, "cluster: call to another node not sent", "slot", st.slot, "error", err)
	fail := unavailable(m.Request, "call not sent to the callee's node: "+err.Error())
	if l := st.linkOf(); l != nil {
		go func() { _ = l.Send(fail) }()
	}
}

// answered hands the answer m to request req to whoever waits for it.
func (st *standin) answered(req protocol.ID, m protocol.Message) {
	st.mu.Lock()
	ch := st.waiting[req]
	delete(st.waiting, req)
	st.mu.Unlock()
	if ch != nil {
		ch <- m // buffered
	}
}

// request sends the stand-in's request m, made by mk with a new request
// ID, and waits for its answer.
func (st *standin) request(ctx context.Context, mk func(protocol.ID) protocol.Message) (protocol.Message, error) {
	l := st.linkOf()
	if l == nil {
		return nil, router.ErrClosed
	}
	ch := make(chan protocol.Message, 1)
	st.mu.Lock()
	st.lastReq = protocol.NextID(st.lastReq)
	req := st.lastReq
	st.waiting[req] = ch
	st.mu.Unlock()
	defer func() {
		st.mu.Lock()
		delete(st.waiting, req)
		st.mu.Unlock()
	}()
	if err := l.Send(mk(req)); err != nil {
		return nil, err
	}
	select {
	case m := <-ch:
		if e, ok := m.(*protocol.Error); ok {
			return nil, &protocol.Error{URI: e.URI, Args: e.Args, Kwargs: e.Kwargs}
		}
		return m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// register registers procedure with match and the invocation policy
// invoke for the stand-in's node, under the bucket key key.
func (st *standin) register(ctx context.Context, key string, procedure protocol.URI, match protocol.MatchPolicy, invoke string) error {
	opts := protocol.Dict{}
	if match != "" && match != protocol.MatchExact {
		opts["match"] = string(match)
	}
	if invoke != "single" {
		opts["invoke"] = invoke
	}
	exact := match == "" || match == protocol.MatchExact
	var sent protocol.ID
	m, err := st.request(ctx, func(req protocol.ID) protocol.Message {
		if exact {
			st.mu.Lock()
			st.registering[req] = procedure
			st.mu.Unlock()
			sent = req
		}
		return &protocol.Register{Request: req, Options: opts, Procedure: procedure}
	})
	if exact {
		st.mu.Lock()
		delete(st.registering, sent) // if no REGISTERED came
		st.mu.Unlock()
	}
	if err != nil {
		return err
	}
	reg, ok := m.(*protocol.Registered)
	if !ok {
		return fmt.Errorf("cluster: %v in answer to REGISTER", m.Type())
	}
	st.regs[key] = reg.Registration
	return nil
}

// unregister withdraws the registration of the bucket key key.
func (st *standin) unregister(ctx context.Context, key string) error {
	id, ok := st.regs[key]
	if !ok {
		return nil
	}
	delete(st.regs, key)
	_, err := st.request(ctx, func(req protocol.ID) protocol.Message {
		return &protocol.Unregister{Request: req, Registration: id}
	})
	st.setProc(id, "")
	return err
}

// setProc records (or with "", forgets) the procedure of registration id.
// The router's goroutine (REGISTERED) and the watch goroutine call it.
func (st *standin) setProc(id protocol.ID, procedure protocol.URI) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if procedure == "" {
		st.procs.Delete(id)
	} else {
		st.procs.Store(id, procedure)
	}
}

// deliver handles what the router sends the relay (router.ClusterDeliver):
// the answers to its calls go back to the stand-in as its answers to the
// INVOCATIONs.
func (r *relay) deliver(m protocol.Message) {
	var err error
	var req protocol.ID
	switch m := m.(type) {
	case *protocol.Result:
		req = m.Request
		err = r.x.out.enqueue(r.q, outFrame{header: r.header, held: protocol.TypeYield,
			yield: protocol.Yield{Request: m.Request, Options: m.Details, Args: m.Args, Kwargs: m.Kwargs}})
	case *protocol.Error:
		req = m.Request
		err = r.x.sendFrame(r.q, r.header, &protocol.Error{RequestType: protocol.TypeInvocation, Request: m.Request,
			Details: m.Details, URI: m.URI, Args: m.Args, Kwargs: m.Kwargs})
	case *protocol.Goodbye, *protocol.Abort:
		go r.x.closeRelay(r)
		return
	default:
		return
	}
	if err == nil {
		return
	}
	r.x.c.failLog.log(r.x.c.log, "cluster: answer to another node not sent", "slot", r.key.slot, "request", uint64(req), "error", err)
	if res, ok := m.(*protocol.Result); ok && res.Details.Bool("progress") {
		// A progressive result is lost: the call must not go on as if
		// it were not. Cancelling it interrupts the callee, and its
		// final ERROR, which a full queue still takes (see
		// frameCost), tells the caller.
		if l := r.link.Load(); l != nil {
			go func() {
				_ = l.Send(&protocol.Cancel{Request: req, Options: protocol.Dict{"mode": "kill"}})
			}()
		}
	}
}

// sendFrame queues header and m for the node of q; the sender encodes
// them (see batch.go).
func (x *rpc) sendFrame(q *outQueue, header []byte, m protocol.Message) error {
	return x.out.enqueue(q, outFrame{header: header, m: m})
}

// Kinds of frames: their first byte.
const (
	frameCall  = 'c' // to the callee's node: CALL or CANCEL of a stand-in
	frameReply = 'r' // to the caller's node: YIELD or ERROR for a stand-in
)

// takeFrames handles a batch of frames from other nodes (subject "rpc",
// see batch.go), in order, one batch at a time (see rpc.drain), so the
// frames of a stand-in, and those of a relay, are routed in the order
// they were sent.
func (x *rpc) takeFrames(msg *nats.Msg) {
	b := msg.Data
	for len(b) > 0 {
		if len(b) < frameLen {
			x.c.failLog.log(x.c.log, "cluster: malformed frames from another node")
			return
		}
		l := binary.BigEndian.Uint32(b)
		if l == 0 || uint64(l) > uint64(len(b)-frameLen) {
			x.c.failLog.log(x.c.log, "cluster: malformed frames from another node")
			return
		}
		frame := b[frameLen : frameLen+int(l)]
		b = b[frameLen+int(l):]
		switch frame[0] {
		case frameCall:
			x.takeCall(frame[1:])
		case frameReply:
			x.takeReply(frame[1:])
		default:
			x.c.failLog.log(x.c.log, "cluster: malformed frame from another node", "kind", frame[0])
		}
	}
}

// takeCall routes a CALL or CANCEL of another node's stand-in (the frame
// data) through its relay on this node, opening the relay for its first
// call.
func (x *rpc) takeCall(data []byte) {
	from, n1 := binary.Uvarint(data)
	idx, n2 := uvarintAt(data, n1)
	rlen, n3 := uvarintAt(data, n1+n2)
	at := n1 + n2 + n3
	if n1 <= 0 || n2 <= 0 || n3 <= 0 || from >= slots || idx > 1<<32-1 || rlen > uint64(len(data)-at) {
		x.c.failLog.log(x.c.log, "cluster: malformed call frame from another node")
		return
	}
	realm := data[at : at+int(rlen)]
	m, err := x.opts.decode(data[at+int(rlen):])
	if err != nil {
		x.c.failLog.log(x.c.log, "cluster: malformed call from another node", "error", err)
		return
	}
	key := relayKey{slot: uint32(from), idx: uint32(idx)}
	r := (*x.relays.Load())[key]
	call, isCall := m.(*protocol.Call)
	switch {
	case isCall && r == nil:
		if x.late(key, call) {
			return
		}
		if r, err = x.relayOf(key, protocol.URI(realm)); err != nil {
			x.refuseCall(key, call.Request, err)
			return
		}
	case isCall:
	case m.Type() == protocol.TypeCancel:
		if r == nil {
			return // nothing to cancel
		}
	default:
		x.c.failLog.log(x.c.log, "cluster: unexpected message from another node", "type", m.Type().String())
		return
	}
	var prev protocol.ID
	if isCall {
		prev = r.last
		r.last = max(r.last, call.Request)
	}
	err = r.link.Load().Send(m)
	if errors.Is(err, router.ErrClosed) && isCall && x.ctx.Err() == nil {
		// The relay's session ended while this node stays up (its calls
		// got ERROR wamp.error.canceled then, see
		// router.ClusterDeliver): a new relay makes this call and the
		// next ones, unless it is a chunk of one of the ended calls.
		x.closeRelay(r)
		if call.Request <= prev {
			x.dropLate(key, call)
			return
		}
		if r, err = x.relayOf(key, protocol.URI(realm)); err == nil {
			err = r.link.Load().Send(m)
		}
	}
	if err != nil && isCall {
		x.refuseCall(key, call.Request, err)
	}
}

// late reports whether call, for which no relay of key is open, is a
// chunk of a progressive call invocation (or its final chunk) that a
// relay of key made before it ended, and if so drops it: its caller got
// ERROR wamp.error.canceled when the relay ended, and the spec (advanced
// "Progressive Call Invocations", "Continuations on Completed Calls")
// has a dealer discard such a CALL without reply, where a new relay
// would make it a call of its own, whose answer nobody waits for.
func (x *rpc) late(key relayKey, call *protocol.Call) bool {
	x.mu.Lock()
	old := x.ended[key]
	x.mu.Unlock()
	if old == nil || call.Request > old.last {
		return false
	}
	x.dropLate(key, call)
	return true
}

// dropLate counts and drops call, a late chunk (see late).
func (x *rpc) dropLate(key relayKey, call *protocol.Call) {
	x.c.lateChunks.Add(1)
	x.c.log.Debug("cluster: chunk of a call whose relay ended dropped", "slot", key.slot,
		"request", uint64(call.Request), "procedure", string(call.Procedure))
}

// endedGrace is how long the last request ID of a relay that ended is
// kept (rpc.ended), for its calls' late chunks to be known. Chunks in
// flight arrive within moments; a queue full enough to hold them longer
// makes their calls fail anyway.
const endedGrace = time.Minute

// pruneEnded forgets the relays that ended more than endedGrace before
// now.
func (x *rpc) pruneEnded(now time.Time) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for k, r := range x.ended {
		if now.Sub(r.ended) > endedGrace {
			delete(x.ended, k)
		}
	}
}

// refuseCall answers the call req of the stand-in key with ERROR
// ClusterUnavailable: this node cannot make it (err says why).
func (x *rpc) refuseCall(key relayKey, req protocol.ID, err error) {
	x.c.failLog.log(x.c.log, "cluster: call from another node not made", "slot", key.slot, "error", err)
	_ = x.sendFrame(x.out.queueOf(key.slot), binary.AppendUvarint([]byte{frameReply}, uint64(key.idx)),
		unavailable(req, "the callee's node cannot make the call: "+err.Error()))
}

// uvarintAt decodes the uvarint at b[i:]; n <= 0 if there is none.
func uvarintAt(b []byte, i int) (uint64, int) {
	if i <= 0 || i > len(b) {
		return 0, 0
	}
	return binary.Uvarint(b[i:])
}

// takeReply routes a YIELD or ERROR of another node's relay (the frame
// data) through its stand-in on this node.
func (x *rpc) takeReply(data []byte) {
	idx, n := binary.Uvarint(data)
	if n <= 0 {
		x.c.failLog.log(x.c.log, "cluster: malformed answer frame from another node")
		return
	}
	st := (*x.standins.Load())[uint32(idx)]
	if st == nil {
		return // closed meanwhile: its calls ended
	}
	m, err := x.opts.decode(data[n:])
	if err != nil {
		x.c.failLog.log(x.c.log, "cluster: malformed answer from another node", "error", err)
		return
	}
	switch m.(type) {
	case *protocol.Yield, *protocol.Error:
	default:
		x.c.failLog.log(x.c.log, "cluster: unexpected message from another node", "type", m.Type().String())
		return
	}
	if l := st.linkOf(); l != nil {
		_ = l.Send(m) // closed: its calls ended
	}
}

// mirror registers procedure on this node for the node of slot.
func (x *rpc) mirror(slot uint32, realm protocol.URI, key string, procedure protocol.URI, match protocol.MatchPolicy, invoke string) {
	st, err := x.standinOf(slot, realm)
	if err != nil {
		x.c.log.Warn("cluster: no session for another node's callees", "slot", slot, "realm", string(realm), "error", err)
		return
	}
	ctx, cancel := context.WithTimeout(x.ctx, x.c.cfg.ConnectTimeout)
	defer cancel()
	if err := st.register(ctx, key, procedure, match, invoke); err != nil {
		x.c.log.Warn("cluster: procedure of another node not registered here", "slot", slot, "realm", string(realm),
			"procedure", string(procedure), "match", string(match), "error", err)
	}
}

// unmirror withdraws the registration of key made for the node of slot.
func (x *rpc) unmirror(slot uint32, realm protocol.URI, key string) {
	x.mu.Lock()
	st := x.byNode[mirrorKey{slot, realm}]
	x.mu.Unlock()
	if st == nil {
		return
	}
	ctx, cancel := context.WithTimeout(x.ctx, x.c.cfg.ConnectTimeout)
	defer cancel()
	if err := st.unregister(ctx, key); err != nil && x.ctx.Err() == nil && !errors.Is(err, router.ErrClosed) {
		x.c.log.Warn("cluster: unregister another node's procedure", "slot", slot, "error", err)
	}
}

// standinOf returns the stand-in of the node of slot in realm, opening
// it. Only the watch goroutine calls it.
func (x *rpc) standinOf(slot uint32, realm protocol.URI) (*standin, error) {
	x.mu.Lock()
	st := x.byNode[mirrorKey{slot, realm}]
	idx := x.nextIdx
	if st == nil {
		x.nextIdx++
	}
	x.mu.Unlock()
	if st != nil {
		return st, nil
	}
	st = &standin{x: x, slot: slot, realm: realm, idx: idx, q: x.out.queueOf(slot),
		regs: make(map[string]protocol.ID), waiting: make(map[protocol.ID]chan protocol.Message),
		registering: make(map[protocol.ID]protocol.URI)}
	st.header = binary.AppendUvarint(append([]byte{frameCall}, x.header...), uint64(idx))
	st.header = binary.AppendUvarint(st.header, uint64(len(realm)))
	st.header = append(st.header, realm...)
	ctx, cancel := context.WithTimeout(x.ctx, x.c.cfg.ConnectTimeout)
	defer cancel()
	l, err := x.node.Link(ctx, realm, "node-"+strconv.FormatUint(uint64(slot), 10), st.deliver)
	if err != nil {
		return nil, err
	}
	st.link.Store(l)
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		l.Close()
		return nil, router.ErrClosed
	}
	x.byNode[mirrorKey{slot, realm}] = st
	sts := copyMap(*x.standins.Load())
	sts[idx] = st
	x.standins.Store(&sts)
	return st, nil
}

// relayOf opens the relay of key in realm. Only takeFrames calls it.
func (x *rpc) relayOf(key relayKey, realm protocol.URI) (*relay, error) {
	if !x.servesRealm(realm) {
		return nil, fmt.Errorf("no realm %s", realm)
	}
	r := &relay{x: x, key: key, q: x.out.queueOf(key.slot),
		header: binary.AppendUvarint([]byte{frameReply}, uint64(key.idx))}
	ctx, cancel := context.WithTimeout(x.ctx, x.c.cfg.ConnectTimeout)
	defer cancel()
	l, err := x.node.Link(ctx, realm, "relay-"+strconv.FormatUint(uint64(key.slot), 10), r.deliver)
	if err != nil {
		return nil, err
	}
	r.link.Store(l)
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		l.Close()
		return nil, router.ErrClosed
	}
	if old := x.ended[key]; old != nil {
		// The calls of the relays of key before it stay known (see
		// late).
		r.last = old.last
		delete(x.ended, key)
	}
	rls := copyMap(*x.relays.Load())
	rls[key] = r
	x.relays.Store(&rls)
	return r, nil
}

// servesRealm reports whether the router has realm.
func (x *rpc) servesRealm(realm protocol.URI) bool {
	for _, r := range x.node.Realms() {
		if r == realm {
			return true
		}
	}
	return false
}

// dropLinks forgets the stand-ins and relays of the node of slot and
// returns them.
func (x *rpc) dropLinks(slot uint32) ([]*standin, []*relay) {
	x.mu.Lock()
	defer x.mu.Unlock()
	var sts []*standin
	var rls []*relay
	stm := copyMap(*x.standins.Load())
	for idx, st := range stm {
		if st.slot == slot {
			sts = append(sts, st)
			delete(stm, idx)
			delete(x.byNode, mirrorKey{st.slot, st.realm})
		}
	}
	rlm := copyMap(*x.relays.Load())
	for k, r := range rlm {
		if k.slot == slot {
			rls = append(rls, r)
			delete(rlm, k)
		}
	}
	for k := range x.ended {
		if k.slot == slot {
			delete(x.ended, k)
		}
	}
	x.standins.Store(&stm)
	x.relays.Store(&rlm)
	return sts, rls
}

// closeStandin forgets st and closes it (its session ended). With again,
// the procedures st registered are registered anew, by a new stand-in:
// the watch forgets that it mirrors them and reads the bucket again. It
// does nothing if st was forgotten already: whoever forgot it (gone,
// close, an earlier closeStandin) closes it, and the router's GOODBYE or
// ABORT for a link the cluster closed itself comes here too.
func (x *rpc) closeStandin(st *standin, again bool) {
	x.mu.Lock()
	if (*x.standins.Load())[st.idx] != st {
		x.mu.Unlock()
		return
	}
	if x.byNode[mirrorKey{st.slot, st.realm}] == st {
		delete(x.byNode, mirrorKey{st.slot, st.realm})
	}
	stm := copyMap(*x.standins.Load())
	delete(stm, st.idx)
	x.standins.Store(&stm)
	if again && !x.closed {
		for key, hs := range x.held {
			if _, ok := hs[st.slot]; !ok {
				continue
			}
			if realm, _, _, ok := parseRegKey(key); ok && realm == st.realm {
				// A new map: apply reads the old one without mu.
				rest := make(map[uint32]string, len(hs))
				for slot, invoke := range hs {
					if slot != st.slot {
						rest[slot] = invoke
					}
				}
				if len(rest) == 0 {
					delete(x.held, key)
				} else {
					x.held[key] = rest
				}
			}
		}
	}
	x.mu.Unlock()
	if l := st.linkOf(); l != nil {
		l.Close()
	}
	if again {
		x.c.log.Warn("cluster: session for another node's callees ended; their procedures are registered again",
			"slot", st.slot, "realm", string(st.realm))
		select {
		case x.rewatch <- struct{}{}:
		default:
		}
	}
}

// closeRelay forgets r and closes it (its session ended). It keeps r
// among the relays that ended for a while, so that the late chunks of
// its calls are known (see late).
func (x *rpc) closeRelay(r *relay) {
	x.mu.Lock()
	rlm := copyMap(*x.relays.Load())
	if rlm[r.key] == r {
		delete(rlm, r.key)
		if !x.closed {
			r.ended = time.Now()
			x.ended[r.key] = r
		}
	}
	x.relays.Store(&rlm)
	x.mu.Unlock()
	if l := r.link.Load(); l != nil {
		l.Close()
	}
}

func copyMap[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}
