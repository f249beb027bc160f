package transport

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

// gorillaDial opens a bare gorilla connection, for playing a bad client.
func gorillaDial(tb testing.TB, url string, protos ...string) (*websocket.Conn, *http.Response, error) {
	tb.Helper()
	d := websocket.Dialer{Subprotocols: protos, HandshakeTimeout: testWait}
	c, resp, err := d.DialContext(testContext(tb), url, nil)
	if c != nil {
		tb.Cleanup(func() { _ = c.Close() })
		_ = c.SetReadDeadline(time.Now().Add(testWait))
	}
	return c, resp, err
}

// TestWebSocketSubProtocol checks the negotiation: an offer without any of
// our sub-protocols gets HTTP 400 with a message that names ours.
func TestWebSocketSubProtocol(t *testing.T) {
	tests := []struct {
		name  string
		cfg   WebSocketConfig
		offer []string
		want  string // chosen sub-protocol; "" = refused with 400
	}{
		{"none offered", WebSocketConfig{}, nil, ""},
		{"unknown only", WebSocketConfig{}, []string{"wamp.2.ubjson", "mqtt"}, ""},
		{"json", WebSocketConfig{}, []string{"wamp.2.json"}, "wamp.2.json"},
		{"client order", WebSocketConfig{}, []string{"wamp.2.cbor", "wamp.2.json"}, "wamp.2.cbor"},
		{"skip unknown", WebSocketConfig{}, []string{"wamp.2.ubjson", "wamp.2.msgpack"}, "wamp.2.msgpack"},
		{"batched", WebSocketConfig{}, []string{"wamp.2.json.batched"}, "wamp.2.json.batched"},
		{"batched disabled", WebSocketConfig{DisableBatched: true}, []string{"wamp.2.json.batched"}, ""},
		{"not configured", WebSocketConfig{Serializers: []serialize.Serializer{serialize.MessagePack}}, []string{"wamp.2.json"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peers := newServerPeers()
			_, url := wsServer(t, tt.cfg, nil, peers.handler)
			t.Cleanup(peers.stop)
			c, resp, err := gorillaDial(t, url, tt.offer...)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("upgrade offering %v succeeded with %q, want HTTP 400", tt.offer, c.Subprotocol())
				}
				if resp == nil || resp.StatusCode != http.StatusBadRequest {
					t.Fatalf("upgrade offering %v: %v, want HTTP 400", tt.offer, err)
				}
				body, _ := io.ReadAll(resp.Body)
				if !strings.Contains(string(body), "sub-protocol") || !strings.Contains(string(body), "wamp.2.") {
					t.Errorf("400 body = %q, want it to name the supported sub-protocols", body)
				}
				return
			}
			if err != nil {
				t.Fatalf("upgrade offering %v: %v", tt.offer, err)
			}
			if got := c.Subprotocol(); got != tt.want {
				t.Errorf("Subprotocol() = %q, want %q", got, tt.want)
			}
			p := peers.next(t)
			if got := p.(Detailer).TransportDetails()["protocol"]; got != tt.want {
				t.Errorf("TransportDetails()[protocol] = %v, want %q", got, tt.want)
			}
		})
	}
}

// TestDialWebSocketRefused: the dialer reports a refused upgrade with the
// HTTP status and the server's message.
func TestDialWebSocketRefused(t *testing.T) {
	_, url := wsServer(t, WebSocketConfig{Serializers: []serialize.Serializer{serialize.CBOR}}, nil, nil)
	_, err := DialWebSocket(testContext(t), url, WebSocketDialConfig{Serializer: serialize.JSON})
	if !errors.Is(err, ErrHandshake) || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "wamp.2.cbor") {
		t.Errorf("DialWebSocket() error = %v, want ErrHandshake with HTTP 400 naming wamp.2.cbor", err)
	}
}

// TestWebSocketNotUpgrade: plain HTTP, garbage and a foreign origin get
// HTTP errors, never a session.
func TestWebSocketNotUpgrade(t *testing.T) {
	_, url := wsServer(t, WebSocketConfig{}, nil, func(Peer) { t.Error("handler called") })
	addr := strings.TrimPrefix(strings.TrimSuffix(url, "/ws"), "ws://")
	tests := []struct {
		name    string
		request string
		status  string
	}{
		{"plain GET", "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n", "400"},
		{"garbage", "\x16\x03\x01\x00garbage\r\n\r\n", "400"},
		{"foreign origin", "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
			"Sec-WebSocket-Protocol: wamp.2.json\r\nOrigin: http://evil.example\r\n\r\n", "403"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			if _, err := io.WriteString(c, tt.request); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(line, "HTTP/1.1 "+tt.status) {
				t.Errorf("status line = %q, want %s", line, tt.status)
			}
		})
	}
}

// TestWebSocketTooBig: a message over the limit ends the session with
// close code 1009 on both sides.
func TestWebSocketTooBig(t *testing.T) {
	client, server := wsPair(t, WebSocketConfig{PeerConfig: PeerConfig{MaxMessageSize: 1024}}, WebSocketDialConfig{Serializer: serialize.MessagePack}, false)
	big := &protocol.Call{Request: 1, Options: protocol.Dict{"e": ""}, Procedure: "com.example.p", Args: protocol.List{strings.Repeat("x", 2048)}}
	if err := client.Send(context.Background(), big); err != nil {
		t.Fatal(err)
	}
	if _, err := recvWithin(t, server); !errors.Is(err, ErrClosed) || !errors.Is(err, ErrMessageTooBig) {
		t.Errorf("server Recv() = %v, want ErrClosed wrapping ErrMessageTooBig", err)
	}
	_, err := recvWithin(t, client)
	if !websocket.IsCloseError(errors.Unwrap(errors.Unwrap(err)), websocket.CloseMessageTooBig) {
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
			t.Errorf("client Recv() = %v, want close 1009", err)
		}
	}
}

// TestWebSocketEmptyBatch: an empty batch MUST fail the transport
// (advanced/transport_batched_websocket.md).
func TestWebSocketEmptyBatch(t *testing.T) {
	peers := newServerPeers()
	_, url := wsServer(t, WebSocketConfig{}, nil, peers.handler)
	t.Cleanup(peers.stop)
	c, _, err := gorillaDial(t, url, serialize.JSONBatchedSubProtocol)
	if err != nil {
		t.Fatal(err)
	}
	p := peers.next(t)
	if err := c.WriteMessage(websocket.TextMessage, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := recvWithin(t, p); !errors.Is(err, ErrProtocol) {
		t.Errorf("Recv() after an empty batch = %v, want ErrProtocol", err)
	}
	_, _, err = c.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseProtocolError) {
		t.Errorf("client read = %v, want close 1002", err)
	}
}

// TestWebSocketBatchedMany: several messages in one batch arrive one by
// one, and a CALL that does not decode does not end the session.
func TestWebSocketBatchedMany(t *testing.T) {
	peers := newServerPeers()
	_, url := wsServer(t, WebSocketConfig{}, nil, peers.handler)
	t.Cleanup(peers.stop)
	c, _, err := gorillaDial(t, url, serialize.JSONBatchedSubProtocol)
	if err != nil {
		t.Fatal(err)
	}
	p := peers.next(t)
	batch := "[36,1,2,{}]\x1e[1}\x1e[36,1,3,{}]\x1e"
	if err := c.WriteMessage(websocket.TextMessage, []byte(batch)); err != nil {
		t.Fatal(err)
	}
	if m := mustRecv(t, p); m.(*protocol.Event).Publication != 2 {
		t.Errorf("first = %v", m)
	}
	if _, err := recvWithin(t, p); !errors.Is(err, protocol.ErrMalformed) || errors.Is(err, ErrClosed) {
		t.Errorf("second = %v, want ErrMalformed", err)
	}
	if m := mustRecv(t, p); m.(*protocol.Event).Publication != 3 {
		t.Errorf("third = %v", m)
	}
}

// TestWebSocketStalledReader: a client that stops reading fills its queue
// and is dropped after the write timeout.
func TestWebSocketStalledReader(t *testing.T) {
	peers := newServerPeers()
	_, url := wsServer(t, WebSocketConfig{PeerConfig: PeerConfig{QueueSize: 8, WriteTimeout: 100 * time.Millisecond, PingInterval: -1}}, nil, peers.handler)
	t.Cleanup(peers.stop)
	if _, _, err := gorillaDial(t, url, "wamp.2.msgpack"); err != nil {
		t.Fatal(err)
	}
	sp := peers.next(t)
	healthy, err := DialWebSocket(testContext(t), url, WebSocketDialConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer healthy.Close(nil)
	hp := peers.next(t)
	big := &protocol.Event{Subscription: 1, Publication: 1, Details: protocol.Dict{"e": ""}, Args: protocol.List{strings.Repeat("x", 64<<10)}}
	stalledSend(t, sp, big, func() {
		for i := range 100 {
			sendRetry(t, hp, &protocol.Published{Request: protocol.ID(i + 1), Publication: 1})
			if m := mustRecv(t, healthy); m.(*protocol.Published).Request != protocol.ID(i+1) {
				t.Fatalf("healthy client got %v", m)
			}
		}
	})
	if _, err := recvWithin(t, sp); !errors.Is(err, ErrClosed) {
		t.Errorf("Recv() on the stalled peer = %v, want ErrClosed", err)
	}
}

// TestWebSocketKeepAlive: a client that answers no ping is dropped with
// ErrKeepAlive; our dialer, which answers pings while in Recv, is not.
func TestWebSocketKeepAlive(t *testing.T) {
	peers := newServerPeers()
	_, url := wsServer(t, WebSocketConfig{PeerConfig: PeerConfig{PingInterval: 20 * time.Millisecond, PongTimeout: 20 * time.Millisecond}}, nil, peers.handler)
	t.Cleanup(peers.stop)
	if _, _, err := gorillaDial(t, url, "wamp.2.json"); err != nil { // never reads, so never pongs
		t.Fatal(err)
	}
	if _, err := recvWithin(t, peers.next(t)); !errors.Is(err, ErrKeepAlive) {
		t.Errorf("Recv() on a silent client = %v, want ErrKeepAlive", err)
	}
}

// TestWebSocketServerClose: Close ends every session with close 1001 and
// waits for the handlers.
func TestWebSocketServerClose(t *testing.T) {
	handlerDone := make(chan error, 1)
	srv, url := wsServer(t, WebSocketConfig{}, nil, func(p Peer) {
		_, err := p.Recv()
		handlerDone <- err
	})
	c, err := DialWebSocket(testContext(t), url, WebSocketDialConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(nil)
	time.Sleep(10 * time.Millisecond) // not an assertion: lets the handler start
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-handlerDone:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("handler Recv() = %v, want ErrClosed", err)
		}
	default:
		t.Error("Close returned before the handler did")
	}
	_, err = recvWithin(t, c)
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Errorf("client Recv() = %v, want close 1001", err)
	}
	if _, err := DialWebSocket(testContext(t), url, WebSocketDialConfig{}); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("DialWebSocket() after Close = %v, want HTTP 503", err)
	}
}

// TestDialWebSocketTimeout: a server that never answers the upgrade makes
// the dial fail when ctx ends.
func TestDialWebSocketTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := DialWebSocket(ctx, "ws://"+l.Addr().String()+"/ws", WebSocketDialConfig{}); err == nil {
		t.Error("DialWebSocket() to a silent server succeeded")
	}
	if c := within(t, accepted); c != nil {
		c.Close()
	}
}

// TestWebSocketWrongFrameType: JSON travels in text messages, MessagePack
// and CBOR in binary ones (basic/building_blocks.md, "WebSocket
// Transport"); a message of the other kind is malformed, on the server
// and on the dialing side, and says what was wrong. The connection stays
// up for the owner to answer (the router ABORTs).
func TestWebSocketWrongFrameType(t *testing.T) {
	event := map[string][]byte{
		"json":    []byte(`[36,1,2,{}]`),
		"msgpack": {0x94, 0x24, 0x01, 0x02, 0x80},
		"cbor":    {0x84, 0x18, 0x24, 0x01, 0x02, 0xa0},
	}
	tests := []struct {
		proto   string
		payload []byte
		wrong   int // the frame type that must be refused
		right   int
	}{
		{"wamp.2.json", event["json"], websocket.BinaryMessage, websocket.TextMessage},
		{"wamp.2.json.batched", append(event["json"], 0x1e), websocket.BinaryMessage, websocket.TextMessage},
		{"wamp.2.msgpack", event["msgpack"], websocket.TextMessage, websocket.BinaryMessage},
		{"wamp.2.cbor", event["cbor"], websocket.TextMessage, websocket.BinaryMessage},
	}
	for _, tt := range tests {
		t.Run("server/"+tt.proto, func(t *testing.T) {
			peers := newServerPeers()
			_, url := wsServer(t, WebSocketConfig{}, nil, peers.handler)
			t.Cleanup(peers.stop)
			c, _, err := gorillaDial(t, url, tt.proto)
			if err != nil {
				t.Fatal(err)
			}
			p := peers.next(t)
			checkFrameTypes(t, p, func(typ int) error { return c.WriteMessage(typ, tt.payload) }, tt.wrong, tt.right)
		})
		t.Run("dialer/"+tt.proto, func(t *testing.T) {
			conns := make(chan *websocket.Conn, 1)
			up := websocket.Upgrader{Subprotocols: []string{tt.proto}}
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, err := up.Upgrade(w, r, nil)
				if err != nil {
					return
				}
				conns <- c
			}))
			t.Cleanup(hs.Close)
			ser, _ := serialize.BySubProtocol(tt.proto)
			p, err := DialWebSocket(testContext(t), "ws"+strings.TrimPrefix(hs.URL, "http"),
				WebSocketDialConfig{Serializer: ser, Batched: tt.proto == serialize.JSONBatchedSubProtocol})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close(nil) })
			c := within(t, conns)
			t.Cleanup(func() { c.Close() })
			checkFrameTypes(t, p, func(typ int) error { return c.WriteMessage(typ, tt.payload) }, tt.wrong, tt.right)
		})
	}
}

// checkFrameTypes sends the payload as a message of the wrong type, which
// p must refuse as malformed without closing, then of the right type,
// which p must deliver.
func checkFrameTypes(tb testing.TB, p Peer, write func(typ int) error, wrong, right int) {
	tb.Helper()
	if err := write(wrong); err != nil {
		tb.Fatal(err)
	}
	_, err := recvWithin(tb, p)
	if !errors.Is(err, protocol.ErrMalformed) || errors.Is(err, ErrClosed) {
		tb.Fatalf("Recv() of a wrong frame type = %v, want ErrMalformed, not ErrClosed", err)
	}
	want := "binary message"
	if wrong == websocket.TextMessage {
		want = "text message"
	}
	if !strings.Contains(err.Error(), want) {
		tb.Errorf("Recv() error = %q, want it to say %q", err, want)
	}
	if err := write(right); err != nil {
		tb.Fatal(err)
	}
	if m := mustRecv(tb, p); m.Type() != protocol.TypeEvent {
		tb.Errorf("Recv() of the right frame type = %v, want the EVENT", m)
	}
}

// writeBomb writes, with permessage-deflate, one WebSocket message of n
// zero bytes: a few KiB on the wire per MiB inflated. It stops at the
// first write error (the other end failed the connection).
func writeBomb(c *websocket.Conn, typ int, n int) error {
	c.EnableWriteCompression(true)
	_ = c.SetWriteDeadline(time.Now().Add(testWait))
	w, err := c.NextWriter(typ)
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

// bombRecv receives on p while send writes a bomb, and returns the bytes
// the process allocated meanwhile and Recv's error.
func bombRecv(tb testing.TB, p Peer, send func() error) (uint64, error) {
	tb.Helper()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	sent := make(chan error, 1)
	go func() { sent <- send() }()
	_, err := recvWithin(tb, p)
	<-sent // any error: the connection was failed under the writer
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, err
}

// TestWebSocketCompressionBomb: with permessage-deflate the limit applies
// to the inflated message, while inflating: a message of a few KiB on the
// wire that inflates to 64 times the limit fails the connection with close
// 1009 and ErrMessageTooBig, and the reader never holds much more than the
// limit. On the server and the dialing side.
func TestWebSocketCompressionBomb(t *testing.T) {
	const limit = 1 << 20
	const bomb = 64 * limit
	// What the process may allocate while the bomb goes off: the reader's
	// buffer as it grows to the limit (about twice the limit in all), the
	// hostile end's compressor (about 1 MiB), and a margin; about 4.3 MiB
	// are measured. Reading the bomb whole costs more than bomb bytes.
	const budget = 8 * limit
	checkClose := func(t *testing.T, c *websocket.Conn) {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(testWait))
		for {
			_, _, err := c.ReadMessage()
			if err == nil {
				continue
			}
			if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
				t.Errorf("hostile end read %v, want close 1009", err)
			}
			return
		}
	}
	t.Run("server", func(t *testing.T) {
		peers := newServerPeers()
		_, url := wsServer(t, WebSocketConfig{EnableCompression: true, PeerConfig: PeerConfig{MaxMessageSize: limit}}, nil, peers.handler)
		t.Cleanup(peers.stop)
		d := websocket.Dialer{Subprotocols: []string{"wamp.2.json"}, EnableCompression: true, HandshakeTimeout: testWait}
		c, _, err := d.DialContext(testContext(t), url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		p := peers.next(t)
		alloc, err := bombRecv(t, p, func() error { return writeBomb(c, websocket.TextMessage, bomb) })
		if !errors.Is(err, ErrClosed) || !errors.Is(err, ErrMessageTooBig) {
			t.Errorf("Recv() of the bomb = %v, want ErrClosed wrapping ErrMessageTooBig", err)
		}
		if alloc > budget {
			t.Errorf("reading the bomb allocated %d MiB, want at most %d MiB", alloc>>20, budget>>20)
		}
		checkClose(t, c)
	})
	t.Run("dialer", func(t *testing.T) {
		conns := make(chan *websocket.Conn, 1)
		up := websocket.Upgrader{Subprotocols: []string{"wamp.2.msgpack"}, EnableCompression: true}
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			conns <- c
		}))
		t.Cleanup(hs.Close)
		p, err := DialWebSocket(testContext(t), "ws"+strings.TrimPrefix(hs.URL, "http"),
			WebSocketDialConfig{Serializer: serialize.MessagePack, EnableCompression: true, PeerConfig: PeerConfig{MaxMessageSize: limit}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close(nil) })
		c := within(t, conns)
		t.Cleanup(func() { c.Close() })
		alloc, err := bombRecv(t, p, func() error { return writeBomb(c, websocket.BinaryMessage, bomb) })
		if !errors.Is(err, ErrClosed) || !errors.Is(err, ErrMessageTooBig) {
			t.Errorf("Recv() of the bomb = %v, want ErrClosed wrapping ErrMessageTooBig", err)
		}
		if alloc > budget {
			t.Errorf("reading the bomb allocated %d MiB, want at most %d MiB", alloc>>20, budget>>20)
		}
		checkClose(t, c)
	})
}
