package main

import (
	"fmt"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestCluster_ProcessTestament runs three wampd processes joined through
// a nats-server process and SIGKILLs the one with a session that left a
// testament: when its lease expires, the subscribers on both other nodes
// get the session's wamp.session.on_leave, then the testament, once.
func TestCluster_ProcessTestament(t *testing.T) {
	if testing.Short() {
		t.Skip("builds wampd and nats-server")
	}
	dir := t.TempDir()
	wampdBin, natsBin := buildClusterBinaries(t, dir)
	port := freePort(t)
	url := "nats://127.0.0.1:" + strconv.Itoa(port)
	startNATSServer(t, natsBin, port, t.TempDir())

	var nodes []*process
	var wsURLs []string
	for i := 1; i <= 3; i++ {
		p, ws := startClusterNode(t, wampdBin, url, fmt.Sprintf("node%d", i))
		nodes = append(nodes, p)
		wsURLs = append(wsURLs, ws)
	}
	join := func(url string, roles string) (*websocket.Conn, float64) {
		c := dialWS(t, url, nil)
		t.Cleanup(func() { c.Close() })
		writeWS(t, c, `[1,"realm1",{"roles":{`+roles+`}}]`)
		m := readWS(t, c)
		if m[0] != float64(2) {
			t.Fatalf("reply to HELLO = %v, want WELCOME", m)
		}
		return c, m[1].(float64)
	}
	subscribe := func(c *websocket.Conn, req int, topic, opts string) float64 {
		writeWS(t, c, fmt.Sprintf(`[32,%d,%s,%q]`, req, opts, topic))
		m := readWS(t, c)
		if m[0] != float64(33) {
			t.Fatalf("reply to SUBSCRIBE %s = %v, want SUBSCRIBED", topic, m)
		}
		return m[2].(float64)
	}
	type watcher struct {
		c              *websocket.Conn
		onLeave, wills float64
	}
	var watchers []watcher
	for _, i := range []int{0, 2} {
		c, _ := join(wsURLs[i], `"subscriber":{}`)
		w := watcher{c: c, onLeave: subscribe(c, 1, "wamp.session.on_leave", `{}`),
			wills: subscribe(c, 2, "will", `{"match":"prefix"}`)}
		watchers = append(watchers, w)
	}
	dying, id := join(wsURLs[1], `"caller":{},"publisher":{}`)
	writeWS(t, dying, `[48,1,{},"wamp.session.add_testament",["will.t",["bye"]],{"scope":"destroyed"}]`)
	if m := readWS(t, dying); m[0] != float64(50) {
		t.Fatalf("reply to add_testament = %v, want RESULT", m)
	}
	if err := nodes[1].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// event reads the next EVENT of w and returns its subscription, topic
	// (for the prefix subscription) and first argument.
	event := func(w watcher) (float64, any, any) {
		t.Helper()
		m := readWS(t, w.c)
		if m[0] != float64(36) || len(m) < 4 {
			t.Fatalf("got %v, want EVENT", m)
		}
		details, _ := m[3].(map[string]any)
		var first any
		if len(m) > 4 {
			if args, _ := m[4].([]any); len(args) > 0 {
				first = args[0]
			}
		}
		return m[1].(float64), details["topic"], first
	}
	for i, w := range watchers {
		// The lease expires (6 s by default), then a survivor notices.
		w.c.SetReadDeadline(time.Now().Add(60 * time.Second))
		if sub, _, first := event(w); sub != w.onLeave || first != id {
			t.Fatalf("watcher %d: first event on subscription %v about %v, want on_leave of %v", i, sub, first, id)
		}
		if sub, topic, first := event(w); sub != w.wills || topic != "will.t" || first != "bye" {
			t.Fatalf("watcher %d: second event on subscription %v, topic %v, %v; want the testament", i, sub, topic, first)
		}
	}
	// A marker from each survivor: what a survivor published before its
	// marker reaches each watcher first, so nothing else may come before
	// the two markers.
	for _, i := range []int{0, 2} {
		pub, _ := join(wsURLs[i], `"publisher":{}`)
		writeWS(t, pub, `[16,1,{"acknowledge":true},"will.marker"]`)
		if m := readWS(t, pub); m[0] != float64(17) {
			t.Fatalf("reply to PUBLISH = %v, want PUBLISHED", m)
		}
	}
	for i, w := range watchers {
		for range 2 {
			if sub, topic, _ := event(w); sub != w.wills || topic != "will.marker" {
				t.Errorf("watcher %d: event on subscription %v, topic %v before both markers; want none", i, sub, topic)
			}
		}
	}
}
