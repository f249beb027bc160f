package integration

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/transport"
)

// gatedConnect connects a Reconnecting client to a router in-process,
// one session per token on gate, and remembers the transport of the
// current session so that a test can break it.
type gatedConnect struct {
	r    *router.Router
	gate chan struct{}

	mu   sync.Mutex
	peer transport.Peer
}

func (g *gatedConnect) connect(ctx context.Context) (transport.Peer, error) {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p, err := g.r.Connect(ctx)
	if err == nil {
		g.mu.Lock()
		g.peer = p
		g.mu.Unlock()
	}
	return p, err
}

// drop breaks the transport of the current session.
func (g *gatedConnect) drop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.peer.Close(errors.New("test: link dropped"))
}

// contested is the procedure of TestReconnectRetriesRestore.
const contested protocol.URI = "com.example.contested"

// restoring starts a reconnecting callee of contested, breaks its link,
// lets another client register contested before it rejoins, and returns
// once the callee has reported StateRestoring for it.
func restoring(t *testing.T, e *env) (rc *client.Reconnecting, reg *client.Registration, states stateLog, other *client.Client) {
	ctx := timeout(t)
	g := &gatedConnect{r: e.r, gate: make(chan struct{}, 1)}
	g.gate <- struct{}{}
	states = make(stateLog, 100)
	rc, err := client.DialReconnecting(ctx, "", e.clientConfig(), client.ReconnectConfig{
		MinDelay: time.Millisecond,
		MaxDelay: 20 * time.Millisecond,
		OnState:  states.onState,
		Connect:  g.connect,
	})
	if err != nil {
		t.Fatalf("DialReconnecting: %v", err)
	}
	t.Cleanup(func() { rc.Close() })
	states.waitFor(t, ctx, client.StateConnected)
	reg, err = rc.Register(ctx, contested, func(context.Context, *client.Invocation) (*client.Result, error) {
		return &client.Result{Args: protocol.List{"reconnecting"}}, nil
	}, nil)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}

	g.drop()
	states.waitFor(t, ctx, client.StateDisconnected)
	other = e.join(t, link{transport: "local"})
	// The router drops the broken session's registration soon after the
	// link breaks; until then the other client's Register is refused.
	for {
		_, err := other.Register(ctx, contested, func(context.Context, *client.Invocation) (*client.Result, error) {
			return &client.Result{Args: protocol.List{"other"}}, nil
		}, nil)
		if err == nil {
			break
		}
		if perr := asError(t, err); perr.URI != protocol.ErrProcedureAlreadyExists || ctx.Err() != nil {
			t.Fatalf("other client: Register: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
	g.gate <- struct{}{} // let it rejoin: the restore of proc fails
	sc := states.waitFor(t, ctx, client.StateRestoring)
	var rerr *client.RestoreError
	if !errors.As(sc.err, &rerr) || len(rerr.Registrations) != 1 || rerr.Registrations[0] != reg || len(rerr.Subscriptions) != 0 {
		t.Fatalf("StateRestoring with %v, want a RestoreError naming the registration", sc.err)
	}
	if perr := asError(t, sc.err); perr.URI != protocol.ErrProcedureAlreadyExists {
		t.Errorf("restore refused with %s, want %s", perr.URI, protocol.ErrProcedureAlreadyExists)
	}
	if id := reg.ID(); id != 0 {
		t.Errorf("ID() of the registration not restored = %d, want 0", id)
	}
	return rc, reg, states, other
}

// TestReconnectRetriesRestore: once the other client has left, the
// reconnecting client must succeed in a later attempt, report
// StateConnected, and get the calls again.
func TestReconnectRetriesRestore(t *testing.T) {
	e := startEnv(t, router.Config{})
	ctx := timeout(t)
	_, reg, states, other := restoring(t, e)
	if err := other.Close(); err != nil {
		t.Fatalf("other.Close: %v", err)
	}
	if sc := states.waitFor(t, ctx, client.StateConnected); sc.err != nil {
		t.Errorf("StateConnected with %v, want nil once everything is restored", sc.err)
	}
	if reg.ID() == 0 {
		t.Errorf("ID() = 0 after the registration was restored")
	}
	caller := e.join(t, link{transport: "local"})
	res, err := caller.Call(ctx, contested)
	if err != nil {
		t.Fatalf("Call after the restore: %v", err)
	}
	if got, _ := client.Convert[string](res.Args[0]); got != "reconnecting" {
		t.Errorf("Call answered by %q, want the reconnecting client", got)
	}
}

// TestReconnectUnregisterWhileRestoring: a registration that is removed
// while it waits to be restored is no longer missing.
func TestReconnectUnregisterWhileRestoring(t *testing.T) {
	e := startEnv(t, router.Config{})
	ctx := timeout(t)
	rc, reg, states, _ := restoring(t, e)
	if err := rc.Unregister(ctx, reg); err != nil {
		t.Fatalf("Unregister: %v", err)
	}
	if sc := states.waitFor(t, ctx, client.StateConnected); sc.err != nil {
		t.Errorf("StateConnected with %v, want nil", sc.err)
	}
	if err := rc.Unregister(ctx, reg); !errors.Is(err, client.ErrNotActive) {
		t.Errorf("second Unregister = %v, want ErrNotActive", err)
	}
}
