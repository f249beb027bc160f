package client

import (
	"context"
	"errors"

	"github.com/wampkit/wampkit/protocol"
)

// TLSAuth returns an [Authenticator] for TLS client certificate
// authentication, authmethod "tls" (as Crossbar.io and wampkit's router
// name it): it announces the method, and the certificate itself goes in
// the TLS handshake, from Config.TLSConfig.Certificates (or
// GetClientCertificate), so Dial it over wss:// or tcps://. The router
// welcomes the client without a CHALLENGE; Config.AuthID is optional
// (the router finds the principal by the certificate). A CHALLENGE for
// "tls" fails the handshake.
func TLSAuth() Authenticator {
	return AuthFunc("tls", func(context.Context, *protocol.Challenge) (*protocol.Authenticate, error) {
		return nil, errors.New("client: tls authentication takes no CHALLENGE: the certificate is sent in the TLS handshake")
	})
}
