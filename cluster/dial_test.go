package cluster_test

import (
	"net"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/cluster"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// countingDialer is a nats.CustomDialer that counts its connections.
type countingDialer struct{ n atomic.Int64 }

func (d *countingDialer) Dial(network, address string) (net.Conn, error) {
	d.n.Add(1)
	return (&net.Dialer{Timeout: testTimeout}).Dial(network, address)
}

// TestCallAcrossNodesWithCustomDialer checks that calls cross nodes
// whose NATS connections are made by a dialer of Config.Options: the
// frames connection's read loop handles the frames over whatever
// connection the dialer makes (see framesDialer), so a user's dialer
// must not leave them unread.
func TestCallAcrossNodesWithCustomDialer(t *testing.T) {
	var d countingDialer
	nodes := startNodesWith(t, startNATS(t), 2, router.Config{},
		cluster.Config{Options: []nats.Option{nats.SetCustomDialer(&d)}})
	callee := nodes[1].join(t, client.Config{})
	register(t, callee, "rpc.echo", nil, echo)
	caller := nodes[0].join(t, client.Config{})
	for i := range 20 {
		res, err := callWhenThere(t, caller, &client.CallRequest{Procedure: "rpc.echo", Args: protocol.List{i}})
		if err != nil || len(res.Args) != 1 || argIntOf(res.Args) != i {
			t.Fatalf("call %d: rpc.echo = %+v, %v; want [%d]", i, res, err, i)
		}
	}
	// Each node's two connections.
	if n := d.n.Load(); n < 4 {
		t.Errorf("the custom dialer made %d connections, want at least 4", n)
	}
}
