package integration

import (
	"errors"
	"testing"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// TestShutdown stops the router gracefully while a client of every
// transport and serializer is joined: each must receive GOODBYE
// wamp.close.system_shutdown (spec basic "Session Closing") and answer it,
// so that Shutdown returns nil, before any GOODBYE timeout.
func TestShutdown(t *testing.T) {
	e := startEnv(t, router.Config{})
	ctx := timeout(t)
	clients := map[string]*client.Client{}
	for _, l := range links() {
		clients[l.String()] = e.join(t, l)
	}
	if err := e.r.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown() = %v, want nil", err)
	}
	for name, c := range clients {
		select {
		case <-c.Done():
		case <-ctx.Done():
			t.Fatalf("%s: session still open after Shutdown returned", name)
		}
		var gerr *client.GoodbyeError
		if !errors.As(c.Err(), &gerr) {
			t.Errorf("%s: Err() = %v, want a *client.GoodbyeError", name, c.Err())
			continue
		}
		if gerr.Reason != protocol.CloseSystemShutdown {
			t.Errorf("%s: GOODBYE reason %s, want %s", name, gerr.Reason, protocol.CloseSystemShutdown)
		}
	}
	if _, err := e.r.Connect(ctx); !errors.Is(err, router.ErrClosed) {
		t.Errorf("Connect after Shutdown = %v, want router.ErrClosed", err)
	}
}
