package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/gorilla/websocket"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

// WebSocketDialConfig configures [DialWebSocket]. The zero value is a valid
// configuration: wamp.2.json, 16 MiB messages, keep-alive pings every 30 s.
type WebSocketDialConfig struct {
	// PeerConfig holds the settings of the peer. Its MaxMessageSize is
	// the largest WebSocket message accepted from the router (by default
	// 16 MiB); a larger one is answered with close code 1009 and ends the
	// session.
	PeerConfig
	// Serializer is the serializer to ask for. Zero means serialize.JSON.
	Serializer serialize.Serializer
	// Batched asks for wamp.2.json.batched; Serializer must be JSON.
	Batched bool
	// TLSConfig is used for wss:// URLs. nil means the zero tls.Config.
	TLSConfig *tls.Config
	// Header holds extra HTTP headers for the upgrade request (e.g.
	// Origin, Authorization, Cookie).
	Header http.Header
	// EnableCompression offers permessage-deflate (RFC 7692);
	// MaxMessageSize applies to the inflated message.
	EnableCompression bool
}

// DialWebSocket connects to a WAMP-over-WebSocket router at url (ws:// or
// wss://) and negotiates the sub-protocol of cfg.Serializer. ctx bounds the
// dial and the handshake only; it does not affect the returned peer. A
// refused upgrade wraps [ErrHandshake] and quotes the HTTP status and body.
//
// The caller owns the returned peer and must Close it.
func DialWebSocket(ctx context.Context, url string, cfg WebSocketDialConfig) (Peer, error) {
	ser := cfg.Serializer
	if ser == 0 {
		ser = serialize.JSON
	}
	if ser.Codec() == nil {
		return nil, fmt.Errorf("transport: websocket dial: unknown serializer %v", ser)
	}
	proto := ser.SubProtocol()
	if cfg.Batched {
		if ser != serialize.JSON {
			return nil, fmt.Errorf("transport: websocket dial: batching is only supported with JSON, not %v", ser)
		}
		proto = serialize.JSONBatchedSubProtocol
	}
	pcfg := cfg.PeerConfig.withDefaults(defaultDialMaxMessageSize)
	ctx, cancel := context.WithTimeout(ctx, pcfg.HandshakeTimeout)
	defer cancel()
	var cork *corkConn
	d := websocket.Dialer{
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var nd net.Dialer
			c, err := nd.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			cork = newCorkConn(c, pcfg.WriteTimeout)
			return cork, nil
		},
		ReadBufferSize:    peekBuffer,
		WriteBufferPool:   &wsWriteBuffers,
		Proxy:             http.ProxyFromEnvironment,
		HandshakeTimeout:  pcfg.HandshakeTimeout,
		TLSClientConfig:   cfg.TLSConfig,
		Subprotocols:      []string{proto},
		EnableCompression: cfg.EnableCompression,
	}
	ws, resp, err := d.DialContext(ctx, url, cfg.Header)
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			_ = resp.Body.Close()
			return nil, fmt.Errorf("transport: websocket dial %s: %w: HTTP %s: %s",
				url, ErrHandshake, resp.Status, bytes.TrimSpace(body))
		}
		return nil, fmt.Errorf("transport: websocket dial %s: %w", url, err)
	}
	if got := ws.Subprotocol(); got != proto {
		_ = ws.Close()
		return nil, fmt.Errorf("transport: websocket dial %s: %w: server chose sub-protocol %q, asked for %q",
			url, ErrHandshake, got, proto)
	}
	details := protocol.Dict{
		"type":       "websocket",
		"serializer": ser.String(),
		"protocol":   proto,
		"peer":       peerAddr(ws.RemoteAddr()),
	}
	return newWSPeer(ws, cork, pcfg, ser, cfg.Batched, details), nil
}
