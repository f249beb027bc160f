// Command pubsub shows publish and subscribe with wampkit: one session
// subscribes to a topic and to a topic prefix, another publishes.
//
// Start a router first (go run ./cmd/wampd), then:
//
//	go run ./examples/pubsub
//	go run ./examples/pubsub -url tcp://127.0.0.1:8081
//	go run ./examples/pubsub -url wss://router.example.com/ws -realm com.example.app -authid alice -ticket s3cret
package main

import (
	"context"
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
		fmt.Fprintln(os.Stderr, "pubsub:", err)
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

// run subscribes with one session, publishes with another, and writes the
// events received to out.
func run(ctx context.Context, url string, cfg client.Config, out io.Writer) error {
	subscriber, err := client.Dial(ctx, url, cfg)
	if err != nil {
		return fmt.Errorf("subscriber: %w", err)
	}
	defer subscriber.Close()

	// Handlers run on a goroutine of their subscription, one event at a
	// time and in order; here they hand the events to run.
	hello := make(chan *client.Event, 16)
	if _, err := subscriber.Subscribe(ctx, "com.example.hello", func(ev *client.Event) { hello <- ev }, nil); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	all := make(chan *client.Event, 16)
	prefix := &client.SubscribeOptions{Match: protocol.MatchPrefix}
	if _, err := subscriber.Subscribe(ctx, "com.example", func(ev *client.Event) { all <- ev }, prefix); err != nil {
		return fmt.Errorf("subscribe prefix: %w", err)
	}
	fmt.Fprintln(out, "subscriber: subscribed to com.example.hello and to the prefix com.example")

	publisher, err := client.Dial(ctx, url, cfg)
	if err != nil {
		return fmt.Errorf("publisher: %w", err)
	}
	defer publisher.Close()
	for i := 1; i <= 3; i++ {
		if err := publisher.Publish(ctx, "com.example.hello", fmt.Sprintf("Hello, world! #%d", i)); err != nil {
			return fmt.Errorf("publish: %w", err)
		}
	}
	// An acknowledged publication with keyword arguments: the broker
	// answers with the publication id once it has dispatched the event.
	if _, err := publisher.DoPublish(ctx, &client.PublishRequest{
		Topic:       "com.example.bye",
		Args:        protocol.List{"Goodbye"},
		Kwargs:      protocol.Dict{"from": "publisher"},
		Acknowledge: true,
	}); err != nil {
		return fmt.Errorf("publish bye: %w", err)
	}
	fmt.Fprintln(out, "publisher: published 3 events to com.example.hello and 1 to com.example.bye")

	for range 3 {
		ev, err := next(ctx, hello)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "com.example.hello: %v\n", ev.Args[0])
	}
	for range 4 {
		ev, err := next(ctx, all)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "prefix com.example: %s %v %v\n", ev.Topic, ev.Args, ev.Kwargs)
	}
	return nil
}

func next(ctx context.Context, ch <-chan *client.Event) (*client.Event, error) {
	select {
	case ev := <-ch:
		return ev, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for events: %w", ctx.Err())
	}
}
