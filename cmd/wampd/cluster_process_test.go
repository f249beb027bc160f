package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// startClusterNode starts wampdBin as the cluster node name, joined to
// the NATS server at natsURL, with a WebSocket listener on 127.0.0.1; it
// returns the process and the listener's URL once wampd says it listens.
func startClusterNode(t *testing.T, wampdBin, natsURL, name string) (*process, string) {
	t.Helper()
	p := startProcess(t, wampdBin, "-ws", "127.0.0.1:0", "-rawsocket", "", "-log-format", "json",
		"-cluster", natsURL, "-cluster-name", name)
	ws := p.waitLog(t, func(l map[string]any) bool { return l["msg"] == "listening" && l["transport"] == "websocket" })["url"]
	return p, ws.(string)
}

// buildClusterBinaries builds wampd and the nats-server command of the
// module's nats-server dependency into dir.
func buildClusterBinaries(tb testing.TB, dir string) (wampd, natsServer string) {
	tb.Helper()
	wampd, natsServer = filepath.Join(dir, "wampd"), filepath.Join(dir, "nats-server")
	for _, args := range [][]string{
		{"build", "-o", wampd, "."},
		{"build", "-o", natsServer, "github.com/nats-io/nats-server/v2"},
	} {
		if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
			tb.Fatalf("go %v: %v\n%s", args, err, out)
		}
	}
	return wampd, natsServer
}

// startNATSServer runs the nats-server binary with JetStream on
// 127.0.0.1:port, its store in dir, and waits until it accepts.
func startNATSServer(tb testing.TB, bin string, port int, dir string) *exec.Cmd {
	tb.Helper()
	cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-js", "-sd", dir)
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			c.Close()
			return cmd
		}
		if time.Now().After(deadline) {
			tb.Fatalf("nats-server on port %d does not accept", port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCluster_Processes runs three wampd processes joined through a
// nats-server process: a node killed with SIGKILL in the middle of a
// stream of publications costs the other subscribers nothing (each event
// once, in order), and after a restart of NATS the nodes reconnect by
// themselves and events flow again; a node killed while a call of
// another node waits for its callee makes that call fail, and its
// procedure disappear.
func TestCluster_Processes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds wampd and nats-server")
	}
	dir := t.TempDir()
	wampdBin, natsBin := buildClusterBinaries(t, dir)
	port := freePort(t)
	url := "nats://127.0.0.1:" + strconv.Itoa(port)
	store := t.TempDir()
	nats := startNATSServer(t, natsBin, port, store)

	var nodes []*process
	var wsURLs []string
	for i := 1; i <= 3; i++ {
		p, ws := startClusterNode(t, wampdBin, url, fmt.Sprintf("node%d", i))
		nodes = append(nodes, p)
		wsURLs = append(wsURLs, ws)
	}
	join := func(url string, roles string) *websocket.Conn {
		c := dialWS(t, url, nil)
		t.Cleanup(func() { c.Close() })
		writeWS(t, c, `[1,"realm1",{"roles":{`+roles+`}}]`)
		if m := readWS(t, c); m[0] != float64(2) {
			t.Fatalf("reply to HELLO = %v, want WELCOME", m)
		}
		return c
	}
	subs := []*websocket.Conn{join(wsURLs[1], `"subscriber":{}`), join(wsURLs[2], `"subscriber":{}`)}
	for _, c := range subs {
		writeWS(t, c, `[32,1,{},"kill.t"]`)
		if m := readWS(t, c); m[0] != float64(33) {
			t.Fatalf("reply to SUBSCRIBE = %v, want SUBSCRIBED", m)
		}
	}
	pub := join(wsURLs[0], `"publisher":{}`)

	// Publish 1..total on a goroutine, SIGKILL node 2 once node 3 has
	// seen a quarter of them.
	const total = 400
	published := make(chan error, 1)
	go func() {
		for i := 1; i <= total; i++ {
			msg := fmt.Sprintf(`[16,%d,{},"kill.t",[%d]]`, i, i)
			if err := pub.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
				published <- err
				return
			}
			time.Sleep(time.Millisecond)
		}
		published <- nil
	}()
	next := 1
	expect := func(c *websocket.Conn, upto int) {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		for next <= upto {
			m := readWS(t, c)
			if m[0] != float64(36) {
				t.Fatalf("got %v, want EVENT", m)
			}
			if n := int(m[4].([]any)[0].(float64)); n != next {
				t.Fatalf("event %d arrived where %d was due: lost, duplicated or out of order", n, next)
			}
			next++
		}
	}
	expect(subs[1], total/4)
	if err := nodes[1].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	expect(subs[1], total)
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	subs[0].SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		if _, _, err := subs[0].ReadMessage(); err != nil {
			break // the killed node's connection is gone
		}
	}

	// NATS restarts: the nodes reconnect, and events flow again.
	nats.Process.Signal(syscall.SIGTERM)
	nats.Wait()
	startNATSServer(t, natsBin, port, store)
	for _, p := range []*process{nodes[0], nodes[2]} {
		p.waitLog(t, func(l map[string]any) bool { return l["msg"] == "cluster: reconnected to NATS" })
	}
	// Events published while the subscriber's node was renewing its
	// subscription may be lost: publish until one arrives, then check
	// that what arrives comes once and in order.
	got := make(chan int, 1024)
	go func() {
		defer close(got)
		subs[1].SetReadDeadline(time.Now().Add(30 * time.Second))
		_, data, err := subs[1].ReadMessage()
		if err != nil {
			return
		}
		// [36, sub, pub, {}, [n]]: not t's to fail from here.
		var m []any
		if json.Unmarshal(data, &m) == nil && len(m) == 5 {
			if args, ok := m[4].([]any); ok && len(args) == 1 {
				if n, ok := args[0].(float64); ok {
					got <- int(n)
				}
			}
		}
	}()
	var first int
	for i := total + 1; first == 0; i++ {
		writeWS(t, pub, fmt.Sprintf(`[16,%d,{},"kill.t",[%d]]`, i, i))
		select {
		case n, ok := <-got:
			if !ok {
				t.Fatal("no event after the NATS restart")
			}
			first = n
		case <-time.After(20 * time.Millisecond):
		}
		if i > total+3000 {
			t.Fatal("no event after the NATS restart")
		}
	}
	if first <= total {
		t.Errorf("first event after the restart is %d, want one published after it (> %d)", first, total)
	}

	// A call from node 1 to a callee on node 3, which is SIGKILLed while
	// the call waits: the caller hears back, and the procedure is gone.
	callee := join(wsURLs[2], `"callee":{}`)
	writeWS(t, callee, `[64,1,{},"kill.proc"]`)
	if m := readWS(t, callee); m[0] != float64(65) {
		t.Fatalf("reply to REGISTER = %v, want REGISTERED", m)
	}
	caller := join(wsURLs[0], `"caller":{}`)
	caller.SetReadDeadline(time.Now().Add(30 * time.Second))
	callee.SetReadDeadline(time.Now().Add(30 * time.Second))
	// Each connection is read by one goroutine at a time, without short
	// deadlines (a gorilla connection whose read timed out is done for):
	// the callee's first message is the INVOCATION; the caller's is the
	// answer to its CALL, no_such_procedure while the registration
	// travels, or, once the call is pending, canceled after the kill.
	invoked := make(chan error, 1)
	go func() {
		_, _, err := callee.ReadMessage()
		invoked <- err
	}()
	var reply chan []any
	for req := 1; ; req++ {
		writeWS(t, caller, fmt.Sprintf(`[48,%d,{},"kill.proc"]`, req))
		reply = make(chan []any, 1)
		go func() {
			_, data, err := caller.ReadMessage()
			if err != nil {
				reply <- []any{"read: " + err.Error()}
				return
			}
			var m []any
			if json.Unmarshal(data, &m) != nil || m == nil {
				m = []any{"not a WAMP message: " + string(data)}
			}
			reply <- m
		}()
		var m []any
		select {
		case err := <-invoked:
			if err != nil {
				t.Fatalf("callee: %v", err)
			}
		case m = <-reply:
		}
		if m == nil {
			break // INVOCATION: the call is pending at the callee
		}
		if len(m) < 5 || m[0] != float64(8) || m[4] != "wamp.error.no_such_procedure" {
			t.Fatalf("reply to CALL = %v, want ERROR no_such_procedure while the registration travels", m)
		}
		if req > 200 {
			t.Fatal("the procedure never reached the caller's node")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := nodes[2].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	m := <-reply
	if len(m) < 5 || m[0] != float64(8) || m[4] != "wamp.error.canceled" {
		t.Fatalf("pending call after its callee's node was killed: got %v, want ERROR wamp.error.canceled", m)
	}
	for req := 1000; ; req++ {
		writeWS(t, caller, fmt.Sprintf(`[48,%d,{},"kill.proc"]`, req))
		if m := readWS(t, caller); m[0] == float64(8) && m[4] == "wamp.error.no_such_procedure" {
			break
		}
		if req > 1200 {
			t.Fatal("the killed node's procedure is still callable")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
