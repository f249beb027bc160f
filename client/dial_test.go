package client_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
	"github.com/wampkit/wampkit/transport"
)

func TestDialBadURL(t *testing.T) {
	tests := []string{
		"http://127.0.0.1:1/ws",
		"tcp://",
		"tcp://127.0.0.1:1/path",
		"unix://host/path",
		"unix:",
		"://nothing",
	}
	for _, u := range tests {
		_, err := client.Dial(context.Background(), u, client.Config{Realm: "realm1"})
		if !errors.Is(err, client.ErrBadURL) {
			t.Errorf("Dial(%q) = %v, want ErrBadURL", u, err)
		}
	}
	if _, err := client.Dial(context.Background(), "ws://127.0.0.1:1/ws", client.Config{}); !errors.Is(err, client.ErrNoRealm) {
		t.Errorf("Dial without realm = %v, want ErrNoRealm", err)
	}
}

// tlsPair returns a server certificate for 127.0.0.1 (httptest's) and a
// client config that trusts it.
func tlsPair(tb testing.TB) (server *tls.Config, clientCfg *tls.Config) {
	tb.Helper()
	srv := httptest.NewUnstartedServer(nil)
	srv.StartTLS()
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return &tls.Config{Certificates: srv.TLS.Certificates}, &tls.Config{RootCAs: pool}
}

// startRawSocket serves a fake router over RawSocket on l.
func startRawSocket(tb testing.TB, l net.Listener, tlsCfg *tls.Config) {
	tb.Helper()
	s := &transport.RawSocketServer{Config: transport.RawSocketConfig{TLSConfig: tlsCfg, PeerConfig: transport.PeerConfig{Logger: quietLogger()}}, Handler: serveFake}
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(l) }()
	tb.Cleanup(func() { s.Close(); <-done })
}

func TestDial(t *testing.T) {
	serverTLS, clientTLS := tlsPair(t)

	ws := &transport.WebSocketServer{Config: transport.WebSocketConfig{PeerConfig: transport.PeerConfig{Logger: quietLogger()}}, Handler: serveFake}
	plain := httptest.NewServer(ws)
	secure := httptest.NewUnstartedServer(ws)
	secure.TLS = serverTLS
	secure.StartTLS()
	defer func() { ws.Close(); plain.Close(); secure.Close() }()

	tcpL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	startRawSocket(t, tcpL, nil)
	tlsL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	startRawSocket(t, tlsL, serverTLS)
	sock := filepath.Join(t.TempDir(), "r.sock")
	unixL, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	startRawSocket(t, unixL, nil)

	wsURL := "ws" + strings.TrimPrefix(plain.URL, "http")
	wssURL := "wss" + strings.TrimPrefix(secure.URL, "https")
	tests := []struct {
		url string
		ser serialize.Serializer
	}{
		{wsURL, 0},
		{wsURL, serialize.MessagePack},
		{wssURL, 0},
		{"tcp://" + tcpL.Addr().String(), 0},
		{"tcp://" + tcpL.Addr().String(), serialize.JSON},
		{"rs://" + tcpL.Addr().String(), 0},
		{"tcps://" + tlsL.Addr().String(), 0},
		{"unix://" + sock, 0},
		{"unix:" + sock, serialize.JSON},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%v", strings.SplitN(tt.url, ":", 2)[0], tt.ser), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			c, err := client.Dial(ctx, tt.url, client.Config{Realm: "realm1", Serializer: tt.ser,
				TLSConfig: clientTLS, Logger: quietLogger()})
			if err != nil {
				t.Fatalf("Dial(%q): %v", tt.url, err)
			}
			res, err := c.Call(ctx, "test.echo", "hi", 7)
			if err != nil {
				t.Fatalf("Call: %v", err)
			}
			if got := fmt.Sprint(res.Args...); got != "hi7" && got != "hi 7" {
				t.Errorf("echo = %v, want [hi 7]", res.Args)
			}
			if err := c.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

// TestDialWrongScheme dials RawSocket at ports that speak TLS or HTTP,
// and WebSocket at a RawSocket port: Dial must say which scheme the port
// wants instead of timing out or reporting a bad handshake byte.
func TestDialWrongScheme(t *testing.T) {
	serverTLS, _ := tlsPair(t)
	ws := &transport.WebSocketServer{Config: transport.WebSocketConfig{PeerConfig: transport.PeerConfig{Logger: quietLogger()}}, Handler: serveFake}
	plain := httptest.NewServer(ws)
	secure := httptest.NewUnstartedServer(ws)
	secure.TLS = serverTLS
	secure.Config.ErrorLog = log.New(io.Discard, "", 0) // the probes' TLS handshakes end abruptly
	secure.StartTLS()
	defer func() { ws.Close(); plain.Close(); secure.Close() }()
	tlsL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	startRawSocket(t, tlsL, serverTLS)
	tcpL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	startRawSocket(t, tcpL, nil)

	tests := []struct {
		name, url, want string
	}{
		{"ws at RawSocket", "ws://" + tcpL.Addr().String() + "/ws", "use tcp://"},
		{"tcp at RawSocket over TLS", "tcp://" + tlsL.Addr().String(), "use tcps://"},
		{"tcp at WebSocket", "tcp://" + plain.Listener.Addr().String(), "use ws://"},
		{"tcp at WebSocket over TLS", "tcp://" + secure.Listener.Addr().String(), "use wss://"},
		{"tcp at HTTP that answers at once", "tcp://" + startBadRequest(t), "use ws://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			_, err := client.Dial(ctx, tt.url, client.Config{Realm: "realm1", Logger: quietLogger()})
			if !errors.Is(err, client.ErrBadURL) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Dial(%q) = %v, want ErrBadURL saying %q", tt.url, err, tt.want)
			}
		})
	}
}

// TestDialNotMisdiagnosed dials tcp:// at ports that speak neither TLS
// nor HTTP: the probes find nothing to say, and Dial returns the
// handshake's own failure, not a wrong scheme.
func TestDialNotMisdiagnosed(t *testing.T) {
	tests := []struct {
		name  string
		serve func(net.Conn) // runs on each accepted connection, then it is closed
		wait  time.Duration  // how long Dial may try; beyond probeAfter (1 s)
	}{
		{"closes at once", func(net.Conn) {}, deadline},
		{"never answers", func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := startTCP(t, tt.serve)
			ctx, cancel := context.WithTimeout(context.Background(), tt.wait)
			defer cancel()
			_, err := client.Dial(ctx, "tcp://"+addr, client.Config{Realm: "realm1", Logger: quietLogger()})
			if err == nil || errors.Is(err, client.ErrBadURL) {
				t.Errorf("Dial(tcp://%s) = %v, want the handshake's failure", addr, err)
			}
		})
	}
}

// startTCP serves each connection with serve, then closes it, until the
// test ends; it returns the address. A connection still open at the end
// is closed, so that serve returns.
func startTCP(tb testing.TB, serve func(net.Conn)) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{} // guarded by mu
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c)
			}()
		}
	}()
	tb.Cleanup(func() {
		l.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().String()
}

// startBadRequest serves what nginx answers to bytes that are not HTTP:
// 400 Bad Request at once. A RawSocket handshake then fails at once with a
// bad magic octet (0x48, 'H') instead of running into its timeout. It
// returns the address.
func startBadRequest(tb testing.TB) string {
	tb.Helper()
	return startTCP(tb, func(c net.Conn) {
		_ = c.SetDeadline(time.Now().Add(deadline))
		buf := make([]byte, 4096)
		if _, err := c.Read(buf); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		// Half-close and drain, so that the answer is not lost to a reset
		// for unread bytes.
		_ = c.(*net.TCPConn).CloseWrite()
		_, _ = io.Copy(io.Discard, c)
	})
}

// acceptLog is a listener that records, in order, the remote address of
// every connection its server accepts.
type acceptLog struct {
	net.Listener
	mu    sync.Mutex
	addrs []string // guarded by mu
}

func (l *acceptLog) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.addrs = append(l.addrs, c.RemoteAddr().String())
		l.mu.Unlock()
	}
	return c, err
}

// connsBefore returns how many connections were made to l before this
// call, whether or not their server answered them: it connects once more
// and waits until the server accepts that connection; the listen queue is
// first in, first out, so every earlier one was accepted before it.
func (l *acceptLog) connsBefore(tb testing.TB) int {
	tb.Helper()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	mark := c.LocalAddr().String()
	for end := time.Now().Add(deadline); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		l.mu.Lock()
		for i, a := range l.addrs {
			if a == mark {
				l.mu.Unlock()
				return i
			}
		}
		l.mu.Unlock()
	}
	tb.Fatal("the server did not accept the marker connection")
	return 0
}

// TestDialRefusedNotProbed: a RawSocket router that refuses the handshake
// (here, the serializer) has shown that the port speaks RawSocket. Dial
// returns the refusal without probing the port for TLS and HTTP, which
// would cost the router two more connections on each attempt (a
// reconnecting client retries; a full router refuses for its connection
// limit).
func TestDialRefusedNotProbed(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	al := &acceptLog{Listener: l}
	s := &transport.RawSocketServer{Config: transport.RawSocketConfig{
		Serializers: []serialize.Serializer{serialize.JSON},
		PeerConfig:  transport.PeerConfig{Logger: quietLogger()},
	}, Handler: serveFake}
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(al) }()
	defer func() { s.Close(); <-done }()

	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	_, err = client.Dial(ctx, "tcp://"+l.Addr().String(), client.Config{Realm: "realm1",
		Serializer: serialize.MessagePack, Logger: quietLogger()})
	var rerr *transport.RawSocketError
	if !errors.As(err, &rerr) || rerr.Code != transport.RawSocketUnsupportedSerializer || errors.Is(err, client.ErrBadURL) {
		t.Fatalf("Dial = %v, want the router's refusal (unsupported serializer)", err)
	}
	if n := al.connsBefore(t); n != 1 {
		t.Errorf("Dial made %d connections to a RawSocket router that refused it, want 1 (no probes)", n)
	}
}

// TestDialWebSocketRefusedNotProbed: an HTTP server that refuses the
// WebSocket upgrade (here, a path it does not serve) has shown that the
// port speaks HTTP. Dial returns the refusal without probing the port for
// RawSocket, a probe an HTTP server leaves unanswered until the probe
// gives up.
func TestDialWebSocketRefusedNotProbed(t *testing.T) {
	ws := &transport.WebSocketServer{Config: transport.WebSocketConfig{PeerConfig: transport.PeerConfig{Logger: quietLogger()}}, Handler: serveFake}
	mux := http.NewServeMux()
	mux.Handle("/ws", ws)
	srv := httptest.NewUnstartedServer(mux)
	al := &acceptLog{Listener: srv.Listener}
	srv.Listener = al
	srv.Start()
	defer func() { ws.Close(); srv.Close() }()

	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	_, err := client.Dial(ctx, "ws://"+al.Addr().String()+"/nope", client.Config{Realm: "realm1", Logger: quietLogger()})
	if !errors.Is(err, transport.ErrHandshake) || !strings.Contains(err.Error(), "404") || errors.Is(err, client.ErrBadURL) {
		t.Fatalf("Dial = %v, want the server's refusal (404)", err)
	}
	if n := al.connsBefore(t); n != 1 {
		t.Errorf("Dial made %d connections to an HTTP server that refused the upgrade, want 1 (no probe)", n)
	}
}

// TestErrorTexts checks that errors name what failed once, without
// repeating their prefixes.
func TestErrorTexts(t *testing.T) {
	peer, wait := startFakeRouter()
	defer wait()
	ctx := context.Background()
	_, err := client.Join(ctx, peer, client.Config{Realm: "no.such.realm", Logger: quietLogger()})
	if want := `client: join realm "no.such.realm": session aborted: wamp.error.no_such_realm: no realm no.such.realm`; fmt.Sprint(err) != want {
		t.Errorf("Join error = %q, want %q", err, want)
	}

	peer2, wait2 := startFakeRouter()
	defer wait2()
	c, err := client.Join(ctx, peer2, client.Config{Realm: "realm1", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Call(ctx, "com.example.missing")
	var werr *protocol.Error
	if !errors.As(err, &werr) || werr.URI != protocol.ErrNoSuchProcedure {
		t.Fatalf("Call = %v, want %s", err, protocol.ErrNoSuchProcedure)
	}
	if want := "client: call com.example.missing: wamp error wamp.error.no_such_procedure"; err.Error() != want {
		t.Errorf("Call error = %q, want %q", err, want)
	}
	if _, err := c.Register(ctx, "com.example.p", echoHandler, nil); err != nil {
		t.Fatal(err)
	}
	_, err = c.Register(ctx, "com.example.p", echoHandler, nil)
	if want := "client: register com.example.p: wamp error wamp.error.procedure_already_exists"; fmt.Sprint(err) != want {
		t.Errorf("Register error = %q, want %q", err, want)
	}
}
