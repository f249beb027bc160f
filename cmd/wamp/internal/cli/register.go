package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
)

// The error URIs a command of wamp register answers with.
const (
	// ErrCommandFailed is the ERROR a caller gets when the command exits
	// with a non-zero status, is killed, or cannot be started. Args holds
	// one message ("exit status 3: <first line of its stderr>"); Kwargs
	// holds exit_code (-1 when it was killed or did not start) and stderr
	// (its first 4 KiB).
	ErrCommandFailed protocol.URI = "wampkit.error.command_failed"
	// ErrCommandOutput is the ERROR a caller gets when the command's
	// standard output cannot be the result: it is larger than
	// --max-output, or with --result payload not a JSON object whose args
	// is a list and kwargs an object. Args holds one message.
	ErrCommandOutput protocol.URI = "wampkit.error.command_output"
)

// Defaults of the register flags.
const (
	// DefaultCommandConcurrency is the default of register --concurrency.
	DefaultCommandConcurrency = 16
	// DefaultMaxOutput is the default of register --max-output: 16 MiB,
	// the largest message wampd accepts by default.
	DefaultMaxOutput = 16 << 20
	// stderrKept is how much of a command's standard error is kept for
	// the ERROR.
	stderrKept = 4 << 10
	// commandWaitDelay bounds how long a killed command's children may
	// hold its output open (exec.Cmd.WaitDelay).
	commandWaitDelay = 5 * time.Second
)

// invocationLine is how register prints an invocation, and what a command
// reads on its standard input.
type invocationLine struct {
	Procedure string `json:"procedure"`
	Args      any    `json:"args"`
	Kwargs    any    `json:"kwargs"`
	Details   any    `json:"details"`
}

func newInvocationLine(inv *client.Invocation) invocationLine {
	args, kwargs := payload(inv.Args, inv.Kwargs)
	details := inv.Details
	if details == nil {
		details = protocol.Dict{}
	}
	return invocationLine{Procedure: string(inv.Procedure), Args: toJSON(args), Kwargs: toJSON(kwargs), Details: toJSON(details)}
}

// Result modes of register --result.
const (
	resultValue   = "value"
	resultText    = "text"
	resultPayload = "payload"
)

// commandRunner answers invocations by running a command.
type commandRunner struct {
	argv      []string
	appendArg bool   // --argv: the call's positional arguments follow argv
	result    string // resultValue, resultText or resultPayload
	maxOutput int
}

// run runs the command for inv and returns its result, or the ERROR that
// answers the call. When ctx ends (INTERRUPT, the session ends) the
// command is killed and ctx's error returned, which the client answers
// with wamp.error.canceled.
func (r *commandRunner) run(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
	input, err := marshalLine(newInvocationLine(inv))
	if err != nil {
		return nil, &protocol.Error{URI: ErrCommandFailed, Args: protocol.List{"cannot write the invocation as JSON: " + err.Error()},
			Kwargs: protocol.Dict{"exit_code": -1, "stderr": ""}}
	}
	argv := r.argv
	if r.appendArg {
		argv = append(argv[:len(argv):len(argv)], argvWords(inv.Args)...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.WaitDelay = commandWaitDelay
	cmd.Stdin = strings.NewReader(string(input))
	stdout := &cappedBuffer{max: r.maxOutput, fail: true}
	stderr := &cappedBuffer{max: stderrKept}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Env = append(os.Environ(), "WAMP_PROCEDURE="+string(inv.Procedure))
	if inv.Caller != 0 {
		cmd.Env = append(cmd.Env, fmt.Sprintf("WAMP_CALLER=%d", inv.Caller))
	}
	err = cmd.Run()
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case stdout.overflow:
		return nil, &protocol.Error{URI: ErrCommandOutput, Args: protocol.List{fmt.Sprintf("the command wrote more than %d bytes (--max-output)", r.maxOutput)}}
	case err != nil:
		code := -1
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		msg := err.Error()
		if line, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n"); line != "" {
			msg += ": " + line
		}
		return nil, &protocol.Error{URI: ErrCommandFailed, Args: protocol.List{msg},
			Kwargs: protocol.Dict{"exit_code": code, "stderr": stderr.String()}}
	}
	return r.parseResult(stdout.b)
}

// argvWords returns the call's positional arguments as command-line
// words: strings as they are, anything else as JSON.
func argvWords(args protocol.List) []string {
	words := make([]string, len(args))
	for i, a := range args {
		if s, ok := a.(string); ok {
			words[i] = s
		} else {
			words[i] = compact(a)
		}
	}
	return words
}

// parseResult turns the command's standard output into the call's result
// (see register --help, "Results").
func (r *commandRunner) parseResult(out []byte) (*client.Result, error) {
	switch r.result {
	case resultText:
		if len(out) == 0 {
			return &client.Result{}, nil
		}
		return &client.Result{Args: protocol.List{trimNewline(string(out))}}, nil
	case resultPayload:
		v, err := decodeJSON(strings.NewReader(string(out)))
		if err != nil {
			return nil, &protocol.Error{URI: ErrCommandOutput, Args: protocol.List{"--result payload: the output is not one JSON object: " + err.Error()}}
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, &protocol.Error{URI: ErrCommandOutput, Args: protocol.List{"--result payload: the output is not a JSON object"}}
		}
		res := &client.Result{}
		if a, ok := obj["args"]; ok && a != nil {
			if res.Args, ok = a.([]any); !ok {
				return nil, &protocol.Error{URI: ErrCommandOutput, Args: protocol.List{"--result payload: args is not a list"}}
			}
		}
		if k, ok := obj["kwargs"]; ok && k != nil {
			if res.Kwargs, ok = k.(map[string]any); !ok {
				return nil, &protocol.Error{URI: ErrCommandOutput, Args: protocol.List{"--result payload: kwargs is not an object"}}
			}
		}
		return res, nil
	}
	if len(strings.TrimSpace(string(out))) == 0 {
		return &client.Result{}, nil
	}
	if v, err := decodeJSON(strings.NewReader(string(out))); err == nil {
		return &client.Result{Args: protocol.List{v}}, nil
	}
	return &client.Result{Args: protocol.List{trimNewline(string(out))}}, nil
}

// trimNewline removes one trailing "\n" or "\r\n".
func trimNewline(s string) string {
	s = strings.TrimSuffix(s, "\n")
	return strings.TrimSuffix(s, "\r")
}

// cappedBuffer keeps the first max bytes written to it. Past them it
// fails the write if fail is set (the command then gets EPIPE, or
// SIGPIPE, and usually stops), else it drops the rest quietly.
type cappedBuffer struct {
	b        []byte
	max      int
	fail     bool
	overflow bool
}

var errOutputTooLarge = errors.New("output too large")

func (c *cappedBuffer) Write(p []byte) (int, error) {
	room := c.max - len(c.b)
	if len(p) <= room {
		c.b = append(c.b, p...)
		return len(p), nil
	}
	c.b = append(c.b, p[:max(room, 0)]...)
	c.overflow = true
	if c.fail {
		return max(room, 0), errOutputTooLarge
	}
	return len(p), nil
}

func (c *cappedBuffer) String() string { return string(c.b) }

func (a *app) registerCommand() *cobra.Command {
	var (
		match, invoke, result string
		echo, argvMode, quiet bool
		concurrency           int
		count                 int64
		maxOutput             int
	)
	cmd := &cobra.Command{
		Use:   "register PROCEDURE (--echo | -- COMMAND [ARG...])",
		Short: "Register a procedure answered by an echo or a command",
		Long: `Register PROCEDURE and answer its calls, until interrupted (exit status 0),
--count calls have been answered, or the router ends the session. Each
invocation is printed on standard output as one line of JSON (unless
--quiet): {"procedure":...,"args":[...],"kwargs":{...},"details":{...}}.
procedure is the one called (it differs from PROCEDURE with --match
prefix or wildcard); details holds caller when the caller disclosed it.

--echo answers every call with its own args and kwargs.

-- COMMAND [ARG...] runs COMMAND (no shell, unless you run one) for every
call, at most --concurrency at once:
  stdin   the invocation line above
  argv    with --argv, the call's positional arguments follow ARG...:
          strings as they are, other values as JSON (kwargs are on stdin
          only)
  env     the process's environment, WAMP_PROCEDURE (the procedure
          called) and WAMP_CALLER (the caller's session ID, if disclosed)
  stdout  the result, by --result:
            value    (default) one JSON value is the single positional
                     result; any other output is a string result (one
                     trailing newline removed); no output is no result
            text     the output as one string result
            payload  a JSON object {"args":[...],"kwargs":{...}}, both
                     optional, is the result's args and kwargs
A command that exits with a non-zero status, is killed or cannot start
answers ERROR wampkit.error.command_failed, args ["exit status N: <first
line of stderr>"], kwargs {"exit_code":N,"stderr":"<first 4 KiB>"}. Output
larger than --max-output, or not a payload object with --result payload,
answers ERROR wampkit.error.command_output. When the call is canceled (or
the session ends) the command is killed and the caller gets
wamp.error.canceled.`,
		Example: `  wamp register com.example.echo --echo
  wamp register com.example.date -- date -u +%FT%TZ
  wamp register com.example.add --argv -- sh -c 'echo $(($1 + $2))' sh
  wamp register com.example.upper --result text -- sh -c "jq -r '.args[0]' | tr a-z A-Z"
  wamp register com.example.mirror --result payload -- cat`,
		Args: minArgs(1, "PROCEDURE"),
		RunE: func(cmd *cobra.Command, words []string) error {
			proc := protocol.URI(words[0])
			if err := checkURI("procedure", proc, protocol.MatchPolicy(match)); err != nil {
				return err
			}
			var argv []string
			if dash := cmd.ArgsLenAtDash(); dash >= 0 {
				if dash != 1 {
					return usageErrorf("give only PROCEDURE before --, the command after it")
				}
				argv = words[1:]
			} else if len(words) > 1 {
				return usageErrorf("unexpected argument %q: put the command after --", words[1])
			}
			switch {
			case echo && len(argv) > 0:
				return usageErrorf("give --echo or a command, not both")
			case !echo && len(argv) == 0:
				return usageErrorf("give --echo or -- COMMAND [ARG...]")
			case invoke != "" && !validInvoke(invoke):
				return usageErrorf("--invoke %q: want single, roundrobin, random, first or last", invoke)
			case result != resultValue && result != resultText && result != resultPayload:
				return usageErrorf("--result %q: want value, text or payload", result)
			case concurrency < 1 || count < 0 || maxOutput < 1:
				return usageErrorf("--concurrency and --max-output want 1 or more, --count 0 or more")
			}
			answer := func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
				return &client.Result{Args: inv.Args, Kwargs: inv.Kwargs}, nil
			}
			if len(argv) > 0 {
				if _, err := exec.LookPath(argv[0]); err != nil {
					return usageErrorf("command: %v", err)
				}
				r := &commandRunner{argv: argv, appendArg: argvMode, result: result, maxOutput: maxOutput}
				slots := make(chan struct{}, concurrency)
				answer = func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
					select {
					case slots <- struct{}{}:
					case <-ctx.Done():
						return nil, ctx.Err()
					}
					defer func() { <-slots }()
					return r.run(ctx, inv)
				}
			}
			c, err := a.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			s := newStopper()
			var answered atomic.Int64
			handler := func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
				if !quiet {
					if err := a.printLine(newInvocationLine(inv)); err != nil {
						s.stop(err)
					}
				}
				res, err := answer(ctx, inv)
				if count > 0 && answered.Add(1) == count {
					// The client cancels the handler's context after it
					// has sent this handler's answer (YIELD or ERROR), so
					// the session is closed only once the answer is on
					// its way.
					context.AfterFunc(ctx, func() { s.stop(nil) })
				}
				return res, err
			}
			ctx, cancel := a.g.withTimeout(cmd.Context())
			reg, err := c.Register(ctx, proc, handler, &client.RegisterOptions{Match: protocol.MatchPolicy(match), Invoke: invoke})
			cancel()
			if err != nil {
				return classify(err)
			}
			a.infof("registered %s (registration %d); interrupt to stop", proc, reg.ID())
			return a.wait(cmd, c, s)
		},
	}
	f := cmd.Flags()
	f.StringVar(&match, "match", "exact", "match policy: exact, prefix or wildcard")
	f.StringVar(&invoke, "invoke", "", "shared registration policy: single, roundrobin, random, first or last (default: the router's, single)")
	f.BoolVar(&echo, "echo", false, "answer every call with its own arguments")
	f.BoolVar(&argvMode, "argv", false, "pass the call's positional arguments to COMMAND as arguments too")
	f.StringVar(&result, "result", resultValue, "how COMMAND's output becomes the result: value, text or payload")
	f.IntVar(&concurrency, "concurrency", DefaultCommandConcurrency, "most commands running at once; further calls wait")
	f.IntVar(&maxOutput, "max-output", DefaultMaxOutput, "largest output of COMMAND, in `bytes`")
	f.Int64Var(&count, "count", 0, "exit after answering `N` calls (0: run until interrupted)")
	f.BoolVarP(&quiet, "quiet", "q", false, "do not print the invocations")
	return cmd
}

func validInvoke(p string) bool {
	switch p {
	case "single", "roundrobin", "random", "first", "last":
		return true
	}
	return false
}
