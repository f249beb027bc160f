// Package integration proves the wampkit router and client together, end to
// end, over every transport and serializer. It holds only tests and
// benchmarks; nothing here is imported by users.
//
// # Tests
//
// TestMatrix runs the Basic Profile (SUMMARY §6, §8, §9) over every
// combination of transport and serializer: the in-process link
// ([router.Router.Connect] + [client.Join]), WebSocket ([router.Router.Handler]
// behind an http.Server), RawSocket over TCP and over a Unix socket
// ([router.Router.ServeRawSocket]), each with JSON, MessagePack and CBOR. The
// in-process link does not serialize, so it runs once.
//
// TestViolation talks to the router through raw WebSocket and RawSocket
// connections with hand-written JSON frames and breaks the protocol in
// several ways (SUMMARY §6.4); each must end with ABORT
// wamp.error.protocol_violation and a closed connection, while regular
// sessions carry on.
//
// TestShutdown stops the router gracefully with a client of every transport
// and serializer joined; each must get GOODBYE wamp.close.system_shutdown.
//
// # Benchmarks
//
// The benchmarks measure RPC round trips and event fan-out through a real
// router, in-process and over WebSocket:
//
//	go test -run '^$' -bench . -benchmem -count 3 .
//
// Fan-out benchmarks report ns/event, the time per delivered event.
//
// Everything binds 127.0.0.1 with a port the system picks, and every wait is
// bounded by a context deadline.
package integration
