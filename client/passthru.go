package client

import (
	"github.com/wampkit/wampkit/protocol"
)

// Passthru describes a payload in Payload Passthru Mode (WAMP spec,
// advanced/payload_passthru_mode.md): a payload the router passes on
// without reading it, such as an end-to-end encrypted one or an MQTT
// message. The payload itself is one item of Args, usually []byte, and
// Kwargs is empty; the router checks that, and the ppt_* rules of the
// "wamp" and "mqtt" schemes. Both ends must set Config.PayloadPassthru.
type Passthru struct {
	// Scheme is ppt_scheme: "wamp" (end-to-end encryption), "mqtt", a
	// custom "x_..." scheme or the name of a key management provider.
	// Required.
	Scheme string
	// Serializer is ppt_serializer, the serializer of the payload ("cbor",
	// "flatbuffers", "native", ...). Empty means none is sent.
	Serializer string
	// Cipher is ppt_cipher, the cipher of an encrypted payload. Empty
	// means none is sent.
	Cipher string
	// KeyID is ppt_keyid, which key the payload was encrypted with. Empty
	// means none is sent.
	KeyID string
}

// addTo adds the ppt_* options of p to opts.
func (p *Passthru) addTo(opts protocol.Dict) {
	opts["ppt_scheme"] = p.Scheme
	for k, v := range map[string]string{"ppt_serializer": p.Serializer, "ppt_cipher": p.Cipher, "ppt_keyid": p.KeyID} {
		if v != "" {
			opts[k] = v
		}
	}
}

// PassthruOf returns the ppt_* keys of the Details of an [Event],
// [Invocation] or [Result] (or of the Details of a *protocol.Error), and
// whether the payload is in Payload Passthru Mode (ppt_scheme present).
func PassthruOf(details protocol.Dict) (Passthru, bool) {
	if _, ok := details["ppt_scheme"]; !ok {
		return Passthru{}, false
	}
	return Passthru{
		Scheme:     details.String("ppt_scheme"),
		Serializer: details.String("ppt_serializer"),
		Cipher:     details.String("ppt_cipher"),
		KeyID:      details.String("ppt_keyid"),
	}, true
}
