package protocol

import (
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// validate checks the fields of a message, in wire order, as Validate
// does (received false) or ValidateReceived does (received true). Dicts
// and payload are not inspected.
func (l *Layout) validate(base unsafe.Pointer, received bool) *MessageError {
	for _, i := range l.checked {
		f := &l.fields[i]
		switch f.rule {
		case ruleID:
			if v := *idAt(base, f); !v.Valid() {
				return malformed(l.typ, f.Name, idReason(v))
			}
		case ruleRevocable:
			if v := *idAt(base, f); v != 0 && !v.Valid() {
				return malformed(l.typ, f.Name, idReason(v))
			}
		case ruleRequestType:
			if t := *typeAt(base, f); !errorRequestTypeValid(t) {
				return malformed(l.typ, f.Name, "ERROR cannot answer message type "+strconv.Itoa(int(t)))
			}
		case ruleURI:
			if r := uriReason(*uriAt(base, f)); r != "" {
				return malformed(l.typ, f.Name, r)
			}
		default: // ruleRequestURI, rulePattern
			u := *uriAt(base, f)
			name, r := f.Name, ""
			switch {
			case received:
				if !utf8.ValidString(string(u)) {
					// Not a URI question: no string may carry invalid UTF-8.
					r = "invalid UTF-8"
				}
			case f.rule == ruleRequestURI:
				r = uriReason(u)
			default:
				name, r = patternReason(name, u, *dictAt(base, &l.fields[l.options]))
			}
			if r != "" {
				return malformed(l.typ, name, r)
			}
		}
	}
	return nil
}

// Validate checks the fields of a message built in Go, as [ToList] needs
// them: IDs in [1, MaxID] (Request 0 is allowed only for UNSUBSCRIBED and
// UNREGISTERED, the revocation form), URIs by the loose rules of
// [CheckURI] (SUBSCRIBE.Topic and REGISTER.Procedure by [CheckPattern] for
// their Options["match"]), and ERROR's RequestType (one of the request
// types an [Error] may answer). Dicts and payload are not inspected: the
// serializer rejects what it cannot encode.
//
// The error is a *[MessageError]. A nil message, a typed nil pointer and
// message types not defined in this package are errors too.
func Validate(m Message) error {
	if _, err := elementsOf(m); err != nil {
		return err
	}
	return nil
}

// ValidateReceived is [Validate] for a message that arrived from a peer, as
// [FromList] and the decoders of the serialize package check it: the
// topic of PUBLISH and SUBSCRIBE and the procedure of CALL and REGISTER
// (with SUBSCRIBE's and REGISTER's Options["match"]) are not checked. A
// bad URI there is not a malformed message but a request the router
// refuses with ERROR wamp.error.invalid_uri (spec basic "URIs"); the
// router checks them with [CheckURI] and [CheckPattern].
func ValidateReceived(m Message) error {
	l, base, err := baseOf(m)
	if err == nil {
		err = l.validate(base, true)
	}
	if err != nil {
		return err
	}
	return nil
}

// errorRequestTypeValid reports whether an ERROR message may answer a
// request of type t (see Error).
func errorRequestTypeValid(t MessageType) bool {
	switch t {
	case TypeSubscribe, TypeUnsubscribe, TypePublish, TypeRegister, TypeUnregister, TypeCall, TypeInvocation:
		return true
	}
	return false
}

// idReason says what is wrong with an ID out of range.
func idReason(id ID) string {
	return "ID " + strconv.FormatUint(uint64(id), 10) + " out of range [1, 2^53]"
}

// uriReason returns what is wrong with u by the loose URI rules, or "".
func uriReason(u URI) string {
	if r := checkURI(u, false, false, false); r != "" {
		return (&URIError{URI: u, Reason: r}).short()
	}
	return ""
}

// patternReason checks the topic of SUBSCRIBE or the procedure of REGISTER
// (field) under options["match"]. It returns the field at fault
// ("Options.match" if the option is not a string) and what is wrong, or "".
func patternReason(field string, u URI, options Dict) (string, string) {
	match, r := matchOption(options)
	if r != "" {
		return "Options.match", r
	}
	if err := CheckPattern(u, match, false); err != nil {
		return field, err.(*URIError).short() + " (match " + string(match) + ")"
	}
	return field, ""
}

// matchOption returns the policy to check a SUBSCRIBE topic or REGISTER
// procedure with: options["match"], MatchExact if absent, MatchWildcard
// (the most permissive rules) if unknown, which the router then refuses
// with an ERROR. It returns a reason if match is not a string.
func matchOption(options Dict) (MatchPolicy, string) {
	x, ok := options["match"]
	if !ok {
		return MatchExact, ""
	}
	var match MatchPolicy
	switch s := x.(type) {
	case string:
		match = MatchPolicy(s)
	case MatchPolicy:
		match = s
	default:
		return "", "not a string: " + describe(x)
	}
	if !match.Valid() {
		return MatchWildcard, ""
	}
	if match == "" {
		return MatchExact, ""
	}
	return match, ""
}
