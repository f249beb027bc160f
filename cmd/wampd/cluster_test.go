package main

import (
	"context"
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/wampkit/wampkit/cluster/clustertest"
)

// startNATS starts a NATS server with JetStream in the test process on
// 127.0.0.1:port (-1 or 0: any free port) and returns its URL.
func startNATS(tb testing.TB, port int) string {
	tb.Helper()
	if port < 0 {
		port = 0
	}
	return clustertest.StartNATS(tb, clustertest.Options{Port: port}).ClientURL()
}

// freePort returns a TCP port of 127.0.0.1 that nothing listens on (it
// did a moment ago).
func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestMain_Cluster runs two wampd nodes joined by -cluster: an event
// published on one reaches a subscriber on the other.
func TestMain_Cluster(t *testing.T) {
	// goleak runs in a Cleanup, after the NATS server's.
	t.Cleanup(func() { goleak.VerifyNone(t) })
	url := startNATS(t, -1)
	a, _, _ := mustRunMain(t, "-ws", "127.0.0.1:0", "-rawsocket", "", "-cluster", url, "-cluster-name", "node-a", "-admin", "127.0.0.1:0")
	b, _, logs := mustRunMain(t, "-ws", "127.0.0.1:0", "-rawsocket", "", "-cluster", url, "-cluster-name", "node-b", "-admin", "127.0.0.1:0")

	sub := dialWS(t, a.WebSocketURL(), nil)
	defer sub.Close()
	writeWS(t, sub, `[1,"realm1",{"roles":{"subscriber":{}}}]`)
	welcomeA := readWS(t, sub)
	writeWS(t, sub, `[32,1,{},"com.example.t"]`)
	if m := readWS(t, sub); m[0] != float64(33) {
		t.Fatalf("reply to SUBSCRIBE = %v, want SUBSCRIBED", m)
	}
	pub := dialWS(t, b.WebSocketURL(), nil)
	defer pub.Close()
	writeWS(t, pub, `[1,"realm1",{"roles":{"publisher":{}}}]`)
	welcomeB := readWS(t, pub)
	writeWS(t, pub, `[16,7,{"acknowledge":true},"com.example.t",["hello"]]`)
	if m := readWS(t, pub); m[0] != float64(17) {
		t.Fatalf("reply to PUBLISH = %v, want PUBLISHED", m)
	}
	ev := readWS(t, sub)
	if len(ev) < 5 || ev[0] != float64(36) || ev[4].([]any)[0] != "hello" {
		t.Fatalf("subscriber on the other node got %v, want EVENT with [\"hello\"]", ev)
	}
	// Each node counts what crossed in its metrics.
	waitMetrics(t, "http://"+b.AdminAddr().String(), "wampd_cluster_events_forwarded_total", 1)
	ma := waitMetrics(t, "http://"+a.AdminAddr().String(), "wampd_cluster_events_received_total", 1)
	for _, name := range []string{"wampd_cluster_events_dropped_total", "wampd_cluster_events_forward_failed_total",
		"wampd_cluster_calls_refused_total", "wampd_cluster_late_chunks_total"} {
		if v, ok := ma[name]; !ok || v != 0 {
			t.Errorf("node a: %s = %v (present: %v), want 0", name, v, ok)
		}
	}
	// A retained event published on b reaches a subscriber that joins
	// a afterwards with get_retained (retention is the cluster's), and
	// b counts it.
	writeWS(t, pub, `[16,8,{"acknowledge":true,"retain":true},"com.example.r",["kept"]]`)
	if m := readWS(t, pub); m[0] != float64(17) {
		t.Fatalf("reply to PUBLISH with retain = %v, want PUBLISHED", m)
	}
	waitMetrics(t, "http://"+b.AdminAddr().String(), "wampd_cluster_retained_total", 1)
	for i := 0; ; i++ {
		writeWS(t, sub, `[32,`+strconv.Itoa(10+i)+`,{"get_retained":true},"com.example.r"]`)
		if m := readWS(t, sub); m[0] != float64(33) {
			t.Fatalf("reply to SUBSCRIBE with get_retained = %v, want SUBSCRIBED", m)
		}
		// An acknowledged publication of the subscriber follows the
		// retained event, if any, on the wire.
		writeWS(t, sub, `[16,`+strconv.Itoa(100+i)+`,{"acknowledge":true},"com.example.nobody"]`)
		m := readWS(t, sub)
		if m[0] == float64(36) {
			if d := m[3].(map[string]any); d["retained"] != true || m[4].([]any)[0] != "kept" {
				t.Fatalf("retained EVENT on node a = %v", m)
			}
			break
		}
		if m[0] != float64(17) || i > 3000 {
			t.Fatalf("no retained event on node a; got %v", m)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The nodes draw session IDs from different ranges.
	if sa, sb := uint64(welcomeA[1].(float64)), uint64(welcomeB[1].(float64)); sa>>43 == sb>>43 {
		t.Errorf("sessions %d and %d of two nodes share a session ID range", sa, sb)
	}
	if !strings.Contains(logs.String(), "cluster: joined") || !strings.Contains(logs.String(), "node-b") {
		t.Errorf("log of node b lacks the join:\n%s", logs.String())
	}
	sub.Close()
	pub.Close()
	for _, m := range []*Main{a, b} {
		if err := m.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	}
}

// TestMain_ClusterUnreachable checks that wampd says clearly that NATS
// does not answer, and exits unless told to wait.
func TestMain_ClusterUnreachable(t *testing.T) {
	defer goleak.VerifyNone(t)
	url := "nats://127.0.0.1:" + strconv.Itoa(freePort(t))
	m := NewMain()
	logs := &lockedBuffer{}
	m.Stderr = logs
	if err := m.ParseFlags(context.Background(), []string{"-ws", "127.0.0.1:0", "-rawsocket", "", "-cluster", url}); err != nil {
		t.Fatal(err)
	}
	err := m.Run(context.Background())
	m.Close()
	if err == nil || !strings.Contains(err.Error(), "cannot join the cluster") || !strings.Contains(err.Error(), url) ||
		!strings.Contains(err.Error(), "-cluster-wait") {
		t.Errorf("Run() = %v, want an error that names the NATS URL and -cluster-wait", err)
	}
}

// TestMain_ClusterWait checks -cluster-wait: wampd waits for NATS, says
// so in the log, and starts once NATS is there.
func TestMain_ClusterWait(t *testing.T) {
	// goleak runs in a Cleanup, after the NATS server's.
	t.Cleanup(func() { goleak.VerifyNone(t) })
	port := freePort(t)
	m := NewMain()
	logs := &lockedBuffer{}
	m.Stderr = logs
	args := []string{"-ws", "127.0.0.1:0", "-rawsocket", "", "-cluster", "nats://127.0.0.1:" + strconv.Itoa(port), "-cluster-wait"}
	if err := m.ParseFlags(context.Background(), args); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- m.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), "NATS unreachable, waiting") {
		if time.Now().After(deadline) {
			t.Fatalf("no waiting line in the log:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	startNATS(t, port)
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("Run() = %v once NATS is up", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return once NATS was up")
	}
	cancel()
	if err := m.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}

	// Stopped while waiting: Run returns.
	m2 := NewMain()
	m2.Stderr = &lockedBuffer{}
	args[5] = "nats://127.0.0.1:" + strconv.Itoa(freePort(t))
	if err := m2.ParseFlags(context.Background(), args); err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel2()
	err := m2.Run(ctx2)
	m2.Close()
	if err == nil || !strings.Contains(err.Error(), "stopped while waiting for NATS") {
		t.Errorf("Run() = %v after its context ended, want the wait to stop", err)
	}
}

// TestConfigFile_Cluster reads the cluster section of the file.
func TestConfigFile_Cluster(t *testing.T) {
	t.Setenv("WAMPD_TEST_NATS_TOKEN", "s3cret")
	path := t.TempDir() + "/wampd.yaml"
	writeFile(t, path, "cluster:\n  url: nats://10.0.0.1:4222,nats://10.0.0.2:4222\n  name: n1\n  wait: true\n  token: {env: WAMPD_TEST_NATS_TOKEN}\n  replicas: 3\n"+
		"  meta_timeout: 2500ms\n  testament_bytes: 1048576\n  session_bytes: 2097152\n  call_queue_bytes: 4194304\n")
	cfg, err := LoadConfigFile(path, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Cluster
	if c.URL != "nats://10.0.0.1:4222,nats://10.0.0.2:4222" || c.Name != "n1" || !c.Wait || string(c.Token) != "s3cret" || c.Replicas != 3 {
		t.Errorf("cluster = %+v", c)
	}
	if nc := c.natsConfig(nil, nil); nc.URL != c.URL || nc.Name != "n1" || nc.Replicas != 3 ||
		nc.MetaTimeout != 2500*time.Millisecond || nc.TestamentBytes != 1<<20 || nc.SessionBytes != 2<<20 ||
		nc.CallQueueBytes != 4<<20 {
		t.Errorf("cluster.Config from the file = %+v", nc)
	}
	bad := []struct{ name, yaml, want string }{
		{"cert without key", "cluster: {url: nats://x:4222, tls: {cert: c.pem}}\n", "both cert and key"},
		{"two credentials", "cluster: {url: nats://x:4222, token: t, user: u}\n", "one of token"},
		{"url and embedded", "cluster: {url: nats://x:4222, embedded: {}}\n", "not both"},
		{"routes without cluster_listen", "cluster: {embedded: {routes: [nats-route://x:6222]}}\n", "routes need cluster_listen"},
		{"bad listen", "cluster: {embedded: {listen: nowhere}}\n", "embedded"},
		{"negative meta_timeout", "cluster: {url: nats://x:4222, meta_timeout: -1s}\n", "meta_timeout"},
		{"negative testament_bytes", "cluster: {url: nats://x:4222, testament_bytes: -1}\n", "testament_bytes"},
		{"negative call_queue_bytes", "cluster: {url: nats://x:4222, call_queue_bytes: -1}\n", "call_queue_bytes"},
	}
	for _, tt := range bad {
		writeFile(t, path, tt.yaml)
		cfg, err := LoadConfigFile(path, DefaultConfig())
		if err == nil {
			err = cfg.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

// TestMain_ClusterEmbeddedPortInUse: an embedded NATS server that cannot
// start says why (here its cluster port is taken), rather than only that
// it was not ready in time.
func TestMain_ClusterEmbeddedPortInUse(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	path := t.TempDir() + "/wampd.yaml"
	writeFile(t, path, "cluster:\n  name: node0\n  embedded:\n    cluster_listen: "+l.Addr().String()+
		"\n    routes: [nats-route://"+l.Addr().String()+"]\n")
	m := NewMain()
	logs := &lockedBuffer{}
	m.Stderr = logs
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := m.ParseFlags(ctx, []string{"-ws", "127.0.0.1:0", "-rawsocket", "", "-config", path}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	err = m.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("Run() = %v, want an error saying the address is in use", err)
	}
	if !strings.Contains(logs.String(), "address already in use") {
		t.Errorf("log does not say the address is in use:\n%s", logs.String())
	}
}

// TestMain_ClusterEmbedded runs two wampd nodes that each embed a NATS
// server, routed to each other: no NATS runs apart, and an event crosses.
func TestMain_ClusterEmbedded(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ports := []int{freePort(t), freePort(t)}
	routes := "[nats-route://127.0.0.1:" + strconv.Itoa(ports[0]) + ", nats-route://127.0.0.1:" + strconv.Itoa(ports[1]) + "]"
	// Both start at once: JetStream needs both servers for a quorum.
	var mains []*Main
	ran := make(chan error, len(ports))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i, port := range ports {
		path := t.TempDir() + "/wampd.yaml"
		writeFile(t, path, "cluster:\n  name: node"+strconv.Itoa(i)+"\n  embedded:\n    cluster_listen: 127.0.0.1:"+strconv.Itoa(port)+
			"\n    routes: "+routes+"\n")
		m := NewMain()
		logs := &lockedBuffer{}
		m.Stderr = logs
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("node %d log:\n%s", i, logs.String())
			}
		})
		if err := m.ParseFlags(ctx, []string{"-ws", "127.0.0.1:0", "-rawsocket", "", "-config", path}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		mains = append(mains, m)
		go func() { ran <- m.Run(ctx) }()
	}
	for range mains {
		select {
		case err := <-ran:
			if err != nil {
				t.Fatalf("Run() = %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the nodes did not start within 60s")
		}
	}
	// Its clients and routes are dropped after seconds without a PONG.
	v, err := mains[0].nats.s.Varz(nil)
	if err != nil {
		t.Fatal(err)
	}
	if v.PingInterval != embeddedPingInterval || v.MaxPingsOut != embeddedMaxPingsOut {
		t.Errorf("embedded NATS pings every %v, %d out at most; want %v, %d", v.PingInterval, v.MaxPingsOut,
			embeddedPingInterval, embeddedMaxPingsOut)
	}
	sub := dialWS(t, mains[0].WebSocketURL(), nil)
	defer sub.Close()
	writeWS(t, sub, `[1,"realm1",{"roles":{"subscriber":{}}}]`)
	readWS(t, sub)
	writeWS(t, sub, `[32,1,{},"embedded.t"]`)
	if m := readWS(t, sub); m[0] != float64(33) {
		t.Fatalf("reply to SUBSCRIBE = %v, want SUBSCRIBED", m)
	}
	pub := dialWS(t, mains[1].WebSocketURL(), nil)
	defer pub.Close()
	writeWS(t, pub, `[1,"realm1",{"roles":{"publisher":{}}}]`)
	readWS(t, pub)
	// The routes between the servers carry the subscription's interest
	// a moment after SUBSCRIBED: publish until the event arrives.
	got := make(chan []any, 1)
	go func() {
		sub.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, data, err := sub.ReadMessage()
		if err != nil {
			close(got)
			return
		}
		var m []any
		json.Unmarshal(data, &m)
		got <- m
	}()
	for i := 1; ; i++ {
		writeWS(t, pub, `[16,`+strconv.Itoa(i)+`,{},"embedded.t",["hello"]]`)
		select {
		case m, ok := <-got:
			if !ok || len(m) < 1 || m[0] != float64(36) {
				t.Fatalf("subscriber got %v, want EVENT", m)
			}
			sub.Close()
			pub.Close()
			for _, m := range mains {
				if err := m.Close(); err != nil {
					t.Errorf("Close() = %v", err)
				}
			}
			return
		case <-time.After(50 * time.Millisecond):
		}
		if i > 600 {
			t.Fatal("no event across the embedded NATS servers")
		}
	}
}
