package router

import (
	"github.com/wampkit/wampkit/protocol"
)

// Payload Passthru Mode (spec advanced "Payload Passthru Mode"): a CALL,
// PUBLISH, YIELD or ERROR whose Options (Details) carry ppt_* keys holds
// a payload the router must not read or convert. The router routes it
// untouched and copies the ppt_* keys into the INVOCATION, EVENT, RESULT
// or ERROR it sends on.
//
// A message uses the mode when any ppt_* key is present; ppt_scheme is
// then required. The router checks only what the spec pins down, never
// the payload's content:
//
//   - every ppt_* value is a string, and ppt_scheme is not empty;
//   - scheme "wamp" (end-to-end encryption): ppt_serializer cbor or
//     flatbuffers (required), ppt_cipher xsalsa20poly1305 or aes256gcm;
//   - scheme "mqtt": ppt_serializer native (the default), json, msgpack or
//     cbor, and no ppt_cipher;
//   - any other scheme (custom x_ schemes, or the name of a key
//     management provider, which the spec also allows) is passed on as is;
//   - the payload is one item in Arguments, and ArgumentsKw is empty.
//
// A sender that did not announce payload_passthru_mode for its role
// commits a protocol violation. Bad ppt_* options of a CALL or an
// acknowledged PUBLISH are answered with ERROR wamp.error.invalid_argument
// (of an unacknowledged PUBLISH: dropped, as any bad PUBLISH); those of a
// YIELD or ERROR of a callee, which the router cannot answer, are a
// protocol violation.
//
// A CALL in the mode to a callee that did not announce it gets ERROR
// wamp.error.feature_not_supported, as do the router's own meta
// procedures, which cannot read such a payload. A YIELD or ERROR in the
// mode for a caller that did not announce it: the spec asks the dealer to
// tell the callee wamp.error.feature_not_supported, but WAMP has no
// message for that (a router sends ERROR only for a client's requests,
// and YIELD is none), so the caller gets that ERROR for its CALL instead
// and the callee is not told. EVENTs go to every subscriber: the spec
// leaves subscribers that do not support the mode to cope themselves.

// pptKeys are the options of the mode, ppt_scheme first.
var pptKeys = [...]string{"ppt_scheme", "ppt_serializer", "ppt_cipher", "ppt_keyid"}

// pptUsed reports whether opts carry any ppt_* option.
func pptUsed(opts protocol.Dict) bool {
	if len(opts) == 0 {
		return false
	}
	for _, k := range pptKeys {
		if _, ok := opts[k]; ok {
			return true
		}
	}
	return false
}

// checkPPT refuses with wamp.error.invalid_argument the ppt_* options of
// a message in the mode, or its payload, if they are wrong.
func checkPPT(opts protocol.Dict, args protocol.List, kwargs protocol.Dict) error {
	if msg := pptProblem(opts, args, kwargs); msg != "" {
		return invalidArgument(msg)
	}
	return nil
}

// pptProblem returns what is wrong with the ppt_* options of a message in
// the mode and its payload, or "".
func pptProblem(opts protocol.Dict, args protocol.List, kwargs protocol.Dict) string {
	var v [len(pptKeys)]string
	for i, k := range pptKeys {
		x, ok := opts[k]
		if !ok {
			continue
		}
		s, ok := x.(string)
		if !ok {
			return "option " + k + " must be a string"
		}
		v[i] = s
	}
	scheme, serializer, cipher := v[0], v[1], v[2]
	_, hasCipher := opts["ppt_cipher"]
	switch {
	case scheme == "":
		return "payload passthru mode needs a non-empty ppt_scheme"
	case scheme == "wamp":
		if serializer != "cbor" && serializer != "flatbuffers" {
			return "ppt_scheme wamp needs ppt_serializer cbor or flatbuffers"
		}
		if hasCipher && cipher != "xsalsa20poly1305" && cipher != "aes256gcm" {
			return "ppt_scheme wamp allows ppt_cipher xsalsa20poly1305 or aes256gcm"
		}
	case scheme == "mqtt":
		switch serializer {
		case "", "native", "json", "msgpack", "cbor":
		default:
			return "ppt_scheme mqtt allows ppt_serializer native, json, msgpack or cbor"
		}
		if hasCipher {
			return "ppt_scheme mqtt allows no ppt_cipher"
		}
	}
	// Any other scheme (custom x_ ones among them): its attributes are the
	// peers' business.
	if len(args) != 1 || len(kwargs) != 0 {
		return "a payload passthru payload is one item in Arguments and no ArgumentsKw"
	}
	return ""
}

// withPPT returns d with the ppt_* keys of opts added; d is allocated
// (with room for extra more keys) if nil. d must be the router's own.
func withPPT(d, opts protocol.Dict, extra int) protocol.Dict {
	if d == nil {
		d = make(protocol.Dict, len(pptKeys)+extra)
	}
	for _, k := range pptKeys {
		if v, ok := opts[k]; ok {
			d[k] = v
		}
	}
	return d
}

// pptViolation is the protocol violation of a sender that uses the mode
// without having announced it for role.
func pptViolation(m protocol.MessageType, role protocol.Role) error {
	return violationf("%v in payload passthru mode, but the %s did not announce payload_passthru_mode", m, role)
}

// errPPTCallee refuses a CALL in the mode to a callee (or a meta
// procedure) that cannot take it.
var errPPTCallee = refuse(protocol.ErrFeatureNotSupported, "the callee does not support payload passthru mode")

// checkCalleePPT returns the protocol violation of a YIELD or ERROR in
// the mode whose callee did not announce it or whose ppt_* options are
// invalid, or nil.
func (s *session) checkCalleePPT(t protocol.MessageType, opts protocol.Dict, args protocol.List, kwargs protocol.Dict) error {
	if !s.feat.pptCallee {
		return pptViolation(t, protocol.RoleCallee)
	}
	if msg := pptProblem(opts, args, kwargs); msg != "" {
		return violationf("%v: %s", t, msg)
	}
	return nil
}

// pptUnsupported ends the call of inv, whose callee answered in the mode
// that its caller did not announce, with ERROR
// wamp.error.feature_not_supported to the caller. After a progressive
// YIELD the invocation is also interrupted, as if the caller had canceled
// it, so that its further answers are dropped.
func (d *dealer) pptUnsupported(inv *invocation, progress bool) {
	d.answer(inv.callee, inv, callError(inv.callID, protocol.ErrFeatureNotSupported,
		"the callee answered in payload passthru mode, which the caller does not support"), true)
	if progress {
		d.interrupt(inv.callee, inv, cancelKillNoWait, true)
	}
}
