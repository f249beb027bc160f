// Package client implements a WAMP client: a session that joins a realm of
// a router and calls, registers, publishes and subscribes (WAMP spec,
// basic/README.md and the Basic Profile sections it lists; Advanced Profile
// features as announced below).
//
// # Overview
//
// The simplest use dials a router and calls a procedure:
//
//	c, err := client.Dial(ctx, "ws://127.0.0.1:8080/ws", client.Config{Realm: "realm1"})
//	if err != nil { ... }
//	defer c.Close()
//	res, err := c.Call(ctx, "com.example.add", 2, 3)
//	// res.Args[0] == 5
//
// Any [transport.Peer] can carry a session: [Join] takes one, for example the
// in-process connection of an embedded router, which hands messages across
// without serializing them:
//
//	c, err := client.Join(ctx, peer, client.Config{Realm: "realm1"})
//
// A callee registers a handler; a subscriber subscribes one:
//
//	reg, err := c.Register(ctx, "com.example.add",
//		func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
//			return &client.Result{Args: protocol.List{...}}, nil
//		}, nil)
//	sub, err := c.Subscribe(ctx, "com.example.news",
//		func(ev *client.Event) { ... }, nil)
//	err = c.Publish(ctx, "com.example.news", "hello", client.Kwargs{"lang": "en"})
//
// Positional arguments are given as they are; a [Kwargs] given last is
// the keyword arguments (any other dict is a positional argument, as the
// options of the meta procedures are). [Procedure] and [Topic] do the same
// with Go types: see Typed procedures and topics below, and Values for
// reading what arrives whatever the link.
//
// Options go into request structs: [Client.Do] with a [CallRequest]
// (keyword arguments, dealer timeout, caller disclosure, progressive results),
// [Client.DoStream] for a call whose arguments are sent in chunks (see
// Streaming calls below),
// [Client.DoPublish] with a [PublishRequest] (acknowledgement, publisher
// exclusion, black- and whitelists, retention), [RegisterOptions] and
// [SubscribeOptions] (pattern matching, shared registrations, event queue
// size, retained events, flagged by [Event].Retained). The event history
// of a router is read with an ordinary call of the meta procedure
// wamp.subscription.get_events. Everything about the session itself is in [Config]: realm,
// authentication ([Authenticator]), extra HELLO details, serializer, TLS,
// timeouts and logger.
//
// [Client.AddTestament] leaves an event with the router that it publishes
// on the session's behalf once the session is gone, however it ends
// (advanced/pubsub_testament.md); [Client.FlushTestaments] takes them
// back.
//
// With Config.PayloadPassthru the client announces payload_passthru_mode
// (advanced/payload_passthru_mode.md): a [Passthru] in a [CallRequest],
// [PublishRequest] or a handler's [Result] sends a payload the router
// passes on unread (one []byte in Args, for example end-to-end encrypted),
// and [PassthruOf] reads the ppt_* keys of what arrives (Details of an
// [Invocation], [Event], [Result] or *protocol.Error). The client does not
// encrypt or decode such payloads itself.
//
// The client announces these roles and features in HELLO (WAMP spec,
// advanced/features.md): caller with call_canceling, call_timeout,
// caller_identification, progressive_call_results and
// progressive_call_invocations; callee with call_canceling,
// caller_identification, pattern_based_registration,
// progressive_call_results, progressive_call_invocations and
// shared_registration; publisher with
// publisher_exclusion, publisher_identification and
// subscriber_blackwhite_listing; subscriber with pattern_based_subscription
// and publisher_identification. Subscription and registration revocation
// (UNSUBSCRIBED/UNREGISTERED with request 0) are honoured when a router
// sends them.
//
// # Typed procedures and topics
//
// [Procedure] and [Topic] give procedures and topics Go types: a callee
// registers a function func(ctx, In) (Out, error), callers get an Out,
// publishers publish a T and subscribers receive one. Declare them once
// and share them between both sides:
//
//	type AddArgs struct {
//		A int `wamp:",arg"` // Args[0]
//		B int `wamp:",arg"` // Args[1]
//	}
//	var Add = client.Procedure[AddArgs, int]{URI: "com.example.add"}
//
//	_, err := Add.Register(ctx, callee, func(ctx context.Context, in AddArgs) (int, error) {
//		return in.A + in.B, nil
//	}, nil)
//	sum, err := Add.Call(ctx, caller, AddArgs{A: 2, B: 3}) // 5
//
// A struct maps to positional and keyword arguments by its `wamp` tags
// (see [Encode]); any other type is the one positional argument. To peers
// that do not use this package, these are ordinary procedures and topics:
// a call whose payload does not fit In is answered with ERROR
// wamp.error.invalid_argument naming the argument and field, and an
// event that does not fit T is dropped and logged. Both work over every
// link and serializer alike, and with a [Reconnecting] client.
//
// # Values
//
// What a handler finds in Args, Kwargs and Details depends on the link,
// because the in-process link does not serialize:
//
//   - Over WebSocket and RawSocket, every value has one of the types the
//     decoders produce: nil, bool, int64 (uint64 above math.MaxInt64),
//     float64, string, []byte, []any and map[string]any; Args is a
//     protocol.List and Kwargs a protocol.Dict. An integer may also
//     arrive as an integral float64 (JavaScript peers send large integers
//     as doubles).
//   - Over the in-process link (a router's Connect and [Join]), the
//     values are those the sender put in, not copied: any integer or
//     float type, typed slices and maps such as []string or
//     map[string]int, structs, pointers.
//
// So read payload values with [Convert], which takes every one of these
// forms and gives the same result for each:
//
//	n, err := client.Convert[int64](inv.Args[0])       // int, int32, int64, 3.0, ...
//	tags, err := client.Convert[[]string](inv.Args[1]) // []string or []any of strings
//	p, err := client.Convert[Point](inv.Kwargs["at"])  // Point, or a dict keyed by its json tags
//
// A value that already has the wanted type is returned as it is, without
// copying, which keeps the in-process link free of copies. [Decode] reads
// a whole payload (positional and keyword arguments) into a struct, by
// its `wamp` tags, and [Encode] writes one; [Procedure] and [Topic] are
// built on them. A type assertion such as inv.Args[0].(int64) holds on
// one kind of link only.
//
// The client does not convert what it sends into what a network peer
// would see: that would cost an allocation for most values that are not
// strings, on every message, and copy the values that a receiver could
// otherwise take as they are.
//
// # Streaming calls
//
// A call's arguments may go to the callee in chunks (progressive call
// invocations, advanced/rpc_progressive_call_invocations.md), when the
// router announced the feature (else [Client.DoStream] returns
// [ErrNotSupported]). DoStream sends the first chunk with the call's
// options and returns a [CallStream]; Send sends more, CloseSend the final
// one, and Result waits for the answer:
//
//	s, err := c.DoStream(ctx, &client.CallRequest{Procedure: "com.example.upload", Args: protocol.List{first}})
//	if err != nil { ... }
//	for _, part := range rest {
//		if err := s.Send(ctx, protocol.List{part}, nil); err != nil { ... }
//	}
//	err = s.CloseSend(ctx, nil, nil)
//	res, err := s.Result(ctx)
//
// Result may run on another goroutine while chunks are still sent; with
// [CallRequest].OnProgress it receives the callee's progressive results
// meanwhile, so both directions stream at once. Ending DoStream's context
// cancels the call. Send, like every send of the client, fails with an
// error wrapping [transport.ErrQueueFull] rather than wait when the link
// is congested (see Flow control); the chunk may be sent again. Once the
// call has ended, for example because the callee answered early, Send
// returns [ErrStreamDone] and Result tells how it ended.
//
// The callee's handler gets the first chunk as the [Invocation]'s Args and
// Kwargs; [Invocation.Progressive] reports that more follow, and
// [Invocation.Recv] returns them in order, then io.EOF:
//
//	for {
//		chunk, err := inv.Recv(ctx)
//		if err == io.EOF { break }
//		if err != nil { return nil, err } // interrupted, or the session ended
//		...
//	}
//
// The reader queues chunks for the handler without waiting for it, so a
// handler that falls behind its caller holds the difference in memory.
//
// # URL schemes
//
// [Dial] chooses the transport by the URL's scheme:
//
//	ws://host:port/path     WebSocket (spec basic "Transports"; default serializer JSON)
//	wss://host:port/path    WebSocket over TLS (Config.TLSConfig)
//	tcp://host:port         RawSocket over TCP (advanced/transport_rawsocket.md; default MessagePack)
//	tcps://host:port        RawSocket over TLS (Config.TLSConfig)
//	unix:///path/to/socket  RawSocket over a Unix domain socket; also unix:/abs/path, unix:rel/path
//
// rs:// and rss:// are synonyms of tcp:// and tcps://. Config.Serializer
// overrides the default serializer. For transport settings beyond these
// (message size limits, keep-alive, compression), dial with
// [transport.DialWebSocket] or [transport.DialRawSocket] and pass the peer to
// [Join].
//
// # Concurrency
//
// All methods of [Client] may be called from any number of goroutines.
// Each session has one reader goroutine that receives every message from
// the router and dispatches it by request id; it never runs user code and
// never waits for it:
//
//   - A call waits on the calling goroutine (no goroutine per call). Its
//     progressive results ([CallRequest].OnProgress) run on that goroutine
//     too, in order.
//   - Each INVOCATION runs its [InvocationHandler] on a goroutine of its
//     own, so handlers may block and run concurrently. (The goroutines are
//     reused: a few finished ones wait for the next INVOCATION.) The
//     handler's context is canceled by INTERRUPT (call canceling), when the
//     session ends, and when the handler returns; context.Cause tells
//     which ([ErrInterrupted], [ErrClosed] or context.Canceled).
//   - One exception saves two goroutine hand-offs: when a client linked
//     in-process (a router's Connect) makes a plain call ([Client.Call],
//     or [Client.Do] without options and OnProgress) with a context that
//     cannot end (its Done returns nil, as context.Background's does) to a
//     procedure of another client linked in-process to the same router,
//     the handler may run on the calling goroutine, which would wait for it
//     anyway; it holds no lock of the client or the router meanwhile, and
//     its context is canceled as above. Handlers that call on nest so up
//     to a small depth, then go to goroutines of their own. The one
//     difference a caller can see: when its session ends during such a
//     call, Call returns once the handler has returned (the router's
//     INTERRUPT cancels the handler's context) rather than at once.
//   - Each [Subscription] has its own goroutine and event queue: its
//     [EventHandler] receives events one at a time in the order the router
//     sent them, and a slow handler delays only its own subscription. The
//     queue is unbounded unless [SubscribeOptions].Queue or Config.EventQueue
//     bound it; a full queue drops new events and logs it.
//
// Request ids are assigned and sent under one lock, so they reach the
// router in order even when many goroutines send at once (spec basic
// "IDs", session scope).
//
// Every method that waits takes a context. When it ends, the method stops
// waiting and returns its error (or cause); the router's late reply is
// dropped. A call whose context ends also sends CANCEL with mode killnowait
// if the dealer announced call_canceling (advanced/rpc_call_canceling.md).
// A Subscribe or Register that gives up before the router answers undoes a
// late success with UNSUBSCRIBE or UNREGISTER. Subscribe, Unsubscribe,
// Register, Unregister and acknowledged publications also stop after
// Config.ResponseTimeout when their context has no deadline.
//
// Sends never block; see Flow control below.
//
// The client owns its transport and its goroutines. [Client.Close] (or
// [Client.Leave]) sends GOODBYE, waits for the router's echo within
// Config.CloseTimeout, closes the transport, and returns only after every
// goroutine the client started has exited, handlers included; so a handler
// must not call Close except from a new goroutine. [Client.Done] is closed
// when the session ends for any reason and [Client.Err] tells why.
// Messages passed to and received from the client are read-only for
// everybody once sent (see [protocol.Message]); do not modify the Args,
// Kwargs and Details of events, invocations and results.
//
// # Flow control
//
// No method of the client waits for room in the transport's outbound
// queue. When the queue is full, the request fails at once with an error
// wrapping [transport.ErrQueueFull]: nothing was sent, no request id was
// used up, and the session is unaffected. (Only the answer to an
// INVOCATION waits, since its caller would otherwise wait in vain: on the
// handler's goroutine, for at most Config.ResponseTimeout, after which the
// session ends; the reader and every method go on meanwhile.) This matters most for
// [Client.Publish] and unacknowledged [Client.DoPublish], which otherwise
// return as soon as the PUBLISH is queued, so a publisher in a tight loop
// can outrun the link (and, behind it, the router's queues towards slow
// subscribers). The caller decides what a full queue means: drop the
// event, retry later, or pace itself, for example:
//
//	for {
//		err := c.Publish(ctx, topic, v)
//		if !errors.Is(err, transport.ErrQueueFull) {
//			return err
//		}
//		select { // back off, then retry
//		case <-time.After(time.Millisecond):
//		case <-ctx.Done():
//			return ctx.Err()
//		}
//	}
//
// Acknowledged publications ([PublishRequest].Acknowledge) pace a
// publisher by the router's answers instead. Neither paces it by its
// subscribers: PUBLISHED means the events were queued for them, and the
// router disconnects a subscriber that falls too far behind (or drops its
// events, per the realm's policy); see the router package's documentation. The same error can come from
// calls, subscriptions and registrations; retrying them is equally safe.
//
// # Errors
//
// A WAMP error sent by the router or a callee is returned wrapped with
// the request it answers, as in "client: call com.example.add: wamp error
// wamp.error.no_such_procedure"; the *[protocol.Error] inside carries the
// URI, Args and Kwargs of the ERROR message (spec basic "Predefined
// URIs"). Match it with errors.As:
//
//	var werr *protocol.Error
//	if errors.As(err, &werr) && werr.URI == protocol.ErrNoSuchProcedure { ... }
//
// An error of this package that wraps another one leaves out the package
// prefixes the other already says ("client: join realm \"nope\": session
// aborted: ...").
//
// A request the router would refuse as malformed, such as a procedure or
// topic that is not a valid URI (spec basic "URIs"), fails before it is
// sent, with an error wrapping [protocol.ErrMalformed] (see
// [protocol.Validate]). Over a network transport, a payload the session's
// serializer cannot encode (NaN for JSON, say), or a message larger than
// a RawSocket router accepts, fails at once too, with an error wrapping
// [transport.ErrEncode] or [transport.ErrMessageTooBig]; nothing is sent.
//
// A callee's handler sends a specific error by returning a *protocol.Error
// (or an error wrapping one); any other error is logged and sent as
// [ErrRuntimeError], so internal details stay local.
//
// A router that refuses a session answers HELLO with ABORT: [Join] returns
// an [*AbortError] with the reason, such as wamp.error.no_such_realm (spec
// basic "Session Establishment"). When an established session ends, every
// pending request fails at once with an error wrapping [ErrClosed] and the
// reason; the reason alone is [Client.Err]: [ErrClosed] after Close, an
// [*AbortError] or [*GoodbyeError] when the router ended the session, an
// error wrapping [ErrProtocolViolation] when the router broke the protocol
// (the client then sends ABORT wamp.error.protocol_violation, spec basic
// "Protocol Errors"), or the transport's error. The sentinel errors of the
// package ([ErrClosed], [ErrNoRealm], [ErrResponseTimeout], [ErrNotActive],
// ...) all have the prefix "client: ".
//
// # Reconnect
//
// A Client is one session: once it ends, it stays ended. [DialReconnecting]
// returns a [Reconnecting] client that joins a new session whenever the
// transport breaks or the router ends the session (GOODBYE
// wamp.close.system_shutdown on a router restart, ABORT), after an
// exponential backoff with jitter (see [ReconnectConfig]), and then
// registers and subscribes again everything registered and subscribed
// through it:
//
//	rc, err := client.DialReconnecting(ctx, url, client.Config{Realm: "realm1"},
//		client.ReconnectConfig{OnState: func(s client.ConnState, err error) {
//			log.Printf("wamp: %v (%v)", s, err)
//		}})
//	if err != nil { ... }
//	defer rc.Close()
//	reg, err := rc.Register(ctx, "com.example.add", add, nil)
//
// ReconnectConfig.OnState hears StateConnected, StateRestoring,
// StateDisconnected, StateReconnecting and StateClosed. StateConnected
// means that everything is back; a registration or subscription the
// router refuses to restore (a procedure another session registered
// meanwhile, a permission withdrawn) is reported with StateRestoring and a
// *[RestoreError] that names it, and tried again after each backoff delay
// until it succeeds: the client then reports StateConnected. Meanwhile its
// ID is 0. While no session is joined, requests
// fail at once with an error wrapping [ErrClosed]; they are not queued, and
// events published meanwhile are lost. Reconnecting stops for good, with
// StateClosed and the reason, after [Reconnecting.Close], when the router
// refuses the join finally (ABORT wamp.error.no_such_realm, an
// authentication or authorization refusal) or after
// ReconnectConfig.MaxAttempts failed attempts in a row.
package client
