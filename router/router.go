package router

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/transport"
)

// Defaults of the [Config] and [RealmConfig] fields, documented there.
const (
	defaultHandshakeTimeout = 10 * time.Second
	defaultGoodbyeTimeout   = 5 * time.Second
	defaultLocalQueueSize   = 1024
	// A client that has not taken one message off its queue for a second
	// has stopped reading; a shorter wait mistakes clients on a busy
	// machine (or under the race detector) for dead ones.
	defaultSlowConsumerWait = time.Second
	defaultAgent            = "wampkit-router"
	defaultAuthTimeout      = 10 * time.Second
	defaultMaxSessions      = 100_000
	defaultMaxPendingCalls  = 1000
	defaultMaxSubscriptions = 10_000
	defaultMaxRegistrations = 10_000
	defaultMaxRetained      = 100_000
	defaultMaxTestaments    = 64
	defaultMaxBacklog       = 1024
)

// LimitExceeded is the error URI of requests and the ABORT reason of
// sessions that the router refuses because a limit of [Config] or
// [RealmConfig] is reached: too many sessions (ABORT during the opening
// handshake), pending calls, subscriptions, registrations or testaments
// (ERROR for the CALL, SUBSCRIBE, REGISTER or
// wamp.session.add_testament). The spec defines no URI for this, so it is
// an implementation-specific one outside the reserved wamp namespace
// (spec basic "Reserved URIs"); Details.message (ABORT) or Args[0]
// (ERROR) names the limit.
const LimitExceeded protocol.URI = "wampkit.error.limit_exceeded"

var (
	// ErrClosed is returned by [Router.Connect] and [Router.ServeRawSocket]
	// after [Router.Close] or [Router.Shutdown], and is the close reason of
	// the sessions that Close ends.
	ErrClosed = errors.New("router: closed")
	// ErrConfig is wrapped by the errors of [New] when the Config is
	// invalid.
	ErrConfig = errors.New("router: invalid config")
)

// Close reasons of transports the router ends itself, for logs and for the
// error the other end's Recv returns.
var (
	errHandshakeTimeout  = errors.New("router: handshake timeout")
	errGoodbyeTimeout    = errors.New("router: no GOODBYE echo in time")
	errProtocolViolation = errors.New("router: protocol violation")
	errSlowConsumer      = errors.New("router: outbound queue full")
	errSessionClosed     = errors.New("router: session closed")
	errAuthTimeout       = errors.New("router: authentication timeout")
)

// Config configures a [Router]. [New] takes it by value and fills in
// defaults on its copy, so changing a Config after New has no effect.
type Config struct {
	// Realms lists the realms the router serves. A HELLO for any other
	// realm is answered with ABORT wamp.error.no_such_realm. At least one
	// realm is required; names must be valid URIs (by the rules StrictURIs
	// selects) and unique.
	Realms []RealmConfig

	// Logger receives the router's logs: sessions ended for protocol
	// violations, slow consumers and the like. If nil, slog.Default() is
	// used.
	Logger *slog.Logger

	// HandshakeTimeout bounds the time from a new transport to the
	// session's WELCOME (HELLO and any CHALLENGE/AUTHENTICATE rounds). A
	// transport that has not completed the handshake in time is closed.
	// Zero means 10 seconds; negative means no limit.
	HandshakeTimeout time.Duration

	// GoodbyeTimeout bounds how long the router waits for the echo of a
	// GOODBYE it sent (during [Router.Shutdown]) before it closes the
	// transport. Zero means 5 seconds; negative means no limit
	// other than the context given to Shutdown.
	GoodbyeTimeout time.Duration

	// StrictURIs makes the router check topics, procedures and realm names
	// with the spec's strict URI rules (components of [0-9a-z_] only)
	// instead of the loose rules. The zero value means loose rules.
	StrictURIs bool

	// StrictRequestIDs makes the router check that every new request of
	// a client (SUBSCRIBE, UNSUBSCRIBE, PUBLISH, REGISTER, UNREGISTER,
	// CALL) carries the request ID after the previous one, as the spec
	// requires (spec basic "IDs"), and abort the session with
	// wamp.error.protocol_violation otherwise. The zero value leaves the
	// check off, because some clients in use send random request IDs.
	StrictRequestIDs bool

	// SlowConsumerWait bounds how long a session's backlog (see
	// [Config.MaxBacklog]) may wait for room in its full outbound queue
	// before the router disconnects the session as a slow consumer (see
	// [SlowConsumerPolicy]). The wait is done by a goroutine of that
	// session's own: no sender (a publisher, a caller, the router) ever
	// waits for a slow client. A client that stopped reading is thus
	// dropped after at most SlowConsumerWait, or sooner when its backlog
	// fills up. Sessions of a realm with [SlowConsumerDropEvents] are not
	// disconnected for time. Zero means 1 second; negative
	// means no wait.
	SlowConsumerWait time.Duration

	// AuthTimeout bounds authentication: the time from HELLO to WELCOME,
	// the realm's [Authenticator] and every CHALLENGE/AUTHENTICATE round
	// included. When it expires the router answers ABORT
	// wamp.error.timeout and closes the transport. It runs within
	// HandshakeTimeout, which still bounds the whole opening handshake.
	// Zero means 10 seconds; negative means no limit other than
	// HandshakeTimeout.
	AuthTimeout time.Duration

	// MaxMessageSize is the largest message the router accepts from a
	// client over WebSocket and RawSocket, in bytes; a larger one fails
	// the connection (spec advanced "RawSocket Transport"). It applies to
	// WebSocket and RawSocket unless their own MaxMessageSize is set.
	// Zero or negative means the transport default for a server
	// (transport.PeerConfig.MaxMessageSize: 1 MiB). In-process sessions
	// are not serialized and have no size limit.
	MaxMessageSize int64

	// MaxSessions is the most sessions the router serves at once, over
	// all realms and transports. A HELLO beyond it is answered with ABORT
	// [LimitExceeded]. Zero means 100,000; negative means no
	// limit. [RealmConfig].MaxSessions limits a single realm.
	MaxSessions int

	// MaxPendingCalls is the most calls one session may have waiting for
	// their final result. A CALL beyond it is answered with ERROR
	// [LimitExceeded] at once. Calls of the router's own meta procedures
	// do not count. Zero means 1000; negative means no
	// limit.
	MaxPendingCalls int

	// MaxSubscriptions is the most subscriptions one session may hold. A
	// SUBSCRIBE beyond it is answered with ERROR [LimitExceeded] (a
	// SUBSCRIBE that returns an existing subscription of the session
	// always succeeds). Zero means 10,000; negative
	// means no limit.
	MaxSubscriptions int

	// MaxRegistrations is the most registrations one session may hold. A
	// REGISTER beyond it is answered with ERROR [LimitExceeded]. Zero
	// means 10,000; negative means no limit.
	MaxRegistrations int

	// MaxTestaments is the most testaments (spec advanced "Session
	// Testament") one session may hold, both scopes together. A
	// wamp.session.add_testament beyond it is answered with ERROR
	// [LimitExceeded]. Zero means 64; negative means no
	// limit.
	MaxTestaments int

	// MaxBacklog is the most messages the router holds for a session
	// whose transport's outbound queue is full: the slack that lets a
	// client that is alive but busy, or kept off the processor for a
	// moment, take a burst without anyone waiting for it. The backlog
	// keeps the order of the session's messages and drains into the
	// transport as the client reads. When it is full the realm's
	// [SlowConsumerPolicy] applies. Events share their payload among
	// subscribers, so a backlog entry costs a pointer, not a copy. Zero
	// means 1024; negative means no backlog.
	MaxBacklog int

	// MaxBacklogBytes bounds a session's backlog in bytes as MaxBacklog
	// does in messages: the estimated size in memory of the messages it
	// holds (their arguments, keyword arguments and details). An empty
	// backlog takes one message of any size, so a message as large as
	// the router accepts still reaches a busy client. A client that never
	// reads thus pins at most its transport's queue (QueueBytes of its
	// encoded messages) and this, whatever the messages' sizes. Zero
	// means 8 MiB; negative means no limit in bytes.
	MaxBacklogBytes int64

	// LocalQueueSize is the capacity of each direction of the in-process
	// link that [Router.Connect] makes. When a session's queue towards its
	// client is full, the router disconnects that session rather than
	// wait. Zero or negative means 1024.
	LocalQueueSize int

	// WebSocket configures the WebSocket server behind [Router.Handler].
	// A nil Logger in it means Logger. The zero value uses the transport
	// package's defaults.
	WebSocket transport.WebSocketConfig

	// RawSocket configures the RawSocket server behind
	// [Router.ServeRawSocket]. A nil Logger in it means Logger. The zero
	// value uses the transport package's defaults.
	RawSocket transport.RawSocketConfig

	// Agent is sent to clients as WELCOME.Details.agent. Empty means
	// "wampkit-router".
	Agent string

	// Metrics, if not nil, receives the router's Prometheus collectors
	// (names starting with wampkit_router_): sessions open by realm and
	// transport, joins and leaves, failed authentications by method and
	// reason, messages in and out by type, publications and delivered
	// EVENTs, the duration of one call in 16 of each caller and call
	// errors by URI, dropped events and slow-consumer disconnects,
	// subscriptions and registrations by realm, and backlog depth. Pass
	// the embedding application's registry (or
	// prometheus.DefaultRegisterer) to export them with its own. Counting
	// does not allocate and takes no lock per message. New fails if a
	// collector cannot be registered (for example a second router on the
	// same registry). Nil means no metrics, at the cost of a nil check per
	// message.
	Metrics prometheus.Registerer

	// AuthThrottle limits how often an authid, and a client address, may
	// fail to authenticate, and how much the failures are logged. The
	// zero value throttles with the defaults of [AuthThrottle].
	AuthThrottle AuthThrottle

	// Cluster, if not nil, makes the router one node of a cluster of
	// routers that serve the same realms as one (see [Cluster]): New
	// attaches it, and Close and Shutdown detach it; its owner closes it
	// after the router. Every node should have the same realms and
	// authentication and authorization config. Nil means a single router.
	Cluster Cluster
}

// RealmConfig configures one realm of a [Router].
type RealmConfig struct {
	// Name is the realm's URI, the HELLO.Realm clients join with.
	// It is required.
	Name protocol.URI

	// MaxSessions is the most sessions joined to this realm at once. A
	// HELLO beyond it is answered with ABORT [LimitExceeded]. Zero or
	// negative means no limit of the realm's own ([Config].MaxSessions
	// still applies).
	MaxSessions int

	// SlowConsumer is what the router does when a session of this realm
	// reads too slowly and its outbound queue is full. The zero value is
	// [SlowConsumerDisconnect].
	SlowConsumer SlowConsumerPolicy

	// Authenticators authenticate the sessions that join this realm. The
	// router picks the first method of HELLO.Details.authmethods (in the
	// client's order; ["anonymous"] if the client lists none) for which an
	// Authenticator is configured, and answers ABORT
	// wamp.error.no_matching_auth_method if there is none. Nil or empty
	// means anonymous access only: []Authenticator{Anonymous{}}.
	Authenticators []Authenticator

	// MaxRetained is the most topics of this realm that keep a retained
	// event (spec advanced "Event Retention"). Once it is reached, a
	// PUBLISH with Options.retain to a topic that has no retained event
	// is published but not retained (the spec lets a broker decline), and
	// this is logged at most once per [DropLogInterval]; topics that have
	// one go on replacing it. Retained events are kept until the router
	// stops. A topic keeps its last retained event and, when that one has
	// black/white lists, up to 7 earlier ones back to the last without
	// lists, so that a subscriber left out of the newest still gets the
	// newest it may see. Zero means 100,000; negative means no
	// limit.
	MaxRetained int

	// MaxRetainedBytes bounds the retained events of this realm in bytes,
	// over all topics: the estimated heap size of their arguments,
	// keyword arguments and details. A retained event that would exceed
	// it is published but not retained, and the topic's earlier retained
	// events are dropped with it (so no outdated one is handed out); this
	// is logged as for MaxRetained. Zero means 64 MiB; negative means no
	// limit.
	MaxRetainedBytes int64

	// MaxHistoryBytes bounds the events kept for EventHistory in bytes,
	// like MaxRetainedBytes, shared equally by the history topics: each
	// keeps its newest events that fit its share (and its Limit), and an
	// event larger than the share is not kept (logged at most once per
	// DropLogInterval per topic). Zero means 64 MiB; negative means no
	// limit.
	MaxHistoryBytes int64

	// EventHistory lists the topics (exact, or patterns) whose recent
	// events the realm's broker keeps for the meta procedure
	// wamp.subscription.get_events (spec advanced "Event History"). Each
	// entry gets a subscription of the router's own when the router
	// starts, which lasts as long as the router, so that its ID is stable,
	// wamp.subscription.lookup finds it before anybody subscribes, and no
	// event is missed while nobody is subscribed. Events published with
	// session-ID black/white lists (eligible, exclude) are not kept; those
	// with authid or authrole lists are kept and shown only to callers
	// the lists admit. Topics must be valid and unique per match policy.
	// Nil means no history, and then event_history is not announced.
	EventHistory []HistoryConfig

	// TrustLevels assigns trust levels to the publications and calls of
	// this realm's sessions by their authrole (spec advanced "Publication
	// Trust Levels", "Call Trust Levels"): an EVENT of a publication, and
	// an INVOCATION of a call, made by a session whose authrole is a key
	// carry Details.trustlevel with its value (0 is the lowest trust;
	// higher is more, by the application's meaning). Sessions of other
	// roles get none. Nil means no trust levels, and then the features are
	// not announced. Levels must not be negative.
	TrustLevels map[string]int

	// Authorizer decides which CALL, REGISTER, PUBLISH and SUBSCRIBE the
	// sessions of this realm may make (see [Authorizer], [RoleAuthorizer]).
	// Nil allows everything, at no cost.
	Authorizer Authorizer

	// AuthorizeTimeout bounds each decision of Authorizer: the context
	// given to Authorize ends after it, and the request then fails with
	// ERROR wamp.error.authorization_failed if the Authorizer gives up.
	// Only the session that asked waits. Zero means
	// 5 seconds; negative means no limit other than the
	// router's Close. [RoleAuthorizer] never waits and gets no timeout.
	AuthorizeTimeout time.Duration
}

// SlowConsumerPolicy says what the router does with a session that reads
// more slowly than it is sent to, or not at all. Every session has a
// bounded outbound queue in its transport and behind it a bounded backlog
// ([Config].MaxBacklog) that keeps the order of its messages; no sender
// ever waits for either. Whatever the policy:
//
//   - A CALL routed to a callee whose queue and backlog are full is
//     answered at once with ERROR wamp.error.no_available_callee (spec
//     advanced "Call Re-Routing": the procedure is registered but no
//     callee can take the call); the caller is never kept waiting for a
//     callee's queue, and the callee is not disconnected for it.
//   - RESULTs and ERRORs for a caller are never dropped: a caller whose
//     backlog is full is disconnected (and logged).
//   - Replies to a session's own requests (SUBSCRIBED, REGISTERED, ...)
//     are treated the same way.
type SlowConsumerPolicy int

const (
	// SlowConsumerDisconnect disconnects a session, with a logged reason,
	// when its backlog is full or has waited [Config].SlowConsumerWait for
	// room in its transport's queue. It is the default.
	SlowConsumerDisconnect SlowConsumerPolicy = iota
	// SlowConsumerDropEvents drops the EVENTs for a session whose backlog
	// is three quarters full (the last quarter is kept for replies and
	// results), and counts them. The count is wamp.session.get's
	// "_dropped_events" (implementation-specific key, spec basic
	// "Extensibility"), and the drops are logged at most once per
	// [DropLogInterval] per session, with the running count. The session
	// is not disconnected for time; other messages are handled as above.
	SlowConsumerDropEvents
)

// DropLogInterval is the least time between two log lines about the
// dropped events of one session (see [SlowConsumerDropEvents]).
const DropLogInterval = 10 * time.Second

// String returns "disconnect" or "drop-events".
func (p SlowConsumerPolicy) String() string {
	switch p {
	case SlowConsumerDisconnect:
		return "disconnect"
	case SlowConsumerDropEvents:
		return "drop-events"
	}
	return fmt.Sprintf("SlowConsumerPolicy(%d)", int(p))
}

// Router is an embeddable WAMP router: a broker and a dealer for each
// configured realm (spec basic "Peers and Roles"). Create one with [New];
// serve clients with [Router.Handler] (WebSocket), [Router.ServeRawSocket]
// and [Router.Connect] (in-process); stop it with [Router.Shutdown] or
// [Router.Close].
//
// All methods are safe for concurrent use.
type Router struct {
	cfg    Config
	log    *slog.Logger
	realms map[protocol.URI]*realm // read-only after New

	// welcomeRoles is WELCOME.Details.roles of realms without event
	// history, shared read-only by their WELCOMEs (see realm.welcomeRoles).
	welcomeRoles protocol.Dict

	regIDs protocol.RouterIDs // subscription and registration IDs

	// cluster is Config.Cluster once attached (see cluster.go), nil for a
	// single router; read-only after New.
	cluster Cluster
	// detached is set when Close or Shutdown detached cluster.
	detached atomic.Bool

	metrics *metrics // Config.Metrics' collectors, or nil

	// guard throttles and logs failed authentications
	// (Config.AuthThrottle).
	guard *authGuard

	// ctx is the parent of the contexts given to Authorizers; cancel ends
	// it when the router closes, so that no session waits for one then.
	ctx    context.Context
	cancel context.CancelFunc

	// joined counts the sessions joined to any realm, for
	// Config.MaxSessions.
	joined atomic.Int64

	// mu guards the fields below. Lock order, outermost first:
	// broker.mu or dealer.mu, session.mu (never two at once), the
	// pattern tries' pmu, Router.mu. Router.mu is a leaf: nothing else is
	// locked while it is held. Meta events are published under
	// broker.mu or dealer.mu (never session.mu): delivering them takes
	// the broker's pmu and, for a session subscribing right then, its
	// session.mu. The retained events' retention.mu and each event
	// history's eventLog.mu are leaves too (retain.go, history.go).
	mu       sync.Mutex
	closed   bool                       // no new sessions or servers once set
	sessions map[*session]struct{}      // every session being served
	ids      map[protocol.ID]*session   // session IDs in use (global scope)
	servers  map[io.Closer]struct{}     // transport servers of Handler and ServeRawSocket
	ws       *transport.WebSocketServer // made by the first Handler call
	raw      *transport.RawSocketServer // made by the first ServeRawSocket call

	// wg counts every serve call and every goroutine the router starts
	// for Connect. Add is called only under mu while closed is false, so
	// Wait in Close never races with a new Add from zero.
	wg sync.WaitGroup
	// closers counts the goroutines that close dropped sessions'
	// transports (see session.drop) and those that drain sessions'
	// backlogs (see session.drain). A drainer starts only when a
	// transport's queue is full, which a closed transport never is, so
	// once wg is done and every session's transport is closed no new one
	// starts, and Close and Shutdown wait for them after wg.
	closers sync.WaitGroup
}

// New returns a router serving the realms of cfg. It returns an error
// wrapping [ErrConfig] if cfg is invalid.
func New(cfg Config) (*Router, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HandshakeTimeout == 0 {
		cfg.HandshakeTimeout = defaultHandshakeTimeout
	}
	if cfg.SlowConsumerWait == 0 {
		cfg.SlowConsumerWait = defaultSlowConsumerWait
	}
	if cfg.GoodbyeTimeout == 0 {
		cfg.GoodbyeTimeout = defaultGoodbyeTimeout
	}
	if cfg.LocalQueueSize <= 0 {
		cfg.LocalQueueSize = defaultLocalQueueSize
	}
	if cfg.Agent == "" {
		cfg.Agent = defaultAgent
	}
	if cfg.AuthTimeout == 0 {
		cfg.AuthTimeout = defaultAuthTimeout
	}
	cfg.MaxSessions = limit(cfg.MaxSessions, defaultMaxSessions)
	cfg.MaxPendingCalls = limit(cfg.MaxPendingCalls, defaultMaxPendingCalls)
	cfg.MaxSubscriptions = limit(cfg.MaxSubscriptions, defaultMaxSubscriptions)
	cfg.MaxRegistrations = limit(cfg.MaxRegistrations, defaultMaxRegistrations)
	cfg.MaxTestaments = limit(cfg.MaxTestaments, defaultMaxTestaments)
	cfg.MaxBacklog = max(limit(cfg.MaxBacklog, defaultMaxBacklog), 0)
	cfg.MaxBacklogBytes = limit64(cfg.MaxBacklogBytes, defaultMaxBacklogBytes)
	if cfg.MaxMessageSize > 0 {
		if cfg.WebSocket.MaxMessageSize == 0 {
			cfg.WebSocket.MaxMessageSize = cfg.MaxMessageSize
		}
		if cfg.RawSocket.MaxMessageSize == 0 {
			cfg.RawSocket.MaxMessageSize = cfg.MaxMessageSize
		}
	}
	if cfg.WebSocket.Logger == nil {
		cfg.WebSocket.Logger = cfg.Logger
	}
	if cfg.RawSocket.Logger == nil {
		cfg.RawSocket.Logger = cfg.Logger
	}
	if len(cfg.Realms) == 0 {
		return nil, fmt.Errorf("%w: no realms", ErrConfig)
	}
	r := &Router{
		log:      cfg.Logger,
		guard:    newAuthGuard(cfg.AuthThrottle, cfg.Logger),
		realms:   make(map[protocol.URI]*realm, len(cfg.Realms)),
		sessions: make(map[*session]struct{}),
		ids:      make(map[protocol.ID]*session),
		servers:  make(map[io.Closer]struct{}),
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	realms := make([]RealmConfig, len(cfg.Realms))
	copy(realms, cfg.Realms)
	cfg.Realms = realms
	for i := range cfg.Realms {
		rc := &cfg.Realms[i]
		if err := protocol.CheckURI(rc.Name, cfg.StrictURIs); err != nil {
			return nil, fmt.Errorf("%w: realm %q: %w", ErrConfig, rc.Name, err)
		}
		if _, dup := r.realms[rc.Name]; dup {
			return nil, fmt.Errorf("%w: realm %q listed twice", ErrConfig, rc.Name)
		}

		switch rc.SlowConsumer {
		case SlowConsumerDisconnect, SlowConsumerDropEvents:
		default:
			return nil, fmt.Errorf("%w: realm %q: unknown %v", ErrConfig, rc.Name, rc.SlowConsumer)
		}
		if err := checkAuthenticators(rc); err != nil {
			return nil, err
		}
		for role, level := range rc.TrustLevels {
			if level < 0 {
				return nil, fmt.Errorf("%w: realm %q: negative trust level %d for authrole %q", ErrConfig, rc.Name, level, role)
			}
		}
		rc.MaxRetained = limit(rc.MaxRetained, defaultMaxRetained)
		rc.MaxRetainedBytes = limit64(rc.MaxRetainedBytes, defaultMaxRetainedBytes)
		rc.MaxHistoryBytes = limit64(rc.MaxHistoryBytes, defaultMaxHistoryBytes)
		if err := checkHistory(rc, cfg.StrictURIs); err != nil {
			return nil, err
		}
		r.realms[rc.Name] = newRealm(r, *rc)
	}
	r.cfg = cfg
	r.welcomeRoles = routerRoles().Dict()
	for _, rm := range r.realms {
		rm.welcomeRoles = r.welcomeRoles
		history := len(rm.broker.byID) > 0 // history subscriptions
		if !history && rm.trust == nil {
			continue
		}
		// Features that only some realms have.
		roles := routerRoles()
		if history {
			roles[protocol.RoleBroker][protocol.FeatureEventHistory] = true
		}
		if rm.trust != nil {
			roles[protocol.RoleBroker][protocol.FeaturePublicationTrustLevels] = true
			roles[protocol.RoleDealer][protocol.FeatureCallTrustLevels] = true
		}
		rm.welcomeRoles = roles.Dict()
	}
	var err error
	if r.metrics, err = newMetrics(r, cfg.Metrics); err != nil {
		return nil, fmt.Errorf("%w: metrics: %w", ErrConfig, err)
	}
	r.guard.metrics = r.metrics
	if cfg.Cluster != nil {
		if err := r.attachCluster(cfg.Cluster); err != nil {
			return nil, fmt.Errorf("router: attach cluster: %w", err)
		}
	}
	return r, nil
}

// checkAuthenticators checks and copies rc.Authenticators, and makes
// an empty list anonymous access only.
func checkAuthenticators(rc *RealmConfig) error {
	if len(rc.Authenticators) == 0 {
		rc.Authenticators = []Authenticator{Anonymous{}}
		return nil
	}
	rc.Authenticators = append([]Authenticator(nil), rc.Authenticators...)
	for _, a := range rc.Authenticators {
		if a == nil || a.AuthMethod() == "" {
			return fmt.Errorf("%w: realm %q: nil Authenticator or empty AuthMethod", ErrConfig, rc.Name)
		}
	}
	return nil
}

// UpdateRealm changes how the realm named rc.Name authenticates and
// authorizes its sessions while it serves them, without ending any:
// rc.Authenticators, rc.Authorizer and rc.AuthorizeTimeout replace the
// realm's (with the defaults of [New]); the other fields of rc are not
// read. Sessions that join afterwards authenticate with the new
// Authenticators; joined sessions keep their identity, and every request
// from now on is decided by the new Authorizer.
//
// What joined sessions were allowed before and no longer are is taken
// away: each subscription and registration that the new Authorizer would
// refuse now (for its session, topic or procedure, and match policy) is
// revoked as by wamp.subscription.remove_subscriber and
// wamp.registration.remove_callee, with the reason "no longer
// authorized", and logged. A decision the Authorizer fails to make keeps
// what it was about. UpdateRealm returns when that is done, or with
// ctx.Err() if ctx ends first (the new authentication and authorization
// are in force either way).
//
// The Authorizer may change between one that decides at once
// ([RoleAuthorizer] or none) and one that may wait only with a restart:
// in-process sessions route their messages on the sender's goroutine in
// the former case (see Connect). UpdateRealm returns an error wrapping
// [ErrConfig] if rc names no realm of the router, has an invalid
// Authenticator, or makes that change.
func (r *Router) UpdateRealm(ctx context.Context, rc RealmConfig) error {
	rm := r.realms[rc.Name]
	if rm == nil {
		return fmt.Errorf("%w: no realm %q", ErrConfig, rc.Name)
	}
	if err := checkAuthenticators(&rc); err != nil {
		return err
	}
	z := newAuthz(&rc)
	if old := rm.authz.Load(); (old == nil || old.instant != nil) != (z == nil || z.instant != nil) {
		return fmt.Errorf("%w: realm %q: changing between an Authorizer that decides at once and one that may wait needs a restart",
			ErrConfig, rc.Name)
	}
	rm.auth.Store(&rc.Authenticators)
	rm.authz.Store(z)
	if z == nil {
		return nil
	}
	return rm.revokeUnauthorized(ctx, z)
}

// limit applies the rule of the Max fields of Config: zero means def,
// negative means no limit (returned as 0).
func limit(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// limit64 is limit for byte counts.
func limit64(v, def int64) int64 {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// Defaults of Config and RealmConfig fields documented there.
const (
	defaultMaxRetainedBytes = 64 << 20
	defaultMaxBacklogBytes  = 8 << 20
	defaultMaxHistoryBytes  = 64 << 20
)

// routerRoles is what the router announces in WELCOME.Details.roles: only
// the features it implements (spec advanced "Feature Announcement").
func routerRoles() protocol.Roles {
	return protocol.Roles{
		protocol.RoleBroker: protocol.Features{
			protocol.FeaturePatternBasedSubscription:    true,
			protocol.FeaturePublisherExclusion:          true,
			protocol.FeaturePublisherIdentification:     true,
			protocol.FeatureSubscriberBlackWhiteListing: true,
			protocol.FeatureEventRetention:              true,
			protocol.FeatureSessionMetaAPI:              true,
			protocol.FeatureSubscriptionMetaAPI:         true,
			protocol.FeatureSubscriptionRevocation:      true,
			protocol.FeaturePayloadPassthruMode:         true,
		},
		protocol.RoleDealer: protocol.Features{
			protocol.FeatureProgressiveCallResults:     true,
			protocol.FeatureProgressiveCallInvocations: true,
			protocol.FeatureCallCanceling:              true,
			protocol.FeatureCallerIdentification:       true,
			protocol.FeaturePatternBasedRegistration:   true,
			protocol.FeatureSharedRegistration:         true,
			protocol.FeatureCallTimeout:                true,
			protocol.FeatureSessionMetaAPI:             true,
			protocol.FeatureRegistrationMetaAPI:        true,
			protocol.FeatureRegistrationRevocation:     true,
			protocol.FeatureTestamentMetaAPI:           true,
			protocol.FeaturePayloadPassthruMode:        true,
		},
	}
}

// Connect starts an in-process session transport: it returns the client
// end of a [transport.LocalPair] whose router end the router serves on a
// goroutine of its own. The caller speaks WAMP over the returned peer (the
// first message must be HELLO) and closes it when done; messages cross the
// link without being serialized or copied, so neither side may modify a
// message after sending it. Once the session is established, the peer's
// Send routes the message on the calling goroutine when the session is
// idle (see the package documentation, Concurrency); it never blocks, and
// returns [transport.ErrQueueFull] when LocalQueueSize messages wait.
//
// ctx is checked once before the link is made; the session is not bound
// to it. Connect returns [ErrClosed] after [Router.Close] or
// [Router.Shutdown].
func (r *Router) Connect(ctx context.Context) (transport.Peer, error) {
	return r.connect(ctx, nil)
}

// connect is Connect, with the router's end of the link passed through
// wrap (if not nil) before it is served.
func (r *Router) connect(ctx context.Context, wrap func(transport.Peer) transport.Peer) (transport.Peer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	client, server := newLocalLink(r.cfg.LocalQueueSize)
	var served transport.Peer = server
	if wrap != nil {
		served = wrap(server)
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrClosed
	}
	r.wg.Add(1)
	r.mu.Unlock()
	go func() {
		defer r.wg.Done()
		r.serve(served)
	}()
	return client, nil
}

// serve runs one session over p on the calling goroutine until the
// session ends, then closes p. It is the Handler of the transport servers.
func (r *Router) serve(p transport.Peer) {
	s := newSession(r, p)
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		p.Close(ErrClosed)
		return
	}
	r.sessions[s] = struct{}{}
	r.wg.Add(1)
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.sessions, s)
		r.mu.Unlock()
		r.wg.Done()
	}()
	s.run()
}

// assignID picks a random global-scope session ID that no live session
// uses (spec basic "IDs") and reserves it for s.
func (r *Router) assignID(s *session) protocol.ID {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		id := r.newSessionID()
		if _, used := r.ids[id]; !used {
			r.ids[id] = s
			return id
		}
	}
}

func (r *Router) releaseID(id protocol.ID) {
	r.mu.Lock()
	delete(r.ids, id)
	r.mu.Unlock()
}

// begin marks the router closed and returns what is still running.
func (r *Router) begin() ([]*session, []io.Closer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	ss := make([]*session, 0, len(r.sessions))
	for s := range r.sessions {
		ss = append(ss, s)
	}
	servers := make([]io.Closer, 0, len(r.servers))
	for srv := range r.servers {
		servers = append(servers, srv)
	}
	return ss, servers
}

// Close stops the router at once: it stops its RawSocket servers, closes
// every session's transport without GOODBYE, and returns after every
// goroutine the router started and every session it served has ended.
// Work offered afterwards is refused: [Router.Connect] and
// [Router.ServeRawSocket] return [ErrClosed], and new WebSocket
// connections are closed at once. Close is idempotent and returns nil.
func (r *Router) Close() error {
	ss, servers := r.begin()
	r.cancel()
	closeAll(ss, ErrClosed)
	for _, srv := range servers {
		srv.Close()
	}
	r.wg.Wait()
	r.closers.Wait()
	r.guard.close()
	r.detachCluster()
	return nil
}

// closeAll closes the transports of ss concurrently (a network peer's
// Close waits for its queue to flush, bounded by the transport's close
// timeout) and returns when all are closed.
func closeAll(ss []*session, reason error) {
	var wg sync.WaitGroup
	for _, s := range ss {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.peer.Close(reason)
		}()
	}
	wg.Wait()
}

// Shutdown stops the router gracefully: it refuses new sessions, sends
// GOODBYE wamp.close.system_shutdown to every established session (spec
// basic "Session Closing"), and waits until each has echoed GOODBYE or
// gone away, or until its [Config.GoodbyeTimeout] expired. Sessions still
// in their opening handshake are closed at once. If ctx ends first,
// Shutdown closes the remaining sessions as [Router.Close] does and
// returns ctx.Err(). Either way it returns only after every goroutine the
// router started has exited.
func (r *Router) Shutdown(ctx context.Context) error {
	ss, servers := r.begin()
	for _, s := range ss {
		s.shutdown(protocol.CloseSystemShutdown, "router shutting down")
	}
	done := make(chan struct{})
	go func() { // exits once wg is done, which Shutdown waits for below
		r.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		r.cancel()
		closeAll(ss, ErrClosed)
	}
	for _, srv := range servers {
		srv.Close()
	}
	<-done
	r.cancel()
	r.wg.Wait()
	r.closers.Wait()
	r.guard.close()
	r.detachCluster()
	return err
}
