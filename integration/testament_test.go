package integration

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// TestTestaments sets testaments with the client API and checks that the
// router publishes them when the session ends, over every link: detached
// ones first, then destroyed ones, each in the order added, and none that
// was flushed.
func TestTestaments(t *testing.T) {
	for _, l := range links() {
		t.Run(l.String(), func(t *testing.T) {
			for _, end := range []string{"close", "transport lost"} {
				t.Run(end, func(t *testing.T) {
					e := startEnv(t, router.Config{})
					watcher := e.join(t, l)
					in, _ := subscribe(t, watcher, "com.example.presence")
					c, p := e.joinPeer(t, l)
					ctx := timeout(t)
					add := func(what string, opts *client.TestamentOptions) {
						t.Helper()
						if err := c.AddTestament(ctx, "com.example.presence", protocol.List{what},
							protocol.Dict{"via": l.String()}, opts); err != nil {
							t.Fatalf("AddTestament(%s): %v", what, err)
						}
					}
					add("destroyed 1", nil)
					add("flushed", &client.TestamentOptions{Scope: client.TestamentDetached})
					if err := c.FlushTestaments(ctx, client.TestamentDetached); err != nil {
						t.Fatalf("FlushTestaments: %v", err)
					}
					add("detached 1", &client.TestamentOptions{Scope: client.TestamentDetached})
					add("destroyed 2", &client.TestamentOptions{Scope: client.TestamentDestroyed,
						Publish: protocol.Dict{"disclose_me": true}})
					if end == "close" {
						c.Close()
					} else {
						p.Close(nil)
					}
					if err := in.wait(ctx, 3); err != nil {
						t.Fatal(err)
					}
					var got []string
					for i := range in.len() {
						ev := in.get(i)
						got = append(got, fmt.Sprintf("%v %v publisher=%v", ev.Args, ev.Kwargs["via"], ev.Publisher != 0))
					}
					want := []string{
						fmt.Sprintf("[detached 1] %v publisher=false", l),
						fmt.Sprintf("[destroyed 1] %v publisher=false", l),
						fmt.Sprintf("[destroyed 2] %v publisher=true", l),
					}
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("testaments mismatch (-want +got):\n%s", diff)
					}
				})
			}
		})
	}
}

// TestTestamentRefused checks that the router's refusals reach the
// client as *protocol.Error.
func TestTestamentRefused(t *testing.T) {
	e := startEnv(t, router.Config{MaxTestaments: 1})
	c := e.join(t, links()[0])
	if !c.RouterRoles().Supports(protocol.RoleDealer, protocol.FeatureTestamentMetaAPI) {
		t.Errorf("router does not announce %s", protocol.FeatureTestamentMetaAPI)
	}
	ctx := timeout(t)
	err := c.AddTestament(ctx, "wamp.session.on_leave", nil, nil, nil)
	if perr := asError(t, err); perr.URI != protocol.ErrInvalidURI {
		t.Errorf("reserved topic: %v, want %s", err, protocol.ErrInvalidURI)
	}
	err = c.AddTestament(ctx, "com.example.t", nil, nil, &client.TestamentOptions{Scope: "later"})
	if perr := asError(t, err); perr.URI != protocol.ErrInvalidArgument {
		t.Errorf("unknown scope: %v, want %s", err, protocol.ErrInvalidArgument)
	}
	if err := c.AddTestament(ctx, "com.example.t", nil, nil, nil); err != nil {
		t.Fatalf("AddTestament: %v", err)
	}
	err = c.AddTestament(ctx, "com.example.t", nil, nil, nil)
	if perr := asError(t, err); perr.URI != router.LimitExceeded {
		t.Errorf("beyond the limit: %v, want %s", err, router.LimitExceeded)
	}
}
