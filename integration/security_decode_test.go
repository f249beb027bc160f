package integration

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/serialize"
)

// hostileConn is a hand-driven WAMP connection in any serializer: the
// test writes every frame itself.
type hostileConn struct {
	s  serialize.Serializer
	ws *websocket.Conn // or
	rs net.Conn
}

func dialHostile(ctx context.Context, e *env, transport string, s serialize.Serializer) (*hostileConn, error) {
	if transport == "websocket" {
		d := websocket.Dialer{Subprotocols: []string{s.SubProtocol()}}
		c, resp, err := d.DialContext(ctx, e.wsURL, nil)
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
		return &hostileConn{s: s, ws: c}, nil
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", e.tcpAddr)
	if err != nil {
		return nil, err
	}
	dl, _ := ctx.Deadline()
	c.SetDeadline(dl)
	// Magic 0x7F, maximum length 2^(9+15) = 16 MiB, the serializer.
	if _, err := c.Write([]byte{0x7f, 0xf0 | byte(s), 0, 0}); err != nil {
		c.Close()
		return nil, err
	}
	var reply [4]byte
	if _, err := io.ReadFull(c, reply[:]); err != nil || reply[0] != 0x7f || reply[1]&0x0f != byte(s) {
		c.Close()
		return nil, fmt.Errorf("handshake reply % x: %v", reply, err)
	}
	return &hostileConn{s: s, rs: c}, nil
}

func (c *hostileConn) send(data []byte) error {
	if c.ws != nil {
		c.ws.SetWriteDeadline(time.Now().Add(testTimeout))
		typ := websocket.TextMessage
		if c.s.Binary() {
			typ = websocket.BinaryMessage
		}
		return c.ws.WriteMessage(typ, data)
	}
	var h [4]byte
	binary.BigEndian.PutUint32(h[:], uint32(len(data))) // frame type 0: a message
	c.rs.SetWriteDeadline(time.Now().Add(testTimeout))
	if _, err := c.rs.Write(h[:]); err != nil {
		return err
	}
	_, err := c.rs.Write(data)
	return err
}

// recv returns the next message, answering RawSocket pings on the way.
func (c *hostileConn) recv(ctx context.Context) (protocol.Message, error) {
	dl, _ := ctx.Deadline()
	if c.ws != nil {
		c.ws.SetReadDeadline(dl)
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return nil, err
		}
		return c.s.Codec().Decode(data)
	}
	c.rs.SetReadDeadline(dl)
	for {
		var h [4]byte
		if _, err := io.ReadFull(c.rs, h[:]); err != nil {
			return nil, err
		}
		typ := h[0] & 0x07
		h[0] = 0
		data := make([]byte, binary.BigEndian.Uint32(h[:]))
		if _, err := io.ReadFull(c.rs, data); err != nil {
			return nil, err
		}
		switch typ {
		case rsRegular:
			return c.s.Codec().Decode(data)
		case rsPing:
			binary.BigEndian.PutUint32(h[:], uint32(len(data)))
			h[0] = rsPong
			if _, err := c.rs.Write(append(h[:], data...)); err != nil {
				return nil, err
			}
		}
	}
}

func (c *hostileConn) close() {
	if c.ws != nil {
		c.ws.Close()
	} else {
		c.rs.Close()
	}
}

// join sends HELLO and waits for WELCOME.
func (c *hostileConn) join(ctx context.Context) error {
	hello, err := c.s.Codec().Encode(nil, &protocol.Hello{Realm: realm1,
		Details: protocol.Dict{"roles": map[string]any{"caller": map[string]any{}}}})
	if err != nil {
		return err
	}
	if err := c.send(hello); err != nil {
		return err
	}
	m, err := c.recv(ctx)
	if err != nil {
		return fmt.Errorf("waiting for WELCOME: %w", err)
	}
	if _, ok := m.(*protocol.Welcome); !ok {
		return fmt.Errorf("got %#v, want WELCOME", m)
	}
	return nil
}

// refused waits until the router refuses what c sent: ABORT
// wamp.error.protocol_violation, or the connection failing.
func (c *hostileConn) refused(ctx context.Context) error {
	m, err := c.recv(ctx)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			return fmt.Errorf("no answer: %w", err)
		}
		return nil // the connection failed
	}
	if a, ok := m.(*protocol.Abort); !ok || a.Reason != protocol.ErrProtocolViolation {
		return fmt.Errorf("got %#v, want ABORT %s", m, protocol.ErrProtocolViolation)
	}
	return nil
}

// tinyDictsCall is a CALL of about size bytes in s whose Args is a list
// of {"":0}: 3 bytes of MessagePack or CBOR, 7 of JSON, and a 336-byte Go
// map each. Before the decode budget, decoding it took about 140 times
// its size (64 times in JSON).
func tinyDictsCall(s serialize.Serializer, size int) []byte {
	var head, elem []byte
	var n int
	switch s {
	case serialize.JSON:
		elem = []byte(`{"":0},`)
		n = (size - 32) / len(elem)
		b := append([]byte(`[48,1,{},"com.example.echo",[`), bytes.Repeat(elem, n)...)
		return append(b[:len(b)-1], "]]"...)
	case serialize.MessagePack:
		elem = []byte{0x81, 0xa0, 0x00}
		n = (size - 32) / len(elem)
		head = append([]byte{0x95, 0x30, 0x01, 0x80, 0xb0}, "com.example.echo"...)
		head = append(head, 0xdd, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	case serialize.CBOR:
		elem = []byte{0xa1, 0x60, 0x00}
		n = (size - 32) / len(elem)
		head = append([]byte{0x85, 0x18, 0x30, 0x01, 0xa0, 0x70}, "com.example.echo"...)
		head = append(head, 0x9a, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(head, bytes.Repeat(elem, n)...)
}

// heapSampler records the largest live heap seen until stopped.
type heapSampler struct {
	peak atomic.Uint64
	stop chan struct{}
	done sync.WaitGroup
}

func startHeapSampler() *heapSampler {
	h := &heapSampler{stop: make(chan struct{})}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	h.done.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > h.peak.Load() {
				h.peak.Store(v)
			}
			select {
			case <-h.stop:
				return
			case <-tick.C:
			}
		}
	})
	return h
}

func (h *heapSampler) halt() uint64 {
	close(h.stop)
	h.done.Wait()
	return h.peak.Load()
}

// TestSecurityDecodeAmplification is the attack of the security review: a
// hostile client sends a message within the size limit that decodes into
// far more memory, several clients at once, over WebSocket and RawSocket
// and in every serializer. Each must be refused with ABORT
// wamp.error.protocol_violation (or its connection failed), what the
// router allocates meanwhile must stay within the decode budget of those
// messages plus what the transports read them into, and a healthy client
// must still get its calls answered.
func TestSecurityDecodeAmplification(t *testing.T) {
	const size = 1 << 20
	e := startEnv(t, router.Config{MaxMessageSize: size})
	callee := e.join(t, link{transport: "local"})
	register(t, callee, "com.example.echo", echo)
	healthy := e.join(t, link{transport: "websocket", serializer: serialize.MessagePack})
	ctx := timeout(t)
	if _, err := healthy.Call(ctx, "com.example.echo", "before"); err != nil {
		t.Fatalf("healthy call before the attack: %v", err)
	}

	type attacker struct {
		name  string
		conn  *hostileConn
		frame []byte
	}
	var attackers []attacker
	for _, tr := range []string{"websocket", "rawsocket"} {
		for _, s := range []serialize.Serializer{serialize.JSON, serialize.MessagePack, serialize.CBOR} {
			c, err := dialHostile(ctx, e, tr, s)
			if err != nil {
				t.Fatalf("dial %s/%v: %v", tr, s, err)
			}
			defer c.close()
			if err := c.join(ctx); err != nil {
				t.Fatalf("%s/%v: %v", tr, s, err)
			}
			attackers = append(attackers, attacker{tr + "/" + s.String(), c, tinyDictsCall(s, size-64)})
		}
	}

	// Everything the router (and this process) allocates from here on.
	allocs := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
	runtime.GC()
	metrics.Read(allocs)
	allocated0, live0 := allocs[0].Value.Uint64(), allocs[1].Value.Uint64()
	sampler := startHeapSampler()

	var sent, done sync.WaitGroup
	errs := make([]error, len(attackers))
	for i, a := range attackers {
		sent.Add(1)
		done.Go(func() {
			err := a.conn.send(a.frame)
			sent.Done()
			if err == nil { // else the connection failed, which will do
				errs[i] = a.conn.refused(ctx)
			}
		})
	}
	// A healthy client's call while the router decodes the attack.
	sent.Wait()
	res, callErr := healthy.Call(ctx, "com.example.echo", "during")
	done.Wait()
	peak := sampler.halt()
	metrics.Read(allocs)
	allocated := allocs[0].Value.Uint64() - allocated0

	if callErr != nil || len(res.Args) != 1 || res.Args[0] != "during" {
		t.Errorf("healthy call during the attack = %v, %v; want [during]", res, callErr)
	}
	for i, a := range attackers {
		if errs[i] != nil {
			t.Errorf("%s: %v", a.name, errs[i])
		}
	}
	// Per message: its decode budget (plus JSON's buffer of escaped
	// strings), and what a transport reads it into (a WebSocket message
	// grows a bytes.Buffer). Plus 32 MiB for everything else.
	var bound uint64
	for _, a := range attackers {
		n := uint64(len(a.frame))
		bound += n*serialize.BudgetPerByte + 4*serialize.BudgetBase + n + 4*n
	}
	bound += 32 << 20
	t.Logf("%d messages of %d bytes: %d bytes allocated, live heap %d -> %d at most (bound %d)",
		len(attackers), size-64, allocated, live0, peak, bound)
	if allocated > bound {
		t.Errorf("the router allocated %d bytes for %d hostile messages of %d bytes, more than %d", allocated, len(attackers), size-64, bound)
	}
	if peak > live0+bound {
		t.Errorf("the live heap grew from %d to %d bytes for %d hostile messages of %d bytes, more than %d", live0, peak, len(attackers), size-64, bound)
	}

	res, err := healthy.Call(ctx, "com.example.echo", "after")
	if err != nil || len(res.Args) != 1 || res.Args[0] != "after" {
		t.Errorf("healthy call after the attack = %v, %v; want [after]", res, err)
	}
}
