package router_test

import (
	"context"
	"errors"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/serialize"
	"github.com/wampkit/wampkit/transport"
)

func TestWebSocket(t *testing.T) {
	r := newRouter(t, router.Config{})
	ts := httptest.NewServer(r.Handler())
	t.Cleanup(ts.Close)
	url := "ws" + strings.TrimPrefix(ts.URL, "http")

	local, pub := join(t, r), join(t, r)
	localSub := local.subscribe("com.example.topic", nil)
	for _, ser := range []serialize.Serializer{serialize.JSON, serialize.MessagePack, serialize.CBOR} {
		t.Run(ser.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			p, err := transport.DialWebSocket(ctx, url, transport.WebSocketDialConfig{Serializer: ser})
			if err != nil {
				t.Fatalf("DialWebSocket: %v", err)
			}
			c := newTestPeer(t, p, 64)
			w := c.hello(realm1, nil)
			if w.Details.String("authrole") != "anonymous" {
				t.Errorf("WELCOME.Details = %v", w.Details)
			}
			// Network and in-process subscribers share the subscription.
			if id := c.subscribe("com.example.topic", nil); id != localSub {
				t.Errorf("subscription %d, want shared %d", id, localSub)
			}
			local.tb, pub.tb = t, t
			pubID := pub.publishAck("com.example.topic", nil, "x", 1)
			for _, s := range []*testPeer{c, local} {
				ev := expect[*protocol.Event](s)
				if ev.Publication != pubID || ev.Subscription != localSub {
					t.Errorf("EVENT %+v, want publication %d subscription %d", ev, pubID, localSub)
				}
			}
			req := c.next()
			c.send(&protocol.Unsubscribe{Request: req, Subscription: localSub})
			expect[*protocol.Unsubscribed](c)
			c.send(&protocol.Goodbye{Details: protocol.Dict{}, Reason: protocol.CloseSystemShutdown})
			if g := expect[*protocol.Goodbye](c); g.Reason != protocol.CloseGoodbyeAndOut {
				t.Errorf("GOODBYE reason %s", g.Reason)
			}
			c.expectClosed()
		})
	}
}

// TestMalformedMessage sends bytes that are no WAMP message over a real
// WebSocket: the router aborts that session only.
func TestMalformedMessage(t *testing.T) {
	r := newRouter(t, router.Config{})
	ts := httptest.NewServer(r.Handler())
	t.Cleanup(ts.Close)
	url := "ws" + strings.TrimPrefix(ts.URL, "http")
	bystander := join(t, r)
	bystander.register("com.example.f", nil)

	tests := []struct {
		name  string
		hello bool // send a HELLO first
		frame string
	}{
		{"garbage before HELLO", false, `{not json`},
		{"unknown type", true, `[999, 1]`},
		{"wrong arity", true, `[48, 1, {}]`},
		{"bad request ID", true, `[48, 0, {}, "com.example.f"]`},
		{"procedure not a string", true, `[48, 1, {}, 5]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := websocket.Dialer{Subprotocols: []string{"wamp.2.json"}, HandshakeTimeout: wait}
			conn, _, err := d.Dial(url, nil)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer conn.Close()
			conn.SetReadDeadline(time.Now().Add(wait))
			if tt.hello {
				conn.WriteMessage(websocket.TextMessage, []byte(`[1, "realm1", {"roles": {"caller": {}}}]`))
				_, msg, err := conn.ReadMessage()
				if err != nil || !strings.HasPrefix(string(msg), "[2,") {
					t.Fatalf("got %q, %v; want WELCOME", msg, err)
				}
			}
			conn.WriteMessage(websocket.TextMessage, []byte(tt.frame))
			_, msg, err := conn.ReadMessage()
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			m, err := serialize.JSON.Codec().Decode(msg)
			if err != nil {
				t.Fatalf("Decode(%q): %v", msg, err)
			}
			a, ok := m.(*protocol.Abort)
			if !ok || a.Reason != protocol.ErrProtocolViolation {
				t.Fatalf("got %q, want ABORT protocol_violation", msg)
			}
			if _, _, err := conn.ReadMessage(); err == nil {
				t.Errorf("connection still open after ABORT")
			}
			bystander.tb = t
			c := join(t, r)
			c.callOK("com.example.f", bystander)
		})
	}
}

func TestRawSocket(t *testing.T) {
	r := newRouter(t, router.Config{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- r.ServeRawSocket(l) }()

	callee := join(t, r)
	callee.register("com.example.echo", nil)
	for _, ser := range []serialize.Serializer{serialize.JSON, serialize.MessagePack, serialize.CBOR} {
		t.Run(ser.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			p, err := transport.DialRawSocket(ctx, "tcp", l.Addr().String(), transport.RawSocketDialConfig{Serializer: ser})
			if err != nil {
				t.Fatalf("DialRawSocket: %v", err)
			}
			c := newTestPeer(t, p, 64)
			c.hello(realm1, nil)
			callee.tb = t
			c.callOK("com.example.echo", callee, "hi", 1)
		})
	}

	// A network session still connected when the router closes.
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	p, err := transport.DialRawSocket(ctx, "tcp", l.Addr().String(), transport.RawSocketDialConfig{})
	if err != nil {
		t.Fatal(err)
	}
	c := newTestPeer(t, p, 64)
	c.hello(realm1, nil)
	r.Close()
	c.expectClosed()
	select {
	case err := <-served:
		if !errors.Is(err, router.ErrClosed) {
			t.Errorf("ServeRawSocket() = %v, want ErrClosed", err)
		}
	case <-time.After(wait):
		t.Fatal("ServeRawSocket did not return after Close")
	}
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.ServeRawSocket(l2); !errors.Is(err, router.ErrClosed) {
		t.Errorf("ServeRawSocket after Close = %v, want ErrClosed", err)
	}
}

// TestShutdownNetwork checks the GOODBYE exchange of Shutdown over
// WebSocket and RawSocket.
func TestShutdownNetwork(t *testing.T) {
	r := newRouter(t, router.Config{})
	ts := httptest.NewServer(r.Handler())
	t.Cleanup(ts.Close)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- r.ServeRawSocket(l) }()

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ws, err := transport.DialWebSocket(ctx, "ws"+strings.TrimPrefix(ts.URL, "http"), transport.WebSocketDialConfig{Serializer: serialize.MessagePack})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := transport.DialRawSocket(ctx, "tcp", l.Addr().String(), transport.RawSocketDialConfig{Serializer: serialize.CBOR})
	if err != nil {
		t.Fatal(err)
	}
	clients := []*testPeer{newTestPeer(t, ws, 64), newTestPeer(t, raw, 64)}
	for _, c := range clients {
		c.hello(realm1, nil)
	}
	done := make(chan error, 1)
	go func() { done <- r.Shutdown(ctx) }()
	for _, c := range clients {
		g := expect[*protocol.Goodbye](c)
		if g.Reason != protocol.CloseSystemShutdown {
			t.Errorf("GOODBYE reason %s, want %s", g.Reason, protocol.CloseSystemShutdown)
		}
		c.send(&protocol.Goodbye{Details: protocol.Dict{}, Reason: protocol.CloseGoodbyeAndOut})
		c.expectClosed()
	}
	for _, c := range []struct {
		name string
		ch   <-chan error
		want error
	}{{"Shutdown", done, nil}, {"ServeRawSocket", served, router.ErrClosed}} {
		select {
		case err := <-c.ch:
			if !errors.Is(err, c.want) {
				t.Errorf("%s() = %v, want %v", c.name, err, c.want)
			}
		case <-time.After(wait):
			t.Fatalf("%s did not return", c.name)
		}
	}
}
