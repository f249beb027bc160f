package cluster

import (
	"encoding/binary"
	"io"
	"log/slog"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/wampkit/wampkit/protocol"
)

// TestTakeFramesMalformed feeds a node frames that are cut short, lie
// about their lengths, or hold no WAMP message of the right kind: each
// is dropped (and logged), without a panic, and the frames after a
// dropped one whose length is sound are still read.
func TestTakeFramesMalformed(t *testing.T) {
	c := &Cluster{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	x := &rpc{c: c}
	x.standins.Store(&map[uint32]*standin{})
	x.relays.Store(&map[relayKey]*relay{})
	frame := func(b ...byte) []byte {
		return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
	}
	msg := func(m protocol.Message) []byte {
		b, err := codec.Encode(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	callHeader := func(realm string) []byte {
		h := []byte{frameCall}
		h = binary.AppendUvarint(h, 3)
		h = binary.AppendUvarint(h, 7)
		h = binary.AppendUvarint(h, uint64(len(realm)))
		return append(h, realm...)
	}
	cancel := msg(&protocol.Cancel{Request: 1, Options: protocol.Dict{"mode": "kill"}})
	yield := msg(&protocol.Yield{Request: 1, Options: protocol.Dict{}})
	cases := map[string][]byte{
		"short length":          {0, 0, 1},
		"zero length":           frame(),
		"length beyond the end": append(binary.BigEndian.AppendUint32(nil, 100), frameCall, 1, 2),
		"unknown kind":          frame('x', 1, 2, 3),
		"call without header":   frame(frameCall),
		"call, realm too long":  frame(append([]byte{frameCall, 3, 7, 200}, "realm1"...)...),
		"call, slot too large":  frame(append(binary.AppendUvarint([]byte{frameCall}, slots), 7, 0)...),
		"call, not msgpack":     frame(append(callHeader("realm1"), 0xc1, 0xc1)...),
		"call, a YIELD":         frame(append(callHeader("realm1"), yield...)...),
		"cancel, no relay":      frame(append(callHeader("realm1"), cancel...)...),
		"reply without header":  frame(frameReply),
		"reply, no stand-in":    frame(append([]byte{frameReply, 9}, yield...)...),
		"reply, not msgpack":    frame(frameReply, 9, 0xc1),
		"several, one bad":      append(append(frame('x'), frame(frameReply)...), frame(append([]byte{frameReply, 9}, yield...)...)...),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			x.takeFrames(&nats.Msg{Data: data})
		})
	}
}
