package integration

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/serialize"
	"github.com/wampkit/wampkit/transport"
)

// The catalogue: malformed or illegal input at every layer, each answered
// as the spec says, while regular sessions keep working (checked after
// every case with the background sessions of violation_test.go).
//
// Expected answers:
//   - RawSocket handshake: the error reply 0x7F E0 00 00 with the spec's
//     error code, or a closed connection where the spec says to fail it
//     (spec advanced "RawSocket Transport").
//   - WebSocket handshake: HTTP 400 (not an upgrade, no WAMP
//     sub-protocol), 403 (origin refused).
//   - Framing: a failed connection (RawSocket) or a WebSocket close.
//   - Serialization and message validation: ABORT
//     wamp.error.protocol_violation and a closed connection (spec basic
//     "Protocol Errors").
//   - Requests that are well formed but refused: ERROR with the spec's URI,
//     and the session goes on.

// catalogueMax is the router's maximum message size in the catalogue.
const catalogueMax = 64 << 10

// Expectation kinds of a catalogue case.
const (
	expAbort   = iota // ABORT with uri, then the connection closes
	expError          // ERROR with uri; the session still works
	expIgnored        // no answer; the session still works
	expClosed         // the connection is failed (ABORT allowed first)
)

// wampCase is a catalogue case of WAMP messages sent as JSON text over a
// RawSocket and a WebSocket connection.
type wampCase struct {
	name   string
	joined bool     // HELLO and WELCOME first
	frames []string // sent in order; the expectation is about the answers
	exp    int
	uri    protocol.URI
}

func wampCases() []wampCase {
	pv := protocol.ErrProtocolViolation
	return []wampCase{
		// Serialization.
		{name: "Garbage", joined: true, frames: []string{"}{ not JSON"}, exp: expAbort, uri: pv},
		{name: "GarbageBeforeHello", frames: []string{"\x00\x01\x02"}, exp: expAbort, uri: pv},
		{name: "InvalidUTF8", joined: true, frames: []string{"[16,1,{},\"com.a\",[\"\xff\xfe\"]]"}, exp: expAbort, uri: pv},
		{name: "DeepNesting", joined: true, frames: []string{"[16,1,{},\"com.a\"," + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "]"}, exp: expAbort, uri: pv},
		{name: "TrailingGarbage", joined: true, frames: []string{`[16,1,{},"com.a"] x`}, exp: expAbort, uri: pv},
		{name: "TwoMessagesInOneFrame", joined: true, frames: []string{`[16,1,{},"com.a"][16,2,{},"com.a"]`}, exp: expAbort, uri: pv},
		{name: "HugeNumber", joined: true, frames: []string{`[48,1e400,{},"com.a"]`}, exp: expAbort, uri: pv},
		{name: "NaN", joined: true, frames: []string{`[48,NaN,{},"com.a"]`}, exp: expAbort, uri: pv},
		{name: "EmptyFrame", joined: true, frames: []string{""}, exp: expAbort, uri: pv},
		{name: "NotAList", joined: true, frames: []string{`{"type":48}`}, exp: expAbort, uri: pv},
		{name: "EmptyList", joined: true, frames: []string{`[]`}, exp: expAbort, uri: pv},
		{name: "Null", joined: true, frames: []string{`null`}, exp: expAbort, uri: pv},
		// Message validation.
		{name: "UnknownType", joined: true, frames: []string{`[99,1,{}]`}, exp: expAbort, uri: pv},
		{name: "ExtensionType", joined: true, frames: []string{`[300,1,{}]`}, exp: expAbort, uri: pv},
		{name: "TypeNotInteger", joined: true, frames: []string{`["CALL",1,{},"com.a"]`}, exp: expAbort, uri: pv},
		{name: "CallTooShort", joined: true, frames: []string{`[48,1,{}]`}, exp: expAbort, uri: pv},
		{name: "CallTooLong", joined: true, frames: []string{`[48,1,{},"com.a",[],{},"extra"]`}, exp: expAbort, uri: pv},
		{name: "CallIDZero", joined: true, frames: []string{`[48,0,{},"com.a"]`}, exp: expAbort, uri: pv},
		{name: "CallID2p53plus1", joined: true, frames: []string{`[48,9007199254740993,{},"com.a"]`}, exp: expAbort, uri: pv},
		{name: "CallIDNegative", joined: true, frames: []string{`[48,-1,{},"com.a"]`}, exp: expAbort, uri: pv},
		{name: "CallIDFraction", joined: true, frames: []string{`[48,1.5,{},"com.a"]`}, exp: expAbort, uri: pv},
		{name: "CallIDString", joined: true, frames: []string{`[48,"1",{},"com.a"]`}, exp: expAbort, uri: pv},
		{name: "OptionsNotDict", joined: true, frames: []string{`[48,1,[],"com.a"]`}, exp: expAbort, uri: pv},
		{name: "ProcedureNotString", joined: true, frames: []string{`[48,1,{},5]`}, exp: expAbort, uri: pv},
		{name: "ArgsNotList", joined: true, frames: []string{`[48,1,{},"com.a",{}]`}, exp: expAbort, uri: pv},
		{name: "KwargsNotDict", joined: true, frames: []string{`[48,1,{},"com.a",[],[]]`}, exp: expAbort, uri: pv},
		{name: "SubscribeTopicNull", joined: true, frames: []string{`[32,1,{},null]`}, exp: expAbort, uri: pv},
		{name: "PublishNoTopic", joined: true, frames: []string{`[16,1,{}]`}, exp: expAbort, uri: pv},
		{name: "ErrorBadRequestType", joined: true, frames: []string{`[8,99,1,{},"com.error"]`}, exp: expAbort, uri: pv},
		{name: "ErrorForCallFromClient", joined: true, frames: []string{`[8,48,1,{},"com.error"]`}, exp: expAbort, uri: pv},
		{name: "HelloRealmNotString", frames: []string{`[1,5,{"roles":{"caller":{}}}]`}, exp: expAbort, uri: pv},
		{name: "HelloNoRoles", frames: []string{`[1,"realm1",{}]`}, exp: expAbort, uri: pv},
		{name: "HelloRolesNotDict", frames: []string{`[1,"realm1",{"roles":"caller"}]`}, exp: expAbort, uri: pv},
		{name: "HelloUnknownRolesOnly", frames: []string{`[1,"realm1",{"roles":{"emperor":{}}}]`}, exp: expAbort, uri: pv},
		// A realm that is no URI makes HELLO malformed. A bad topic or
		// procedure does not: the decoders leave it to the router, which
		// answers ERROR wamp.error.invalid_uri (spec basic "URIs").
		{name: "HelloBadRealmURI", frames: []string{`[1,"realm 1",{"roles":{"caller":{}}}]`}, exp: expAbort, uri: pv},
		{name: "HelloUnknownRealm", frames: []string{`[1,"realm9",{"roles":{"caller":{}}}]`}, exp: expAbort, uri: protocol.ErrNoSuchRealm},
		{name: "HelloUnknownAuthMethod", frames: []string{`[1,"realm1",{"roles":{"caller":{}},"authmethods":["cryptosign"]}]`}, exp: expAbort, uri: protocol.ErrNoMatchingAuthMethod},
		// Bad URIs in requests: ERROR wamp.error.invalid_uri, or no answer
		// to an unacknowledged PUBLISH.
		{name: "CallEmptyComponent", joined: true, frames: []string{`[48,1,{},"com..a"]`}, exp: expError, uri: protocol.ErrInvalidURI},
		{name: "CallWhitespace", joined: true, frames: []string{`[48,1,{},"com.a b"]`}, exp: expError, uri: protocol.ErrInvalidURI},
		{name: "CallHash", joined: true, frames: []string{`[48,1,{},"com.a#"]`}, exp: expError, uri: protocol.ErrInvalidURI},
		{name: "SubscribeEmptyTopic", joined: true, frames: []string{`[32,1,{},""]`}, exp: expError, uri: protocol.ErrInvalidURI},
		{name: "SubscribeTrailingDot", joined: true, frames: []string{`[32,1,{},"com.a."]`}, exp: expError, uri: protocol.ErrInvalidURI},
		{name: "RegisterReserved", joined: true, frames: []string{`[64,1,{},"wamp.session.get"]`}, exp: expError, uri: protocol.ErrInvalidURI},
		{name: "RegisterBadURI", joined: true, frames: []string{`[64,1,{},".com"]`}, exp: expError, uri: protocol.ErrInvalidURI},
		{name: "PublishReservedAck", joined: true, frames: []string{`[16,1,{"acknowledge":true},"wamp.x"]`}, exp: expError, uri: protocol.ErrInvalidURI},
		{name: "PublishBadURIAck", joined: true, frames: []string{`[16,1,{"acknowledge":true},"com a"]`}, exp: expError, uri: protocol.ErrInvalidURI},
		{name: "PublishBadURINoAck", joined: true, frames: []string{`[16,1,{},"com a"]`}, exp: expIgnored},
		// State.
		{name: "CallBeforeHello", frames: []string{`[48,1,{},"com.a"]`}, exp: expAbort, uri: pv},
		{name: "GoodbyeBeforeHello", frames: []string{`[6,{},"wamp.close.close_realm"]`}, exp: expAbort, uri: pv},
		{name: "WelcomeFromClient", frames: []string{`[2,1,{"roles":{"broker":{}}}]`}, exp: expAbort, uri: pv},
		{name: "AuthenticateWithoutChallenge", frames: []string{`[5,"secret",{}]`}, exp: expAbort, uri: pv},
		{name: "HelloTwice", joined: true, frames: []string{rawHello}, exp: expAbort, uri: pv},
		{name: "WelcomeWhenJoined", joined: true, frames: []string{`[2,1,{"roles":{"broker":{}}}]`}, exp: expAbort, uri: pv},
		{name: "AuthenticateWhenJoined", joined: true, frames: []string{`[5,"secret",{}]`}, exp: expAbort, uri: pv},
		{name: "ChallengeFromClient", joined: true, frames: []string{`[4,"ticket",{}]`}, exp: expAbort, uri: pv},
		{name: "YieldUnknown", joined: true, frames: []string{`[70,4242,{}]`}, exp: expAbort, uri: pv},
		{name: "InvocationErrorUnknown", joined: true, frames: []string{`[8,68,4242,{},"com.error"]`}, exp: expAbort, uri: pv},
		{name: "ResultFromClient", joined: true, frames: []string{`[50,1,{}]`}, exp: expAbort, uri: pv},
		{name: "EventFromClient", joined: true, frames: []string{`[36,1,1,{}]`}, exp: expAbort, uri: pv},
		{name: "InvocationFromClient", joined: true, frames: []string{`[68,1,1,{}]`}, exp: expAbort, uri: pv},
		{name: "InterruptFromClient", joined: true, frames: []string{`[69,1,{}]`}, exp: expAbort, uri: pv},
		{name: "SubscribedFromClient", joined: true, frames: []string{`[33,1,1]`}, exp: expAbort, uri: pv},
		{name: "PublishedFromClient", joined: true, frames: []string{`[17,1,1]`}, exp: expAbort, uri: pv},
		{name: "RegisteredFromClient", joined: true, frames: []string{`[65,1,1]`}, exp: expAbort, uri: pv},
		{name: "ProgressiveInvocation", joined: true, frames: []string{`[48,1,{"progress":true},"com.a"]`}, exp: expAbort, uri: pv},
		{name: "UnsubscribeUnknown", joined: true, frames: []string{`[34,1,4242]`}, exp: expError, uri: protocol.ErrNoSuchSubscription},
		{name: "UnregisterUnknown", joined: true, frames: []string{`[66,1,4242]`}, exp: expError, uri: protocol.ErrNoSuchRegistration},
		{name: "CallUnknown", joined: true, frames: []string{`[48,1,{},"com.cat.nobody"]`}, exp: expError, uri: protocol.ErrNoSuchProcedure},
		{name: "RegisterTwice", joined: true, frames: []string{`[64,1,{},"com.cat.twice"]`, `[64,2,{},"com.cat.twice"]`}, exp: expError, uri: protocol.ErrProcedureAlreadyExists},
		{name: "RegisterPolicyMismatch", joined: true, frames: []string{`[64,1,{"invoke":"roundrobin"},"com.cat.shared"]`, `[64,2,{"invoke":"random"},"com.cat.shared"]`}, exp: expError, uri: protocol.ErrProcedureAlreadyExists},
		{name: "CancelUnknown", joined: true, frames: []string{`[49,4242,{"mode":"kill"}]`}, exp: expIgnored},
		{name: "SessionGetUnknown", joined: true, frames: []string{`[48,1,{},"wamp.session.get",[1]]`}, exp: expError, uri: protocol.ErrNoSuchSession},
		{name: "SessionGetNotAnID", joined: true, frames: []string{`[48,1,{},"wamp.session.get",["x"]]`}, exp: expError, uri: protocol.ErrInvalidArgument},
		// The open realm refuses kill_all before it looks at the reason
		// (router TestSessionMetaProcedures checks the reason).
		{name: "SessionKillBadReason", joined: true, frames: []string{`[48,1,{},"wamp.session.kill_all",[],{"reason":"not a uri"}]`}, exp: expError, uri: protocol.ErrNotAuthorized},
		// Feature options.
		{name: "SubscribeMatchBogus", joined: true, frames: []string{`[32,1,{"match":"bogus"},"com.a"]`}, exp: expError, uri: protocol.ErrInvalidArgument},
		{name: "SubscribeMatchNotString", joined: true, frames: []string{`[32,1,{"match":5},"com.a"]`}, exp: expError, uri: protocol.ErrInvalidArgument},
		{name: "RegisterMatchBogus", joined: true, frames: []string{`[64,1,{"match":"bogus"},"com.a"]`}, exp: expError, uri: protocol.ErrInvalidArgument},
		{name: "RegisterInvokeBogus", joined: true, frames: []string{`[64,1,{"invoke":"bogus"},"com.a"]`}, exp: expError, uri: protocol.ErrInvalidArgument},
		{name: "RegisterInvokeNotString", joined: true, frames: []string{`[64,1,{"invoke":["single"]},"com.a"]`}, exp: expError, uri: protocol.ErrInvalidArgument},
		{name: "RegisterDiscloseCallerNotBool", joined: true, frames: []string{`[64,1,{"disclose_caller":1},"com.a"]`}, exp: expError, uri: protocol.ErrInvalidArgument},
		{name: "CallReceiveProgressNotBool", joined: true, frames: []string{`[48,1,{"receive_progress":"yes"},"com.a"]`}, exp: expError, uri: protocol.ErrInvalidArgument},
		{name: "CallTimeoutNegative", joined: true, frames: []string{`[48,1,{"timeout":-1},"com.a"]`}, exp: expError, uri: protocol.ErrInvalidArgument},
		{name: "CallTimeoutNotInteger", joined: true, frames: []string{`[48,1,{"timeout":"1s"},"com.a"]`}, exp: expError, uri: protocol.ErrInvalidArgument},
		{name: "CallTimeoutFraction", joined: true, frames: []string{`[48,1,{"timeout":1.5},"com.a"]`}, exp: expError, uri: protocol.ErrInvalidArgument},
		{name: "CallDiscloseMeNotBool", joined: true, frames: []string{`[48,1,{"disclose_me":"true"},"com.a"]`}, exp: expError, uri: protocol.ErrInvalidArgument},
		{name: "PublishExcludeNotList", joined: true, frames: []string{`[16,1,{"acknowledge":true,"exclude":5},"com.a"]`}, exp: expError, uri: protocol.ErrInvalidArgument},
		{name: "PublishExcludeNotIDs", joined: true, frames: []string{`[16,1,{"acknowledge":true,"exclude":["x"]},"com.a"]`}, exp: expError, uri: protocol.ErrInvalidArgument},
		{name: "PublishEligibleAuthIDNotStrings", joined: true, frames: []string{`[16,1,{"acknowledge":true,"eligible_authid":[1]},"com.a"]`}, exp: expError, uri: protocol.ErrInvalidArgument},
		{name: "PublishExcludeMeNotBool", joined: true, frames: []string{`[16,1,{"acknowledge":true,"exclude_me":"no"},"com.a"]`}, exp: expError, uri: protocol.ErrInvalidArgument},
		{name: "PublishBadOptionNoAck", joined: true, frames: []string{`[16,1,{"exclude":5},"com.a"]`}, exp: expIgnored},
		{name: "UnknownOptionIgnored", joined: true, frames: []string{`[16,1,{"acknowledge":true,"_vendor":{"x":[]},"future_option":1},"com.a"]`}, exp: expIgnored},
	}
}

// catalogueEnv is a router with the limits the catalogue probes: 64 KiB
// messages, a RawSocket minimum of 4 KiB for what clients accept, a
// WebSocket origin check.
func catalogueEnv(t *testing.T) *env {
	return startEnv(t, router.Config{
		MaxMessageSize:   catalogueMax,
		HandshakeTimeout: 2 * time.Second,
		RawSocket:        transport.RawSocketConfig{MinClientMessageSize: 4096},
		WebSocket: transport.WebSocketConfig{CheckOrigin: func(r *http.Request) bool {
			o := r.Header.Get("Origin")
			return o == "" || o == "http://good.example"
		}},
	})
}

// TestCatalogue runs every case of the catalogue; it counts them.
func TestCatalogue(t *testing.T) {
	e := catalogueEnv(t)
	bg := startBackground(t, e)
	total := 0
	check := func(t *testing.T) {
		t.Helper()
		if err := bg.progress(timeout(t)); err != nil {
			t.Fatal(err)
		}
	}

	wc := wampCases()
	total += len(wc)
	dialers := []struct {
		name string
		dial func(ctx context.Context) (rawConn, error)
	}{
		{"rawsocket", func(ctx context.Context) (rawConn, error) { return dialRSRaw(ctx, "tcp", e.tcpAddr) }},
		{"websocket", func(ctx context.Context) (rawConn, error) { return dialWSRaw(ctx, e.wsURL) }},
	}
	for _, d := range dialers {
		t.Run(d.name, func(t *testing.T) {
			for _, tt := range wc {
				t.Run(tt.name, func(t *testing.T) {
					runWAMPCase(t, d.dial, tt)
					check(t)
				})
			}
		})
	}

	rc := rawSocketCases(e)
	total += len(rc)
	for _, tt := range rc {
		t.Run("rawsocket/"+tt.name, func(t *testing.T) {
			tt.run(t)
			check(t)
		})
	}
	hc := webSocketCases(e)
	total += len(hc)
	for _, tt := range hc {
		t.Run("websocket/"+tt.name, func(t *testing.T) {
			tt.run(t)
			check(t)
		})
	}
	bg.check(t)
	t.Logf("catalogue: %d malformed or illegal inputs (%d WAMP-level ones over RawSocket and WebSocket each)", total, len(wc))
}

// decodeJSON decodes a JSON frame of the router.
func decodeJSON(t *testing.T, data []byte) protocol.Message {
	t.Helper()
	m, err := serialize.JSON.Codec().Decode(data)
	if err != nil {
		t.Fatalf("router sent %q: %v", data, err)
	}
	return m
}

// caseWait bounds the waits of one catalogue case: every answer comes at
// once, so a case that runs into it has failed.
const caseWait = 3 * time.Second

func runWAMPCase(t *testing.T, dial func(ctx context.Context) (rawConn, error), tt wampCase) {
	ctx, cancel := context.WithTimeout(context.Background(), caseWait)
	defer cancel()
	c, err := dial(ctx)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.close()
	if tt.joined {
		if err := rawJoin(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range tt.frames {
		if err := c.send([]byte(f)); err != nil {
			t.Fatalf("send %.60q: %v", f, err)
		}
	}
	switch tt.exp {
	case expAbort, expClosed:
		for {
			data, err := c.recv(ctx)
			if err != nil {
				if tt.exp == expAbort {
					t.Fatalf("connection ended without ABORT %s: %v", tt.uri, err)
				}
				if isTimeout(err) {
					t.Fatalf("connection still open: %v", err)
				}
				return
			}
			m := decodeJSON(t, data)
			a, ok := m.(*protocol.Abort)
			if !ok {
				continue // answers to earlier frames
			}
			if tt.exp == expAbort && a.Reason != tt.uri {
				t.Fatalf("got ABORT %s %v, want ABORT %s", a.Reason, a.Details, tt.uri)
			}
			if data, err := c.recv(ctx); err == nil {
				t.Fatalf("got %s after ABORT, want the connection closed", data)
			} else if isTimeout(err) {
				t.Fatalf("connection still open after ABORT: %v", err)
			}
			return
		}
	case expError:
		for {
			data, err := c.recv(ctx)
			if err != nil {
				t.Fatalf("waiting for ERROR %s: %v", tt.uri, err)
			}
			m := decodeJSON(t, data)
			if a, ok := m.(*protocol.Abort); ok {
				t.Fatalf("got ABORT %s %v, want ERROR %s", a.Reason, a.Details, tt.uri)
			}
			if e, ok := m.(*protocol.Error); ok {
				if e.URI != tt.uri {
					t.Fatalf("got ERROR %s %v, want ERROR %s", e.URI, e.Args, tt.uri)
				}
				break
			}
		}
		expectAlive(t, ctx, c)
	case expIgnored:
		expectAlive(t, ctx, c)
	}
}

// expectAlive requires the session on c to answer an acknowledged
// PUBLISH with PUBLISHED, and nothing before it but PUBLISHED.
func expectAlive(t *testing.T, ctx context.Context, c rawConn) {
	t.Helper()
	if err := c.send([]byte(`[16,777,{"acknowledge":true},"com.cat.alive"]`)); err != nil {
		t.Fatalf("session gone: %v", err)
	}
	for {
		data, err := c.recv(ctx)
		if err != nil {
			t.Fatalf("session gone: %v", err)
		}
		switch m := decodeJSON(t, data).(type) {
		case *protocol.Published:
			if m.Request == 777 {
				return
			}
		case *protocol.Error, *protocol.Abort, *protocol.Goodbye:
			t.Fatalf("got %v %+v, want PUBLISHED", m.Type(), m)
		}
	}
}

// catalogueCase is a transport-level catalogue case.
type catalogueCase struct {
	name string
	run  func(t *testing.T)
}

// expectRSClosed requires the router to close c, ignoring what it sends
// first (an ABORT is fine, the spec asks for a failed connection).
func expectRSClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(caseWait))
	_, err := io.Copy(io.Discard, c)
	if isTimeout(err) {
		t.Fatalf("connection still open: %v", err)
	}
}

func rawSocketCases(e *env) []catalogueCase {
	dial := func(t *testing.T) net.Conn {
		c, err := net.DialTimeout("tcp", e.tcpAddr, testTimeout)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(testTimeout))
		return c
	}
	// handshake sends a 4-octet request and expects the reply, or a
	// close when reply is nil.
	handshake := func(req []byte, reply []byte) func(t *testing.T) {
		return func(t *testing.T) {
			c := dial(t)
			c.Write(req)
			if reply == nil {
				expectRSClosed(t, c)
				return
			}
			var got [4]byte
			if _, err := io.ReadFull(c, got[:]); err != nil {
				t.Fatalf("no handshake reply: %v", err)
			}
			if string(got[:]) != string(reply) {
				t.Fatalf("handshake reply % x, want % x", got, reply)
			}
			expectRSClosed(t, c)
		}
	}
	// joined returns a connection after a good handshake (JSON, 16 MiB).
	joined := func(t *testing.T, hello bool) net.Conn {
		c := dial(t)
		c.Write([]byte{0x7f, 0xf1, 0, 0})
		var got [4]byte
		if _, err := io.ReadFull(c, got[:]); err != nil || got[1]&0x0f != 1 {
			t.Fatalf("handshake: % x %v", got, err)
		}
		if hello {
			c.Write(rsFrame(0, []byte(rawHello)))
			var h [4]byte
			io.ReadFull(c, h[:])
			h[0] = 0
			n := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
			io.ReadFull(c, make([]byte, n))
		}
		return c
	}
	frame := func(hello bool, data []byte) func(t *testing.T) {
		return func(t *testing.T) {
			c := joined(t, hello)
			c.Write(data)
			expectRSClosed(t, c)
		}
	}
	big := func(n int) []byte {
		return rsFrame(0, []byte(`[16,1,{},"com.a",["`+strings.Repeat("x", n)+`"]]`))
	}
	return []catalogueCase{
		{"BadMagic", handshake([]byte{0x00, 0xf1, 0, 0}, nil)},
		{"HTTPRequest", handshake([]byte("GET / HTTP/1.1\r\n\r\n"), nil)},
		{"Serializer0", handshake([]byte{0x7f, 0xf0, 0, 0}, []byte{0x7f, 0x10, 0, 0})},
		{"SerializerUBJSON", handshake([]byte{0x7f, 0xf4, 0, 0}, []byte{0x7f, 0x10, 0, 0})},
		{"SerializerReserved", handshake([]byte{0x7f, 0xf9, 0, 0}, []byte{0x7f, 0x10, 0, 0})},
		{"ReservedOctet2", handshake([]byte{0x7f, 0xf1, 1, 0}, []byte{0x7f, 0x30, 0, 0})},
		{"ReservedOctet3", handshake([]byte{0x7f, 0xf1, 0, 0x80}, []byte{0x7f, 0x30, 0, 0})},
		{"LengthBelowMinimum", handshake([]byte{0x7f, 0x01, 0, 0}, []byte{0x7f, 0x20, 0, 0})},
		{"TruncatedHandshake", func(t *testing.T) {
			c := dial(t)
			c.Write([]byte{0x7f, 0xf1})
			c.(*net.TCPConn).CloseWrite()
			expectRSClosed(t, c)
		}},
		{"NoHelloInTime", func(t *testing.T) {
			// HandshakeTimeout is 2 s here; the router closes.
			expectRSClosed(t, joined(t, false))
		}},
		{"OversizeFrame", frame(true, big(catalogueMax+1))},
		{"OversizeDeclaredLength", frame(true, []byte{0x00, 0xff, 0xff, 0xff, '['})},
		{"FrameTypeReserved", frame(true, rsFrame(3, []byte(`[16,1,{},"com.a"]`)))},
		{"FrameTypeReserved7", frame(true, rsFrame(7, nil))},
		{"FrameReservedBits", frame(true, rsFrame(0x10, []byte(`[16,1,{},"com.a"]`)))},
		{"TruncatedFrame", func(t *testing.T) {
			c := joined(t, true)
			c.Write(rsFrame(0, []byte(`[16,1,{},"com.a"]`))[:10])
			c.(*net.TCPConn).CloseWrite()
			expectRSClosed(t, c)
		}},
		{"EmptyFrameBeforeHello", frame(false, rsFrame(0, nil))},
		{"MessagePackOnJSONConnection", frame(true, rsFrame(0, []byte{0x94, 0x10, 0x01, 0x80, 0xa5, 'c', 'o', 'm', '.', 'a'}))},
		{"MessagePackHugeArray", func(t *testing.T) {
			c := dial(t)
			c.Write([]byte{0x7f, 0xf2, 0, 0})
			io.ReadFull(c, make([]byte, 4))
			c.Write(rsFrame(0, []byte{0xdd, 0xff, 0xff, 0xff, 0xff, 0x01}))
			expectRSClosed(t, c)
		}},
		{"MessagePackHugeString", func(t *testing.T) {
			c := dial(t)
			c.Write([]byte{0x7f, 0xf2, 0, 0})
			io.ReadFull(c, make([]byte, 4))
			c.Write(rsFrame(0, []byte{0x93, 0x01, 0xdb, 0xff, 0xff, 0xff, 0xff, 'x'}))
			expectRSClosed(t, c)
		}},
		{"CBORHugeArray", func(t *testing.T) {
			c := dial(t)
			c.Write([]byte{0x7f, 0xf3, 0, 0})
			io.ReadFull(c, make([]byte, 4))
			c.Write(rsFrame(0, []byte{0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}))
			expectRSClosed(t, c)
		}},
		{"CBORDeepNesting", func(t *testing.T) {
			c := dial(t)
			c.Write([]byte{0x7f, 0xf3, 0, 0})
			io.ReadFull(c, make([]byte, 4))
			c.Write(rsFrame(0, []byte(strings.Repeat("\x81", 60000)+"\x01")))
			expectRSClosed(t, c)
		}},
	}
}

func webSocketCases(e *env) []catalogueCase {
	httpURL := "http://" + strings.TrimPrefix(e.wsURL, "ws://")
	status := func(hdr map[string]string, want int) func(t *testing.T) {
		return func(t *testing.T) {
			req, err := http.NewRequestWithContext(timeout(t), http.MethodGet, httpURL, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Fatalf("HTTP status %d, want %d", resp.StatusCode, want)
			}
		}
	}
	upgrade := map[string]string{
		"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
		"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
	}
	with := func(extra map[string]string) map[string]string {
		h := map[string]string{}
		for k, v := range upgrade {
			h[k] = v
		}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	// dialWS upgrades with sub-protocol proto and says HELLO.
	dialWS := func(t *testing.T, proto string, hello bool) *websocket.Conn {
		d := websocket.Dialer{Subprotocols: []string{proto}}
		c, resp, err := d.DialContext(timeout(t), e.wsURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		t.Cleanup(func() { c.Close() })
		if hello {
			msg := []byte(rawHello)
			typ := websocket.TextMessage
			switch proto {
			case serialize.JSONBatchedSubProtocol:
				msg = append(msg, 0x1e)
			case serialize.MessagePack.SubProtocol():
				msg, _ = serialize.MessagePack.Codec().Encode(nil, decodeJSON(t, msg))
				typ = websocket.BinaryMessage
			}
			c.WriteMessage(typ, msg)
			c.SetReadDeadline(time.Now().Add(testTimeout))
			if _, _, err := c.ReadMessage(); err != nil {
				t.Fatalf("no WELCOME: %v", err)
			}
		}
		return c
	}
	// expectWSClosed requires the router to end the WebSocket.
	expectWSClosed := func(t *testing.T, c *websocket.Conn) {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(caseWait))
		for {
			_, data, err := c.ReadMessage()
			if err != nil {
				if isTimeout(err) {
					t.Fatalf("connection still open: %v", err)
				}
				return
			}
			if m, err := serialize.JSON.Codec().Decode(data); err == nil && m.Type() != protocol.TypeAbort {
				t.Fatalf("got %s, want ABORT or the connection closed", data)
			}
		}
	}
	msg := func(proto string, typ int, data []byte) func(t *testing.T) {
		return func(t *testing.T) {
			c := dialWS(t, proto, true)
			c.WriteMessage(typ, data)
			expectWSClosed(t, c)
		}
	}
	// raw writes bytes to the TCP stream after the upgrade and HELLO.
	raw := func(data []byte) func(t *testing.T) {
		return func(t *testing.T) {
			c := dialWS(t, serialize.JSON.SubProtocol(), true)
			c.NetConn().Write(data)
			expectWSClosed(t, c)
		}
	}
	masked := func(b0 byte, payload string) []byte {
		return append([]byte{b0, 0x80 | byte(len(payload)), 0, 0, 0, 0}, payload...)
	}
	jsonProto := serialize.JSON.SubProtocol()
	return []catalogueCase{
		{"NotAnUpgrade", status(nil, http.StatusBadRequest)},
		{"NoSubProtocol", status(upgrade, http.StatusBadRequest)},
		{"UnknownSubProtocol", status(with(map[string]string{"Sec-WebSocket-Protocol": "wamp.2.xml"}), http.StatusBadRequest)},
		{"WAMPv1SubProtocol", status(with(map[string]string{"Sec-WebSocket-Protocol": "wamp"}), http.StatusBadRequest)},
		{"BadOrigin", status(with(map[string]string{"Sec-WebSocket-Protocol": jsonProto, "Origin": "http://evil.example"}), http.StatusForbidden)},
		{"BadVersion", status(with(map[string]string{"Sec-WebSocket-Protocol": jsonProto, "Sec-WebSocket-Version": "8"}), http.StatusBadRequest)},
		{"NoKey", status(with(map[string]string{"Sec-WebSocket-Protocol": jsonProto, "Sec-WebSocket-Key": ""}), http.StatusBadRequest)},
		{"OversizeMessage", msg(jsonProto, websocket.TextMessage, []byte(`[16,1,{},"com.a",["`+strings.Repeat("x", catalogueMax)+`"]]`))},
		{"GarbageMessage", msg(jsonProto, websocket.TextMessage, []byte("}{"))},
		{"EmptyBatch", msg(serialize.JSONBatchedSubProtocol, websocket.TextMessage, nil)},
		{"BatchWithEmptyMessage", msg(serialize.JSONBatchedSubProtocol, websocket.TextMessage, []byte("\x1e"))},
		{"BatchGarbage", msg(serialize.JSONBatchedSubProtocol, websocket.TextMessage, []byte(`[16,1,{},"com.a"]`+"\x1e}{\x1e"))},
		{"MessagePackGarbage", msg(serialize.MessagePack.SubProtocol(), websocket.BinaryMessage, []byte{0xc1})},
		{"UnmaskedFrame", raw([]byte{0x81, 0x02, '[', ']'})},
		{"ReservedBitRSV1", raw(masked(0xc1, `[16,1,{},"com.a"]`))},
		{"ReservedOpcode3", raw(masked(0x83, "x"))},
		{"ReservedControlOpcodeB", raw(masked(0x8b, "x"))},
		{"ContinuationWithoutStart", raw(masked(0x80, "x"))},
		{"FragmentedControlFrame", raw(masked(0x09, "x"))},
		{"DeclaredLength2p63", raw([]byte{0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})},
		{"CloseFrameBadCode", raw(masked(0x88, "\x03\xed"))},
		{"HTTPAfterUpgrade", raw([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))},
	}
}

var (
	_ = bufio.NewReader
	_ = errors.New
	_ = fmt.Sprint
)
