package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/wampkit/wampkit/internal/testcert"
	"github.com/wampkit/wampkit/protocol"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testWait bounds every wait in these tests; none of them should come
// near it, it only turns a hang into a failure.
const testWait = 10 * time.Second

// testContext returns a context that ends with the test or after testWait.
func testContext(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	tb.Cleanup(cancel)
	return ctx
}

type recvResult struct {
	m   protocol.Message
	err error
}

// recvWithin calls p.Recv, giving up (and closing p) after testWait.
func recvWithin(tb testing.TB, p Peer) (protocol.Message, error) {
	tb.Helper()
	ch := make(chan recvResult, 1)
	go func() {
		m, err := p.Recv()
		ch <- recvResult{m, err}
	}()
	t := time.NewTimer(testWait)
	defer t.Stop()
	select {
	case r := <-ch:
		return r.m, r.err
	case <-t.C:
		_ = p.Close(errors.New("test: Recv timed out"))
		<-ch
		tb.Fatalf("Recv did not return within %v\n%s", testWait, allStacks())
		return nil, nil
	}
}

// mustRecv receives one message or fails the test.
func mustRecv(tb testing.TB, p Peer) protocol.Message {
	tb.Helper()
	m, err := recvWithin(tb, p)
	if err != nil {
		tb.Fatalf("Recv() error = %v", err)
	}
	return m
}

// recvClosed receives until an error and returns it; messages before the
// error are returned too.
func recvClosed(tb testing.TB, p Peer) ([]protocol.Message, error) {
	tb.Helper()
	var got []protocol.Message
	for {
		m, err := recvWithin(tb, p)
		if err != nil {
			return got, err
		}
		got = append(got, m)
	}
}

// sendRetry sends m, retrying while the queue is full, within testWait.
func sendRetry(tb testing.TB, p Peer, m protocol.Message) {
	tb.Helper()
	deadline := time.Now().Add(testWait)
	for {
		err := p.Send(context.Background(), m)
		if err == nil {
			return
		}
		if !errors.Is(err, ErrQueueFull) || time.Now().After(deadline) {
			tb.Fatalf("Send() error = %v", err)
		}
		time.Sleep(time.Millisecond)
	}
}

// allMessages returns one message of each of the 24 types, with payloads
// in the generic form decoders produce (int64, float64, string, bool, nil,
// []byte, []any, map[string]any), so they must cross any transport
// unchanged.
func allMessages() []protocol.Message {
	args := protocol.List{int64(1), "two", 3.5, true, nil, []any{"x", int64(-7)}, map[string]any{"k": "v"}, []byte{0, 1, 2, 255}}
	kwargs := protocol.Dict{"a": int64(1), "nested": map[string]any{"b": []any{int64(2), "c"}}, "s": "ünïcode ✓"}
	details := protocol.Dict{"x": int64(42)}
	roles := protocol.Dict{"roles": map[string]any{"caller": map[string]any{"features": map[string]any{"call_canceling": true}}}}
	return []protocol.Message{
		&protocol.Hello{Realm: "realm1", Details: roles},
		&protocol.Welcome{Session: 9007199254740992, Details: protocol.Dict{"roles": map[string]any{"dealer": map[string]any{}}}},
		&protocol.Abort{Details: details, Reason: "wamp.error.no_such_realm", Args: args, Kwargs: kwargs},
		&protocol.Challenge{AuthMethod: "ticket", Extra: protocol.Dict{"e": ""}},
		&protocol.Authenticate{Signature: "secret", Extra: protocol.Dict{"e": ""}},
		&protocol.Goodbye{Details: protocol.Dict{"e": ""}, Reason: "wamp.close.close_realm"},
		&protocol.Error{RequestType: protocol.TypeCall, Request: 7, Details: protocol.Dict{"e": ""}, URI: "com.example.error", Args: args, Kwargs: kwargs},
		&protocol.Publish{Request: 1, Options: protocol.Dict{"acknowledge": true}, Topic: "com.example.topic", Args: args, Kwargs: kwargs},
		&protocol.Published{Request: 1, Publication: 2},
		&protocol.Subscribe{Request: 3, Options: protocol.Dict{"match": "prefix"}, Topic: "com.example"},
		&protocol.Subscribed{Request: 3, Subscription: 4},
		&protocol.Unsubscribe{Request: 5, Subscription: 4},
		&protocol.Unsubscribed{Request: 5, Details: protocol.Dict{"e": ""}},
		&protocol.Event{Subscription: 4, Publication: 2, Details: protocol.Dict{"e": ""}, Args: args, Kwargs: kwargs},
		&protocol.Call{Request: 6, Options: protocol.Dict{"timeout": int64(1000)}, Procedure: "com.example.add", Args: args, Kwargs: kwargs},
		&protocol.Cancel{Request: 6, Options: protocol.Dict{"mode": "kill"}},
		&protocol.Result{Request: 6, Details: protocol.Dict{"progress": true}, Args: args},
		&protocol.Register{Request: 8, Options: protocol.Dict{"e": ""}, Procedure: "com.example.add"},
		&protocol.Registered{Request: 8, Registration: 9},
		&protocol.Unregister{Request: 10, Registration: 9},
		&protocol.Unregistered{Request: 10, Details: protocol.Dict{"e": ""}},
		&protocol.Invocation{Request: 11, Registration: 9, Details: protocol.Dict{"e": ""}, Args: args, Kwargs: kwargs},
		&protocol.Interrupt{Request: 11, Options: protocol.Dict{"mode": "killnowait"}},
		&protocol.Yield{Request: 11, Options: protocol.Dict{"e": ""}, Args: protocol.List{}, Kwargs: kwargs},
	}
}

// callMessage is a CALL of typical size for benchmarks.
func callMessage() *protocol.Call {
	return &protocol.Call{
		Request:   123456,
		Options:   protocol.Dict{"e": ""},
		Procedure: "com.example.orders.create",
		Args:      protocol.List{int64(42), "widget", 19.99},
		Kwargs:    protocol.Dict{"customer": "c-1001", "express": true},
	}
}

// testCert returns a server and a client TLS config: the server's
// certificate, for 127.0.0.1, is issued by a fresh test CA that the
// client trusts.
func testCert(tb testing.TB) (server, client *tls.Config) {
	tb.Helper()
	ca := testcert.NewCA(tb, "wampkit test CA")
	cert := ca.Issue(tb, "wampkit test", x509.ExtKeyUsageServerAuth)
	server = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	client = &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
	return server, client
}

// serverPeers collects the peers a server's Handler is given. Each
// Handler call blocks until its peer's Recv-side is done (the test closes
// it) or the collector is released.
type serverPeers struct {
	ch      chan Peer
	release chan struct{}
	once    sync.Once
}

func newServerPeers() *serverPeers {
	return &serverPeers{ch: make(chan Peer, 16), release: make(chan struct{})}
}

func (s *serverPeers) handler(p Peer) {
	s.ch <- p
	<-s.release
}

func (s *serverPeers) stop() { s.once.Do(func() { close(s.release) }) }

// next returns the next server-side peer.
func (s *serverPeers) next(tb testing.TB) Peer {
	tb.Helper()
	select {
	case p := <-s.ch:
		return p
	case <-time.After(testWait):
		tb.Fatal("no connection reached the server handler")
		return nil
	}
}

// rawServer starts a RawSocketServer on network ("tcp" on 127.0.0.1:0 or
// "unix" in a temp dir) and returns it with its address.
func rawServer(tb testing.TB, network string, cfg RawSocketConfig, handler func(Peer)) (*RawSocketServer, string) {
	tb.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(tb.TempDir(), "wamp.sock")
	}
	l, err := net.Listen(network, addr)
	if err != nil {
		tb.Fatal(err)
	}
	srv := &RawSocketServer{Config: cfg, Handler: handler}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	tb.Cleanup(func() {
		_ = srv.Close()
		if err := within(tb, served); !errors.Is(err, ErrServerClosed) {
			tb.Errorf("Serve() = %v, want ErrServerClosed", err)
		}
	})
	return srv, l.Addr().String()
}

// wsServer starts a WebSocketServer under an httptest server (TLS when
// tlsCfg is set) and returns it with its ws:// or wss:// URL.
func wsServer(tb testing.TB, cfg WebSocketConfig, tlsCfg *tls.Config, handler func(Peer)) (*WebSocketServer, string) {
	tb.Helper()
	ws := &WebSocketServer{Config: cfg, Handler: handler}
	mux := http.NewServeMux()
	mux.Handle("/ws", ws)
	hs := httptest.NewUnstartedServer(mux)
	if tlsCfg != nil {
		// As wampd serves wss (httptest's StartTLS uses tls.NewListener).
		hs.Listener = TLSListener(hs.Listener, tlsCfg)
	}
	hs.Start()
	tb.Cleanup(func() {
		_ = ws.Close()
		hs.Close()
	})
	scheme := "ws"
	if tlsCfg != nil {
		scheme = "wss"
	}
	return ws, scheme + strings.TrimPrefix(hs.URL, "http") + "/ws"
}

func allStacks() string {
	b := make([]byte, 1<<20)
	return string(b[:runtime.Stack(b, true)])
}

// within receives from ch, failing the test after testWait.
func within[T any](tb testing.TB, ch <-chan T) T {
	tb.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(testWait):
		tb.Fatalf("nothing received within %v", testWait)
		var zero T
		return zero
	}
}
