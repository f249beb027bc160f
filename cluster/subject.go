package cluster

import (
	"strings"

	"github.com/wampkit/wampkit/protocol"
)

// Subjects. A WAMP URI and a NATS subject are both dot-separated, so a
// topic maps to a subject component by component:
//
//	<prefix>.ev.<realm>.<c1>.<c2>...
//
// where <realm> is the whole realm URI as one token (its dots escaped)
// and each topic component is one token. Bytes that NATS does not allow
// in a token or gives a meaning ('*', '>', whitespace, '.'), the escape
// byte '%' and all other punctuation and non-ASCII bytes are written
// as %XX, so the mapping is one to one; only ASCII letters, digits, '_'
// and '-' stand for themselves, which covers the strict URIs of the spec
// (basic "URIs") unchanged. A wildcard subscription's empty
// components become '*' tokens, which match exactly one token as WAMP's
// wildcard matches exactly one component; a prefix subscription becomes
// the subject of the components before its last (possibly partial) one
// followed by '>', and the receiving router checks the prefix itself
// (see router.ClusterSubscription.Deliver).

// escapeToken appends s to b as one subject token.
func escapeToken(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if plain(c) {
			b.WriteByte(c)
			continue
		}
		const hex = "0123456789ABCDEF"
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
}

// plain reports whether c stands for itself in a subject token.
func plain(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return c == '_' || c == '-'
}

// realmSubject returns the subject prefix of a realm's events:
// "<prefix>.ev.<realm>".
func realmSubject(prefix string, realm protocol.URI) string {
	var b strings.Builder
	b.Grow(len(prefix) + len(realm) + 8)
	b.WriteString(prefix)
	b.WriteString(".ev.")
	escapeToken(&b, string(realm))
	return b.String()
}

// topicSubject returns the subject of the events of topic in the realm
// whose realmSubject is rs.
func topicSubject(rs string, topic protocol.URI) string {
	var b strings.Builder
	b.Grow(len(rs) + len(topic) + 8)
	b.WriteString(rs)
	for c := range strings.SplitSeq(string(topic), ".") {
		b.WriteByte('.')
		escapeToken(&b, c)
	}
	return b.String()
}

// filterSubject returns the subject that a node subscribes to for a
// subscription to topic with match in the realm whose realmSubject is rs.
func filterSubject(rs string, topic protocol.URI, match protocol.MatchPolicy) string {
	var b strings.Builder
	b.Grow(len(rs) + len(topic) + 8)
	b.WriteString(rs)
	comps := strings.Split(string(topic), ".")
	switch match {
	case protocol.MatchPrefix:
		// The last component may continue in the topic ("com.ex"
		// matches "com.example.x"): only the ones before it are fixed.
		for _, c := range comps[:len(comps)-1] {
			b.WriteByte('.')
			escapeToken(&b, c)
		}
		b.WriteString(".>")
	case protocol.MatchWildcard:
		for _, c := range comps {
			b.WriteByte('.')
			if c == "" {
				b.WriteByte('*')
			} else {
				escapeToken(&b, c)
			}
		}
	default:
		for _, c := range comps {
			b.WriteByte('.')
			escapeToken(&b, c)
		}
	}
	return b.String()
}
