// Package browser tests wampkit from a real browser: headless Chromium
// (Debian's chromium, driven with chromedp) loads the pages of
// examples/browser and of wampd's console, which speak WAMP over
// WebSocket with the JavaScript clients they embed, while Go clients
// on the other side check what arrives.
//
// The package holds only tests. They build the programs they test (go
// build, into a temporary directory), run them on 127.0.0.1 with ports
// the system picks, and start Chromium with a fresh profile and no
// network beyond 127.0.0.1. A missing chromium or Autobahn|JS bundle
// fails the tests with the command that installs it
// (scripts/setup-test-deps.sh); they never skip.
//
// TestConsoleTenThousandSessions runs the router in the test itself,
// behind the console's handler, with 10,000 sessions joined in-process,
// and counts the page's calls in the router's metrics.
//
// With -update, TestConsole writes the screenshots of the README
// (docs/console*.png at the repository's root).
package browser
