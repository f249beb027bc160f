// Command wampd runs a WAMP router.
//
// With no arguments it serves an open realm "realm1" on
// ws://127.0.0.1:8080/ws and RawSocket on 127.0.0.1:8081. See wampd -h for
// the flags and wampd.example.yaml for the configuration file. With
// -admin host:port it serves Prometheus metrics (/metrics) and health
// (/healthz) to operators, and the Go profiler with -admin-pprof.
//
// SIGINT or SIGTERM shut it down gracefully: every session is sent GOODBYE
// wamp.close.system_shutdown and given the shutdown timeout to answer. A
// second signal ends the process at once. If a listener fails, wampd
// shuts down the same way and exits with status 1.
//
// SIGHUP reloads the configuration file: principals, roles, permissions
// and the log level change without ending any session; other changes are
// logged as needing a restart (see Main.Reload).
//
// wampd -healthcheck URL asks a running wampd's /healthz and exits with
// status 0 if it answers 200, 1 otherwise: a health check for container
// images without curl.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version, if set at build time (go build -ldflags '-X
// main.version=v1.2.3'), is the version wampd reports; otherwise it is
// read from the build info (see internal/buildinfo).
var version string

func main() {
	// SIGHUP is caught from the start: its default action would end the
	// process. One that arrives while wampd starts is handled after.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	m := NewMain()
	if err := m.ParseFlags(ctx, os.Args[1:]); errors.Is(err, flag.ErrHelp) {
		os.Exit(0) // -h or -version: already printed
	} else if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if m.HealthcheckURL != "" {
		if err := m.Healthcheck(ctx); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if err := m.Run(ctx); err != nil {
		_ = m.Close()
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}

	for running := true; running; {
		select {
		case <-ctx.Done():
			running = false
		case <-m.Done(): // a listener failed: wampd has shut itself down
			running = false
		case <-hup:
			_ = m.Reload(ctx) // logs its outcome
		}
	}
	stop() // from here on a second signal ends the process at once
	if err := m.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
