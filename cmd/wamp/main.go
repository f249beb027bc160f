// Command wamp is a command line client for WAMP routers: it calls,
// publishes, subscribes, registers procedures answered by an echo or a
// shell command, lists the sessions of a realm and benchmarks a router.
// See wamp --help.
//
// The program is the package internal/cli; main only connects it to the
// process: its arguments, standard streams, environment and signals.
// SIGINT or SIGTERM end the command (subscribe and register then exit
// with status 0); a second signal ends the process at once.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/wampkit/wampkit/cmd/wamp/internal/cli"
	"github.com/wampkit/wampkit/internal/buildinfo"
)

// version may be set at build time: go build -ldflags '-X
// main.version=v1.2.3'. Otherwise the build info says (see
// internal/buildinfo).
var version string

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // from here on a second signal ends the process at once
	}()
	code := cli.Run(ctx, os.Args[1:], cli.Env{
		Stdout:  os.Stdout,
		Stderr:  os.Stderr,
		Getenv:  os.Getenv,
		Version: buildinfo.Version(version),
	})
	stop()
	os.Exit(code)
}
