// Command rpc shows remote procedure calls with wampkit: one session
// registers procedures, another calls them, over any transport the client
// can dial.
//
// Start a router first (go run ./cmd/wampd), then:
//
//	go run ./examples/rpc
//	go run ./examples/rpc -url tcp://127.0.0.1:8081
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

// realm is the realm both sessions join; wampd serves it by default.
const realm = "realm1"

func main() {
	url := flag.String("url", "ws://127.0.0.1:8080/ws", "router URL (ws://, wss://, tcp://, tcps://, unix://)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *url, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "rpc:", err)
		os.Exit(1)
	}
}

// run registers the example procedures with one session, calls them from
// another, and writes what happens to out.
func run(ctx context.Context, url string, out io.Writer) error {
	callee, err := client.Dial(ctx, url, client.Config{Realm: realm})
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

	caller, err := client.Dial(ctx, url, client.Config{Realm: realm})
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
	if len(inv.Args) == 2 {
		a, ok1 := protocol.ToInt64(inv.Args[0])
		b, ok2 := protocol.ToInt64(inv.Args[1])
		if ok1 && ok2 {
			return &client.Result{Args: protocol.List{a + b}}, nil
		}
	}
	return nil, &protocol.Error{URI: protocol.ErrInvalidArgument, Args: protocol.List{"add2 takes two integers"}}
}

// countdown counts down from its argument, one progressive result per
// number if the caller asked for them, and finally returns "liftoff".
func countdown(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
	n, ok := int64(0), len(inv.Args) == 1
	if ok {
		n, ok = protocol.ToInt64(inv.Args[0])
	}
	if !ok || n < 0 || n > 100 {
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
