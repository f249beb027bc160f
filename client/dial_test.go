package client_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wampkit/wampkit/client"
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
