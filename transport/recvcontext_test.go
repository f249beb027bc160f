package transport

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

// errTestDeadline is the cause of the contexts these tests let expire.
var errTestDeadline = errors.New("test: handshake took too long")

// recvContext calls p.RecvContext, failing the test if p lacks it and
// bounding the wait with testWait, as recvWithin does for Recv.
func recvContext(tb testing.TB, p Peer, ctx context.Context) (protocol.Message, error) {
	tb.Helper()
	rc, ok := p.(RecverContext)
	if !ok {
		tb.Fatalf("%T does not implement RecverContext", p)
	}
	ch := make(chan recvResult, 1)
	go func() {
		m, err := rc.RecvContext(ctx)
		ch <- recvResult{m, err}
	}()
	t := time.NewTimer(testWait)
	defer t.Stop()
	select {
	case r := <-ch:
		return r.m, r.err
	case <-t.C:
		_ = p.Close(errors.New("test: RecvContext did not return"))
		<-ch
		tb.Fatalf("RecvContext did not return within %v\n%s", testWait, allStacks())
		return nil, nil
	}
}

// TestRecvContext checks, on both ends of every transport, that
// RecvContext returns what arrives, that its ended context does not
// outlive the call, and that when its context ends first it returns an
// error wrapping the context's error and cause, and not ErrClosed: the
// peer still sends (the router's ABORT reaches the other end) until its
// owner closes it, and receives no more.
func TestRecvContext(t *testing.T) {
	for _, tc := range pairCases() {
		for _, side := range []string{"client", "server"} {
			t.Run(tc.name+"/"+side, func(t *testing.T) {
				client, server := tc.make(t)
				p, other := client, server
				if side == "server" {
					p, other = server, client
				}

				// A message that arrives within the context is returned.
				sendRetry(t, other, &protocol.Hello{Realm: "realm1", Details: protocol.Dict{}})
				first, cancel := context.WithCancel(testContext(t))
				m, err := recvContext(t, p, first)
				if err != nil || m.Type() != protocol.TypeHello {
					t.Fatalf("RecvContext() = %v, %v, want the HELLO", m, err)
				}
				// Once the call has returned, its context interrupts nothing.
				cancel()
				sendRetry(t, other, &protocol.Authenticate{Signature: "s", Extra: protocol.Dict{}})
				if m := mustRecv(t, p); m.Type() != protocol.TypeAuthenticate {
					t.Fatalf("Recv() after an earlier RecvContext's context ended = %v, want the AUTHENTICATE", m)
				}

				// Nothing arrives: the context ends the wait.
				ctx, cancel2 := context.WithTimeoutCause(testContext(t), 20*time.Millisecond, errTestDeadline)
				defer cancel2()
				_, err = recvContext(t, p, ctx)
				if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, errTestDeadline) || errors.Is(err, ErrClosed) {
					t.Fatalf("RecvContext() past its deadline = %v, want DeadlineExceeded and its cause, not ErrClosed", err)
				}
				// Receiving is over, whatever arrives later.
				sendRetry(t, other, &protocol.Goodbye{Details: protocol.Dict{}, Reason: "wamp.close.normal"})
				if _, err := recvWithin(t, p); !errors.Is(err, errTestDeadline) {
					t.Errorf("Recv() after an interrupted RecvContext = %v, want the same error", err)
				}
				if _, err := recvContext(t, p, testContext(t)); !errors.Is(err, errTestDeadline) {
					t.Errorf("RecvContext() after an interrupted RecvContext = %v, want the same error", err)
				}
				// Sending is not: the owner can still say why it gives up.
				abort := &protocol.Abort{Details: protocol.Dict{}, Reason: "wamp.error.timeout"}
				if err := p.Send(testContext(t), abort); err != nil {
					t.Fatalf("Send() after an interrupted RecvContext = %v", err)
				}
				var got []protocol.Message
				for {
					m := mustRecv(t, other)
					if m.Type() == protocol.TypeAbort {
						break
					}
					got = append(got, m)
				}
				if len(got) > 0 {
					t.Errorf("the other end received %v before the ABORT", got)
				}
				_ = p.Close(nil)
				if _, err := recvWithin(t, other); !errors.Is(err, ErrClosed) {
					t.Errorf("other end's Recv() after Close = %v, want ErrClosed", err)
				}
				if _, err := recvWithin(t, p); !errors.Is(err, ErrClosed) {
					t.Errorf("Recv() after Close = %v, want ErrClosed", err)
				}
			})
		}
	}
}

// TestRecvContextCancel: cancelling the context of a blocked RecvContext
// ends it with context.Canceled; a context that has already ended ends it
// at once, even with a message waiting; a context that cannot end makes
// it Recv.
func TestRecvContextCancel(t *testing.T) {
	for _, tc := range pairCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Run("blocked", func(t *testing.T) {
				client, _ := tc.make(t)
				ctx, cancel := context.WithCancel(testContext(t))
				go func() {
					time.Sleep(10 * time.Millisecond) // not an assertion: lets RecvContext block
					cancel()
				}()
				if _, err := recvContext(t, client, ctx); !errors.Is(err, context.Canceled) || errors.Is(err, ErrClosed) {
					t.Errorf("RecvContext() cancelled = %v, want context.Canceled", err)
				}
			})
			t.Run("ended", func(t *testing.T) {
				client, server := tc.make(t)
				sendRetry(t, server, &protocol.Goodbye{Details: protocol.Dict{}, Reason: "wamp.close.normal"})
				ctx, cancel := context.WithCancel(testContext(t))
				cancel()
				if _, err := recvContext(t, client, ctx); !errors.Is(err, context.Canceled) {
					t.Errorf("RecvContext() with an ended context = %v, want context.Canceled", err)
				}
			})
			t.Run("background", func(t *testing.T) {
				client, server := tc.make(t)
				sendRetry(t, server, &protocol.Goodbye{Details: protocol.Dict{}, Reason: "wamp.close.normal"})
				if m, err := recvContext(t, client, context.Background()); err != nil || m.Type() != protocol.TypeGoodbye {
					t.Errorf("RecvContext(context.Background()) = %v, %v, want the GOODBYE", m, err)
				}
				_ = server.Close(nil)
				if _, err := recvContext(t, client, context.Background()); !errors.Is(err, ErrClosed) {
					t.Errorf("RecvContext(context.Background()) after Close = %v, want ErrClosed", err)
				}
			})
		})
	}
}

// TestRawSocketRecvContextMidFrame: a deadline that passes in the middle
// of a frame interrupts RecvContext; the peer still sends, and the rest of
// the frame, when it comes, is not taken for a new one.
func TestRawSocketRecvContextMidFrame(t *testing.T) {
	peers := newServerPeers()
	_, addr := rawServer(t, "tcp", RawSocketConfig{PeerConfig: PeerConfig{PingInterval: -1}}, peers.handler)
	t.Cleanup(peers.stop)
	c := dialRaw(t, addr)
	rawHandshake(t, c)
	p := peers.next(t)

	frame := append([]byte{0, 0, 0, 11}, `[36,1,2,{}]`...)
	if _, err := c.Write(frame[:7]); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeoutCause(testContext(t), 50*time.Millisecond, errTestDeadline)
	defer cancel()
	if _, err := recvContext(t, p, ctx); !errors.Is(err, errTestDeadline) || errors.Is(err, ErrClosed) {
		t.Fatalf("RecvContext() in the middle of a frame = %v, want the deadline's cause", err)
	}
	if _, err := c.Write(frame[7:]); err != nil {
		t.Fatal(err)
	}
	if _, err := recvWithin(t, p); !errors.Is(err, errTestDeadline) {
		t.Errorf("Recv() after the rest of the frame = %v, want the interruption's error", err)
	}
	if err := p.Send(testContext(t), &protocol.Abort{Details: protocol.Dict{}, Reason: "wamp.error.timeout"}); err != nil {
		t.Fatalf("Send() = %v", err)
	}
	var hdr [4]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, int(hdr[1])<<16|int(hdr[2])<<8|int(hdr[3]))
	if _, err := io.ReadFull(c, body); err != nil {
		t.Fatal(err)
	}
	if want := `[3,{},"wamp.error.timeout"]`; hdr[0] != frameMessage || string(body) != want {
		t.Errorf("frame after the interruption = % x %s, want a message frame %s", hdr, body, want)
	}
}

// cancelConn is a connection whose next Read, once armed, ends a context
// after it has read, and returns only when the peer's RecvContext has
// seen the interruption: the context ends while a message is returned.
type cancelConn struct {
	net.Conn
	core   *peerCore
	cancel atomic.Pointer[context.CancelFunc]
}

func (c *cancelConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if f := c.cancel.Swap(nil); f != nil {
		(*f)()
		deadline := time.Now().Add(testWait)
		for !c.core.interrupt.Load() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
	return n, err
}

// TestRecvContextEndsAfterRead: a context that ends after the read of a
// message, while RecvContext returns it, leaves the peer receiving.
func TestRecvContextEndsAfterRead(t *testing.T) {
	local, remote := net.Pipe()
	cc := &cancelConn{Conn: local}
	cfg := PeerConfig{PingInterval: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}.withDefaults(defaultServerMaxMessageSize)
	p := newRawPeer(cc, cfg, serialize.JSON, rawMaxLength, nil)
	cc.core = &p.peerCore
	t.Cleanup(func() {
		remote.Close()
		p.Close(nil)
	})
	frame := func(s string) []byte { return append([]byte{0, 0, byte(len(s) >> 8), byte(len(s))}, s...) }
	write := func(s string) {
		go func() { _, _ = remote.Write(frame(s)) }()
	}

	ctx, cancel := context.WithCancel(testContext(t))
	cc.cancel.Store(&cancel)
	write(`[36,1,2,{}]`)
	if m, err := recvContext(t, p, ctx); err != nil || m.Type() != protocol.TypeEvent {
		t.Fatalf("RecvContext() = %v, %v, want the EVENT read before the context ended", m, err)
	}
	if !cc.core.interrupt.Load() && ctx.Err() == nil {
		t.Fatal("the context did not end during the read")
	}
	write(`[36,1,3,{}]`)
	if m, err := recvWithin(t, p); err != nil || m.(*protocol.Event).Publication != 3 {
		t.Fatalf("Recv() after = %v, %v, want the second EVENT", m, err)
	}
}
