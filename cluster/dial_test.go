package cluster_test

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/cluster"
	"github.com/wampkit/wampkit/cluster/clustertest"
	"github.com/wampkit/wampkit/internal/testcert"
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

// TestCallAcrossNodesOverTLS checks that calls, small and large, cross
// nodes whose NATS connections use TLS: the frames connection's read
// loop handles the frames between its reads of the TLS records (see
// framesDialer).
func TestCallAcrossNodesOverTLS(t *testing.T) {
	ca := testcert.NewCA(t, "clustertest CA")
	srv := &tls.Config{Certificates: []tls.Certificate{ca.Issue(t, "clustertest", x509.ExtKeyUsageServerAuth)},
		MinVersion: tls.VersionTLS12}
	s := clustertest.StartNATS(t, clustertest.Options{TLS: srv})
	url := s.ClientURL()
	if !strings.HasPrefix(url, "tls://") {
		url = "tls://" + strings.TrimPrefix(url, "nats://")
	}
	nodes := startNodesWith(t, url, 2, router.Config{},
		cluster.Config{Options: []nats.Option{nats.Secure(&tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12})}})
	callee := nodes[1].join(t, client.Config{})
	register(t, callee, "rpc.echo", nil, echo)
	caller := nodes[0].join(t, client.Config{})
	big := strings.Repeat("x", 200<<10) // several TLS records
	for i := range 20 {
		arg := any(i)
		if i%5 == 4 {
			arg = big
		}
		res, err := callWhenThere(t, caller, &client.CallRequest{Procedure: "rpc.echo", Args: protocol.List{arg}})
		if err != nil || len(res.Args) != 1 {
			t.Fatalf("call %d: rpc.echo = %+v, %v", i, res, err)
		}
		if i%5 == 4 && res.Args[0] != big {
			t.Fatalf("call %d: the large argument came back changed (%d bytes)", i, len(res.Args[0].(string)))
		} else if i%5 != 4 && argIntOf(res.Args) != i {
			t.Fatalf("call %d: rpc.echo = %v, want [%d]", i, res.Args, i)
		}
	}
}
