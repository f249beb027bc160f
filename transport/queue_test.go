package transport

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

// TestSendEncodeError: a message the peer's serializer cannot carry (NaN,
// infinity or a string that begins with NUL, for JSON) is refused by Send
// and SendWait at once with an error wrapping ErrEncode, nothing is
// queued, and the peer keeps working. The owner (the router) learns that
// the message was not delivered, and can answer its sender.
func TestSendEncodeError(t *testing.T) {
	bad := []struct {
		name string
		m    protocol.Message
	}{
		{"NaN", &protocol.Invocation{Request: 1, Registration: 2, Details: protocol.Dict{}, Args: protocol.List{math.NaN()}}},
		{"infinity in kwargs", &protocol.Result{Request: 1, Details: protocol.Dict{}, Kwargs: protocol.Dict{"x": math.Inf(1)}}},
		{"NUL string", &protocol.Event{Subscription: 1, Publication: 2, Details: protocol.Dict{}, Args: protocol.List{"\x00not base64"}}},
		{"Shared NaN", serialize.NewShared(&protocol.Event{Subscription: 1, Publication: 2, Details: protocol.Dict{}, Args: protocol.List{math.Inf(-1)}})},
	}
	for _, tc := range pairCases() {
		if !strings.Contains(strings.ToLower(tc.name), "json") {
			continue // local never encodes; the others carry NaN
		}
		t.Run(tc.name, func(t *testing.T) {
			client, server := tc.make(t)
			for i, b := range bad {
				for _, send := range []struct {
					name string
					f    func(context.Context, protocol.Message) error
				}{{"Send", server.Send}, {"SendWait", server.(Waiter).SendWait}} {
					err := send.f(testContext(t), b.m)
					if !errors.Is(err, ErrEncode) || errors.Is(err, ErrClosed) || errors.Is(err, ErrQueueFull) {
						t.Errorf("%s(%s) = %v, want ErrEncode", send.name, b.name, err)
					}
				}
				// The peer keeps working, and nothing of the bad message
				// was sent.
				want := &protocol.Published{Request: protocol.ID(i + 1), Publication: 1}
				if err := server.Send(context.Background(), want); err != nil {
					t.Fatalf("Send after %s = %v", b.name, err)
				}
				if got := mustRecv(t, client); got.(*protocol.Published).Request != want.Request {
					t.Fatalf("Recv after %s = %v, want %v", b.name, got, want)
				}
			}
		})
	}
}

// TestSendTooBigForRawSocket: a message larger than the maximum the other
// end announced in the RawSocket handshake is refused by Send and SendWait
// with ErrMessageTooBig; the peer keeps working.
func TestSendTooBigForRawSocket(t *testing.T) {
	client, server := rawPair(t, "tcp", RawSocketConfig{}, RawSocketDialConfig{PeerConfig: PeerConfig{MaxMessageSize: 4096}})
	big := &protocol.Event{Subscription: 1, Publication: 2, Details: protocol.Dict{}, Args: protocol.List{strings.Repeat("x", 4096)}}
	fits := &protocol.Event{Subscription: 1, Publication: 3, Details: protocol.Dict{}, Args: protocol.List{strings.Repeat("x", 4000)}}
	for _, m := range []protocol.Message{big, serialize.NewShared(big)} {
		if err := server.Send(context.Background(), m); !errors.Is(err, ErrMessageTooBig) || errors.Is(err, ErrClosed) {
			t.Errorf("Send(%T over 4 KiB) = %v, want ErrMessageTooBig", m, err)
		}
		if err := server.(Waiter).SendWait(testContext(t), m); !errors.Is(err, ErrMessageTooBig) || errors.Is(err, ErrClosed) {
			t.Errorf("SendWait(%T over 4 KiB) = %v, want ErrMessageTooBig", m, err)
		}
	}
	if err := server.Send(context.Background(), fits); err != nil {
		t.Fatalf("Send(just under 4 KiB) = %v", err)
	}
	if got := mustRecv(t, client).(*protocol.Event); got.Publication != 3 {
		t.Errorf("Recv() = %v, want the message that fits", got)
	}
}

// pipePeer returns a RawSocket peer on one end of a net.Pipe, which has
// no buffer: its writer blocks until the test reads the other end.
func pipePeer(tb testing.TB, queue, queueBytes int) (*rawPeer, net.Conn) {
	tb.Helper()
	local, remote := net.Pipe()
	cfg := PeerConfig{QueueSize: queue, QueueBytes: queueBytes, PingInterval: -1, WriteTimeout: time.Hour,
		CloseTimeout: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}.withDefaults(defaultServerMaxMessageSize)
	p := newRawPeer(local, cfg, serialize.MessagePack, rawMaxLength, nil)
	tb.Cleanup(func() {
		remote.Close()
		p.Close(nil)
	})
	return p, remote
}

// TestQueueBytes: the outbound queue is bounded in bytes as well as in
// messages. A peer whose other end does not read refuses messages with
// ErrQueueFull once the bytes queued reach QueueBytes, long before the
// count bound; one message larger than QueueBytes still fits an empty
// queue; SendWait waits for room; what was queued arrives in order.
func TestQueueBytes(t *testing.T) {
	const queueBytes = 64 << 10
	const size = 4 << 10
	msg := func(i int) *protocol.Event {
		return &protocol.Event{Subscription: 1, Publication: protocol.ID(i + 1), Details: protocol.Dict{}, Args: protocol.List{strings.Repeat("x", size)}}
	}
	p, remote := pipePeer(t, 1000, queueBytes)
	// Fill the queue until it stays full: a SendWait that found no room
	// for a while means that the writer is stuck in its write.
	sent := 0
	for ; sent < 1000; sent++ {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		err := p.SendWait(ctx, msg(sent))
		cancel()
		if errors.Is(err, ErrQueueFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Send(context.Background(), msg(sent)); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Send() on a full queue = %v, want ErrQueueFull", err)
	}
	// What the writer took before it blocked (at most one write of
	// flushSize and one message more), and what the queue holds.
	if max := (flushSize+queueBytes)/size + 2; sent > max {
		t.Fatalf("%d messages of %d bytes queued before ErrQueueFull, want at most %d (QueueBytes %d)", sent, size, max, queueBytes)
	}
	if got := p.q.size.Load(); got > queueBytes+flushSize+size {
		t.Errorf("queue holds %d bytes, want at most QueueBytes (%d) and one write", got, queueBytes)
	}

	// SendWait waits for room, and gets it once the other end reads.
	waited := make(chan error, 1)
	go func() { waited <- p.SendWait(testContext(t), msg(sent)) }()
	time.Sleep(20 * time.Millisecond) // not an assertion: lets SendWait start waiting
	select {
	case err := <-waited:
		t.Fatalf("SendWait() on a full queue returned %v before the other end read", err)
	default:
	}
	other := newRawPeer(remote, PeerConfig{PingInterval: -1}.withDefaults(defaultServerMaxMessageSize), serialize.MessagePack, rawMaxLength, nil)
	t.Cleanup(func() { other.Close(nil) })
	received := make(chan protocol.Message, sent+1)
	go func() {
		defer close(received)
		for range sent + 1 {
			m, err := other.Recv()
			if err != nil {
				return
			}
			received <- m
		}
	}()
	if err := within(t, waited); err != nil {
		t.Fatalf("SendWait() = %v once the other end reads, want nil", err)
	}
	for i := range sent + 1 {
		got, ok := within(t, received).(*protocol.Event)
		if !ok || got.Publication != protocol.ID(i+1) {
			t.Fatalf("message %d = %v, want publication %d", i, got, i+1)
		}
	}

	// One message larger than QueueBytes fits an empty queue.
	huge := &protocol.Event{Subscription: 1, Publication: 7, Details: protocol.Dict{}, Args: protocol.List{strings.Repeat("y", 2*queueBytes)}}
	if err := p.Send(context.Background(), huge); err != nil {
		t.Fatalf("Send(%d bytes) to an empty queue of %d bytes = %v, want nil", 2*queueBytes, queueBytes, err)
	}
	if got := mustRecv(t, other).(*protocol.Event); got.Publication != 7 {
		t.Errorf("Recv() = %v, want the large message", got)
	}
}

// TestSendAllocs pins the steady state of Send on a network peer: the
// message is encoded on the sender's goroutine into a pooled buffer, which
// the writer gives back, so Send (and the writer) allocates no more than
// the encoder itself does.
func TestSendAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	m := callMessage()
	var buf []byte
	encode := testing.AllocsPerRun(1000, func() {
		buf, _ = serialize.MessagePack.Codec().Encode(buf[:0], m)
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(io.Discard, c)
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	p := newRawPeer(c, PeerConfig{QueueSize: 64, PingInterval: -1}.withDefaults(defaultServerMaxMessageSize), serialize.MessagePack, rawMaxLength, nil)
	sendWait := func() {
		if err := p.SendWait(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	for range 1000 { // until as many buffers circulate as the queue holds
		sendWait()
	}
	send := testing.AllocsPerRun(1000, sendWait)
	p.Close(nil)
	within(t, drained)
	if send > encode {
		t.Errorf("Send allocates %v times per message, the encoder %v", send, encode)
	}
}
