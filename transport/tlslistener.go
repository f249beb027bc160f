package transport

import (
	"crypto/tls"
	"net"
)

// TLSListener is tls.NewListener, except that the TLS records of the
// connections it accepts are read and written on their sockets with the
// system calls the transports use for plain sockets (see the package
// doc), when l's connections are TCP or Unix sockets (or wrappers of
// them from this package, such as ConnLimiter's). Serve a WebSocketServer
// over TLS with it:
//
//	l, _ := net.Listen("tcp", "127.0.0.1:8443")
//	http.Serve(transport.TLSListener(l, cfg), server)
func TLSListener(l net.Listener, cfg *tls.Config) net.Listener {
	return &tlsListener{Listener: l, cfg: cfg}
}

type tlsListener struct {
	net.Listener
	cfg *tls.Config
}

// Accept implements net.Listener: the next connection, as a TLS server
// connection whose handshake happens at its first read or write.
func (l *tlsListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return tls.Server(rawIO(c), l.cfg), nil
}
