// Package channelbind computes the TLS channel IDs of WAMP-Cryptosign's
// channel binding (WAMP spec, advanced/authentication_cryptosign.md, "TLS
// Channel Binding"), which the router and the client share: the 32 bytes
// that the challenge is XOR'ed with before it is signed.
package channelbind

import (
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
)

// The channel binding types of WAMP-Cryptosign (authextra.channel_binding).
const (
	// TLSUnique is tls-unique (RFC 5929, section 3): the first Finished
	// message of the TLS handshake. TLS 1.3 does not define it (RFC 9266,
	// section 3).
	TLSUnique = "tls-unique"
	// TLSExporter is tls-exporter (RFC 9266): keying material exported
	// with the label "EXPORTER-Channel-Binding" and no context.
	TLSExporter = "tls-exporter"
)

// Size is the length of a channel ID in bytes, that of the challenge.
const Size = 32

// exporterLabel is the label of tls-exporter (RFC 9266, section 2).
const exporterLabel = "EXPORTER-Channel-Binding"

// Errors of [ID], wrapped with details.
var (
	// ErrUnknownType: the type is neither tls-unique nor tls-exporter.
	ErrUnknownType = errors.New("unknown type")
	// ErrNoTLS: the transport has no TLS (or TLS ends at a proxy).
	ErrNoTLS = errors.New("needs TLS, and this transport has none")
	// ErrUnavailable: the TLS connection cannot give this binding.
	ErrUnavailable = errors.New("not available on this TLS connection")
)

// ID returns the 32-byte channel ID of the TLS connection in state for
// binding type kind:
//
//   - tls-exporter: 32 bytes of ExportKeyingMaterial with the label
//     "EXPORTER-Channel-Binding" and no context (RFC 9266). TLS 1.3, and
//     TLS 1.2 with the Extended Master Secret extension (RFC 7627), have
//     it.
//   - tls-unique: SHA-256 of the tls-unique value (RFC 5929), the first
//     Finished message (12 bytes in TLS 1.2), as Autobahn computes it so
//     that it has the challenge's 32 bytes. Only TLS 1.2 has it: RFC 9266
//     leaves it undefined for TLS 1.3, and crypto/tls does not give it for
//     a resumed session without Extended Master Secret (RFC 7627, the
//     triple handshake attack).
//
// It fails with [ErrNoTLS] when state is nil, [ErrUnknownType] for any
// other kind and [ErrUnavailable] when the connection cannot give the
// binding.
func ID(state *tls.ConnectionState, kind string) ([]byte, error) {
	if kind != TLSUnique && kind != TLSExporter {
		return nil, fmt.Errorf("channel binding %q: %w: want %s or %s", kind, ErrUnknownType, TLSUnique, TLSExporter)
	}
	if state == nil || !state.HandshakeComplete {
		return nil, fmt.Errorf("channel binding %s %w", kind, ErrNoTLS)
	}
	if kind == TLSExporter {
		id, err := state.ExportKeyingMaterial(exporterLabel, nil, Size)
		if err != nil {
			return nil, fmt.Errorf("channel binding %s: %w: TLS 1.2 without Extended Master Secret (%v)", kind, ErrUnavailable, err)
		}
		return id, nil
	}
	if state.Version >= tls.VersionTLS13 {
		return nil, fmt.Errorf("channel binding %s: %w: TLS 1.3 does not define it (RFC 9266), use %s", kind, ErrUnavailable, TLSExporter)
	}
	if len(state.TLSUnique) == 0 {
		return nil, fmt.Errorf("channel binding %s: %w: a resumed TLS 1.2 session without Extended Master Secret", kind, ErrUnavailable)
	}
	id := sha256.Sum256(state.TLSUnique)
	return id[:], nil
}

// XOR returns a XOR b; both have Size bytes.
func XOR(a, b []byte) []byte {
	out := make([]byte, Size)
	for i := range out {
		out[i] = a[i] ^ b[i]
	}
	return out
}
