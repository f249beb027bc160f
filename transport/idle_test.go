package transport

import (
	"context"
	"errors"
	"runtime"
	"testing"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

// idlePairs connects n client peers to one server with dial, each with a
// goroutine in Recv on both ends as a session has, makes one round trip
// on each, and returns the heap and stack bytes the n idle pairs hold.
func idlePairs(t *testing.T, n int, dial func() Peer, serverPeers *serverPeers) float64 {
	t.Helper()
	var ms runtime.MemStats
	measure := func() uint64 {
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse + ms.StackInuse
	}
	done := make(chan struct{}, 2*n)
	recvAll := func(p Peer) {
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				if _, err := p.Recv(); errors.Is(err, ErrClosed) {
					return
				}
			}
		}()
	}
	var peers []Peer
	defer func() {
		for _, p := range peers {
			_ = p.Close(nil)
		}
		for range peers {
			<-done
		}
	}()
	before := measure()
	for i := range n {
		c := dial()
		s := serverPeers.next(t)
		peers = append(peers, c, s)
		if err := c.Send(context.Background(), &protocol.Publish{Request: protocol.ID(i + 1), Options: protocol.Dict{}, Topic: "com.example.t"}); err != nil {
			t.Fatal(err)
		}
		mustRecv(t, s)
		if err := s.Send(context.Background(), &protocol.Published{Request: protocol.ID(i + 1), Publication: 5}); err != nil {
			t.Fatal(err)
		}
		mustRecv(t, c)
		recvAll(c)
		recvAll(s)
	}
	// Let the writers that are still finishing end.
	for writerGoroutines() > 0 {
		runtime.Gosched()
	}
	return float64(measure()-before) / float64(n)
}

// TestIdlePeerMemory: an idle pair of network peers (client and server,
// each with a goroutine in Recv) holds no large buffer and no writer
// goroutine (issue 14): together at most idlePairBytes of heap and
// stacks, where a 32 KiB RawSocket read buffer, gorilla's 4 KiB buffers
// and a writer goroutine each held theirs before.
func TestIdlePeerMemory(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes the memory of goroutines")
	}
	const pairs = 200
	const idlePairBytes = 32 << 10
	t.Run("rawsocket", func(t *testing.T) {
		peers := newServerPeers()
		_, addr := rawServer(t, "tcp", RawSocketConfig{}, peers.handler)
		t.Cleanup(peers.stop) // before the server's cleanup
		per := idlePairs(t, pairs, func() Peer {
			c, err := DialRawSocket(testContext(t), "tcp", addr, RawSocketDialConfig{Serializer: serialize.MessagePack})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}, peers)
		t.Logf("%.0f bytes per idle RawSocket pair", per)
		if per > idlePairBytes {
			t.Errorf("an idle RawSocket pair holds %.0f bytes, want at most %d", per, idlePairBytes)
		}
	})
	t.Run("websocket", func(t *testing.T) {
		peers := newServerPeers()
		_, url := wsServer(t, WebSocketConfig{}, nil, peers.handler)
		t.Cleanup(peers.stop) // before the server's cleanup
		per := idlePairs(t, pairs, func() Peer {
			c, err := DialWebSocket(testContext(t), url, WebSocketDialConfig{Serializer: serialize.JSON})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}, peers)
		t.Logf("%.0f bytes per idle WebSocket pair", per)
		if per > idlePairBytes {
			t.Errorf("an idle WebSocket pair holds %.0f bytes, want at most %d", per, idlePairBytes)
		}
	})
}
