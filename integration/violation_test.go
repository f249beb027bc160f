package integration

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/serialize"
)

// rawConn is a hand-driven WAMP connection speaking JSON: the test writes
// every frame itself.
type rawConn interface {
	// send writes one WAMP message (or any bytes) as one frame.
	send(data []byte) error
	// recv returns the next WAMP message, or an error once the connection
	// is closed or ctx ends.
	recv(ctx context.Context) ([]byte, error)
	close()
}

// wsRaw is a raw WebSocket connection with sub-protocol wamp.2.json.
type wsRaw struct{ c *websocket.Conn }

func dialWSRaw(ctx context.Context, url string) (rawConn, error) {
	d := websocket.Dialer{Subprotocols: []string{serialize.JSON.SubProtocol()}}
	c, resp, err := d.DialContext(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if p := c.Subprotocol(); p != serialize.JSON.SubProtocol() {
		c.Close()
		return nil, fmt.Errorf("sub-protocol %q, want %q", p, serialize.JSON.SubProtocol())
	}
	return &wsRaw{c}, nil
}

func (w *wsRaw) send(data []byte) error {
	w.c.SetWriteDeadline(time.Now().Add(testTimeout))
	return w.c.WriteMessage(websocket.TextMessage, data)
}

func (w *wsRaw) recv(ctx context.Context) ([]byte, error) {
	dl, _ := ctx.Deadline()
	w.c.SetReadDeadline(dl)
	_, data, err := w.c.ReadMessage()
	return data, err
}

func (w *wsRaw) close() { w.c.Close() }

// rsRaw is a raw RawSocket connection (spec advanced
// "RawSocket Transport") with serializer JSON.
type rsRaw struct{ c net.Conn }

// RawSocket frame types (the low 3 bits of the first header octet).
const (
	rsRegular = 0
	rsPing    = 1
	rsPong    = 2
)

func dialRSRaw(ctx context.Context, network, addr string) (rawConn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	dl, _ := ctx.Deadline()
	c.SetDeadline(dl)
	// Magic 0x7F, maximum length 2^(9+15) = 16 MiB, serializer 1 (JSON).
	if _, err := c.Write([]byte{0x7f, 0xf1, 0, 0}); err != nil {
		c.Close()
		return nil, err
	}
	var reply [4]byte
	if _, err := io.ReadFull(c, reply[:]); err != nil {
		c.Close()
		return nil, fmt.Errorf("handshake reply: %w", err)
	}
	if reply[0] != 0x7f || reply[1]&0x0f != byte(serialize.JSON) {
		c.Close()
		return nil, fmt.Errorf("handshake reply % x, want 7f x1 00 00", reply)
	}
	return &rsRaw{c}, nil
}

func (r *rsRaw) frame(typ byte, data []byte) error {
	h := make([]byte, 4, 4+len(data))
	binary.BigEndian.PutUint32(h, uint32(len(data)))
	h[0] = typ
	r.c.SetWriteDeadline(time.Now().Add(testTimeout))
	_, err := r.c.Write(append(h, data...))
	return err
}

func (r *rsRaw) send(data []byte) error { return r.frame(rsRegular, data) }

func (r *rsRaw) recv(ctx context.Context) ([]byte, error) {
	dl, _ := ctx.Deadline()
	r.c.SetReadDeadline(dl)
	for {
		var h [4]byte
		if _, err := io.ReadFull(r.c, h[:]); err != nil {
			return nil, err
		}
		typ := h[0] & 0x07
		h[0] = 0
		data := make([]byte, binary.BigEndian.Uint32(h[:]))
		if _, err := io.ReadFull(r.c, data); err != nil {
			return nil, err
		}
		switch typ {
		case rsRegular:
			return data, nil
		case rsPing:
			if err := r.frame(rsPong, data); err != nil {
				return nil, err
			}
		case rsPong:
		default:
			return nil, fmt.Errorf("frame type %d", typ)
		}
	}
}

func (r *rsRaw) close() { r.c.Close() }

// rawHello is a HELLO announcing every client role.
const rawHello = `[1,"realm1",{"roles":{"caller":{},"callee":{},"publisher":{},"subscriber":{}}}]`

// rawJoin sends HELLO and reads WELCOME.
func rawJoin(ctx context.Context, c rawConn) error {
	if err := c.send([]byte(rawHello)); err != nil {
		return err
	}
	data, err := c.recv(ctx)
	if err != nil {
		return fmt.Errorf("waiting for WELCOME: %w", err)
	}
	var msg []any
	if err := json.Unmarshal(data, &msg); err != nil || len(msg) != 3 || msg[0] != float64(protocol.TypeWelcome) {
		return fmt.Errorf("got %s, want WELCOME", data)
	}
	return nil
}

// expectViolation reads from c until it closes: the router must send
// ABORT wamp.error.protocol_violation and then close the connection.
func expectViolation(ctx context.Context, c rawConn) error {
	data, err := c.recv(ctx)
	if err != nil {
		return fmt.Errorf("connection ended without ABORT: %w", err)
	}
	var msg []any
	if err := json.Unmarshal(data, &msg); err != nil {
		return fmt.Errorf("got %q, want ABORT: %v", data, err)
	}
	if len(msg) < 3 || msg[0] != float64(protocol.TypeAbort) || msg[2] != string(protocol.ErrProtocolViolation) {
		return fmt.Errorf("got %s, want [3, {...}, %q]", data, protocol.ErrProtocolViolation)
	}
	if data, err := c.recv(ctx); err == nil {
		return fmt.Errorf("got %s after ABORT, want the connection closed", data)
	} else if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		return fmt.Errorf("connection still open after ABORT: %w", err)
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// background keeps regular sessions busy while the violation tests run:
// calls through an echo procedure and acknowledged publications to a
// subscriber, over the in-process link and over WebSocket with
// MessagePack.
type background struct {
	rounds atomic.Int64
	signal chan struct{}
	stop   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	errs   []error
	ins    []*inbox
	subs   []*client.Client
	others []*client.Client
	sent   []atomic.Int64
}

func startBackground(t *testing.T, e *env) *background {
	bg := &background{signal: make(chan struct{}, 1), stop: make(chan struct{})}
	callee := e.join(t, link{transport: "local"})
	register(t, callee, "com.bg.echo", echo)
	wsLink := link{transport: "websocket", serializer: serialize.MessagePack}
	ls := []link{{transport: "local"}, wsLink}
	bg.sent = make([]atomic.Int64, len(ls))
	for i, l := range ls {
		topic := protocol.URI(fmt.Sprintf("com.bg.events%d", i))
		sc := e.join(t, l)
		in, _ := subscribe(t, sc, topic)
		bg.ins = append(bg.ins, in)
		bg.subs = append(bg.subs, sc)
		c := e.join(t, l)
		bg.others = append(bg.others, c, sc)
		bg.wg.Go(func() { bg.run(c, topic, in, &bg.sent[i]) })
	}
	t.Cleanup(bg.halt)
	return bg
}

func (bg *background) fail(err error) {
	bg.mu.Lock()
	bg.errs = append(bg.errs, err)
	bg.mu.Unlock()
}

func (bg *background) run(c *client.Client, topic protocol.URI, in *inbox, sent *atomic.Int64) {
	for i := 0; ; i++ {
		select {
		case <-bg.stop:
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		want := protocol.List{"round", int64(i)}
		res, err := c.Call(ctx, "com.bg.echo", want...)
		if err != nil {
			cancel()
			bg.fail(fmt.Errorf("call %d: %w", i, err))
			return
		}
		got := protocol.List{}
		if len(res.Args) == 2 {
			n, _ := protocol.ToInt64(res.Args[1])
			got = protocol.List{res.Args[0], n}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			bg.fail(fmt.Errorf("call %d: result mismatch (-want +got):\n%s", i, diff))
		}
		_, err = c.DoPublish(ctx, &client.PublishRequest{Topic: topic, Args: protocol.List{i}, Acknowledge: true})
		if err != nil {
			cancel()
			bg.fail(fmt.Errorf("publish %d: %w", i, err))
			return
		}
		sent.Add(1)
		// Wait for the event before the next round: acknowledged
		// publications are no flow control (PUBLISHED only says the
		// events are queued), and the point here is that these sessions
		// see every message, not how fast they drain.
		if err := in.wait(ctx, i+1); err != nil {
			cancel()
			bg.fail(fmt.Errorf("event %d: %w", i, err))
			return
		}
		cancel()
		bg.rounds.Add(1)
		select {
		case bg.signal <- struct{}{}:
		default:
		}
	}
}

// progress waits until the background sessions completed at least one
// more round after the call.
func (bg *background) progress(ctx context.Context) error {
	// Two rounds: the first may have started before the caller's event.
	target := bg.rounds.Load() + 2
	for bg.rounds.Load() < target {
		select {
		case <-bg.signal:
		case <-ctx.Done():
			return fmt.Errorf("background sessions stalled at %d rounds: %w (errors: %v)", bg.rounds.Load(), ctx.Err(), bg.errors())
		}
	}
	return nil
}

func (bg *background) errors() []error {
	bg.mu.Lock()
	defer bg.mu.Unlock()
	return append([]error(nil), bg.errs...)
}

func (bg *background) halt() {
	select {
	case <-bg.stop:
	default:
		close(bg.stop)
	}
	bg.wg.Wait()
}

// check stops the background work and verifies that it never failed,
// that every event arrived in order and that no session ended.
func (bg *background) check(t *testing.T) {
	bg.halt()
	for _, err := range bg.errors() {
		t.Errorf("background session: %v", err)
	}
	ctx := timeout(t)
	for i, in := range bg.ins {
		n := int(bg.sent[i].Load())
		if err := in.wait(ctx, n); err != nil {
			t.Errorf("background subscriber %d: %v", i, err)
		}
		if err := checkOrder(in); err != nil {
			t.Errorf("background subscriber %d: %v", i, err)
		}
	}
	for _, c := range bg.others {
		select {
		case <-c.Done():
			t.Errorf("background session %d ended: %v", c.SessionID(), c.Err())
		default:
		}
	}
	t.Logf("background sessions completed %d rounds of call + publish", bg.rounds.Load())
}

// TestViolation breaks the protocol over raw connections of every network
// transport (SUMMARY §6.4). Each violation must be answered with ABORT
// wamp.error.protocol_violation and a closed connection, and regular
// sessions running meanwhile must not notice.
func TestViolation(t *testing.T) {
	e := startEnv(t, router.Config{})
	bg := startBackground(t, e)

	dialers := []struct {
		name string
		dial func(ctx context.Context) (rawConn, error)
	}{
		{"websocket", func(ctx context.Context) (rawConn, error) { return dialWSRaw(ctx, e.wsURL) }},
		{"tcp", func(ctx context.Context) (rawConn, error) { return dialRSRaw(ctx, "tcp", e.tcpAddr) }},
		{"unix", func(ctx context.Context) (rawConn, error) { return dialRSRaw(ctx, "unix", e.unixPath) }},
	}
	tests := []struct {
		name   string
		joined bool   // send HELLO and read WELCOME first
		frame  string // then send this
	}{
		{name: "CallBeforeWelcome", frame: `[48,1,{},"com.example.proc",[1,2]]`},
		{name: "WelcomeInsteadOfHello", frame: `[2,1234,{"roles":{"broker":{}}}]`},
		{name: "GarbageBeforeHello", frame: "}{ this is not JSON"},
		{name: "ClientSendsWelcome", joined: true, frame: `[2,1234,{"roles":{"broker":{}}}]`},
		{name: "ClientSendsHelloAgain", joined: true, frame: rawHello},
		{name: "YieldUnknownInvocation", joined: true, frame: `[70,4242,{},["nobody asked"]]`},
		{name: "ErrorUnknownInvocation", joined: true, frame: `[8,68,4242,{},"com.example.error"]`},
		{name: "Garbage", joined: true, frame: "}{ this is not JSON \x01\x02"},
		{name: "UnknownMessageType", joined: true, frame: `[99,1,{}]`},
		{name: "ExtensionMessageType", joined: true, frame: `[300,1,{}]`},
		{name: "EmptyList", joined: true, frame: `[]`},
		{name: "NotAList", joined: true, frame: `{"type":48}`},
		{name: "WrongElementTypes", joined: true, frame: `[48,"one",{},"com.example.proc"]`},
	}
	for _, d := range dialers {
		t.Run(d.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					ctx := timeout(t)
					c, err := d.dial(ctx)
					if err != nil {
						t.Fatalf("dial: %v", err)
					}
					defer c.close()
					if tt.joined {
						if err := rawJoin(ctx, c); err != nil {
							t.Fatal(err)
						}
					}
					if err := c.send([]byte(tt.frame)); err != nil {
						t.Fatalf("send %q: %v", tt.frame, err)
					}
					if err := expectViolation(ctx, c); err != nil {
						t.Errorf("after %s: %v", tt.frame, err)
					}
					if err := bg.progress(ctx); err != nil {
						t.Fatal(err)
					}
				})
			}
		})
	}
	bg.check(t)
}
