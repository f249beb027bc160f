package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// TestMain_MaxSessions fills a realm's max_sessions and then the router's
// (set by -max-sessions over the file): the next client is refused with
// ABORT wampkit.error.limit_exceeded over the real socket.
func TestMain_MaxSessions(t *testing.T) {
	defer goleak.VerifyNone(t)
	m, _, _ := mustRunConfig(t, `
max_sessions: 100
realms:
  - name: com.example.small
    max_sessions: 1
  - name: com.example.big
`, "-max-sessions", "2")

	a := mustJoin(t, m, client.Config{Realm: "com.example.small"})
	defer a.Close()
	if _, err := join(t, m, client.Config{Realm: "com.example.small"}); !isAbort(err, router.LimitExceeded) {
		t.Errorf("second session in com.example.small: Join() = %v, want ABORT %s", err, router.LimitExceeded)
	}
	b := mustJoin(t, m, client.Config{Realm: "com.example.big"})
	defer b.Close()
	if _, err := join(t, m, client.Config{Realm: "com.example.big"}); !isAbort(err, router.LimitExceeded) {
		t.Errorf("third session (router max 2): Join() = %v, want ABORT %s", err, router.LimitExceeded)
	}
	a.Close()
	b.Close()
	if err := m.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
}

// TestMain_SessionLimits checks max_pending_calls, max_subscriptions and
// max_registrations: the request beyond each is answered with ERROR
// wampkit.error.limit_exceeded.
func TestMain_SessionLimits(t *testing.T) {
	defer goleak.VerifyNone(t)
	m, _, _ := mustRunConfig(t, "max_pending_calls: 1\nmax_subscriptions: 1\nmax_registrations: 1\n")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	callee := mustJoin(t, m, client.Config{Realm: DefaultRealm})
	defer callee.Close()
	invoked, release := make(chan struct{}, 1), make(chan struct{})
	slow := func(ctx context.Context, _ *client.Invocation) (*client.Result, error) {
		invoked <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return &client.Result{}, nil
	}
	if _, err := callee.Register(ctx, "com.example.slow", slow, nil); err != nil {
		t.Fatalf("Register() = %v", err)
	}
	if _, err := callee.Register(ctx, "com.example.other", slow, nil); !isError(err, router.LimitExceeded) {
		t.Errorf("second Register() = %v, want ERROR %s", err, router.LimitExceeded)
	}
	noop := func(*client.Event) {}
	if _, err := callee.Subscribe(ctx, "com.example.one", noop, nil); err != nil {
		t.Fatalf("Subscribe() = %v", err)
	}
	if _, err := callee.Subscribe(ctx, "com.example.two", noop, nil); !isError(err, router.LimitExceeded) {
		t.Errorf("second Subscribe() = %v, want ERROR %s", err, router.LimitExceeded)
	}

	caller := mustJoin(t, m, client.Config{Realm: DefaultRealm})
	defer caller.Close()
	first := make(chan error, 1)
	go func() {
		_, err := caller.Call(ctx, "com.example.slow")
		first <- err
	}()
	<-invoked // the first call is pending now
	if _, err := caller.Call(ctx, "com.example.slow"); !isError(err, router.LimitExceeded) {
		t.Errorf("second pending Call() = %v, want ERROR %s", err, router.LimitExceeded)
	}
	close(release)
	if err := <-first; err != nil {
		t.Errorf("first Call() = %v", err)
	}
	caller.Close()
	callee.Close()
	if err := m.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
}

// TestMain_MaxMessageSize sets the router-wide max_message_size: the
// WebSocket listener closes a connection that sends more (close code 1009),
// and the RawSocket listener announces it in its handshake reply.
func TestMain_MaxMessageSize(t *testing.T) {
	defer goleak.VerifyNone(t)
	m, _, _ := mustRunConfig(t, "max_message_size: 4096\nrawsocket:\n  address: 127.0.0.1:0\n")

	conn := dialWS(t, m.WebSocketURL(), nil)
	defer conn.Close()
	writeWS(t, conn, `[1,"realm1",{"roles":{"publisher":{}}}]`)
	if msg := readWS(t, conn); len(msg) != 3 || msg[0] != float64(2) {
		t.Fatalf("reply to HELLO = %v, want WELCOME", msg)
	}
	writeWS(t, conn, `[16,1,{},"com.example.topic",["`+strings.Repeat("x", 5000)+`"]]`)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := conn.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Errorf("after a 5000-byte message: read = %v, want close 1009 (message too big)", err)
	}

	c, err := net.Dial("tcp", m.RawSocketAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte{0x7f, 0xf1, 0, 0}); err != nil {
		t.Fatal(err)
	}
	var reply [4]byte
	if _, err := io.ReadFull(c, reply[:]); err != nil {
		t.Fatalf("rawsocket handshake: %v", err)
	}
	// The length exponent n announces 2^(9+n) bytes: 4096 is n = 3.
	if got, want := int(reply[1]>>4), 3; reply[0] != 0x7f || got != want {
		t.Errorf("rawsocket handshake reply % x: length exponent %d, want %d (4096 bytes)", reply, got, want)
	}
	c.Close()
	conn.Close()
	if err := m.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
}

// TestMain_StrictRequestIDs sends a first SUBSCRIBE with request ID 7:
// with strict_request_ids the session is aborted, without it the router
// accepts it.
func TestMain_StrictRequestIDs(t *testing.T) {
	tests := []struct {
		strict bool
		want   []any // the reply's type and, for ABORT, reason
	}{
		{strict: true, want: []any{float64(3), string(protocol.ErrProtocolViolation)}},
		{strict: false, want: []any{float64(33), float64(7)}},
	}
	for _, tt := range tests {
		name := "off"
		if tt.strict {
			name = "on"
		}
		t.Run(name, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			cfg := "strict_request_ids: false\n"
			if tt.strict {
				cfg = "strict_request_ids: true\n"
			}
			m, _, _ := mustRunConfig(t, cfg)
			conn := dialWS(t, m.WebSocketURL(), nil)
			defer conn.Close()
			writeWS(t, conn, `[1,"realm1",{"roles":{"subscriber":{}}}]`)
			if msg := readWS(t, conn); len(msg) != 3 || msg[0] != float64(2) {
				t.Fatalf("reply to HELLO = %v, want WELCOME", msg)
			}
			writeWS(t, conn, `[32,7,{},"com.example.topic"]`)
			msg := readWS(t, conn)
			// ABORT is [3, Details, Reason]; SUBSCRIBED [33, Request, ID].
			got := []any{msg[0], msg[1]}
			if msg[0] == float64(3) {
				got[1] = msg[2]
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("reply to SUBSCRIBE with request 7: %v, mismatch (-want +got):\n%s", msg, diff)
			}
			conn.Close()
			if err := m.Close(); err != nil {
				t.Fatalf("Close() = %v", err)
			}
		})
	}
}

// TestMain_AuthTimeout leaves a WAMP-CRA CHALLENGE unanswered: the router
// gives up after auth_timeout with ABORT wamp.error.timeout, long before
// the handshake timeout.
func TestMain_AuthTimeout(t *testing.T) {
	defer goleak.VerifyNone(t)
	m, _, _ := mustRunConfig(t, `
auth_timeout: 200ms
handshake_timeout: 30s
realms:
  - name: com.example.secure
    wampcra:
      bob: {secret: k3y}
`)
	conn := dialWS(t, m.WebSocketURL(), nil)
	defer conn.Close()
	start := time.Now()
	writeWS(t, conn, `[1,"com.example.secure",{"roles":{"caller":{}},"authmethods":["wampcra"],"authid":"bob"}]`)
	if msg := readWS(t, conn); len(msg) != 3 || msg[0] != float64(4) {
		t.Fatalf("reply to HELLO = %v, want CHALLENGE", msg)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	msg := readWS(t, conn)
	if len(msg) != 3 || msg[0] != float64(3) || msg[2] != string(protocol.ErrTimeout) {
		t.Errorf("after no AUTHENTICATE: got %v, want ABORT %s", msg, protocol.ErrTimeout)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("ABORT after %v, want about auth_timeout (200ms)", d)
	}
	conn.Close()
	if err := m.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
}

// TestMain_GoodbyeTimeout shuts down with a client that never answers
// GOODBYE: goodbye_timeout, not the longer shutdown_timeout, bounds the
// wait.
func TestMain_GoodbyeTimeout(t *testing.T) {
	defer goleak.VerifyNone(t)
	m, cancel, _ := mustRunConfig(t, "shutdown_timeout: 30s\ngoodbye_timeout: 100ms\n")
	conn := dialWS(t, m.WebSocketURL(), nil)
	defer conn.Close()
	writeWS(t, conn, `[1,"realm1",{"roles":{"caller":{}}}]`)
	if msg := readWS(t, conn); len(msg) != 3 || msg[0] != float64(2) {
		t.Fatalf("reply to HELLO = %v, want WELCOME", msg)
	}

	start := time.Now()
	cancel()
	if msg := readWS(t, conn); len(msg) != 3 || msg[0] != float64(6) {
		t.Fatalf("after shutdown began got %v, want GOODBYE", msg)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("shutdown took %v with goodbye_timeout 100ms, want far less than shutdown_timeout 30s", d)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := conn.ReadMessage(); err == nil {
		t.Errorf("connection still open after shutdown")
	}
}

// TestMain_SlowConsumer floods a subscriber that does not read. With a
// tiny queue_size and max_backlog, a drop-events realm drops events for
// it and counts them in wamp.session.get's _dropped_events, while it stays
// joined; a disconnect realm disconnects it.
func TestMain_SlowConsumer(t *testing.T) {
	tests := []struct {
		policy      string
		wantDropped bool // else: want the subscriber disconnected
	}{
		{policy: "drop-events", wantDropped: true},
		{policy: "disconnect", wantDropped: false},
	}
	for _, tt := range tests {
		t.Run(tt.policy, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			m, _, logs := mustRunConfig(t, `
max_backlog: 4
slow_consumer_wait: 100ms
websocket:
  address: 127.0.0.1:0
  queue_size: 1
realms:
  - name: com.example.feed
    slow_consumer: `+tt.policy+`
`)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()

			sub := dialWS(t, m.WebSocketURL(), nil)
			defer sub.Close()
			writeWS(t, sub, `[1,"com.example.feed",{"roles":{"subscriber":{}}}]`)
			welcome := readWS(t, sub)
			if len(welcome) != 3 || welcome[0] != float64(2) {
				t.Fatalf("reply to HELLO = %v, want WELCOME", welcome)
			}
			subID := protocol.ID(welcome[1].(float64))
			writeWS(t, sub, `[32,1,{},"com.example.flood"]`)
			if msg := readWS(t, sub); len(msg) != 3 || msg[0] != float64(33) {
				t.Fatalf("reply to SUBSCRIBE = %v, want SUBSCRIBED", msg)
			}
			// From here on sub reads nothing.

			pub := mustJoin(t, m, client.Config{Realm: "com.example.feed"})
			defer pub.Close()
			if _, err := pub.Call(ctx, "wamp.session.get", uint64(subID)); err != nil {
				t.Fatalf("wamp.session.get(subscriber) = %v", err)
			}
			// Events large enough to fill the socket buffers quickly, in
			// batches, each followed by a look at the subscriber. A
			// disconnect may need no more events (slow_consumer_wait), so
			// after enough of them only look.
			const batch, enough = 20, 400
			payload := strings.Repeat("x", 64<<10)
			for sent := 0; ; {
				if ctx.Err() != nil {
					t.Fatalf("after %d events the subscriber is neither dropped from nor disconnected", sent)
				}
				if sent < enough {
					for range batch {
						req := &client.PublishRequest{Topic: "com.example.flood", Args: protocol.List{payload}, Acknowledge: true}
						if _, err := pub.DoPublish(ctx, req); err != nil {
							t.Fatalf("publish %d: %v", sent, err)
						}
						sent++
					}
				} else {
					time.Sleep(20 * time.Millisecond)
				}
				// The router logs the disconnect at once, but lists the
				// session until its transport has given up flushing.
				res, err := pub.Call(ctx, "wamp.session.get", uint64(subID))
				if isError(err, protocol.ErrNoSuchSession) || loggedDisconnect(logs.String(), subID) {
					if tt.wantDropped {
						t.Fatalf("after %d events the subscriber was disconnected, want its events dropped", sent)
					}
					break
				}
				if err != nil {
					t.Fatalf("wamp.session.get(subscriber) = %v", err)
				}
				details, _ := res.Args[0].(map[string]any)
				dropped, ok := protocol.Dict(details).Int("_dropped_events")
				if ok != tt.wantDropped {
					t.Fatalf("wamp.session.get(subscriber) = %v: has _dropped_events %v, want %v", details, ok, tt.wantDropped)
				}
				if dropped > 0 {
					break
				}
			}
			sub.Close()
			pub.Close()
			if err := m.Close(); err != nil {
				t.Fatalf("Close() = %v", err)
			}
		})
	}
}

// loggedDisconnect reports whether log tells of the disconnect of session
// id as a slow consumer.
func loggedDisconnect(log string, id protocol.ID) bool {
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "disconnecting session") && strings.Contains(line, fmt.Sprintf("session=%d ", id)) {
			return true
		}
	}
	return false
}

// TestRouterConfig checks that every limit of the file reaches the
// router's Config, including those whose effect the tests above cannot
// observe directly.
func TestRouterConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.AuthTimeout = 3 * time.Second
	cfg.StrictRequestIDs = true
	cfg.MaxMessageSize = 1 << 20
	cfg.MaxSessions = -1
	cfg.MaxPendingCalls = 5
	cfg.MaxSubscriptions = 6
	cfg.MaxRegistrations = 7
	cfg.MaxBacklog = -1
	cfg.MaxBacklogBytes = 3 << 20
	cfg.SlowConsumerWait = 250 * time.Millisecond
	cfg.WebSocket.QueueSize = 8
	cfg.RawSocket.QueueSize = 9
	cfg.WebSocket.QueueBytes = 1 << 16
	cfg.RawSocket.QueueBytes = 1 << 17
	cfg.Realms = []RealmConfig{
		{Name: "a.b", MaxSessions: 10, SlowConsumer: "drop-events", MaxRetainedBytes: 1 << 20, MaxHistoryBytes: -1,
			TrustLevels: map[string]int{"backend": 2}},
		{Name: "c.d"},
	}
	type limits struct {
		AuthTimeout, GoodbyeTimeout, SlowConsumerWait                    time.Duration
		StrictRequestIDs                                                 bool
		MaxMessageSize                                                   int64
		MaxSessions, MaxPendingCalls, MaxSubscriptions, MaxRegistrations int
		MaxBacklog, WebSocketQueue, RawSocketQueue                       int
		MaxBacklogBytes                                                  int64
		WebSocketQueueBytes, RawSocketQueueBytes                         int
		RealmMaxSessions                                                 []int
		RealmPolicies                                                    []router.SlowConsumerPolicy
		RealmRetainedBytes, RealmHistoryBytes                            []int64
		RealmTrustLevels                                                 []map[string]int
	}
	got := func(cfg Config) limits {
		t.Helper()
		rc, err := routerConfig(cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("routerConfig() = %v", err)
		}
		l := limits{
			AuthTimeout: rc.AuthTimeout, GoodbyeTimeout: rc.GoodbyeTimeout, SlowConsumerWait: rc.SlowConsumerWait,
			StrictRequestIDs: rc.StrictRequestIDs, MaxMessageSize: rc.MaxMessageSize,
			MaxSessions: rc.MaxSessions, MaxPendingCalls: rc.MaxPendingCalls,
			MaxSubscriptions: rc.MaxSubscriptions, MaxRegistrations: rc.MaxRegistrations,
			MaxBacklog: rc.MaxBacklog, MaxBacklogBytes: rc.MaxBacklogBytes, WebSocketQueue: rc.WebSocket.QueueSize, RawSocketQueue: rc.RawSocket.QueueSize,
			WebSocketQueueBytes: rc.WebSocket.QueueBytes, RawSocketQueueBytes: rc.RawSocket.QueueBytes,
		}
		for _, r := range rc.Realms {
			l.RealmMaxSessions = append(l.RealmMaxSessions, r.MaxSessions)
			l.RealmPolicies = append(l.RealmPolicies, r.SlowConsumer)
			l.RealmRetainedBytes = append(l.RealmRetainedBytes, r.MaxRetainedBytes)
			l.RealmHistoryBytes = append(l.RealmHistoryBytes, r.MaxHistoryBytes)
			l.RealmTrustLevels = append(l.RealmTrustLevels, r.TrustLevels)
		}
		return l
	}
	want := limits{
		AuthTimeout: 3 * time.Second, GoodbyeTimeout: DefaultShutdownTimeout, SlowConsumerWait: 250 * time.Millisecond,
		StrictRequestIDs: true, MaxMessageSize: 1 << 20,
		MaxSessions: -1, MaxPendingCalls: 5, MaxSubscriptions: 6, MaxRegistrations: 7,
		MaxBacklog: -1, MaxBacklogBytes: 3 << 20, WebSocketQueue: 8, RawSocketQueue: 9,
		WebSocketQueueBytes: 1 << 16, RawSocketQueueBytes: 1 << 17,
		RealmMaxSessions: []int{10, 0},
		RealmPolicies:    []router.SlowConsumerPolicy{router.SlowConsumerDropEvents, router.SlowConsumerDisconnect},
		// Defaults are filled in by router.New.
		RealmRetainedBytes: []int64{1 << 20, 0},
		RealmHistoryBytes:  []int64{-1, 0},
		RealmTrustLevels:   []map[string]int{{"backend": 2}, nil},
	}
	if diff := cmp.Diff(want, got(cfg)); diff != "" {
		t.Errorf("routerConfig() mismatch (-want +got):\n%s", diff)
	}
	cfg.GoodbyeTimeout = -1
	if g := got(cfg).GoodbyeTimeout; g != -1 {
		t.Errorf("routerConfig() with goodbye_timeout -1ns: GoodbyeTimeout = %v, want -1ns", g)
	}
}

// mustRunConfig runs wampd with the YAML config and then args. Unless
// config has a websocket or rawsocket section, WebSocket listens on
// 127.0.0.1:0 and RawSocket is off. It returns what mustRunMain does.
func mustRunConfig(tb testing.TB, config string, args ...string) (*Main, context.CancelFunc, *lockedBuffer) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "wampd.yaml")
	writeFile(tb, path, config)
	all := []string{"-config", path}
	if !strings.Contains(config, "websocket:") {
		all = append(all, "-ws", "127.0.0.1:0")
	}
	if !strings.Contains(config, "rawsocket:") {
		all = append(all, "-rawsocket", "")
	}
	return mustRunMain(tb, append(all, args...)...)
}

// join dials wampd's WebSocket listener and joins with cfg.
func join(tb testing.TB, m *Main, cfg client.Config) (*client.Client, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cfg.Logger = slog.New(slog.DiscardHandler)
	return client.Dial(ctx, m.WebSocketURL(), cfg)
}

func mustJoin(tb testing.TB, m *Main, cfg client.Config) *client.Client {
	tb.Helper()
	c, err := join(tb, m, cfg)
	if err != nil {
		tb.Fatalf("join %s: %v", cfg.Realm, err)
	}
	return c
}

// isAbort reports whether err is an ABORT with reason.
func isAbort(err error, reason protocol.URI) bool {
	var a *client.AbortError
	return errors.As(err, &a) && a.Reason == reason
}

// isError reports whether err is an ERROR with uri.
func isError(err error, uri protocol.URI) bool {
	var e *protocol.Error
	return errors.As(err, &e) && e.URI == uri
}
