package browser

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
)

// consoleConfig is wampd's configuration for TestConsole: realm1 with a
// ticket principal "operator" of role admin, which may use the meta API
// and call and publish anything, and anonymous clients that may do
// anything under com.example.; realm2 with the same operator.
const consoleConfig = `
realms:
  - name: realm1
    anonymous: true
    ticket:
      operator: {secret: "operator-ticket", role: admin}
    permissions:
      admin:
        - {uri: wamp., match: prefix, allow: [call, subscribe]}
        - {uri: "", match: prefix, allow: [call, publish]}
      anonymous:
        - {uri: com.example., match: prefix, allow: [call, register, publish, subscribe]}
  - name: realm2
    anonymous: true
    ticket:
      operator: {secret: "operator-ticket", role: admin}
    permissions:
      admin:
        - {uri: wamp., match: prefix, allow: [call, subscribe]}
        - {uri: "", match: prefix, allow: [call, publish]}
      anonymous: []
websocket:
  address: 127.0.0.1:0
rawsocket:
  address: ""
admin:
  address: 127.0.0.1:0
`

// TestConsole signs in to wampd's console and checks that it lists a
// session that joins and drops it when it leaves, that a kill from the
// console ends that session, that an event published from the console
// reaches a Go subscriber, and that a call from the console reaches a Go
// callee, whose registration shows its invocation. It takes the README's
// screenshots (written with -update).
func TestConsole(t *testing.T) {
	bin := build(t, ".", "./cmd/wampd")
	cfgPath := filepath.Join(t.TempDir(), "wampd.yaml")
	if err := os.WriteFile(cfgPath, []byte(consoleConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	p, wsURL := start(t, regexp.MustCompile(`transport=websocket url=(ws://\S+)`), bin, "-config", cfgPath)
	admin := p.wait(t, regexp.MustCompile(`transport=admin address=(\S+)`))
	ctx := newBrowser(t)
	do(t, ctx, chromedp.Navigate("http://"+admin+"/console/"))
	do(t, ctx,
		chromedp.SendKeys(chromedp.ID("authid"), "operator"),
		chromedp.SendKeys(chromedp.ID("secret"), "operator-ticket"),
		chromedp.Click(chromedp.ID("signin")),
	)
	waitJS(t, ctx, `document.getElementById("status").className === "up"`)

	dialRealm := func(realm string) *client.Client {
		t.Helper()
		wctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		c, err := client.Dial(wctx, wsURL, client.Config{Realm: protocol.URI(realm), Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	dial := func() *client.Client { t.Helper(); return dialRealm("realm1") }
	row := func(c *client.Client) string {
		return fmt.Sprintf(`document.querySelector('#sessions tr[data-session="%d"]')`, c.SessionID())
	}
	wctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	// A session that joins shows up, with its authid and address.
	leaver := dial()
	waitJS(t, ctx, row(leaver)+` !== null && `+row(leaver)+`.dataset.authid !== ""`)
	if got := get(t, ctx, chromedp.Evaluate[string](row(leaver)+`.children[3].textContent`)); got != "websocket" {
		t.Errorf("the console shows transport %q for a WebSocket session", got)
	}

	// A Go callee and subscriber, for the call and the publication.
	backend := dial()
	if _, err := backend.Register(wctx, "com.example.echo", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Args: inv.Args, Kwargs: inv.Kwargs}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	events := make(chan *client.Event, 1)
	if _, err := backend.Subscribe(wctx, "com.example.alerts", func(ev *client.Event) { events <- ev }, nil); err != nil {
		t.Fatal(err)
	}

	// Publish from the console.
	do(t, ctx,
		chromedp.SendKeys(chromedp.ID("pub-topic"), "com.example.alerts"),
		chromedp.SendKeys(chromedp.ID("pub-args"), `["disk full", 93]`),
		chromedp.SendKeys(chromedp.ID("pub-kwargs"), `{"host": "db1"}`),
		chromedp.Click(chromedp.ID("pub-go")),
	)
	select {
	case ev := <-events:
		if ev.Args[0] != "disk full" || ev.Kwargs["host"] != "db1" {
			t.Errorf("the event published from the console arrived as %v %v", ev.Args, ev.Kwargs)
		}
	case <-wctx.Done():
		t.Fatal("the event published from the console did not reach the Go subscriber")
	}

	// Call from the console; the registration then shows one invocation.
	do(t, ctx,
		chromedp.SendKeys(chromedp.ID("call-proc"), "com.example.echo"),
		chromedp.SendKeys(chromedp.ID("call-args"), `["ping"]`),
		chromedp.Click(chromedp.ID("call-go")),
	)
	waitJS(t, ctx, `document.getElementById("call-result").textContent === '{"args":["ping"],"kwargs":{}}'`)
	waitJS(t, ctx, `(() => { const r = document.querySelector('#registrations tr[data-uri="com.example.echo"]'); return r !== null && r.children[4].textContent === "1"; })()`)

	// A session that leaves is dropped.
	leaver.Close()
	waitJS(t, ctx, row(leaver)+` === null`)

	// A kill from the console ends the session.
	victim := dial()
	waitJS(t, ctx, row(victim)+` !== null`)
	screenshot(t, ctx, "console.png")
	sel := chromedp.CSS(fmt.Sprintf(`#sessions tr[data-session="%d"] button.kill`, victim.SessionID()))
	do(t, ctx, chromedp.Click(sel))
	do(t, ctx, chromedp.Click(sel)) // Confirm
	select {
	case <-victim.Done():
		var bye *client.GoodbyeError
		if err := victim.Err(); !errors.As(err, &bye) || bye.Reason != protocol.CloseKilled {
			t.Errorf("the killed session ended with %v, want GOODBYE %s", err, protocol.CloseKilled)
		}
	case <-wctx.Done():
		t.Fatal("the session killed from the console did not end")
	}
	waitJS(t, ctx, row(victim)+` === null`)

	// The chart's figures come over WAMP, from wampkit.router.stats: the
	// router's sessions (the operator, leaver and victim gone: the
	// backend) and a rate once two counts are in.
	waitJS(t, ctx, `document.getElementById("rate").textContent.startsWith("now ") && chart.points.length > 0`)
	waitJS(t, ctx, `document.getElementById("router-sessions").textContent === "· 2 sessions"`)

	// Another realm: sign in to realm2 too, without signing out of
	// realm1, and switch between them.
	realm1Session := get(t, ctx, chromedp.Evaluate[float64](`cur.w.getSessionId()`))
	stranger := dialRealm("realm2")
	do(t, ctx,
		chromedp.Click(chromedp.ID("add-realm")),
		chromedp.SetValue(chromedp.ID("realm-select"), "realm2"),
		chromedp.SetValue(chromedp.ID("authid"), "operator"), // the form keeps the last authid
		chromedp.SendKeys(chromedp.ID("secret"), "operator-ticket"),
		chromedp.Click(chromedp.ID("signin")),
	)
	waitJS(t, ctx, `document.getElementById("realm-name").textContent === "realm2" && `+row(stranger)+` !== null`)
	waitJS(t, ctx, `document.getElementById("session-count").textContent === "2"`) // the operator and the stranger
	if got := get(t, ctx, chromedp.Evaluate[string](row(backend)+` === null ? "" : "shown"`)); got != "" {
		t.Errorf("realm2's page shows realm1's session %d", backend.SessionID())
	}
	tabs := `[...document.querySelectorAll("#realm-tabs button")].map(b => b.dataset.realm + (b.className === "active" ? "*" : "")).join()`
	if got := get(t, ctx, chromedp.Evaluate[string](tabs)); got != "realm1,realm2*" {
		t.Errorf("realm tabs %q, want realm1,realm2*", got)
	}
	screenshot(t, ctx, "console-realms.png")
	do(t, ctx, chromedp.Click(chromedp.CSS(`#realm-tabs button[data-realm="realm1"]`)))
	waitJS(t, ctx, `document.getElementById("realm-name").textContent === "realm1" && `+row(backend)+` !== null && `+row(stranger)+` === null`)
	if got := get(t, ctx, chromedp.Evaluate[float64](`cur.w.getSessionId()`)); got != realm1Session {
		t.Errorf("back in realm1 the console's session is %v, want the one it kept, %v", got, realm1Session)
	}

	// Signing out of realm1 leaves realm2 signed in, and on screen.
	do(t, ctx, chromedp.Click(chromedp.ID("signout")))
	waitJS(t, ctx, `document.getElementById("realm-name").textContent === "realm2" && `+row(stranger)+` !== null`)
	if got := get(t, ctx, chromedp.Evaluate[string](tabs)); got != "realm2*" {
		t.Errorf("realm tabs after signing out of realm1 %q, want realm2*", got)
	}
}

// screenshot captures the page. With -update it is written to docs/ at
// the repository's root, where the README shows it; otherwise to the
// test's temporary directory, so that taking it is tested too.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	get(t, ctx, chromedp.Evaluate[bool](`window.scrollTo(0, 0), true`))
	png := get(t, ctx, chromedp.CaptureScreenshot())
	dir := t.TempDir()
	if *update {
		dir = filepath.Join(repoRoot(t), "docs")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
