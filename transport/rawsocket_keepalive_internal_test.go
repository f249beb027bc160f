package transport

import (
	"testing"
	"time"
)

// TestRawSocketPingsOffByDefault: RawSocket PING frames are sent only when
// asked for. Autobahn|Python's asyncio RawSocket transport fails the
// connection on a PING (its ping raises NotImplementedError) and its
// Twisted one reads a PING's header as a message length, so a default
// PingInterval would cut every idle Python client after 30 s. A WebSocket
// keeps its 30 s default: every WebSocket library answers pings.
func TestRawSocketPingsOffByDefault(t *testing.T) {
	var s RawSocketServer
	s.mu.Lock()
	s.initLocked()
	s.mu.Unlock()
	if got := s.peer.PingInterval; got >= 0 {
		t.Errorf("RawSocketServer's default PingInterval %v, want keep-alive pings off", got)
	}
	if got := rawSocketPeerConfig(PeerConfig{}, defaultDialMaxMessageSize).PingInterval; got >= 0 {
		t.Errorf("DialRawSocket's default PingInterval %v, want keep-alive pings off", got)
	}
	if got := rawSocketPeerConfig(PeerConfig{PingInterval: time.Second}, defaultDialMaxMessageSize).PingInterval; got != time.Second {
		t.Errorf("an explicit PingInterval became %v", got)
	}
	var ws WebSocketServer
	ws.init()
	if got := ws.peer.PingInterval; got != defaultPingInterval {
		t.Errorf("WebSocketServer's default PingInterval %v, want %v", got, defaultPingInterval)
	}
}
