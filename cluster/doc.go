// Package cluster joins wampkit routers into one cluster through NATS:
// several routers (nodes), each serving the same realms, act as one
// router. It implements [router.Cluster]; the router package itself knows
// nothing of NATS, and a program that embeds a single router does not
// import this module.
//
// # Overview
//
// Connect a node to NATS (a server with JetStream enabled) and hand the
// result to the router:
//
//	c, err := cluster.New(ctx, cluster.Config{URL: "nats://127.0.0.1:4222"})
//	if err != nil {
//		log.Fatal(err) // NATS unreachable: try again, or give up
//	}
//	r, err := router.New(router.Config{
//		Realms:  []router.RealmConfig{{Name: "realm1"}},
//		Cluster: c,
//	})
//	...
//	r.Close() // the router first: it detaches from the cluster
//	c.Close() // then the cluster: it leaves NATS
//
// Every node must serve the same realms with the same authentication and
// authorization config: a session is authenticated and authorized on the
// node it is connected to, and every node trusts the others.
//
// # What crosses nodes
//
//   - Events. An event published on any node reaches every eligible
//     subscriber on every node exactly once, with exact, prefix and
//     wildcard subscriptions; black and white lists by session ID, authid
//     and authrole, publisher identification, trust levels and payload
//     passthru keys travel with it and are applied on the receiving
//     node, which also authorizes what a pattern subscription receives.
//     An acknowledged PUBLISH that could not be handed to NATS is
//     answered with ERROR [router.ClusterUnavailable] (the node's own
//     subscribers got it).
//
//   - Session IDs are unique over the cluster (see below).
//
//   - Calls. A registration is unique in the cluster (a REGISTER on
//     another node gets wamp.error.procedure_already_exists); shared
//     registrations span nodes with one invocation policy, and exact,
//     prefix and wildcard registrations resolve with the usual
//     precedence over the whole cluster. A call reaches a callee on
//     another node with its caller's identity and trust level; RESULT,
//     ERROR (URI and payload), progressive results, the call timeout and
//     cancellation (kill, killnowait and skip) work across the hop, and
//     so do progressive call invocations, whose chunks reach the callee
//     in the order the caller sent them; a call to a node that dies or
//     loses NATS fails on the caller's node with wamp.error.canceled
//     within a second, and its procedures disappear from the other nodes.
//     A call also fails at once with wamp.error.canceled, as when a
//     callee leaves a single router, when one of the sessions that
//     carry it (see "Calls") ends while both nodes stay up (the router
//     aborts it, say, on a protocol violation); a new session then
//     carries the later calls.
//
//   - The meta API (see "Meta API" below). wamp.session.count, list, get
//     and the kill procedures, and the registration and subscription
//     meta procedures, answer over the whole cluster; a registration or
//     subscription has the same ID on every node. Meta events reach
//     subscribers on every node, once. The sessions this package opens
//     on each node (authrole router.ClusterAuthRole) are never shown,
//     killed or announced.
//
//   - Testaments. A session's testaments are stored in JetStream, and
//     published by one surviving node, after the session's
//     wamp.session.on_leave, if the session's node dies.
//
//   - Retained events (spec advanced "Event Retention") are the
//     cluster's: a SUBSCRIBE with get_retained on any node gets the
//     newest retained event of each matching topic published on any
//     node, under the same rules as on one router (black and white
//     lists, exclude_me, publisher disclosure, pattern subscriptions
//     authorized topic by topic), even after the publisher's node died;
//     when two nodes retain on one topic at once, every node ends up
//     with the one JetStream stored last. See "Retention and history"
//     below.
//
//   - Event history (spec advanced "Event History",
//     router.RealmConfig.EventHistory) is the cluster's:
//     wamp.subscription.get_events on any node shows the events
//     published on every node, in the one order JetStream stored them,
//     limited as configured.
//
// A shared registration's policy applies on each node among its own
// callees and one stand-in per other node, which counts as many callees
// as it stands for (each node counts its callees in the registrations
// bucket, a moment after they register or leave, see order.go): random picks every callee of the cluster with
// the same probability, and roundrobin gives a stand-in as many turns in
// a row as its node has callees, which that node takes in turn, so that
// the calls of one node's callers visit every callee of the cluster once
// per cycle (callers on several nodes each keep their node's cycle).
// First and last follow the order in which the callees registered over
// the whole cluster (the registrations bucket gives each callee of such
// a registration a place, see order.go), so callers on every node pick
// the same callee. Known differences from a single router: a moment
// after a callee registers or leaves, until the nodes have caught up
// with the bucket, callers on different nodes may still pick
// differently, or by the counts before. A node's stand-in sessions count
// against Config.MaxRegistrations like any session, and the sessions
// that make other nodes' calls (one per stand-in) against
// Config.MaxPendingCalls; payload passthru mode does not cross nodes
// (such a call gets the error of a callee that does not support it).
//
// # Design
//
// Events travel on NATS subjects that mirror their topics:
// "<prefix>.ev.<realm>.<topic components>" (see subject.go for the
// escaping). A node subscribes, once per subscription of its router (a
// topic and match policy shared by all its local subscribers), to the
// subject of the topic, of the wildcard pattern with '*' for its empty
// components, or of a prefix's fixed components followed by '>'. So the
// NATS servers carry an event only to the nodes where some session
// subscribes to a matching topic: a node forwards to NATS what it
// publishes, once, and NATS forwards it by interest, never as a
// broadcast to every node. This was chosen over one subject per realm,
// filtered on arrival, because that sends every event to every node; and
// over an interest index of our own kept by the nodes, because NATS
// already keeps, propagates and cleans up interest (a node that dies or
// loses NATS loses its subscriptions with its connection), which this
// package must not reinvent.
//
// A publication is encoded once, whatever the number of nodes and
// subscribers, as a MessagePack WAMP PUBLISH (see envelope.go), and
// decoded once per node: a message that matches several subscriptions of
// a node reaches it once per subscription, back to back, and the node
// decodes it only once. On the receiving node the event goes through the
// router's ordinary delivery, which encodes it at most once per
// serializer for all of the subscription's local subscribers.
//
// Every subscription of a node delivers into one queue in the order the
// node's NATS connection read the messages, and one goroutine drains it.
// As NATS keeps the order of one connection's messages, and all the
// sessions of a node publish through its one connection, the events of
// one publisher reach each subscriber in publication order, across
// topics too (spec basic "Ordering Guarantees"). A prefix subscription's
// subject is coarser than the prefix ("com.ex" subscribes to "com.>");
// the router drops what does not match.
//
// A new subscription waits (up to [Config.SyncTimeout]) for the NATS
// server to confirm it before the router answers SUBSCRIBED, so an event
// published anywhere after a client has read SUBSCRIBED reaches it, when
// the nodes share a NATS server. Between servers of a NATS cluster,
// interest travels asynchronously, within milliseconds.
//
// Session IDs are 53 bits: the top 10 are the node's slot, the other 43
// are drawn at random. A node claims its slot at start in a JetStream
// key-value bucket ("<prefix>_nodes") with a create-if-absent write,
// renews it every [Config.LeaseTTL]/3, and deletes it on Close; the
// bucket's TTL frees the slot of a node that died. This costs no round
// trip per session, and an ID tells which node holds the session.
//
// # Calls
//
// A JetStream key-value bucket ("<prefix>_regs") has one key per
// registered procedure and match policy of a realm, whose value is the
// invocation policy and the slots of the nodes that hold it; nodes change
// it with compare-and-set writes, so two nodes never both hold a single
// registration. (A node writes it when its first callee of the procedure
// registers and its last leaves; for shared registrations, when any of
// its callees does, to give each callee its place in the cluster's order
// and count each node's callees.) This was chosen over asking an owner node, which would
// need an owner elected and a round trip per REGISTER to it anyway. Every
// node watches the bucket and keeps, for each other node that holds
// procedures in a realm, a stand-in: a session of its own router without
// a client (see router.ClusterNode.Link) that registers them locally. A
// CALL thus resolves on the caller's node, without a round trip, by the
// router's own rules. The router hands the stand-in's INVOCATION to the
// cluster on its own goroutine, which encodes it once, as the CALL to
// make, into a frame for the holding node; there a relay session (one per
// stand-in, also without a client) routes that CALL to the node's own
// callees (never another stand-in) with the caller's identity and trust
// level, and the router hands the relay's RESULT or ERROR back the same
// way, as the stand-in's YIELD or ERROR. INTERRUPT travels as CANCEL
// with its mode, so kill, killnowait and skip behave as on one router.
// The routers keep the calls' state (pending calls, invocations,
// timeouts); the cluster keeps none per call. So when a relay's session
// ends with its node still up, the router answers the relay's pending
// calls with ERROR wamp.error.canceled (router.ClusterDeliver), which
// travel back like any answer, and the next CALL opens a new relay; when
// a stand-in's session ends, the router fails its calls as a leaving
// callee's, and the node registers the other node's procedures again
// with a new stand-in. Either session may end with an ABORT (a protocol
// violation) or without one (its link closed): the router then delivers
// an ABORT of its own as the session leaves (GOODBYE if the router is
// closing), so the cluster learns of every end. A chunk of a progressive
// call invocation that reaches the callee's node after the relay that
// made its call ended (it was on its way when the caller's node learned
// of the end) is discarded without reply, as the spec has a dealer
// discard a chunk of a completed call ("Continuations on Completed
// Calls"), and counted in [Stats].LateChunks: its caller got
// wamp.error.canceled, and a new relay would make it a call of its own,
// whose answer nobody waits for. The relay's stand-in numbers its
// INVOCATIONs in order, so the chunk is known by its request ID: no
// higher than the last CALL the relay (or one before it for the same
// stand-in, in the last minute) made.
// The other nodes learn of a registration a moment after REGISTERED: a
// CALL that finds no callee first waits for its node to catch up with the
// bucket (see sync.go and router.ClusterSync), so that a call made after
// a callee read REGISTERED reaches it from any node.
//
// Frames to one node travel in order on its subject
// ("<prefix>.node.<slot>.rpc"), batched: one goroutine per node encodes
// what gathered for each other node and publishes it as one NATS
// message, and under load it first yields while that brings more, so
// that one message, one socket write and one wake-up of the receiving
// node serve many calls. They have a NATS connection of their own: each
// node keeps two, the second named "<name> calls", which carries the
// frames and the pings below and nothing else, and whose read loop
// handles the frames it reads before it reads again, without handing
// them to another goroutine (see dial.go): a lone call's message wakes
// one thread of the receiving node, not two. Nodes answer on
// "<prefix>.node.<slot>.ping"; each node pings every 400 ms the nodes
// that hold procedures, that it has stand-ins for or that call it, and
// NATS says at once when nobody listens there any more: that node is
// gone, its calls fail with wamp.error.canceled and its holdings are
// removed from the bucket.
//
// What a cross-node call costs the routers, against a same-node call,
// depends on the load (wampload -nodes 1,2 in the integration module
// measures wampd processes with real sockets; on a shared 2-core VM):
// with 32 callers at once, about twice the CPU of the wampd processes
// per call (1.9 times over RawSocket on a quiet machine: 61 against 32
// us; NATS adds 25 us); for a lone call about four times (213.5
// against 53 us over RawSocket), as each of the two nodes' processes
// wakes from idle twice per call and their threads switch about 9 times
// per call together, against 2 for one router. Each node also wakes a
// second thread once per call: nats.go's Publish hands every message to
// its flusher goroutine, and making a goroutine runnable while the other
// processor is idle makes the Go runtime wake a thread to look for work,
// about 25 us on a VM each time (with GOMAXPROCS=1, which leaves no
// processor idle, the same call costs about 160 us). The frames
// connection's read loop handles the frames itself (see dial.go), which
// took a lone call from 12.5 to 9 switches and 258.5 to 213.5 us, and
// its sockets are read and written without waking the Go runtime's
// sysmon thread (see internal/sysio), which took it from 20 switches
// and 399 us.
// With in-process clients, whose calls cost almost nothing on one router
// (BenchmarkCall, 32 calls at once: 2.5 to 3 us of CPU per call in the
// routers and clients, 4 allocations), a cross-node call costs 12 to 16
// us, 15 allocations, and 6 us in the NATS server. The rest is mostly
// not the routers' work but the NATS connection's socket writes and
// reads (a NATS message carries about four frames in that benchmark)
// and the scheduler's hand-offs to and from its goroutines; the second
// router's work and the encoding and decoding of each frame (of its
// options only once per distinct options, see optcache.go) come after.
//
// # Meta API
//
// A meta procedure is authorized, and its answer filtered by what the
// caller may see, on the caller's node, as on one router. The part of
// the answer that other nodes hold is asked for on "<prefix>.meta.<realm>"
// (a NATS request that every other node answers, router.ClusterNode's
// AnswerMeta, from its own sessions, registrations and subscriptions) and
// merged on the caller's node. The caller's node expects as many answers
// as there are other nodes with a lease in the "<prefix>_nodes" bucket,
// for at most [Config.MetaTimeout]: a node that has not answered by then
// is left out of the result, and logged. Each node keeps those leases
// from a watch of the bucket (renewals, releases, and leases not renewed
// for [Config.LeaseTTL]), not from a listing per request: nats.go's key
// lister can end before its last key while leases are renewed, which
// would leave a live node out without a trace. A meta procedure whose
// answer needs the other nodes thus costs one NATS round trip to all of
// them. A kill procedure ends the sessions it
// names on every node, with the reason and message given; the caller is
// never among them. An answer travels as one NATS message, so a node
// whose answer exceeds the NATS servers' max_payload (1 MiB by default;
// about 60,000 sessions for wamp.session.list) is left out, and logged.
// The router's own procedures for consoles answer over the cluster too:
// wampkit.router.stats sums the nodes' figures and lists each node's
// (with its [Config.Name]), and wampkit.session.page pages, filters and
// counts the sessions of every node, with two round trips (the nodes'
// matching session IDs, up to the end of the page, then the details of
// the page's sessions), so that no answer carries more than a node's
// session IDs or one page of details.
//
// Registration and subscription IDs are derived from the realm, the URI
// and the match policy (a 53-bit hash): the registration of a procedure
// has the same ID on the node that holds it and on the nodes whose
// stand-ins register it, and a subscription the same ID on every node
// with a subscriber to it, so an ID one node gives names the same thing
// on every node. The ID of a registration or subscription deleted and
// made again is the same as before (on one router it is new); on a hash
// collision on one node, that node numbers the newcomer itself. The
// subscriptions of the event history, made when the router starts, keep
// per-node IDs. wamp.registration.list_callees shows the callees' own
// session IDs, never a stand-in's.
//
// Meta events travel like events, on the subjects of their topics, so
// only to the nodes with a subscriber. A registration is announced once:
// the nodes that mirror it with a stand-in do not announce it, and a
// callee on a second node joins the existing (mirrored) registration
// there, unless it registers within the moment before the mirror
// arrives there. A known difference: a subscription that spans nodes is
// announced by wamp.subscription.on_create (and on_delete) of each node
// where its first subscriber subscribes (and its last leaves), not once
// for the cluster; its ID is the same in each.
//
// When a node dies, one survivor publishes wamp.session.on_leave for
// each of its sessions, then their testaments (see below). For that,
// each node records its sessions (realm, authid, authrole) in the
// key-value bucket "<prefix>_sessions" ([Config.SessionBytes]), written
// when a session joins and deleted when it leaves, on a goroutine of the
// node's own so that joining does not wait for JetStream: a session that
// joined a moment before its node died may have no record, and then no
// on_leave; a session's testaments are stored only once its record is
// written, so that its on_leave always precedes them. Should the records not fit, or the queue of writes fill up,
// that is logged.
//
// # Testaments
//
// A session's testaments (spec advanced "Session Testament") are written
// to the JetStream key-value bucket "<prefix>_testaments" whenever they
// change, before add_testament or flush_testaments is answered; its size
// is bounded by [Config.TestamentBytes], and a write that does not fit
// (or cannot be made) refuses the call with router.ClusterUnavailable.
// The key, "<slot>.<hex node name>.<session ID>", is deleted when the
// session ends on its node, with a compare-and-set on its revision; the
// node publishes the testaments itself only if that delete succeeds (or
// NATS cannot be reached: then its own subscribers get them). Every node
// watches the bucket's keys and, every [Config.LeaseTTL]/3, checks the
// nodes its watch of "<prefix>_nodes" showed at its last check and those
// with testaments: a node whose slot lease there has expired, or is held by
// another node, is gone. The survivor that first creates the key
// "gone.<slot>.<hex node name>" in "<prefix>_sessions" publishes the
// on_leave of the gone node's sessions, then their testaments (detached
// before destroyed, with their options), each after deleting its key
// with a compare-and-set, so that each is published once and by one
// node, in that order; it then deletes the marker. A node that dies
// (SIGKILL) thus has its sessions' on_leave and testaments published
// within about 1.33 x LeaseTTL (8 s by default). The lease, not the
// pings of "Calls", decides, so that a NATS outage short of LeaseTTL
// publishes nothing. A node cut off for longer is taken for gone by the
// others, which cannot tell it from a dead one: they publish its
// sessions' on_leave and testaments although the sessions live on. So
// when the node is back and has claimed a lease again, it checks its
// sessions' records (sessions.go, meta.recheck; one listing of the
// bucket's keys, and a read of each record the listing lacks) once every
// sweep that began before has ended: each session whose record another node
// claimed ends, with GOODBYE wamp.close.killed and without a second
// on_leave or its testaments (router.ClusterNode.EndSessions), so that
// the cluster's view holds again and the session's client joins anew
// (client.DialReconnecting does). Its other sessions, and those that
// joined while it was cut off (whose records it writes then), stay.
//
// # Failure
//
// A node that loses NATS reconnects by itself, endlessly; its
// subscriptions are made again on reconnection. While it is cut off the
// NATS client keeps the node's outgoing events in its reconnect buffer
// (8 MiB by default, see nats.ReconnectBufSize) and sends them on
// reconnection; an event that does not fit, or is larger than the NATS
// servers accept, is counted in [Stats].ForwardFailed and logged. Events
// from other nodes that the node cannot deliver fast enough overflow
// its queue ([Config.QueueSize]): they are counted in [Stats].Dropped and
// logged. Nothing is dropped without a count and a log line (logged at
// most once per 10 s per kind, with the number since the last line).
// Core NATS does not keep messages for a node that is cut off: events
// published elsewhere while a node has no connection do not reach that
// node's subscribers, and are not counted.
// The messages of calls for another node (CALL, CANCEL, YIELD, ERROR)
// wait in that node's queue, as the router's values, until the node's
// sender encodes and publishes them (see "Calls"); while the NATS
// connection is slower than the router, or cut off, the queue grows. It
// is bounded in bytes, by the router's estimate of each message
// (router.MessageSize; [Config.CallQueueBytes], 8 MiB by default), so
// that however large the messages a peer sends, a node holds at most
// that per other node: a CALL that does not fit fails at once with
// ERROR router.ClusterUnavailable, and a progressive result that does
// not fit cancels its call (mode kill), whose final answer then tells
// the caller. A message that ends a call (a final YIELD, an ERROR, a
// CANCEL) may use as much room again, so that a call the routers
// admitted is not left waiting for an answer; past that, a YIELD or
// ERROR goes as ERROR router.ClusterUnavailable instead, and a CANCEL as
// it is (their number is bounded by the calls pending). Each refusal is
// counted in [Stats].CallsRefused and logged.
// A CALL, RESULT or ERROR larger than the NATS servers carry (their
// max_payload, 1 MiB by default) ends its call with ERROR
// wamp.error.payload_size_exceeded on the caller's node (see size.go).
// Core NATS does not keep the messages of calls either: one published
// for a node whose frames connection is not (yet) back at its server
// reaches nobody. So when a node is back after losing NATS (both its
// connections), the calls its sessions wait for on other nodes fail
// with wamp.error.canceled, and it says so on
// "<prefix>.node.<slot>.back", upon which the other nodes fail the calls
// they wait for on it the same way: a call that crossed a NATS outage
// may fail although its callee ran, but none waits forever. (While a
// node is cut off, its monitor fails them too, at its next tick.)
// A path to NATS can also die without closing the connection (a
// partition that drops packets, a server that stopped reading): NATS
// then still lists the node's subscriptions, so the others do not find
// it gone. A node that answers none of the others' pings for about 4 s
// (three in a row) is taken as silent: the calls waiting on it fail
// with wamp.error.canceled, and so do those made on it later, each
// monitor round while it stays silent; its registrations stay, since a
// node that was only busy keeps serving. The silent node itself finds
// out from its NATS connections: a write that NATS does not take within
// 2 s fails, and a server that answers none of its pings for 4 to 6 s
// is dropped, either way the connection is made again (so that a
// publishing session waits 2 s at most), and the node is cut off as
// above until it reconnects.
// The registrations a node holds come back with it: another node that
// found it gone removed it from their keys in the registrations bucket,
// and when the node sees a value of a key it holds without it (or no
// value), at once or when it watches the bucket anew after
// reconnecting, it claims the key again (order.go, writeClaims), so
// that its callees are callable from the other nodes without
// registering anew. If another node registered the procedure meanwhile
// in a way that excludes it (single, another policy), it gives the
// procedure up (yield): the router revokes the registration from its
// callees (router.ClusterNode.RevokeRegistration) and its callers reach
// the holder's, so the procedure has one holder again. The places of its
// callees of a first or last registration come back with the holding:
// the node remembers them, so a callee that registered first is first
// again for every node's callers.
// [New] fails, with a message that names the URL, when no NATS server
// answers: the caller decides whether to wait and try again or to exit.
//
// # Retention and history
//
// Both are JetStream streams (on disk, [Config.Replicas] replicas). A
// realm's retained events are one stream, "<prefix>_retained_<hash of
// the realm>", with a subject per topic ("<prefix>.rt.<realm>.<topic
// components>", escaped as for events) and at most 8 messages per
// subject: the router keeps, besides a topic's newest retained event,
// the earlier ones back to the last without black or white lists, so
// that a subscriber left out of the newest still gets the newest it may
// see. That is nearly a key-value bucket (a stream with a few messages
// per subject), but a bucket's keys may not hold the escaped topics
// ('%'), and the store needs no more of a bucket than the stream gives.
// The stream's bytes are bounded by
// the realm's MaxRetainedBytes, and so is each message, oldest
// discarded first, so that no peer can make JetStream hold more than
// the router would.
//
// A node retains its own publishers' events itself, as a single router
// does, then publishes them to the stream asynchronously: the publisher
// does not wait for JetStream, and PUBLISHED does not say that JetStream
// stored the event (as it does not say that other nodes received it), so
// a node killed right after answering may take its last retained events
// with it; the spec asks brokers for no more (retention "MUST NOT be
// interpreted as permanent or reliable storage"). Every node reads its realms' streams
// from the start, when it attaches (its router answers nothing before it
// has read what was stored, or for at most 5 s), and then as they grow,
// with an ordered consumer, and hands each message to its router
// (router.ClusterNode.Retained) in stream order. So every node holds the
// same retained events, and the newest in the stream's order wins. A
// node holds its own event before JetStream orders it: while it is on
// its way, an event of that topic that the stream gives back is handed
// to the router only once it is known to be newer (by the sequence in
// JetStream's acknowledgement of the node's own), and dropped if it is
// older. So a topic's retained event never goes back in time on the
// node that just retained a newer one, and the node still ends with the
// stream's newest, even when the stream's per-topic limit discarded the
// node's own event before the node read it back. (When events of the
// topic have black or white lists, the node may then keep fewer of the
// earlier events for the subscribers the newest leaves out than the
// other nodes do.) SUBSCRIBE with
// get_retained is then answered from the node's memory, with no round
// trip. Every node thus receives every retained event of the cluster:
// retention is meant for topics whose last value matters, published now
// and then, not for every event.
//
// Each entry of a realm's EventHistory is a stream of its own,
// "<prefix>_history_<hash of realm, policy and topic>", limited like the
// router's log: Limit messages, MaxAge (at least a second), and the
// entry's share of MaxHistoryBytes in bytes and per message, oldest
// discarded first. (One stream per entry, as entries may overlap, and
// a history is per subscription: an event on a topic that two entries
// match is kept in both, as on one router.) The node where an event is
// published adds it to every matching entry's stream, asynchronously;
// events published with session-ID lists are not kept, as on one
// router. wamp.subscription.get_events reads the stream on whichever
// node it is called, with an ordered consumer, and the router applies
// the query and the caller's authorization and lists to what it got.
// The event's timestamp is the one JetStream stored, the same on every
// node. Each node keeps its own history besides, as a single router
// does, but does not answer from it in a cluster.
//
// When JetStream is unreachable (NATS is, or JetStream lost its quorum),
// a PUBLISH is still delivered live on every node it reaches, and an
// acknowledged one still gets PUBLISHED: the spec lets a broker decline
// retention (and history is best effort too), so the publication
// succeeded. The event is retained on its own node only, and it and
// each history event JetStream did not store within 5 s are counted in
// [StoreStats] and logged (at most once per 10 s, with the count).
// wamp.subscription.get_events fails with
// router.ClusterUnavailable rather than answer with a partial history.
// Every node must configure the same realms, limits and history entries:
// the last node to start sets a stream's limits.
//
// # Concurrency
//
// A Cluster serves one router. Its methods may be called concurrently;
// the router calls them as [router.Cluster] describes. Close waits for
// the goroutines the Cluster started: the lease renewal and watch and,
// while a router is attached, the delivery loop.
package cluster
