// Package router implements an embeddable WAMP router: a Broker and a
// Dealer for each of its realms (WAMP spec, basic "Peers and Roles"),
// serving clients over WebSocket, RawSocket and an in-process link.
//
// # Overview
//
// The simplest router serves one realm to WebSocket clients with anonymous
// access:
//
//	r, err := router.New(router.Config{
//		Realms: []router.RealmConfig{{Name: "realm1"}},
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer r.Close()
//	http.Handle("/ws", r.Handler())
//	log.Fatal(http.ListenAndServe("127.0.0.1:8080", nil))
//
// The same router also accepts RawSocket connections (TCP, Unix sockets, or
// TLS with the TLSConfig of [Config].RawSocket), each listener on a goroutine of
// the caller's:
//
//	l, err := net.Listen("tcp", "127.0.0.1:8081")
//	...
//	go r.ServeRawSocket(l) // returns ErrClosed after r.Close
//
// Components in the same process connect without any serialization through
// [Router.Connect], which returns a [transport.Peer]; hand it to the client
// package (client.Join) or speak WAMP messages over it directly:
//
//	peer, err := r.Connect(ctx)
//	peer.Send(ctx, &protocol.Hello{Realm: "realm1", Details: ...})
//
// Everything else is configured in [Config]: several realms, each with
// its own list of [Authenticator]; time limits for the opening handshake and the
// closing GOODBYE; strict URI checking; queue sizes; WebSocket and
// RawSocket options; a *slog.Logger. A Config is read once by [New];
// every field's zero value has a documented default.
//
// [Router.Shutdown] ends every session with GOODBYE
// wamp.close.system_shutdown and waits for the echoes (spec basic
// "Session Closing"); [Router.Close] drops every transport at once. Both
// return after every goroutine the router started has exited.
//
// # Protocol
//
// The router implements the Basic Profile: session establishment with
// HELLO, WELCOME and ABORT (wamp.error.no_such_realm for unknown realms),
// GOODBYE in both directions, SUBSCRIBE, UNSUBSCRIBE, PUBLISH (acknowledged
// or not), EVENT, REGISTER, UNREGISTER, CALL, INVOCATION, YIELD, RESULT and
// ERROR (spec basic "Publish and Subscribe", "Remote Procedure Calls"). It
// announces in WELCOME.Details.roles only the Advanced Profile features it
// implements:
//
//   - broker: pattern_based_subscription (prefix and wildcard, with
//     EVENT.Details.topic), publisher_exclusion (exclude_me),
//     subscriber_blackwhite_listing (exclude, eligible and their _authid
//     and _authrole forms), publisher_identification (disclose_me).
//   - dealer: progressive_call_results, call_canceling (CANCEL modes skip,
//     kill and killnowait, INTERRUPT), caller_identification (disclose_me,
//     REGISTER.Options.disclose_caller), pattern_based_registration
//     (prefix and wildcard, with INVOCATION.Details.procedure; a call goes
//     to the exact registration, else the longest matching prefix, else
//     the most specific wildcard), shared_registration (invocation
//     policies single, roundrobin, random, first, last; the first
//     registrant fixes the policy), call_timeout (CALL.Options.timeout
//     in milliseconds, run by the dealer: ERROR wamp.error.timeout to the
//     caller and INTERRUPT killnowait to the callee),
//     progressive_call_invocations (see below).
//   - both: session_meta_api (events wamp.session.on_join and on_leave;
//     procedures wamp.session.count, list, get, kill, kill_by_authid,
//     kill_by_authrole and kill_all), answered by the router itself on the
//     caller's goroutine.
//   - dealer: registration_meta_api (spec advanced "Registration Meta
//     API"): events wamp.registration.on_create, on_register,
//     on_unregister and on_delete; procedures wamp.registration.list,
//     lookup, match, get, list_callees and count_callees.
//   - broker: subscription_meta_api (spec advanced "Subscription Meta
//     API"): events wamp.subscription.on_create, on_subscribe,
//     on_unsubscribe and on_delete; procedures wamp.subscription.list,
//     lookup, match, get, list_subscribers and count_subscribers.
//   - dealer: testament_meta_api (spec advanced "Session Testament"):
//     procedures wamp.session.add_testament(topic, args, kwargs;
//     publish_options, scope) and wamp.session.flush_testaments(; scope),
//     scope "destroyed" (default) or "detached". A testament is checked
//     like a PUBLISH when it is added (topic outside the wamp namespace,
//     publish options of the right types) and published as if by the
//     session, with its publish options (acknowledge is ignored), once the
//     session has left, after its on_leave event. The router has no session
//     resumption, so every end of a session (GOODBYE from either side, a
//     lost transport, wamp.session.kill, a protocol violation) both
//     detaches and destroys it: the detached testaments go first, then the
//     destroyed ones, each in the order added. wamp.session.kill_all
//     publishes none, as the spec says. A session holds at most
//     [Config].MaxTestaments; beyond that add_testament is answered with
//     ERROR [LimitExceeded].
//   - both: payload_passthru_mode (spec advanced "Payload Passthru
//     Mode"): a CALL, PUBLISH, YIELD or ERROR with ppt_* options is routed
//     without reading its payload, and its ppt_scheme, ppt_serializer,
//     ppt_cipher and ppt_keyid are copied into the INVOCATION, EVENT,
//     RESULT or ERROR. The rules (which ppt_* options are checked, and
//     what a sender or receiver that did not announce the feature gets:
//     ABORT wamp.error.protocol_violation, ERROR
//     wamp.error.invalid_argument or wamp.error.feature_not_supported) are
//     in ppt.go. Messages without ppt_* options pay nothing for it.
//   - dealer: registration_revocation, broker: subscription_revocation
//     (spec advanced "Registration Revocation", "Subscription
//     Revocation"): the meta procedures
//     wamp.registration.remove_callee(registration, session; reason) and
//     wamp.subscription.remove_subscriber(subscription, session; reason)
//     take a session out of a registration or subscription; a client
//     that announced the feature gets UNREGISTERED or UNSUBSCRIBED with
//     request 0 and Details {registration or subscription, reason}.
//     Pending invocations of a revoked registration still complete. Like
//     the kill procedures they need an explicit permission (see
//     Authorization).
//   - broker: publication_trustlevels, dealer: call_trustlevels (spec
//     advanced "Publication Trust Levels", "Call Trust Levels"), in realms
//     with [RealmConfig].TrustLevels: EVENT and INVOCATION Details carry
//     the trustlevel of the publisher's or caller's authrole.
//
// Meta events are published in the realm of the session concerned, also
// when it leaves (its subscriptions and registrations go with it, each
// with on_unsubscribe or on_unregister, and on_delete if it was the
// last), and in the order of the changes: on_create precedes on_register
// (on_subscribe), on_unregister (on_unsubscribe) precedes on_delete. The
// spec makes no exception for subscriptions to topics of the wamp
// namespace, so subscribing to a meta event is itself announced by the
// subscription meta events. RegistrationDetails and SubscriptionDetails
// carry "created" as an ISO 8601 UTC time to the millisecond
// (2006-01-02T15:04:05.000Z). wamp.registration.lookup and
// wamp.subscription.lookup take the URI and an optional dict of options
// whose "match" (exact by default) selects the policy; match of a
// registration returns the one a CALL would reach, match of a
// subscription every one a PUBLISH would reach (null if none). Unknown
// IDs get ERROR wamp.error.no_such_registration or
// wamp.error.no_such_subscription, malformed arguments
// wamp.error.invalid_argument. While nobody subscribes to a meta event,
// it costs one map lookup.
//
// For operators' consoles the router adds implementation-specific keys
// (spec basic "Extensibility"): session details (wamp.session.get,
// wamp.session.on_join) carry "_joined", when the session joined, in the
// form of "created", and with [Config].Metrics "_messages_in", the
// messages it sent so far, and "_messages_out", the messages the router
// sent on its behalf (its replies, and the EVENTs and INVOCATIONs its
// publications and calls caused; a RESULT counts for the callee that
// yielded it); wamp.registration.get carries "_invocations", the calls sent to
// the registration's current callees (counted under a lock the call
// takes anyway). Outside the reserved namespace it answers two procedures
// of its own from the same table: [ProcedureStats]
// (wampkit.router.stats), the router's sessions and message counts over
// all realms, which an open realm refuses like the kill procedures, and
// [ProcedureSessionPage] (wampkit.session.page), one filtered page of a
// realm's sessions with their details, so that a console watching 10,000
// sessions makes one call per page instead of one wamp.session.get per
// session. Both are authorized like any CALL; clients may not register
// them.
//
// Sessions are authenticated by the realm's [Authenticator]s; [Anonymous]
// is the default (a random authid, never the one HELLO asks for;
// authrole "anonymous", authmethod "anonymous", authprovider "static").
// The built-in authenticators of package
// [github.com/wampkit/wampkit/router/auth] challenge an unknown authid or
// key and refuse it exactly like a wrong secret, so that clients cannot
// find out who exists. Failed authentications are
// throttled per authid and per client address and logged at WARN, rate
// limited, never with a secret ([Config].AuthThrottle, [AuthThrottle]).
//
// URIs are checked with the spec's loose rules, or the strict ones with
// [Config].StrictURIs; a bad URI in SUBSCRIBE, REGISTER, CALL or an
// acknowledged PUBLISH is answered with ERROR wamp.error.invalid_uri (an
// unacknowledged PUBLISH gets no answer at all, spec basic "PUBLISH").
// Clients may subscribe to and call URIs of the reserved wamp namespace,
// but not register or publish there. A spec-defined option of the wrong
// type or out of range (match or invoke not a string, receive_progress or
// disclose_me not a bool, a negative or fractional timeout, exclude or
// eligible not a list of session IDs, ...) fails the request with ERROR
// wamp.error.invalid_argument; unknown options are ignored.
//
// A client that breaks the protocol (a message not allowed in its session
// state per [protocol.Allowed], a malformed message, a YIELD or ERROR for
// an INVOCATION the router never sent, a client-side WELCOME or HELLO in
// an established session, an ERROR for anything but INVOCATION, and with
// [Config].StrictRequestIDs a request ID out of sequence) gets
// ABORT wamp.error.protocol_violation with Details.message; its
// subscriptions and registrations are dropped and its transport closed
// (spec basic "Protocol Errors"). Other sessions are unaffected.
//
// When a callee leaves, each of its pending calls fails with ERROR
// wamp.error.canceled. When a caller leaves, its pending invocations are
// forgotten (with INTERRUPT killnowait to callees that support call
// canceling) and late answers are discarded silently (spec basic "Caller
// Leaving", "Callee Leaving").
//
// # Progressive call invocations
//
// A caller that announced progressive_call_invocations may send a call's
// arguments in chunks (spec advanced "Progressive Call Invocations"): a
// CALL with Options.progress=true starts the call, more CALLs with the
// same request ID and progress=true continue it, and one without progress
// ends the stream. The dealer picks the callee for the first chunk (by the
// registration's invocation policy) and sends every chunk to that callee,
// in order, as an INVOCATION with the first one's request ID and Details
// (the options of the first CALL hold for the whole call; those of later
// CALLs are ignored), with Details.progress=true on all but the final one.
// The callee may answer with progressive results at any time, so both
// directions can stream at once.
//
//   - A CALL with progress=true from a caller that did not announce the
//     feature is a protocol violation. One for a callee that did not
//     announce it, or call_canceling, or for a procedure of the router
//     itself, gets ERROR wamp.error.feature_not_supported.
//   - The call ends as any call does: the callee's final YIELD or ERROR,
//     CANCEL, the call timeout, the callee leaving (ERROR
//     wamp.error.canceled) or the caller leaving (INTERRUPT killnowait). A
//     chunk restarts the call timeout, which thus bounds the silence
//     rather than the length of a stream, as with progressive results.
//     Chunks arriving after the end are discarded without reply (spec
//     "Continuations on Completed Calls"): each session remembers the
//     request IDs of its last 64 ended progressive calls.
//   - Chunks count as one pending call ([Config].MaxPendingCalls). Chunks
//     may fill three quarters of the callee's backlog; a chunk that finds
//     no room ends the call with ERROR wamp.error.no_available_callee to
//     the caller and INTERRUPT killnowait to the callee.
//   - A chunk after the final one while the call is pending, or a CALL
//     repeating the request ID of a pending ordinary call, is a protocol
//     violation. A chunk naming another procedure is discarded.
//   - With [Config].StrictRequestIDs, a CALL whose request ID is not the
//     next one must continue a pending or recently ended progressive call
//     ("Verification of CALL Request IDs"); otherwise, and for a chunk
//     naming another procedure, the session is aborted.
//
// # Concurrency
//
// All methods of [Router] are safe for concurrent use. The router has no
// central loop and no goroutine per realm: each session's inbound
// messages are read and routed on that session's own goroutine (the
// WebSocket or RawSocket connection's goroutine, or one the router starts
// for [Router.Connect]). An in-process session of [Router.Connect] saves
// that hand-off once it is established: the goroutine that sends a
// message routes it itself when no other message of the session is being
// routed or waiting, and otherwise queues it for the session's goroutine
// (Send never waits for another message's routing, and routing never
// waits: in a realm whose [Authorizer] may wait, that is one other than
// [RoleAuthorizer], in-process sessions keep routing on their own
// goroutine). Routing state is made for concurrent reads:
// exact topics and procedures are found in sync.Maps without locks; each
// subscription's subscriber set is an immutable snapshot behind an atomic
// pointer, replaced on subscribe and unsubscribe; prefix and wildcard
// subscriptions and registrations live in tries that cost nothing when
// there are none, and time in the length of the URI, not the number of
// patterns, when there are.
//
// Sending never blocks. Each session has a bounded outbound queue in its
// transport and, behind it, a bounded backlog ([Config].MaxBacklog) that
// keeps the order of its messages and is drained by a goroutine of the
// session's own while the client catches up. What happens when a client
// falls further behind is the realm's [SlowConsumerPolicy]
// ([RealmConfig].SlowConsumer): [SlowConsumerDisconnect] (the default)
// disconnects it with a logged reason once its backlog is full or has
// waited [Config].SlowConsumerWait for room; [SlowConsumerDropEvents]
// drops the EVENTs for it and counts them (wamp.session.get's
// "_dropped_events"). Either way a CALL to a callee whose backlog is full
// is answered at once with ERROR wamp.error.no_available_callee, and
// RESULTs and ERRORs for callers are never dropped: a caller that does not
// take them is disconnected. A publisher is never held back by its
// subscribers, nor a caller by its callee.
// Acknowledged publishing does not change this: PUBLISHED means the
// events were queued, not consumed, and a subscriber slower than its
// publisher fills its queue eventually.
//
// Messages are shared, not copied: the EVENT of one publication is one
// value for every in-process subscriber and is encoded at most once per
// serializer for network subscribers (serialize.Shared). Neither the router
// nor any client may modify a message after sending it.
//
// # Limits
//
// Every resource a client can make the router hold is bounded, each by a
// [Config] or [RealmConfig] field with a documented default: the opening
// handshake ([Config].HandshakeTimeout) and authentication
// ([Config].AuthTimeout, ABORT wamp.error.timeout); the size of a message
// ([Config].MaxMessageSize, enforced by the WebSocket and RawSocket
// transports, which fail the connection); sessions per router and per
// realm ([Config].MaxSessions, [RealmConfig].MaxSessions); and per
// session, pending calls, subscriptions and registrations
// ([Config].MaxPendingCalls, MaxSubscriptions, MaxRegistrations); retained
// events per realm, in count and in bytes ([RealmConfig].MaxRetained and
// MaxRetainedBytes, beyond which retention is declined) and kept history
// ([HistoryConfig].Limit, MaxAge, [RealmConfig].MaxHistoryBytes). A
// refused session gets ABORT [LimitExceeded], a refused request ERROR
// [LimitExceeded], with a message that names the limit.
//
// # Ordering
//
// The spec's ordering guarantees (spec basic "Ordering Guarantees") follow
// from handling each session's messages one at a time and in order (on
// its goroutine, or on the sender's, see Concurrency) and
// from FIFO outbound queues: a publisher's events reach each subscriber in
// publication order, even across topics; a caller's invocations reach
// each callee in call order; SUBSCRIBED precedes every EVENT of the
// subscription and REGISTERED every INVOCATION of the registration; and a
// publication or call made after the client has read SUBSCRIBED or
// REGISTERED reaches the new subscription or registration. INVOCATION
// request IDs reach each callee in sequence. The converse is weaker: an
// EVENT of a publication routed concurrently with an UNSUBSCRIBE may
// still arrive after UNSUBSCRIBED (clients drop events of subscriptions
// they no longer have), while no INVOCATION follows UNREGISTERED.
//
// # Authentication
//
// A realm without Authenticators admits anonymous sessions ([Anonymous]).
// Package [github.com/wampkit/wampkit/router/auth] holds the other
// built-in methods: ticket, WAMP-CRA (with and without salt),
// WAMP-Cryptosign and WAMP-SCRAM (Argon2id or PBKDF2) (WAMP spec,
// advanced authentication.md, authentication_wampcra.md,
// authentication_cryptosign.md, authentication_scram.md); any type
// implementing [Authenticator] can stand beside them:
//
//	router.RealmConfig{Name: "realm1", Authenticators: []router.Authenticator{
//		&auth.Ticket{Principals: map[string]auth.Principal{
//			"alice": {Secret: "s3cret", Role: "user"},
//		}},
//	}}
//
// # Authorization
//
// A realm with an [Authorizer] ([RealmConfig].Authorizer) asks it before
// it routes a CALL, REGISTER, PUBLISH or SUBSCRIBE (spec advanced
// "Authorization"); a realm without one (an open realm) allows everything,
// at the cost of one nil check, except what needs an explicit permission:
// the destructive meta procedures wamp.session.kill, kill_by_authid,
// kill_by_authrole and kill_all, wamp.registration.remove_callee and
// wamp.subscription.remove_subscriber, and the router-wide
// wampkit.router.stats, are refused with ERROR
// wamp.error.not_authorized, and the session details of wamp.session.get,
// wamp.session.on_join and wampkit.session.page leave out "transport"
// (the peer's address). A realm with an Authorizer answers both to whom
// it allows. The router's meta procedures and meta topics (wamp.*), and
// its own procedures (wampkit.router.stats, wampkit.session.page), are
// authorized like any other URI, and wamp.subscription.get_events
// also requires subscribe on the subscription's topic (spec advanced
// "Event History"). Testaments are authorized as a PUBLISH of their topic
// when wamp.session.add_testament adds them. A denied request is answered
// with ERROR wamp.error.not_authorized; an Authorizer's error with ERROR
// wamp.error.authorization_failed, and logged. A denied unacknowledged
// PUBLISH is dropped without an answer (spec basic "PUBLISH").
//
// Authorization holds for what is delivered, not only for what is asked.
// With a [RoleAuthorizer], a prefix or wildcard subscription carries only
// the EVENTs of topics its session's role may subscribe to, and a call
// reaches a callee through a pattern registration only if the callee's
// role may register the called procedure; retained events and event
// history follow the same rule, and the meta API shows a session only the
// subscriptions and registrations whose URIs its role may use (others do
// not exist for it). Any other Authorizer is asked once per pattern, and
// allowing a pattern allows every URI it matches (see [Authorizer]).
// Calls in the reserved wamp namespace are answered by the router only,
// never by a client's pattern registration.
//
// The Authorizer runs on the goroutine of the session that asks, so a slow
// one holds up only that session, for at most
// [RealmConfig].AuthorizeTimeout, never an in-process client's Send (see
// Concurrency). [RoleAuthorizer] is a
// static table of [Permission] rules per authrole that decides without
// waiting or allocating:
//
//	roles, err := router.NewRoleAuthorizer(map[string][]router.Permission{
//		"frontend": {{URI: "com.example.api.", Match: protocol.MatchPrefix, Call: true, Subscribe: true}},
//		"backend":  {{URI: "com.example.", Match: protocol.MatchPrefix, Register: true, Publish: true}},
//	})
//	...
//	router.RealmConfig{Name: "realm1", Authorizer: roles}
//
// # Metrics and logs
//
// With [Config].Metrics set to a prometheus.Registerer, the router exports
// Prometheus collectors named wampkit_router_* (see the field for the
// list). Counting a message costs a plain load and store in memory of the
// session's own, written only by the goroutine that routes its messages;
// a scrape adds the sessions' counts up. The router logs each session's
// join and leave at INFO (with the realm, authid, authrole, authmethod,
// transport and remote address; the reason and duration), failed
// authentications at WARN (rate-limited, never a secret) and what it
// drops or refuses for limits at WARN.
//
// # Event retention and history
//
// A PUBLISH with Options.retain = true also becomes its topic's retained
// event, and a SUBSCRIBE with Options.get_retained = true gets, right
// after SUBSCRIBED and before the EVENTs of later publications, the newest
// retained event it would have received (black/white lists and
// exclude_me as published), with Details.retained = true; a pattern
// subscription gets that of every matching topic (spec advanced "Event
// Retention"). Retained events last as long as the router;
// [RealmConfig].MaxRetained bounds the topics that have one, and
// MaxRetainedBytes their size.
//
// [RealmConfig].EventHistory keeps the recent events of chosen topics or
// patterns in rings of fixed size (and optional age), each with a
// subscription of the router's own, read with the meta procedure
// wamp.subscription.get_events(subscription, limit?) and its keyword
// filters (spec advanced "Event History"); event_history is announced
// only in realms that configure it:
//
//	router.RealmConfig{Name: "realm1", EventHistory: []router.HistoryConfig{
//		{Topic: "com.example.log", Match: protocol.MatchPrefix, Limit: 1000, MaxAge: time.Hour},
//	}}
//
// # Not yet implemented
//
// Cryptosign certificates and trustroots; dynamic authorization that
// revokes existing subscriptions or registrations (a decision holds for
// what it admitted).
package router
