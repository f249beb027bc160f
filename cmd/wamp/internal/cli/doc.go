// Package cli implements wamp, the command line client of wampkit: call,
// publish, subscribe, register, sessions and bench, on top of the client
// package like any other user of it.
//
// # Overview
//
// The whole program is [Run]: it takes the command line (without the
// program name), the output streams and environment in an [Env], and a
// context whose end plays the part of SIGINT; it returns the exit status.
// cmd/wamp's main does nothing else, so tests run every command
// in-process, against a real router, with captured output:
//
//	var stdout, stderr bytes.Buffer
//	code := cli.Run(ctx, []string{"--url", url, "call", "com.example.add", "2", "3"},
//		cli.Env{Stdout: &stdout, Stderr: &stderr})
//	// code == cli.ExitOK, stdout.String() == `{"args":[5],"kwargs":{}}` + "\n"
//
// The subcommands are github.com/spf13/cobra commands, made anew for every
// Run (cobra keeps flag values in its commands). The usage text of each
// (wamp --help, wamp COMMAND --help) is its documentation; README.md has
// an overview.
//
// # Exit status
//
// Every error a subcommand returns carries its exit status (the Exit*
// constants): a WAMP error (ERROR, ABORT, GOODBYE) is [ExitWAMPError], a
// refused or broken connection [ExitConnection], --timeout [ExitTimeout],
// a usage error [ExitUsage]. Errors of cobra itself (unknown commands and
// flags) are usage errors.
//
// # Concurrency
//
// Run may be called from several goroutines at once: each run has its own
// commands, options and sessions. Within a run, event and invocation
// handlers run on the client's goroutines and write whole lines to Stdout
// under a lock, so Stdout and Stderr need not be safe for concurrent use.
// Run returns only after every session it opened is closed, which waits
// for the client's goroutines and the handlers, and after every command
// that register started has exited.
//
// # Commands run by register
//
// register -- COMMAND runs COMMAND with os/exec for each call (at most
// --concurrency at once), killing it when the call is canceled or the
// session ends; its output is capped (--max-output; 4 KiB of standard
// error), so a command cannot make wamp use unbounded memory.
package cli
