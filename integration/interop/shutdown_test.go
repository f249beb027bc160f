package interop

import (
	"context"
	"strings"
	"testing"
)

// TestPeerShutdown stops the router gracefully while a peer of each
// library waits for an event: the router sends GOODBYE
// wamp.close.system_shutdown (basic/sessions.md "Session Closing"), and the
// peer must see its session end for that reason.
func TestPeerShutdown(t *testing.T) {
	dir := interopDir(t)
	for _, l := range libs {
		for _, transport := range []string{"websocket", "rawsocket"} {
			if transport == "rawsocket" && len(l.rawSocket) == 0 {
				continue
			}
			t.Run(l.name+"/"+transport, func(t *testing.T) {
				t.Parallel()
				l.require(t)
				wr := startRouter(t) // a router of its own, to shut down
				url := wr.wsURL
				if transport == "rawsocket" {
					url = wr.rsURL
				}
				p := startScript(t, dir, l.argv(dir, url, "json", "subscribe", "wampkit.interop.shutdown")...)
				p.waitReady()
				ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
				defer cancel()
				if err := wr.r.Shutdown(ctx); err != nil {
					t.Errorf("Shutdown: %v", err)
				}
				m := p.next()
				for range p.lines {
				}
				p.cmd.Wait() //nolint:errcheck // the script is expected to fail
				if m["ok"] != false {
					t.Fatalf("the peer's session survived the shutdown: %v", m)
				}
				msg, _ := m["error"].(string)
				want := "wamp.close.system_shutdown"
				if l.name == "wampy" {
					want = "closed by the router" // wampy does not report the reason
				}
				if !strings.Contains(msg, want) {
					t.Errorf("peer's error %q does not say %q", msg, want)
				}
			})
		}
	}
}
