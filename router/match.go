package router

import "strings"

// Pattern indexes for prefix and wildcard subscriptions (spec advanced
// "Pattern-based Subscription"). Matching a topic costs time in the
// length of the topic and the number of matches, not in the number of
// patterns. Neither type is safe for concurrent use; broker.pmu guards
// them.

// prefixNode is a radix tree over the bytes of prefix patterns: a topic
// matches every pattern that is a string prefix of it (so "com.a.obj"
// matches "com.a.obj-sub", as in the spec's example).
type prefixNode struct {
	label    string        // bytes on the edge from the parent
	sub      *subscription // the pattern ending here, or nil
	children []*prefixNode // distinct first bytes of label
}

func (n *prefixNode) child(c byte) (int, *prefixNode) {
	for i, ch := range n.children {
		if ch.label[0] == c {
			return i, ch
		}
	}
	return -1, nil
}

func (n *prefixNode) insert(key string, sub *subscription) {
	for {
		if key == "" {
			n.sub = sub
			return
		}
		_, c := n.child(key[0])
		if c == nil {
			n.children = append(n.children, &prefixNode{label: key, sub: sub})
			return
		}
		l := commonPrefixLen(c.label, key)
		if l < len(c.label) {
			// Split c's edge at l.
			tail := &prefixNode{label: c.label[l:], sub: c.sub, children: c.children}
			c.label, c.sub, c.children = c.label[:l], nil, []*prefixNode{tail}
		}
		n, key = c, key[l:]
	}
}

// remove clears the pattern key if it belongs to sub, and prunes nodes
// left without patterns.
func (n *prefixNode) remove(key string, sub *subscription) {
	if key == "" {
		if n.sub == sub {
			n.sub = nil
		}
		return
	}
	i, c := n.child(key[0])
	if c == nil || !strings.HasPrefix(key, c.label) {
		return
	}
	c.remove(key[len(c.label):], sub)
	switch {
	case c.sub == nil && len(c.children) == 0:
		n.children = append(n.children[:i], n.children[i+1:]...)
	case c.sub == nil && len(c.children) == 1:
		// Merge c with its only child.
		gc := c.children[0]
		gc.label = c.label + gc.label
		n.children[i] = gc
	}
}

// match appends the subscriptions of every pattern that is a prefix of
// topic to out.
func (n *prefixNode) match(topic string, out []*subscription) []*subscription {
	for {
		if n.sub != nil {
			out = append(out, n.sub)
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
type wildNode struct {
	children map[string]*wildNode
	sub      *subscription // the pattern ending here, or nil
}

func (n *wildNode) insert(pattern string, sub *subscription) {
	for {
		comp, rest, more := strings.Cut(pattern, ".")
		c := n.children[comp]
		if c == nil {
			if n.children == nil {
				n.children = make(map[string]*wildNode)
			}
			c = &wildNode{}
			n.children[comp] = c
		}
		if !more {
			c.sub = sub
			return
		}
		n, pattern = c, rest
	}
}

func (n *wildNode) remove(pattern string, sub *subscription) {
	comp, rest, more := strings.Cut(pattern, ".")
	c := n.children[comp]
	if c == nil {
		return
	}
	if more {
		c.remove(rest, sub)
	} else if c.sub == sub {
		c.sub = nil
	}
	if c.sub == nil && len(c.children) == 0 {
		delete(n.children, comp)
	}
}

// match appends the subscriptions of every pattern matching topic to out:
// same number of components, and every non-empty pattern component equal
// to the topic's.
func (n *wildNode) match(topic string, out []*subscription) []*subscription {
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

func (n *wildNode) matchNext(rest string, more bool, out []*subscription) []*subscription {
	if !more {
		if n.sub != nil {
			out = append(out, n.sub)
		}
		return out
	}
	return n.match(rest, out)
}
