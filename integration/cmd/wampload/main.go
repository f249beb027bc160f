// Command wampload measures what a wampd binary costs per operation: the
// memory of idle sessions, the router CPU time and round-trip time of
// calls, and the router CPU time of fan-out deliveries, on one wampd or
// across cluster nodes. It runs each measurement against a fresh wampd
// process listening on 127.0.0.1 only, and reads the router's CPU time
// (utime + stime of /proc/PID/stat) and resident memory (VmRSS of
// /proc/PID/status) around the load, so that what the load generator
// itself spends is not counted.
//
// Give it several binaries (before and after a change) and it alternates
// them run by run, so that both see the same machine, and reports the
// median and the spread of each:
//
//	git stash; go build -o /tmp/wampd.old ./cmd/wampd; git stash pop
//	go build -o /tmp/wampd.new ./cmd/wampd
//	go run ./integration/cmd/wampload -wampd /tmp/wampd.old,/tmp/wampd.new -runs 5 \
//		-scenario call -transport websocket
//
// Scenarios:
//
//   - idle: -sessions sessions join realm1 over -transport (websocket
//     with JSON, or rawsocket with MessagePack) and stay idle; reports the
//     growth of the router's RSS per session, and of its Go heap and
//     stacks (from the runtime metrics on the admin listener). With
//     -profiles DIR it saves a heap and a goroutine profile of the router
//     holding the sessions.
//   - call: a caller calls an echo procedure of a callee, one call at a
//     time, -calls times over -transport (both clients of package
//     client); reports the router's CPU time per call and the round
//     trip's median and 99th percentile, and the context switches of
//     the router's threads per call (each time a thread sleeps or is
//     preempted: the hand-offs between goroutines and the network waits
//     that woke an idle thread). It reports the same two figures for the
//     clients, which run in wampload's own process (client-cpu and
//     client-switches: caller and callee together, so the whole round
//     trip's cost is the router's plus the clients'). With -concurrency
//     N, N callers (N sessions) call at once, one call at a time each,
//     -calls calls in all. With -profiles DIR it saves a CPU profile of 2
//     seconds of the calls (of each wampd process); with -trace DIR, an
//     execution trace of 1 second of them (go tool trace), to see which
//     goroutines and threads a call wakes; with -client-trace FILE, an
//     execution trace of wampload's own process (the clients) during the
//     measured calls of the first run.
//   - joins: -sessions sessions join at once (32 at a time) over
//     -transport while a caller calls an echo procedure every
//     millisecond over RawSocket; reports joins per second, the router's
//     CPU time per join, and the calls' median, 99th percentile and
//     maximum round trip during the burst. With -profiles DIR it saves a
//     CPU profile of the burst's first 2 seconds.
//   - fanout: -subscribers sessions (100 by default) subscribe to one
//     topic over -transport, and a publisher publishes -events events to
//     it in windows of 10, each delivered to every subscriber before
//     the next; reports the router's CPU time and context switches per
//     delivered event and the deliveries per second. Every subscriber
//     must get every event once, or the run fails.
//
// # Clusters
//
// -nodes 2 runs the call scenario across two nodes of a cluster: a
// nats-server process with JetStream on a free port of 127.0.0.1, and two
// wampd processes with -cluster joined through it; the callee is on the
// second node and the callers on the first, so every call crosses nodes.
// The router's CPU time is then the sum over the wampd processes, and
// the NATS server's (nats-cpu) is reported apart. -nodes takes a list
// ("1,2"): the runs alternate the node counts as they alternate
// binaries, so that one invocation compares a same-node call (one wampd,
// no cluster, caller and callee on it) with a cross-node one on the same
// machine, and prints the ratio of their router CPU per call. The fanout
// scenario takes -nodes 3 too: subscriber i on node i mod 3, the
// publisher on the first node, so that two thirds of the deliveries
// cross nodes; the ratio is then of the router CPU per delivery:
//
//	go run ./cmd/wampload -wampd /tmp/wampd -scenario call -nodes 1,2 \
//		-runs 3 -transport rawsocket -concurrency 32
//	go run ./cmd/wampload -wampd /tmp/wampd -scenario fanout -nodes 1,3 \
//		-runs 3 -transport rawsocket
//
// The nats-server binary is -nats-server, or else built (once per
// invocation) from the module's nats-server dependency with go build,
// which needs the wampkit workspace or the integration module as the
// working directory.
//
// -tls (call scenario) serves and dials wss or tcps with a self-signed
// certificate made for the run.
//
// -gomaxprocs sets GOMAXPROCS of the router processes. The clients run
// in wampload's own process, on the same machine (and cores) as the
// routers. The figures are measurements of one machine, not pass/fail
// results.
//
// # Against nexus
//
// An entry "nexus:PATH" of -wampd is a nexusd binary, the router of
// github.com/gammazero/nexus, run with realm1 open to anonymous sessions on
// a WebSocket and a RawSocket listener of 127.0.0.1, so that one
// invocation measures wampkit and nexus under the same load, alternating:
//
//	git clone https://github.com/gammazero/nexus /tmp/nexus
//	(cd /tmp/nexus && go build -o /tmp/nexusd ./nexusd)
//	go run ./cmd/wampload -wampd nexus:/tmp/nexusd,/tmp/wampd -runs 5 \
//		-transport websocket
//
// The call, joins, fanout and idle scenarios work with one node; idle
// reports RSS only, as nexusd has no admin listener for the runtime's
// figures, profiles or traces.
package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

type options struct {
	scenario    string
	transport   string
	sessions    int
	calls       int
	concurrency int
	subscribers int // fanout
	events      int // fanout
	gomaxprocs  int
	profiles    string
	traces      string // call: save execution traces here
	gcs         int
	natsServer  string // nats-server binary, for nodes > 1
	tls         bool   // call: wss and tcps, with a certificate made for the run
	clientTrace string // call: execution trace of the clients, written once
}

func main() {
	bins := flag.String("wampd", "", "comma-separated wampd binaries to measure, alternating")
	runs := flag.Int("runs", 3, "runs of each binary")
	var o options
	flag.StringVar(&o.scenario, "scenario", "call", "idle, call, joins or fanout")
	flag.StringVar(&o.transport, "transport", "websocket", "websocket (JSON) or rawsocket (MessagePack)")
	flag.IntVar(&o.sessions, "sessions", 10000, "idle, joins: sessions to open")
	flag.IntVar(&o.calls, "calls", 20000, "call: calls to make")
	flag.IntVar(&o.subscribers, "subscribers", 100, "fanout: subscribers, spread over the nodes")
	flag.IntVar(&o.events, "events", 2000, "fanout: events to publish")
	flag.IntVar(&o.concurrency, "concurrency", 1, "call: callers calling at once (one session each)")
	nodeList := flag.String("nodes", "1", "call, fanout: comma-separated node counts to alternate: 1 is one wampd, 2 or 3 a cluster of wampd processes and a nats-server (call: callee on the last node, callers on the first; fanout: publisher on the first, subscribers spread over all)")
	flag.StringVar(&o.natsServer, "nats-server", "", "nats-server binary for -nodes 2 or 3; empty builds it from the module's dependency")
	flag.BoolVar(&o.tls, "tls", false, "call: serve and dial wss and tcps, with a self-signed certificate made for the run")
	flag.StringVar(&o.clientTrace, "client-trace", "", "call: write an execution trace of wampload's clients during the first run's calls to this file")
	flag.IntVar(&o.gomaxprocs, "gomaxprocs", 0, "GOMAXPROCS of the router; 0 leaves the default")
	flag.IntVar(&o.gcs, "gc", 0, "idle: run this many garbage collections in the router before measuring the sessions (an idle router's runtime runs one at least every 2 minutes, and each may halve an idle goroutine's stack)")
	flag.StringVar(&o.profiles, "profiles", "", "save profiles of the router in this directory: heap and goroutine (idle), 2 s of CPU (call, joins)")
	flag.StringVar(&o.traces, "trace", "", "call: save an execution trace of 1 s of the calls of each router process in this directory")
	flag.Parse()
	if *bins == "" {
		log.Fatal("wampload: -wampd is required")
	}
	if o.concurrency < 1 {
		log.Fatal("wampload: -concurrency must be at least 1")
	}
	var nodes []int
	for _, s := range strings.Split(*nodeList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 3 {
			log.Fatalf("wampload: -nodes: %q is not 1, 2 or 3", s)
		}
		if n > 1 && o.scenario != "call" && o.scenario != "fanout" {
			log.Fatal("wampload: -nodes 2 or 3 is for the call and fanout scenarios")
		}
		nodes = append(nodes, n)
	}
	if slices.ContainsFunc(nodes, func(n int) bool { return n > 1 }) && o.natsServer == "" {
		bin, cleanup, err := buildNATSServer()
		if err != nil {
			log.Fatalf("wampload: %v", err)
		}
		defer cleanup()
		o.natsServer = bin
	}
	type setup struct {
		bin   string
		nodes int
	}
	var setups []setup
	for _, bin := range strings.Split(*bins, ",") {
		for _, n := range nodes {
			setups = append(setups, setup{bin, n})
		}
	}
	name := func(s setup) string {
		if len(nodes) == 1 && nodes[0] == 1 {
			return filepath.Base(s.bin)
		}
		return fmt.Sprintf("%s nodes=%d", filepath.Base(s.bin), s.nodes)
	}
	results := make([][]figures, len(setups))
	for run := range *runs {
		for i, s := range setups {
			f, err := measure(s.bin, s.nodes, o, fmt.Sprintf("%d.%d", i, run))
			if err != nil {
				log.Fatalf("wampload: %s: %v", name(s), err)
			}
			fmt.Printf("run %d %s: %s\n", run+1, name(s), f)
			results[i] = append(results[i], f)
		}
	}
	fmt.Println()
	for i, s := range setups {
		fmt.Printf("%s (%d runs): %s\n", name(s), len(results[i]), summary(results[i]))
	}
	// The ratio of cross-node to same-node router CPU per call, of the
	// medians, for each binary measured with both.
	for i, s := range setups {
		if s.nodes != 1 {
			continue
		}
		for j, t := range setups {
			if t.bin == s.bin && t.nodes > 1 {
				same, cross := medianOf(results[i], "router-cpu"), medianOf(results[j], "router-cpu")
				fmt.Printf("%s: router-cpu nodes=%d / nodes=1: %.2f×\n", filepath.Base(s.bin), t.nodes, cross/same)
			}
		}
	}
}

// medianOf returns the median of the figure name over runs.
func medianOf(runs []figures, name string) float64 {
	var vs []float64
	for _, r := range runs {
		for _, f := range r {
			if f.name == name {
				vs = append(vs, f.v)
			}
		}
	}
	if len(vs) == 0 {
		return 0
	}
	slices.Sort(vs)
	return median(vs)
}

// figures are the results of one run: named values, in order.
type figures []figure

type figure struct {
	name, unit string
	v          float64
}

func (fs figures) String() string {
	var b strings.Builder
	for i, f := range fs {
		if i > 0 {
			b.WriteString("  ")
		}
		fmt.Fprintf(&b, "%s %.2f %s", f.name, f.v, f.unit)
	}
	return b.String()
}

// summary gives the median and the range of each figure over runs.
func summary(runs []figures) string {
	var b strings.Builder
	for i, f := range runs[0] {
		vs := make([]float64, len(runs))
		for j, r := range runs {
			vs[j] = r[i].v
		}
		slices.Sort(vs)
		if i > 0 {
			b.WriteString("  ")
		}
		fmt.Fprintf(&b, "%s %.2f %s [%.2f–%.2f]", f.name, median(vs), f.unit, vs[0], vs[len(vs)-1])
	}
	return b.String()
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

func measure(bin string, nodes int, o options, tag string) (figures, error) {
	if nodes > 1 {
		c, err := startCluster(bin, nodes, o)
		if err != nil {
			return nil, err
		}
		defer c.stop()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		if o.scenario == "fanout" {
			return fanout(ctx, c, o)
		}
		return call(ctx, c, o, tag)
	}
	w, err := start(bin, o, "")
	if err != nil {
		return nil, err
	}
	defer w.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	switch o.scenario {
	case "idle":
		return idle(ctx, w, o, tag)
	case "call":
		return call(ctx, &cluster{nodes: []*wampd{w}}, o, tag)
	case "joins":
		return joins(ctx, w, o)
	case "fanout":
		return fanout(ctx, &cluster{nodes: []*wampd{w}}, o)
	}
	return nil, fmt.Errorf("unknown scenario %q", o.scenario)
}

// cluster is a set of running wampd processes: one without NATS, or the
// nodes of a cluster and their nats-server process.
type cluster struct {
	nodes []*wampd
	nats  *exec.Cmd // nil for one node
	dir   string    // the NATS server's store; "" for one node
}

// startCluster runs a nats-server process with JetStream and n wampd
// processes of bin joined through it, on 127.0.0.1 ports.
func startCluster(bin string, n int, o options) (*cluster, error) {
	dir, err := os.MkdirTemp("", "wampload-nats")
	if err != nil {
		return nil, err
	}
	c := &cluster{dir: dir}
	port, err := freePort()
	if err != nil {
		c.stop()
		return nil, err
	}
	c.nats = exec.Command(o.natsServer, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-js", "-sd", dir)
	if err := c.nats.Start(); err != nil {
		c.nats = nil
		c.stop()
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if err := awaitListener("nats-server", addr); err != nil {
		c.stop()
		return nil, err
	}
	for i := range n {
		w, err := start(bin, o, "nats://"+addr, "-cluster-name", "wampload-"+strconv.Itoa(i))
		if err != nil {
			c.stop()
			return nil, err
		}
		c.nodes = append(c.nodes, w)
	}
	return c, nil
}

func (c *cluster) stop() {
	for _, w := range c.nodes {
		w.stop()
	}
	if c.nats != nil {
		c.nats.Process.Kill()
		c.nats.Wait()
	}
	if c.dir != "" {
		os.RemoveAll(c.dir)
	}
}

// switches returns the context switches of the wampd processes'
// threads so far, together.
func (c *cluster) switches() float64 {
	var n float64
	for _, w := range c.nodes {
		n += procSwitches(w.cmd.Process.Pid)
	}
	return n
}

// procSwitches returns the context switches (voluntary and not) of the
// threads of process pid so far, from /proc (Linux), or 0.
func procSwitches(pid int) float64 {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	var n float64
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "voluntary_ctxt_switches:") || strings.HasPrefix(line, "nonvoluntary_ctxt_switches:") {
				v, _ := strconv.ParseFloat(strings.TrimSpace(line[strings.IndexByte(line, ':')+1:]), 64)
				n += v
			}
		}
	}
	return n
}

// cpu returns the CPU time the wampd processes have used, together.
func (c *cluster) cpu() time.Duration {
	var d time.Duration
	for _, w := range c.nodes {
		d += w.cpu()
	}
	return d
}

// natsCPU returns the CPU time the NATS server has used (0 without one).
func (c *cluster) natsCPU() time.Duration {
	if c.nats == nil {
		return 0
	}
	return procCPU(c.nats.Process.Pid)
}

// awaitListener waits up to 30 seconds until addr accepts a TCP
// connection, for the process named name that should listen there.
func awaitListener(name, addr string) error {
	for deadline := time.Now().Add(30 * time.Second); ; {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			conn.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not accept on %s: %w", name, addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// buildNATSServer builds the nats-server command of the module's
// nats-server dependency into a temporary directory.
func buildNATSServer() (bin string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "wampload-bin")
	if err != nil {
		return "", nil, err
	}
	bin = filepath.Join(dir, "nats-server")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/nats-io/nats-server/v2").CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("go build nats-server (or give -nats-server): %v\n%s", err, out)
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}

// wampd is a running wampd process.
type wampd struct {
	cmd    *exec.Cmd
	wsURL  string // ws://127.0.0.1:port/ws
	rsAddr string // 127.0.0.1:port
	admin  string // 127.0.0.1:port
}

// start runs bin on 127.0.0.1 ports the system picks, joined to the
// cluster of the NATS servers natsURL unless it is "", with the extra
// arguments args. Keep-alive pings are every 10 minutes, so that idle
// clients that never answer one stay.
func start(bin string, o options, natsURL string, args ...string) (*wampd, error) {
	if isNexus(bin) {
		return startNexus(strings.TrimPrefix(bin, nexusPrefix), o, natsURL)
	}
	dir, err := os.MkdirTemp("", "wampload")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	tlsSection := ""
	if o.tls {
		cert, key, err := writeCert(dir)
		if err != nil {
			return nil, err
		}
		tlsSection = "  tls:\n    cert: " + cert + "\n    key: " + key + "\n"
	}
	cfg := "websocket:\n  address: 127.0.0.1:0\n  ping_interval: 10m\n" + tlsSection +
		"rawsocket:\n  address: 127.0.0.1:0\n  ping_interval: 10m\n" + tlsSection +
		"admin:\n  address: 127.0.0.1:0\n  pprof: true\n" +
		"max_connections_per_address: -1\n" +
		"log:\n  format: json\n  level: warn\n"
	path := filepath.Join(dir, "wampd.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	args = append([]string{"-config", path, "-log-level", "info"}, args...)
	if natsURL != "" {
		args = append(args, "-cluster", natsURL)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = os.Environ()
	if o.gomaxprocs > 0 {
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+strconv.Itoa(o.gomaxprocs))
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	w := &wampd{cmd: cmd}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() && (w.wsURL == "" || w.rsAddr == "" || w.admin == "") {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) != nil || line["msg"] != "listening" {
			continue
		}
		switch line["transport"] {
		case "websocket":
			w.wsURL, _ = line["url"].(string)
		case "rawsocket":
			w.rsAddr, _ = line["address"].(string)
		case "admin":
			w.admin, _ = line["address"].(string)
		}
	}
	go io.Copy(io.Discard, stderr)
	if w.wsURL == "" || w.rsAddr == "" || w.admin == "" {
		w.stop()
		return nil, fmt.Errorf("wampd did not say where it listens")
	}
	return w, nil
}

func (w *wampd) stop() {
	w.cmd.Process.Kill()
	w.cmd.Wait()
}

// cpu returns the CPU time (user + system) the process has used.
func (w *wampd) cpu() time.Duration { return procCPU(w.cmd.Process.Pid) }

// procCPU returns the CPU time (user + system) the process pid has used.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; count from after it.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, _ := strconv.ParseInt(f[12], 10, 64) // field 15
	const hz = 100                              // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / hz
}

// rss returns VmRSS of the process in bytes.
func (w *wampd) rss() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", w.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			kb, _ := strconv.Atoi(strings.Fields(line)[1])
			return float64(kb) * 1024
		}
	}
	return -1
}

// memstats returns runtime figures of the router from /metrics: heap in
// use, stacks in use and goroutines.
func (w *wampd) memstats() (heap, stack, goroutines float64, err error) {
	resp, err := http.Get("http://" + w.admin + "/metrics")
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "go_memstats_heap_inuse_bytes":
			heap = v
		case "go_memstats_stack_inuse_bytes":
			stack = v
		case "go_goroutines":
			goroutines = v
		}
	}
	return heap, stack, goroutines, sc.Err()
}

// save writes the router's profile name (heap, goroutine) to dir.
func (w *wampd) save(name, dir, tag string) error {
	q := "?gc=1"
	switch name {
	case "profile":
		q = "?seconds=2"
	case "trace":
		q = "?seconds=1"
	}
	resp, err := http.Get("http://" + w.admin + "/debug/pprof/" + name + q)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	ext := ".pb.gz"
	if name == "trace" {
		ext = ".out"
	}
	f, err := os.Create(filepath.Join(dir, name+"."+tag+ext))
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

// gc makes the router collect garbage once (a heap profile with gc=1,
// whose body is discarded).
func (w *wampd) gc() error {
	resp, err := http.Get("http://" + w.admin + "/debug/pprof/heap?gc=1")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// idle opens o.sessions idle sessions and reports what they cost the
// router.
func idle(ctx context.Context, w *wampd, o options, tag string) (figures, error) {
	// One session first, so that what every session shares (pools,
	// the realm) is in the baseline.
	first, err := dialIdle(ctx, w, o.transport)
	if err != nil {
		return nil, err
	}
	defer first.Close()
	settle()
	// A router without wampd's admin listener (nexusd) gives its RSS only.
	admin := w.admin != ""
	rss0 := w.rss()
	var heap0, stack0, g0 float64
	if admin {
		if heap0, stack0, g0, err = w.memstats(); err != nil {
			return nil, err
		}
	}
	conns, err := openSessions(ctx, w, o)
	defer closeAll(conns)
	if err != nil {
		return nil, err
	}
	settle()
	if !admin {
		return figures{{"rss", "KiB/session", (w.rss() - rss0) / float64(o.sessions) / 1024}}, nil
	}
	for range o.gcs {
		if err := w.gc(); err != nil {
			return nil, err
		}
	}
	rss1 := w.rss()
	heap1, stack1, g1, err := w.memstats()
	if err != nil {
		return nil, err
	}
	if o.profiles != "" {
		for _, p := range []string{"heap", "goroutine"} {
			if err := w.save(p, o.profiles, tag); err != nil {
				return nil, err
			}
		}
	}
	n := float64(o.sessions)
	return figures{
		{"rss", "KiB/session", (rss1 - rss0) / n / 1024},
		{"heap", "KiB/session", (heap1 - heap0) / n / 1024},
		{"stacks", "KiB/session", (stack1 - stack0) / n / 1024},
		{"goroutines", "/session", (g1 - g0) / n},
	}, nil
}

// openSessions opens o.sessions idle sessions, 32 at a time.
func openSessions(ctx context.Context, w *wampd, o options) ([]net.Conn, error) {
	conns := make([]net.Conn, o.sessions)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	next := make(chan int)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c, err := dialIdle(ctx, w, o.transport)
				if err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
					continue
				}
				conns[i] = c
			}
		}()
	}
	for i := range conns {
		next <- i
	}
	close(next)
	wg.Wait()
	return conns, firstErr
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// joins opens o.sessions sessions at once while a caller calls every
// millisecond, and reports the join rate and the calls' round trips.
func joins(ctx context.Context, w *wampd, o options) (figures, error) {
	cfg := client.Config{Realm: "realm1", Serializer: serialize.MessagePack, Logger: slog.New(slog.DiscardHandler)}
	url := "tcp://" + w.rsAddr
	callee, err := client.Dial(ctx, url, cfg)
	if err != nil {
		return nil, err
	}
	defer callee.Close()
	if _, err := callee.Register(ctx, "com.load.echo", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Args: inv.Args}, nil
	}, nil); err != nil {
		return nil, err
	}
	caller, err := client.Dial(ctx, url, cfg)
	if err != nil {
		return nil, err
	}
	defer caller.Close()
	if _, err := caller.Call(ctx, "com.load.echo", "hello"); err != nil {
		return nil, err
	}
	settle()
	stop := make(chan struct{})
	done := make(chan []time.Duration, 1)
	go func() {
		var rtt []time.Duration
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				done <- rtt
				return
			case <-t.C:
			}
			t0 := time.Now()
			if _, err := caller.Call(ctx, "com.load.echo", "hello"); err == nil {
				rtt = append(rtt, time.Since(t0))
			}
		}
	}()
	profiled := make(chan error, 1)
	if o.profiles != "" {
		go func() { profiled <- w.save("profile", o.profiles, "joins") }()
	} else {
		profiled <- nil
	}
	cpu0 := w.cpu()
	t0 := time.Now()
	conns, err := openSessions(ctx, w, o)
	elapsed := time.Since(t0)
	cpu := w.cpu() - cpu0
	close(stop)
	rtt := <-done
	perr := <-profiled
	closeAll(conns)
	if err != nil {
		return nil, err
	}
	if perr != nil {
		return nil, perr
	}
	if len(rtt) == 0 {
		return nil, errors.New("no calls")
	}
	slices.Sort(rtt)
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	n := float64(o.sessions)
	return figures{
		{"joins", "/s", n / elapsed.Seconds()},
		{"router-cpu", "µs/join", us(cpu) / n},
		{"call-p50", "µs", us(rtt[len(rtt)/2])},
		{"call-p99", "µs", us(rtt[len(rtt)*99/100])},
		{"call-max", "µs", us(rtt[len(rtt)-1])},
	}, nil
}

func cmpErr(old, err error) error {
	if old != nil {
		return old
	}
	return err
}

// settle lets the router finish what the sessions started.
func settle() { time.Sleep(2 * time.Second) }

// dialIdle opens a session by hand (no goroutine and no buffers of ours
// stay behind) and returns its connection.
func dialIdle(ctx context.Context, w *wampd, tr string) (net.Conn, error) {
	hello := &protocol.Hello{Realm: "realm1", Details: protocol.Dict{"roles": protocol.Dict{
		"caller": protocol.Dict{}, "callee": protocol.Dict{}, "publisher": protocol.Dict{}, "subscriber": protocol.Dict{}}}}
	var d net.Dialer
	switch tr {
	case "rawsocket":
		c, err := d.DialContext(ctx, "tcp", w.rsAddr)
		if err != nil {
			return nil, err
		}
		if _, err := c.Write([]byte{0x7F, 0xF0 | byte(serialize.MessagePack), 0, 0}); err != nil {
			c.Close()
			return nil, err
		}
		b, err := serialize.MessagePack.Codec().Encode(nil, hello)
		if err != nil {
			c.Close()
			return nil, err
		}
		frame := append([]byte{0, byte(len(b) >> 16), byte(len(b) >> 8), byte(len(b))}, b...)
		if _, err := c.Write(frame); err != nil {
			c.Close()
			return nil, err
		}
		// The handshake reply, and the WELCOME frame.
		var hdr [4]byte
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			c.Close()
			return nil, err
		}
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			c.Close()
			return nil, err
		}
		body := make([]byte, binary.BigEndian.Uint32(hdr[:])&0xFFFFFF)
		if _, err := io.ReadFull(c, body); err != nil {
			c.Close()
			return nil, err
		}
		if m, err := serialize.MessagePack.Codec().Decode(body); err != nil || m.Type() != protocol.TypeWelcome {
			c.Close()
			return nil, fmt.Errorf("no WELCOME: %v %v", m, err)
		}
		return c, nil
	case "websocket":
		host := strings.TrimPrefix(w.wsURL, "ws://")
		path := "/"
		if i := strings.IndexByte(host, '/'); i >= 0 {
			host, path = host[:i], host[i:]
		}
		c, err := d.DialContext(ctx, "tcp", host)
		if err != nil {
			return nil, err
		}
		var key [16]byte
		rand.Read(key[:])
		req := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key[:]) + "\r\n" +
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: wamp.2.json\r\n\r\n"
		if _, err := io.WriteString(c, req); err != nil {
			c.Close()
			return nil, err
		}
		br := bufio.NewReaderSize(c, 512)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			c.Close()
			return nil, err
		}
		if resp.StatusCode != http.StatusSwitchingProtocols {
			c.Close()
			return nil, fmt.Errorf("upgrade: %s", resp.Status)
		}
		b, err := serialize.JSON.Codec().Encode(nil, hello)
		if err != nil {
			c.Close()
			return nil, err
		}
		// One masked text frame (mask 0: the payload is unchanged).
		frame := []byte{0x81}
		switch {
		case len(b) < 126:
			frame = append(frame, 0x80|byte(len(b)))
		default:
			frame = append(frame, 0x80|126, byte(len(b)>>8), byte(len(b)))
		}
		frame = append(append(frame, 0, 0, 0, 0), b...)
		if _, err := c.Write(frame); err != nil {
			c.Close()
			return nil, err
		}
		var hdr [2]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			c.Close()
			return nil, err
		}
		n := int(hdr[1] & 0x7F)
		if n == 126 {
			var ext [2]byte
			if _, err := io.ReadFull(br, ext[:]); err != nil {
				c.Close()
				return nil, err
			}
			n = int(binary.BigEndian.Uint16(ext[:]))
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(br, body); err != nil {
			c.Close()
			return nil, err
		}
		if m, err := serialize.JSON.Codec().Decode(body); err != nil || m.Type() != protocol.TypeWelcome {
			c.Close()
			return nil, fmt.Errorf("no WELCOME: %v %v", m, err)
		}
		return c, nil
	}
	return nil, fmt.Errorf("unknown transport %q", tr)
}

// dialClient joins realm1 of w over o.transport with a client of package
// client (JSON over WebSocket, MessagePack over RawSocket).
func dialClient(ctx context.Context, w *wampd, o options) (*client.Client, error) {
	url := w.wsURL
	cfg := client.Config{Realm: "realm1", Serializer: serialize.JSON, Logger: slog.New(slog.DiscardHandler)}
	if o.transport == "rawsocket" {
		url = "tcp://" + w.rsAddr
		if o.tls {
			url = "tcps://" + w.rsAddr
		}
		cfg.Serializer = serialize.MessagePack
	}
	if o.tls {
		// The certificate is made for the run: nothing to verify.
		cfg.TLSConfig = &tls.Config{InsecureSkipVerify: true}
	}
	return client.Dial(ctx, url, cfg)
}

// call makes o.calls calls, o.concurrency at a time (one caller session
// each), to a callee on the last node from callers on the first, and
// reports the routers' CPU time per call (and the NATS server's, if any)
// and the round trip.
func call(ctx context.Context, c *cluster, o options, tag string) (figures, error) {
	dial := func(w *wampd) (*client.Client, error) { return dialClient(ctx, w, o) }
	callee, err := dial(c.nodes[len(c.nodes)-1])
	if err != nil {
		return nil, err
	}
	defer callee.Close()
	if _, err := callee.Register(ctx, "com.load.echo", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Args: inv.Args}, nil
	}, nil); err != nil {
		return nil, err
	}
	callers := make([]*client.Client, o.concurrency)
	for i := range callers {
		if callers[i], err = dial(c.nodes[0]); err != nil {
			return nil, err
		}
		defer callers[i].Close()
	}
	// Another node learns of the registration a moment later.
	for deadline := time.Now().Add(30 * time.Second); ; {
		_, err := callers[0].Call(ctx, "com.load.echo", "hello")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(10 * time.Millisecond)
	}
	// run makes n calls from each caller at once; with rtt, it records
	// their round trips.
	run := func(n int, rtt [][]time.Duration) error {
		var wg sync.WaitGroup
		errs := make([]error, len(callers))
		for i, caller := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range n {
					t0 := time.Now()
					if _, err := caller.Call(ctx, "com.load.echo", "hello"); err != nil {
						errs[i] = err
						return
					}
					if rtt != nil {
						rtt[i] = append(rtt[i], time.Since(t0))
					}
				}
			}()
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	if err := run(max(1000/o.concurrency, 100), nil); err != nil { // warm up
		return nil, err
	}
	profs := make(chan error, 2*len(c.nodes))
	for i, w := range c.nodes {
		t := tag
		if len(c.nodes) > 1 {
			t = fmt.Sprintf("%s.node%d", tag, i)
		}
		for _, p := range [...]struct{ name, dir string }{{"profile", o.profiles}, {"trace", o.traces}} {
			if p.dir == "" {
				profs <- nil
				continue
			}
			go func() { profs <- w.save(p.name, p.dir, t) }()
		}
	}
	per := max(o.calls/o.concurrency, 1)
	rtts := make([][]time.Duration, len(callers))
	for i := range rtts {
		rtts[i] = make([]time.Duration, 0, per)
	}
	stopTrace, err := startTrace(o)
	if err != nil {
		return nil, err
	}
	self := os.Getpid()
	cpu0, nats0, sw0 := c.cpu(), c.natsCPU(), c.switches()
	ccpu0, csw0 := procCPU(self), procSwitches(self)
	if err := run(per, rtts); err != nil {
		stopTrace()
		return nil, err
	}
	cpu, natsCPU, sw := c.cpu()-cpu0, c.natsCPU()-nats0, c.switches()-sw0
	ccpu, csw := procCPU(self)-ccpu0, procSwitches(self)-csw0
	if err := stopTrace(); err != nil {
		return nil, err
	}
	for range 2 * len(c.nodes) {
		if err := <-profs; err != nil {
			return nil, err
		}
	}
	rtt := slices.Concat(rtts...)
	if len(rtt) == 0 {
		return nil, errors.New("no calls")
	}
	slices.Sort(rtt)
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	n := float64(len(rtt))
	return figures{
		{"router-cpu", "µs/call", us(cpu) / n},
		{"nats-cpu", "µs/call", us(natsCPU) / n},
		{"switches", "/call", sw / n},
		{"client-cpu", "µs/call", us(ccpu) / n},
		{"client-switches", "/call", csw / n},
		{"p50", "µs", us(rtt[len(rtt)/2])},
		{"p99", "µs", us(rtt[len(rtt)*99/100])},
	}, nil
}

// traced is set once the execution trace of -client-trace has been written.
var traced bool

// startTrace starts the execution trace of -client-trace, the first time it is
// called, and returns the function that stops it and closes its file.
func startTrace(o options) (stop func() error, err error) {
	if o.clientTrace == "" || traced {
		return func() error { return nil }, nil
	}
	traced = true
	f, err := os.Create(o.clientTrace)
	if err != nil {
		return nil, err
	}
	if err := trace.Start(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() error {
		trace.Stop()
		return f.Close()
	}, nil
}

// writeCert writes a self-signed certificate for 127.0.0.1 and its key to
// PEM files in dir and returns their paths.
func writeCert(dir string) (certFile, keyFile string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "wampload"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}
