// Command browser serves a small chat page that talks WAMP from the
// browser: the page (static/index.html, static/chat.js) uses Autobahn|JS
// over WebSocket against the wampkit router embedded in this program, and
// a Go backend in the same program, joined over an in-process link,
// answers the page's calls and publishes the events every page shows.
//
//	bash scripts/setup-test-deps.sh   # once: bundles Autobahn|JS into static/
//	go run ./examples/browser -addr 127.0.0.1:8090
//
// then open http://127.0.0.1:8090/ in two browser windows. The backend
// registers com.example.chat.send(name, text), which checks the message,
// numbers it and publishes it to com.example.chat.message; each page
// calls it and subscribes to that topic.
//
// The Autobahn|JS bundle (static/autobahn.min.js) is built from the npm
// package pinned by integration/interop/js/package-lock.json rather than
// committed; without it the page says how to build it.
package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

const (
	realm = "realm1"
	// The backend's procedure and the topic of the chat's messages.
	sendProcedure protocol.URI = "com.example.chat.send"
	messageTopic  protocol.URI = "com.example.chat.message"
	// maxText bounds a message, in characters.
	maxText = 500
)

// static holds the page. autobahn.min.js is there once the setup script
// has built it.
//
//go:embed static
var static embed.FS

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "HTTP listen address (port 0 picks a free one)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *addr, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "browser:", err)
		os.Exit(1)
	}
}

// run starts the router, the backend and the HTTP server on addr, writes
// "serving http://<address>/" to out, and serves until ctx ends.
func run(ctx context.Context, addr string, out io.Writer) error {
	r, err := router.New(router.Config{
		Realms: []router.RealmConfig{{Name: realm}},
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return err
	}
	defer r.Close()

	backend, err := startBackend(ctx, r)
	if err != nil {
		return err
	}
	defer backend.Close()

	page, err := fs.Sub(static, "static")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", r.Handler()) // same origin as the page: no allowed origins needed
	mux.Handle("/", http.FileServerFS(page))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	fmt.Fprintf(out, "serving http://%s/\n", l.Addr())

	select {
	case <-ctx.Done():
	case err := <-served:
		return err
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r.Shutdown(shutdownCtx) // says GOODBYE to the pages' sessions
	srv.Shutdown(shutdownCtx)
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// startBackend joins the router in-process and registers the chat's
// procedure.
func startBackend(ctx context.Context, r *router.Router) (*client.Client, error) {
	peer, err := r.Connect(ctx)
	if err != nil {
		return nil, err
	}
	c, err := client.Join(ctx, peer, client.Config{Realm: realm})
	if err != nil {
		peer.Close(err)
		return nil, err
	}
	var count atomic.Int64
	_, err = c.Register(ctx, sendProcedure, func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		name, text, err := chatArgs(inv.Args)
		if err != nil {
			return nil, err
		}
		n := count.Add(1)
		err = c.Publish(ctx, messageTopic, n, name, text) // queued, never waits for the pages
		if err != nil {
			return nil, err
		}
		return &client.Result{Args: protocol.List{n}}, nil
	}, nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// chatArgs checks the arguments of com.example.chat.send: a name and a
// text, both strings, the text not empty and at most maxText characters.
// A bad call gets ERROR wamp.error.invalid_argument with a message the
// page shows.
func chatArgs(args protocol.List) (name, text string, err error) {
	bad := func(msg string) error {
		return &protocol.Error{URI: protocol.ErrInvalidArgument, Args: protocol.List{msg}}
	}
	if len(args) != 2 {
		return "", "", bad("want a name and a text")
	}
	name, ok1 := args[0].(string)
	text, ok2 := args[1].(string)
	switch {
	case !ok1 || !ok2:
		return "", "", bad("the name and the text must be strings")
	case strings.TrimSpace(text) == "":
		return "", "", bad("the text is empty")
	case utf8.RuneCountInString(text) > maxText:
		return "", "", bad(fmt.Sprintf("the text is longer than %d characters", maxText))
	}
	if name = strings.TrimSpace(name); name == "" {
		name = "anonymous"
	}
	return name, text, nil
}
