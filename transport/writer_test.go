package transport

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

// writerGoroutines counts the goroutines of this package that are in a
// peer's writer loop.
func writerGoroutines() int {
	n := 0
	for _, g := range strings.Split(allStacks(), "\n\n") {
		if strings.Contains(g, "wampkit/transport.") && strings.Contains(g, "writeLoop") {
			n++
		}
	}
	return n
}

// TestIdlePeerHasNoWriter: an idle network peer holds no writer
// goroutine (issue 14: an idle session should hold nothing beyond its
// reader). After a round trip each way, with keep-alive on, both ends of
// every network transport, TLS included, end up with none, and the peers
// still work.
func TestIdlePeerHasNoWriter(t *testing.T) {
	for _, tc := range pairCases() {
		if tc.name == "local" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			client, server := tc.make(t)
			for i := range 3 {
				if err := client.Send(context.Background(), &protocol.Publish{Request: protocol.ID(i + 1), Options: protocol.Dict{}, Topic: "com.example.t"}); err != nil {
					t.Fatal(err)
				}
				mustRecv(t, server)
				if err := server.Send(context.Background(), &protocol.Published{Request: protocol.ID(i + 1), Publication: 5}); err != nil {
					t.Fatal(err)
				}
				mustRecv(t, client)
			}
			deadline := time.Now().Add(testWait)
			for writerGoroutines() > 0 {
				if time.Now().After(deadline) {
					t.Fatalf("%d writer goroutines still running for idle peers:\n%s", writerGoroutines(), allStacks())
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
}

// TestLoneMessageWrittenInline: over TCP, Unix sockets and plain
// WebSocket, a message sent to a peer whose writer is idle is written by
// the sender itself, without starting a writer goroutine (issue 14, the
// lone round trip: no goroutine hand-off when the destination's writer is
// idle).
func TestLoneMessageWrittenInline(t *testing.T) {
	for _, tc := range pairCases() {
		if tc.name == "local" || strings.Contains(tc.name, "tls") {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			client, server := tc.make(t)
			// Round trips in one process come faster than the gap that
			// tells a lone message from a stream.
			core(client).inlineGap = 0
			core(server).inlineGap = 0
			before := writersStarted(client) + writersStarted(server)
			for i := range 100 {
				if err := client.Send(context.Background(), &protocol.Publish{Request: protocol.ID(i + 1), Options: protocol.Dict{}, Topic: "com.example.t"}); err != nil {
					t.Fatal(err)
				}
				mustRecv(t, server)
				if err := server.Send(context.Background(), &protocol.Published{Request: protocol.ID(i + 1), Publication: 5}); err != nil {
					t.Fatal(err)
				}
				mustRecv(t, client)
			}
			if n := writersStarted(client) + writersStarted(server) - before; n != 0 {
				t.Errorf("%d writer goroutines started for 200 lone messages, want 0", n)
			}
		})
	}
}

// writersStarted returns how many writer goroutines p has started.
func writersStarted(p Peer) uint64 { return core(p).writers.Load() }

// core returns the peerCore of a network peer.
func core(p Peer) *peerCore {
	switch p := p.(type) {
	case *rawPeer:
		return &p.peerCore
	case *wsPeer:
		return &p.peerCore
	}
	panic("transport: not a network peer")
}

// TestInlineWriteAfterDeadline: a message written inline long after the
// writer goroutine's last write, whose deadline has passed, is still
// written (the net package refuses every write past a deadline, even a
// non-blocking one); the peer must not fail. Found by the integration
// suite: sessions idle in writing for more than WriteTimeout were closed
// by their next lone message.
func TestInlineWriteAfterDeadline(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(tb testing.TB) (Peer, Peer)
	}{
		{"rawsocket", func(tb testing.TB) (Peer, Peer) {
			return rawPair(tb, "tcp", RawSocketConfig{PeerConfig: PeerConfig{WriteTimeout: time.Millisecond}},
				RawSocketDialConfig{Serializer: serialize.MessagePack})
		}},
		{"websocket", func(tb testing.TB) (Peer, Peer) {
			return wsPair(tb, WebSocketConfig{PeerConfig: PeerConfig{WriteTimeout: time.Millisecond}},
				WebSocketDialConfig{Serializer: serialize.MessagePack}, false)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, server := tc.make(t)
			core(server).inlineGap = 0
			// The shared encoding of an EVENT goes through the writer
			// goroutine, which sets a write deadline 1 ms ahead.
			ev := serialize.NewShared(&protocol.Event{Subscription: 1, Publication: 2, Details: protocol.Dict{}})
			if err := server.Send(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
			mustRecv(t, client)
			deadline := time.Now().Add(testWait)
			for writerGoroutines() > 0 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			time.Sleep(5 * time.Millisecond) // past the deadline
			for i := range 3 {
				if err := server.Send(context.Background(), &protocol.Published{Request: protocol.ID(i + 1), Publication: 5}); err != nil {
					t.Fatalf("Send %d: %v", i, err)
				}
				if m := mustRecv(t, client); m.(*protocol.Published).Request != protocol.ID(i+1) {
					t.Fatalf("Recv %d = %v", i, m)
				}
			}
		})
	}
}
