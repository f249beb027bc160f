package cluster

import (
	"context"
	"encoding/binary"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wampkit/wampkit/cluster/clustertest"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// FuzzTakeFrames hands a node, attached to a router with a realm,
// arbitrary messages of call frames, as another node's would reach it:
// whatever they hold (cut short, lying lengths, unknown kinds, any
// message in a call or reply frame, for relays and stand-ins it does not
// have), the node neither panics nor hangs.
func FuzzTakeFrames(f *testing.F) {
	ns := clustertest.StartNATS(f, clustertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := New(ctx, Config{URL: ns.ClientURL(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	r, err := router.New(router.Config{Realms: []router.RealmConfig{{Name: "realm1"}}, Cluster: c, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		c.Close()
		f.Fatal(err)
	}
	f.Cleanup(func() {
		r.Close()
		c.Close()
	})
	x := c.attached()
	frame := func(b []byte) []byte { return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...) }
	enc := func(m protocol.Message) []byte {
		b, err := codec.Encode(nil, m)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	call := func(slot, idx uint64, realm string, m protocol.Message) []byte {
		h := binary.AppendUvarint([]byte{frameCall}, slot)
		h = binary.AppendUvarint(h, idx)
		h = binary.AppendUvarint(h, uint64(len(realm)))
		return frame(append(append(h, realm...), enc(m)...))
	}
	f.Add(call(3, 7, "realm1", &protocol.Call{Request: 1, Options: protocol.Dict{}, Procedure: "p"}))
	f.Add(call(3, 7, "realm1", &protocol.Call{Request: 2, Options: protocol.Dict{"progress": true}, Procedure: "p", Args: protocol.List{1}}))
	f.Add(call(3, 7, "realm1", &protocol.Cancel{Request: 1, Options: protocol.Dict{"mode": "kill"}}))
	f.Add(call(3, 7, "nope", &protocol.Call{Request: 1, Options: protocol.Dict{}, Procedure: "p"}))
	f.Add(call(3, 8, "realm1", &protocol.Yield{Request: 1, Options: protocol.Dict{}}))
	f.Add(frame(append([]byte{frameReply, 9}, enc(&protocol.Yield{Request: 1, Options: protocol.Dict{}})...)))
	f.Add(frame(append([]byte{frameReply, 9}, enc(&protocol.Error{RequestType: protocol.TypeInvocation, Request: 1, Details: protocol.Dict{}, URI: "e"})...)))
	f.Add(append(frame([]byte{'x'}), frame([]byte{frameReply})...))
	f.Add([]byte{0, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		x.takeFrames(&nats.Msg{Data: data})
	})
}
