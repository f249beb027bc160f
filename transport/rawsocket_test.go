package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

// dialRaw opens a plain connection to a RawSocket server, with a deadline
// on everything done with it.
func dialRaw(tb testing.TB, addr string) net.Conn {
	tb.Helper()
	c, err := net.DialTimeout("tcp", addr, testWait)
	if err != nil {
		tb.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(testWait))
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// readToEOF reads what the server sends until it closes the connection.
func readToEOF(tb testing.TB, c net.Conn) []byte {
	tb.Helper()
	b, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		tb.Fatalf("reading until the server closes: %v", err)
	}
	return b
}

// TestRawSocketHandshakeReplies checks the server's answer to good and bad
// handshake requests (advanced/transport_rawsocket.md).
func TestRawSocketHandshakeReplies(t *testing.T) {
	tests := []struct {
		name    string
		cfg     RawSocketConfig
		request []byte
		want    []byte // the complete reply before the server closes; nil = closed without reply
	}{
		{"wrong magic", RawSocketConfig{}, []byte{0x7E, 0xF1, 0, 0}, nil},
		{"HTTP request", RawSocketConfig{}, []byte("GET / HTTP/1.1\r\n\r\n"), nil},
		{"serializer 0", RawSocketConfig{}, []byte{0x7F, 0xF0, 0, 0}, []byte{0x7F, 0x10, 0, 0}},
		{"UBJSON", RawSocketConfig{}, []byte{0x7F, 0xF4, 0, 0}, []byte{0x7F, 0x10, 0, 0}},
		{"not configured", RawSocketConfig{Serializers: []serialize.Serializer{serialize.JSON}}, []byte{0x7F, 0xF2, 0, 0}, []byte{0x7F, 0x10, 0, 0}},
		{"reserved octet 2", RawSocketConfig{}, []byte{0x7F, 0xF1, 1, 0}, []byte{0x7F, 0x30, 0, 0}},
		{"reserved octet 3", RawSocketConfig{}, []byte{0x7F, 0xF1, 0, 0x80}, []byte{0x7F, 0x30, 0, 0}},
		{"length unacceptable", RawSocketConfig{MinClientMessageSize: 1 << 16}, []byte{0x7F, 0x01, 0, 0}, []byte{0x7F, 0x20, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, addr := rawServer(t, "tcp", tt.cfg, func(Peer) { t.Error("handler called for a refused connection") })
			c := dialRaw(t, addr)
			if _, err := c.Write(tt.request); err != nil {
				t.Fatal(err)
			}
			if got := readToEOF(t, c); !bytes.Equal(got, tt.want) {
				t.Errorf("reply to % x = % x, want % x", tt.request, got, tt.want)
			}
		})
	}
}

// TestRawSocketHandshakeAccept checks the success reply: the server's own
// length exponent and the echoed serializer.
func TestRawSocketHandshakeAccept(t *testing.T) {
	peers := newServerPeers()
	_, addr := rawServer(t, "tcp", RawSocketConfig{PeerConfig: PeerConfig{MaxMessageSize: 1 << 20}}, peers.handler)
	t.Cleanup(peers.stop)
	c := dialRaw(t, addr)
	if _, err := c.Write([]byte{0x7F, 0xF2, 0, 0}); err != nil {
		t.Fatal(err)
	}
	var rep [4]byte
	if _, err := io.ReadFull(c, rep[:]); err != nil {
		t.Fatal(err)
	}
	if want := [4]byte{0x7F, 0xB2, 0, 0}; rep != want { // 2^(9+11) = 1 MiB, msgpack
		t.Errorf("reply = % x, want % x", rep, want)
	}
	p := peers.next(t)
	if got := p.(Detailer).TransportDetails(); got["serializer"] != "msgpack" || !strings.HasPrefix(got["peer"].(string), "tcp4:127.0.0.1:") {
		t.Errorf("TransportDetails() = %v", got)
	}
}

// TestDialRawSocketRefused checks that the dialer reports the router's
// error reply as a *RawSocketError.
func TestDialRawSocketRefused(t *testing.T) {
	tests := []struct {
		name string
		scfg RawSocketConfig
		dcfg RawSocketDialConfig
		want RawSocketErrorCode
	}{
		{"serializer", RawSocketConfig{Serializers: []serialize.Serializer{serialize.CBOR}}, RawSocketDialConfig{Serializer: serialize.JSON}, RawSocketUnsupportedSerializer},
		{"length", RawSocketConfig{MinClientMessageSize: 1 << 20}, RawSocketDialConfig{PeerConfig: PeerConfig{MaxMessageSize: 4096}}, RawSocketUnacceptableLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, addr := rawServer(t, "tcp", tt.scfg, nil)
			p, err := DialRawSocket(testContext(t), "tcp", addr, tt.dcfg)
			if err == nil {
				p.Close(nil)
				t.Fatal("DialRawSocket() succeeded, want a refusal")
			}
			var rerr *RawSocketError
			if !errors.As(err, &rerr) || rerr.Code != tt.want || !errors.Is(err, ErrHandshake) {
				t.Errorf("DialRawSocket() error = %v, want RawSocketError %v", err, tt.want)
			}
		})
	}
}

// TestRawSocketConnectionLimit checks error reply 4.
func TestRawSocketConnectionLimit(t *testing.T) {
	peers := newServerPeers()
	_, addr := rawServer(t, "tcp", RawSocketConfig{MaxConnections: 1}, peers.handler)
	t.Cleanup(peers.stop)
	first, err := DialRawSocket(testContext(t), "tcp", addr, RawSocketDialConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close(nil)
	peers.next(t)
	_, err = DialRawSocket(testContext(t), "tcp", addr, RawSocketDialConfig{})
	var rerr *RawSocketError
	if !errors.As(err, &rerr) || rerr.Code != RawSocketConnectionLimit {
		t.Errorf("second DialRawSocket() error = %v, want connection limit", err)
	}
}

// TestRawSocketHandshakeTimeout: a client that never completes the
// handshake is disconnected.
func TestRawSocketHandshakeTimeout(t *testing.T) {
	_, addr := rawServer(t, "tcp", RawSocketConfig{PeerConfig: PeerConfig{HandshakeTimeout: 50 * time.Millisecond}}, nil)
	c := dialRaw(t, addr)
	if _, err := c.Write([]byte{0x7F, 0xF1}); err != nil { // half a request
		t.Fatal(err)
	}
	if got := readToEOF(t, c); len(got) != 0 {
		t.Errorf("server sent % x to an incomplete handshake, want nothing", got)
	}
}

// TestDialRawSocketHandshakeTimeout: a router that never answers makes
// the dial fail when ctx ends.
func TestDialRawSocketHandshakeTimeout(t *testing.T) {
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
	_, err = DialRawSocket(ctx, "tcp", l.Addr().String(), RawSocketDialConfig{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("DialRawSocket() error = %v, want context.DeadlineExceeded", err)
	}
	if c := within(t, accepted); c != nil {
		c.Close()
	}
}

// rawHandshake completes a client handshake on c by hand (JSON).
func rawHandshake(tb testing.TB, c net.Conn) {
	tb.Helper()
	if _, err := c.Write([]byte{0x7F, 0xF1, 0, 0}); err != nil {
		tb.Fatal(err)
	}
	var rep [4]byte
	if _, err := io.ReadFull(c, rep[:]); err != nil {
		tb.Fatal(err)
	}
	if rep[0] != 0x7F || rep[1]&0x0F != 1 {
		tb.Fatalf("handshake reply % x", rep)
	}
}

// TestRawSocketBadFrames: frames that break the rules fail the connection
// with the right reason, and the server closes the socket.
func TestRawSocketBadFrames(t *testing.T) {
	tests := []struct {
		name  string
		frame []byte
		close bool // the client closes its side after writing
		want  error
		text  string
	}{
		{"over the limit", []byte{0, 0, 0x10, 0x01}, false, ErrMessageTooBig, ""},
		{"reserved bits", []byte{0x10, 0, 0, 2, '[', ']'}, false, ErrProtocol, "reserved bits"},
		{"reserved type", []byte{0x03, 0, 0, 2, '[', ']'}, false, ErrProtocol, "frame type"},
		{"truncated payload", []byte{0, 0, 0, 100, '[', '1'}, true, nil, "truncated"},
		{"truncated header", []byte{0, 0}, true, nil, "truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peers := newServerPeers()
			_, addr := rawServer(t, "tcp", RawSocketConfig{PeerConfig: PeerConfig{MaxMessageSize: 4096}}, peers.handler)
			t.Cleanup(peers.stop)
			c := dialRaw(t, addr)
			rawHandshake(t, c)
			p := peers.next(t)
			if _, err := c.Write(tt.frame); err != nil {
				t.Fatal(err)
			}
			if tt.close {
				_ = c.(*net.TCPConn).CloseWrite()
			}
			_, err := recvWithin(t, p)
			if !errors.Is(err, ErrClosed) || (tt.want != nil && !errors.Is(err, tt.want)) || !strings.Contains(err.Error(), tt.text) {
				t.Errorf("Recv() error = %v, want ErrClosed wrapping %v %q", err, tt.want, tt.text)
			}
			readToEOF(t, c) // the server closes the connection
		})
	}
}

// TestRawSocketMalformedMessage: a frame that does not decode is an error
// of that message only; the connection stays up.
func TestRawSocketMalformedMessage(t *testing.T) {
	peers := newServerPeers()
	_, addr := rawServer(t, "tcp", RawSocketConfig{}, peers.handler)
	t.Cleanup(peers.stop)
	c := dialRaw(t, addr)
	rawHandshake(t, c)
	p := peers.next(t)
	good := `[36,1,2,{}]`
	frames := append([]byte{0, 0, 0, 3}, "[1}"...)
	frames = append(frames, 0, 0, 0, byte(len(good)))
	frames = append(frames, good...)
	if _, err := c.Write(frames); err != nil {
		t.Fatal(err)
	}
	if _, err := recvWithin(t, p); !errors.Is(err, protocol.ErrMalformed) || errors.Is(err, ErrClosed) {
		t.Errorf("Recv() of garbage = %v, want ErrMalformed and not ErrClosed", err)
	}
	if m := mustRecv(t, p); m.Type() != protocol.TypeEvent {
		t.Errorf("Recv() after garbage = %v, want the EVENT", m)
	}
}

// TestRawSocketPing: a PING is answered with a PONG echoing its payload,
// even in the middle of messages.
func TestRawSocketPing(t *testing.T) {
	peers := newServerPeers()
	_, addr := rawServer(t, "tcp", RawSocketConfig{}, peers.handler)
	t.Cleanup(peers.stop)
	c := dialRaw(t, addr)
	rawHandshake(t, c)
	p := peers.next(t)
	payload := []byte("are you there? \x00\xff")
	ping := append([]byte{1, 0, 0, byte(len(payload))}, payload...)
	msg := append([]byte{0, 0, 0, 11}, `[36,1,2,{}]`...)
	if _, err := c.Write(append(ping, msg...)); err != nil {
		t.Fatal(err)
	}
	if m := mustRecv(t, p); m.Type() != protocol.TypeEvent {
		t.Errorf("Recv() = %v, want the EVENT after the PING", m)
	}
	var hdr [4]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		t.Fatal(err)
	}
	if want := [4]byte{2, 0, 0, byte(len(payload))}; hdr != want {
		t.Fatalf("PONG header = % x, want % x", hdr, want)
	}
	got := make([]byte, len(payload))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, payload) {
		t.Errorf("PONG payload = %q, want %q", got, payload)
	}
}

// TestRawSocketKeepAlive: the server pings, and a client that never
// answers (nor sends anything) is dropped with ErrKeepAlive; a live
// client (our dialer, which answers PINGs in Recv) is not.
func TestRawSocketKeepAlive(t *testing.T) {
	peers := newServerPeers()
	cfg := RawSocketConfig{PeerConfig: PeerConfig{PingInterval: 20 * time.Millisecond, PongTimeout: 20 * time.Millisecond}}
	_, addr := rawServer(t, "tcp", cfg, peers.handler)
	t.Cleanup(peers.stop)
	c := dialRaw(t, addr)
	rawHandshake(t, c)
	p := peers.next(t)
	var hdr [4]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		t.Fatal(err)
	}
	if hdr[0] != framePing {
		t.Errorf("first frame from an idle server = % x, want a PING", hdr)
	}
	if _, err := recvWithin(t, p); !errors.Is(err, ErrKeepAlive) {
		t.Errorf("Recv() on a silent client = %v, want ErrKeepAlive", err)
	}
}

// TestRawSocketStalledReader: a client that stops reading fills its queue
// (Send returns ErrQueueFull at once), does not slow down another client,
// and is dropped after the write timeout.
func TestRawSocketStalledReader(t *testing.T) {
	peers := newServerPeers()
	cfg := RawSocketConfig{PeerConfig: PeerConfig{QueueSize: 8, WriteTimeout: 100 * time.Millisecond, PingInterval: -1}}
	_, addr := rawServer(t, "tcp", cfg, peers.handler)
	t.Cleanup(peers.stop)

	stalled := dialRaw(t, addr)
	rawHandshake(t, stalled)
	sp := peers.next(t)
	healthy, err := DialRawSocket(testContext(t), "tcp", addr, RawSocketDialConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer healthy.Close(nil)
	hp := peers.next(t)

	big := &protocol.Event{Subscription: 1, Publication: 1, Details: protocol.Dict{"e": ""}, Args: protocol.List{strings.Repeat("x", 64<<10)}}
	stalledSend(t, sp, big, func() {
		// While the stalled client's writer is stuck, the other client is unaffected.
		for i := range 100 {
			sendRetry(t, hp, &protocol.Published{Request: protocol.ID(i + 1), Publication: 1})
			if m := mustRecv(t, healthy); m.(*protocol.Published).Request != protocol.ID(i+1) {
				t.Fatalf("healthy client got %v", m)
			}
		}
	})
	if _, err := recvWithin(t, sp); !errors.Is(err, ErrClosed) || !strings.Contains(err.Error(), "write") {
		t.Errorf("Recv() on the stalled peer = %v, want ErrClosed after a write timeout", err)
	}
}

// stalledSend sends m to p, whose other end does not read, until p fails.
// Send must report ErrQueueFull (never block) while the writer is stuck,
// then ErrClosed once the write timeout failed the connection. meanwhile
// runs once the queue has been seen full.
func stalledSend(tb testing.TB, p Peer, m protocol.Message, meanwhile func()) {
	tb.Helper()
	deadline := time.Now().Add(testWait)
	fulls := 0
	for time.Now().Before(deadline) {
		err := p.Send(context.Background(), m)
		switch {
		case err == nil:
			continue
		case errors.Is(err, ErrQueueFull):
			fulls++
			if fulls == 1 {
				// SendWait waits for room, but no longer than its
				// context: it returns, whether room was made or not.
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
				err := p.(Waiter).SendWait(ctx, m)
				cancel()
				if err != nil && !errors.Is(err, ErrQueueFull) && !errors.Is(err, ErrClosed) {
					tb.Errorf("SendWait() on a full queue = %v, want nil, ErrQueueFull or ErrClosed", err)
				}
				meanwhile()
			}
			time.Sleep(time.Millisecond)
			continue
		case errors.Is(err, ErrClosed):
			if fulls == 0 {
				tb.Error("Send() never returned ErrQueueFull before the connection failed")
			}
			if err := p.(Waiter).SendWait(context.Background(), m); !errors.Is(err, ErrClosed) {
				tb.Errorf("SendWait() on a failed connection = %v, want ErrClosed", err)
			}
			return
		default:
			tb.Fatalf("Send() = %v", err)
		}
	}
	tb.Fatalf("the peer that does not read was not dropped within %v (%d ErrQueueFull)", testWait, fulls)
}

// TestRawSocketServerClose: Close ends Serve, every connection and every
// handler; the client sees the close.
func TestRawSocketServerClose(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	handlerDone := make(chan error, 1)
	srv := &RawSocketServer{Handler: func(p Peer) {
		_, err := p.Recv()
		handlerDone <- err
	}}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	c, err := DialRawSocket(testContext(t), "tcp", l.Addr().String(), RawSocketDialConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(nil)
	// A connection stuck in its handshake is closed too.
	stuck := dialRaw(t, l.Addr().String())
	// Make sure the dialed connection reached its handler.
	if err := c.Send(context.Background(), &protocol.Published{Request: 1, Publication: 1}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // not an assertion: lets the handler start reading

	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := within(t, served); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve() = %v, want ErrServerClosed", err)
	}
	select {
	case err := <-handlerDone:
		if err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("handler Recv() = %v", err)
		}
	default:
		t.Error("Close returned before the handler did")
	}
	if _, err := recvWithin(t, c); !errors.Is(err, ErrClosed) {
		t.Errorf("client Recv() after server Close = %v, want ErrClosed", err)
	}
	readToEOF(t, stuck)
	if err := srv.Serve(l); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve() after Close = %v, want ErrServerClosed", err)
	}
}

// TestCloseWakesRecv checks that closing a peer ends a Recv blocked on it
// at once, while the writer may still be flushing to an other end that
// reads nothing: the owner of a peer it closed (the router dropping a slow
// consumer, say) does not wait for the flush to give up.
func TestCloseWakesRecv(t *testing.T) {
	for _, kind := range []string{"rawsocket", "websocket"} {
		t.Run(kind, func(t *testing.T) {
			sp := newServerPeers()
			defer sp.stop()
			var conn net.Conn
			switch kind {
			case "rawsocket":
				_, addr := rawServer(t, "tcp", RawSocketConfig{PeerConfig: PeerConfig{QueueSize: 4, CloseTimeout: 5 * time.Second}}, sp.handler)
				conn = dialRaw(t, addr)
				rawHandshake(t, conn)
			case "websocket":
				_, url := wsServer(t, WebSocketConfig{PeerConfig: PeerConfig{QueueSize: 4, CloseTimeout: 5 * time.Second}}, nil, sp.handler)
				ws, _, err := websocket.DefaultDialer.Dial(url, http.Header{"Sec-WebSocket-Protocol": {"wamp.2.json"}})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { ws.Close() })
				conn = ws.NetConn()
			}
			_ = conn // never read: the server's writer gets stuck
			p := sp.next(t)
			// Fill the socket buffers and the queue until the queue stays
			// full: the writer is then stuck in a write.
			big := protocol.List{strings.Repeat("x", 1<<20)}
			for i := 0; ; i++ {
				if i == 256 {
					t.Fatal("the queue never stayed full")
				}
				ctx, cancel := context.WithTimeout(testContext(t), 300*time.Millisecond)
				err := p.(Waiter).SendWait(ctx, &protocol.Event{Subscription: 1, Publication: 1, Args: big})
				cancel()
				if errors.Is(err, ErrQueueFull) {
					break
				}
			}
			got := make(chan error, 1)
			go func() {
				_, err := p.Recv()
				got <- err
			}()
			// Close waits up to 1.5 CloseTimeouts for the stuck writer;
			// Recv must not: it returns long before the first timeout
			// (a bound with a margin of thousands, not a measurement).
			start := time.Now()
			go p.Close(errors.New("dropped"))
			err := within(t, got)
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("Recv = %v, want ErrClosed", err)
			}
			if d := time.Since(start); d > 2500*time.Millisecond {
				t.Fatalf("Recv returned %v after Close: it waited for the writer's flush", d)
			}
		})
	}
}

// TestRawSocketConnectionLimitCountsHandshakes: connections that never
// complete their handshake count against MaxConnections as established
// ones do: a client that opens them and says nothing cannot take more
// than the limit. A connection beyond it gets error reply 4; one closed
// makes room.
func TestRawSocketConnectionLimitCountsHandshakes(t *testing.T) {
	peers := newServerPeers()
	_, addr := rawServer(t, "tcp", RawSocketConfig{MaxConnections: 3}, peers.handler)
	t.Cleanup(peers.stop)
	established, err := DialRawSocket(testContext(t), "tcp", addr, RawSocketDialConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer established.Close(nil)
	peers.next(t)
	silent := []net.Conn{dialRaw(t, addr), dialRaw(t, addr)} // no handshake, ever
	var rerr *RawSocketError
	// The silent connections may not have been accepted yet: poll.
	deadline := time.Now().Add(testWait)
	for {
		p, err := DialRawSocket(testContext(t), "tcp", addr, RawSocketDialConfig{})
		if errors.As(err, &rerr) && rerr.Code == RawSocketConnectionLimit {
			break
		}
		if err == nil {
			p.Close(nil)
		}
		if time.Now().After(deadline) {
			t.Fatalf("DialRawSocket() with 1 session and 2 silent connections of 3 allowed = %v, want the connection limit", err)
		}
		time.Sleep(time.Millisecond)
	}
	silent[0].Close()
	deadline = time.Now().Add(testWait)
	for {
		p, err := DialRawSocket(testContext(t), "tcp", addr, RawSocketDialConfig{})
		if err == nil {
			p.Close(nil)
			break
		}
		if !errors.As(err, &rerr) || time.Now().After(deadline) {
			t.Fatalf("DialRawSocket() after a silent connection closed = %v, want a session", err)
		}
		time.Sleep(time.Millisecond)
	}
}
