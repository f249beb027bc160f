package cluster

import (
	"errors"
	"fmt"
	"sync"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/serialize"
)

// The envelope of an event between nodes is a WAMP PUBLISH in
// MessagePack, the serializer of the router's clients that keeps binary
// values as they are:
//
//	[PUBLISH, Publication, {"d": Details, "o": Options}, Topic, Args, Kwargs]
//
// with the publication ID in the request ID's place, and Details and
// Options (see router.ClusterEvent) left out when nil. It is encoded once
// per publication, whatever the number of nodes and subscribers, and
// decoded by serialize's budgeted, validating decoder, so a malformed
// envelope is an error, not a panic. The realm is in the subject.

// Keys of the envelope's options.
const (
	keyDetails = "d"
	keyOptions = "o"
)

var codec = serialize.MessagePack.Codec()

// errEnvelope is wrapped by the errors of decodeEvent.
var errEnvelope = errors.New("cluster: malformed event envelope")

// bufs holds encoding buffers: Publish runs on many goroutines at once.
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// encodeEvent appends ev's envelope to dst.
func encodeEvent(dst []byte, ev *router.ClusterEvent) ([]byte, error) {
	opts := make(protocol.Dict, 2)
	if ev.Details != nil {
		opts[keyDetails] = ev.Details
	}
	if ev.Options != nil {
		opts[keyOptions] = ev.Options
	}
	m := protocol.Publish{Request: ev.Publication, Options: opts, Topic: ev.Topic, Args: ev.Args, Kwargs: ev.Kwargs}
	return codec.Encode(dst, &m)
}

// decodeEvent decodes an envelope into ev, for realm.
func decodeEvent(data []byte, realm protocol.URI, ev *router.ClusterEvent) error {
	m, err := codec.Decode(data)
	if err != nil {
		return fmt.Errorf("%w: %w", errEnvelope, err)
	}
	p, ok := m.(*protocol.Publish)
	if !ok {
		return fmt.Errorf("%w: %v instead of PUBLISH", errEnvelope, m.Type())
	}
	*ev = router.ClusterEvent{Realm: realm, Topic: p.Topic, Publication: p.Request, Args: p.Args, Kwargs: p.Kwargs}
	if v, ok := p.Options[keyDetails]; ok {
		if ev.Details, ok = dict(v); !ok {
			return fmt.Errorf("%w: details are %T", errEnvelope, v)
		}
	}
	if v, ok := p.Options[keyOptions]; ok {
		if ev.Options, ok = dict(v); !ok {
			return fmt.Errorf("%w: options are %T", errEnvelope, v)
		}
	}
	return nil
}

// dict returns v as a Dict, as the decoder returns maps.
func dict(v any) (protocol.Dict, bool) {
	switch d := v.(type) {
	case protocol.Dict:
		return d, true
	case map[string]any:
		return d, true
	}
	return nil, false
}
