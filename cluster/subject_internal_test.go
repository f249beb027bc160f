package cluster

import (
	"testing"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

func TestFilterSubject(t *testing.T) {
	const rs = "wampkit.ev.realm1"
	tests := []struct {
		topic protocol.URI
		match protocol.MatchPolicy
		want  string
	}{
		{"com.example.temp", protocol.MatchExact, rs + ".com.example.temp"},
		{"com.example.temp", "", rs + ".com.example.temp"},
		{"com..temp", protocol.MatchWildcard, rs + ".com.*.temp"},
		{".example.", protocol.MatchWildcard, rs + ".*.example.*"},
		{"com.ex", protocol.MatchPrefix, rs + ".com.>"},
		{"com.example.", protocol.MatchPrefix, rs + ".com.example.>"},
		{"com", protocol.MatchPrefix, rs + ".>"},
		{"", protocol.MatchPrefix, rs + ".>"},
		{"a*.>b. c.%", protocol.MatchExact, rs + ".a%2A.%3Eb.%20c.%25"},
		{"caf\u00e9.*", protocol.MatchExact, rs + ".caf%C3%A9.%2A"},
		{"Mixed-Case_1.x", protocol.MatchExact, rs + ".Mixed-Case_1.x"},
	}
	for _, tt := range tests {
		if got := filterSubject(rs, tt.topic, tt.match); got != tt.want {
			t.Errorf("filterSubject(%q, %q) = %q, want %q", tt.topic, tt.match, got, tt.want)
		}
		if tt.match == protocol.MatchExact {
			if got := topicSubject(rs, tt.topic); got != tt.want {
				t.Errorf("topicSubject(%q) = %q, want %q", tt.topic, got, tt.want)
			}
		}
	}
	if got, want := realmSubject("wampkit", "com.example.realm"), "wampkit.ev.com%2Eexample%2Erealm"; got != want {
		t.Errorf("realmSubject = %q, want %q", got, want)
	}
}

// FuzzDecodeEvent feeds arbitrary envelopes to the decoder of events
// from other nodes: it must return an error or an event, never panic,
// and what it accepts must survive another round trip.
func FuzzDecodeEvent(f *testing.F) {
	for _, ev := range []*eventSeed{
		{topic: "a.b", args: protocol.List{1, "x"}},
		{topic: "a.b", details: protocol.Dict{"publisher": uint64(7)}, opts: protocol.Dict{"exclude": []any{uint64(1)}}},
	} {
		b, err := encodeEvent(nil, ev.event())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x93, 0x10, 0x01, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		var ev routerEvent
		if err := decodeEvent(data, "realm1", &ev); err != nil {
			return
		}
		b, err := encodeEvent(nil, &ev)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		var again routerEvent
		if err := decodeEvent(b, "realm1", &again); err != nil {
			t.Fatalf("decode of re-encoded event: %v", err)
		}
	})
}

type routerEvent = router.ClusterEvent

type eventSeed struct {
	topic         protocol.URI
	details, opts protocol.Dict
	args          protocol.List
}

func (s *eventSeed) event() *router.ClusterEvent {
	return &router.ClusterEvent{Realm: "realm1", Topic: s.topic, Publication: 42, Details: s.details, Options: s.opts, Args: s.args}
}
