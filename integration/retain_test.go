package integration

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// TestRetainedEvents publishes with client.PublishRequest.Retain and
// subscribes with client.SubscribeOptions.GetRetained over every link.
func TestRetainedEvents(t *testing.T) {
	e := startEnv(t, router.Config{})
	for _, l := range links() {
		t.Run(l.String(), func(t *testing.T) {
			topic := protocol.URI("com.example.retained." + l.String())
			topic = protocol.URI(sanitize(string(topic)))
			pub, sub := e.join(t, l), e.join(t, l)
			id, err := pub.DoPublish(timeout(t), &client.PublishRequest{Topic: topic, Args: protocol.List{"kept"},
				Kwargs: protocol.Dict{"k": "v"}, Retain: true, Acknowledge: true})
			if err != nil {
				t.Fatalf("DoPublish: %v", err)
			}
			// A plain subscriber gets nothing retained; one that asks
			// gets it first, flagged, then live events.
			plain, _ := subscribe(t, sub, topic)
			in := newInbox()
			if _, err := sub.Subscribe(timeout(t), topic, in.handle, &client.SubscribeOptions{GetRetained: true}); err != nil {
				t.Fatalf("Subscribe: %v", err)
			}
			live, err := pub.DoPublish(timeout(t), &client.PublishRequest{Topic: topic, Args: protocol.List{"live"}, Acknowledge: true})
			if err != nil {
				t.Fatalf("DoPublish: %v", err)
			}
			if err := in.wait(timeout(t), 2); err != nil {
				t.Fatal(err)
			}
			if err := plain.wait(timeout(t), 1); err != nil {
				t.Fatal(err)
			}
			got := []any{in.get(0).Publication, in.get(0).Retained, in.get(0).Args, in.get(0).Kwargs,
				in.get(1).Publication, in.get(1).Retained, plain.get(0).Publication, plain.len()}
			want := []any{id, true, protocol.List{"kept"}, protocol.Dict{"k": "v"}, live, false, live, 1}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("events mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEventHistoryClient reads the event history with client.Call.
func TestEventHistoryClient(t *testing.T) {
	e := startEnv(t, router.Config{Realms: []router.RealmConfig{{Name: realm1,
		EventHistory: []router.HistoryConfig{{Topic: "com.example.log", Match: protocol.MatchPrefix, Limit: 2}}}}})
	l := links()[1]
	c := e.join(t, l)
	res, err := c.Call(timeout(t), "wamp.subscription.lookup", "com.example.log", protocol.Dict{"match": "prefix"})
	if err != nil {
		t.Fatalf("lookup: %v", err)
	}
	subID := res.Args[0]
	var ids []protocol.ID
	for i := range 3 {
		id, err := c.DoPublish(timeout(t), &client.PublishRequest{Topic: "com.example.log.a", Args: protocol.List{i}, Acknowledge: true})
		if err != nil {
			t.Fatalf("DoPublish: %v", err)
		}
		ids = append(ids, id)
	}
	res, err = c.Call(timeout(t), "wamp.subscription.get_events", subID)
	if err != nil {
		t.Fatalf("get_events: %v", err)
	}
	var got []protocol.ID
	for _, e := range res.Args[0].([]any) {
		d, _ := protocol.ToDict(e)
		id, _ := protocol.ToID(d["publication"])
		got = append(got, id)
	}
	if diff := cmp.Diff(ids[1:], got); diff != "" {
		t.Errorf("get_events mismatch (-want +got):\n%s", diff)
	}
}

// sanitize makes a link name a URI component.
func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '/' || c == '-' {
			b[i] = '_'
		}
	}
	return string(b)
}
