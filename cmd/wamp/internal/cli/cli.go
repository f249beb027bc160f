package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"github.com/wampkit/wampkit/client"
	"golang.org/x/term"
)

// Env is what one run of the command sees of its process: its output
// streams and environment. The zero value discards the output and sees no
// environment variables.
type Env struct {
	// Stdout receives results, events and reports; nil discards them.
	Stdout io.Writer
	// Stderr receives diagnostics, errors and the benchmark's progress
	// bar; nil discards them.
	Stderr io.Writer
	// Getenv looks up the environment variables of the global flags
	// (WAMP_URL, ...); nil means none are set. Pass os.Getenv for the
	// process's. The commands that register runs inherit the process's
	// environment (os.Environ) whatever Getenv is.
	Getenv func(string) string
	// Version is printed by wamp --version; empty means "dev".
	Version string
}

// Run runs the wamp command line args (without the program name) and
// returns its exit status (see the Exit* constants). Ending ctx is how a
// signal stops it: subscribe and register then return ExitOK, and a call
// or publication still waiting for its answer ExitInterrupted. Run returns
// only after every goroutine and session it started has ended.
func Run(ctx context.Context, args []string, env Env) int {
	a := newApp(env)
	root := a.rootCommand()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil {
		a.printError(cmd, err)
	}
	return exitCode(err)
}

// app is one run of the command: its streams and global options.
type app struct {
	stdout *syncWriter
	stderr *syncWriter
	getenv func(string) string
	// tty reports whether the original Stderr is a terminal (for the
	// benchmark's progress bar default).
	tty     bool
	version string
	g       globalOptions
	logger  *slog.Logger
}

func newApp(env Env) *app {
	a := &app{
		stdout:  &syncWriter{w: orDiscard(env.Stdout)},
		stderr:  &syncWriter{w: orDiscard(env.Stderr)},
		getenv:  env.Getenv,
		version: env.Version,
	}
	if a.getenv == nil {
		a.getenv = func(string) string { return "" }
	}
	if a.version == "" {
		a.version = "dev"
	}
	if f, ok := env.Stderr.(*os.File); ok {
		a.tty = term.IsTerminal(int(f.Fd()))
	}
	// The client logs what it cannot report as an error of a request
	// (dropped late replies, failed sends); warnings and worse only.
	a.logger = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return a
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// syncWriter serializes the writes of handlers running on several
// goroutines, so that lines never interleave.
type syncWriter struct {
	mu sync.Mutex // guards w
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// printLine writes v as one line of JSON on standard output.
func (a *app) printLine(v any) error {
	b, err := marshalLine(v)
	if err != nil {
		return &exitError{code: ExitFailure, err: fmt.Errorf("encode output: %w", err)}
	}
	if _, err := a.stdout.Write(b); err != nil {
		return &exitError{code: ExitFailure, err: fmt.Errorf("write output: %w", err)}
	}
	return nil
}

// infof writes a diagnostic line on standard error.
func (a *app) infof(format string, args ...any) {
	fmt.Fprintf(a.stderr, "wamp: "+format+"\n", args...)
}

// printError reports err of cmd on standard error, with a hint for usage
// errors.
func (a *app) printError(cmd *cobra.Command, err error) {
	fmt.Fprintf(a.stderr, "wamp: %v\n", err)
	if exitCode(err) == ExitUsage {
		fmt.Fprintf(a.stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
}

// dial connects with the global options.
func (a *app) dial(ctx context.Context) (*client.Client, error) {
	return a.g.dial(ctx, a.logger)
}

// sessionEnded returns the exit error for a session the router ended
// (GOODBYE, ABORT) or that broke while a command was waiting on it.
func sessionEnded(c *client.Client) error {
	return classify(fmt.Errorf("session ended: %w", c.Err()))
}

const rootLong = `wamp is a command line client for WAMP routers (wampd or any other): it
calls procedures, publishes and subscribes, answers calls with an echo or
a shell command, lists the sessions of a realm and benchmarks a router.

Arguments:
  A positional argument or -k value that is one whole JSON value is sent
  as that value; anything else is sent as the string it spells:
    wamp call com.example.add 2 3          the integers 2 and 3
    wamp call com.example.greet hello      the string "hello"
    wamp call com.example.f '"2"' '[1,{"a":null}]' -k n=1.5
                                           the string "2", a list, n = 1.5
  Integers stay integers, other numbers are floats. --string (-s) sends
  every argument as the string it is written as. Binary values are written
  as WAMP's JSON writes them: a string of "\u0000" and base64. Put "--"
  before arguments that start with "-": wamp call com.example.neg -- -7.

Output:
  Results, events and invocations are printed on standard output, one
  JSON object per line (binary values as "\u0000" + base64); messages and
  errors go to standard error.

Environment:
  Every global flag may be set by an environment variable, WAMP_ and the
  flag's name in capitals with "_" for "-": WAMP_URL, WAMP_REALM,
  WAMP_TICKET_FILE, WAMP_TLS_INSECURE=true. A flag given on the command
  line wins.

Authentication:
  --ticket, --wampcra and --scram take the secret (or --ticket-file,
  --wampcra-file, --scram-file its file; the first line is used), usually
  with --authid. --cryptosign-key names a file holding an Ed25519 key: 64
  hex digits (the 32-byte seed, the form Autobahn and Crossbar.io use),
  128 hex digits (the seed followed by the public key), the same 32 or 64
  bytes raw, or a PEM PKCS #8 "PRIVATE KEY" (openssl genpkey -algorithm
  ed25519). Given several, wamp offers them all, cryptosign, scram,
  wampcra, ticket in this order, and the router picks the first it
  supports. A secret on the command line can be seen by other users of
  the machine (ps): prefer the files or the environment.

Exit status:
  0    success
  1    WAMP error: the router or a callee answered ERROR, or the router
       refused or ended the session (ABORT, GOODBYE); the error URI, its
       args and kwargs are printed on standard error
  2    usage error: unknown command or flag, missing or malformed argument
       or URI, unreadable key or certificate file
  3    connection failure: the router could not be reached, the TLS or
       WebSocket handshake failed, or the connection broke
  4    --timeout passed before the answer came
  5    any other failure (writing the output, a benchmark that could not
       complete)
  130  interrupted (SIGINT, SIGTERM) while waiting for an answer;
       subscribe and register exit 0 when interrupted`

// rootCommand returns the wamp command with its subcommands. It is made
// anew for every run: cobra commands keep the state of their flags.
func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "wamp",
		Short:         "A command line client for WAMP routers",
		Long:          rootLong,
		Version:       a.version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return applyEnv(cmd.Root().PersistentFlags(), a.getenv)
		},
	}
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetIn(strings.NewReader(""))
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return usageErrorf("%v", err)
	})
	a.g.addFlags(root.PersistentFlags())
	root.AddCommand(
		a.callCommand(),
		a.publishCommand(),
		a.subscribeCommand(),
		a.registerCommand(),
		a.sessionsCommand(),
		a.benchCommand(),
	)
	root.CompletionOptions.DisableDefaultCmd = true
	return root
}

// exactArgs, rangeArgs and minArgs are cobra argument checks that return
// usage errors naming what is missing.
func minArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) < n {
			return usageErrorf("missing %s", what)
		}
		return nil
	}
}

func rangeArgs(lo, hi int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		switch {
		case len(args) < lo:
			return usageErrorf("missing %s", what)
		case len(args) > hi:
			return usageErrorf("unexpected argument %q", args[hi])
		}
		return nil
	}
}
