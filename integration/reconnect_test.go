package integration

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// restoreWithin is how soon after a router restart a reconnecting client
// must have its registrations and subscriptions back.
const restoreWithin = 2 * time.Second

// wsRouter is a router served over WebSocket on a fixed address, so that
// a test can stop it and start another one where clients expect it.
type wsRouter struct {
	r  *router.Router
	hs *http.Server
	wg sync.WaitGroup
}

// startWSRouter serves a new router with cfg on l at /ws. The test's
// cleanup closes it if the test did not.
func startWSRouter(tb testing.TB, l net.Listener, cfg router.Config) *wsRouter {
	tb.Helper()
	r, err := router.New(cfg)
	if err != nil {
		tb.Fatalf("router.New: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", r.Handler())
	s := &wsRouter{r: r, hs: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	s.wg.Go(func() { s.hs.Serve(l) })
	tb.Cleanup(func() { s.close() })
	return s
}

// close closes the router at once (transports dropped, no GOODBYE) and
// the HTTP server, and waits for both.
func (s *wsRouter) close() {
	s.r.Close()
	s.hs.Close()
	s.wg.Wait()
}

// stateChange is one call of ReconnectConfig.OnState.
type stateChange struct {
	state client.ConnState
	err   error
}

// stateLog records OnState calls and lets a test wait for them in order.
type stateLog chan stateChange

func (sl stateLog) onState(s client.ConnState, err error) { sl <- stateChange{s, err} }

// waitFor reads state changes until want, failing the test when ctx ends
// first or when Closed comes unexpectedly.
func (sl stateLog) waitFor(tb testing.TB, ctx context.Context, want client.ConnState) stateChange {
	tb.Helper()
	for {
		select {
		case sc := <-sl:
			if sc.state == want {
				return sc
			}
			if sc.state == client.StateClosed {
				tb.Fatalf("state %v (%v) while waiting for %v", sc.state, sc.err, want)
			}
		case <-ctx.Done():
			tb.Fatalf("no state %v: %v", want, ctx.Err())
		}
	}
}

// TestReconnect restarts the router on the same address under a
// reconnecting client that registered a procedure and subscribed a topic:
// within restoreWithin the client must report Disconnected then Connected,
// and a client of the new router must reach both.
func TestReconnect(t *testing.T) {
	tests := []struct {
		name string
		stop func(ctx context.Context, s *wsRouter) error
	}{
		// GOODBYE wamp.close.system_shutdown.
		{"shutdown", func(ctx context.Context, s *wsRouter) error {
			err := s.r.Shutdown(ctx)
			s.close()
			return err
		}},
		// Transport dropped without GOODBYE.
		{"close", func(_ context.Context, s *wsRouter) error { s.close(); return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := newLogSink(t)
			rcfg := router.Config{Realms: []router.RealmConfig{{Name: realm1}}, Logger: log.logger()}
			l := listen(t, "tcp", "127.0.0.1:0")
			addr := l.Addr().String()
			url := "ws://" + addr + "/ws"
			first := startWSRouter(t, l, rcfg)

			ctx := timeout(t)
			states := make(stateLog, 100)
			cfg := client.Config{Realm: realm1, Logger: log.logger(), ResponseTimeout: testTimeout}
			rc, err := client.DialReconnecting(ctx, url, cfg, client.ReconnectConfig{
				MinDelay: 10 * time.Millisecond,
				MaxDelay: 200 * time.Millisecond,
				OnState:  states.onState,
			})
			if err != nil {
				t.Fatalf("DialReconnecting: %v", err)
			}
			defer rc.Close()
			states.waitFor(t, ctx, client.StateConnected)
			const proc, topic protocol.URI = "com.example.echo", "com.example.news"
			if _, err := rc.Register(ctx, proc, echo, nil); err != nil {
				t.Fatalf("Register: %v", err)
			}
			in := newInbox()
			if _, err := rc.Subscribe(ctx, topic, in.handle, nil); err != nil {
				t.Fatalf("Subscribe: %v", err)
			}

			start := time.Now()
			if err := tt.stop(ctx, first); err != nil {
				t.Fatalf("stopping the first router: %v", err)
			}
			startWSRouter(t, listen(t, "tcp", addr), rcfg)

			rctx, cancel := context.WithTimeout(ctx, restoreWithin)
			defer cancel()
			if sc := states.waitFor(t, rctx, client.StateDisconnected); sc.err == nil {
				t.Errorf("Disconnected reported without a reason")
			}
			if sc := states.waitFor(t, rctx, client.StateConnected); sc.err != nil {
				t.Errorf("Connected reported restore errors: %v", sc.err)
			}
			restored := time.Since(start)

			c2, err := client.Dial(rctx, url, cfg)
			if err != nil {
				t.Fatalf("second client: Dial: %v", err)
			}
			defer c2.Close()
			res, err := c2.Call(rctx, proc, "hi")
			if err != nil {
				t.Fatalf("Call(%s) on the new router: %v", proc, err)
			}
			if len(res.Args) != 1 || res.Args[0] != "hi" {
				t.Errorf("Call(%s) = %v, want [hi]", proc, res.Args)
			}
			if err := c2.Publish(rctx, topic, "news"); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			if err := in.wait(rctx, 1); err != nil {
				t.Fatalf("subscriber after restart: %v", err)
			}
			if got := in.get(0).Args; len(got) != 1 || got[0] != "news" {
				t.Errorf("event Args = %v, want [news]", got)
			}
			if _, err := rc.Call(rctx, proc, "self"); err != nil {
				t.Errorf("Call through the reconnected client: %v", err)
			}
			t.Logf("restored %v after the router stop began; reachable after %v", restored, time.Since(start))

			if err := rc.Close(); err != nil {
				t.Errorf("Close() = %v, want nil", err)
			}
			if sc := states.waitFor(t, ctx, client.StateClosed); sc.err != nil {
				t.Errorf("Closed reported %v, want nil", sc.err)
			}
			if _, err := rc.Call(ctx, proc); !errors.Is(err, client.ErrClosed) {
				t.Errorf("Call after Close = %v, want ErrClosed", err)
			}
		})
	}
}

// TestReconnectFinalAbort restarts the router without the client's realm:
// the refusal (ABORT wamp.error.no_such_realm) is final, so the client
// stops and reports Closed with the AbortError instead of retrying.
func TestReconnectFinalAbort(t *testing.T) {
	log := newLogSink(t)
	l := listen(t, "tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	url := "ws://" + addr + "/ws"
	first := startWSRouter(t, l, router.Config{Realms: []router.RealmConfig{{Name: realm1}}, Logger: log.logger()})

	ctx := timeout(t)
	states := make(stateLog, 100)
	cfg := client.Config{Realm: realm1, Logger: log.logger(), ResponseTimeout: testTimeout}
	rc, err := client.DialReconnecting(ctx, url, cfg, client.ReconnectConfig{
		MinDelay: 10 * time.Millisecond,
		MaxDelay: 100 * time.Millisecond,
		OnState:  states.onState,
	})
	if err != nil {
		t.Fatalf("DialReconnecting: %v", err)
	}
	defer rc.Close()
	first.close()
	startWSRouter(t, listen(t, "tcp", addr), router.Config{Realms: []router.RealmConfig{{Name: "realm2"}}, Logger: log.logger()})

	sc := states.waitForClosed(t, ctx)
	var ab *client.AbortError
	if !errors.As(sc.err, &ab) || ab.Reason != protocol.ErrNoSuchRealm {
		t.Fatalf("Closed with %v, want an AbortError %s", sc.err, protocol.ErrNoSuchRealm)
	}
	select {
	case <-rc.Done():
	case <-ctx.Done():
		t.Fatal("Done not closed after the final refusal")
	}
	if !errors.As(rc.Err(), &ab) {
		t.Errorf("Err() = %v, want the AbortError", rc.Err())
	}
	if err := rc.Close(); !errors.Is(err, client.ErrClosed) {
		t.Errorf("Close() after stop = %v, want ErrClosed", err)
	}
}

// waitForClosed reads state changes until Closed.
func (sl stateLog) waitForClosed(tb testing.TB, ctx context.Context) stateChange {
	tb.Helper()
	for {
		select {
		case sc := <-sl:
			if sc.state == client.StateClosed {
				return sc
			}
		case <-ctx.Done():
			tb.Fatalf("no state closed: %v", ctx.Err())
		}
	}
}
