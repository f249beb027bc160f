package router_test

import (
	"testing"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// TestMessageSizeAllocs: a cluster estimates every message of a call that
// crosses nodes, so the estimate allocates nothing.
func TestMessageSizeAllocs(t *testing.T) {
	msgs := []protocol.Message{
		&protocol.Call{Request: 1, Options: protocol.Dict{"receive_progress": true}, Procedure: "p",
			Args: protocol.List{"payload", 1, protocol.List{2.5}}, Kwargs: protocol.Dict{"k": "v"}},
		&protocol.Yield{Request: 1, Options: protocol.Dict{}, Args: protocol.List{"result"}},
		&protocol.Error{RequestType: protocol.TypeInvocation, Request: 1, Details: protocol.Dict{}, URI: "x", Args: protocol.List{"why"}},
		&protocol.Cancel{Request: 1, Options: protocol.Dict{"mode": "kill"}},
	}
	for _, m := range msgs {
		if n := testing.AllocsPerRun(100, func() { router.MessageSize(m) }); n != 0 {
			t.Errorf("MessageSize(%v) allocates %v times, want 0", m.Type(), n)
		}
		if router.MessageSize(m) <= 0 {
			t.Errorf("MessageSize(%v) = %d, want > 0", m.Type(), router.MessageSize(m))
		}
	}
}
