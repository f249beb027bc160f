package router

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
	"github.com/wampkit/wampkit/transport"
)

// A ClusterLink is a session of the router's cluster (see
// [ClusterNode.Connect]) without a client library on the other end: the
// cluster routes its messages into the router with [ClusterLink.Send],
// and the router hands what it sends the session to a func, on the
// router's goroutine. It is how a cluster carries calls between nodes
// cheaply: a session that stands for another node's callees (its
// INVOCATIONs go to that node) and one that makes the calls of another
// node's callers (their RESULTs go back), each message encoded once for
// the other node rather than crossing an in-process client.
//
// The session is a cluster session like those of Connect in every other
// respect (authmethod [ClusterAuthMethod], authrole [ClusterAuthRole],
// hidden from the session meta API): its CALLs go only to the node's own
// callees, with the caller identity they forward, and its registrations
// are not claimed in the cluster. It announces call canceling,
// progressive call results and progressive call invocations, as caller
// and callee, and caller identification.
type ClusterLink struct {
	r      *Router
	client *localClient
	server *linkServer
	id     protocol.ID
}

// ClusterDeliver receives what the router sends a [ClusterLink]'s
// session, in the order it is sent: REGISTERED, UNREGISTERED and ERROR
// for its own requests, INVOCATION and INTERRUPT as a callee, RESULT and
// ERROR as a caller, GOODBYE when the router shuts down, ABORT when it
// ends the session. However the session ends, it gets one GOODBYE or
// ABORT: when it ends without either (its link closed, by
// [ClusterLink.Close] or otherwise), it gets GOODBYE
// wamp.close.system_shutdown if the router is closing ([Router.Close])
// and ABORT wamp.error.network_failure if not, as it leaves. Each of its
// calls still pending then gets ERROR wamp.error.canceled, after the
// GOODBYE or ABORT. It is called on
// the router's goroutines, possibly with locks of the router held, one
// message at a time for the messages of one call: it must not block for
// long, and must not call back into the router (not even
// [ClusterLink.Send]) before it returns. The message is read-only and
// valid only until it returns: encode or copy what it keeps.
type ClusterDeliver func(protocol.Message)

// linkRoles is what the session of a ClusterLink announces in HELLO.
var linkRoles = protocol.Dict{
	string(protocol.RoleCaller): map[string]any{"features": map[string]any{
		string(protocol.FeatureCallCanceling):              true,
		string(protocol.FeatureProgressiveCallResults):     true,
		string(protocol.FeatureProgressiveCallInvocations): true,
	}},
	string(protocol.RoleCallee): map[string]any{"features": map[string]any{
		string(protocol.FeatureCallCanceling):              true,
		string(protocol.FeatureProgressiveCallResults):     true,
		string(protocol.FeatureProgressiveCallInvocations): true,
		string(protocol.FeatureCallerIdentification):       true,
		string(protocol.FeaturePatternBasedRegistration):   true,
		string(protocol.FeatureSharedRegistration):         true,
	}},
}

// errLinkRefused is wrapped by the error of Link when the router does not
// welcome the session.
var errLinkRefused = errors.New("router: cluster link refused")

// Link opens a [ClusterLink] to realm: a session of authid (a name for the
// logs) whose messages from the router go to deliver. It fails with
// [ErrClosed] after the router closed, and when the realm does not exist
// or the handshake does not end before ctx does. Close the link when done.
func (n *ClusterNode) Link(ctx context.Context, realm protocol.URI, authID string, deliver ClusterDeliver) (*ClusterLink, error) {
	r := n.r
	srv := &linkServer{deliver: deliver}
	c, err := r.connect(ctx, func(p transport.Peer) transport.Peer {
		srv.localServer = p.(*localServer)
		return srv
	})
	if err != nil {
		return nil, err
	}
	client := c.(*localClient)
	client.in.mu.Lock()
	client.in.strict = true
	client.in.mu.Unlock()
	hello := &protocol.Hello{Realm: realm, Details: protocol.Dict{
		"authid":      authID,
		"authmethods": []any{ClusterAuthMethod},
		"roles":       linkRoles,
	}}
	if err := client.SendWait(ctx, hello); err != nil {
		client.Close(err)
		return nil, err
	}
	// The handshake's answer crosses the link; everything after WELCOME
	// goes to deliver (see linkServer.Send).
	type answer struct {
		m   protocol.Message
		err error
	}
	got := make(chan answer, 1)
	go func() {
		m, err := client.Recv()
		got <- answer{m, err}
	}()
	var a answer
	select {
	case a = <-got:
	case <-ctx.Done():
		client.Close(ctx.Err())
		<-got
		return nil, ctx.Err()
	}
	switch m := a.m.(type) {
	case *protocol.Welcome:
		return &ClusterLink{r: r, client: client, server: srv, id: m.Session}, nil
	case *protocol.Abort:
		client.Close(errLinkRefused)
		return nil, fmt.Errorf("%w: %s %s", errLinkRefused, m.Reason, m.Details.String("message"))
	case nil:
		client.Close(a.err)
		if errors.Is(a.err, transport.ErrClosed) {
			a.err = ErrClosed
		}
		return nil, a.err
	default:
		client.Close(errProtocolViolation)
		return nil, fmt.Errorf("%w: %v during the handshake", errLinkRefused, m.Type())
	}
}

// SessionID returns the link's session ID.
func (l *ClusterLink) SessionID() protocol.ID { return l.id }

// Send routes m as if the link's session had sent it: REGISTER and
// UNREGISTER, CALL (a first CALL or a further chunk of a progressive call
// invocation) and CANCEL as a caller, YIELD and ERROR as a callee. It is
// routed on the calling goroutine when no other message of the session is
// being routed, else queued behind it, and waits while the queue is full;
// messages of one session are routed one at a time, in the order of the
// Send calls. The router may call the link's [ClusterDeliver] before Send
// returns (a REGISTERED, say). Send fails with [ErrClosed] once the
// session ended; a CALL queued when it ended is answered, like the
// session's pending calls, with ERROR wamp.error.canceled.
func (l *ClusterLink) Send(m protocol.Message) error {
	err := l.client.SendWait(bg, m)
	if errors.Is(err, transport.ErrClosed) {
		return ErrClosed
	}
	return err
}

// Close ends the link's session: its registrations go away, its pending
// invocations end with ERROR wamp.error.canceled to their callers, and its
// own pending calls are interrupted (spec basic "Caller Leaving"). The
// link's [ClusterDeliver] then gets ABORT (see there), as it does
// whenever the session ends without GOODBYE or ABORT.
func (l *ClusterLink) Close() {
	l.client.Close(ErrClosed)
}

// Abandon ends every invocation pending at the link's session as a callee
// with ERROR uri and Args [message] to its caller, as if the session had
// answered so, and forgets them: a later answer to them is ignored. The
// session and its registrations stay. A cluster calls it when the node
// that served those invocations is gone or out of reach.
func (l *ClusterLink) Abandon(uri protocol.URI, message string) {
	s := l.server.session.Load()
	if s == nil {
		return
	}
	s.mu.Lock()
	invs := make([]*invocation, 0, len(s.rpc.invocations))
	for id, inv := range s.rpc.invocations {
		invs = append(invs, inv)
		delete(s.rpc.invocations, id)
	}
	s.mu.Unlock()
	for _, inv := range invs {
		s.realm.dealer.answer(nil, inv, callError(inv.callID, uri, message), true)
	}
}

// linkCallsEnded answers each of calls, the pending calls of s as it
// leaves, with ERROR wamp.error.canceled to its ClusterDeliver if s is a
// ClusterLink's session. Such a session makes calls for callers on
// another node, which wait for an answer the cluster carries back: when
// it ends with its node still up (the router aborted it, or the cluster
// closed it), they fail at once, as a single router's callers do when
// their callee leaves, rather than at their timeout or never.
//
// First, if the session got no GOODBYE or ABORT, it tells the cluster
// that the session ended: else a cluster would not know that a link it
// keeps (a stand-in whose registrations just went away) must be made
// again.
func linkCallsEnded(s *session, calls map[protocol.ID]*invocation) {
	p, ok := s.peer.(*linkServer)
	if !ok {
		return
	}
	if !p.ended.Swap(true) {
		if s.r.ctx.Err() != nil {
			p.deliver(&protocol.Goodbye{Details: protocol.Dict{"message": "router closing"}, Reason: protocol.CloseSystemShutdown})
		} else {
			p.deliver(&protocol.Abort{Details: protocol.Dict{"message": "the session's link closed"}, Reason: protocol.ErrNetworkFailure})
		}
	}
	const why = "the cluster's session that made the call on the callee's node ended"
	for id := range calls {
		p.deliver(callError(id, protocol.ErrCanceled, why))
	}
	// The CALLs the session took but never routed (see
	// localInbox.strict); a chunk of a pending call was answered above.
	in := p.localServer.in
	in.mu.Lock()
	unrouted := in.unrouted
	in.unrouted = nil
	in.mu.Unlock()
	for _, id := range unrouted {
		if _, ok := calls[id]; !ok {
			p.deliver(callError(id, protocol.ErrCanceled, why+" before it made the call"))
		}
	}
}

// linkServer is the router's end of a ClusterLink: the handshake crosses
// the in-process link, then everything the router sends goes to deliver.
type linkServer struct {
	*localServer
	deliver  ClusterDeliver
	welcomed atomic.Bool
	// ended is set once deliver got GOODBYE or ABORT (see linkCallsEnded).
	ended atomic.Bool
	// session is the link's session, set when the router welcomes it.
	session atomic.Pointer[session]
}

var (
	_ transport.Peer     = (*linkServer)(nil)
	_ transport.Waiter   = (*linkServer)(nil)
	_ transport.Detailer = (*linkServer)(nil)
)

// Send implements transport.Peer. It never blocks after the handshake.
func (p *linkServer) Send(ctx context.Context, m protocol.Message) error {
	if p.welcomed.Load() {
		if sh, ok := m.(*serialize.Shared); ok {
			m = sh.Message()
		}
		switch m.(type) {
		case *protocol.Goodbye, *protocol.Abort:
			p.ended.Store(true)
		}
		p.deliver(m)
		return nil
	}
	err := p.localServer.Send(ctx, m)
	if _, ok := m.(*protocol.Welcome); ok && err == nil {
		p.welcomed.Store(true)
	}
	return err
}

// SendWait implements transport.Waiter.
func (p *linkServer) SendWait(ctx context.Context, m protocol.Message) error {
	if p.welcomed.Load() {
		return p.Send(ctx, m)
	}
	return p.localServer.SendWait(ctx, m)
}

// TransportDetails implements transport.Detailer: the link is one of the
// cluster's (see clusterPeer).
func (*linkServer) TransportDetails() protocol.Dict {
	return protocol.Dict{"type": clusterTransport}
}

// localInboxOf returns the inbox of an in-process session's router end
// (see localInbox), or nil for another transport; for a ClusterLink it
// records the session, whose handshake is over.
func localInboxOf(s *session) *localInbox {
	switch p := s.peer.(type) {
	case *localServer:
		return p.in
	case *linkServer:
		p.session.Store(s)
		return p.in
	}
	return nil
}
