package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
)

// Exit statuses of the wamp command (listed in wamp --help).
const (
	// ExitOK: the command did what it was asked.
	ExitOK = 0
	// ExitWAMPError: a WAMP error: the router or a callee answered ERROR,
	// or the router refused or ended the session (ABORT, GOODBYE). Its URI
	// (and args and kwargs) are printed on standard error.
	ExitWAMPError = 1
	// ExitUsage: a usage error: unknown command or flag, missing or
	// malformed argument, invalid URI, unreadable key or certificate file.
	ExitUsage = 2
	// ExitConnection: no connection to the router could be made (refused,
	// TLS or WebSocket handshake failed), or it broke.
	ExitConnection = 3
	// ExitTimeout: --timeout passed before the router (or the callee)
	// answered.
	ExitTimeout = 4
	// ExitFailure: any other failure, such as writing the output or a
	// benchmark that could not complete.
	ExitFailure = 5
	// ExitInterrupted: SIGINT or SIGTERM ended a call or publication before
	// it was answered (128 + SIGINT, as shells report it). subscribe and
	// register end with ExitOK on a signal: it is how they are stopped.
	ExitInterrupted = 130
)

// exitError is an error with the exit status it leads to. Every error a
// subcommand returns is one; an error that is not (cobra's own, about
// flags and arguments) is a usage error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErrorf returns a usage error (exit status 2).
func usageErrorf(format string, args ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, args...)}
}

// errInterrupted is the cause of the run's context when a signal ends it.
var errInterrupted = errors.New("interrupted")

// classify turns an error of the client package into an exitError,
// choosing the exit status by what went wrong; what is an exitError
// already is returned unchanged.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	var (
		werr *protocol.Error
		ab   *client.AbortError
		gb   *client.GoodbyeError
	)
	switch {
	case errors.As(err, &werr):
		return &exitError{code: ExitWAMPError, err: wampError{werr}}
	case errors.As(err, &ab):
		return &exitError{code: ExitWAMPError, err: fmt.Errorf("ABORT %s%s", ab.Reason, detailMessage(ab.Details))}
	case errors.As(err, &gb):
		return &exitError{code: ExitWAMPError, err: fmt.Errorf("GOODBYE %s%s", gb.Reason, detailMessage(gb.Details))}
	case errors.Is(err, errInterrupted), errors.Is(err, context.Canceled):
		return &exitError{code: ExitInterrupted, err: errInterrupted}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, client.ErrResponseTimeout):
		return &exitError{code: ExitTimeout, err: fmt.Errorf("timed out (--timeout): %w", err)}
	case errors.Is(err, client.ErrBadURL), errors.Is(err, client.ErrNoRealm), errors.Is(err, protocol.ErrMalformed):
		return &exitError{code: ExitUsage, err: err}
	}
	return &exitError{code: ExitConnection, err: err}
}

// detailMessage returns ": " and Details.message, or "".
func detailMessage(d protocol.Dict) string {
	if m := d.String("message"); m != "" {
		return ": " + m
	}
	return ""
}

// wampError prints an ERROR as its URI, then its args and kwargs as JSON
// when there are any: "ERROR wamp.error.no_such_procedure ["..."] {}".
type wampError struct{ e *protocol.Error }

func (w wampError) Error() string {
	var b strings.Builder
	b.WriteString("ERROR ")
	b.WriteString(string(w.e.URI))
	if len(w.e.Args) > 0 || len(w.e.Kwargs) > 0 {
		a, k := payload(w.e.Args, w.e.Kwargs)
		b.WriteString(" ")
		b.WriteString(compact(a))
		b.WriteString(" ")
		b.WriteString(compact(k))
	}
	return b.String()
}

func (w wampError) Unwrap() error { return w.e }

// exitCode returns the exit status for err: 0 for nil, the exitError's
// code, or ExitUsage for anything else (cobra's errors about flags,
// arguments and commands).
func exitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return ExitUsage
}
