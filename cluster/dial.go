package cluster

import (
	"net"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

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

// The frames of calls between nodes (call.go) are handled on the read
// loop of their NATS connection (Cluster.fc), not on a goroutine of
// their own.
//
// A lone call is a chain of hand-offs, and on an otherwise idle node
// each goroutine made runnable while a P is idle makes the Go runtime
// wake a thread to look for work (which mostly finds none): with
// nats.go's per-subscription goroutine, every message of a call that
// reached a node cost such a wake-up on top of the read loop's own, the
// most costly part of a lone cross-node call on a VM. The subscription
// is instead a channel subscription (rpc.frames) that nobody waits on:
// nats.go's read loop puts the messages it parsed there, and before it
// reads the socket again, framesConn.Read takes them out and handles
// them on the read loop's goroutine (rpc.drain), in order. Messages that
// the read loop left behind when it stopped (a read or parse error) are
// handled when the connection is lost (drainingReads), at the latest.
//
// This needs a connection of its own: the read loop that handles a frame
// routes a CALL or an answer into the router, which may wait for a lock
// that a REGISTER holds while the cluster waits for JetStream; on the
// node's main connection, whose read loop brings JetStream's answers,
// that would be a deadlock. Nothing waits for a message of the frames
// connection, so a frame that waits only holds up the frames behind it,
// as on a goroutine of their own.

// framesConn is a connection of Cluster.fc: each Read first runs drain
// (rpc.drain), if any, on the reading goroutine.
type framesConn struct {
	net.Conn
	drain *atomic.Pointer[func()]
}

// Read implements net.Conn.
func (c *framesConn) Read(b []byte) (int, error) {
	if f := c.drain.Load(); f != nil {
		(*f)()
	}
	return c.Conn.Read(b)
}

// framesDialer dials the connections of Cluster.fc with next and returns
// them as framesConns.
type framesDialer struct {
	next  nats.CustomDialer
	drain *atomic.Pointer[func()]
}

// Dial implements nats.CustomDialer.
func (d framesDialer) Dial(network, address string) (net.Conn, error) {
	c, err := d.next.Dial(network, address)
	if err != nil {
		return nil, err
	}
	return &framesConn{Conn: c, drain: d.drain}, nil
}

// drainingReads is the last option of Cluster.fc: its connections run
// drain before each read, whatever dialer the options chose (the
// cluster's, or one of Config.Options), and drain also runs when the
// connection is lost, before the handler of the options.
func drainingReads(drain *atomic.Pointer[func()]) nats.Option {
	return func(o *nats.Options) error {
		next := o.CustomDialer
		if next == nil {
			next = dialer{timeout: o.Timeout}
		}
		o.CustomDialer = framesDialer{next: next, drain: drain}
		lost, lostOld := o.DisconnectedErrCB, o.DisconnectedCB
		o.DisconnectedErrCB = func(nc *nats.Conn, err error) {
			if f := drain.Load(); f != nil {
				(*f)()
			}
			switch {
			case lost != nil:
				lost(nc, err)
			case lostOld != nil:
				lostOld(nc)
			}
		}
		return nil
	}
}
