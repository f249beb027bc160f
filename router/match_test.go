package router

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/protocol"
)

// randomURI returns a URI of 1-4 components from a small alphabet, so that
// prefixes and wildcard matches are frequent; with wild, components may be
// empty (wildcards), with dot the URI may end with a dot (prefix pattern).
func randomURI(r *rand.Rand, wild, dot bool) string {
	comps := []string{"a", "b", "ab", "c"}
	n := 1 + r.IntN(4)
	parts := make([]string, n)
	for i := range parts {
		if wild && r.IntN(3) == 0 {
			continue // ""
		}
		parts[i] = comps[r.IntN(len(comps))]
	}
	u := strings.Join(parts, ".")
	if dot && r.IntN(3) == 0 {
		u += "."
	}
	return u
}

// TestTries compares the prefix and wildcard tries with protocol.MatchURI
// over random patterns, topics, insertions and removals.
func TestTries(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		var prefix prefixNode[string]
		var wild wildNode[string]
		prefixes := map[string]*string{}
		wilds := map[string]*string{}
		for range 30 {
			p := randomURI(r, false, true)
			if prefixes[p] == nil && protocol.CheckPattern(protocol.URI(p), protocol.MatchPrefix, false) == nil {
				v := "prefix " + p
				prefixes[p] = &v
				prefix.insert(p, &v)
			}
			w := randomURI(r, true, false)
			if wilds[w] == nil && protocol.CheckPattern(protocol.URI(w), protocol.MatchWildcard, false) == nil {
				v := "wildcard " + w
				wilds[w] = &v
				wild.insert(w, &v)
			}
		}
		// Remove about a third.
		for p, v := range prefixes {
			if r.IntN(3) == 0 {
				prefix.remove(p, v)
				delete(prefixes, p)
			}
		}
		for w, v := range wilds {
			if r.IntN(3) == 0 {
				wild.remove(w, v)
				delete(wilds, w)
			}
		}
		for range 30 {
			topic := randomURI(r, false, false)
			var want []string
			for p, v := range prefixes {
				if protocol.MatchURI(protocol.URI(p), protocol.MatchPrefix, protocol.URI(topic)) {
					want = append(want, *v)
				}
			}
			for w, v := range wilds {
				if protocol.MatchURI(protocol.URI(w), protocol.MatchWildcard, protocol.URI(topic)) {
					want = append(want, *v)
				}
			}
			var got []string
			for _, v := range prefix.match(topic, nil) {
				got = append(got, *v)
			}
			for _, v := range wild.match(topic, nil) {
				got = append(got, *v)
			}
			slices.Sort(want)
			slices.Sort(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("round %d: matches of %q (-want +got):\n%s", round, topic, diff)
			}
			// The longest prefix comes last.
			if m := prefix.match(topic, nil); len(m) > 1 {
				for i := 1; i < len(m); i++ {
					if len(*m[i]) <= len(*m[i-1]) {
						t.Fatalf("round %d: prefix matches of %q not by length: %q before %q", round, topic, *m[i-1], *m[i])
					}
				}
			}
			// first picks the wildcard with the longest concrete run, ties
			// broken by the next run: compare per component, a concrete
			// component beats a wildcard at the first difference.
			var best string
			for w := range wilds {
				if !protocol.MatchURI(protocol.URI(w), protocol.MatchWildcard, protocol.URI(topic)) {
					continue
				}
				if best == "" || moreSpecific(w, best) {
					best = w
				}
			}
			gotFirst := wild.first(topic)
			switch {
			case best == "" && gotFirst != nil:
				t.Fatalf("round %d: first(%q) = %q, want none", round, topic, *gotFirst)
			case best != "" && (gotFirst == nil || *gotFirst != "wildcard "+best):
				t.Fatalf("round %d: first(%q) = %v, want %q", round, topic, gotFirst, best)
			}
		}
	}
	// Removing everything leaves empty tries.
	var prefix prefixNode[string]
	a, b := "a", "b"
	prefix.insert("com.a", &a)
	prefix.insert("com.ab", &b)
	prefix.remove("com.a", &a)
	prefix.remove("com.ab", &b)
	if len(prefix.children) != 0 {
		t.Errorf("prefix trie not pruned: %d children left", len(prefix.children))
	}
}

// moreSpecific reports whether wildcard pattern a beats b (same number of
// components): at the first component where one is concrete and the
// other a wildcard, the concrete one wins.
func moreSpecific(a, b string) bool {
	ac, bc := strings.Split(a, "."), strings.Split(b, ".")
	for i := range ac {
		if (ac[i] == "") != (bc[i] == "") {
			return ac[i] != ""
		}
	}
	return false
}
