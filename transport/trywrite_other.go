//go:build !unix

package transport

import (
	"errors"
	"net"
	"time"
)

// fdWriter writes to a socket without blocking; there is none here.
type fdWriter struct{}

// newFDWriter returns nil: writes that must not block are only done on
// Unix, and every write goes through the peer's writer goroutine.
func newFDWriter(net.Conn, time.Duration) *fdWriter { return nil }

// tryWrite is never called without an fdWriter.
func tryWrite(*fdWriter, []byte) (int, error) {
	return 0, errors.New("transport: no non-blocking writes on this system")
}

// rawIO returns conn: reads and writes go through the net package here.
func rawIO(conn net.Conn) net.Conn { return conn }
