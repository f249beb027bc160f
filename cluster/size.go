package cluster

import (
	"errors"

	"github.com/nats-io/nats.go"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// Messages of a call that NATS refuses. The NATS servers carry messages
// up to their max_payload (1 MB by default), which may be less than the
// routers accept from clients. A call must still end with exactly one
// answer (spec basic "Remote Procedure Calls"): a CALL, RESULT or ERROR
// too large for NATS ends the call with ERROR
// wamp.error.payload_size_exceeded ("A message could not be delivered
// due to transport payload size limits", spec basic "Predefined URIs"),
// as a single router does when its transport refuses a message too large
// for the client; any other refusal with [router.ClusterUnavailable].

// errTooLarge is wrapped by the error of a frame larger than the NATS
// servers take.
var errTooLarge = errors.New("cluster: message larger than the NATS servers take")

// sendFailureURI returns the URI of the ERROR that ends a call whose
// message NATS refused with err.
func sendFailureURI(err error) protocol.URI {
	if errors.Is(err, errTooLarge) || errors.Is(err, nats.ErrMaxPayload) {
		return protocol.ErrPayloadSizeExceeded
	}
	return router.ClusterUnavailable
}
