// Package routertest starts a wampkit router for the tests of the examples.
package routertest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/router/auth"
)

// URLs are the addresses of a router started by [Start].
type URLs struct {
	// WebSocket is ws://127.0.0.1:port/ws.
	WebSocket string
	// RawSocket is tcp://127.0.0.1:port.
	RawSocket string
}

// The realm of [Start] that admits only ticket authentication, with one
// principal.
const (
	TicketRealm  = "com.example.secure"
	TicketAuthID = "alice"
	Ticket       = "s3cret"
)

// Start starts a router serving realm1 (open) and TicketRealm over
// WebSocket and RawSocket on 127.0.0.1, on ports the system picks, and
// stops it when the test ends.
func Start(tb testing.TB) URLs {
	tb.Helper()
	r, err := router.New(router.Config{
		Realms: []router.RealmConfig{{Name: "realm1"}, {
			Name: TicketRealm,
			Authenticators: []router.Authenticator{&auth.Ticket{
				Principals: map[string]auth.Principal{TicketAuthID: {Secret: Ticket}},
			}},
		}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		tb.Fatal(err)
	}
	wsL := listen(tb)
	rsL := listen(tb)
	mux := http.NewServeMux()
	mux.Handle("/ws", r.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{}, 2)
	go func() {
		srv.Serve(wsL)
		done <- struct{}{}
	}()
	go func() {
		r.ServeRawSocket(rsL) // closes rsL when it returns
		done <- struct{}{}
	}()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		r.Shutdown(ctx)
		r.Close()
		<-done
		<-done
	})
	return URLs{
		WebSocket: "ws://" + wsL.Addr().String() + "/ws",
		RawSocket: "tcp://" + rsL.Addr().String(),
	}
}

func listen(tb testing.TB) net.Listener {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return l
}
