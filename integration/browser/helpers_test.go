package browser

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.uber.org/goleak"
)

var update = flag.Bool("update", false, "write the README's screenshots (docs/console-*.png)")

// timeout bounds each step that waits for a browser or a program.
const timeout = 30 * time.Second

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// repoRoot returns the repository's root directory.
func repoRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		tb.Fatal(err)
	}
	return dir
}

// build builds the Go package pkg (relative to the repository's root,
// run from its module directory dir) into a temporary directory.
func build(tb testing.TB, dir, pkg string) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), filepath.Base(pkg))
	ctx, cancel := context.WithTimeout(context.Background(), 5*timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	cmd.Dir = filepath.Join(repoRoot(tb), dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// process is a program the test runs.
type process struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	output bytes.Buffer // stdout and stderr, guarded by mu
	lines  chan string
}

// start runs bin with args until the test ends (then it is sent
// SIGINT and waited for) and returns the first submatch of the first line
// of its output that matches re.
func start(tb testing.TB, re *regexp.Regexp, bin string, args ...string) (*process, string) {
	tb.Helper()
	p := &process{cmd: exec.Command(bin, args...), lines: make(chan string, 64)}
	r, w, err := os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	p.cmd.Stdout, p.cmd.Stderr = w, w
	if err := p.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	w.Close()
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			p.mu.Lock()
			p.output.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default: // nobody waits for lines any more
			}
		}
	}()
	tb.Cleanup(func() {
		p.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(timeout):
			p.cmd.Process.Kill()
			<-done
		}
		<-scanned
		r.Close()
	})
	deadline := time.After(timeout)
	for {
		select {
		case l := <-p.lines:
			if m := re.FindStringSubmatch(l); m != nil {
				return p, m[1]
			}
		case <-deadline:
			tb.Fatalf("%s did not print %q within %v; output:\n%s", bin, re, timeout, p.Output())
		}
	}
}

// wait returns the first submatch of re in the process's output, once
// it is there.
func (p *process) wait(tb testing.TB, re *regexp.Regexp) string {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if m := re.FindStringSubmatch(p.Output()); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no %q in the output within %v:\n%s", re, timeout, p.Output())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Output returns what the process printed so far.
func (p *process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.output.String()
}

// newBrowser starts headless Chromium with a fresh profile and no
// network activity of its own, and returns a context for chromedp.Run
// (each step under its own timeout: see run) that lives until the test
// ends.
func newBrowser(tb testing.TB) context.Context {
	tb.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		tb.Fatal("chromium not found: run scripts/setup-test-deps.sh (installs Debian's chromium)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox, // as root in CI and containers
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.WindowSize(1280, 900),
		// No connections of Chromium's own: the machine may have no
		// network beyond 127.0.0.1.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	tb.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		tb.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// do runs steps in the browser, bounded by timeout.
func do(tb testing.TB, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.Fatal(err)
	}
}

// get runs action in the browser, bounded by timeout, and returns its
// value.
func get[T any](tb testing.TB, ctx context.Context, action chromedp.Action[T]) T {
	tb.Helper()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// waitJS polls the JavaScript expression expr until it is true.
func waitJS(tb testing.TB, ctx context.Context, expr string) {
	tb.Helper()
	pctx, cancel := context.WithTimeout(ctx, timeout+time.Second)
	defer cancel()
	_, err := chromedp.Run(pctx, chromedp.Poll[bool](expr,
		chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({status: document.getElementById("status")?.textContent, error: document.getElementById("login-error")?.textContent, realm: document.getElementById("realm-name")?.textContent})`))
		tb.Fatalf("waiting for %s: %v (page: %s)", expr, err, state)
	}
}
