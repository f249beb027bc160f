package interop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

const testRealm = protocol.URI("realm1")

// wampkitRouter is an embedded wampkit router serving WebSocket and
// RawSocket on 127.0.0.1 with ports the system picked.
type wampkitRouter struct {
	name  string // "node0", "node1", ... in a cluster; "router" alone
	r     *router.Router
	wsURL string // ws://127.0.0.1:PORT/
	rsURL string // rs://127.0.0.1:PORT
}

// startRouter starts a wampkit router for the test; it is closed when the
// test ends.
func startRouter(tb testing.TB) *wampkitRouter {
	tb.Helper()
	return startNode(tb, "router", nil)
}

// startNode starts a wampkit router with the listeners and realms of
// startRouter, joined to cluster c if c is not nil. It is closed when the
// test ends; closing c is the caller's, after the router.
func startNode(tb testing.TB, name string, c router.Cluster) *wampkitRouter {
	tb.Helper()
	// realm1 allows everything explicitly, so that the peers may also
	// use the destructive meta procedures (wamp.session.kill*), which an
	// open realm refuses.
	allowAll, err := router.NewRoleAuthorizer(map[string][]router.Permission{"anonymous": {
		{URI: "", Match: protocol.MatchPrefix, Call: true, Register: true, Publish: true, Subscribe: true}}})
	if err != nil {
		tb.Fatal(err)
	}
	r, err := router.New(router.Config{
		Realms: []router.RealmConfig{
			{Name: testRealm, Authorizer: allowAll},
			{Name: authRealm, Authenticators: authAuthenticators(tb)},
		},
		Logger: testLogger(tb),
		// The auth tests fail on purpose, many times, from 127.0.0.1;
		// throttling has tests of its own (router, integration).
		AuthThrottle: router.AuthThrottle{Disabled: true},
		// The large scenario sends 2 MiB messages, over the 1 MiB default
		// of the router's listeners.
		MaxMessageSize: 4 << 20,
		Cluster:        c,
	})
	if err != nil {
		tb.Fatalf("router.New: %v", err)
	}
	wl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(r.Handler())
	hs.Listener.Close()
	hs.Listener = wl
	hs.Start()

	rl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := r.ServeRawSocket(rl); !errors.Is(err, router.ErrClosed) {
			tb.Errorf("ServeRawSocket: %v", err)
		}
	}()
	tb.Cleanup(func() {
		r.Close()
		hs.Close()
		wg.Wait()
	})
	return &wampkitRouter{
		name:  name,
		r:     r,
		wsURL: "ws://" + wl.Addr().String() + "/",
		rsURL: "rs://" + rl.Addr().String(),
	}
}

// testLogger sends a component's logs to the test log, so they show up
// with the failure they explain (and only with -v otherwise).
func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	defer func() { recover() }() //nolint:errcheck // a log line after the test ended is dropped
	w.tb.Logf("%s", p)
	return len(p), nil
}

var _ io.Writer = tbWriter{}

// backend is the Go side of one matrix cell: a wampkit client joined
// in-process to one node, serving PREFIX.echo and PREFIX.fail and
// subscribed to PREFIX.topic. It records what reached it.
type backend struct {
	wr *wampkitRouter // the node it is joined to
	// rot places the other connections of the backend's test (scripts,
	// joinGo).
	rot    *rotation
	c      *client.Client
	prefix string
	invs   chan *client.Invocation
	events chan *client.Event
	// interrupted receives the invocation of PREFIX.slow once its context
	// ended (INTERRUPT from the dealer).
	interrupted chan *client.Invocation
}

func startBackend(tb testing.TB, wr *wampkitRouter, rot *rotation, prefix string) *backend {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	peer, err := wr.r.Connect(ctx)
	if err != nil {
		tb.Fatalf("router.Connect: %v", err)
	}
	c, err := client.Join(ctx, peer, client.Config{Realm: testRealm, Logger: testLogger(tb)})
	if err != nil {
		tb.Fatalf("client.Join: %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	b := &backend{wr: wr, rot: rot, c: c, prefix: prefix, invs: make(chan *client.Invocation, 64), events: make(chan *client.Event, 64),
		interrupted: make(chan *client.Invocation, 8)}
	echo := func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		b.invs <- inv
		return &client.Result{Args: inv.Args, Kwargs: inv.Kwargs}, nil
	}
	fail := func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		b.invs <- inv
		return nil, &protocol.Error{URI: errURI, Args: errArgs, Kwargs: errKwargs}
	}
	if _, err := c.Register(ctx, b.uri("echo"), echo, nil); err != nil {
		tb.Fatalf("register %s: %v", b.uri("echo"), err)
	}
	if _, err := c.Register(ctx, b.uri("fail"), fail, nil); err != nil {
		tb.Fatalf("register %s: %v", b.uri("fail"), err)
	}
	// Advanced profile: progressive results, caller identification and
	// call canceling, which the router announces.
	progress := func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		b.invs <- inv
		if !inv.ReceiveProgress() {
			return nil, &protocol.Error{URI: "wampkit.interop.error.no_progress"}
		}
		for i := 1; i <= 3; i++ {
			if err := inv.SendProgress(ctx, protocol.List{i}, nil); err != nil {
				return nil, err
			}
		}
		return &client.Result{Args: protocol.List{"done"}}, nil
	}
	whoami := func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		b.invs <- inv
		return &client.Result{Args: protocol.List{inv.Caller}}, nil
	}
	slow := func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		b.invs <- inv
		if inv.ReceiveProgress() {
			if err := inv.SendProgress(ctx, protocol.List{"started"}, nil); err != nil {
				return nil, err
			}
		}
		<-ctx.Done() // until INTERRUPT, or the session ends
		b.interrupted <- inv
		return nil, ctx.Err()
	}
	for name, h := range map[string]client.InvocationHandler{"progress": progress, "whoami": whoami, "slow": slow} {
		if _, err := c.Register(ctx, b.uri(name), h, nil); err != nil {
			tb.Fatalf("register %s: %v", b.uri(name), err)
		}
	}
	// Pattern-based registration: PREFIX.gpfx with match prefix answers
	// with the concrete procedure.
	gpfx := func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		b.invs <- inv
		return &client.Result{Args: protocol.List{string(inv.Procedure)}}, nil
	}
	if _, err := c.Register(ctx, b.uri("gpfx"), gpfx, &client.RegisterOptions{Match: "prefix"}); err != nil {
		tb.Fatalf("register %s (prefix): %v", b.uri("gpfx"), err)
	}
	if _, err := c.Subscribe(ctx, b.uri("topic"), func(ev *client.Event) { b.events <- ev }, nil); err != nil {
		tb.Fatalf("subscribe %s: %v", b.uri("topic"), err)
	}
	return b
}

func (b *backend) uri(name string) protocol.URI {
	return protocol.URI(b.prefix + "." + name)
}

// nextInvocation returns what the last call of a Go procedure carried.
func (b *backend) nextInvocation(tb testing.TB) *client.Invocation {
	tb.Helper()
	select {
	case inv := <-b.invs:
		return inv
	default:
		tb.Fatalf("the Go callee was not invoked")
	}
	return nil
}

// nextEvent waits for an event on PREFIX.topic. An acknowledged
// publication has been dispatched when the publisher saw PUBLISHED, but
// the event may still be on its way through the in-process link: wait,
// bounded by ctx.
func (b *backend) nextEvent(ctx context.Context, tb testing.TB) *client.Event {
	tb.Helper()
	select {
	case ev := <-b.events:
		return ev
	case <-ctx.Done():
		tb.Fatalf("the Go subscriber received no event: %v", ctx.Err())
	}
	return nil
}

func (b *backend) String() string { return fmt.Sprintf("backend(%s)", b.prefix) }
