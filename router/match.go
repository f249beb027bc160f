package router

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/wampkit/wampkit/protocol"
)

// uriIndex finds the subscriptions (broker) or registrations (dealer) of a
// realm by URI; nobody else walks its maps and tries. Exact entries sit in
// a map read without locks; prefix and wildcard patterns in two tries
// guarded by the index's own pmu, which readers take only while there are
// patterns, so exact lookups never pay for them. Writers (insert, remove)
// are serialized by the owner's mutex, which also guards the owner's other
// tables of the same entries.
type uriIndex[T any] struct {
	exact sync.Map // protocol.URI -> *T with match exact

	patterns atomic.Int64 // number of pattern entries
	pmu      sync.RWMutex // guards prefix and wildcard
	prefix   prefixNode[T]
	wildcard wildNode[T]
}

// insert makes v findable under u with the given match policy.
func (x *uriIndex[T]) insert(u protocol.URI, match protocol.MatchPolicy, v *T) {
	switch match {
	case protocol.MatchExact:
		x.exact.Store(u, v)
	case protocol.MatchPrefix:
		x.pmu.Lock()
		x.prefix.insert(string(u), v)
		x.pmu.Unlock()
		x.patterns.Add(1)
	case protocol.MatchWildcard:
		x.pmu.Lock()
		x.wildcard.insert(string(u), v)
		x.pmu.Unlock()
		x.patterns.Add(1)
	}
}

// remove undoes insert; an exact entry is removed only if it is still v.
func (x *uriIndex[T]) remove(u protocol.URI, match protocol.MatchPolicy, v *T) {
	switch match {
	case protocol.MatchExact:
		x.exact.CompareAndDelete(u, v)
	case protocol.MatchPrefix:
		x.pmu.Lock()
		x.prefix.remove(string(u), v)
		x.pmu.Unlock()
		x.patterns.Add(-1)
	case protocol.MatchWildcard:
		x.pmu.Lock()
		x.wildcard.remove(string(u), v)
		x.pmu.Unlock()
		x.patterns.Add(-1)
	}
}

// lookup returns the exact entry of u, without locking.
func (x *uriIndex[T]) lookup(u protocol.URI) (*T, bool) {
	v, ok := x.exact.Load(u)
	if !ok {
		return nil, false
	}
	return v.(*T), true
}

// hasPatterns reports whether the index holds any prefix or wildcard
// entry.
func (x *uriIndex[T]) hasPatterns() bool { return x.patterns.Load() > 0 }

// matchPatterns appends to out every prefix and wildcard entry matching u
// and returns it: the prefix entries shortest first, then the wildcard
// entries most specific first (see wildNode.match). It takes no lock
// while the index has no patterns.
func (x *uriIndex[T]) matchPatterns(u string, out []*T) []*T {
	if !x.hasPatterns() {
		return out
	}
	x.pmu.RLock()
	out = x.prefix.match(u, out)
	out = x.wildcard.match(u, out)
	x.pmu.RUnlock()
	return out
}

// bestPattern returns the pattern entry a call of u goes to by the spec's
// precedence for registrations: the longest matching prefix, else the
// most specific matching wildcard, else nil (spec advanced "Pattern-based
// Registration"; exact entries are looked up first, with lookup).
func (x *uriIndex[T]) bestPattern(u string) *T {
	if !x.hasPatterns() {
		return nil
	}
	var buf [4]*T
	x.pmu.RLock()
	defer x.pmu.RUnlock()
	if m := x.prefix.match(u, buf[:0]); len(m) > 0 {
		return m[len(m)-1]
	}
	return x.wildcard.first(u)
}

// patternsByPrecedence returns every pattern entry matching u in the
// order bestPattern prefers them: prefixes longest first, then wildcards
// most specific first.
func (x *uriIndex[T]) patternsByPrecedence(u string) []*T {
	if !x.hasPatterns() {
		return nil
	}
	x.pmu.RLock()
	prefixes := x.prefix.match(u, nil)
	slices.Reverse(prefixes)
	out := x.wildcard.match(u, prefixes)
	x.pmu.RUnlock()
	return out
}

// Pattern indexes for prefix and wildcard subscriptions and registrations
// (spec advanced "Pattern-based Subscription", "Pattern-based
// Registration"). Matching a URI costs time in the length of the URI and
// the number of matches, not in the number of patterns. Neither type is
// safe for concurrent use; the broker's and dealer's pmu guard them.

// prefixNode is a radix tree over the bytes of prefix patterns: a topic
// matches every pattern that is a string prefix of it (so "com.a.obj"
// matches "com.a.obj-sub", as in the spec's example).
type prefixNode[T any] struct {
	label    string           // bytes on the edge from the parent
	val      *T               // the pattern ending here, or nil
	children []*prefixNode[T] // distinct first bytes of label
}

func (n *prefixNode[T]) child(c byte) (int, *prefixNode[T]) {
	for i, ch := range n.children {
		if ch.label[0] == c {
			return i, ch
		}
	}
	return -1, nil
}

func (n *prefixNode[T]) insert(key string, val *T) {
	for {
		if key == "" {
			n.val = val
			return
		}
		_, c := n.child(key[0])
		if c == nil {
			n.children = append(n.children, &prefixNode[T]{label: key, val: val})
			return
		}
		l := commonPrefixLen(c.label, key)
		if l < len(c.label) {
			// Split c's edge at l.
			tail := &prefixNode[T]{label: c.label[l:], val: c.val, children: c.children}
			c.label, c.val, c.children = c.label[:l], nil, []*prefixNode[T]{tail}
		}
		n, key = c, key[l:]
	}
}

// remove clears the pattern key if it belongs to val, and prunes nodes
// left without patterns.
func (n *prefixNode[T]) remove(key string, val *T) {
	if key == "" {
		if n.val == val {
			n.val = nil
		}
		return
	}
	i, c := n.child(key[0])
	if c == nil || !strings.HasPrefix(key, c.label) {
		return
	}
	c.remove(key[len(c.label):], val)
	switch {
	case c.val == nil && len(c.children) == 0:
		n.children = append(n.children[:i], n.children[i+1:]...)
	case c.val == nil && len(c.children) == 1:
		// Merge c with its only child.
		gc := c.children[0]
		gc.label = c.label + gc.label
		n.children[i] = gc
	}
}

// match appends the values of every pattern that is a prefix of topic
// to out, shortest pattern first.
func (n *prefixNode[T]) match(topic string, out []*T) []*T {
	for {
		if n.val != nil {
			out = append(out, n.val)
		}
		if topic == "" {
			return out
		}
		_, c := n.child(topic[0])
		if c == nil || !strings.HasPrefix(topic, c.label) {
			return out
		}
		n, topic = c, topic[len(c.label):]
	}
}

func commonPrefixLen(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// wildNode is a tree over the components of wildcard patterns; the
// component "" is the wildcard, matching any one component.
type wildNode[T any] struct {
	children map[string]*wildNode[T]
	val      *T // the pattern ending here, or nil
}

func (n *wildNode[T]) insert(pattern string, val *T) {
	for {
		comp, rest, more := strings.Cut(pattern, ".")
		c := n.children[comp]
		if c == nil {
			if n.children == nil {
				n.children = make(map[string]*wildNode[T])
			}
			c = &wildNode[T]{}
			n.children[comp] = c
		}
		if !more {
			c.val = val
			return
		}
		n, pattern = c, rest
	}
}

func (n *wildNode[T]) remove(pattern string, val *T) {
	comp, rest, more := strings.Cut(pattern, ".")
	c := n.children[comp]
	if c == nil {
		return
	}
	if more {
		c.remove(rest, val)
	} else if c.val == val {
		c.val = nil
	}
	if c.val == nil && len(c.children) == 0 {
		delete(n.children, comp)
	}
}

// match appends the values of every pattern matching topic to out:
// same number of components, and every non-empty pattern component equal
// to the topic's. A pattern with a concrete component where another has
// the wildcard comes first, at the first position they differ: the most
// specific first, by the spec's rule that first returns the best of.
func (n *wildNode[T]) match(topic string, out []*T) []*T {
	if len(n.children) == 0 {
		return out
	}
	comp, rest, more := strings.Cut(topic, ".")
	if c := n.children[comp]; c != nil {
		out = c.matchNext(rest, more, out)
	}
	if comp != "" {
		if c := n.children[""]; c != nil {
			out = c.matchNext(rest, more, out)
		}
	}
	return out
}

func (n *wildNode[T]) matchNext(rest string, more bool, out []*T) []*T {
	if !more {
		if n.val != nil {
			out = append(out, n.val)
		}
		return out
	}
	return n.match(rest, out)
}

// first returns the value of the wildcard pattern that matches u and is
// most specific by the spec's rule for registrations: the longest run of
// concrete components before the first wildcard wins, ties broken by the
// next run, and so on (spec advanced "Pattern-based Registration"). A
// depth-first walk that tries the concrete component before the wildcard
// at each level finds exactly that pattern first.
func (n *wildNode[T]) first(u string) *T {
	if len(n.children) == 0 {
		return nil
	}
	comp, rest, more := strings.Cut(u, ".")
	if c := n.children[comp]; c != nil {
		if v := c.firstNext(rest, more); v != nil {
			return v
		}
	}
	if comp != "" {
		if c := n.children[""]; c != nil {
			return c.firstNext(rest, more)
		}
	}
	return nil
}

func (n *wildNode[T]) firstNext(rest string, more bool) *T {
	if !more {
		return n.val
	}
	return n.first(rest)
}
