package transport

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

// TestKeepAliveLive: two live peers that both keep reading answer each
// other's pings, so aggressive keep-alive settings do not end an idle
// session.
func TestKeepAliveLive(t *testing.T) {
	// Generous PongTimeout, so that a loaded machine does not fail the
	// test; the idle time below is still well past PingInterval+PongTimeout,
	// so only answered pings keep the session up.
	const ping, pong = 25 * time.Millisecond, 300 * time.Millisecond
	tests := []struct {
		name string
		make func(tb testing.TB) (Peer, Peer)
	}{
		{"websocket", func(tb testing.TB) (Peer, Peer) {
			return wsPair(tb, WebSocketConfig{PeerConfig: PeerConfig{PingInterval: ping, PongTimeout: pong}},
				WebSocketDialConfig{Serializer: serialize.CBOR, PeerConfig: PeerConfig{PingInterval: ping, PongTimeout: pong}}, false)
		}},
		{"rawsocket", func(tb testing.TB) (Peer, Peer) {
			return rawPair(tb, "tcp", RawSocketConfig{PeerConfig: PeerConfig{PingInterval: ping, PongTimeout: pong}},
				RawSocketDialConfig{PeerConfig: PeerConfig{PingInterval: ping, PongTimeout: pong}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server := tt.make(t)
			// The server's session goroutine reads (and so answers pings).
			serverErr := make(chan error, 1)
			go func() {
				for {
					if _, err := server.Recv(); err != nil {
						serverErr <- err
						return
					}
				}
			}()
			clientGot := make(chan recvResult, 1)
			go func() {
				m, err := client.Recv()
				clientGot <- recvResult{m, err}
			}()
			// Idle for many ping intervals (not an assertion on time: the
			// session must survive however long this takes).
			time.Sleep(2 * (ping + pong))
			if err := server.Send(context.Background(), &protocol.Published{Request: 1, Publication: 2}); err != nil {
				select {
				case rerr := <-serverErr:
					t.Fatalf("Send() after idling = %v; server Recv() = %v", err, rerr)
				default:
					t.Fatalf("Send() after idling = %v", err)
				}
			}
			r := within(t, clientGot)
			if r.err != nil {
				t.Fatalf("client Recv() after idling = %v", r.err)
			}
			_ = client.Close(nil)
			if err := within(t, serverErr); !errors.Is(err, ErrClosed) || errors.Is(err, ErrKeepAlive) {
				t.Errorf("server Recv() = %v, want ErrClosed from the client's close", err)
			}
		})
	}
}

// TestCloseStalled: Close on a peer whose other end does not read gives up
// the flush at CloseTimeout (much shorter than WriteTimeout here) and
// returns; the connection is closed.
func TestCloseStalled(t *testing.T) {
	peers := newServerPeers()
	_, addr := rawServer(t, "tcp", RawSocketConfig{PeerConfig: PeerConfig{QueueSize: 64, WriteTimeout: time.Hour, CloseTimeout: 50 * time.Millisecond, PingInterval: -1}}, peers.handler)
	t.Cleanup(peers.stop)
	c := dialRaw(t, addr)
	rawHandshake(t, c)
	p := peers.next(t)
	big := &protocol.Event{Subscription: 1, Publication: 1, Details: protocol.Dict{"e": ""}, Args: protocol.List{strings.Repeat("x", 256<<10)}}
	for range 64 { // 16 MiB: more than the socket buffers hold
		if err := p.Send(context.Background(), big); err != nil && !errors.Is(err, ErrQueueFull) {
			t.Fatal(err)
		}
	}
	closed := make(chan error, 1)
	go func() { closed <- p.Close(nil) }()
	if err := within(t, closed); err != nil {
		t.Errorf("Close() = %v", err)
	}
	if err := p.Send(context.Background(), big); !errors.Is(err, ErrClosed) {
		t.Errorf("Send() after Close = %v, want ErrClosed", err)
	}
}
