// Package interop proves wampkit against WAMP peers that others wrote.
//
// The package holds only tests. They start the wampkit router embedded
// (WebSocket through [router.Router.Handler], RawSocket through
// [router.Router.ServeRawSocket], both on 127.0.0.1 with a port the system
// picks) and drive client libraries of other projects against it through
// small scripts of ours:
//
//   - Autobahn|JS and wampy.js in Node (js/peer.mjs),
//   - Autobahn|Python on asyncio (py/peer.py),
//
// and run the wampkit client against the fox-wamp router (js/foxrouter.cjs).
//
// The tests that route between peers also run with the router deployed as
// a cluster of three nodes (the cluster module, on a NATS server embedded
// in the test process), each new connection going to the next node; see
// README.md, "Over a cluster of three nodes".
//
// The authentication tests also serve the router over TLS (wss:// and
// RawSocket over TLS, with a CA and certificates the test makes): the
// scripts take the CA file (--ca) and, in Python, a client certificate
// (--cert, --key) and a highest TLS version (--tls-max).
//
// # Running
//
// From the integration module:
//
//	(cd interop/js && npm ci)
//	apt-get install -y python3-autobahn python3-cbor2 python3-msgpack python3-nacl
//	go test -race ./interop/...
//
// A missing runtime fails the tests with the command that installs it; they
// never skip. See README.md for the matrix and the scenarios.
//
// # Protocol between test and script
//
// Each script run is one scenario: it takes the router URL, realm,
// serializer and scenario name on its command line, prints at most one
// {"ready":true} line (after it registered or subscribed, so the Go side
// knows when to act) and then exactly one JSON result line, {"ok":true,...}
// or {"ok":false,"error":...} with a non-zero exit. Binary values are
// reported as {"$hex":"..."}.
package interop
