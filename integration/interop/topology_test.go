package interop

import (
	"context"
	"fmt"
	"path"
	"sync"
	"testing"

	"github.com/wampkit/wampkit/cluster"
	"github.com/wampkit/wampkit/cluster/clustertest"
)

// A topology is how the wampkit router of a test is deployed: one router,
// or a cluster of three routers (nodes) joined through NATS, with the
// test's connections spread over them (issue #11: "The project's interop
// tests pass with their peers spread over three nodes: each new
// connection to the next node").
type topology struct {
	name  string // as in test names: "single", "cluster3"
	nodes int
}

var (
	single   = topology{name: "single", nodes: 1}
	cluster3 = topology{name: "cluster3", nodes: 3}
	// topologies are the topologies of the tests that run on both.
	topologies = []topology{single, cluster3}
)

// clusterSkips lists the tests that do not pass yet with their peers
// spread over three nodes, because the feature they exercise does not
// cross nodes yet (cluster/doc.go, "Not yet"), with the reason. Keys are
// path.Match patterns of test names (t.Name()); a library cell is three
// path elements (library/serializer/transport). Delete an entry when its
// feature crosses nodes; the list should end empty.
var clusterSkips = map[string]string{}

// skipOnCluster skips t if its name is in clusterSkips.
func skipOnCluster(t *testing.T) {
	t.Helper()
	for pattern, reason := range clusterSkips {
		if ok, err := path.Match(pattern, t.Name()); err != nil {
			t.Fatalf("clusterSkips: bad pattern %q: %v", pattern, err)
		} else if ok {
			t.Skipf("not across nodes yet (clusterSkips %q): %s", pattern, reason)
		}
	}
}

// A deployment is the wampkit routers of a test: one, or the nodes of a
// cluster.
type deployment struct {
	topo  topology
	nodes []*wampkitRouter
}

// startDeployment starts the routers of topo for the test. For a cluster
// it starts a NATS server with JetStream in the test process, on
// 127.0.0.1 with a port of its choosing and a store in a temporary
// directory, and joins every node to it. Everything is closed when the
// test ends: the routers, then their clusters, then NATS.
func startDeployment(tb testing.TB, topo topology) *deployment {
	tb.Helper()
	d := &deployment{topo: topo}
	if topo.nodes == 1 {
		d.nodes = []*wampkitRouter{startRouter(tb)}
		return d
	}
	url := startNATS(tb)
	for i := range topo.nodes {
		name := fmt.Sprintf("node%d", i)
		ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
		c, err := cluster.New(ctx, cluster.Config{URL: url, Name: name, Logger: testLogger(tb)})
		cancel()
		if err != nil {
			tb.Fatalf("cluster.New: %v", err)
		}
		// Cleanups run last in, first out: this one after the router's.
		tb.Cleanup(func() { c.Close() })
		d.nodes = append(d.nodes, startNode(tb, name, c))
	}
	return d
}

// maxNATSPayload is the NATS server's largest message: the router's
// MaxMessageSize (4 MiB, for the large scenario) plus room for the
// envelope of a call between nodes. The NATS default is 1 MB.
const maxNATSPayload = 8 << 20

// startNATS starts a NATS server with JetStream for the test and returns
// its URL; it is shut down when the test ends.
func startNATS(tb testing.TB) string {
	tb.Helper()
	return clustertest.StartNATS(tb, clustertest.Options{MaxPayload: maxNATSPayload}).ClientURL()
}

// node returns the deployment's i-th node, modulo their number.
func (d *deployment) node(i int) *wampkitRouter {
	return d.nodes[((i%len(d.nodes))+len(d.nodes))%len(d.nodes)]
}

// rotation returns a round robin over the deployment's nodes that starts
// at node(start): each connection of a test goes to the next node.
func (d *deployment) rotation(start int) *rotation {
	return &rotation{d: d, i: start}
}

// A rotation hands out the nodes of a deployment round robin. It may be
// used concurrently.
type rotation struct {
	d  *deployment
	mu sync.Mutex
	i  int // guarded by mu: the index of the next node
}

// next returns the node for the test's next connection.
func (r *rotation) next() *wampkitRouter {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.d.node(r.i)
	r.i++
	return n
}

// url returns the node's URL for transport ("websocket" or "rawsocket").
func (wr *wampkitRouter) url(transport string) string {
	if transport == "rawsocket" {
		return wr.rsURL
	}
	return wr.wsURL
}
