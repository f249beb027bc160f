// Package transport carries WAMP messages between a client and a router:
// in-process, over WebSocket and over RawSocket (WAMP spec, SUMMARY §13;
// basic/building_blocks.md "Transports", advanced/transport_rawsocket.md,
// advanced/transport_batched_websocket.md).
//
// # Overview
//
// A [Peer] is one end of a session's message stream: Recv, Send, Close.
// The router and the client see only Peer.
//
// The simplest link is in-process, a connected pair that hands message
// values across without serializing them:
//
//	routerEnd, clientEnd := transport.LocalPair(0)
//
// The router side of the network transports is a [WebSocketServer] (an
// http.Handler to mount on your own mux) and a [RawSocketServer] that
// serves any net.Listener (TCP, Unix domain sockets, with optional TLS):
//
//	ws := &transport.WebSocketServer{Handler: serveSession}
//	http.Handle("/ws", ws)
//
//	rs := &transport.RawSocketServer{
//		Config:  transport.RawSocketConfig{MaxConnections: 1000},
//		Handler: serveSession,
//	}
//	l, _ := net.Listen("tcp", "127.0.0.1:8081")
//	go rs.Serve(l)
//	defer rs.Close()
//
// A server on the Internet caps its connections before any handshake,
// in total and per client address, with a listener wrapper; give the
// http.Server timeouts too (an idle keep-alive connection is otherwise
// held forever):
//
//	l = transport.LimitListener(l, 10000, 1000) // or a shared ConnLimiter
//	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
//
// The client side dials:
//
//	p, err := transport.DialWebSocket(ctx, "ws://127.0.0.1:8080/ws",
//		transport.WebSocketDialConfig{Serializer: serialize.MessagePack})
//	p, err := transport.DialRawSocket(ctx, "unix", "/run/wamp.sock",
//		transport.RawSocketDialConfig{Serializer: serialize.CBOR})
//
// WebSocket negotiates wamp.2.json (text messages), wamp.2.msgpack,
// wamp.2.cbor (binary messages) and wamp.2.json.batched; a client that
// offers none of them gets HTTP 400, a browser from a foreign origin HTTP
// 403. RawSocket runs the spec's 4-octet handshake (magic 0x7F, maximum
// length exponent, serializer id) and answers refusals with its error
// codes ([RawSocketError]).
//
// # Configuration
//
// Each server and dialer has a config struct whose zero value is a valid
// configuration, with every default given in its field's comment. The
// settings of the peers themselves (message size limit, outbound queue,
// keep-alive, timeouts, logger) are one [PeerConfig], embedded in all
// four configs; its fields read and write as the config's own:
//
//	cfg := transport.WebSocketConfig{
//		PeerConfig:  transport.PeerConfig{MaxMessageSize: 4 << 20},
//		CheckOrigin: allowOrigin,
//	}
//	cfg.PingInterval = 10 * time.Second
//
// # Sending and receiving
//
// Every network peer has a bounded outbound queue. Send never blocks: it
// encodes the message on the calling goroutine (a *serialize.Shared at
// most once per serializer, its cached encoding is queued without a copy)
// and queues the encoding, or returns at once [ErrQueueFull] (the queue
// holds [PeerConfig].QueueSize messages or QueueBytes bytes), an error
// wrapping [ErrEncode] (the message cannot be encoded) or
// [ErrMessageTooBig] (it is larger than the other end accepts), or
// [ErrClosed]; see [Peer] for what each means to the owner.
//
// A lone message (nothing written to the peer for the last 50 µs, and
// not an EVENT encoded once for many subscribers) is written by Send
// itself, in one non-blocking write on the socket: no goroutine hand-off
// and no other thread woken per message. Everything else, and whatever
// does not fit the socket at once, a writer goroutine writes, in as few
// system calls as it can: a RawSocket writer puts many frames into one
// write (up to 64 KiB), a wamp.2.json.batched writer puts them into one
// WebSocket message, and the other WebSocket writers send one WebSocket
// message per WAMP message (as the spec requires) but many of them in one
// write. The writer goroutine ends when nothing is left to write (TLS
// connections, which cannot be written without blocking, always use it).
// Its writes have a deadline (WriteTimeout), so a peer that stops reading
// fails its own connection and never blocks anyone else.
//
// On Linux, the reads of a peer over a plain socket and its non-blocking
// writes are system calls the Go scheduler is not told about: none of them
// can block, and telling it costs more than the call when the process is
// idle between messages (each would wake the runtime's sysmon thread).
// Waiting for data, and the read deadlines, are the net package's as
// ever. Over TLS, crypto/tls reads and writes the socket the same way
// (RawSocket servers and dialers, and a WebSocket server served through
// TLSListener), though its records still go through the peer's writer
// goroutine; built with the race detector, the ordinary calls are made.
//
// An idle peer holds no writer goroutine and no large buffer: encodings
// and write batches live in pooled buffers, reads go through a 512-byte
// buffer that borrows a 32 KiB one from a pool while data keeps coming,
// and a WebSocket server runs each session on a goroutine of its own, so
// that net/http's goroutine and buffers are released after the upgrade.
// Keep-alive pings (WebSocket ping frames, RawSocket PING frames) detect
// dead peers: the goroutine in Recv fails the connection with
// [ErrKeepAlive] when nothing arrived for PingInterval + PongTimeout.
// Pings from the other end are answered from within Recv (RawSocket: one
// PONG echoing the payload, as the spec requires), so a session must keep
// a goroutine in Recv, which it does anyway.
//
// WebSocket peers send JSON in text messages and MessagePack and CBOR in
// binary messages, and accept only those (basic/building_blocks.md,
// "WebSocket Transport"): a message of the other kind is malformed.
// A message that is too large for the other end's announced RawSocket
// maximum is not sent (the spec leaves the choice to the implementation):
// Send refuses it with [ErrMessageTooBig], as it refuses a message that
// does not encode with [ErrEncode].
//
// A message larger than the negotiated maximum fails the connection
// (WebSocket close code 1009). With permessage-deflate the maximum applies
// to the inflated message, while it is inflated: a reader never holds
// more than the maximum, however far a small compressed message would
// inflate. A message that does not decode does not fail the connection:
// Recv returns an error wrapping protocol.ErrMalformed and the caller
// decides (the spec says to ABORT with wamp.error.protocol_violation).
//
// # Optional interfaces
//
// Every peer of this package implements, besides Peer:
//
//   - [Waiter], a Send that waits for room in the queue, for a bounded
//     time;
//   - [Detailer], describing its carrier for the session meta API;
//   - [RecverContext], a Recv that a context interrupts without closing
//     the peer, so that the owner can still send why it gives up (the
//     router's ABORT when a handshake takes too long), then close it;
//   - [TLSStater], the TLS connection state, for authenticating the
//     other end by its certificate or binding an authentication to the
//     TLS channel.
//
// # TLS
//
// A [WebSocketServer] speaks wss when its http.Server serves TLS; a
// [RawSocketServer] when [RawSocketConfig].TLSConfig is set. Dialers use
// TLS for wss:// URLs and when [RawSocketDialConfig].TLSConfig is set. To
// ask clients for certificates, set ClientAuth (and ClientCAs) in the
// server's tls.Config; the peer's TLSConnectionState then holds them.
//
// # Concurrency
//
// A Peer supports one goroutine calling Recv (or RecvContext) at a time
// (the session's goroutine: network peers read and decode on it, so there
// is no hand-off between reading and routing). Send, SendWait, Close and
// TransportDetails may be called from any goroutine, concurrently with
// each other and with Recv.
//
// [RawSocketServer.Serve] may run on several listeners at once, and
// [RawSocketServer.Close] may be called from any goroutine. ServeHTTP of
// [WebSocketServer] is called by net/http on many goroutines;
// [WebSocketServer.Close] may be called from any goroutine. Set the Config
// and Handler fields of both servers before they serve.
//
// # Ownership
//
// Messages: the sender must not modify a message (or anything it
// references) after Send; receivers treat what Recv returns as read-only.
// The in-process link hands over the very same value; network peers
// decode into fresh values that share no memory with buffers.
//
// Peers: whoever dials a peer closes it. A server's Handler owns the peer
// it is given until it returns; the server closes the peer then. Close
// flushes what is queued within CloseTimeout, closes the connection, and
// returns after the peer's writer goroutine has ended; it is idempotent.
// A peer whose connection fails (read error, write timeout, keep-alive
// timeout, a frame over the limit) closes itself, and Recv reports the
// reason wrapped in ErrClosed, but the owner must still call Close; so
// must the owner of a peer whose RecvContext was interrupted, which
// receives nothing more.
//
// Servers: [RawSocketServer.Close] closes its listeners and every
// connection and waits for every goroutine it started, Handler calls
// included; [WebSocketServer.Close] does the same for its upgraded
// connections (the http.Server is yours to shut down). Serve closes its
// listener when it returns.
package transport
