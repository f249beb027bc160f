package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
)

// TestMain_AdminMetrics scrapes /metrics on the admin listener after real
// traffic (joins, calls, a failed call, publications, a wrong ticket, a
// leave) and checks the counts.
func TestMain_AdminMetrics(t *testing.T) {
	defer goleak.VerifyNone(t)
	const ticket = "alice-ticket-s3cret"
	m, _, _ := mustRunConfig(t, `
realms:
  - name: com.example.app
    anonymous: true
    ticket:
      alice: {secret: "`+ticket+`", role: user}
`, "-admin", "127.0.0.1:0")
	defer m.Close() // before goleak looks
	admin := "http://" + m.AdminAddr().String()
	ctx := context.Background()

	callee := mustJoin(t, m, client.Config{Realm: "com.example.app"})
	defer callee.Close()
	add := func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		a, _ := protocol.ToInt64(inv.Args[0])
		b, _ := protocol.ToInt64(inv.Args[1])
		return &client.Result{Args: protocol.List{a + b}}, nil
	}
	fail := func(context.Context, *client.Invocation) (*client.Result, error) {
		return nil, &protocol.Error{URI: "com.example.error.oops"}
	}
	for proc, h := range map[protocol.URI]client.InvocationHandler{"com.example.add": add, "com.example.fail": fail} {
		if _, err := callee.Register(ctx, proc, h, nil); err != nil {
			t.Fatalf("Register(%s) = %v", proc, err)
		}
	}
	events := make(chan *client.Event, 10)
	if _, err := callee.Subscribe(ctx, "com.example.news", func(ev *client.Event) { events <- ev }, nil); err != nil {
		t.Fatal(err)
	}

	caller := mustJoin(t, m, client.Config{Realm: "com.example.app", AuthID: "alice", Auth: []client.Authenticator{client.TicketAuth(ticket)}})
	for i := range 3 {
		if _, err := caller.Call(ctx, "com.example.add", i, 1); err != nil {
			t.Fatalf("Call(add) = %v", err)
		}
	}
	if _, err := caller.Call(ctx, "com.example.fail"); !isError(err, "com.example.error.oops") {
		t.Fatalf("Call(fail) = %v, want ERROR com.example.error.oops", err)
	}
	for range 2 {
		if _, err := caller.DoPublish(ctx, &client.PublishRequest{Topic: "com.example.news", Acknowledge: true}); err != nil {
			t.Fatalf("Publish() = %v", err)
		}
	}
	for range 2 {
		select {
		case <-events:
		case <-time.After(10 * time.Second):
			t.Fatal("the subscriber did not get both events")
		}
	}
	if c, err := join(t, m, client.Config{Realm: "com.example.app", AuthID: "alice", Auth: []client.Authenticator{client.TicketAuth("wrong")}}); err == nil {
		c.Close()
		t.Fatal("Join() with a wrong ticket succeeded")
	}
	caller.Close()

	metrics := waitMetrics(t, admin, `wampkit_router_leaves_total{realm="com.example.app"}`, 1)
	want := map[string]float64{
		`wampkit_router_joins_total{realm="com.example.app"}`:                                           2,
		`wampkit_router_sessions{realm="com.example.app",transport="websocket"}`:                        1,
		`wampkit_router_messages_in_total{type="CALL"}`:                                                 4,
		`wampkit_router_messages_in_total{type="PUBLISH"}`:                                              2,
		`wampkit_router_messages_out_total{type="INVOCATION"}`:                                          4,
		`wampkit_router_messages_out_total{type="RESULT"}`:                                              3,
		`wampkit_router_call_errors_total{uri="com.example.error.oops"}`:                                1,
		`wampkit_router_publications_total`:                                                             2,
		`wampkit_router_events_delivered_total`:                                                         2,
		`wampkit_router_auth_failures_total{method="ticket",reason="wamp.error.authentication_denied"}`: 1,
		`wampkit_router_registrations{realm="com.example.app"}`:                                         2,
		`wampkit_router_subscriptions{realm="com.example.app"}`:                                         1,
		`wampd_build_info{goversion="` + runtimeVersion() + `",version="` + m.Version + `"}`:            1,
		`wampd_connections_refused_total`:                                                               0,
	}
	for name, v := range want {
		if got, ok := metrics[name]; !ok || got != v {
			t.Errorf("%s = %v (present: %v), want %v", name, got, ok, v)
		}
	}
	for _, name := range []string{"go_goroutines", "process_open_fds", "wampd_connections_open", "wampd_connections_max"} {
		if _, ok := metrics[name]; !ok {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if metrics["wampd_connections_open"] < 1 {
		t.Errorf("wampd_connections_open = %v, want at least 1 (the callee)", metrics["wampd_connections_open"])
	}

	_, body := httpGet(t, admin+"/metrics")
	if strings.Contains(body, ticket) || strings.Contains(body, "wrong") {
		t.Errorf("/metrics shows a ticket")
	}
	if code, body := httpGet(t, admin+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("admin GET /healthz = %d %q, want 200 \"ok\\n\"", code, body)
	}
	if code, _ := httpGet(t, admin+"/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("admin GET /debug/pprof/ without -admin-pprof = %d, want 404", code)
	}
	ws := "http://" + m.WebSocketAddr().String()
	if code, _ := httpGet(t, ws+"/metrics"); code != http.StatusNotFound {
		t.Errorf("websocket listener GET /metrics = %d, want 404 (metrics only on the admin listener)", code)
	}
	if code, body := httpGet(t, ws+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("websocket listener GET /healthz = %d %q, want 200 \"ok\\n\"", code, body)
	}
}

// TestMain_AdminPProf serves the profiler only when asked, and /healthz
// answers 503 while wampd shuts down; the admin listener is the last to
// close, so it can be asked.
func TestMain_AdminPProf(t *testing.T) {
	defer goleak.VerifyNone(t)
	m, cancel, _ := mustRunMain(t, "-ws", "127.0.0.1:0", "-rawsocket", "", "-admin", "127.0.0.1:0",
		"-admin-pprof", "-shutdown-timeout", "1m")
	admin := "http://" + m.AdminAddr().String()
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/goroutine?debug=1", "/"} {
		if code, _ := httpGet(t, admin+path); code != http.StatusOK {
			t.Errorf("admin GET %s = %d, want 200", path, code)
		}
	}

	// A session that does not answer GOODBYE holds the shutdown open.
	conn := dialWS(t, m.WebSocketURL(), nil)
	defer conn.Close()
	writeWS(t, conn, `[1,"realm1",{"roles":{"caller":{}}}]`)
	if msg := readWS(t, conn); msg[0] != float64(2) {
		t.Fatalf("HELLO: got %v, want WELCOME", msg)
	}
	cancel()
	if msg := readWS(t, conn); msg[0] != float64(6) {
		t.Fatalf("after cancel got %v, want GOODBYE", msg)
	}
	if code, body := httpGet(t, admin+"/healthz"); code != http.StatusServiceUnavailable || body != "shutting down\n" {
		t.Errorf("admin GET /healthz during shutdown = %d %q, want 503 \"shutting down\\n\"", code, body)
	}
	writeWS(t, conn, `[6,{},"wamp.close.goodbye_and_out"]`)
	if err := m.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if _, err := http.Get(admin + "/healthz"); err == nil {
		t.Errorf("admin listener still answers after Close")
	}
}

// TestMain_ListenerFails: a listener that stops serving before shutdown
// (here its socket is closed under it) shuts wampd down, and Close
// returns the failure, so that the process exits with an error instead
// of running without the listener.
func TestMain_ListenerFails(t *testing.T) {
	defer goleak.VerifyNone(t)
	m, _, logs := mustRunMain(t, "-ws", "127.0.0.1:0", "-rawsocket", "127.0.0.1:0")
	rs := m.RawSocketAddr().String()
	for _, l := range m.listeners {
		if l.Addr().String() == rs {
			l.Close()
		}
	}
	select {
	case <-m.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("wampd still runs after its RawSocket listener failed")
	}
	err := m.Close()
	if err == nil || !strings.Contains(err.Error(), "rawsocket "+rs+" listener failed") {
		t.Errorf("Close() = %v, want the RawSocket listener's failure", err)
	}
	if !strings.Contains(logs.String(), "listener failed; shutting down") {
		t.Errorf("log lacks the failure:\n%s", logs)
	}
	if _, err := http.Get("http://" + m.WebSocketAddr().String() + "/healthz"); err == nil {
		t.Errorf("WebSocket listener still answers after the RawSocket listener failed")
	}
}

// httpGet gets url on a connection of its own (no keep-alive, so that no
// goroutine outlives it) and returns the status code and the body.
func httpGet(tb testing.TB, url string) (int, string) {
	tb.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		tb.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

// sampleLine is one sample of the Prometheus text format: name{labels} value.
var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})?) (\S+)$`)

// scrape gets the admin listener's /metrics and returns its samples by
// name and labels, as written.
func scrape(tb testing.TB, admin string) map[string]float64 {
	tb.Helper()
	code, body := httpGet(tb, admin+"/metrics")
	if code != http.StatusOK {
		tb.Fatalf("GET /metrics = %d:\n%s", code, body)
	}
	samples := make(map[string]float64)
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if m := sampleLine.FindStringSubmatch(sc.Text()); m != nil {
			v, err := strconv.ParseFloat(m[2], 64)
			if err != nil {
				tb.Fatalf("/metrics: %q: %v", sc.Text(), err)
			}
			samples[m[1]] = v
		}
	}
	return samples
}

// waitMetrics scrapes until the sample name has the value v, and returns
// that scrape.
func waitMetrics(tb testing.TB, admin, name string, v float64) map[string]float64 {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := scrape(tb, admin)
		if s[name] == v {
			return s
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s = %v, want %v", name, s[name], v)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func runtimeVersion() string { return runtime.Version() }
