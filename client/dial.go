package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

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
// returns an error wrapping [ErrBadURL]; so does a URL whose port speaks
// another protocol, with the scheme to use: a tcp:// URL whose port
// speaks TLS or HTTP (found out when the RawSocket handshake fails or has
// no answer within a second), or a ws:// URL whose port speaks RawSocket.
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
		p, err := transport.DialWebSocket(ctx, rawURL, transport.WebSocketDialConfig{
			Serializer: ser,
			TLSConfig:  cfg.TLSConfig,
			Header:     cfg.Header,
			PeerConfig: transport.PeerConfig{Logger: cfg.Logger},
		})
		// A server that answered in HTTP (an error wrapping ErrHandshake)
		// speaks HTTP; one that did not may speak RawSocket.
		if err != nil && scheme == "ws" && !errors.Is(err, transport.ErrHandshake) &&
			ctx.Err() == nil && probeRawSocket(ctx, u.Host) {
			return nil, fmt.Errorf("%w %q: the port speaks RawSocket: use tcp://", ErrBadURL, rawURL)
		}
		return p, err
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
		if rc.TLSConfig == nil && network == "tcp" {
			return dialDiagnosed(ctx, rawURL, address, rc)
		}
		return transport.DialRawSocket(ctx, network, address, rc)
	default:
		return nil, fmt.Errorf("%w %q: scheme must be ws, wss, tcp, tcps or unix", ErrBadURL, rawURL)
	}
}

// probeAfter is how long a RawSocket handshake over plain TCP may take
// before Dial asks the port what it speaks. A RawSocket router answers
// the handshake at once; a TLS or HTTP server waits for more bytes and
// would let the handshake run into its timeout.
const probeAfter = time.Second

// probeTimeout bounds each probe of dialDiagnosed.
const probeTimeout = 3 * time.Second

// dialDiagnosed dials RawSocket over plain TCP. When the handshake fails
// (but not with a RawSocket router's refusal), or does not finish within
// probeAfter, it probes the port: if the port speaks TLS or HTTP, the
// error (wrapping ErrBadURL) says which scheme to use instead of
// reporting a timeout or a bad handshake byte.
func dialDiagnosed(ctx context.Context, rawURL, address string, rc transport.RawSocketDialConfig) (transport.Peer, error) {
	type result struct {
		p   transport.Peer
		err error
	}
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan result, 1)
	go func() {
		p, err := transport.DialRawSocket(dctx, "tcp", address, rc)
		ch <- result{p, err}
	}()
	t := time.NewTimer(probeAfter)
	defer t.Stop()
	select {
	case r := <-ch:
		// A refusal (*RawSocketError) came from a RawSocket router: there
		// is nothing to find out, and probing a full router would only
		// add to its load.
		var refused *transport.RawSocketError
		if r.err != nil && errors.Is(r.err, transport.ErrHandshake) && !errors.As(r.err, &refused) && ctx.Err() == nil {
			if hint := probe(ctx, address); hint != "" {
				return nil, fmt.Errorf("%w %q: %s", ErrBadURL, rawURL, hint)
			}
		}
		return r.p, r.err
	case <-t.C:
	}
	if hint := probe(ctx, address); hint != "" {
		cancel()
		if r := <-ch; r.p != nil {
			r.p.Close(nil)
		}
		return nil, fmt.Errorf("%w %q: %s", ErrBadURL, rawURL, hint)
	}
	r := <-ch
	return r.p, r.err
}

// probe asks the TCP port at address whether it speaks TLS or HTTP, and
// returns a hint such as "the port speaks TLS: use tcps://", or "" if it
// cannot tell.
func probe(ctx context.Context, address string) string {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var d net.Dialer
	// TLS first: a TLS server answers a ClientHello. Offering HTTP in
	// ALPN tells an HTTPS server (wss://) from RawSocket over TLS.
	if conn, err := d.DialContext(ctx, "tcp", address); err == nil {
		host, _, _ := net.SplitHostPort(address)
		tc := tls.Client(conn, &tls.Config{
			ServerName:         host,
			InsecureSkipVerify: true, // only asking what the port speaks; nothing is sent
			NextProtos:         []string{"http/1.1"},
		})
		err := tc.HandshakeContext(ctx)
		proto := tc.ConnectionState().NegotiatedProtocol
		tc.Close()
		var alert tls.AlertError
		switch {
		case err == nil && proto == "http/1.1":
			return "the port speaks HTTPS: use wss://"
		case err == nil || errors.As(err, &alert):
			return "the port speaks TLS: use tcps://"
		}
		var rh tls.RecordHeaderError
		if errors.As(err, &rh) && bytes.HasPrefix(rh.RecordHeader[:], []byte("HTTP/")) {
			return "the port speaks HTTP: use ws://"
		}
	}
	// Then HTTP: an HTTP server answers a request.
	conn, err := d.DialContext(ctx, "tcp", address)
	if err != nil {
		return ""
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := conn.Write([]byte("HEAD / HTTP/1.0\r\n\r\n")); err != nil {
		return ""
	}
	var buf [5]byte
	if _, err := io.ReadFull(conn, buf[:]); err == nil && string(buf[:]) == "HTTP/" {
		return "the port speaks HTTP: use ws://"
	}
	return ""
}

// probeRawSocket reports whether the TCP port at address answers a
// RawSocket handshake (advanced/transport_rawsocket.md): its reply starts
// with the magic octet 0x7F.
func probeRawSocket(ctx context.Context, address string) bool {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", address)
	if err != nil {
		return false
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	// JSON, the smallest maximum length: any RawSocket router answers.
	if _, err := conn.Write([]byte{0x7f, 0x01, 0, 0}); err != nil {
		return false
	}
	var reply [4]byte
	_, err = io.ReadFull(conn, reply[:])
	return err == nil && reply[0] == 0x7f
}
