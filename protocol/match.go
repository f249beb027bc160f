package protocol

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MatchPolicy is the matching policy of a subscription or registration,
// SUBSCRIBE.Options.match and REGISTER.Options.match (spec advanced
// "Pattern-based Subscription", "Pattern-based Registration").
type MatchPolicy string

// The three matching policies. The zero value "" means [MatchExact].
const (
	MatchExact    MatchPolicy = "exact"
	MatchPrefix   MatchPolicy = "prefix"
	MatchWildcard MatchPolicy = "wildcard"
)

// Valid reports whether m is "", exact, prefix or wildcard.
func (m MatchPolicy) Valid() bool {
	switch m {
	case "", MatchExact, MatchPrefix, MatchWildcard:
		return true
	}
	return false
}

// CheckURI checks the syntax of a concrete URI: a topic, procedure, realm,
// error or close reason (spec basic "URIs").
//
// Loose rules (strict false): the URI is valid UTF-8 and consists of one
// or more non-empty components separated by '.'; a component contains no
// '#' and no white space. Strict rules (strict true): every component
// consists of [0-9a-z_] only. The error is a *[URIError]. An empty URI is
// invalid.
//
// CheckURI does not reject the reserved "wamp." prefix; see [IsReserved].
func CheckURI(u URI, strict bool) error {
	return uriErr(u, checkURI(u, strict, false, false))
}

func uriErr(u URI, reason string) error {
	if reason == "" {
		return nil
	}
	return &URIError{URI: u, Reason: reason}
}

// CheckPattern checks the syntax of a subscription topic or registration
// procedure under the given matching policy:
//
//   - [MatchExact] (or ""): as [CheckURI].
//   - [MatchPrefix]: as [CheckURI], except that the URI may end with a '.'
//     ("com.myapp." matches everything below com.myapp). Any other empty
//     component is invalid.
//   - [MatchWildcard]: components may be empty; an empty component matches
//     any one component ("com.myapp..update"). The pattern itself must not
//     be empty.
//
// An unknown policy is an error.
func CheckPattern(u URI, match MatchPolicy, strict bool) error {
	switch match {
	case "", MatchExact:
		return uriErr(u, checkURI(u, strict, false, false))
	case MatchPrefix:
		return uriErr(u, checkURI(u, strict, false, true))
	case MatchWildcard:
		return uriErr(u, checkURI(u, strict, true, false))
	}
	return uriErr(u, "unknown match policy "+quoteTrunc(string(match)))
}

// IsReserved reports whether u is in the spec-owned "wamp" namespace
// (its first component is "wamp"). Application URIs MUST NOT be
// (spec basic "Reserved URIs"); routers refuse to let clients register
// or publish such URIs.
func IsReserved(u URI) bool {
	return u == "wamp" || strings.HasPrefix(string(u), "wamp.")
}

// URIError is the error [CheckURI] and [CheckPattern] return for an
// invalid URI. Error returns e.g. `protocol: invalid URI "a..b": empty
// component`.
type URIError struct {
	URI    URI    // the URI at fault
	Reason string // what is wrong with it
}

// Error returns `protocol: invalid URI "<uri>": <reason>`; long URIs are
// shortened.
func (e *URIError) Error() string { return "protocol: " + e.short() }

func (e *URIError) short() string {
	return "invalid URI " + quoteTrunc(string(e.URI)) + ": " + e.Reason
}

// quoteTrunc quotes s for an error message, cut to at most 64 bytes.
func quoteTrunc(s string) string {
	const max = 64
	if len(s) <= max {
		return strconv.Quote(s)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "..."
}

// checkURI implements the rules of CheckURI and CheckPattern in one pass
// over u and returns "" or what is wrong. emptyOK allows empty components
// (wildcard patterns); trailingDot allows an empty last component (prefix
// patterns).
func checkURI(u URI, strict, emptyOK, trailingDot bool) string {
	if u == "" {
		return "empty"
	}
	s := string(u)
	compLen := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case c == '.':
				if compLen == 0 && !emptyOK {
					return "empty component"
				}
				compLen = 0
				continue
			case c == '#':
				return "'#' is reserved"
			case strict:
				if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
					return "character " + strconv.QuoteRune(rune(c)) + " not allowed by the strict rules"
				}
			case c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r':
				return "white space"
			}
			compLen++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return "invalid UTF-8"
		}
		if strict {
			return "character " + strconv.QuoteRune(r) + " not allowed by the strict rules"
		}
		if unicode.IsSpace(r) {
			return "white space"
		}
		i += size
		compLen++
	}
	if compLen == 0 && !emptyOK && !trailingDot {
		return "empty component"
	}
	return ""
}

// MatchURI reports whether the concrete URI u matches pattern under the
// policy match (spec advanced "Pattern-based Registration"):
//
//   - [MatchExact] (or ""): u == pattern.
//   - [MatchPrefix]: pattern is a string prefix of u. As in the spec's
//     example, "com.myapp.myobject1" matches "com.myapp.myobject1",
//     "com.myapp.myobject1.proc" and also "com.myapp.myobject1-mysubobject1",
//     but not "com.myapp.myobject".
//   - [MatchWildcard]: u and pattern have the same number of components and
//     every non-empty pattern component equals the one of u; an empty
//     pattern component matches any one component. "com.myapp..proc"
//     matches "com.myapp.obj.proc" but not "com.myapp.obj.proc.sub".
//
// An unknown policy matches nothing. MatchURI does not check syntax and
// does not allocate.
func MatchURI(pattern URI, match MatchPolicy, u URI) bool {
	switch match {
	case "", MatchExact:
		return pattern == u
	case MatchPrefix:
		return strings.HasPrefix(string(u), string(pattern))
	case MatchWildcard:
		return matchWildcard(string(pattern), string(u))
	}
	return false
}

func matchWildcard(p, u string) bool {
	for {
		pi := strings.IndexByte(p, '.')
		ui := strings.IndexByte(u, '.')
		if (pi < 0) != (ui < 0) {
			return false // different number of components
		}
		if pi < 0 {
			return p == "" || p == u
		}
		if pi > 0 && p[:pi] != u[:ui] {
			return false
		}
		p, u = p[pi+1:], u[ui+1:]
	}
}
