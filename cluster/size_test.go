package cluster_test

import (
	"context"
	"strings"
	"testing"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// TestCallLargerThanNATSAccepts makes calls across nodes whose CALL, or
// whose RESULT or ERROR, is larger than the NATS server accepts (1 MB by
// default): the caller must get ERROR wamp.error.payload_size_exceeded
// (spec basic "Predefined URIs": "A message could not be delivered due to
// transport payload size limits"), as from a single router whose
// transport refuses a message too large, and never wait for an answer
// that will not come. The node goes on serving calls.
func TestCallLargerThanNATSAccepts(t *testing.T) {
	nodes := startNodes(t, startNATS(t), 2, router.RealmConfig{})
	callee := nodes[0].join(t, client.Config{})
	caller := nodes[1].join(t, client.Config{})
	big := strings.Repeat("x", 2<<20)
	register(t, callee, "rpc.echo", nil, echo)
	register(t, callee, "rpc.big_result", nil, func(context.Context, *client.Invocation) (*client.Result, error) {
		return &client.Result{Args: protocol.List{big}}, nil
	})
	register(t, callee, "rpc.big_error", nil, func(context.Context, *client.Invocation) (*client.Result, error) {
		return nil, &protocol.Error{URI: "com.example.big", Args: protocol.List{big}}
	})
	register(t, callee, "rpc.big_progress", nil, func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		if err := inv.SendProgress(ctx, protocol.List{big}, nil); err != nil {
			return nil, err
		}
		return &client.Result{Args: protocol.List{"done"}}, nil
	})
	for _, tc := range []struct {
		name string
		req  client.CallRequest
	}{
		{"call", client.CallRequest{Procedure: "rpc.echo", Args: protocol.List{big}}},
		{"result", client.CallRequest{Procedure: "rpc.big_result"}},
		{"error", client.CallRequest{Procedure: "rpc.big_error"}},
		{"progressive_result", client.CallRequest{Procedure: "rpc.big_progress", OnProgress: func(*client.Result) error { return nil }}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := callWhenThere(t, caller, &tc.req)
			if !isErrURI(err, protocol.ErrPayloadSizeExceeded) {
				t.Errorf("call %s: %v, want ERROR %s", tc.req.Procedure, err, protocol.ErrPayloadSizeExceeded)
			}
			ctx, cancel := testContext()
			defer cancel()
			if res, err := caller.Call(ctx, "rpc.echo", "small"); err != nil || len(res.Args) != 1 || res.Args[0] != "small" {
				t.Errorf("call rpc.echo after it: %v, %v", res, err)
			}
		})
	}
}
