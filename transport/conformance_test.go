package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

// pairCase makes a connected (client, server) pair of peers for one
// transport and serializer; cleanup is registered on tb.
type pairCase struct {
	name string
	make func(tb testing.TB) (client, server Peer)
}

var serializers = []serialize.Serializer{serialize.JSON, serialize.MessagePack, serialize.CBOR}

func pairCases() []pairCase {
	cases := []pairCase{{
		name: "local",
		make: func(tb testing.TB) (Peer, Peer) {
			a, b := LocalPair(0)
			tb.Cleanup(func() { _ = a.Close(nil) })
			return a, b
		},
	}}
	for _, ser := range serializers {
		cases = append(cases, pairCase{
			name: "websocket/" + ser.SubProtocol(),
			make: func(tb testing.TB) (Peer, Peer) {
				return wsPair(tb, WebSocketConfig{}, WebSocketDialConfig{Serializer: ser}, false)
			},
		})
	}
	cases = append(cases, pairCase{
		name: "websocket/" + serialize.JSONBatchedSubProtocol,
		make: func(tb testing.TB) (Peer, Peer) {
			return wsPair(tb, WebSocketConfig{}, WebSocketDialConfig{Batched: true}, false)
		},
	}, pairCase{
		name: "websocket-deflate/wamp.2.json",
		make: func(tb testing.TB) (Peer, Peer) {
			return wsPair(tb, WebSocketConfig{EnableCompression: true}, WebSocketDialConfig{EnableCompression: true}, false)
		},
	}, pairCase{
		name: "websocket-tls/wamp.2.msgpack",
		make: func(tb testing.TB) (Peer, Peer) {
			return wsPair(tb, WebSocketConfig{}, WebSocketDialConfig{Serializer: serialize.MessagePack}, true)
		},
	})
	for _, network := range []string{"tcp", "unix", "tls"} {
		for _, ser := range serializers {
			cases = append(cases, pairCase{
				name: fmt.Sprintf("rawsocket-%s/%v", network, ser),
				make: func(tb testing.TB) (Peer, Peer) {
					return rawPair(tb, network, RawSocketConfig{}, RawSocketDialConfig{Serializer: ser})
				},
			})
		}
	}
	return cases
}

// wsPair dials a fresh WebSocket server.
func wsPair(tb testing.TB, scfg WebSocketConfig, dcfg WebSocketDialConfig, useTLS bool) (Peer, Peer) {
	tb.Helper()
	peers := newServerPeers()
	var srvTLS = (*tlsPair)(nil)
	if useTLS {
		s, c := testCert(tb)
		srvTLS = &tlsPair{s, c}
		dcfg.TLSConfig = c
	}
	var url string
	if srvTLS != nil {
		_, url = wsServer(tb, scfg, srvTLS.server, peers.handler)
	} else {
		_, url = wsServer(tb, scfg, nil, peers.handler)
	}
	tb.Cleanup(peers.stop) // runs before the server's cleanup
	c, err := DialWebSocket(testContext(tb), url, dcfg)
	if err != nil {
		tb.Fatalf("DialWebSocket() error = %v", err)
	}
	tb.Cleanup(func() { _ = c.Close(nil) })
	return c, peers.next(tb)
}

type tlsPair struct{ server, client *tls.Config }

// rawPair dials a fresh RawSocket server over "tcp", "unix" or "tls".
func rawPair(tb testing.TB, network string, scfg RawSocketConfig, dcfg RawSocketDialConfig) (Peer, Peer) {
	tb.Helper()
	peers := newServerPeers()
	listen := network
	if network == "tls" {
		s, c := testCert(tb)
		scfg.TLSConfig = s
		dcfg.TLSConfig = c
		listen = "tcp"
	}
	_, addr := rawServer(tb, listen, scfg, peers.handler)
	tb.Cleanup(peers.stop)
	c, err := DialRawSocket(testContext(tb), listen, addr, dcfg)
	if err != nil {
		tb.Fatalf("DialRawSocket() error = %v", err)
	}
	tb.Cleanup(func() { _ = c.Close(nil) })
	return c, peers.next(tb)
}

// TestConformance sends every message type in both directions over every
// transport and serializer and requires it to arrive unchanged.
func TestConformance(t *testing.T) {
	for _, tc := range pairCases() {
		t.Run(tc.name, func(t *testing.T) {
			client, server := tc.make(t)
			for _, dir := range []struct {
				name     string
				from, to Peer
			}{{"client-to-server", client, server}, {"server-to-client", server, client}} {
				for _, want := range allMessages() {
					if err := dir.from.Send(context.Background(), want); err != nil {
						t.Fatalf("%s: Send(%T) error = %v", dir.name, want, err)
					}
					got := mustRecv(t, dir.to)
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("%s: %T mismatch (-want +got):\n%s", dir.name, want, diff)
					}
				}
			}
			// Shared messages arrive as their inner message.
			want := allMessages()[13]
			if err := server.Send(context.Background(), serialize.NewShared(want)); err != nil {
				t.Fatalf("Send(Shared) error = %v", err)
			}
			if diff := cmp.Diff(want, mustRecv(t, client)); diff != "" {
				t.Errorf("Shared mismatch (-want +got):\n%s", diff)
			}
			// Each end counts what it accepted to send; a refused
			// message is not counted.
			n := uint64(len(allMessages()))
			for _, c := range []struct {
				p    Peer
				want uint64
			}{{client, n}, {server, n + 1}} {
				sc, ok := c.p.(SendCounter)
				if !ok {
					t.Fatalf("%T does not implement SendCounter", c.p)
				}
				if err := c.p.Send(context.Background(), nil); err == nil {
					t.Errorf("Send(nil) = nil, want an error")
				}
				if got := sc.MessagesSent(); got != c.want {
					t.Errorf("%T.MessagesSent() = %d, want %d", c.p, got, c.want)
				}
			}
			d, ok := client.(Detailer)
			if !ok {
				t.Fatalf("%T does not implement Detailer", client)
			}
			if typ := d.TransportDetails()["type"]; typ == nil {
				t.Errorf("TransportDetails() = %v, want a type", d.TransportDetails())
			}
		})
	}
}

// TestCloseFlushes checks that Close delivers what was queued and that the
// other end then observes the close.
func TestCloseFlushes(t *testing.T) {
	for _, tc := range pairCases() {
		t.Run(tc.name, func(t *testing.T) {
			client, server := tc.make(t)
			const n = 50
			for i := range n {
				if err := client.Send(context.Background(), &protocol.Published{Request: protocol.ID(i + 1), Publication: 1}); err != nil {
					t.Fatalf("Send(%d) error = %v", i, err)
				}
			}
			reason := errors.New("test is done")
			if err := client.Close(reason); err != nil {
				t.Fatalf("Close() error = %v", err)
			}
			if err := client.Send(context.Background(), &protocol.Published{Request: 1, Publication: 1}); !errors.Is(err, ErrClosed) {
				t.Errorf("Send after Close = %v, want ErrClosed", err)
			}
			if _, err := client.Recv(); !errors.Is(err, ErrClosed) {
				t.Errorf("Recv after Close = %v, want ErrClosed", err)
			}
			got, err := recvClosed(t, server)
			if len(got) != n {
				t.Errorf("server received %d messages before the close, want %d", len(got), n)
			}
			for i, m := range got {
				if p, ok := m.(*protocol.Published); !ok || p.Request != protocol.ID(i+1) {
					t.Fatalf("message %d = %#v, want Published{Request: %d}", i, m, i+1)
				}
			}
			if !errors.Is(err, ErrClosed) {
				t.Errorf("server Recv after close = %v, want ErrClosed", err)
			}
			if n := strings.Count(fmt.Sprint(err), "transport:"); n != 1 {
				t.Errorf("server Recv after close = %q, want %q once", err, "transport:")
			}
			if tc.name == "local" && !errors.Is(err, reason) {
				t.Errorf("server Recv after close = %v, want the close reason", err)
			}
			// WebSocket carries the reason in the close frame.
			if strings.HasPrefix(tc.name, "websocket") && !strings.Contains(fmt.Sprint(err), reason.Error()) {
				t.Errorf("server Recv after close = %v, want it to quote %q", err, reason)
			}
			if err := server.Send(context.Background(), &protocol.Published{Request: 1, Publication: 1}); err != nil && !errors.Is(err, ErrClosed) {
				t.Errorf("server Send after close = %v, want nil or ErrClosed", err)
			}
		})
	}
}
