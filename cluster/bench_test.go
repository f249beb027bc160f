package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/transport"
)

// natsBin is the nats-server binary built from the module once per test
// process (see natsServerBinary).
var natsBin struct {
	once sync.Once
	path string
	err  error
}

// natsServerBinary builds the nats-server command of the module's
// nats-server dependency into a temporary directory, once.
func natsServerBinary(tb testing.TB) string {
	tb.Helper()
	natsBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "wampkit-nats-")
		if err != nil {
			natsBin.err = err
			return
		}
		natsBin.path = filepath.Join(dir, "nats-server")
		out, err := exec.Command("go", "build", "-o", natsBin.path, "github.com/nats-io/nats-server/v2").CombinedOutput()
		if err != nil {
			natsBin.err = fmt.Errorf("go build nats-server: %v\n%s", err, out)
		}
	})
	if natsBin.err != nil {
		tb.Fatal(natsBin.err)
	}
	return natsBin.path
}

// startNATSProcess runs the nats-server binary with JetStream on
// 127.0.0.1 and a free port, in a process of its own (so that its CPU
// time is not the test process's), and returns its URL and process.
func startNATSProcess(tb testing.TB) (string, *os.Process) {
	tb.Helper()
	bin := natsServerBinary(tb)
	port := freePort(tb)
	cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-js", "-sd", tb.TempDir())
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	url := "nats://127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(testTimeout)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			c.Close()
			return url, cmd.Process
		}
		if time.Now().After(deadline) {
			tb.Fatalf("nats-server on port %d: %v", port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BenchmarkFanout publishes to 100 subscribers, on one router
// (nodes=1, no cluster) or spread over three nodes of a cluster whose
// NATS server runs in a process of its own (nodes=3; the publisher's
// node has a third of them). cpu-ns/event is the test process's CPU time
// (routers and clients, not NATS) per delivered event, and
// nats-cpu-ns/event the NATS server's (where /proc tells it).
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run("nodes="+strconv.Itoa(n), func(b *testing.B) {
			var nodes []*node
			var natsProc *os.Process
			if n == 1 {
				r, err := router.New(router.Config{Realms: []router.RealmConfig{{Name: realm1}}, Logger: discardLog()})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { r.Close() })
				nodes = []*node{{r: r}}
			} else {
				var url string
				url, natsProc = startNATSProcess(b)
				nodes = startNodes(b, url, n, router.RealmConfig{})
			}
			const subscribers = 100
			counts := make([]atomic.Int64, subscribers)
			for i := range subscribers {
				c := nodes[i%n].join(b, client.Config{})
				subscribeFunc(b, c, "bench.fanout", protocol.MatchExact, func(*client.Event) { counts[i].Add(1) })
			}
			pub := nodes[0].join(b, client.Config{})
			waitAll := func(want int64) {
				deadline := time.Now().Add(10 * testTimeout)
				for i := range counts {
					for counts[i].Load() < want {
						if time.Now().After(deadline) {
							b.Fatalf("subscriber %d has %d events, want %d", i, counts[i].Load(), want)
						}
						runtime.Gosched()
					}
				}
			}
			const window = 256
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			cpu, natsCPU := cpuTime(), procCPU(natsProc)
			for i := 0; i < b.N; {
				if i >= window && i%(window/2) == 0 {
					waitAll(int64(i - window/2))
				}
				err := pub.Publish(ctx, "bench.fanout", i)
				if errors.Is(err, transport.ErrQueueFull) {
					runtime.Gosched()
					continue
				}
				if err != nil {
					b.Fatal(err)
				}
				i++
			}
			waitAll(int64(b.N))
			b.StopTimer()
			events := float64(b.N) * subscribers
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/events, "ns/event")
			b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/events, "cpu-ns/event")
			if natsProc != nil {
				b.ReportMetric(float64((procCPU(natsProc)-natsCPU).Nanoseconds())/events, "nats-cpu-ns/event")
			}
		})
	}
}

// procCPU returns the CPU time p has used so far, from /proc (Linux), or
// 0 if it cannot tell.
func procCPU(p *os.Process) time.Duration {
	if p == nil {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p.Pid) + "/stat")
	if err != nil {
		return 0
	}
	// The fields after the command (in parentheses, which may hold
	// spaces): utime and stime are the 12th and 13th, in clock ticks.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	return time.Duration(ut+st) * tick
}

// BenchmarkCall makes calls from 32 goroutines at once (so that the
// figures measure work, not the scheduler spinning while one call waits
// for the network): caller and callee on one router (nodes=1, no
// cluster), or on two nodes of a cluster whose NATS server is a process
// of its own (nodes=2). cpu-ns/op is the test process's CPU time (routers
// and clients) per call, nats-cpu-ns/op the NATS server's, and
// nats-msgs/op the NATS messages the nodes publish per call (two frames
// cross per call: the fewer messages, the more frames each carried).
func BenchmarkCall(b *testing.B) {
	for _, n := range []int{1, 2} {
		b.Run("nodes="+strconv.Itoa(n), func(b *testing.B) {
			var nodes []*node
			var natsProc *os.Process
			if n == 1 {
				r, err := router.New(router.Config{Realms: []router.RealmConfig{{Name: realm1}}, Logger: discardLog()})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { r.Close() })
				nodes = []*node{{r: r}}
			} else {
				var url string
				url, natsProc = startNATSProcess(b)
				nodes = startNodes(b, url, n, router.RealmConfig{})
			}
			register(b, nodes[n-1].join(b, client.Config{}), "bench.call", nil, echo)
			caller := nodes[0].join(b, client.Config{})
			if _, err := callWhenThere(b, caller, &client.CallRequest{Procedure: "bench.call"}); err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.SetParallelism(16) // 32 goroutines on 2 processors
			b.ResetTimer()
			cpu, natsCPU, msgs := cpuTime(), procCPU(natsProc), natsOutMsgs(nodes)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := caller.Call(ctx, "bench.call", "payload"); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
			if natsProc != nil {
				b.ReportMetric(float64((procCPU(natsProc)-natsCPU).Nanoseconds())/float64(b.N), "nats-cpu-ns/op")
				b.ReportMetric(float64(natsOutMsgs(nodes)-msgs)/float64(b.N), "nats-msgs/op")
			}
		})
	}
}

// natsOutMsgs returns the number of NATS messages the nodes have
// published so far, together.
func natsOutMsgs(nodes []*node) uint64 {
	var n uint64
	for _, nd := range nodes {
		if nd.c != nil {
			n += nd.c.NATSOutMsgs()
		}
	}
	return n
}

// BenchmarkRegisterShared registers one callee per op, each a session of
// its own, of a procedure shared with the policy roundrobin on a node of
// two, the other holding one callee of it too: the cost of growing a
// pool of workers. Sessions join before the timer starts.
func BenchmarkRegisterShared(b *testing.B) {
	nodes := startNodes(b, startNATS(b), 2, router.RealmConfig{})
	registerShared(b, nodes[1].join(b, client.Config{}), "bench.pool", "roundrobin", 0)
	callees := make([]*client.Client, b.N)
	for i := range callees {
		callees[i] = nodes[0].join(b, client.Config{})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i, c := range callees {
		registerShared(b, c, "bench.pool", "roundrobin", i+1)
	}
}
