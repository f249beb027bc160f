// Command reconnect shows a callee that outlives its router: it keeps a
// session joined with client.DialReconnecting, and after every router
// restart or broken link it joins again and registers its procedure again.
// Its state changes are printed as they happen.
//
// Start a router (go run ./cmd/wampd), then:
//
//	go run ./examples/reconnect
//
// and restart the router while it runs: calls of com.example.echo, from
// any client, reach it again once it prints "connected". Ctrl-C stops it.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
)

// Echo is the procedure the callee serves: it returns its argument.
var Echo = client.Procedure[string, string]{URI: "com.example.echo"}

func main() {
	url := flag.String("url", "ws://127.0.0.1:8080/ws", "router URL (ws://, wss://, tcp://, tcps://, unix://)")
	realm := flag.String("realm", "realm1", "realm to join (wampd serves realm1 by default)")
	authid := flag.String("authid", "", "authid, for ticket authentication")
	ticket := flag.String("ticket", "", "ticket: authenticate with ticket authentication as -authid (use TLS)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg := client.Config{Realm: protocol.URI(*realm), AuthID: *authid}
	if *ticket != "" {
		cfg.Auth = []client.Authenticator{client.TicketAuth(*ticket)}
	}
	if err := run(ctx, *url, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "reconnect:", err)
		os.Exit(1)
	}
}

// run serves Echo from a reconnecting client until ctx ends, writing its
// state changes to out.
func run(ctx context.Context, url string, cfg client.Config, out io.Writer) error {
	// OnState is called one change at a time; it must not block for long.
	onState := func(s client.ConnState, err error) {
		switch {
		case s == client.StateReconnecting && err == nil:
			fmt.Fprintln(out, s)
		case err != nil:
			// The reasons name addresses and ports; the first clause is
			// enough here.
			reason, _, _ := strings.Cut(err.Error(), ": ")
			fmt.Fprintf(out, "%s (%s)\n", s, reason)
		default:
			fmt.Fprintln(out, s)
		}
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rc, err := client.DialReconnecting(dctx, url, cfg, client.ReconnectConfig{
		MinDelay: 50 * time.Millisecond,
		MaxDelay: 2 * time.Second,
		OnState:  onState,
	})
	if err != nil {
		return err
	}
	defer rc.Close()
	// Registered through rc, the procedure is registered again on every
	// new session; if another callee holds it meanwhile, rc reports
	// "restoring" and keeps trying.
	_, err = Echo.Register(dctx, rc, func(ctx context.Context, s string) (string, error) {
		return s, nil
	}, nil)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "serving", Echo.URI)
	select {
	case <-ctx.Done():
		return nil
	case <-rc.Done():
		return rc.Err() // it gave up: a final refusal
	}
}
