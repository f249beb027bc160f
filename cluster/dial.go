package cluster

import (
	"net"
	"time"

	"github.com/wampkit/wampkit/internal/sysio"
)

// dialer connects to a NATS server as nats.go's own dialer does, and
// hands nats.go a connection whose reads and writes are made with
// internal/sysio: a node's NATS connection carries every call and event
// between nodes, and with the plain system calls each of them woke the
// Go runtime's sysmon thread while the node was otherwise idle (a lone
// cross-node call cost about 20 thread switches; see the package doc).
// TLS, when configured, is nats.go's, over this connection.
type dialer struct {
	timeout time.Duration
}

// Dial implements nats.CustomDialer.
func (d dialer) Dial(network, address string) (net.Conn, error) {
	c, err := (&net.Dialer{Timeout: d.timeout}).Dial(network, address)
	if err != nil {
		return nil, err
	}
	return sysio.Wrap(c), nil
}
