package integration

import (
	"context"
	"errors"
	"fmt"
	"runtime"
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
	const limit = transport.DefaultMaxMessageSize
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
