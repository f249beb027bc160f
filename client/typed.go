package client

import (
	"context"
	"log/slog"
	"reflect"
	"sync/atomic"

	"github.com/wampkit/wampkit/protocol"
)

// Session is what [Procedure] and [Topic] need of a client. [*Client] and
// [*Reconnecting] implement it; a registration or subscription made
// through a Reconnecting client is restored on its later sessions.
type Session interface {
	Do(ctx context.Context, req *CallRequest) (*Result, error)
	DoPublish(ctx context.Context, req *PublishRequest) (protocol.ID, error)
	Register(ctx context.Context, procedure protocol.URI, handler InvocationHandler, opts *RegisterOptions) (*Registration, error)
	Subscribe(ctx context.Context, topic protocol.URI, handler EventHandler, opts *SubscribeOptions) (*Subscription, error)
}

var (
	_ Session = (*Client)(nil)
	_ Session = (*Reconnecting)(nil)
)

// Procedure is a remote procedure with typed arguments and result: the
// callee registers a Go function func(ctx, In) (Out, error), and callers
// get an Out. Declare it once and share it between both sides:
//
//	type AddArgs struct {
//		A int `wamp:",arg"`
//		B int `wamp:",arg"`
//	}
//	var Add = client.Procedure[AddArgs, int]{URI: "com.example.add"}
//
//	Add.Register(ctx, callee, func(ctx context.Context, in AddArgs) (int, error) {
//		return in.A + in.B, nil
//	}, nil)
//	sum, err := Add.Call(ctx, caller, AddArgs{A: 2, B: 3}) // 5
//
// In and Out map to a payload as [Encode] and [Decode] say: a struct by
// its fields' `wamp` tags (positional and keyword arguments), anything
// else as the one positional argument. Values that already have the
// wanted Go type pass through without conversion or copying, as they do
// over the in-process link; over a network link they are converted as by
// [Convert]. So the same handler sees the same values on every link, and
// its peers need not use this package: to them it is an ordinary
// procedure.
type Procedure[In, Out any] struct {
	// URI is the procedure's URI.
	URI protocol.URI
}

// Call calls the procedure with in as its payload and returns the result
// as an Out (see [Client.Call] for cancellation). Errors of the call are
// those of [Client.Call]; a result that does not fit Out is an error
// wrapping a *[PayloadError].
func (p Procedure[In, Out]) Call(ctx context.Context, s Session, in In) (Out, error) {
	var out Out
	res, err := callTyped(ctx, s, p.URI, &in)
	if err != nil {
		return out, err
	}
	if e := decodeTyped(res.Args, res.Kwargs, &out); e != nil {
		return out, wrap(e, "client: result of %s", p.URI)
	}
	return out, nil
}

// callTyped calls procedure with the payload of *in, through the
// client's own call path when it can: the payload is then written into
// the CALL's own allocation.
func callTyped[In any](ctx context.Context, s Session, procedure protocol.URI, in *In) (*Result, error) {
	var c *Client
	switch x := s.(type) {
	case *Client:
		c = x
	case *Reconnecting:
		var err error
		if c, err = x.client(); err != nil {
			return nil, err
		}
	default:
		args, kwargs := encodeTyped(in, nil)
		return s.Do(ctx, &CallRequest{Procedure: procedure, Args: args, Kwargs: kwargs})
	}
	x := &callState{msg: protocol.Call{Options: noOptions, Procedure: procedure}}
	x.msg.Args, x.msg.Kwargs = encodeTyped(in, x.args[:0])
	if x.msg.Kwargs != nil && x.msg.Args == nil {
		x.msg.Args = protocol.List{} // Arguments must be present before ArgumentsKw
	}
	return c.call(ctx, x, nil)
}

// Register registers f as the procedure on s (see [Client.Register]).
// Each invocation's payload is decoded into an In; one that does not fit
// is answered with ERROR wamp.error.invalid_argument, whose first
// argument says which argument and field are wrong, and f is not called.
// f's result is the YIELD's payload, and its error is sent as an
// [InvocationHandler]'s error is. [InvocationOf] returns the invocation
// from f's ctx, for progressive results, the caller's identity and so on.
//
// Register fails without sending anything if In or Out has contradictory
// `wamp` tags.
func (p Procedure[In, Out]) Register(ctx context.Context, s Session, f func(context.Context, In) (Out, error), opts *RegisterOptions) (*Registration, error) {
	if f == nil {
		panic("client: Procedure.Register with nil function")
	}
	if err := checkPayloadType(reflect.TypeFor[In]()); err != nil {
		return nil, err
	}
	if err := checkPayloadType(reflect.TypeFor[Out]()); err != nil {
		return nil, err
	}
	// The layouts are looked up once, not for every invocation.
	inLayout, outLayout := flatOf(reflect.TypeFor[In]()), flatOf(reflect.TypeFor[Out]())
	oneArg := outLayout != nil && len(outLayout.args) <= 1
	return s.Register(ctx, p.URI, func(ctx context.Context, inv *Invocation) (*Result, error) {
		var in In
		if e := decodeWith(inLayout, inv.Args, inv.Kwargs, &in); e != nil {
			return nil, &protocol.Error{URI: protocol.ErrInvalidArgument, Args: protocol.List{e.text()}}
		}
		out, err := f(ctx, in)
		if err != nil {
			return nil, err
		}
		if oneArg {
			r := &typedResult1{}
			r.res.Args, r.res.Kwargs = encodeWith(outLayout, &out, r.args[:0])
			return &r.res, nil
		}
		r := &typedResult{}
		r.res.Args, r.res.Kwargs = encodeWith(outLayout, &out, r.args[:0])
		return &r.res, nil
	}, opts)
}

// typedResult is the Result of a typed handler with room for its
// arguments, in one allocation; typedResult1 is one for a result of at
// most one positional argument.
type (
	typedResult struct {
		res  Result
		args [inlineArgs]any
	}
	typedResult1 struct {
		res  Result
		args [1]any
	}
)

// checkPayloadType returns the error of t's wamp tags, if t (or what it
// points to) is split into a payload.
func checkPayloadType(t reflect.Type) error {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if !isPayloadStruct(t) {
		return nil
	}
	return structOf(t).err
}

// Topic is a topic whose events carry a typed payload, a T: publishers
// publish a T and subscribers receive one. Declare it once and share it:
//
//	type Reading struct {
//		Sensor string  `wamp:",arg"`
//		Value  float64 `wamp:"value"`
//	}
//	var Readings = client.Topic[Reading]{URI: "com.example.readings"}
//
//	Readings.Subscribe(ctx, c, func(ev *client.Event, r Reading) { ... }, nil)
//	err := Readings.Publish(ctx, c, Reading{Sensor: "s1", Value: 21.5})
//
// T maps to a payload as it does for [Procedure].
type Topic[T any] struct {
	// URI is the topic's URI.
	URI protocol.URI
}

// Publish publishes v to the topic, unacknowledged, as [Client.Publish]
// does. For acknowledgement and options, use [Client.DoPublish] with the
// payload of [Encode].
func (t Topic[T]) Publish(ctx context.Context, s Session, v T) error {
	var c *Client
	switch x := s.(type) {
	case *Client:
		c = x
	case *Reconnecting:
		var err error
		if c, err = x.client(); err != nil {
			return err
		}
	default:
		args, kwargs := encodeTyped(&v, nil)
		_, err := s.DoPublish(ctx, &PublishRequest{Topic: t.URI, Args: args, Kwargs: kwargs})
		return err
	}
	x := &publishState{msg: protocol.Publish{Options: noOptions, Topic: t.URI}}
	x.msg.Args, x.msg.Kwargs = encodeTyped(&v, x.args[:0])
	if x.msg.Kwargs != nil && x.msg.Args == nil {
		x.msg.Args = protocol.List{}
	}
	c.mu.Lock()
	err := c.sendRequestLocked(ctx, nil, &x.msg)
	c.mu.Unlock()
	return err
}

// Subscribe subscribes f to the topic on s (see [Client.Subscribe]). Each
// event's payload is decoded into a T for f; an event that does not fit T
// is dropped and logged (the first, and then every 1024th).
//
// Subscribe fails without sending anything if T has contradictory `wamp`
// tags.
func (t Topic[T]) Subscribe(ctx context.Context, s Session, f func(*Event, T), opts *SubscribeOptions) (*Subscription, error) {
	if f == nil {
		panic("client: Topic.Subscribe with nil function")
	}
	if err := checkPayloadType(reflect.TypeFor[T]()); err != nil {
		return nil, err
	}
	var dropped atomic.Uint64
	log := sessionLogger(s)
	return s.Subscribe(ctx, t.URI, func(ev *Event) {
		var v T
		if e := decodeTyped(ev.Args, ev.Kwargs, &v); e != nil {
			if n := dropped.Add(1); n == 1 || n%1024 == 0 {
				log.Warn("client: dropping events that do not fit the type of their Topic",
					"topic", ev.Topic, "type", reflect.TypeFor[T]().String(), "error", e, "dropped", n)
			}
			return
		}
		f(ev, v)
	}, opts)
}

// sessionLogger returns the logger of s, if it is one of this package's.
func sessionLogger(s Session) *slog.Logger {
	var l *slog.Logger
	switch c := s.(type) {
	case *Client:
		l = c.log
	case *Reconnecting:
		l = c.cfg.Logger
	}
	if l == nil {
		l = slog.Default()
	}
	return l
}

// invocationKey is the context key of the Invocation in a handler's
// context.
type invocationKey struct{}

// InvocationOf returns the invocation whose handler's context ctx is (or
// is derived from), or nil. A typed procedure's function ([Procedure])
// uses it to reach what its arguments do not carry: the caller's
// identity, progressive results ([Invocation.SendProgress]) and
// progressive invocations ([Invocation.Recv]).
func InvocationOf(ctx context.Context) *Invocation {
	inv, _ := ctx.Value(invocationKey{}).(*Invocation)
	return inv
}
