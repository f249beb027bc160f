// Command embedded shows a Go program that embeds the wampkit router: the
// router's WebSocket endpoint sits on the program's own http.ServeMux next
// to an ordinary HTTP handler, and two components of the program talk to
// each other through the router over in-process links (Router.Connect +
// client.Join), without any network or serialization in between.
//
//	go run ./examples/embedded
//
// runs the demonstration and then keeps serving on 127.0.0.1:8080, so
// other WAMP clients can join realm1 at ws://127.0.0.1:8080/ws (for example
// go run ./examples/rpc), until Ctrl-C. With -once it exits after the
// demonstration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

const realm = "realm1"

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "HTTP listen address")
	once := flag.Bool("once", false, "exit after the demonstration instead of serving")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *addr, !*once, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "embedded:", err)
		os.Exit(1)
	}
}

// run starts the router and the HTTP server on addr, runs the two
// in-process components and a remote client, and writes what happens to
// out. If serve is true it then keeps serving until ctx ends.
func run(ctx context.Context, addr string, serve bool, out io.Writer) error {
	// The router: one realm, warnings and errors logged on standard error.
	r, err := router.New(router.Config{
		Realms: []router.RealmConfig{{Name: realm}},
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return err
	}
	defer r.Close()

	// The application's own HTTP server, with WAMP mounted at /ws.
	mux := http.NewServeMux()
	mux.Handle("/ws", r.Handler())
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "Hello from the application; WAMP is at /ws")
	})
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	defer func() {
		srv.Close()
		<-served
	}()

	// Component 1, the greeter: registers a procedure that also announces
	// every greeting as an event.
	greeter, err := join(ctx, r)
	if err != nil {
		return fmt.Errorf("greeter: %w", err)
	}
	defer greeter.Close()
	greet := func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		var name string
		if len(inv.Args) == 1 {
			name, _ = inv.Args[0].(string)
		}
		if name == "" {
			return nil, &protocol.Error{URI: protocol.ErrInvalidArgument, Args: protocol.List{"greet takes a name"}}
		}
		if err := greeter.Publish(ctx, "com.example.greeted", name); err != nil {
			return nil, err
		}
		return &client.Result{Args: protocol.List{"Hello, " + name + "!"}}, nil
	}
	if _, err := greeter.Register(ctx, "com.example.greet", greet, nil); err != nil {
		return fmt.Errorf("register: %w", err)
	}

	// Component 2, the app: listens for greetings and asks for one.
	app, err := join(ctx, r)
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	defer app.Close()
	greeted := make(chan string, 4)
	onGreeted := func(ev *client.Event) {
		if len(ev.Args) == 1 {
			name, _ := ev.Args[0].(string)
			greeted <- name
		}
	}
	if _, err := app.Subscribe(ctx, "com.example.greeted", onGreeted, nil); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if err := callAndWait(ctx, out, "in-process app", app, "Ada", greeted); err != nil {
		return err
	}

	// A remote client reaches the same components over WebSocket through
	// the application's mux.
	url := "ws://" + l.Addr().String() + "/ws"
	remote, err := client.Dial(ctx, url, client.Config{Realm: realm})
	if err != nil {
		return fmt.Errorf("remote: %w", err)
	}
	defer remote.Close()
	if err := callAndWait(ctx, out, "remote client", remote, "Grace", greeted); err != nil {
		return err
	}

	// The ordinary handler on the same mux.
	body, err := get(ctx, "http://"+l.Addr().String()+"/")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "GET / -> %s", body)

	if serve {
		fmt.Fprintf(out, "serving http://%s/ and %s (Ctrl-C to stop)\n", l.Addr(), url)
		<-ctx.Done()
	}
	// Leave with our own sessions, then tell any others GOODBYE.
	remote.Close()
	app.Close()
	greeter.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// join links a new in-process session to the router.
func join(ctx context.Context, r *router.Router) (*client.Client, error) {
	peer, err := r.Connect(ctx)
	if err != nil {
		return nil, err
	}
	c, err := client.Join(ctx, peer, client.Config{Realm: realm})
	if err != nil {
		peer.Close(err)
		return nil, err
	}
	return c, nil
}

// callAndWait calls com.example.greet with name from c and waits for the
// greeting event the greeter publishes.
func callAndWait(ctx context.Context, out io.Writer, who string, c *client.Client, name string, greeted <-chan string) error {
	res, err := c.Call(ctx, "com.example.greet", name)
	if err != nil {
		return fmt.Errorf("%s: call: %w", who, err)
	}
	fmt.Fprintf(out, "%s: com.example.greet(%q) = %q\n", who, name, res.Args[0])
	select {
	case got := <-greeted:
		fmt.Fprintf(out, "in-process app: event com.example.greeted %q\n", got)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// get fetches url with a client of its own, closing its connections after.
func get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}
