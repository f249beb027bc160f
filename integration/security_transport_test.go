package integration

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/serialize"
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
