package interop

import (
	"strings"
	"testing"
)

// TestSubprotocolNegotiation lets the router choose among the WebSocket
// sub-protocols a library offers by default (spec basic "WebSocket
// Transport", SUMMARY §13.1): Autobahn|JS offers wamp.2.json and
// wamp.2.msgpack; Autobahn|Python offers CBOR, MessagePack, UBJSON and
// JSON, each also batched. The router must pick one it speaks, and the
// session must work in it. Over a cluster (cluster3) the Go backend and
// the two scripts of each library are on three nodes.
func TestSubprotocolNegotiation(t *testing.T) {
	dir := interopDir(t)
	supported := map[string]bool{
		"wamp.2.json": true, "wamp.2.msgpack": true, "wamp.2.cbor": true, "wamp.2.json.batched": true,
	}
	for _, topo := range topologies {
		t.Run(topo.name, func(t *testing.T) {
			t.Parallel()
			d := startDeployment(t, topo)
			for i, name := range []string{"autobahn_js", "autobahn_py"} {
				t.Run(name, func(t *testing.T) {
					skipOnCluster(t)
					t.Parallel()
					l := libByName(t, name)
					l.require(t)
					rot := d.rotation(i)
					b := startBackend(t, rot.next(), rot, "wampkit.interop.negotiate_"+name)
					res := startScript(t, dir, l.argv(dir, rot.next().wsURL, "any", "join", b.prefix)...).result()
					proto, _ := res["protocol"].(string)
					if !supported[proto] {
						t.Fatalf("negotiated sub-protocol %q, want one of %v", proto, supported)
					}
					t.Logf("%s: router chose %s", name, proto)
					res = startScript(t, dir, l.argv(dir, rot.next().wsURL, "any", "call", b.prefix)...).result()
					checkPayload(t, "echo in the negotiated serializer", res["args"], res["kwargs"], stdArgs, stdKw)
				})
			}
		})
	}
}

// TestBatchedJSONAutobahnPython offers wamp.2.json.batched from
// Autobahn|Python. The spec frames each JSON message with the record
// separator 0x1e (advanced/transport_batched_websocket.md: "appending the
// single ASCII control character \30 (record separator) octet 0x1e to
// each serialized message"). Autobahn|Python 22.7 writes the separator as
// the Python literal b'\30', which is octal: 0x18 (serializer.py,
// JsonObjectSerializer), so its HELLO arrives as [1,"realm1",{...}] 0x18
// and the router rightly fails the transport ("batch does not end with
// 0x1e"). The peer is wrong; this checks the refusal is clean (the peer
// sees its transport close, nothing hangs).
func TestBatchedJSONAutobahnPython(t *testing.T) {
	wr := startRouter(t)
	dir := interopDir(t)
	l := libByName(t, "autobahn_py")
	l.require(t)
	p := startScript(t, dir, l.argv(dir, wr.wsURL, "json.batched", "join", "wampkit.interop.batched")...)
	m := p.next()
	for range p.lines {
	}
	p.cmd.Wait() //nolint:errcheck // the script is expected to fail
	if m["ok"] != false {
		t.Fatalf("Autobahn|Python joined over wamp.2.json.batched: %v; if it now uses 0x1e, run it in TestPeers", m)
	}
	if msg, _ := m["error"].(string); !strings.Contains(msg, "transport closed") {
		t.Errorf("peer's error %q, want its transport closed", msg)
	}
}
