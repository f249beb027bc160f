package protocol

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckURI(t *testing.T) {
	tests := []struct {
		uri           URI
		loose, strict bool   // valid under the loose / strict rules
		reason        string // for invalid URIs: part of the reason under the loose rules
	}{
		{"com", true, true, ""},
		{"com.myapp.mytopic1", true, true, ""},
		{"com.myapp.my_topic_1", true, true, ""},
		{"wamp.error.not_authorized", true, true, ""},
		{"0.1.2", true, true, ""},
		{"_", true, true, ""},
		{"com.myapp.myTopic", true, false, ""},
		{"com.myapp.my-topic", true, false, ""},
		{"com.my$app.topic", true, false, ""},
		{"com.bücher.suche", true, false, ""},
		{"日本.語", true, false, ""},
		{"com.a:b/c", true, false, ""},
		{"COM", true, false, ""},
		{"", false, false, "empty"},
		{".", false, false, "empty component"},
		{"..", false, false, "empty component"},
		{"com.", false, false, "empty component"},
		{".com", false, false, "empty component"},
		{"com..myapp", false, false, "empty component"},
		{"com.my app", false, false, "white space"},
		{" com", false, false, "white space"},
		{"com.myapp\t", false, false, "white space"},
		{"com\n.myapp", false, false, "white space"},
		{"com.\r", false, false, "white space"},
		{"com.\v.x", false, false, "white space"},
		{"com.\f", false, false, "white space"},
		{"com.\u00a0x", false, false, "white space"},
		{"com.\u2003x", false, false, "white space"},
		{"com.\u3000x", false, false, "white space"},
		{"com.#", false, false, "'#' is reserved"},
		{"com.my#app", false, false, "'#' is reserved"},
		{"#", false, false, "'#' is reserved"},
		{"com.\xff", false, false, "invalid UTF-8"},
		{"com.\xc3", false, false, "invalid UTF-8"},
	}
	for _, tt := range tests {
		for _, strict := range []bool{false, true} {
			want := tt.loose
			if strict {
				want = tt.strict
			}
			err := CheckURI(tt.uri, strict)
			if (err == nil) != want {
				t.Errorf("CheckURI(%q, %v) = %v, want valid=%v", tt.uri, strict, err, want)
				continue
			}
			if err == nil {
				continue
			}
			var ue *URIError
			if !errors.As(err, &ue) || ue.URI != tt.uri {
				t.Errorf("CheckURI(%q, %v) error %#v, want *URIError for the URI", tt.uri, strict, err)
			}
			if !strings.HasPrefix(err.Error(), "protocol: invalid URI ") {
				t.Errorf("CheckURI(%q, %v) error %q lacks prefix", tt.uri, strict, err)
			}
			if !strict && !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("CheckURI(%q, false) = %q, want it to contain %q", tt.uri, err, tt.reason)
			}
		}
	}
}

func TestCheckURILongQuoted(t *testing.T) {
	long := URI(strings.Repeat("ä", 100) + "..x")
	err := CheckURI(long, false)
	if err == nil || len(err.Error()) > 150 || !strings.Contains(err.Error(), `..."`) && !strings.Contains(err.Error(), `"...`) {
		t.Errorf("CheckURI(long) = %q, want a shortened URI", err)
	}
}

func TestCheckPattern(t *testing.T) {
	tests := []struct {
		uri    URI
		match  MatchPolicy
		strict bool
		valid  bool
	}{
		{"com.myapp.topic", MatchExact, false, true},
		{"com.myapp.topic", "", true, true},
		{"com.myapp..topic", MatchExact, false, false},
		{"com.myapp.", MatchExact, false, false},

		{"com.myapp.topic", MatchPrefix, true, true},
		{"com.myapp.", MatchPrefix, true, true},
		{"com.myapp.top", MatchPrefix, false, true},
		{"com", MatchPrefix, false, true},
		{"com.", MatchPrefix, false, true},
		{"com..", MatchPrefix, false, false},
		{"com..myapp", MatchPrefix, false, false},
		{".com", MatchPrefix, false, false},
		{".", MatchPrefix, false, false},
		{"", MatchPrefix, false, false},
		{"com.my app", MatchPrefix, false, false},
		{"com.Myapp.", MatchPrefix, true, false},
		{"com.Myapp.", MatchPrefix, false, true},

		{"com.myapp..topic", MatchWildcard, true, true},
		{"com...topic", MatchWildcard, true, true},
		{".myapp.topic", MatchWildcard, true, true},
		{"com.myapp.", MatchWildcard, true, true},
		{"..", MatchWildcard, true, true},
		{".", MatchWildcard, false, true},
		{"com.myapp.topic", MatchWildcard, false, true},
		{"", MatchWildcard, false, false},
		{"com.#.topic", MatchWildcard, false, false},
		{"com. .topic", MatchWildcard, false, false},
		{"com.My..topic", MatchWildcard, true, false},
		{"com.My..topic", MatchWildcard, false, true},
		{"com.\xff..topic", MatchWildcard, false, false},

		{"com.myapp", "regex", false, false},
		{"com.myapp", "Exact", false, false},
	}
	for _, tt := range tests {
		err := CheckPattern(tt.uri, tt.match, tt.strict)
		if (err == nil) != tt.valid {
			t.Errorf("CheckPattern(%q, %q, %v) = %v, want valid=%v", tt.uri, tt.match, tt.strict, err, tt.valid)
		}
	}
}

func TestMatchURI(t *testing.T) {
	tests := []struct {
		pattern URI
		match   MatchPolicy
		uri     URI
		want    bool
	}{
		{"com.a.b", MatchExact, "com.a.b", true},
		{"com.a.b", "", "com.a.b", true},
		{"com.a.b", MatchExact, "com.a.bc", false},
		{"com.a.b", MatchExact, "com.a", false},

		// The spec's prefix example (advanced "Pattern-based Registration").
		{"com.myapp.myobject1", MatchPrefix, "com.myapp.myobject1.myprocedure1", true},
		{"com.myapp.myobject1", MatchPrefix, "com.myapp.myobject1-mysubobject1", true},
		{"com.myapp.myobject1", MatchPrefix, "com.myapp.myobject1.mysubobject1.myprocedure1", true},
		{"com.myapp.myobject1", MatchPrefix, "com.myapp.myobject1", true},
		{"com.myapp.myobject1", MatchPrefix, "com.myapp.myobject2", false},
		{"com.myapp.myobject1", MatchPrefix, "com.myapp.myobject", false},
		{"com.myapp.", MatchPrefix, "com.myapp.x", true},
		{"com.myapp.", MatchPrefix, "com.myapp", false},
		{"com.myapp.", MatchPrefix, "com.myapplication", false},

		// The spec's wildcard example.
		{"com.myapp..myprocedure1", MatchWildcard, "com.myapp.myobject1.myprocedure1", true},
		{"com.myapp..myprocedure1", MatchWildcard, "com.myapp.myobject2.myprocedure1", true},
		{"com.myapp..myprocedure1", MatchWildcard, "com.myapp.myobject1.myprocedure1.mysubprocedure1", false},
		{"com.myapp..myprocedure1", MatchWildcard, "com.myapp.myobject1.myprocedure2", false},
		{"com.myapp..myprocedure1", MatchWildcard, "com.myapp2.myobject1.myprocedure1", false},
		{"com.myapp..myprocedure1", MatchWildcard, "com.myapp.myprocedure1", false},
		{"..", MatchWildcard, "a.b.c", true},
		{"..", MatchWildcard, "a.b", false},
		{"..", MatchWildcard, "a.b.c.d", false},
		{".b.", MatchWildcard, "a.b.c", true},
		{".b.", MatchWildcard, "a.x.c", false},
		{"a.b.c", MatchWildcard, "a.b.c", true},
		{"a.b.c", MatchWildcard, "a.b.cc", false},
		{"a.b.c", MatchWildcard, "a.bb.c", false},
		{"a.", MatchWildcard, "a.z", true},
		{".", MatchWildcard, "a.z", true},
		{"a", MatchWildcard, "a", true},
		{"a", MatchWildcard, "b", false},
		{"a1.b2..d4.e5", MatchWildcard, "a1.b2.c55.d4.e5", true},
		{"a1.b2..d4.e5..g7", MatchWildcard, "a1.b2.c88.d4.e5.f6.g7", true},
		{"a1.b2..d4..f6.g7", MatchWildcard, "a1.b2.c88.d4.e5.f6.g7", true},
		{"a1.b2.c33..e5", MatchWildcard, "a1.b2.c3.d4.e5", false},

		{"a", "regex", "a", false},
	}
	for _, tt := range tests {
		if got := MatchURI(tt.pattern, tt.match, tt.uri); got != tt.want {
			t.Errorf("MatchURI(%q, %q, %q) = %v, want %v", tt.pattern, tt.match, tt.uri, got, tt.want)
		}
	}
}

func TestMatchURIAllocs(t *testing.T) {
	n := testing.AllocsPerRun(100, func() {
		MatchURI("com.myapp..proc", MatchWildcard, "com.myapp.obj.proc")
		MatchURI("com.myapp.", MatchPrefix, "com.myapp.obj.proc")
	})
	if n != 0 {
		t.Errorf("MatchURI allocates %v times, want 0", n)
	}
}

func TestIsReserved(t *testing.T) {
	tests := []struct {
		uri  URI
		want bool
	}{
		{"wamp", true}, {"wamp.session.count", true}, {"wamp.error.canceled", true},
		{"wampx.a", false}, {"com.wamp", false}, {"com.wamp.x", false}, {"", false},
	}
	for _, tt := range tests {
		if got := IsReserved(tt.uri); got != tt.want {
			t.Errorf("IsReserved(%q) = %v, want %v", tt.uri, got, tt.want)
		}
	}
}

func TestMatchPolicyValid(t *testing.T) {
	for _, m := range []MatchPolicy{"", MatchExact, MatchPrefix, MatchWildcard} {
		if !m.Valid() {
			t.Errorf("MatchPolicy(%q).Valid() = false", m)
		}
	}
	for _, m := range []MatchPolicy{"regex", "EXACT", " prefix"} {
		if m.Valid() {
			t.Errorf("MatchPolicy(%q).Valid() = true", m)
		}
	}
}
