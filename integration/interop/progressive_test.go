package interop

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
)

// Progressive call invocations (SUMMARY §14.2) against the one library
// here that implements them: wampy.js 8.0.2, as a caller only
// (progressiveCall). It does not announce progressive_call_invocations in
// HELLO, which the spec requires of a caller that sends CALL with
// progress=true; the script adds the flag
// (--announce-progressive-invocations) to test the wire exchange, and a
// separate case checks that the router aborts the session without it.
// Autobahn|JS 26.3.1 and Autobahn|Python 22.7.1 have no support for the
// feature, as caller or callee.

func wampyArgv(dir, url, ser, scenario, prefix string, extra ...string) []string {
	argv := []string{"node", filepath.Join(dir, "js", "peer.mjs"), "--lib", "wampy",
		"--url", url, "--realm", string(testRealm), "--serializer", ser, "--scenario", scenario, "--prefix", prefix}
	return append(argv, extra...)
}

func TestProgressiveInvocations(t *testing.T) {
	requireNode(t)
	for _, topo := range topologies {
		t.Run(topo.name, func(t *testing.T) {
			t.Parallel()
			testProgressiveInvocations(t, startDeployment(t, topo))
		})
	}
}

// testProgressiveInvocations runs TestProgressiveInvocations on d. The
// subtests run in parallel, each with its own round robin over the nodes
// for its Go session and script, starting on another node.
func testProgressiveInvocations(t *testing.T, d *deployment) {
	dir := interopDir(t)
	for i, ser := range []string{"json", "msgpack", "cbor"} {
		t.Run("wampy_caller/"+ser, func(t *testing.T) {
			skipOnCluster(t)
			t.Parallel()
			rot := d.rotation(i)
			prefix := "wampkit.interop.pci_wampy_" + ser
			// The Go callee acknowledges each chunk with a progressive
			// result as it reads it, and returns the chunks joined.
			c := joinGo(t, rot.next())
			ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
			defer cancel()
			_, err := c.Register(ctx, protocol.URI(prefix+".upload"), func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
				if !inv.Progressive() {
					return nil, &protocol.Error{URI: "wampkit.interop.error.not_progressive"}
				}
				var got strings.Builder
				args := inv.Args
				for {
					got.WriteString(fmt.Sprint(args...))
					if err := inv.SendProgress(ctx, protocol.List{"ack", fmt.Sprint(args...)}, nil); err != nil {
						return nil, err
					}
					ch, err := inv.Recv(ctx)
					if err == io.EOF {
						return &client.Result{Args: protocol.List{got.String()}}, nil
					}
					if err != nil {
						return nil, err
					}
					args = ch.Args
				}
			}, nil)
			if err != nil {
				t.Fatalf("Register: %v", err)
			}
			res := startScript(t, dir, wampyArgv(dir, rot.next().wsURL, ser, "progressive_call", prefix,
				"--announce-progressive-invocations")...).result()
			want := map[string]any{
				"args":     []any{"abcd"},
				"progress": []any{[]any{"ack", "a"}, []any{"ack", "b"}, []any{"ack", "c"}, []any{"ack", "d"}},
			}
			got := map[string]any{"args": res["args"], "progress": res["progress"]}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("wampy's progressive call mismatch (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("wampy_caller_unannounced", func(t *testing.T) {
		skipOnCluster(t)
		t.Parallel()
		rot := d.rotation(0)
		// Without the announcement the CALL with progress=true is a
		// protocol violation: the router aborts the session.
		p := startScript(t, dir, wampyArgv(dir, rot.next().wsURL, "json", "progressive_call", "wampkit.interop.pci_unannounced")...)
		// (wampy reports neither the ABORT's reason nor which of the
		// session's end and the call's rejection came first.)
		if m := p.next(); m["ok"] != false {
			t.Fatalf("script reported %v, want a failure (session aborted)", m)
		} else {
			t.Logf("wampy without the flag: %v", m["error"])
		}
	})
	t.Run("wampy_callee", func(t *testing.T) {
		skipOnCluster(t)
		t.Parallel()
		rot := d.rotation(1)
		// wampy's callee does not announce the feature: a Go streaming
		// call to it fails with wamp.error.feature_not_supported and
		// never reaches it.
		prefix := "wampkit.interop.pci_wampy_callee"
		p := startScript(t, dir, wampyArgv(dir, rot.next().wsURL, "json", "callee", prefix+".peer")...)
		p.waitReady()
		c := joinGo(t, rot.next())
		ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
		defer cancel()
		s, err := c.DoStream(ctx, &client.CallRequest{Procedure: protocol.URI(prefix + ".peer.echo"), Args: protocol.List{"a"}})
		if err != nil {
			t.Fatalf("DoStream: %v", err)
		}
		_, err = s.Result(ctx)
		checkErrorURI(t, "streaming call to wampy", err, protocol.ErrFeatureNotSupported)
		if _, err := c.Call(ctx, protocol.URI(prefix+".peer.stop")); err != nil {
			t.Fatalf("call stop: %v", err)
		}
		res := p.result()
		if diff := cmp.Diff([]any{"stop"}, res["invocations"]); diff != "" {
			t.Errorf("wampy's invocations mismatch (-want +got):\n%s", diff)
		}
	})
}
