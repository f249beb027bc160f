package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/serialize"
	"github.com/wampkit/wampkit/transport"
)

// realm1 is the realm every test joins.
const realm1 protocol.URI = "realm1"

// testTimeout bounds every wait of a test that has no tighter bound. It
// catches a hang, not slowness: heavy tests (hundreds of 256 KiB events
// under -race) took over 30 s on a machine with a load of 13 on 2 cores.
const testTimeout = 2 * time.Minute

// logSink collects the router's and the clients' log lines: tests ask it
// whether something was logged (a session dropped for a full queue), and it
// passes everything at Warn and above on to the test log while the test runs.
type logSink struct {
	mu    sync.Mutex
	tb    testing.TB
	done  bool
	lines []string
}

func newLogSink(tb testing.TB) *logSink {
	s := &logSink{tb: tb}
	tb.Cleanup(func() {
		s.mu.Lock()
		s.done = true
		s.mu.Unlock()
	})
	return s
}

func (s *logSink) Write(p []byte) (int, error) {
	line := strings.TrimRight(string(p), "\n")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, line)
	if !s.done && (strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR")) {
		s.tb.Log(line)
	}
	return len(p), nil
}

// count returns how many log lines contain substr.
func (s *logSink) count(substr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, l := range s.lines {
		if strings.Contains(l, substr) {
			n++
		}
	}
	return n
}

func (s *logSink) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(s, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// env is a router serving realm1 in-process, over WebSocket, over
// RawSocket on TCP and over RawSocket on a Unix socket.
type env struct {
	r        *router.Router
	log      *logSink
	wsURL    string // ws://127.0.0.1:port/ws
	tcpAddr  string // 127.0.0.1:port
	unixPath string // socket file in a temporary directory
}

// startEnv starts a router with cfg (realm1 is added when cfg has no
// realm) on every transport. Everything is stopped by the test's cleanup.
func startEnv(tb testing.TB, cfg router.Config) *env {
	tb.Helper()
	e := &env{log: newLogSink(tb)}
	if len(cfg.Realms) == 0 {
		cfg.Realms = []router.RealmConfig{{Name: realm1}}
	}
	if cfg.Logger == nil {
		cfg.Logger = e.log.logger()
	}
	r, err := router.New(cfg)
	if err != nil {
		tb.Fatalf("router.New: %v", err)
	}
	e.r = r

	var wg sync.WaitGroup
	mux := http.NewServeMux()
	mux.Handle("/ws", r.Handler())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	wl := listen(tb, "tcp", "127.0.0.1:0")
	e.wsURL = "ws://" + wl.Addr().String() + "/ws"
	wg.Go(func() { hs.Serve(wl) })

	tl := listen(tb, "tcp", "127.0.0.1:0")
	e.tcpAddr = tl.Addr().String()
	wg.Go(func() { r.ServeRawSocket(tl) })

	e.unixPath = filepath.Join(shortTempDir(tb), "r.sock")
	ul := listen(tb, "unix", e.unixPath)
	wg.Go(func() { r.ServeRawSocket(ul) })

	tb.Cleanup(func() {
		if err := r.Close(); err != nil {
			tb.Errorf("Router.Close: %v", err)
		}
		hs.Close()
		wg.Wait()
	})
	return e
}

// shortTempDir returns tb.TempDir(), or a shorter temporary directory if
// a socket path in it would exceed the Unix limit of 108 bytes.
func shortTempDir(tb testing.TB) string {
	d := tb.TempDir()
	if len(d) < 90 {
		return d
	}
	tb.Fatalf("temporary directory %q too long for a Unix socket", d)
	return ""
}

func listen(tb testing.TB, network, addr string) net.Listener {
	tb.Helper()
	l, err := net.Listen(network, addr)
	if err != nil {
		tb.Fatalf("listen %s %s: %v", network, addr, err)
	}
	return l
}

// link is one way of reaching the router: a transport and, for the
// network transports, a serializer.
type link struct {
	transport  string // "local", "websocket", "tcp", "unix"
	serializer serialize.Serializer
}

func (l link) String() string {
	if l.transport == "local" {
		return "local"
	}
	return l.transport + "/" + l.serializer.String()
}

// links returns every cell of the matrix: the in-process link once, and
// every network transport with every serializer.
func links() []link {
	ls := []link{{transport: "local"}}
	for _, tr := range []string{"websocket", "tcp", "unix"} {
		for _, s := range []serialize.Serializer{serialize.JSON, serialize.MessagePack, serialize.CBOR} {
			ls = append(ls, link{transport: tr, serializer: s})
		}
	}
	return ls
}

// clientConfig is the client configuration of the tests.
func (e *env) clientConfig() client.Config {
	return client.Config{
		Realm:           realm1,
		Logger:          e.log.logger(),
		ResponseTimeout: testTimeout,
	}
}

// dialPeer opens a transport to the router over l.
func (e *env) dialPeer(ctx context.Context, l link) (transport.Peer, error) {
	switch l.transport {
	case "local":
		return e.r.Connect(ctx)
	case "websocket":
		return transport.DialWebSocket(ctx, e.wsURL, transport.WebSocketDialConfig{Serializer: l.serializer})
	case "tcp":
		return transport.DialRawSocket(ctx, "tcp", e.tcpAddr, transport.RawSocketDialConfig{Serializer: l.serializer})
	case "unix":
		return transport.DialRawSocket(ctx, "unix", e.unixPath, transport.RawSocketDialConfig{Serializer: l.serializer})
	}
	return nil, fmt.Errorf("unknown transport %q", l.transport)
}

// url returns the client.Dial URL of a network link.
func (e *env) url(l link) string {
	switch l.transport {
	case "websocket":
		return e.wsURL
	case "tcp":
		return "tcp://" + e.tcpAddr
	case "unix":
		return "unix://" + e.unixPath
	}
	panic("integration: no URL for transport " + l.transport)
}

// join joins realm1 over l: client.Join on router.Connect for the local
// link, client.Dial with a URL otherwise. The client is closed by the
// test's cleanup (and may be closed earlier).
func (e *env) join(tb testing.TB, l link) *client.Client {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	cfg := e.clientConfig()
	var c *client.Client
	var err error
	if l.transport == "local" {
		var p transport.Peer
		p, err = e.r.Connect(ctx)
		if err == nil {
			c, err = client.Join(ctx, p, cfg)
		}
	} else {
		cfg.Serializer = l.serializer
		c, err = client.Dial(ctx, e.url(l), cfg)
	}
	if err != nil {
		tb.Fatalf("join over %v: %v", l, err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// joinPeer is join, but the test also gets the transport, to break it.
func (e *env) joinPeer(tb testing.TB, l link) (*client.Client, transport.Peer) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	p, err := e.dialPeer(ctx, l)
	if err != nil {
		tb.Fatalf("dial %v: %v", l, err)
	}
	c, err := client.Join(ctx, p, e.clientConfig())
	if err != nil {
		tb.Fatalf("join over %v: %v", l, err)
	}
	tb.Cleanup(func() { c.Close() })
	return c, p
}

// timeout returns a context bounded by testTimeout and ended by the
// test's cleanup.
func timeout(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	tb.Cleanup(cancel)
	return ctx
}

// asError returns err as a *protocol.Error, or fails the test.
func asError(tb testing.TB, err error) *protocol.Error {
	tb.Helper()
	var perr *protocol.Error
	if !errors.As(err, &perr) {
		tb.Fatalf("error = %v (%T), want a *protocol.Error", err, err)
	}
	return perr
}

// echo is an InvocationHandler returning the call's payload.
func echo(_ context.Context, inv *client.Invocation) (*client.Result, error) {
	return &client.Result{Args: inv.Args, Kwargs: inv.Kwargs}, nil
}

// register registers handler for procedure on c, or fails the test.
func register(tb testing.TB, c *client.Client, procedure protocol.URI, handler client.InvocationHandler) *client.Registration {
	tb.Helper()
	reg, err := c.Register(timeout(tb), procedure, handler, nil)
	if err != nil {
		tb.Fatalf("Register(%s): %v", procedure, err)
	}
	return reg
}

// inbox collects the events of a subscription in order.
type inbox struct {
	mu     sync.Mutex
	events []*client.Event
	signal chan struct{} // gets a token after every event
}

func newInbox() *inbox { return &inbox{signal: make(chan struct{}, 1)} }

func (in *inbox) handle(ev *client.Event) {
	in.mu.Lock()
	in.events = append(in.events, ev)
	in.mu.Unlock()
	select {
	case in.signal <- struct{}{}:
	default:
	}
}

func (in *inbox) len() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.events)
}

func (in *inbox) get(i int) *client.Event {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.events[i]
}

// wait waits until the inbox holds n events, or ctx ends.
func (in *inbox) wait(ctx context.Context, n int) error {
	for {
		if got := in.len(); got >= n {
			return nil
		}
		select {
		case <-in.signal:
		case <-ctx.Done():
			return fmt.Errorf("%d events, want %d: %w", in.len(), n, ctx.Err())
		}
	}
}

// subscribe subscribes a new inbox to topic on c, or fails the test.
func subscribe(tb testing.TB, c *client.Client, topic protocol.URI) (*inbox, *client.Subscription) {
	tb.Helper()
	in := newInbox()
	sub, err := c.Subscribe(timeout(tb), topic, in.handle, nil)
	if err != nil {
		tb.Fatalf("Subscribe(%s): %v", topic, err)
	}
	return in, sub
}

// randomBytes returns n bytes of a fixed pseudo-random pattern.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// sameBytes reports whether v is a []byte equal to want, describing the
// difference otherwise.
func sameBytes(v any, want []byte) string {
	got, ok := v.([]byte)
	if !ok {
		return fmt.Sprintf("got %T, want []byte", v)
	}
	if !bytes.Equal(got, want) {
		n := 0
		for n < len(got) && n < len(want) && got[n] == want[n] {
			n++
		}
		return fmt.Sprintf("got %d bytes, want %d; first difference at %d", len(got), len(want), n)
	}
	return ""
}
