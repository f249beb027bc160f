package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

// benchCase makes a connected pair for a benchmark.
type benchCase struct {
	name string
	ser  serialize.Serializer // zero for local
	make func(tb testing.TB, ser serialize.Serializer) (client, server Peer)
}

func benchCases() []benchCase {
	cases := []benchCase{{name: "local", make: func(tb testing.TB, _ serialize.Serializer) (Peer, Peer) {
		a, b := LocalPair(defaultQueueSize)
		tb.Cleanup(func() { _ = a.Close(nil) })
		return a, b
	}}}
	for _, ser := range []serialize.Serializer{serialize.JSON, serialize.MessagePack} {
		cases = append(cases,
			benchCase{name: "websocket/" + ser.String(), ser: ser, make: func(tb testing.TB, ser serialize.Serializer) (Peer, Peer) {
				return wsPair(tb, WebSocketConfig{PeerConfig: PeerConfig{PingInterval: -1}}, WebSocketDialConfig{Serializer: ser, PeerConfig: PeerConfig{PingInterval: -1}}, false)
			}},
			benchCase{name: "rawsocket-tcp/" + ser.String(), ser: ser, make: func(tb testing.TB, ser serialize.Serializer) (Peer, Peer) {
				return rawPair(tb, "tcp", RawSocketConfig{PeerConfig: PeerConfig{PingInterval: -1}}, RawSocketDialConfig{Serializer: ser, PeerConfig: PeerConfig{PingInterval: -1, QueueSize: benchQueue}})
			}},
			benchCase{name: "rawsocket-unix/" + ser.String(), ser: ser, make: func(tb testing.TB, ser serialize.Serializer) (Peer, Peer) {
				return rawPair(tb, "unix", RawSocketConfig{PeerConfig: PeerConfig{PingInterval: -1}}, RawSocketDialConfig{Serializer: ser, PeerConfig: PeerConfig{PingInterval: -1, QueueSize: benchQueue}})
			}},
		)
	}
	cases = append(cases, benchCase{name: "websocket/json.batched", ser: serialize.JSON, make: func(tb testing.TB, ser serialize.Serializer) (Peer, Peer) {
		return wsPair(tb, WebSocketConfig{PeerConfig: PeerConfig{PingInterval: -1}}, WebSocketDialConfig{Batched: true, PeerConfig: PeerConfig{PingInterval: -1}}, false)
	}})
	return cases
}

// messageSize is the encoded size of m in ser (for b.SetBytes).
func messageSize(tb testing.TB, ser serialize.Serializer, m protocol.Message) int64 {
	if ser == 0 {
		return 0
	}
	b, err := ser.Codec().Encode(nil, m)
	if err != nil {
		tb.Fatal(err)
	}
	return int64(len(b))
}

// BenchmarkRoundTrip measures the latency of one CALL sent to an echoing
// peer and back.
func BenchmarkRoundTrip(b *testing.B) {
	for _, bc := range benchCases() {
		b.Run(bc.name, func(b *testing.B) {
			client, server := bc.make(b, bc.ser)
			echoDone := make(chan struct{})
			go func() {
				defer close(echoDone)
				for {
					m, err := server.Recv()
					if err != nil {
						return
					}
					if server.Send(context.Background(), m) != nil {
						return
					}
				}
			}()
			m := callMessage()
			ctx := context.Background()
			b.SetBytes(2 * messageSize(b, bc.ser, m))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := client.Send(ctx, m); err != nil {
					b.Fatal(err)
				}
				if _, err := client.Recv(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			_ = server.Close(nil)
			_ = client.Close(nil)
			within(b, echoDone)
		})
	}
}

// BenchmarkThroughput measures one-way throughput: CALLs are queued as fast
// as Send accepts them (retrying on ErrQueueFull) and received and
// decoded on the other side.
func BenchmarkThroughput(b *testing.B) {
	for _, bc := range benchCases() {
		b.Run(bc.name, func(b *testing.B) {
			client, server := bc.make(b, bc.ser)
			m := callMessage()
			b.SetBytes(messageSize(b, bc.ser, m))
			b.ReportAllocs()
			recvDone := make(chan error, 1)
			b.ResetTimer()
			start := time.Now()
			go func() {
				for range b.N {
					if _, err := server.Recv(); err != nil {
						recvDone <- err
						return
					}
				}
				recvDone <- nil
			}()
			cpu0 := processCPU()
			ctx := context.Background()
			spins := 0
			for i := 0; i < b.N; {
				switch err := client.Send(ctx, m); {
				case err == nil:
					i++
					spins = 0
				case errors.Is(err, ErrQueueFull):
					// Yield a few times, then sleep: spinning would starve the
					// writer and the reader on a 2-core machine.
					if spins++; spins < 8 {
						runtime.Gosched()
					} else {
						time.Sleep(10 * time.Microsecond)
					}
				default:
					b.Fatal(err)
				}
			}
			if err := within(b, recvDone); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
			// CPU time of the whole process (sender, writer, reader) per
			// message: the capacity figure that does not depend on what else
			// runs on the machine.
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/msg")
		})
	}
}

// processCPU returns the user+system CPU time of the process in ns.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// benchQueue is the client's queue size in the network benchmarks: deep
// enough that the sender, which sleeps when the queue is full, does not let
// the writer run dry.
const benchQueue = 4096

// BenchmarkRawSocketStages measures the two halves of the RawSocket
// pipeline separately over TCP with MessagePack CALLs: "writer" is Send
// plus the writer goroutine (encode, batch, write) against a peer that only
// discards bytes; "reader" is Recv (read, frame, decode) against a peer
// that only writes pre-encoded frames. One-way throughput is bounded by
// the slower stage.
func BenchmarkRawSocketStages(b *testing.B) {
	m := callMessage()
	frame := appendFrameHeader(nil, frameMessage, int(messageSize(b, serialize.MessagePack, m)))
	frame, _ = serialize.MessagePack.Codec().Encode(frame, m)

	b.Run("writer", func(b *testing.B) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
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
			b.Fatal(err)
		}
		cfg := PeerConfig{QueueSize: benchQueue, PingInterval: -1}.withDefaults(defaultServerMaxMessageSize)
		p := newRawPeer(c, cfg, serialize.MessagePack, rawMaxLength, nil)
		b.SetBytes(int64(len(frame)))
		b.ReportAllocs()
		b.ResetTimer()
		start, cpu0 := time.Now(), processCPU()
		for i := 0; i < b.N; {
			switch err := p.Send(context.Background(), m); {
			case err == nil:
				i++
			case errors.Is(err, ErrQueueFull):
				time.Sleep(10 * time.Microsecond)
			default:
				b.Fatal(err)
			}
		}
		_ = p.Close(nil) // flushes the queue
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
		b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/msg")
		within(b, drained)
	})

	b.Run("reader", func(b *testing.B) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		batch := bytes.Repeat(frame, 1024)
		stop := make(chan struct{})
		written := make(chan struct{})
		go func() {
			defer close(written)
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := c.Write(batch); err != nil {
					return
				}
			}
		}()
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		cfg := PeerConfig{QueueSize: benchQueue, PingInterval: -1}.withDefaults(defaultServerMaxMessageSize)
		p := newRawPeer(c, cfg, serialize.MessagePack, rawMaxLength, nil)
		b.SetBytes(int64(len(frame)))
		b.ReportAllocs()
		b.ResetTimer()
		start, cpu0 := time.Now(), processCPU()
		for range b.N {
			if _, err := p.Recv(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
		b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/msg")
		b.StopTimer()
		close(stop)
		_ = p.Close(nil)
		within(b, written)
	})
}
