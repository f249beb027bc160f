package client

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/url"
	"strings"

	"github.com/wampkit/wampkit/serialize"
	"github.com/wampkit/wampkit/transport"
)

// Dial connects to the router at rawURL and joins cfg.Realm (see [Join]).
// The URL scheme selects the transport (see the package documentation,
// "URL schemes"):
//
//	ws://host:port/path, wss://host:port/path   WebSocket (wss: over TLS)
//	tcp://host:port, tcps://host:port           RawSocket over TCP (tcps: over TLS)
//	unix:///path/to/socket, unix:path           RawSocket over a Unix socket
//
// rs:// and rss:// are accepted as synonyms of tcp:// and tcps://.
// cfg.Serializer chooses the serializer; zero means JSON for WebSocket and
// MessagePack for RawSocket. cfg.TLSConfig is used for wss and tcps.
// ctx bounds connecting and joining; the session, once joined, does not
// depend on it. On failure the connection is closed. An unusable URL
// returns an error wrapping [ErrBadURL].
func Dial(ctx context.Context, rawURL string, cfg Config) (*Client, error) {
	if cfg.Realm == "" {
		return nil, ErrNoRealm
	}
	peer, err := dialPeer(ctx, rawURL, cfg)
	if err != nil {
		return nil, err
	}
	return Join(ctx, peer, cfg)
}

func dialPeer(ctx context.Context, rawURL string, cfg Config) (transport.Peer, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrBadURL, rawURL, err)
	}
	ser := cfg.Serializer
	switch scheme := strings.ToLower(u.Scheme); scheme {
	case "ws", "wss":
		if ser == 0 {
			ser = serialize.JSON
		}
		return transport.DialWebSocket(ctx, rawURL, transport.WebSocketDialConfig{
			Serializer: ser,
			TLSConfig:  cfg.TLSConfig,
			Header:     cfg.Header,
			PeerConfig: transport.PeerConfig{Logger: cfg.Logger},
		})
	case "tcp", "tcps", "rs", "rss", "unix":
		if ser == 0 {
			ser = serialize.MessagePack
		}
		rc := transport.RawSocketDialConfig{Serializer: ser, PeerConfig: transport.PeerConfig{Logger: cfg.Logger}}
		network, address := "tcp", u.Host
		switch scheme {
		case "tcps", "rss":
			rc.TLSConfig = cfg.TLSConfig
			if rc.TLSConfig == nil {
				rc.TLSConfig = &tls.Config{}
			}
		case "unix":
			network, address = "unix", u.Path
			if u.Opaque != "" {
				address = u.Opaque // unix:relative/path
			}
			if u.Host != "" {
				return nil, fmt.Errorf("%w %q: unix URLs take a path, not a host (unix:///path)", ErrBadURL, rawURL)
			}
		}
		if address == "" {
			return nil, fmt.Errorf("%w %q: no address", ErrBadURL, rawURL)
		}
		if network == "tcp" && u.Path != "" && u.Path != "/" {
			return nil, fmt.Errorf("%w %q: RawSocket URLs have no path", ErrBadURL, rawURL)
		}
		return transport.DialRawSocket(ctx, network, address, rc)
	default:
		return nil, fmt.Errorf("%w %q: scheme must be ws, wss, tcp, tcps or unix", ErrBadURL, rawURL)
	}
}
