package cluster_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/cluster"
	"github.com/wampkit/wampkit/cluster/clustertest"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/transport"
)

// realm1 is the realm the tests' nodes serve.
const realm1 protocol.URI = "realm1"

// testTimeout bounds every wait of a test.
const testTimeout = 30 * time.Second

// startNATS starts a NATS server with JetStream in the test process, on
// 127.0.0.1 and a port of its choosing, and returns its URL. It is shut
// down when the test ends.
func startNATS(tb testing.TB) string {
	tb.Helper()
	return clustertest.StartNATS(tb, clustertest.Options{}).ClientURL()
}

// node is one router of a test cluster.
type node struct {
	r *router.Router
	c *cluster.Cluster
}

// startNodes starts n routers serving rc, each joined to the NATS server
// at url. They are closed when the test ends, routers before clusters.
func startNodes(tb testing.TB, url string, n int, rc router.RealmConfig) []*node {
	tb.Helper()
	return startNodesWith(tb, url, n, router.Config{Realms: []router.RealmConfig{rc}}, cluster.Config{})
}

// startNodesWith starts n routers of rcfg, each joined to the NATS
// server at url with ccfg. A realm without a name is realm1 (no realms:
// realm1), and both loggers default to none. They are closed when the
// test ends, routers before clusters.
func startNodesWith(tb testing.TB, url string, n int, rcfg router.Config, ccfg cluster.Config) []*node {
	tb.Helper()
	rcfg.Realms = slices.Clone(rcfg.Realms)
	if len(rcfg.Realms) == 0 {
		rcfg.Realms = []router.RealmConfig{{}}
	}
	for i := range rcfg.Realms {
		if rcfg.Realms[i].Name == "" {
			rcfg.Realms[i].Name = realm1
		}
	}
	if rcfg.Logger == nil {
		rcfg.Logger = discardLog()
	}
	if ccfg.Logger == nil {
		ccfg.Logger = rcfg.Logger
	}
	ccfg.URL = url
	nodes := make([]*node, n)
	for i := range nodes {
		ctx, cancel := testContext()
		c, err := cluster.New(ctx, ccfg)
		cancel()
		if err != nil {
			tb.Fatalf("cluster.New: %v", err)
		}
		rcfg.Cluster = c
		r, err := router.New(rcfg)
		if err != nil {
			c.Close()
			tb.Fatalf("router.New: %v", err)
		}
		nodes[i] = &node{r: r, c: c}
		tb.Cleanup(func() {
			r.Close()
			c.Close()
		})
	}
	return nodes
}

// join connects a client to the node's realm1 in-process.
func (n *node) join(tb testing.TB, cfg client.Config) *client.Client {
	tb.Helper()
	if cfg.Realm == "" {
		cfg.Realm = realm1
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	peer, err := n.r.Connect(ctx)
	if err != nil {
		tb.Fatalf("Connect: %v", err)
	}
	c, err := client.Join(ctx, peer, cfg)
	if err != nil {
		tb.Fatalf("Join: %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// recorder collects the events of subscriptions.
type recorder struct {
	mu     sync.Mutex
	events []client.Event
	wake   chan struct{}
}

func newRecorder() *recorder { return &recorder{wake: make(chan struct{}, 1)} }

func (r *recorder) handle(ev *client.Event) {
	r.mu.Lock()
	r.events = append(r.events, *ev)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// snapshot returns the events so far.
func (r *recorder) snapshot() []client.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// waitFor waits until an event satisfies pred and returns every event up
// to and including it.
func (r *recorder) waitFor(tb testing.TB, what string, pred func(client.Event) bool) []client.Event {
	tb.Helper()
	deadline := time.After(testTimeout)
	for {
		evs := r.snapshot()
		for i, ev := range evs {
			if pred(ev) {
				return evs[:i+1]
			}
		}
		select {
		case <-r.wake:
		case <-deadline:
			tb.Fatalf("no %s within %v; got %d events", what, testTimeout, len(evs))
		}
	}
}

// subscribe subscribes c to topic with match, recording into rec.
func subscribe(tb testing.TB, c *client.Client, topic protocol.URI, match protocol.MatchPolicy, rec *recorder) *client.Subscription {
	tb.Helper()
	return subscribeFunc(tb, c, topic, match, rec.handle)
}

// subscribeFunc subscribes c to topic with match and handler.
func subscribeFunc(tb testing.TB, c *client.Client, topic protocol.URI, match protocol.MatchPolicy, handler client.EventHandler) *client.Subscription {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	sub, err := c.Subscribe(ctx, topic, handler, &client.SubscribeOptions{Match: match})
	if err != nil {
		tb.Fatalf("Subscribe(%s, %s): %v", topic, match, err)
	}
	return sub
}

// publish publishes req with acknowledgement.
func publish(tb testing.TB, c *client.Client, req client.PublishRequest) protocol.ID {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	req.Acknowledge = true
	id, err := c.DoPublish(ctx, &req)
	if err != nil {
		tb.Fatalf("DoPublish(%s): %v", req.Topic, err)
	}
	return id
}

// isErrURI reports whether err is a WAMP error with uri.
func isErrURI(err error, uri protocol.URI) bool {
	var e *protocol.Error
	return errors.As(err, &e) && e.URI == uri
}

// testContext returns a context that ends after testTimeout.
func testContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), testTimeout)
}

// sorted returns a sorted copy of s.
func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// argInt returns ev's first argument as an int, or -1000000 if it is none.
func argInt(ev client.Event) int {
	if len(ev.Args) == 0 {
		return -1000000
	}
	switch v := ev.Args[0].(type) {
	case int:
		return v
	case int64:
		return int(v)
	case uint64:
		return int(v)
	}
	return -1000000
}

// rawPeer is a session spoken to in WAMP messages, for tests that look
// at what the router sends in which order, across subscriptions.
type rawPeer struct {
	tb testing.TB
	p  transport.Peer
	in chan protocol.Message // closed when the reader stopped
}

// rawJoin joins the node's realm1 over an in-process link as a
// subscriber and publisher.
func (n *node) rawJoin(tb testing.TB) *rawPeer {
	tb.Helper()
	c, _ := n.rawJoinAs(tb, protocol.Dict{"subscriber": map[string]any{}, "publisher": map[string]any{}})
	return c
}

// rawJoinAs joins the node's realm1 over an in-process link with roles
// and returns the session and its ID.
func (n *node) rawJoinAs(tb testing.TB, roles protocol.Dict) (*rawPeer, protocol.ID) {
	tb.Helper()
	ctx, cancel := testContext()
	defer cancel()
	p, err := n.r.Connect(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	c := &rawPeer{tb: tb, p: p, in: make(chan protocol.Message, 1024)}
	go func() {
		defer close(c.in)
		for {
			m, err := p.Recv()
			if err != nil {
				return
			}
			c.in <- m
		}
	}()
	tb.Cleanup(func() {
		p.Close(nil)
		for range c.in {
		}
	})
	c.send(&protocol.Hello{Realm: realm1, Details: protocol.Dict{"roles": roles}})
	w, ok := c.recv().(*protocol.Welcome)
	if !ok {
		tb.Fatal("no WELCOME")
	}
	return c, w.Session
}

func (c *rawPeer) send(m protocol.Message) {
	c.tb.Helper()
	ctx, cancel := testContext()
	defer cancel()
	if err := c.p.Send(ctx, m); err != nil {
		c.tb.Fatalf("Send: %v", err)
	}
}

func (c *rawPeer) recv() protocol.Message {
	c.tb.Helper()
	select {
	case m, ok := <-c.in:
		if !ok {
			c.tb.Fatal("Recv: session closed")
		}
		return m
	case <-time.After(testTimeout):
		c.tb.Fatalf("Recv: nothing within %v", testTimeout)
	}
	return nil
}

// subscribe subscribes to topic (exact) and returns the subscription ID.
func (c *rawPeer) subscribe(req protocol.ID, topic protocol.URI) protocol.ID {
	c.tb.Helper()
	c.send(&protocol.Subscribe{Request: req, Options: protocol.Dict{}, Topic: topic})
	m, ok := c.recv().(*protocol.Subscribed)
	if !ok {
		c.tb.Fatalf("no SUBSCRIBED for %s", topic)
	}
	return m.Subscription
}

// discardLog returns a logger that drops everything.
func discardLog() *slog.Logger {
	if os.Getenv("CLUSTER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// freePort returns a TCP port of 127.0.0.1 that nothing listened on a
// moment ago.
func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// proxy passes TCP connections on 127.0.0.1 to a NATS server, and can
// stop passing bytes on all of them, new ones too, without closing any
// (freeze), as a network partition does, until thaw.
type proxy struct {
	url    string // to give the nodes instead of the server's
	target string
	ln     net.Listener
	done   chan struct{}
	wg     sync.WaitGroup

	mu    sync.Mutex
	open  chan struct{} // closed while bytes pass
	conns []net.Conn
}

// startProxy starts a proxy to the NATS server at natsURL. It stops when
// the test ends.
func startProxy(tb testing.TB, natsURL string) *proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &proxy{url: "nats://" + ln.Addr().String(), target: strings.TrimPrefix(natsURL, "nats://"),
		ln: ln, done: make(chan struct{}), open: make(chan struct{})}
	close(p.open)
	p.wg.Add(1)
	go p.accept()
	tb.Cleanup(func() {
		close(p.done)
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pass(in, out)
		go p.pass(out, in)
	}
}

// pass copies src to dst while the proxy is not frozen.
func (p *proxy) pass(src, dst net.Conn) {
	defer p.wg.Done()
	defer src.Close()
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			open := p.open
			p.mu.Unlock()
			select {
			case <-open:
			case <-p.done:
				return
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// freeze stops passing bytes (a reader busy in Read still takes what
// comes, and holds it).
func (p *proxy) freeze() {
	p.mu.Lock()
	p.open = make(chan struct{})
	p.mu.Unlock()
}

// thaw passes bytes again, if frozen.
func (p *proxy) thaw() {
	p.mu.Lock()
	select {
	case <-p.open:
	default:
		close(p.open)
	}
	p.mu.Unlock()
}

// cut closes every connection the proxy passes, as a path that resets
// them does; new ones are taken (and pass bytes unless frozen).
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}
