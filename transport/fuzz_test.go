package transport

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/wampkit/wampkit/serialize"
)

// FuzzRawSocketRecv feeds arbitrary bytes, after a completed handshake, to
// a RawSocket peer's reader, in two writes to exercise partial reads. Recv
// must never panic, must end with an error wrapping ErrClosed, and every
// goroutine must end.
func FuzzRawSocketRecv(f *testing.F) {
	msg := func(typ byte, payload string) []byte {
		return append(appendFrameHeader(nil, typ, len(payload)), payload...)
	}
	f.Add(msg(frameMessage, `[36,1,2,{}]`), 3)
	f.Add(append(msg(framePing, "abc"), msg(frameMessage, `[1,"realm1",{}]`)...), 5)
	f.Add(msg(framePong, ""), 0)
	f.Add([]byte{0, 0, 0x10, 0x01}, 2)          // over the limit
	f.Add([]byte{0x08, 0, 0, 0}, 4)             // X bit: 16 MiB
	f.Add([]byte{0x08, 0, 0, 1}, 4)             // X bit with length
	f.Add([]byte{0xF0, 0, 0, 0}, 1)             // reserved bits
	f.Add([]byte{0x07, 0, 0, 0}, 1)             // reserved type
	f.Add([]byte{0, 0, 0, 9, '[', '3', '6'}, 5) // truncated
	f.Add(msg(frameMessage, "\x94\x24\x01\x02\x80"), 6)
	cfg := PeerConfig{QueueSize: 4, MaxMessageSize: 4096, PingInterval: -1, WriteTimeout: time.Second,
		CloseTimeout: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}.withDefaults(defaultServerMaxMessageSize)
	f.Fuzz(func(t *testing.T, data []byte, split int) {
		local, remote := net.Pipe()
		p := newRawPeer(local, cfg, serialize.MessagePack, 4096, nil)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { // the other end writes the data in two parts, then closes
			defer wg.Done()
			if split < 0 || split > len(data) {
				split = len(data) / 2
			}
			_, _ = remote.Write(data[:split])
			_, _ = remote.Write(data[split:])
			_ = remote.Close()
		}()
		go func() { // and reads our PONGs
			defer wg.Done()
			_, _ = io.Copy(io.Discard, remote)
		}()
		for i := 0; ; i++ {
			_, err := p.Recv()
			if errors.Is(err, ErrClosed) {
				break
			}
			if i > len(data) {
				t.Fatalf("Recv() returned %d times on %d bytes without closing", i, len(data))
			}
		}
		_ = p.Close(nil)
		wg.Wait()
	})
}
