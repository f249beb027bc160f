//go:build unix

package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wampkit/wampkit/internal/sysio"
	"github.com/wampkit/wampkit/protocol"
)

// tcpConns returns both ends of a new TCP connection on 127.0.0.1.
func tcpConns(tb testing.TB) (a, b *net.TCPConn) {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	s := within(tb, accepted)
	if s == nil {
		tb.Fatal("accept failed")
	}
	tb.Cleanup(func() { _ = c.Close(); _ = s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

// TestFDReaderReadsLikeConn: newFDReader's reader of a socket gives what
// net.Conn.Read gives, for every way a read can end: data (waiting for
// it when there is none yet), the end of the stream, the read deadline,
// a Close of the connection during the read, and a reset by the other end.
func TestFDReaderReadsLikeConn(t *testing.T) {
	tests := []struct {
		name string
		// act makes the read on r (whose other end is o) end; it runs
		// once the read has started, or may have.
		act     func(r, o *net.TCPConn)
		wantN   int
		wantErr func(error) bool
	}{
		{"data", func(_, o *net.TCPConn) { _, _ = o.Write([]byte("hello")) }, 5, func(err error) bool { return err == nil }},
		{"eof", func(_, o *net.TCPConn) { _ = o.CloseWrite() }, 0, func(err error) bool { return err == io.EOF }},
		{"deadline", func(r, _ *net.TCPConn) { _ = r.SetReadDeadline(time.Now().Add(time.Millisecond)) }, 0,
			func(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) && isTimeout(err) }},
		{"closed", func(r, _ *net.TCPConn) { _ = r.Close() }, 0, func(err error) bool { return errors.Is(err, net.ErrClosed) }},
		{"reset", func(_, o *net.TCPConn) { _ = o.SetLinger(0); _ = o.Close() }, 0,
			func(err error) bool { return errors.Is(err, syscall.ECONNRESET) }},
	}
	readers := []struct {
		name string
		of   func(c *net.TCPConn) io.Reader
	}{
		{"net.Conn", func(c *net.TCPConn) io.Reader { return c }},
		{"fdReader", func(c *net.TCPConn) io.Reader { return newFDReader(c) }},
	}
	for _, tt := range tests {
		for _, rd := range readers {
			t.Run(tt.name+"/"+rd.name, func(t *testing.T) {
				c, o := tcpConns(t)
				r := rd.of(c)
				if rd.name == "fdReader" {
					if _, ok := r.(*sysio.Reader); !ok {
						t.Fatalf("newFDReader(%T) = %T, want *sysio.Reader", c, r)
					}
				}
				type result struct {
					n   int
					err error
				}
				done := make(chan result, 1)
				go func() {
					b := make([]byte, 64)
					n, err := r.Read(b)
					if n > 0 && string(b[:n]) != "hello" {
						err = errors.New("read " + string(b[:n]))
					}
					done <- result{n, err}
				}()
				tt.act(c, o)
				got := within(t, done)
				if got.n != tt.wantN || !tt.wantErr(got.err) {
					t.Errorf("Read() = %d, %v; want %d and the error of the case", got.n, got.err, tt.wantN)
				}
				// The same words as net.Conn.Read's, for logs.
				if want := "read tcp " + c.LocalAddr().String() + "->" + c.RemoteAddr().String() + ": "; got.err != nil && got.err != io.EOF &&
					!strings.HasPrefix(got.err.Error(), want) {
					t.Errorf("Read() error %q, want it to begin %q", got.err, want)
				}
			})
		}
	}
}

// TestFDReaderOnlyForSockets: newFDReader reads a plain socket itself, and
// leaves to the connection what it cannot read directly: TLS, and
// connections without a socket.
func TestFDReaderOnlyForSockets(t *testing.T) {
	c, _ := tcpConns(t)
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true})
	tests := []struct {
		name string
		conn net.Conn
		want bool // *sysio.Reader
	}{
		{"tcp", c, true},
		{"limitConn", &limitConn{Conn: c}, true},
		{"tls", tc, false},
		{"pipe", p1, false},
	}
	for _, tt := range tests {
		r := newFDReader(tt.conn)
		if _, got := r.(*sysio.Reader); got != tt.want {
			t.Errorf("newFDReader(%s) = %T, want *sysio.Reader: %v", tt.name, r, tt.want)
		}
		if !tt.want && r != io.Reader(tt.conn) {
			t.Errorf("newFDReader(%s) = %T, want the connection itself", tt.name, r)
		}
	}
}

// TestPeersReadSocketsDirectly: both ends of every network transport over
// a plain socket read it with a sysio.Reader, so that their reads do not
// wake the Go scheduler's sysmon (issue 14, the lone round trip); over
// TLS they read through crypto/tls. The peers still work after that.
func TestPeersReadSocketsDirectly(t *testing.T) {
	for _, tc := range pairCases() {
		if tc.name == "local" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			client, server := tc.make(t)
			ctx := context.Background()
			if err := client.Send(ctx, callMessage()); err != nil {
				t.Fatal(err)
			}
			mustRecv(t, server)
			if err := server.Send(ctx, &protocol.Result{Request: 1, Details: protocol.Dict{}}); err != nil {
				t.Fatal(err)
			}
			mustRecv(t, client)
			for side, p := range map[string]Peer{"client": client, "server": server} {
				// Our WebSocket dialer reads the socket under its TLS.
				_, dialer := p.(*wsPeer)
				dialer = dialer && side == "client"
				want := dialer || !isTLSPeer(p)
				r := peerReader(p)
				if _, got := r.(*sysio.Reader); got != want {
					t.Errorf("%s reads with %T, want *sysio.Reader: %v", side, r, want)
				}
				// Under TLS, crypto/tls reads and writes the socket
				// with internal/sysio (TLSListener, the RawSocket
				// server and dialer).
				if tc := peerTLSConn(p); tc != nil && !dialer {
					if nc, plain := tc.NetConn().(*net.TCPConn); plain {
						t.Errorf("%s: TLS over %T, want the socket wrapped by internal/sysio", side, nc)
					}
				}
			}
		})
	}
}

// peerReader returns what a network peer reads its connection with.
func peerReader(p Peer) io.Reader {
	switch p := p.(type) {
	case *wsPeer:
		if p.cork == nil {
			return nil
		}
		return p.cork.pr.r
	case *rawPeer:
		return p.pr.r.(idleConn).r
	}
	return nil
}

// peerTLSConn returns the TLS connection of a network peer, or nil.
func peerTLSConn(p Peer) *tls.Conn {
	switch p := p.(type) {
	case *wsPeer:
		tc, _ := p.ws.UnderlyingConn().(*tls.Conn)
		return tc
	case *rawPeer:
		tc, _ := p.pr.r.(idleConn).Conn.(*tls.Conn)
		return tc
	}
	return nil
}

func isTLSPeer(p Peer) bool {
	return p.(TLSStater).TLSConnectionState() != nil
}
