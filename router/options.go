package router

import (
	"github.com/wampkit/wampkit/protocol"
)

// Checks of the options of client requests. A spec-defined option with a
// value of the wrong type, or out of range, makes the request fail with
// ERROR wamp.error.invalid_argument naming the option, rather than being
// read as absent; unknown keys are ignored (spec basic "Extensibility").
// The network decoders check some of these already (match); the
// in-process link delivers what the client built, so the router checks
// them all.

// optionKind is the type a spec-defined option must have.
type optionKind uint8

const (
	optBool optionKind = iota
	optString
	optIDList
	optStringList
	optMillis // integer >= 0
)

var (
	subscribeOptions = map[string]optionKind{"match": optString, "get_retained": optBool}
	registerOptions  = map[string]optionKind{"match": optString, "invoke": optString, "disclose_caller": optBool}
	callOptions      = map[string]optionKind{
		"receive_progress": optBool, "disclose_me": optBool, "progress": optBool, "timeout": optMillis,
	}
	publishOptions = map[string]optionKind{
		"acknowledge": optBool, "exclude_me": optBool, "disclose_me": optBool, "retain": optBool,
		"exclude": optIDList, "eligible": optIDList,
		"exclude_authid": optStringList, "eligible_authid": optStringList,
		"exclude_authrole": optStringList, "eligible_authrole": optStringList,
	}
)

// checkOptions refuses with wamp.error.invalid_argument, naming the
// option, the first option of opts that does not have the kind spec gives
// it. A nil value counts as absent: JavaScript clients send undefined
// options, which the serializers decode as nil.
func checkOptions(opts protocol.Dict, spec map[string]optionKind) error {
	for k, v := range opts {
		kind, ok := spec[k]
		if !ok || v == nil {
			continue
		}
		if !optionOK(kind, v) {
			return invalidArgument("option " + k + " has an invalid value")
		}
	}
	return nil
}

// matchOption returns the match policy of the options of a SUBSCRIBE or
// REGISTER (default exact), or refuses an unknown one.
func matchOption(opts protocol.Dict) (protocol.MatchPolicy, error) {
	match := protocol.MatchPolicy(opts.String("match"))
	if match == "" {
		return protocol.MatchExact, nil
	}
	if !match.Valid() {
		return "", invalidArgument("unknown match policy " + string(match))
	}
	return match, nil
}

func optionOK(kind optionKind, v any) bool {
	switch kind {
	case optBool:
		_, ok := v.(bool)
		return ok
	case optString:
		_, ok := v.(string)
		return ok
	case optMillis:
		n, ok := protocol.ToInt64(v)
		return ok && n >= 0
	case optIDList:
		switch l := v.(type) {
		case []protocol.ID, []uint64, []int64, []int:
			return true
		case protocol.List:
			return allIDs(l)
		case []any:
			return allIDs(l)
		}
		return false
	case optStringList:
		switch l := v.(type) {
		case []string:
			return true
		case protocol.List:
			return allStrings(l)
		case []any:
			return allStrings(l)
		}
		return false
	}
	return true
}

func allIDs(l []any) bool {
	for _, x := range l {
		if _, ok := protocol.ToID(x); !ok {
			return false
		}
	}
	return true
}

func allStrings(l []any) bool {
	for _, x := range l {
		if _, ok := x.(string); !ok {
			return false
		}
	}
	return true
}
