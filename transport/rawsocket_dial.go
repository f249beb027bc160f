package transport

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

// RawSocketDialConfig configures [DialRawSocket]. The zero value is a valid
// configuration: JSON over plain TCP or Unix sockets, 16 MiB messages.
type RawSocketDialConfig struct {
	// PeerConfig holds the settings of the peer. Its MaxMessageSize (by
	// default 16 MiB) is announced to the router in the handshake.
	PeerConfig
	// Serializer is the serializer to request. Zero means serialize.JSON.
	Serializer serialize.Serializer
	// TLSConfig, if not nil, makes the client speak TLS. An empty
	// ServerName is taken from address.
	TLSConfig *tls.Config
}

// DialRawSocket connects to a WAMP-over-RawSocket router at address on
// network ("tcp", "tcp4", "tcp6" or "unix"), over TLS if cfg.TLSConfig is
// set, and performs the handshake. ctx bounds the dial and the handshakes
// only; it does not affect the returned peer. A refusal by the router is
// a *[RawSocketError]; every handshake failure wraps [ErrHandshake].
//
// The caller owns the returned peer and must Close it.
func DialRawSocket(ctx context.Context, network, address string, cfg RawSocketDialConfig) (Peer, error) {
	ser := cfg.Serializer
	if ser == 0 {
		ser = serialize.JSON
	}
	if ser.Codec() == nil {
		return nil, fmt.Errorf("transport: rawsocket dial: unknown serializer %v", ser)
	}
	pcfg := rawSocketPeerConfig(cfg.PeerConfig, defaultDialMaxMessageSize)
	pcfg.MaxMessageSize = rawRoundDown(pcfg.MaxMessageSize)
	ctx, cancel := context.WithTimeout(ctx, pcfg.HandshakeTimeout)
	defer cancel()

	var d net.Dialer
	c, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, fmt.Errorf("transport: rawsocket dial: %w", err)
	}
	raw := c
	// ctx ends any blocking handshake I/O by moving the deadline.
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	fail := func(err error) (Peer, error) {
		stop()
		_ = raw.Close()
		if ctx.Err() != nil {
			err = fmt.Errorf("%w: %w", err, ctx.Err())
		}
		return nil, fmt.Errorf("transport: rawsocket dial %s: %w", address, err)
	}
	if cfg.TLSConfig != nil {
		tcfg := cfg.TLSConfig
		if tcfg.ServerName == "" {
			tcfg = tcfg.Clone()
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				host = address
			}
			tcfg.ServerName = host
		}
		tc := tls.Client(rawIO(c), tcfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail(fmt.Errorf("%w: tls: %w", ErrHandshake, err))
		}
		c = tc
	}
	exp := rawLengthExp(pcfg.MaxMessageSize)
	if _, err := c.Write([]byte{rawMagic, exp<<4 | byte(ser), 0, 0}); err != nil {
		return fail(fmt.Errorf("%w: write request: %w", ErrHandshake, err))
	}
	var rep [4]byte
	if _, err := io.ReadFull(c, rep[:]); err != nil {
		return fail(fmt.Errorf("%w: read reply: %w", ErrHandshake, err))
	}
	if !stop() {
		return fail(ctx.Err())
	}
	switch {
	case rep[0] != rawMagic:
		return fail(fmt.Errorf("%w: bad magic octet 0x%02x in reply", ErrHandshake, rep[0]))
	case rep[1]&0x0F == 0:
		return fail(&RawSocketError{Code: RawSocketErrorCode(rep[1] >> 4)})
	case rep[1]&0x0F != byte(ser):
		return fail(fmt.Errorf("%w: router answered serializer %d, requested %d", ErrHandshake, rep[1]&0x0F, ser))
	case rep[2] != 0 || rep[3] != 0:
		return fail(fmt.Errorf("%w: reserved octets set in reply", ErrHandshake))
	}
	_ = c.SetDeadline(time.Time{})
	details := protocol.Dict{"type": "rawsocket", "serializer": ser.String(), "peer": peerAddr(raw.RemoteAddr())}
	return newRawPeer(c, pcfg, ser, int64(1)<<(9+rep[1]>>4), details), nil
}
