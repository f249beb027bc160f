// Command rpc shows remote procedure calls with wampkit: one session
// registers procedures, another calls them, over any transport the client
// can dial.
//
// Start a router first (go run ./cmd/wampd), then:
//
//	go run ./examples/rpc
//	go run ./examples/rpc -url tcp://127.0.0.1:8081
//	go run ./examples/rpc -url wss://router.example.com/ws -realm com.example.app -authid alice -ticket s3cret
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
)

func main() {
	url := flag.String("url", "ws://127.0.0.1:8080/ws", "router URL (ws://, wss://, tcp://, tcps://, unix://)")
	realm := flag.String("realm", "realm1", "realm to join (wampd serves realm1 by default)")
	authid := flag.String("authid", "", "authid, for ticket authentication")
	ticket := flag.String("ticket", "", "ticket: authenticate with ticket authentication as -authid (use TLS)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *url, config(*realm, *authid, *ticket), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "rpc:", err)
		os.Exit(1)
	}
}

// config returns the configuration of both sessions: the realm, and
// ticket authentication if a ticket is given (wampd's realms[].ticket).
func config(realm, authid, ticket string) client.Config {
	cfg := client.Config{Realm: protocol.URI(realm), AuthID: authid}
	if ticket != "" {
		cfg.Auth = []client.Authenticator{client.TicketAuth(ticket)}
	}
	return cfg
}

// run registers the example procedures with one session, calls them from
// another, and writes what happens to out.
func run(ctx context.Context, url string, cfg client.Config, out io.Writer) error {
	callee, err := client.Dial(ctx, url, cfg)
	if err != nil {
		return fmt.Errorf("callee: %w", err)
	}
	defer callee.Close()
	if _, err := callee.Register(ctx, "com.example.add2", add2, nil); err != nil {
		return fmt.Errorf("register add2: %w", err)
	}
	if _, err := callee.Register(ctx, "com.example.countdown", countdown, nil); err != nil {
		return fmt.Errorf("register countdown: %w", err)
	}
	fmt.Fprintln(out, "callee: registered com.example.add2 and com.example.countdown")

	caller, err := client.Dial(ctx, url, cfg)
	if err != nil {
		return fmt.Errorf("caller: %w", err)
	}
	defer caller.Close()

	// A plain call: positional arguments in, a result out.
	res, err := caller.Call(ctx, "com.example.add2", 2, 3)
	if err != nil {
		return fmt.Errorf("call add2: %w", err)
	}
	fmt.Fprintf(out, "add2(2, 3) = %v\n", res.Args[0])

	// Progressive results: the callee sends partial results before the
	// final one, and OnProgress sees each of them in order.
	res, err = caller.Do(ctx, &client.CallRequest{
		Procedure: "com.example.countdown",
		Args:      protocol.List{3},
		OnProgress: func(r *client.Result) error {
			fmt.Fprintf(out, "countdown: %v\n", r.Args[0])
			return nil
		},
	})
	if err != nil {
		return fmt.Errorf("call countdown: %w", err)
	}
	fmt.Fprintf(out, "countdown: %v\n", res.Args[0])

	// Errors from the callee or the router arrive as *protocol.Error.
	for _, c := range []struct {
		proc protocol.URI
		args []any
	}{
		{"com.example.add2", []any{"two", 3}},
		{"com.example.nothing", nil},
	} {
		_, err := caller.Call(ctx, c.proc, c.args...)
		var werr *protocol.Error
		if !errors.As(err, &werr) {
			return fmt.Errorf("call %s: got %v, want a WAMP error", c.proc, err)
		}
		fmt.Fprintf(out, "%s%v failed: %s %v\n", c.proc, c.args, werr.URI, werr.Args)
	}
	return nil
}

// add2 returns the sum of its two integer arguments.
func add2(_ context.Context, inv *client.Invocation) (*client.Result, error) {
	// Convert reads an integer whatever its Go type: int64 over the
	// network, the caller's own type in-process.
	if len(inv.Args) == 2 {
		a, err1 := client.Convert[int64](inv.Args[0])
		b, err2 := client.Convert[int64](inv.Args[1])
		if err1 == nil && err2 == nil {
			return &client.Result{Args: protocol.List{a + b}}, nil
		}
	}
	return nil, &protocol.Error{URI: protocol.ErrInvalidArgument, Args: protocol.List{"add2 takes two integers"}}
}

// countdown counts down from its argument, one progressive result per
// number if the caller asked for them, and finally returns "liftoff".
func countdown(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
	var n int64
	err := client.Decode(inv.Args, inv.Kwargs, &n) // exactly one integer
	if err != nil || n < 0 || n > 100 {
		return nil, &protocol.Error{URI: protocol.ErrInvalidArgument, Args: protocol.List{"countdown takes an integer from 0 to 100"}}
	}
	if inv.ReceiveProgress() {
		for i := n; i > 0; i-- {
			if err := inv.SendProgress(ctx, protocol.List{i}, nil); err != nil {
				return nil, err
			}
		}
	}
	return &client.Result{Args: protocol.List{"liftoff"}}, nil
}
