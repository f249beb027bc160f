package integration

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/serialize"
	"github.com/wampkit/wampkit/transport"
)

// The attacks of the security review on the transport layer (issue
// "Security: close what an attacker found"): each test runs a real router
// on 127.0.0.1, lets a hostile raw client try the attack, asserts that it
// fails, and that regular clients keep working meanwhile.

// TestAttackWrongFrameType: a WebSocket message of the wrong kind for the
// sub-protocol (binary on wamp.2.json, text on wamp.2.msgpack and
// wamp.2.cbor; basic "WebSocket Transport") is a protocol violation,
// before and after WELCOME: ABORT wamp.error.protocol_violation, then the
// connection is closed.
func TestAttackWrongFrameType(t *testing.T) {
	e := startEnv(t, router.Config{})
	bg := startBackground(t, e)
	tests := []struct {
		proto string
		wrong int
	}{
		{"wamp.2.json", websocket.BinaryMessage},
		{"wamp.2.json.batched", websocket.BinaryMessage},
		{"wamp.2.msgpack", websocket.TextMessage},
		{"wamp.2.cbor", websocket.TextMessage},
	}
	for _, tt := range tests {
		for _, joined := range []bool{false, true} {
			name := tt.proto + "/before-welcome"
			if joined {
				name = tt.proto + "/established"
			}
			t.Run(name, func(t *testing.T) {
				ctx := timeout(t)
				h := dialHostileWS(ctx, t, e.wsURL, tt.proto)
				if joined {
					h.join(ctx, t)
				}
				// A valid CALL (or HELLO), only in the wrong kind of message.
				var m protocol.Message = &protocol.Call{Request: 1, Options: protocol.Dict{}, Procedure: "com.bg.echo"}
				if !joined {
					m = &protocol.Hello{Realm: realm1, Details: protocol.Dict{"roles": map[string]any{"caller": map[string]any{}}}}
				}
				if err := h.write(tt.wrong, m); err != nil {
					t.Fatal(err)
				}
				if err := h.expectViolation(ctx); err != nil {
					t.Error(err)
				}
				if err := bg.progress(ctx); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
	bg.check(t)
}

// TestAttackCompressionBomb: with permessage-deflate on, a WebSocket
// message of about 130 KB on the wire that inflates to 128 MiB, 128 times
// the router's 1 MiB limit, fails its connection with close 1009 once 1 MiB
// has been inflated. The router allocates a few times the limit meanwhile
// (it used to read the whole message: more than 2 GB for a 512 MiB bomb),
// and other sessions keep working.
func TestAttackCompressionBomb(t *testing.T) {
	const limit = 1 << 20 // a server's default PeerConfig.MaxMessageSize
	e := startEnv(t, router.Config{WebSocket: transport.WebSocketConfig{EnableCompression: true}})
	healthy := e.join(t, link{transport: "websocket", serializer: serialize.JSON})
	register(t, healthy, "com.attack.echo", echo)
	for _, proto := range []string{"wamp.2.json", "wamp.2.msgpack"} {
		t.Run(proto, func(t *testing.T) {
			ctx := timeout(t)
			h := dialHostileWSWith(ctx, t, e.wsURL, proto, websocket.Dialer{EnableCompression: true})
			h.join(ctx, t)
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			werr := h.writeZeros(h.rightType(), 128*limit)
			// The router fails the connection with close 1009; what it
			// sent before (nothing here) may come first.
			var err error
			for err == nil {
				_, err = h.read(ctx)
			}
			runtime.ReadMemStats(&after)
			if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
				t.Errorf("hostile client read %v (write: %v), want close 1009", err, werr)
			}
			// The reader's buffer up to the limit (about twice the limit
			// allocated as it grows), the hostile client's compressor
			// (about 1 MiB), and a margin for the router's other work.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16*limit {
				t.Errorf("the process allocated %d MiB while the bomb went off, want at most %d MiB", alloc>>20, 16*limit>>20)
			}
			checkCalls(ctx, t, healthy, "com.attack.echo")
		})
	}
	checkCalls(timeout(t), t, e.join(t, link{transport: "tcp", serializer: serialize.MessagePack}), "com.attack.echo")
}

// checkCalls makes a few calls of an echo procedure through c.
func checkCalls(ctx context.Context, tb testing.TB, c *client.Client, procedure protocol.URI) {
	tb.Helper()
	for i := range 10 {
		res, err := c.Call(ctx, procedure, "ping", i)
		if err != nil {
			tb.Fatalf("healthy session: Call(%s) = %v", procedure, err)
		}
		if len(res.Args) != 2 || res.Args[0] != "ping" {
			tb.Fatalf("healthy session: Call(%s) = %v, want the arguments back", procedure, res.Args)
		}
	}
}

// logLines returns how many lines of s contain every one of substrs.
func logLines(s *logSink, substrs ...string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, l := range s.lines {
		all := true
		for _, sub := range substrs {
			all = all && strings.Contains(l, sub)
		}
		if all {
			n++
		}
	}
	return n
}

// checkMetaCalls makes a few calls of the router's own
// wamp.session.count through c.
func checkMetaCalls(ctx context.Context, tb testing.TB, c *client.Client) {
	tb.Helper()
	for range 10 {
		if _, err := c.Call(ctx, "wamp.session.count"); err != nil {
			tb.Fatalf("healthy session: Call(wamp.session.count) = %v", err)
		}
	}
}

// hostileWS is a raw gorilla WebSocket connection to the router that
// encodes and frames WAMP messages as the test says, right or wrong.
type hostileWS struct {
	c       *websocket.Conn
	ser     serialize.Serializer
	batched bool
}

func dialHostileWS(ctx context.Context, tb testing.TB, url, proto string) *hostileWS {
	tb.Helper()
	return dialHostileWSWith(ctx, tb, url, proto, websocket.Dialer{})
}

func dialHostileWSWith(ctx context.Context, tb testing.TB, url, proto string, d websocket.Dialer) *hostileWS {
	tb.Helper()
	d.Subprotocols = []string{proto}
	c, resp, err := d.DialContext(ctx, url, nil)
	if err != nil {
		tb.Fatalf("dial %s: %v", proto, err)
	}
	resp.Body.Close()
	tb.Cleanup(func() { c.Close() })
	ser, ok := serialize.BySubProtocol(proto)
	if !ok || c.Subprotocol() != proto {
		tb.Fatalf("sub-protocol %q, want %q", c.Subprotocol(), proto)
	}
	return &hostileWS{c: c, ser: ser, batched: proto == serialize.JSONBatchedSubProtocol}
}

// rightType is the WebSocket message type the spec prescribes.
func (h *hostileWS) rightType() int {
	if h.ser.Binary() {
		return websocket.BinaryMessage
	}
	return websocket.TextMessage
}

// write sends m as one WebSocket message of type typ.
func (h *hostileWS) write(typ int, m protocol.Message) error {
	b, err := h.ser.Codec().Encode(nil, m)
	if err != nil {
		return err
	}
	if h.batched {
		b = append(b, 0x1e)
	}
	h.c.SetWriteDeadline(time.Now().Add(testTimeout))
	return h.c.WriteMessage(typ, b)
}

// writeZeros writes one message of n zero bytes, compressed if the
// connection negotiated permessage-deflate, and returns the first write
// error (the router failed the connection).
func (h *hostileWS) writeZeros(typ, n int) error {
	h.c.EnableWriteCompression(true)
	h.c.SetWriteDeadline(time.Now().Add(testTimeout))
	w, err := h.c.NextWriter(typ)
	if err != nil {
		return err
	}
	zeros := make([]byte, 64<<10)
	for n > 0 {
		k := min(n, len(zeros))
		if _, err := w.Write(zeros[:k]); err != nil {
			return err
		}
		n -= k
	}
	return w.Close()
}

// read returns the next WAMP message.
func (h *hostileWS) read(ctx context.Context) (protocol.Message, error) {
	dl, _ := ctx.Deadline()
	h.c.SetReadDeadline(dl)
	_, b, err := h.c.ReadMessage()
	if err != nil {
		return nil, err
	}
	if h.batched {
		msgs, err := serialize.SplitJSONBatch(b)
		if err != nil || len(msgs) != 1 {
			return nil, fmt.Errorf("batch %q: %d messages, %v", b, len(msgs), err)
		}
		b = msgs[0]
	}
	return h.ser.Codec().Decode(b)
}

// join sends HELLO and waits for WELCOME.
func (h *hostileWS) join(ctx context.Context, tb testing.TB) {
	tb.Helper()
	hello := &protocol.Hello{Realm: realm1, Details: protocol.Dict{"roles": map[string]any{"caller": map[string]any{}, "subscriber": map[string]any{}}}}
	if err := h.write(h.rightType(), hello); err != nil {
		tb.Fatal(err)
	}
	m, err := h.read(ctx)
	if err != nil {
		tb.Fatalf("waiting for WELCOME: %v", err)
	}
	if _, ok := m.(*protocol.Welcome); !ok {
		tb.Fatalf("got %v, want WELCOME", m)
	}
}

// expectViolation reads until the router closes: ABORT
// wamp.error.protocol_violation first, then nothing.
func (h *hostileWS) expectViolation(ctx context.Context) error {
	m, err := h.read(ctx)
	if err != nil {
		return fmt.Errorf("connection ended without ABORT: %w", err)
	}
	if a, ok := m.(*protocol.Abort); !ok || a.Reason != protocol.ErrProtocolViolation {
		return fmt.Errorf("got %#v, want ABORT %s", m, protocol.ErrProtocolViolation)
	}
	if m, err := h.read(ctx); err == nil {
		return fmt.Errorf("got %v after ABORT, want the connection closed", m)
	} else if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		return fmt.Errorf("connection still open after ABORT: %w", err)
	}
	return nil
}

// TestAttackUndeliverable: the router sends a client a message the client
// cannot take: an EVENT carrying NaN to a JSON client, and an EVENT and
// an INVOCATION larger than the maximum the client announced in its
// RawSocket handshake (here 1 KiB). The transport used to accept such a
// message and drop it in its writer, so the router never learned that an
// INVOCATION was not delivered and the caller waited forever. Now the
// transport refuses it to the router at once (ErrEncode,
// ErrMessageTooBig), which logs it; the client's session goes on, and the
// caller's call ends.
func TestAttackUndeliverable(t *testing.T) {
	e := startEnv(t, router.Config{})
	ctx := timeout(t)
	h := dialHostileRS(ctx, t, e.tcpAddr, serialize.JSON, 1) // 2^(9+1) = 1 KiB
	h.join(ctx, t)
	h.write(t, &protocol.Subscribe{Request: 1, Options: protocol.Dict{}, Topic: "com.attack.topic"})
	h.expect(ctx, t, protocol.TypeSubscribed)
	h.write(t, &protocol.Register{Request: 2, Options: protocol.Dict{}, Procedure: "com.attack.proc"})
	h.expect(ctx, t, protocol.TypeRegistered)

	other := e.join(t, link{transport: "websocket", serializer: serialize.MessagePack})
	pub := func(args ...any) {
		t.Helper()
		if _, err := other.DoPublish(ctx, &client.PublishRequest{Topic: "com.attack.topic", Args: args, Acknowledge: true}); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	pub(math.NaN())                 // MessagePack carries NaN, JSON does not
	pub(strings.Repeat("x", 2<<10)) // over the client's 1 KiB
	pub("small", int64(3))          // fits: the session goes on
	ev := h.expect(ctx, t, protocol.TypeEvent).(*protocol.Event)
	if len(ev.Args) != 2 || ev.Args[0] != "small" {
		t.Errorf("the hostile client's first event has args %v, want the small one: nothing of the others", ev.Args)
	}
	for _, want := range []string{"cannot be encoded", "message too big"} {
		if logLines(e.log, "router: message not delivered", "type=EVENT", want) == 0 {
			t.Errorf("no log line of an undelivered EVENT with %q", want)
		}
	}

	// A call whose INVOCATION cannot reach the callee ends at once with an
	// error naming why (security review item 7: it used to hang).
	for _, tt := range []struct {
		arg any
		uri protocol.URI
	}{
		{strings.Repeat("y", 2<<10), protocol.ErrPayloadSizeExceeded}, // over the callee's 1 KiB
		{math.Inf(1), protocol.ErrInvalidArgument},                    // JSON cannot carry it
	} {
		_, err := other.Call(ctx, "com.attack.proc", tt.arg)
		if perr := asError(t, err); perr.URI != tt.uri {
			t.Errorf("call whose INVOCATION cannot be delivered: %v, want ERROR %s", err, tt.uri)
		}
	}
	// The callee's session goes on: a small call reaches it.
	small := make(chan error, 1)
	go func() {
		res, err := other.Call(ctx, "com.attack.proc", "small")
		if err == nil && (len(res.Args) != 1 || res.Args[0] != "done") {
			err = fmt.Errorf("result %v, want [done]", res.Args)
		}
		small <- err
	}()
	for {
		m := h.read(ctx, t)
		if inv, ok := m.(*protocol.Invocation); ok && len(inv.Args) == 1 && inv.Args[0] == "small" {
			h.write(t, &protocol.Yield{Request: inv.Request, Options: protocol.Dict{}, Args: protocol.List{"done"}})
			break
		}
	}
	if err := <-small; err != nil {
		t.Errorf("small call to the hostile callee: %v", err)
	}
	checkMetaCalls(ctx, t, e.join(t, link{transport: "tcp", serializer: serialize.JSON}))
}

// TestAttackUndeliverableAnswers: a callee answers a JSON caller with a
// RESULT or an ERROR whose payload JSON cannot carry, or a RESULT larger
// than the caller's RawSocket accepts; the caller gets one ERROR for its
// call instead of waiting forever (security review item 7), and goes on.
func TestAttackUndeliverableAnswers(t *testing.T) {
	e := startEnv(t, router.Config{})
	ctx := timeout(t)
	callee := e.join(t, link{transport: "local"})
	register(t, callee, "com.attack.nan", func(context.Context, *client.Invocation) (*client.Result, error) {
		return &client.Result{Args: protocol.List{math.NaN()}}, nil
	})
	register(t, callee, "com.attack.big", func(context.Context, *client.Invocation) (*client.Result, error) {
		return &client.Result{Args: protocol.List{strings.Repeat("z", 4<<10)}}, nil
	})
	register(t, callee, "com.attack.err", func(context.Context, *client.Invocation) (*client.Result, error) {
		return nil, &protocol.Error{URI: "com.attack.failed", Args: protocol.List{math.Inf(-1)}}
	})
	register(t, callee, "com.attack.ok", echo)
	caller := e.join(t, link{transport: "websocket", serializer: serialize.JSON})
	for _, tt := range []struct {
		proc protocol.URI
		uri  protocol.URI
	}{
		{"com.attack.nan", protocol.ErrInvalidArgument},
		{"com.attack.err", "com.attack.failed"},
	} {
		_, err := caller.Call(ctx, tt.proc)
		if perr := asError(t, err); perr.URI != tt.uri {
			t.Errorf("call of %s: %v, want ERROR %s", tt.proc, err, tt.uri)
		}
	}
	if _, err := caller.Call(ctx, "com.attack.ok", 1); err != nil {
		t.Errorf("the caller's session did not go on: %v", err)
	}
	h := dialHostileRS(ctx, t, e.tcpAddr, serialize.JSON, 1) // 1 KiB
	h.join(ctx, t)
	h.write(t, &protocol.Call{Request: 1, Options: protocol.Dict{}, Procedure: "com.attack.big"})
	m := h.expect(ctx, t, protocol.TypeError).(*protocol.Error)
	if m.Request != 1 || m.URI != protocol.ErrPayloadSizeExceeded {
		t.Errorf("RESULT too big for the caller: got %+v, want ERROR %s for request 1", m, protocol.ErrPayloadSizeExceeded)
	}
}

// TestUndeliverableYield: a callee on a JSON link returns a result JSON
// cannot carry (NaN), or one larger than the router accepts from it. Its
// client replaces the YIELD with ERROR wamp.error.runtime_error (logged),
// so the caller gets an error for its call and the callee's session goes
// on; treated like any other failed send, it would end the callee's
// session.
func TestUndeliverableYield(t *testing.T) {
	e := startEnv(t, router.Config{})
	ctx := timeout(t)
	for _, l := range []link{{"websocket", serialize.JSON}, {"tcp", serialize.JSON}} {
		t.Run(l.transport, func(t *testing.T) {
			callee := e.join(t, l)
			prefix := protocol.URI("com.yield." + l.transport)
			register(t, callee, prefix+".nan", func(context.Context, *client.Invocation) (*client.Result, error) {
				return &client.Result{Args: protocol.List{math.NaN()}}, nil
			})
			register(t, callee, prefix+".big", func(context.Context, *client.Invocation) (*client.Result, error) {
				return &client.Result{Args: protocol.List{strings.Repeat("z", 2<<20)}}, nil // over the router's 1 MiB
			})
			register(t, callee, prefix+".ok", echo)
			caller := e.join(t, link{transport: "local"})
			procs := []protocol.URI{prefix + ".nan"}
			if l.transport == "tcp" { // RawSocket tells the client the router's maximum
				procs = append(procs, prefix+".big")
			}
			for _, proc := range procs {
				_, err := caller.Call(ctx, proc)
				if perr := asError(t, err); perr.URI != client.ErrRuntimeError {
					t.Errorf("call of %s: %v, want ERROR %s", proc, err, client.ErrRuntimeError)
				}
			}
			if _, err := caller.Call(ctx, prefix+".ok", 1); err != nil {
				t.Errorf("the callee's session did not go on: %v", err)
			}
		})
	}
}

// TestAttackStalledSubscriber: a subscriber that never reads pins in its
// transport's outbound queue only about QueueBytes (2 MiB) of encoded
// events, not QueueSize (256) events whatever their size: 256 events of
// 256 KiB, their decoded payloads included, were 128 MiB. The router's
// backlog is off here (MaxBacklog < 0; it has bounds of its own) and the
// realm drops events for slow consumers, so the stalled session stays and
// keeps what it holds. A regular subscriber gets every event.
func TestAttackStalledSubscriber(t *testing.T) {
	const events = 300
	const size = 256 << 10
	e := startEnv(t, router.Config{
		MaxBacklog: -1,
		Realms:     []router.RealmConfig{{Name: realm1, SlowConsumer: router.SlowConsumerDropEvents}},
	})
	ctx := timeout(t)
	var got atomic.Int64
	sub := e.join(t, link{transport: "tcp", serializer: serialize.MessagePack})
	if _, err := sub.Subscribe(ctx, "com.attack.big", func(*client.Event) { got.Add(1) }, nil); err != nil {
		t.Fatal(err)
	}
	pub := e.join(t, link{transport: "websocket", serializer: serialize.MessagePack})
	before := heapInuse()
	for _, proto := range []string{"tcp", "websocket"} {
		switch proto {
		case "tcp":
			h := dialHostileRS(ctx, t, e.tcpAddr, serialize.MessagePack, 15)
			h.join(ctx, t)
			h.write(t, &protocol.Subscribe{Request: 1, Options: protocol.Dict{}, Topic: "com.attack.big"})
			h.expect(ctx, t, protocol.TypeSubscribed)
		case "websocket":
			h := dialHostileWS(ctx, t, e.wsURL, "wamp.2.msgpack")
			h.join(ctx, t)
			if err := h.write(h.rightType(), &protocol.Subscribe{Request: 1, Options: protocol.Dict{}, Topic: "com.attack.big"}); err != nil {
				t.Fatal(err)
			}
			if m, err := h.read(ctx); err != nil || m.Type() != protocol.TypeSubscribed {
				t.Fatalf("got %v, %v, want SUBSCRIBED", m, err)
			}
		}
	}
	// From here on the hostile clients read nothing.
	payload := randomBytes(size)
	for i := range events {
		payload[0] = byte(i) // every event its own payload, as in real life
		if _, err := pub.DoPublish(ctx, &client.PublishRequest{Topic: "com.attack.big", Args: protocol.List{payload}, Acknowledge: true}); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		// Paced by the regular subscriber, which must get every event.
		for got.Load() < int64(i+1) {
			select {
			case <-ctx.Done():
				t.Fatalf("the regular subscriber got %d of %d events", got.Load(), i+1)
			case <-time.After(100 * time.Microsecond):
			}
		}
	}
	growth := int64(heapInuse()) - int64(before)
	t.Logf("heap in use grew by %d KiB with two stalled subscribers after %d events of %d KiB", growth>>10, events, size>>10)
	// Two stalled queues of QueueBytes each, the writers' batches, and
	// the router's and the clients' own memory.
	if growth > 24<<20 {
		t.Errorf("heap in use grew by %d MiB with two stalled subscribers, want at most 24 MiB", growth>>20)
	}
	checkMetaCalls(ctx, t, pub)
}

// hostileRS is a raw RawSocket connection to the router (spec advanced
// "RawSocket Transport") that announces the maximum message length the
// test chooses and encodes WAMP messages itself.
type hostileRS struct {
	c   net.Conn
	ser serialize.Serializer
}

// dialHostileRS connects and hands shakes with serializer ser and maximum
// length 2^(9+lenExp).
func dialHostileRS(ctx context.Context, tb testing.TB, addr string, ser serialize.Serializer, lenExp byte) *hostileRS {
	tb.Helper()
	return dialHostileRSWith(ctx, tb, &net.Dialer{}, addr, ser, lenExp)
}

// dialHostileRSWith is dialHostileRS with dialer d.
func dialHostileRSWith(ctx context.Context, tb testing.TB, d *net.Dialer, addr string, ser serialize.Serializer, lenExp byte) *hostileRS {
	tb.Helper()
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(testTimeout))
	if _, err := c.Write([]byte{0x7f, lenExp<<4 | byte(ser), 0, 0}); err != nil {
		tb.Fatal(err)
	}
	var reply [4]byte
	if _, err := io.ReadFull(c, reply[:]); err != nil {
		tb.Fatalf("handshake reply: %v", err)
	}
	if reply[0] != 0x7f || reply[1]&0x0f != byte(ser) {
		tb.Fatalf("handshake reply % x", reply)
	}
	return &hostileRS{c: c, ser: ser}
}

func (h *hostileRS) write(tb testing.TB, m protocol.Message) {
	tb.Helper()
	b, err := h.ser.Codec().Encode(make([]byte, 4), m)
	if err != nil {
		tb.Fatal(err)
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	h.c.SetWriteDeadline(time.Now().Add(testTimeout))
	if _, err := h.c.Write(b); err != nil {
		tb.Fatal(err)
	}
}

// read returns the next WAMP message, answering PINGs on the way.
func (h *hostileRS) read(ctx context.Context, tb testing.TB) protocol.Message {
	tb.Helper()
	dl, _ := ctx.Deadline()
	h.c.SetReadDeadline(dl)
	for {
		var hdr [4]byte
		if _, err := io.ReadFull(h.c, hdr[:]); err != nil {
			tb.Fatalf("read: %v", err)
		}
		typ := hdr[0] & 0x07
		hdr[0] = 0
		data := make([]byte, binary.BigEndian.Uint32(hdr[:]))
		if _, err := io.ReadFull(h.c, data); err != nil {
			tb.Fatalf("read: %v", err)
		}
		switch typ {
		case rsRegular:
			m, err := h.ser.Codec().Decode(data)
			if err != nil {
				tb.Fatalf("decode %q: %v", data, err)
			}
			return m
		case rsPing:
			pong := append([]byte{rsPong, 0, 0, 0}, data...)
			binary.BigEndian.PutUint16(pong[2:], uint16(len(data)))
			h.c.Write(pong)
		}
	}
}

// expect reads the next message and fails the test unless it is of type typ.
func (h *hostileRS) expect(ctx context.Context, tb testing.TB, typ protocol.MessageType) protocol.Message {
	tb.Helper()
	m := h.read(ctx, tb)
	if m.Type() != typ {
		tb.Fatalf("got %v, want %v", m, typ)
	}
	return m
}

func (h *hostileRS) join(ctx context.Context, tb testing.TB) {
	tb.Helper()
	h.write(tb, &protocol.Hello{Realm: realm1, Details: protocol.Dict{"roles": map[string]any{
		"caller": map[string]any{}, "callee": map[string]any{}, "subscriber": map[string]any{}}}})
	h.expect(ctx, tb, protocol.TypeWelcome)
}

// TestAttackIdleConnections: a client that opens connections and says
// nothing (20,000 of them exhausted wampd's descriptors) gets no more
// than the caps of a transport.LimitListener in front of the router's
// WebSocket and RawSocket listeners, which refuse the rest at once,
// before any HTTP request or handshake is read: per client address
// (127.0.0.1 here, while a client from 127.0.0.2 is served), and in
// total. Connections in their RawSocket handshake count against
// RawSocketConfig.MaxConnections too.
func TestAttackIdleConnections(t *testing.T) {
	t.Run("per address", func(t *testing.T) {
		e := startLimitedEnv(t, router.Config{}, 50, 10)
		var idle []net.Conn
		for range 10 {
			idle = append(idle, hostileDial(t, "127.0.0.1", e.wsAddr))
		}
		waitOpen(t, e.lim, 10)
		for i := range 200 {
			addr, request := e.wsAddr, httpRequest
			if i%2 == 1 {
				addr, request = e.tcpAddr, rawHandshake
			}
			if !refusedConn(t, "127.0.0.1", addr, request) {
				t.Fatalf("idle connection %d from 127.0.0.1 was accepted beyond the cap of 10", 11+i)
			}
		}
		if got := e.lim.Refused(); got != 200 {
			t.Errorf("Refused() = %d, want 200", got)
		}
		ctx := timeout(t)
		e.checkHealthy(ctx, t, "127.0.0.2")
		for _, c := range idle {
			c.Close()
		}
		waitOpen(t, e.lim, 0)
		e.checkHealthy(ctx, t, "127.0.0.1")
	})
	t.Run("total", func(t *testing.T) {
		e := startLimitedEnv(t, router.Config{}, 20, 0)
		var idle []net.Conn
		for i := range 20 {
			idle = append(idle, hostileDial(t, fmt.Sprintf("127.0.0.%d", 1+i%2), e.tcpAddr))
		}
		waitOpen(t, e.lim, 20)
		for _, from := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"} {
			if !refusedConn(t, from, e.wsAddr, httpRequest) {
				t.Fatalf("a connection from %s was accepted beyond the total cap of 20", from)
			}
		}
		for _, c := range idle {
			c.Close()
		}
		waitOpen(t, e.lim, 0)
		e.checkHealthy(timeout(t), t, "127.0.0.3")
	})
	t.Run("rawsocket handshakes", func(t *testing.T) {
		e := startLimitedEnv(t, router.Config{RawSocket: transport.RawSocketConfig{MaxConnections: 5}}, 0, 0)
		for range 5 {
			hostileDial(t, "127.0.0.1", e.tcpAddr) // never sends its handshake
		}
		waitOpen(t, e.lim, 5)
		ctx := timeout(t)
		_, err := transport.DialRawSocket(ctx, "tcp", e.tcpAddr, transport.RawSocketDialConfig{})
		var rerr *transport.RawSocketError
		if !errors.As(err, &rerr) || rerr.Code != transport.RawSocketConnectionLimit {
			t.Errorf("DialRawSocket() with 5 silent connections of 5 = %v, want the connection limit reply", err)
		}
		e.checkHealthy(ctx, t, "127.0.0.2", "websocket")
	})
}

// limitedEnv is a router whose WebSocket and RawSocket listeners share a
// transport.ConnLimiter, and whose http.Server has the timeouts a router
// on the Internet needs.
type limitedEnv struct {
	r               *router.Router
	lim             *transport.ConnLimiter
	wsAddr, tcpAddr string
}

func startLimitedEnv(tb testing.TB, cfg router.Config, max, perAddress int) *limitedEnv {
	tb.Helper()
	cfg.Realms = []router.RealmConfig{{Name: realm1}}
	cfg.Logger = newLogSink(tb).logger()
	r, err := router.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	e := &limitedEnv{r: r, lim: &transport.ConnLimiter{MaxConnections: max, MaxPerAddress: perAddress, Logger: cfg.Logger}}
	wl := listen(tb, "tcp", "127.0.0.1:0")
	tl := listen(tb, "tcp", "127.0.0.1:0")
	e.wsAddr, e.tcpAddr = wl.Addr().String(), tl.Addr().String()
	mux := http.NewServeMux()
	mux.Handle("/ws", r.Handler())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 64 << 10}
	var wg sync.WaitGroup
	wg.Go(func() { hs.Serve(e.lim.Listener(wl)) })
	wg.Go(func() { r.ServeRawSocket(e.lim.Listener(tl)) })
	tb.Cleanup(func() {
		r.Close()
		hs.Close()
		wg.Wait()
	})
	return e
}

// checkHealthy joins from the local address from over the given
// transports (default both), with raw clients that bind that address, and
// calls wamp.session.count.
func (e *limitedEnv) checkHealthy(ctx context.Context, tb testing.TB, from string, transports ...string) {
	tb.Helper()
	if len(transports) == 0 {
		transports = []string{"websocket", "tcp"}
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	call := &protocol.Call{Request: 1, Options: protocol.Dict{}, Procedure: "wamp.session.count"}
	for _, tr := range transports {
		var m protocol.Message
		switch tr {
		case "websocket":
			h := dialHostileWSWith(ctx, tb, "ws://"+e.wsAddr+"/ws", "wamp.2.json", websocket.Dialer{NetDialContext: d.DialContext})
			h.join(ctx, tb)
			if err := h.write(h.rightType(), call); err != nil {
				tb.Fatal(err)
			}
			var err error
			if m, err = h.read(ctx); err != nil {
				tb.Fatalf("healthy client from %s over %s: %v", from, tr, err)
			}
			h.c.Close()
		case "tcp":
			h := dialHostileRSWith(ctx, tb, d, e.tcpAddr, serialize.JSON, 15)
			h.join(ctx, tb)
			h.write(tb, call)
			m = h.read(ctx, tb)
			h.c.Close()
		}
		if m.Type() != protocol.TypeResult {
			tb.Fatalf("healthy client from %s over %s: got %v, want RESULT", from, tr, m)
		}
	}
}

// hostileDial opens a TCP connection from the local address from to addr
// and leaves it idle; the test is skipped if the system has no such
// address (Linux answers for all of 127.0.0.0/8).
func hostileDial(tb testing.TB, from, addr string) net.Conn {
	tb.Helper()
	c, err := dialFromAddr(tb, from, addr)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func dialFromAddr(tb testing.TB, from, addr string) (net.Conn, error) {
	tb.Helper()
	d := net.Dialer{Timeout: testTimeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || strings.Contains(err.Error(), "assign requested address") {
			tb.Skipf("no local address %s: %v", from, err)
		}
		return nil, err
	}
	c.SetDeadline(time.Now().Add(testTimeout))
	tb.Cleanup(func() { c.Close() })
	return c, nil
}

// refusedConn connects from the local address from to addr, sends
// request (an HTTP request or a RawSocket handshake, which an accepted
// connection answers), and reports whether the server closed the
// connection without an answer: the dial fails with a reset, or the
// first read ends with EOF or a reset.
func refusedConn(tb testing.TB, from, addr string, request []byte) bool {
	tb.Helper()
	c, err := dialFromAddr(tb, from, addr)
	if err != nil {
		return errors.Is(err, syscall.ECONNRESET)
	}
	defer c.Close()
	c.Write(request) // a reset shows in the read
	n, err := c.Read(make([]byte, 1))
	if isTimeout(err) {
		tb.Fatalf("no answer to %q from %s, and no close", request, addr)
	}
	return n == 0
}

// Requests that the WebSocket and the RawSocket listener answer at once.
var (
	httpRequest  = []byte("GET /ws HTTP/1.1\r\nHost: wampd\r\n\r\n")
	rawHandshake = []byte{0x7f, 0xf1, 0, 0}
)

// waitOpen polls until cl counts n open connections.
func waitOpen(tb testing.TB, cl *transport.ConnLimiter, n int) {
	tb.Helper()
	deadline := time.Now().Add(testTimeout)
	for cl.Open() != n {
		if time.Now().After(deadline) {
			tb.Fatalf("%d connections open, want %d", cl.Open(), n)
		}
		time.Sleep(time.Millisecond)
	}
}
