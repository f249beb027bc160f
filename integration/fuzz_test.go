package integration

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/serialize"
	"github.com/wampkit/wampkit/transport"
)

// fuzzWait bounds every wait of the network fuzz targets; it only turns a
// hang into a failure.
const fuzzWait = 10 * time.Second

// fuzzRouter is a live router on 127.0.0.1 for the network fuzz targets,
// with an in-process callee of com.fuzz.echo that a healthy client calls
// after every input.
type fuzzRouter struct {
	r       *router.Router
	rawAddr string
	wsURL   string
}

// startFuzzRouter starts the router once per fuzzing process; everything
// stops in tb's cleanup. Logs are discarded: a fuzz target must not log
// from other goroutines while it runs.
func startFuzzRouter(tb testing.TB) *fuzzRouter {
	tb.Helper()
	r, err := router.New(router.Config{
		Realms:           []router.RealmConfig{{Name: realm1}},
		Logger:           slog.New(slog.DiscardHandler),
		HandshakeTimeout: 2 * time.Second,
		RawSocket:        transport.RawSocketConfig{PeerConfig: transport.PeerConfig{MaxMessageSize: 1 << 16}},
		WebSocket:        transport.WebSocketConfig{PeerConfig: transport.PeerConfig{MaxMessageSize: 1 << 16}},
	})
	if err != nil {
		tb.Fatalf("router.New: %v", err)
	}
	fr := &fuzzRouter{r: r}
	var wg sync.WaitGroup
	rl := listen(tb, "tcp", "127.0.0.1:0")
	fr.rawAddr = rl.Addr().String()
	wg.Go(func() { r.ServeRawSocket(rl) })
	wl := listen(tb, "tcp", "127.0.0.1:0")
	fr.wsURL = "ws://" + wl.Addr().String() + "/ws"
	hs := &http.Server{Handler: r.Handler(), ReadHeaderTimeout: fuzzWait}
	wg.Go(func() { hs.Serve(wl) })

	callee, err := r.Connect(context.Background())
	if err != nil {
		tb.Fatalf("Connect: %v", err)
	}
	if err := peerJoin(callee); err != nil {
		tb.Fatalf("callee: %v", err)
	}
	callee.Send(context.Background(), &protocol.Register{Request: 1, Procedure: "com.fuzz.echo"})
	if m, err := peerRecv(callee); err != nil || m.Type() != protocol.TypeRegistered {
		tb.Fatalf("callee: got %v, %v, want REGISTERED", m, err)
	}
	wg.Go(func() {
		for {
			m, err := callee.Recv()
			if err != nil {
				return
			}
			if inv, ok := m.(*protocol.Invocation); ok {
				callee.Send(context.Background(), &protocol.Yield{Request: inv.Request, Args: inv.Args})
			}
		}
	})
	tb.Cleanup(func() {
		callee.Close(nil)
		r.Close()
		hs.Close()
		wg.Wait()
	})
	return fr
}

// peerRecv is Recv bounded by fuzzWait: the peer is closed if nothing
// arrives in time.
func peerRecv(p transport.Peer) (protocol.Message, error) {
	t := time.AfterFunc(fuzzWait, func() { p.Close(errors.New("integration: no message in time")) })
	defer t.Stop()
	return p.Recv()
}

// peerJoin says HELLO on p and waits for WELCOME.
func peerJoin(p transport.Peer) error {
	roles := protocol.Dict{"caller": protocol.Dict{}, "callee": protocol.Dict{}, "publisher": protocol.Dict{}, "subscriber": protocol.Dict{}}
	if err := p.Send(context.Background(), &protocol.Hello{Realm: realm1, Details: protocol.Dict{"roles": roles}}); err != nil {
		return err
	}
	m, err := peerRecv(p)
	if err != nil {
		return fmt.Errorf("waiting for WELCOME: %w", err)
	}
	if m.Type() != protocol.TypeWelcome {
		return fmt.Errorf("got %v, want WELCOME", m.Type())
	}
	return nil
}

// healthy requires a fresh client over p's transport kind to join and
// complete a call of com.fuzz.echo.
func (fr *fuzzRouter) healthy(t *testing.T, dial func(ctx context.Context) (transport.Peer, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), fuzzWait)
	defer cancel()
	p, err := dial(ctx)
	if err != nil {
		t.Fatalf("router no longer serving: dial: %v", err)
	}
	defer p.Close(nil)
	if err := peerJoin(p); err != nil {
		t.Fatalf("router no longer serving: join: %v", err)
	}
	p.Send(ctx, &protocol.Call{Request: 1, Procedure: "com.fuzz.echo", Args: protocol.List{"ok"}})
	m, err := peerRecv(p)
	if err != nil {
		t.Fatalf("router no longer serving: call: %v", err)
	}
	if res, ok := m.(*protocol.Result); !ok || res.Request != 1 || len(res.Args) != 1 || res.Args[0] != "ok" {
		t.Fatalf("router no longer serving: call answered with %v %+v", m.Type(), m)
	}
}

// fuzzSerializer picks a serializer from bits 1-2 of the mode byte.
func fuzzSerializer(mode byte) serialize.Serializer {
	switch (mode >> 1) & 3 {
	case 1:
		return serialize.MessagePack
	case 2:
		return serialize.CBOR
	}
	return serialize.JSON
}

// fuzzHello returns a valid HELLO in s.
func fuzzHello(tb testing.TB, s serialize.Serializer) []byte {
	b, err := s.Codec().Encode(nil, &protocol.Hello{Realm: realm1, Details: protocol.Dict{"roles": protocol.Dict{
		"caller": protocol.Dict{}, "callee": protocol.Dict{}, "publisher": protocol.Dict{}, "subscriber": protocol.Dict{}}}})
	if err != nil {
		tb.Fatalf("encode HELLO: %v", err)
	}
	return b
}

// drain reads what the router answers until it closes the connection or
// stays silent for a moment; it only keeps the router from waiting on a
// full socket buffer.
func drain(c net.Conn) {
	buf := make([]byte, 64<<10)
	for {
		c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}

// rsFrame is a RawSocket frame of type typ.
func rsFrame(typ byte, payload []byte) []byte {
	h := make([]byte, 4, 4+len(payload))
	binary.BigEndian.PutUint32(h, uint32(len(payload)))
	h[0] = typ
	return append(h, payload...)
}

// FuzzRawSocketBytes writes raw bytes into a RawSocket connection of a
// live router after a valid handshake. The first byte selects the
// serializer (bits 1-2) and whether a valid HELLO is sent first (bit 0);
// the rest goes to the socket as it is. After every input a fresh client
// must still complete a call over RawSocket.
func FuzzRawSocketBytes(f *testing.F) {
	j := func(s string) []byte { return []byte(s) }
	seeds := [][]byte{
		append([]byte{1}, rsFrame(0, j(`[48,1,{},"com.fuzz.echo",[1]]`))...),
		append([]byte{1}, rsFrame(0, j(`[32,1,{"match":"prefix"},"com"]`))...),
		append([]byte{0}, rsFrame(0, j(rawHello))...),
		append([]byte{1}, rsFrame(1, j("ping"))...),
		append([]byte{1}, rsFrame(3, j("bad type"))...),
		append([]byte{1}, 0xf0, 0, 0, 4, '[', '1', ']', ' '),
		append([]byte{1}, 0x00, 0xff, 0xff, 0xff, '['),
		append([]byte{1}, rsFrame(0, nil)...),
		append([]byte{1}, rsFrame(0, j("\xff\xfe"))...),
		append([]byte{3}, rsFrame(0, []byte{0x94, 0x30, 0x01, 0x80, 0xad})...),
		append([]byte{5}, rsFrame(0, []byte{0x84, 0x18, 0x30, 0x01, 0xa0, 0x60})...),
		append([]byte{1}, append(rsFrame(0, j(`[70,1,{},[]]`)), rsFrame(0, j(`[6,{},"wamp.close.goodbye_and_out"]`))...)...),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	fr := startFuzzRouter(f)
	dial := func(ctx context.Context) (transport.Peer, error) {
		return transport.DialRawSocket(ctx, "tcp", fr.rawAddr, transport.RawSocketDialConfig{Serializer: serialize.MessagePack})
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		mode, rest := data[0], data[1:]
		ser := fuzzSerializer(mode)
		c, err := net.DialTimeout("tcp", fr.rawAddr, fuzzWait)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(fuzzWait))
		// Magic, 64 KiB maximum (L=7), serializer.
		if _, err := c.Write([]byte{0x7f, 0x70 | byte(ser), 0, 0}); err != nil {
			t.Fatalf("handshake: %v", err)
		}
		var reply [4]byte
		if _, err := io.ReadFull(c, reply[:]); err != nil || reply[0] != 0x7f || reply[1]&0x0f != byte(ser) {
			t.Fatalf("handshake reply % x, %v", reply, err)
		}
		if mode&1 != 0 {
			c.Write(rsFrame(0, fuzzHello(t, ser)))
		}
		c.Write(rest)
		drain(c)
		c.Close()
		fr.healthy(t, dial)
	})
}

// FuzzWebSocketBytes sends raw bytes into a WebSocket connection of a
// live router after a valid upgrade. The first byte selects the
// sub-protocol (bits 1-2: json, msgpack, cbor, json.batched), whether a
// valid HELLO is sent first (bit 0), and how the rest is sent (bit 3):
// written to the TCP stream as it is (the client's own framing, masked or
// not), or split at 0xff bytes into WebSocket messages (text for JSON,
// binary otherwise; bit 4 swaps). After every input a fresh client must
// still complete a call over WebSocket.
func FuzzWebSocketBytes(f *testing.F) {
	// A masked client frame with the all-zero mask key, so the payload is
	// readable: FIN+opcode, 0x80|length, 4 zero mask octets, payload.
	masked := func(op byte, payload string) []byte {
		return append([]byte{0x80 | op, 0x80 | byte(len(payload)), 0, 0, 0, 0}, payload...)
	}
	seeds := [][]byte{
		append([]byte{1}, `[48,1,{},"com.fuzz.echo",[1]]`...),
		append([]byte{1}, `[32,1,{},"com.a"]`+"\xff"+`[16,2,{"acknowledge":true},"com.a"]`...),
		append([]byte{0}, rawHello...),
		append([]byte{1}, "\xff\xff"...),
		append([]byte{1 | 6}, "[1,2]\x1e[48,1,{},\"com.fuzz.echo\"]\x1e"...),
		append([]byte{1 | 6}, "\x1e"...),
		append([]byte{1 | 16}, `[48,1,{},"com.fuzz.echo",[1]]`...),
		append([]byte{3}, 0x94, 0x30, 0x01, 0x80, 0xad),
		append([]byte{1 | 8}, masked(1, `[48,1,{},"com.fuzz.echo",[1]]`)...),
		append([]byte{1 | 8}, masked(9, "ping")...),
		append([]byte{1 | 8}, masked(8, "\x03\xe8")...),
		append([]byte{1 | 8}, 0x81, 0x05, 'h', 'e', 'l', 'l', 'o'),
		append([]byte{1 | 8}, 0x81, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff),
		append([]byte{1 | 8}, masked(0x71, "rsv")...),
		append([]byte{1 | 8}, 0x01, 0x83, 0, 0, 0, 0, '[', '4', '8'),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	fr := startFuzzRouter(f)
	dial := func(ctx context.Context) (transport.Peer, error) {
		return transport.DialWebSocket(ctx, fr.wsURL, transport.WebSocketDialConfig{Serializer: serialize.JSON})
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		mode, rest := data[0], data[1:]
		ser := fuzzSerializer(mode)
		sub := ser.SubProtocol()
		if (mode>>1)&3 == 3 {
			sub = serialize.JSONBatchedSubProtocol
		}
		ctx, cancel := context.WithTimeout(context.Background(), fuzzWait)
		defer cancel()
		d := websocket.Dialer{Subprotocols: []string{sub}}
		c, resp, err := d.DialContext(ctx, fr.wsURL, nil)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		resp.Body.Close()
		defer c.Close()
		if c.Subprotocol() != sub {
			t.Fatalf("sub-protocol %q, want %q", c.Subprotocol(), sub)
		}
		c.SetWriteDeadline(time.Now().Add(fuzzWait))
		text := ser == serialize.JSON
		if mode&16 != 0 {
			text = !text
		}
		typ := websocket.BinaryMessage
		if text {
			typ = websocket.TextMessage
		}
		if mode&1 != 0 {
			hello := fuzzHello(t, ser)
			if sub == serialize.JSONBatchedSubProtocol {
				hello = append(hello, 0x1e)
			}
			c.WriteMessage(map[bool]int{true: websocket.TextMessage, false: websocket.BinaryMessage}[ser == serialize.JSON], hello)
		}
		if mode&8 != 0 {
			c.NetConn().Write(rest)
		} else {
			start := 0
			for i := 0; i <= len(rest); i++ {
				if i == len(rest) || rest[i] == 0xff {
					if err := c.WriteMessage(typ, rest[start:i]); err != nil {
						break
					}
					start = i + 1
				}
			}
		}
		drain(c.NetConn())
		c.Close()
		fr.healthy(t, dial)
	})
}
