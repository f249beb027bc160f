package router

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wampkit/wampkit/internal/recent"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/transport"
)

// Session states as the router tracks them in session.state (spec basic
// "Session Lifecycle"): establishing (waiting for HELLO, or
// authenticating), established (WELCOME sent), shutting down (the router
// said GOODBYE and waits for the echo), closing (the client said GOODBYE
// and the router echoed it), closed.
const (
	stateEstablishing = uint32(protocol.StateEstablishing)
	stateEstablished  = uint32(protocol.StateEstablished)
	stateShuttingDown = uint32(protocol.StateShuttingDown)
	stateClosing      = uint32(protocol.StateClosing)
	stateClosed       = uint32(protocol.StateClosed)
)

// session is one client session. Its goroutine (the one running run) reads
// every inbound message and routes it itself (for an established
// in-process session, whoever holds its inbox does, one message at a time,
// see localInbox); other sessions' goroutines send to it through out and
// touch only the fields guarded by mu. The fields are grouped by who may
// touch them.
type session struct {
	r     *Router
	peer  transport.Peer
	state atomic.Uint32
	// failed is set once the router decided to drop the session (queue
	// full); it makes the drop happen and be logged only once.
	failed atomic.Bool
	// quiet suppresses the wamp.session.on_leave event and the
	// testaments (wamp.session.kill_all).
	quiet atomic.Bool

	// Fixed by the handshake and read-only once the session is
	// established; any goroutine may read them then.
	id           protocol.ID
	realm        *realm
	authID       string
	authRole     string
	authMethod   string
	authProvider string
	transport    protocol.Dict // transport.Detailer's details, or nil
	feat         features      // what the client announced in HELLO
	joined       time.Time     // when it joined its realm; set before it is in the realm, then read-only
	// trust is {"trustlevel": n} for a session whose publications and
	// calls have a trust level (RealmConfig.TrustLevels), shared
	// read-only; nil otherwise.
	trust protocol.Dict

	// out is everything sent to the client (see outbox.go); any
	// goroutine sends.
	out outbox

	// st counts the messages of the session for the router's metrics,
	// or is nil without them; only the goroutine routing the session's
	// messages writes it (see metrics.go).
	st *sessionStats

	// in is owned by the goroutine that routes the session's messages.
	in inbound

	// adding is the subscription the session is being added to right now
	// (see broker.subscribe); set and cleared under mu.
	adding atomic.Pointer[subscription]

	// mu guards rpc and byeTimer. Lock order: see Router.mu; never two
	// session.mu at once.
	mu       sync.Mutex
	rpc      rpcState
	byeTimer *time.Timer  // GOODBYE echo timeout, if the router said GOODBYE
	bye      protocol.URI // the reason of the router's GOODBYE, if it said one
}

// features are the client features the router acts on (from
// HELLO.Details.roles).
type features struct {
	calleeCancel   bool // callee announced call_canceling
	calleeProgress bool // callee announced progressive_call_results (and call_canceling)
	calleeStreams  bool // callee announced progressive_call_invocations (and call_canceling)
	callerStreams  bool // caller announced progressive_call_invocations
	// payload_passthru_mode announced by the caller, callee and publisher
	// roles (see ppt.go).
	pptCaller, pptCallee, pptPublisher bool
	// registration_revocation and subscription_revocation announced by
	// the callee and subscriber roles: they are told of revocations.
	calleeRevocation, subscriberRevocation bool
}

// inbound is the state of a session that only the goroutine routing its
// messages touches.
type inbound struct {
	echoBye bool // the client said GOODBYE: run echoes it after leaving
	// closeReason is why the client ended the session (its GOODBYE or
	// ABORT reason), for the log.
	closeReason string
	subs        map[protocol.ID]*subscription // its subscriptions by ID
	regs        map[protocol.ID]*registrant   // its registrations by ID
	// lastReq is the last request ID of the client, for
	// Config.StrictRequestIDs.
	lastReq protocol.ID
	// streams is set once the session sent a progressive CALL; from then
	// on its CALLs are checked for continuations (see stream.go).
	streams bool
	// scratch holds the pattern subscriptions matching a publication
	// while it is routed (see broker.publishPatterns).
	scratch []*subscription
	// testaments are the PUBLISHes to make when the session is gone, by
	// scope: [0] detached, [1] destroyed (see testament.go).
	testaments [2][]*protocol.Publish
	// testamentsStored says that the cluster holds testaments of the
	// session (see cluster_meta.go).
	testamentsStored bool
	// msgs counts the messages received from the client, for the log
	// line of the session's end.
	msgs uint64
	// authzReq is reused by every authorization of the session, so that
	// asking the realm's Authorizer does not allocate (see authorize).
	authzReq AuthzRequest
	// clusterCaller is the INVOCATION.Details of the session's calls to
	// callees on other nodes, made on first use (see withClusterCaller).
	clusterCaller protocol.Dict
}

// rpcState is the dealer's state of a session, guarded by session.mu:
// the calls it made and the invocations it was sent.
type rpcState struct {
	gone        bool                        // left the realm; takes no new invocations or calls
	calls       map[protocol.ID]*invocation // as caller: pending calls by CALL.Request
	invocations map[protocol.ID]*invocation // as callee: pending invocations by INVOCATION.Request
	lastInv     protocol.ID                 // last INVOCATION.Request sent to this session
	// ended holds the request IDs of the caller's last progressive calls
	// that ended (see stream.go).
	ended recent.IDs
}

func newSession(r *Router, p transport.Peer) *session {
	s := &session{r: r, peer: p, st: r.metrics.stats()}
	s.state.Store(stateEstablishing)
	return s
}

// bg is the context of Peer.Send calls: Send never blocks, so there is
// nothing to bound.
var bg = context.Background()

// send queues m for the client, in order, without waiting (see outbox);
// it reports whether m was queued. When the session's backlog is full the
// session is dropped (logged once): whatever it is sent (replies, results,
// errors, GOODBYE) is never dropped silently.
func (s *session) send(m protocol.Message) bool {
	err := s.put(m, s.r.cfg.MaxBacklog)
	if err == errBacklogFull {
		s.drop("outbound backlog full", errSlowConsumer)
	}
	return err == nil
}

// sendOwn is send on the goroutine that routes s's own messages: the
// message is counted in s's stats (see metrics.go).
func (s *session) sendOwn(m protocol.Message) bool {
	if s.st != nil {
		s.st.out[kind(m.Type())].bump(1)
	}
	return s.send(m)
}

// sendEvent queues an EVENT for the client. When the backlog is full a
// session of a SlowConsumerDropEvents realm loses the event (counted, and
// logged at most once per DropLogInterval); others are dropped as by send.
// In a DropEvents realm, events may fill only three quarters of the
// backlog, so that replies and results still find room.
//
// size is the event's estimated size, as for putSized.
func (s *session) sendEvent(m protocol.Message, size *int) {
	if !s.realm.dropEvents {
		if s.putSized(m, s.r.cfg.MaxBacklog, size) == errBacklogFull {
			s.drop("outbound backlog full", errSlowConsumer)
		}
		return
	}
	limit := s.r.cfg.MaxBacklog
	if s.putSized(m, limit-limit/4, size) != errBacklogFull {
		return
	}
	n := s.out.dropped.Add(1)
	s.r.metrics.eventDropped()
	now := time.Now().UnixNano()
	last := s.out.dropLog.Load()
	if (last == 0 || now-last >= int64(DropLogInterval)) && s.out.dropLog.CompareAndSwap(last, now) {
		s.r.log.Warn("router: dropping events for a slow consumer", "session", uint64(s.id),
			"realm", s.realmName(), "dropped", n)
	}
}

// drop closes the session's transport from any goroutine, without
// waiting: a network peer's Close waits for its writer, which is what a
// slow consumer is slow at, so the close runs on a goroutine of its own
// (counted in Router.closers). The session's goroutine then sees Recv fail
// and cleans up.
func (s *session) drop(why string, reason error) {
	if !s.failed.CompareAndSwap(false, true) {
		return
	}
	s.r.log.Warn("router: disconnecting session", "session", uint64(s.id), "realm", s.realmName(), "reason", why)
	if reason == errSlowConsumer {
		s.r.metrics.slowConsumer()
	}
	s.r.closers.Add(1)
	go func() {
		defer s.r.closers.Done()
		s.peer.Close(reason)
	}()
}

func (s *session) realmName() string {
	if s.realm == nil {
		return ""
	}
	return string(s.realm.name)
}

// run serves the session until it ends and then closes the transport.
func (s *session) run() {
	if !s.handshakeAside() {
		s.state.Store(stateClosed)
		s.r.metrics.fold(s)
		return
	}
	var reason error
	if in := localInboxOf(s); in != nil && s.realm.authzInstant() {
		// Routed on the senders' goroutines; not with an Authorizer that
		// may wait, which would block the in-process client's Send.
		reason = in.serve(s)
	} else {
		reason = s.loop()
	}
	s.mu.Lock()
	s.state.Store(stateClosed)
	if s.byeTimer != nil {
		s.byeTimer.Stop()
	}
	bye := s.bye
	s.mu.Unlock()
	// Drop subscriptions and registrations before closing, so nothing is
	// routed to a closed transport for longer than needed (spec basic "Protocol Errors").
	s.realm.leave(s)
	s.r.metrics.left(s)
	why := s.in.closeReason
	switch {
	case bye != "":
		why = "router goodbye " + string(bye)
	case why == "" && reason != nil:
		why = reason.Error()
	}
	attrs := []any{"session", uint64(s.id), "realm", s.realmName(), "authid", s.authID,
		"reason", why, "duration", time.Since(s.joined).Round(time.Millisecond),
		"messages_in", s.in.msgs}
	if !s.quiet.Load() {
		if !s.isCluster() {
			s.realm.broker.publishMeta(metaOnLeave, protocol.List{uint64(s.id), s.authID, s.authRole})
		}
		// After on_leave: the session is gone when its testaments arrive.
		if s.realm.takeTestaments(s) {
			s.realm.publishTestaments(s)
		}
	} else {
		s.realm.takeTestaments(s)
	}
	s.realm.clusterLeft(s)
	s.r.releaseID(s.id)
	if s.in.echoBye {
		s.sendOwn(&protocol.Goodbye{Reason: protocol.CloseGoodbyeAndOut})
	}
	// The transport counts what it was handed, under a lock it takes
	// anyway, so that counting costs no atomic per delivery; the
	// session's last GOODBYE is in.
	if c, ok := s.peer.(transport.SendCounter); ok {
		attrs = append(attrs, "messages_out", c.MessagesSent())
	}
	if n := s.out.dropped.Load(); n > 0 {
		attrs = append(attrs, "dropped_events", n)
	}
	s.r.log.Info("router: session left", attrs...)
	s.flush(min(s.r.cfg.SlowConsumerWait, maxFlush))
	s.peer.Close(reason)
}

// handshakeAside runs the opening handshake on a goroutine of its own and
// waits for it. Decoding a HELLO and encoding a WELCOME, with their nested
// roles, take the deepest stack a session's goroutine needs; a goroutine's
// stack never shrinks below a quarter of what it used, so a session that
// joined on its own goroutine would keep that stack, 8 KiB, while it
// idles. The handshake's goroutine ends and frees it.
func (s *session) handshakeAside() bool {
	ok := make(chan bool, 1)
	go func() { ok <- s.handshake() }()
	return <-ok
}

// loop reads and routes messages until the session ends; it returns the
// close reason for the transport.
func (s *session) loop() error {
	for {
		m, err := s.peer.Recv()
		if err != nil {
			if errors.Is(err, protocol.ErrMalformed) {
				s.violation(err.Error())
				return errProtocolViolation
			}
			return err
		}
		if err := s.route(m); err != nil {
			return err
		}
	}
}

// route handles one inbound message of an established session. It returns
// nil to go on, or the close reason for the transport when the session is
// over. Messages of one session are routed one at a time, in the order the
// client sent them: by loop on the session's goroutine, or for an
// in-process session by whoever holds its inbox (see localInbox).
//
// It is where a handler's refusal becomes what the client is sent (see
// refusal.go): ERROR for a refused request, ABORT for a violation.
func (s *session) route(m protocol.Message) error {
	if isNil(m) {
		// Only an in-process client can send this; network transports
		// decode into valid messages.
		s.violation("nil message")
		return errProtocolViolation
	}
	s.countIn(m.Type())
	if s.state.Load() == stateShuttingDown {
		// The router said GOODBYE: wait for the echo (or an ABORT)
		// and ignore everything else (spec basic "Session Lifecycle").
		switch m.Type() {
		case protocol.TypeGoodbye, protocol.TypeAbort:
			return errSessionClosed
		}
		return nil
	}
	err := s.handle(m)
	if err == nil {
		return nil
	}
	var v *violation
	switch {
	case errors.As(err, &v):
		s.violation(v.msg)
		return errProtocolViolation
	case errors.Is(err, errSessionClosed):
		return errSessionClosed
	}
	if re := asRequestError(err); re != nil {
		s.reply(m, re)
		return nil
	}
	// A handler returns nothing else; end the session rather than go on
	// in an unknown state.
	s.r.log.Error("router: unexpected error routing a message", "session", uint64(s.id), "error", err)
	return err
}

// handle hands one message of an established session to its handler.
func (s *session) handle(m protocol.Message) error {
	if !protocol.Allowed(protocol.SideRouter, protocol.StateEstablished, m.Type()) {
		return violationf("%v not allowed in an established session", m.Type())
	}
	if s.r.cfg.StrictRequestIDs && !s.isCluster() {
		// A cluster's sessions forward other nodes' requests, whose IDs
		// need not follow one another here.
		switch err := s.checkRequestID(m); err {
		case nil:
		case errContinuation:
			return s.realm.dealer.continuation(s, m.(*protocol.Call))
		default:
			return err
		}
	}
	rm := s.realm
	switch m := m.(type) {
	case *protocol.Publish:
		return rm.broker.publish(s, m, false)
	case *protocol.Call:
		return rm.dealer.call(s, m)
	case *protocol.Yield:
		return rm.dealer.yield(s, m)
	case *protocol.Error:
		if m.RequestType != protocol.TypeInvocation {
			return violationf("ERROR for %v from a client", m.RequestType)
		}
		return rm.dealer.invocationError(s, m)
	case *protocol.Subscribe:
		return rm.broker.subscribe(s, m)
	case *protocol.Unsubscribe:
		return rm.broker.unsubscribe(s, m)
	case *protocol.Register:
		return rm.dealer.register(s, m)
	case *protocol.Unregister:
		return rm.dealer.unregister(s, m)
	case *protocol.Cancel:
		return rm.dealer.cancel(s, m)
	case *protocol.Goodbye:
		s.goodbye()
		s.in.closeReason = "goodbye " + string(m.Reason)
		return errSessionClosed
	case *protocol.Abort:
		s.in.closeReason = "abort " + string(m.Reason)
		return errSessionClosed
	}
	return violationf("unexpected message %T", m)
}

// errContinuation is returned by checkRequestID for a CALL whose request
// ID is not new, which only a continuation of a progressive call may have.
var errContinuation = errors.New("router: continuation candidate")

// checkRequestID checks that a new request of the client carries the
// request ID after the previous one (Config.StrictRequestIDs, spec basic
// "IDs").
func (s *session) checkRequestID(m protocol.Message) error {
	id, ok := requestID(m)
	if !ok {
		return nil
	}
	if id != protocol.NextID(s.in.lastReq) {
		if _, call := m.(*protocol.Call); call && id != 0 && id <= s.in.lastReq {
			// A continuation candidate (spec advanced "Progressive Call
			// Invocations", "Verification of CALL Request IDs").
			return errContinuation
		}
		return violationf("%v request ID %d does not follow %d", m.Type(), id, s.in.lastReq)
	}
	s.in.lastReq = id
	return nil
}

// goodbye handles the client's GOODBYE: the session is closing (under mu,
// like Shutdown's GOODBYE, so that the router does not say GOODBYE
// itself). The echo is sent by run once the session has left the realm:
// a client that has it can join again and register what it had without
// finding it still taken.
func (s *session) goodbye() {
	s.mu.Lock()
	s.state.Store(stateClosing)
	s.mu.Unlock()
	s.in.echoBye = true
}

// violation answers a protocol violation with ABORT
// wamp.error.protocol_violation (spec basic "Protocol Errors"); the
// caller then ends the session.
func (s *session) violation(msg string) {
	s.r.log.Info("router: protocol violation", "session", uint64(s.id), "realm", s.realmName(), "message", msg)
	s.sendOwn(&protocol.Abort{Details: protocol.Dict{"message": msg}, Reason: protocol.ErrProtocolViolation})
}

// abort refuses the session during the handshake.
func (s *session) abort(reason protocol.URI, msg string) {
	var d protocol.Dict
	if msg != "" {
		d = protocol.Dict{"message": msg}
	}
	s.sendOwn(&protocol.Abort{Details: d, Reason: reason})
}

// shutdown says GOODBYE to an established session (router-initiated
// close) and closes sessions that are not established yet. The session's
// goroutine ends the session when the echo arrives; the GOODBYE timeout
// closes the transport if it does not.
//
// It reports whether it said GOODBYE.
func (s *session) shutdown(reason protocol.URI, message string) bool {
	s.mu.Lock()
	if !s.state.CompareAndSwap(stateEstablished, stateShuttingDown) {
		st := s.state.Load()
		s.mu.Unlock()
		if st == stateEstablishing {
			s.peer.Close(ErrClosed)
		}
		return false
	}
	details := protocol.Dict{}
	if message != "" {
		details["message"] = message
	}
	// GOODBYE is queued before the timeout starts, so that however short
	// the timeout, the client is told why before its transport closes.
	s.send(&protocol.Goodbye{Details: details, Reason: reason})
	s.r.countOut(nil, protocol.TypeGoodbye, 1)
	s.bye = reason
	if d := s.r.cfg.GoodbyeTimeout; d > 0 {
		s.byeTimer = time.AfterFunc(d, func() { s.peer.Close(errGoodbyeTimeout) })
	}
	s.mu.Unlock()
	return true
}

// isNil reports whether m is nil or a nil pointer of one of the message
// types, which an in-process client could send by mistake.
func isNil(m protocol.Message) bool {
	switch m := m.(type) {
	case nil:
		return true
	case *protocol.Publish:
		return m == nil
	case *protocol.Call:
		return m == nil
	case *protocol.Yield:
		return m == nil
	case *protocol.Error:
		return m == nil
	case *protocol.Subscribe:
		return m == nil
	case *protocol.Unsubscribe:
		return m == nil
	case *protocol.Register:
		return m == nil
	case *protocol.Unregister:
		return m == nil
	case *protocol.Cancel:
		return m == nil
	case *protocol.Goodbye:
		return m == nil
	case *protocol.Abort:
		return m == nil
	case *protocol.Hello:
		return m == nil
	case *protocol.Authenticate:
		return m == nil
	}
	return false
}
