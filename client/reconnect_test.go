package client_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/transport"
)

// fakeRouters hands out a new fakeRouter for every connection of a
// Reconnecting client, and lets a test drop the current link.
type fakeRouters struct {
	mu     sync.Mutex
	ends   []transport.Peer // router ends, the last is current
	fail   error            // if set, Connect fails with it
	block  bool             // if set, Connect waits for its ctx to end
	wg     sync.WaitGroup
	states chan stateChange
}

type stateChange struct {
	state client.ConnState
	err   error
}

func newFakeRouters(tb testing.TB) *fakeRouters {
	f := &fakeRouters{states: make(chan stateChange, 100)}
	tb.Cleanup(func() {
		f.mu.Lock()
		for _, p := range f.ends {
			p.Close(nil)
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
	return f
}

func (f *fakeRouters) connect(ctx context.Context) (transport.Peer, error) {
	f.mu.Lock()
	fail, block := f.fail, f.block
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if fail != nil {
		return nil, fail
	}
	cp, rp := transport.LocalPair(1024)
	f.mu.Lock()
	f.ends = append(f.ends, rp)
	f.mu.Unlock()
	f.wg.Go(func() { serveFake(rp) })
	return cp, nil
}

// drop closes the current link, as a broken transport would.
func (f *fakeRouters) drop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ends[len(f.ends)-1].Close(nil)
}

func (f *fakeRouters) set(fail error, block bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail, f.block = fail, block
}

func (f *fakeRouters) onState(s client.ConnState, err error) { f.states <- stateChange{s, err} }

// waitFor reads state changes until want.
func (f *fakeRouters) waitFor(tb testing.TB, want client.ConnState) stateChange {
	tb.Helper()
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	for {
		select {
		case sc := <-f.states:
			if sc.state == want {
				return sc
			}
		case <-timer.C:
			tb.Fatalf("no state %v within %v", want, deadline)
		}
	}
}

func (f *fakeRouters) dial(tb testing.TB, rc client.ReconnectConfig) *client.Reconnecting {
	tb.Helper()
	rc.Connect = f.connect
	rc.OnState = f.onState
	if rc.MinDelay == 0 {
		rc.MinDelay = time.Millisecond
		rc.MaxDelay = 10 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	r, err := client.DialReconnecting(ctx, "", client.Config{Realm: "realm1", Logger: quietLogger()}, rc)
	if err != nil {
		tb.Fatalf("DialReconnecting: %v", err)
	}
	tb.Cleanup(func() { r.Close() })
	f.waitFor(tb, client.StateConnected)
	return r
}

func TestReconnectRestores(t *testing.T) {
	f := newFakeRouters(t)
	r := f.dial(t, client.ReconnectConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	reg, err := r.Register(ctx, "test.add", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Args: protocol.List{"added"}}, nil
	}, nil)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	events := make(chan *client.Event, 10)
	sub, err := r.Subscribe(ctx, "test.news", func(ev *client.Event) { events <- ev }, nil)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}

	for round := range 3 {
		f.drop()
		if sc := f.waitFor(t, client.StateDisconnected); !errors.Is(sc.err, transport.ErrClosed) {
			t.Errorf("round %d: Disconnected with %v, want transport.ErrClosed", round, sc.err)
		}
		if sc := f.waitFor(t, client.StateConnected); sc.err != nil {
			t.Errorf("round %d: Connected with restore error %v", round, sc.err)
		}
		if reg.ID() == 0 || sub.ID() == 0 {
			t.Errorf("round %d: restored handles have IDs %d and %d, want both set", round, reg.ID(), sub.ID())
		}
		res, err := r.Call(ctx, "test.add")
		if err != nil || len(res.Args) != 1 || res.Args[0] != "added" {
			t.Fatalf("round %d: Call = %v, %v; want [added]", round, res, err)
		}
		excl := false
		if _, err := r.DoPublish(ctx, &client.PublishRequest{Topic: "test.news", ExcludeMe: &excl}); err != nil {
			t.Fatalf("round %d: DoPublish: %v", round, err)
		}
		select {
		case <-events:
		case <-ctx.Done():
			t.Fatalf("round %d: no event after reconnect", round)
		}
	}

	if err := r.Unregister(ctx, reg); err != nil {
		t.Errorf("Unregister: %v", err)
	}
	if id := reg.ID(); id != 0 {
		t.Errorf("ID() after Unregister = %d, want 0", id)
	}
	if err := r.Unregister(ctx, reg); !errors.Is(err, client.ErrNotActive) {
		t.Errorf("second Unregister = %v, want ErrNotActive", err)
	}
	if err := r.Unsubscribe(ctx, sub); err != nil {
		t.Errorf("Unsubscribe: %v", err)
	}
	f.drop()
	f.waitFor(t, client.StateConnected)
	var werr *protocol.Error
	if _, err := r.Call(ctx, "test.add"); !errors.As(err, &werr) || werr.URI != protocol.ErrNoSuchProcedure {
		t.Errorf("Call after Unregister and reconnect = %v, want %s", err, protocol.ErrNoSuchProcedure)
	}

	if err := r.Close(); err != nil {
		t.Errorf("Close() = %v, want nil", err)
	}
	if sc := f.waitFor(t, client.StateClosed); sc.err != nil {
		t.Errorf("Closed with %v, want nil", sc.err)
	}
	if err := r.Close(); !errors.Is(err, client.ErrClosed) {
		t.Errorf("second Close() = %v, want ErrClosed", err)
	}
}

// TestReconnectDisconnected checks that requests fail fast while no session
// is joined, and that Close ends a reconnect attempt in progress.
func TestReconnectDisconnected(t *testing.T) {
	f := newFakeRouters(t)
	r := f.dial(t, client.ReconnectConfig{})
	f.set(nil, true)
	f.drop()
	f.waitFor(t, client.StateDisconnected)
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if _, err := r.Call(ctx, "test.echo"); !errors.Is(err, client.ErrClosed) {
		t.Errorf("Call while disconnected = %v, want ErrClosed", err)
	}
	if err := r.Publish(ctx, "test.news"); !errors.Is(err, client.ErrClosed) {
		t.Errorf("Publish while disconnected = %v, want ErrClosed", err)
	}
	if _, err := r.Register(ctx, "test.p", echoHandler, nil); !errors.Is(err, client.ErrClosed) {
		t.Errorf("Register while disconnected = %v, want ErrClosed", err)
	}
	if r.Client() != nil {
		t.Errorf("Client() != nil while disconnected")
	}
	f.waitFor(t, client.StateReconnecting)
	if err := r.Close(); err != nil {
		t.Errorf("Close() = %v, want nil", err)
	}
	f.waitFor(t, client.StateClosed)
}

func echoHandler(_ context.Context, inv *client.Invocation) (*client.Result, error) {
	return &client.Result{Args: inv.Args}, nil
}

func TestReconnectStops(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		fail    error
		attempt int
		want    error
	}{
		{"max attempts", boom, 3, boom},
		{"no such realm", &client.AbortError{Reason: protocol.ErrNoSuchRealm}, 0, &client.AbortError{}},
		{"authentication denied", &client.AbortError{Reason: protocol.ErrAuthenticationDenied}, 0, &client.AbortError{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeRouters(t)
			r := f.dial(t, client.ReconnectConfig{MaxAttempts: tt.attempt})
			f.set(tt.fail, false)
			f.drop()
			sc := f.waitFor(t, client.StateClosed)
			if ab := (*client.AbortError)(nil); errors.As(tt.want, &ab) {
				if !errors.As(sc.err, &ab) {
					t.Errorf("Closed with %v, want an AbortError", sc.err)
				}
			} else if !errors.Is(sc.err, tt.want) {
				t.Errorf("Closed with %v, want %v", sc.err, tt.want)
			}
			select {
			case <-r.Done():
			case <-time.After(deadline):
				t.Fatal("Done not closed after StateClosed")
			}
			if r.Err() == nil {
				t.Errorf("Err() = nil after stop")
			}
			if err := r.Close(); !errors.Is(err, client.ErrClosed) {
				t.Errorf("Close() after stop = %v, want ErrClosed", err)
			}
		})
	}
}

func TestReconnectDelay(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name     string
		rc       client.ReconnectConfig
		n        int
		min, max time.Duration
	}{
		{"defaults first", client.ReconnectConfig{}, 0, 100 * ms, 100 * ms},
		{"defaults third", client.ReconnectConfig{}, 2, 100 * ms, 400 * ms},
		{"defaults capped", client.ReconnectConfig{}, 10, 100 * ms, 5 * time.Second},
		{"no overflow", client.ReconnectConfig{}, 1000, 100 * ms, 5 * time.Second},
		{"max below min", client.ReconnectConfig{MinDelay: 50 * ms, MaxDelay: ms}, 5, 50 * ms, 50 * ms},
		{"custom", client.ReconnectConfig{MinDelay: ms, MaxDelay: 10 * ms}, 3, ms, 8 * ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := map[time.Duration]bool{}
			for range 200 {
				d := tt.rc.Delay(tt.n)
				if d < tt.min || d > tt.max {
					t.Fatalf("Delay(%d) = %v, want in [%v, %v]", tt.n, d, tt.min, tt.max)
				}
				seen[d] = true
			}
			if tt.min != tt.max && len(seen) < 2 {
				t.Errorf("Delay(%d) always %v, want jitter", tt.n, seen)
			}
		})
	}
}

func TestStateString(t *testing.T) {
	tests := []struct {
		s    client.ConnState
		want string
	}{
		{client.StateConnected, "connected"},
		{client.StateRestoring, "restoring"},
		{client.StateDisconnected, "disconnected"},
		{client.StateReconnecting, "reconnecting"},
		{client.StateClosed, "closed"},
		{client.ConnState(0), "ConnState(0)"},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("State(%d).String() = %q, want %q", int(tt.s), got, tt.want)
		}
	}
}
