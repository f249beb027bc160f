package main

import (
	"fmt"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestCluster_ProcessesRetained runs wampd processes joined through a
// nats-server process: a retained event published on one node outlives
// that node, killed with SIGKILL, and reaches a get_retained subscriber
// of a node started afterwards, which never met the publisher's node.
func TestCluster_ProcessesRetained(t *testing.T) {
	if testing.Short() {
		t.Skip("builds wampd and nats-server")
	}
	dir := t.TempDir()
	wampdBin, natsBin := buildClusterBinaries(t, dir)
	port := freePort(t)
	url := "nats://127.0.0.1:" + strconv.Itoa(port)
	startNATSServer(t, natsBin, port, t.TempDir())
	join := func(url string) *websocket.Conn {
		c := dialWS(t, url, nil)
		t.Cleanup(func() { c.Close() })
		writeWS(t, c, `[1,"realm1",{"roles":{"publisher":{},"subscriber":{}}}]`)
		if m := readWS(t, c); m[0] != float64(2) {
			t.Fatalf("reply to HELLO = %v, want WELCOME", m)
		}
		return c
	}
	// getRetained subscribes c with get_retained and returns the retained
	// event's first argument, or "" if none came before the PUBLISHED of
	// an acknowledged publication of c's own.
	req := 0
	getRetained := func(c *websocket.Conn) string {
		t.Helper()
		req++
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		writeWS(t, c, fmt.Sprintf(`[32,%d,{"get_retained":true},"kept.t"]`, req))
		m := readWS(t, c)
		if m[0] != float64(33) {
			t.Fatalf("reply to SUBSCRIBE = %v, want SUBSCRIBED", m)
		}
		sub := int(m[2].(float64))
		writeWS(t, c, fmt.Sprintf(`[16,%d,{"acknowledge":true},"kept.nobody"]`, req))
		got := ""
		for {
			m := readWS(t, c)
			if m[0] == float64(36) {
				got, _ = m[4].([]any)[0].(string)
				continue
			}
			if m[0] != float64(17) {
				t.Fatalf("got %v, want EVENT or PUBLISHED", m)
			}
			break
		}
		writeWS(t, c, fmt.Sprintf(`[34,%d,%d]`, req, sub))
		if m := readWS(t, c); m[0] != float64(35) {
			t.Fatalf("reply to UNSUBSCRIBE = %v, want UNSUBSCRIBED", m)
		}
		return got
	}
	waitRetained := func(c *websocket.Conn, want string) {
		t.Helper()
		for i := 0; ; i++ {
			if got := getRetained(c); got == want {
				return
			} else if i > 3000 {
				t.Fatalf("retained event = %q, want %q", got, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	node1, ws1 := startClusterNode(t, wampdBin, url, "node1")
	_, ws2 := startClusterNode(t, wampdBin, url, "node2")
	pub := join(ws1)
	writeWS(t, pub, `[16,1,{"acknowledge":true,"retain":true},"kept.t",["kept"]]`)
	if m := readWS(t, pub); m[0] != float64(17) {
		t.Fatalf("reply to PUBLISH = %v, want PUBLISHED", m)
	}
	// Once node 2 has it, JetStream has it.
	other := join(ws2)
	waitRetained(other, "kept")
	if err := node1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = node1.wait()
	_, ws3 := startClusterNode(t, wampdBin, url, "node3")
	if got := getRetained(join(ws3)); got != "kept" {
		t.Errorf("retained event on a node started after the publisher's node was killed = %q, want \"kept\"", got)
	}
	if got := getRetained(other); got != "kept" {
		t.Errorf("retained event on node 2 after node 1 was killed = %q, want \"kept\"", got)
	}
}
