package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// Defaults used when the corresponding [Config] field is zero.
const (
	// DefaultPrefix starts every subject and bucket name of a cluster
	// (see [Config.Prefix]).
	DefaultPrefix = "wampkit"
	// DefaultLeaseTTL is how long a node's claim on its session ID range
	// outlives the node (see [Config.LeaseTTL]).
	DefaultLeaseTTL = 6 * time.Second
	// DefaultQueueSize is the most events from other nodes that wait for
	// delivery on a node (see [Config.QueueSize]).
	DefaultQueueSize = 1 << 16
	// DefaultSyncTimeout bounds the wait for the NATS server to confirm a
	// new subscription (see [Config.SyncTimeout]).
	DefaultSyncTimeout = 2 * time.Second
	// DefaultConnectTimeout bounds each attempt to reach a NATS server
	// (see [Config.ConnectTimeout]).
	DefaultConnectTimeout = 2 * time.Second
)

// Session IDs (spec basic "IDs", global scope) are 53 bits: a node owns
// the IDs whose top slotBits bits are its slot, and draws the rest at
// random.
const (
	slotBits = 10
	slots    = 1 << slotBits
	randBits = 53 - slotBits
)

var (
	// ErrNoJetStream is wrapped by the error of [New] when the NATS
	// server has no JetStream, which the cluster needs for its shared
	// state.
	ErrNoJetStream = errors.New("cluster: JetStream is not enabled on the NATS server")
	// ErrFull is wrapped by the error of [New] when every session ID
	// range of the cluster (1024) is held by a node.
	ErrFull = errors.New("cluster: every node slot is taken")
	// ErrAttached is returned by [Cluster.Attach] for a second router.
	ErrAttached = errors.New("cluster: already attached to a router")
	// ErrClosed is returned by [Cluster.Publish] and [Cluster.Attach]
	// after [Cluster.Close].
	ErrClosed = errors.New("cluster: closed")
)

// Config configures a [Cluster]. [New] takes it by value.
type Config struct {
	// URL lists the NATS servers to connect to, comma separated, as
	// nats.Connect takes them ("nats://10.0.0.1:4222,nats://10.0.0.2:4222").
	// Required.
	URL string

	// Name names the node in logs and in the NATS server's connection
	// list, where the node has two connections: Name, and Name followed
	// by " calls", which carries the calls between nodes. Empty means
	// the host name followed by a random suffix.
	Name string

	// Prefix starts the NATS subjects and JetStream bucket names of the
	// cluster, so that several clusters can share one NATS system. It
	// must be letters, digits, '_' and '-' only. Empty means
	// DefaultPrefix. Every node of a cluster must use the same.
	Prefix string

	// Options are passed to nats.Connect, for both of the node's
	// connections, after the cluster's own (name, no echo, endless
	// reconnects, handlers that log): credentials (nats.UserCredentials,
	// nats.Token, nats.UserInfo), TLS (nats.Secure, nats.RootCAs,
	// nats.ClientCert) and the like. The cluster connects with a
	// nats.CustomDialer of its own (see dial.go), which nats.go prefers
	// to a nats.SetDialer given here; give a dialer with
	// nats.SetCustomDialer instead (the connection that carries the
	// calls wraps the connections it makes).
	Options []nats.Option

	// LeaseTTL is how long the cluster's record of a node's session ID
	// range outlives the node: a node renews it every LeaseTTL/3, and
	// the range of a node that stopped renewing is free for a new node
	// after LeaseTTL. Zero means DefaultLeaseTTL.
	LeaseTTL time.Duration

	// Replicas is the number of JetStream replicas of the cluster's
	// buckets; a NATS cluster of three or more servers should use 3.
	// Zero means 1.
	Replicas int

	// QueueSize is the most events from other nodes that may wait for
	// delivery to this node's subscribers. Delivery never waits for a
	// subscriber, so the queue fills only when the node's processors
	// cannot keep up; events beyond it are dropped, counted
	// ([Stats].Dropped) and logged. Zero means DefaultQueueSize.
	QueueSize int

	// SyncTimeout bounds how long a new subscription waits for the NATS
	// server to confirm it, so that an event published anywhere after
	// SUBSCRIBED reaches it. Zero means DefaultSyncTimeout; negative
	// means no wait.
	SyncTimeout time.Duration

	// ConnectTimeout bounds each attempt to reach a NATS server. Zero
	// means DefaultConnectTimeout.
	ConnectTimeout time.Duration

	// MetaTimeout bounds how long a meta procedure that needs the other
	// nodes' answers (wamp.session.list, ...) waits for them; a node
	// that has not answered by then is left out of the result, which is
	// logged. Zero means DefaultMetaTimeout.
	MetaTimeout time.Duration

	// TestamentBytes is the size of the JetStream bucket that holds the
	// session testaments of every node ("<prefix>_testaments"); once it
	// is full, wamp.session.add_testament fails with
	// router.ClusterUnavailable. Zero means DefaultTestamentBytes. The
	// node that makes the bucket sets its size.
	TestamentBytes int64

	// SessionBytes is the size of the JetStream bucket that records the
	// sessions of every node ("<prefix>_sessions"), so that the others
	// can publish wamp.session.on_leave for the sessions of a node that
	// died; about 100 bytes a session. A session that does not fit has
	// no on_leave if its node dies (logged). Zero means
	// DefaultSessionBytes. The node that makes the bucket sets its size.
	SessionBytes int64

	// CallQueueBytes bounds, in bytes, the messages of calls (CALL,
	// CANCEL, YIELD, ERROR) that may wait for one other node while the
	// node's NATS connection is busy or cut off, as the router estimates
	// them (router.MessageSize). A call whose CALL does not fit fails
	// with router.ClusterUnavailable, a progressive result that does not
	// fit cancels its call; a message that ends a call may use as much
	// room again, and past that goes as ERROR router.ClusterUnavailable
	// (see doc.go, "Failure"). Each refusal is counted
	// ([Stats].CallsRefused) and logged. An empty queue takes any one
	// message. Zero or negative means DefaultCallQueueBytes.
	CallQueueBytes int64

	// Logger receives the cluster's logs. Nil means slog.Default().
	Logger *slog.Logger
}

// Stats are a node's counts of events, and of calls' messages that did
// not cross (see [Cluster.Stats]).
type Stats struct {
	// Forwarded counts the publications handed to NATS for other nodes.
	Forwarded uint64
	// ForwardFailed counts the publications that could not be handed
	// to NATS (disconnected with a full reconnect buffer, too large).
	ForwardFailed uint64
	// Received counts the events from other nodes, once per matching
	// subscription of this node.
	Received uint64
	// Dropped counts the events from other nodes that were lost because
	// the node's queue was full, or could not be decoded.
	Dropped uint64
	// CallsRefused counts the messages of calls for other nodes that
	// did not fit the queue to their node ([Config.CallQueueBytes]): a
	// CALL (its call failed with router.ClusterUnavailable), a
	// progressive result (its call was canceled), or an answer sent as
	// ERROR router.ClusterUnavailable instead.
	CallsRefused uint64
	// LateChunks counts the chunks of progressive call invocations from
	// other nodes that arrived after the session that made their call on
	// this node had ended, and were discarded (their callers got ERROR
	// wamp.error.canceled; see doc.go, "Calls").
	LateChunks uint64
}

// Cluster is one node's link to a cluster of wampkit routers on NATS. It
// implements [router.Cluster]: pass it as router.Config.Cluster. Make it
// with [New]; close it with [Cluster.Close] after the router.
type Cluster struct {
	cfg Config
	log *slog.Logger
	nc  *nats.Conn
	// fc carries the frames of calls between nodes (batch.go, call.go)
	// and answers the nodes' pings (rpc.go), and nothing else: its read
	// loop handles the frames itself (see framesDialer), so it must not
	// wait for anything that another of this node's NATS messages
	// brings, as a request on nc may.
	fc *nats.Conn
	// drainFrames is what fc's connections run before each read (see
	// framesConn): rpc.drain while a router is attached, else nil.
	drainFrames atomic.Pointer[func()]
	kv          jetstream.KeyValue                 // session ID ranges (lease.go)
	leases      *leaseView                         // the nodes of kv, as a watch of it sees them (lease.go)
	regs        atomic.Pointer[jetstream.KeyValue] // registrations (rpc.go); replaced when NATS lost it
	store       *store                             // retained events and event history (store.go)
	name        string
	// testaments holds the sessions' testaments (meta.go), sessions
	// the records of the sessions (sessions.go).
	testaments, sessions jetstream.KeyValue
	// records queues the changes of the node's session records.
	records chan record
	// recheck asks the recorder to check the node's session records
	// (meta.recheck), and recheckAll to check them all, not only those
	// it could not write.
	recheck    chan struct{}
	recheckAll atomic.Bool
	// rechecked counts the recorder's checks of all its records, and
	// recheckGets the records they read one by one (for tests).
	rechecked, recheckGets atomic.Int64

	// slot is the node's session ID range (see lease.go).
	slot atomic.Uint32
	// rev is the revision of the node's last write of its slot's key;
	// written by New, then only by the renew goroutine, then by Close.
	rev uint64

	// in receives the messages of every subscription of the node, in
	// the order the NATS connection read them, so that one publisher's
	// events keep their order across topics. deliver drains it.
	in chan *nats.Msg

	// mu guards the fields below.
	mu       sync.Mutex
	node     *router.ClusterNode
	rpc      *rpc  // calls across nodes while a router is attached
	meta     *meta // the meta API while a router is attached (meta.go)
	closed   bool
	subs     map[*nats.Subscription]*router.ClusterSubscription
	byRouter map[*router.ClusterSubscription]*nats.Subscription
	realms   map[protocol.URI]string // realm subject prefixes, made on first use

	stop chan struct{} // closed by Close: stops the lease loop
	wg   sync.WaitGroup
	// deliverStop and deliverDone stop the delivery loop (Detach).
	deliverStop chan struct{}
	deliverDone chan struct{}

	// leaseReadFails, set only by tests (export_test.go), is how many
	// reads of a lease holdsLease is yet to fail.
	leaseReadFails atomic.Int64

	// silentNodes are the slots of the nodes the monitor finds silent
	// (see rpc.silent), for liveHolders.
	silentNodes atomic.Pointer[map[uint32]bool]

	claimsMu sync.Mutex
	// claims are the registrations this node holds in the bucket (its
	// first callee of each claimed it; for first and last, the node has
	// callees with places in the key), by key; callees counts the
	// node's callees of each roundrobin or random one; pending has the
	// keys whose holding or count the bucket is yet to get (see
	// writeClaims); places has the places of the node's callees of each
	// first or last one, by callee ID as in regValue.Order, to give them
	// back should other nodes withdraw them. All guarded by claimsMu.
	claims    map[string]router.ClusterRegistration
	callees   map[string]int
	places    map[string]map[string]uint64
	pending   map[string]bool
	writing   bool          // guarded by claimsMu; writeClaims is writing a key
	claimWake chan struct{} // capacity 1: wakes writeClaims
	// claimHold is held while writeClaims writes a key: a test holds it
	// to stop the writes.
	claimHold sync.Mutex

	forwarded, forwardFailed, received, dropped atomic.Uint64
	lateChunks, refused                         atomic.Uint64
	failLog                                     logLimiter
}

var _ router.Cluster = (*Cluster)(nil)

// New connects to NATS and claims a session ID range for the node. It
// fails if no NATS server of cfg.URL answers within cfg.ConnectTimeout
// (the caller decides whether to try again), or if the server has no
// JetStream ([ErrNoJetStream]). Once connected, the node reconnects by
// itself whenever it loses NATS.
func New(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.URL == "" {
		return nil, errors.New("cluster: no NATS URL")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	for i := 0; i < len(cfg.Prefix); i++ {
		if !plain(cfg.Prefix[i]) {
			return nil, fmt.Errorf("cluster: prefix %q: only letters, digits, '_' and '-' are allowed", cfg.Prefix)
		}
	}
	if cfg.Name == "" {
		host, _ := os.Hostname()
		if host == "" {
			host = "wampd"
		}
		cfg.Name = fmt.Sprintf("%s-%06x", host, rand.Uint32()&0xffffff)
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.SyncTimeout == 0 {
		cfg.SyncTimeout = DefaultSyncTimeout
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.MetaTimeout <= 0 {
		cfg.MetaTimeout = DefaultMetaTimeout
	}
	if cfg.TestamentBytes <= 0 {
		cfg.TestamentBytes = DefaultTestamentBytes
	}
	if cfg.SessionBytes <= 0 {
		cfg.SessionBytes = DefaultSessionBytes
	}
	if cfg.CallQueueBytes <= 0 {
		cfg.CallQueueBytes = DefaultCallQueueBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Cluster{
		cfg:       cfg,
		log:       cfg.Logger.With("node", cfg.Name),
		name:      cfg.Name,
		in:        make(chan *nats.Msg, cfg.QueueSize),
		subs:      make(map[*nats.Subscription]*router.ClusterSubscription),
		byRouter:  make(map[*router.ClusterSubscription]*nats.Subscription),
		realms:    make(map[protocol.URI]string),
		stop:      make(chan struct{}),
		records:   make(chan record, recordQueue),
		recheck:   make(chan struct{}, 1),
		leases:    newLeaseView(),
		claims:    make(map[string]router.ClusterRegistration),
		callees:   make(map[string]int),
		places:    make(map[string]map[string]uint64),
		pending:   make(map[string]bool),
		claimWake: make(chan struct{}, 1),
	}
	c.failLog.every = 10 * time.Second
	common := []nats.Option{
		// A node delivers its own publications itself.
		nats.NoEcho(),
		nats.Timeout(cfg.ConnectTimeout),
		// The connection's reads and writes do not wake the runtime's
		// sysmon thread (see dialer).
		nats.SetCustomDialer(dialer{timeout: cfg.ConnectTimeout}),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		// A path to NATS that loses packets without closing the
		// connection (a partition, a server that stopped reading) must
		// not hold the node: a write NATS does not take within
		// natsWriteTimeout fails and the connection is made again, so
		// a router goroutine that publishes waits that long at most;
		// and a connection whose server answers no ping for
		// natsPingEvery*natsPingsOut is dropped and made again, where
		// nats.go's defaults take minutes.
		nats.FlusherTimeout(natsWriteTimeout),
		nats.ReconnectOnFlusherError(),
		nats.PingInterval(natsPingEvery),
		nats.MaxPingsOutstanding(natsPingsOut),
	}
	opts := append(append([]nats.Option{nats.Name(cfg.Name)}, common...),
		nats.ErrorHandler(c.natsError),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			c.log.Warn("cluster: lost NATS", "error", err)
		}),
		nats.ReconnectHandler(func(*nats.Conn) { c.reconnected() }),
	)
	nc, err := nats.Connect(cfg.URL, append(opts, cfg.Options...)...)
	if err != nil {
		return nil, fmt.Errorf("cluster: connect to NATS at %s: %w", cfg.URL, err)
	}
	c.mu.Lock()
	c.nc = nc
	c.mu.Unlock()
	// The frames of calls have a connection of their own (see
	// framesDialer): the same options, and last the one that makes its
	// read loop handle them.
	fopts := append(append([]nats.Option{nats.Name(cfg.Name + " calls")}, common...),
		nats.ErrorHandler(c.framesError),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			c.log.Warn("cluster: lost NATS (calls)", "error", err)
		}),
		nats.ReconnectHandler(func(fc *nats.Conn) {
			c.mu.Lock()
			x := c.rpc
			c.mu.Unlock()
			if x != nil {
				x.out.maxPayload.Store(fc.MaxPayload())
			}
			c.reconnected()
		}),
	)
	fc, err := nats.Connect(cfg.URL, append(append(fopts, cfg.Options...), drainingReads(&c.drainFrames))...)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("cluster: connect to NATS at %s: %w", cfg.URL, err)
	}
	c.mu.Lock()
	c.fc = fc
	c.mu.Unlock()
	if err := c.claim(ctx); err != nil {
		c.closeConns()
		return nil, err
	}
	if err := c.openRegs(ctx); err != nil {
		c.release()
		c.closeConns()
		return nil, err
	}
	if err := c.openTestaments(ctx); err != nil {
		c.release()
		c.closeConns()
		return nil, err
	}
	if err := c.openSessions(ctx); err != nil {
		c.release()
		c.closeConns()
		return nil, err
	}
	if c.store, err = newStore(c); err != nil {
		c.release()
		c.closeConns()
		return nil, err
	}
	c.wg.Add(3)
	go c.renew()
	go c.watchLeases()
	go c.writeClaims()
	c.log.Info("cluster: joined", "server", nc.ConnectedUrlRedacted(), "slot", c.slot.Load())
	return c, nil
}

// Name returns the node's name ([Config.Name] or the one made up for it).
func (c *Cluster) Name() string { return c.name }

// Stats returns the node's counts so far.
func (c *Cluster) Stats() Stats {
	return Stats{
		Forwarded:     c.forwarded.Load(),
		ForwardFailed: c.forwardFailed.Load(),
		Received:      c.received.Load(),
		Dropped:       c.dropped.Load(),
		LateChunks:    c.lateChunks.Load(),
		CallsRefused:  c.refused.Load(),
	}
}

// Close gives up the node's session ID range and closes its NATS
// connection. Close the router first: a router attached to a closed
// Cluster forwards nothing. Close is idempotent and returns nil.
func (c *Cluster) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	x, m := c.rpc, c.meta
	c.rpc, c.meta = nil, nil
	c.mu.Unlock()
	if m != nil {
		m.close()
	}
	close(c.stop)
	c.wg.Wait()
	c.release()
	c.store.detach() // done by Detach, unless the router was not closed first
	c.stopDelivery()
	if x != nil {
		x.close()
	}
	c.closeConns()
	return nil
}

// reconnected runs when either NATS connection is back: once both are,
// the node is reconnected, and watches anew what the NATS servers may
// have lost. Until then it is not: the other nodes may not yet hear the
// frames connection's subscriptions (its calls and pings), which come
// back with it, so the log line says the node is back only when both are.
// (Should both come back at once, both handlers may find both connected,
// and it all runs twice, which does no harm.)
func (c *Cluster) reconnected() {
	c.mu.Lock()
	nc, fc, x := c.nc, c.fc, c.rpc
	c.mu.Unlock()
	if nc == nil || fc == nil || !nc.IsConnected() || !fc.IsConnected() {
		return
	}
	c.log.Info("cluster: reconnected to NATS", "server", nc.ConnectedUrlRedacted())
	c.recheckSessions(false) // the records it could not write meanwhile
	select {
	case c.leases.rewatch <- struct{}{}:
	default:
	}
	if x != nil {
		x.reconnected()
	}
}

// closeConns closes the node's NATS connections.
func (c *Cluster) closeConns() {
	c.fc.Close()
	c.nc.Close()
}

// Attach implements [router.Cluster]: it starts delivering events from
// other nodes to the router's subscriptions.
func (c *Cluster) Attach(node *router.ClusterNode) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return ErrClosed
	case c.node != nil:
		return ErrAttached
	}
	if err := c.store.attach(node); err != nil {
		return err
	}
	if err := c.startRPC(node); err != nil {
		c.store.detach()
		return err
	}
	if err := c.startMeta(node); err != nil {
		c.rpc.close()
		c.rpc = nil
		c.store.detach()
		return err
	}
	c.node = node
	c.deliverStop = make(chan struct{})
	c.deliverDone = make(chan struct{})
	go c.deliver(c.deliverStop, c.deliverDone)
	return nil
}

// Detach implements [router.Cluster]: it withdraws the router's
// subscriptions and stops delivering to them.
func (c *Cluster) Detach() {
	c.mu.Lock()
	for ns := range c.subs {
		if err := ns.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			c.log.Warn("cluster: unsubscribe", "subject", ns.Subject, "error", err)
		}
	}
	clear(c.subs)
	clear(c.byRouter)
	c.node = nil
	x, m := c.rpc, c.meta
	c.rpc, c.meta = nil, nil
	c.mu.Unlock()
	if m != nil {
		m.close()
	}
	c.store.detach()
	c.stopDelivery()
	if x != nil {
		x.close()
	}
}

// stopDelivery stops the delivery loop, if it runs, and waits for it.
func (c *Cluster) stopDelivery() {
	c.mu.Lock()
	stop, done := c.deliverStop, c.deliverDone
	c.deliverStop = nil
	c.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
}

// SessionID implements [router.Cluster]: a random ID in the node's range.
func (c *Cluster) SessionID() protocol.ID {
	hi := uint64(c.slot.Load()) << randBits
	for {
		if lo := rand.Uint64() & (1<<randBits - 1); lo != 0 {
			return protocol.ID(hi | lo)
		}
	}
}

// natsError logs the asynchronous errors of the NATS connection; a slow
// consumer means events were dropped (see Config.QueueSize).
func (c *Cluster) natsError(_ *nats.Conn, sub *nats.Subscription, err error) {
	if errors.Is(err, nats.ErrSlowConsumer) && sub != nil {
		n, _ := sub.Dropped()
		c.failLog.log(c.log, "cluster: events from other nodes dropped: the delivery queue is full",
			"subject", sub.Subject, "dropped_by_subscription", n)
		return
	}
	c.log.Warn("cluster: NATS error", "error", err)
}

// framesError logs the asynchronous errors of the frames connection
// (see Cluster.fc).
func (c *Cluster) framesError(_ *nats.Conn, sub *nats.Subscription, err error) {
	if errors.Is(err, nats.ErrSlowConsumer) && sub != nil {
		n, _ := sub.Dropped()
		c.failLog.log(c.log, "cluster: messages of calls from other nodes dropped: their queue is full",
			"subject", sub.Subject, "dropped_by_subscription", n)
		return
	}
	c.log.Warn("cluster: NATS error (calls)", "error", err)
}

// logLimiter logs a kind of failure at most once per interval, with the
// number of failures since the last line.
type logLimiter struct {
	every time.Duration
	mu    sync.Mutex
	last  time.Time
	n     int
}

func (l *logLimiter) log(log *slog.Logger, msg string, args ...any) {
	l.mu.Lock()
	l.n++
	now := time.Now()
	if now.Sub(l.last) < l.every {
		l.mu.Unlock()
		return
	}
	n := l.n
	l.n, l.last = 0, now
	l.mu.Unlock()
	log.Warn(msg, append(args, "count", n)...)
}
