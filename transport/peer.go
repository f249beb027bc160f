package transport

import (
	"context"
	"errors"

	"github.com/wampkit/wampkit/protocol"
)

// Peer is one end of a WAMP session's message stream. The router and the
// client see only Peer, whatever carries the messages.
//
// One goroutine calls Recv; Send and Close may be called from any goroutine.
type Peer interface {
	// Recv returns the next message from the other end. It blocks until a
	// message arrives or the peer is closed; after a close it returns an
	// error that wraps ErrClosed and, where known, the close reason.
	Recv() (protocol.Message, error)
	// Send queues m for the other end and returns without waiting for it
	// to be written. When the outbound queue is full it returns
	// ErrQueueFull at once; after a close it returns ErrClosed. ctx bounds
	// any wait the implementation may do; none waits past it.
	// The caller must not modify m after Send.
	Send(ctx context.Context, m protocol.Message) error
	// Close ends the stream. Queued messages are flushed within a bounded
	// time; the other end observes the close and reason. Close is
	// idempotent; reason may be nil.
	Close(reason error) error
}

var (
	// ErrClosed is returned by Peer.Send and Peer.Recv after the peer was closed.
	ErrClosed = errors.New("transport: peer closed")
	// ErrQueueFull is returned by Peer.Send when the outbound queue is full.
	ErrQueueFull = errors.New("transport: outbound queue full")
)
