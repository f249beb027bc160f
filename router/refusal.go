package router

import (
	"errors"
	"fmt"

	"github.com/wampkit/wampkit/protocol"
)

// Refusals. A handler that does not serve a client's message says why
// with an error value, and the session's dispatcher (session.route) turns
// it into what the client is sent, in one place:
//
//   - a *requestError refuses one request: the client gets ERROR with its
//     URI, answering that request (spec basic "ERROR"); an
//     unacknowledged PUBLISH gets nothing (spec basic "PUBLISH");
//   - a *violation is a protocol violation: the client gets ABORT
//     wamp.error.protocol_violation and the session ends (spec basic
//     "Protocol Errors");
//   - errSessionClosed ends the session normally (GOODBYE, ABORT);
//   - nil goes on.

// requestError is a request the router refuses: it is answered with ERROR
// uri and, if msg is not empty, Arguments [msg].
type requestError struct {
	uri protocol.URI
	msg string
}

func (e *requestError) Error() string {
	if e.msg == "" {
		return "router: request refused: " + string(e.uri)
	}
	return "router: request refused: " + string(e.uri) + ": " + e.msg
}

// refuse returns the refusal of a request with ERROR uri and message msg
// (none if empty).
func refuse(uri protocol.URI, msg string) error {
	return &requestError{uri: uri, msg: msg}
}

// refusef is refuse with a formatted message.
func refusef(uri protocol.URI, format string, args ...any) error {
	return &requestError{uri: uri, msg: fmt.Sprintf(format, args...)}
}

// invalidArgument refuses a request with wamp.error.invalid_argument.
func invalidArgument(msg string) error {
	return &requestError{uri: protocol.ErrInvalidArgument, msg: msg}
}

// violation is a message that breaks the protocol: the session ends with
// ABORT wamp.error.protocol_violation and msg as Details.message.
type violation struct{ msg string }

func (e *violation) Error() string { return "router: protocol violation: " + e.msg }

// violationf returns a protocol violation with a formatted message.
func violationf(format string, args ...any) error {
	return &violation{msg: fmt.Sprintf(format, args...)}
}

// errorReply returns the ERROR that answers request req of type t with
// the refusal e.
func errorReply(t protocol.MessageType, req protocol.ID, e *requestError) *protocol.Error {
	var args protocol.List
	if e.msg != "" {
		args = protocol.List{e.msg}
	}
	return &protocol.Error{RequestType: t, Request: req, URI: e.uri, Args: args}
}

// callError returns the ERROR that ends the call whose CALL had request
// ID req, with uri and message msg (none if empty).
func callError(req protocol.ID, uri protocol.URI, msg string) *protocol.Error {
	return errorReply(protocol.TypeCall, req, &requestError{uri: uri, msg: msg})
}

// asRequestError returns err as a *requestError, or nil.
func asRequestError(err error) *requestError {
	var re *requestError
	if errors.As(err, &re) {
		return re
	}
	return nil
}

// reply answers the client's request m with the refusal e (see the
// package comment above); m is a message with a request ID.
func (s *session) reply(m protocol.Message, e *requestError) {
	if p, ok := m.(*protocol.Publish); ok && !p.Options.Bool("acknowledge") {
		// Unacknowledged publications get no answer, not even an error
		// (spec basic "PUBLISH": "whether the publication was
		// successful indeed or not").
		return
	}
	req, _ := requestID(m)
	s.sendOwn(errorReply(m.Type(), req, e))
}

// requestID returns the request ID of a client's request.
func requestID(m protocol.Message) (protocol.ID, bool) {
	switch m := m.(type) {
	case *protocol.Call:
		return m.Request, true
	case *protocol.Publish:
		return m.Request, true
	case *protocol.Subscribe:
		return m.Request, true
	case *protocol.Unsubscribe:
		return m.Request, true
	case *protocol.Register:
		return m.Request, true
	case *protocol.Unregister:
		return m.Request, true
	}
	return 0, false
}
