//go:build unix

package transport

import (
	"io"
	"net"

	"github.com/wampkit/wampkit/internal/sysio"
)

// newFDReader returns a reader of conn's socket that waits in the network
// poller as net.Conn.Read does but makes the read(2) itself with
// internal/sysio (see that package for why), or conn itself when it has
// none we may read directly (see rawConnOf): a TLS connection, or a
// net.Conn of someone else's. The reader is used by one goroutine at a
// time (the peer's reader).
func newFDReader(conn net.Conn) io.Reader {
	rc := rawConnOf(conn)
	if rc == nil {
		return conn
	}
	return sysio.NewReader(conn, rc)
}
