package browser

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/wampkit/wampkit/client"
)

// TestExampleChat loads the page of examples/browser, which uses
// Autobahn|JS: the page calls the Go procedure, and shows the events of
// its own message and of a Go client's.
func TestExampleChat(t *testing.T) {
	if _, err := os.Stat(filepath.Join(repoRoot(t), "examples", "browser", "static", "autobahn.min.js")); err != nil {
		t.Fatalf("examples/browser/static/autobahn.min.js: %v: run scripts/setup-test-deps.sh (bundles Autobahn|JS)", err)
	}
	bin := build(t, "examples", "./browser")
	_, base := start(t, regexp.MustCompile(`serving (http://127\.0\.0\.1:\d+)/`), bin, "-addr", "127.0.0.1:0")

	ctx := newBrowser(t)
	do(t, ctx, chromedp.Navigate(base+"/"))
	waitJS(t, ctx, `document.getElementById("status").className === "up"`)

	// The page calls com.example.chat.send; the Go backend publishes the
	// message, and the page shows the event.
	do(t, ctx,
		chromedp.SendKeys(chromedp.ID("name"), "Ada"),
		chromedp.SendKeys(chromedp.ID("text"), "hello from the browser"),
		chromedp.Click(chromedp.ID("send")),
	)
	waitJS(t, ctx, `[...document.querySelectorAll("#messages li")].some(li => li.textContent === "#1Adahello from the browser")`)
	if text := get(t, ctx, chromedp.Value(chromedp.ID("text"))); text != "" {
		t.Errorf("the text field holds %q after a successful call, want it cleared", text)
	}

	// A Go client's message reaches the page as an event too.
	wctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := client.Dial(wctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", client.Config{Realm: "realm1", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Call(wctx, "com.example.chat.send", "Go", "hello from Go"); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `[...document.querySelectorAll("#messages li")].some(li => li.textContent === "#2Gohello from Go")`)

	// A call the backend refuses shows its error.
	do(t, ctx, chromedp.Click(chromedp.ID("send")))
	waitJS(t, ctx, `document.getElementById("error").textContent === "the text is empty"`)
}
