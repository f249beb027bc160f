package transport

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

// TestDefaultMaxMessageSize: the servers accept at most 1 MiB by default
// (a 16 MiB message of small elements costs far more than 16 MiB to
// decode), the dialers keep 16 MiB, as PeerConfig.MaxMessageSize says.
func TestDefaultMaxMessageSize(t *testing.T) {
	t.Run("rawsocket server announces 1 MiB", func(t *testing.T) {
		peers := newServerPeers()
		_, addr := rawServer(t, "tcp", RawSocketConfig{}, peers.handler)
		t.Cleanup(peers.stop)
		c := dialRaw(t, addr)
		if _, err := c.Write([]byte{0x7F, 0xF1, 0, 0}); err != nil {
			t.Fatal(err)
		}
		var rep [4]byte
		if _, err := io.ReadFull(c, rep[:]); err != nil {
			t.Fatal(err)
		}
		if want := [4]byte{0x7F, 0xB1, 0, 0}; rep != want { // 2^(9+11) = 1 MiB, JSON
			t.Errorf("reply = % x, want % x", rep, want)
		}
	})
	t.Run("rawsocket dialer announces 16 MiB", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		got := make(chan [4]byte, 1)
		go func() {
			var req [4]byte
			c, err := l.Accept()
			if err == nil {
				_, _ = io.ReadFull(c, req[:])
				c.Close()
			}
			got <- req
		}()
		if p, err := DialRawSocket(testContext(t), "tcp", l.Addr().String(), RawSocketDialConfig{}); err == nil {
			p.Close(nil)
		}
		if req := within(t, got); req[1]>>4 != 15 {
			t.Errorf("dial request % x announces 2^(9+%d), want 16 MiB (15)", req, req[1]>>4)
		}
	})
	big := func(n int) *protocol.Event {
		// A MessagePack EVENT of exactly n bytes (n > 64 KiB): 11 bytes
		// of envelope around a str32.
		return &protocol.Event{Subscription: 1, Publication: 2, Details: protocol.Dict{}, Args: protocol.List{strings.Repeat("x", n-11)}}
	}
	if b, _ := serialize.MessagePack.Codec().Encode(nil, big(1<<20)); len(b) != 1<<20 {
		t.Fatalf("test message is %d bytes, want %d", len(b), 1<<20)
	}
	t.Run("websocket server", func(t *testing.T) {
		client, server := wsPair(t, WebSocketConfig{}, WebSocketDialConfig{Serializer: serialize.MessagePack}, false)
		if err := client.Send(context.Background(), big(1<<20)); err != nil {
			t.Fatal(err)
		}
		if m := mustRecv(t, server); m.Type() != protocol.TypeEvent {
			t.Fatalf("Recv() = %v, want the 1 MiB EVENT", m)
		}
		if err := client.Send(context.Background(), big(1<<20+1)); err != nil {
			t.Fatal(err)
		}
		if _, err := recvWithin(t, server); !errors.Is(err, ErrMessageTooBig) {
			t.Errorf("Recv() of 1 MiB + 1 = %v, want ErrMessageTooBig", err)
		}
	})
	t.Run("websocket dialer", func(t *testing.T) {
		client, server := wsPair(t, WebSocketConfig{}, WebSocketDialConfig{Serializer: serialize.MessagePack}, false)
		if err := server.Send(context.Background(), big(4<<20)); err != nil {
			t.Fatal(err)
		}
		if m := mustRecv(t, client); m.Type() != protocol.TypeEvent {
			t.Fatalf("Recv() = %v, want the 4 MiB EVENT", m)
		}
	})
}
