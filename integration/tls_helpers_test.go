package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/wampkit/wampkit/internal/testcert"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/transport"
)

// testCA is a certificate authority made for a test.
type testCA = testcert.CA

// newCA returns a new self-signed CA named cn.
func newCA(tb testing.TB, cn string) *testCA { return testcert.NewCA(tb, cn) }

// tlsEnv is a router served over TLS only: WebSocket (wss) and RawSocket
// (tcps) on 127.0.0.1.
type tlsEnv struct {
	r        *router.Router
	log      *logSink
	ca       *testCA // issued the router's certificate
	wssURL   string
	tcpsURL  string
	serverTC *tls.Config
}

// startTLSEnv starts a router with cfg (realm1 is added when cfg has no
// realm) on wss and tcps, with a certificate for 127.0.0.1 of a new CA.
// tweak, if not nil, adjusts the server's tls.Config (versions, client
// certificates) before it serves. Everything is stopped by the test's
// cleanup.
func startTLSEnv(tb testing.TB, cfg router.Config, tweak func(*tls.Config)) *tlsEnv {
	tb.Helper()
	e := &tlsEnv{log: newLogSink(tb), ca: newCA(tb, "wampkit test CA")}
	e.serverTC = &tls.Config{Certificates: []tls.Certificate{e.ca.Issue(tb, "127.0.0.1", x509.ExtKeyUsageServerAuth)}}
	if tweak != nil {
		tweak(e.serverTC)
	}
	if len(cfg.Realms) == 0 {
		cfg.Realms = []router.RealmConfig{{Name: realm1}}
	}
	if cfg.Logger == nil {
		cfg.Logger = e.log.logger()
	}
	cfg.RawSocket.TLSConfig = e.serverTC
	r, err := router.New(cfg)
	if err != nil {
		tb.Fatalf("router.New: %v", err)
	}
	e.r = r
	var wg sync.WaitGroup
	mux := http.NewServeMux()
	mux.Handle("/ws", r.Handler())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, TLSConfig: e.serverTC}
	wl := listen(tb, "tcp", "127.0.0.1:0")
	e.wssURL = "wss://" + wl.Addr().String() + "/ws"
	wg.Go(func() { hs.ServeTLS(wl, "", "") })
	tl := listen(tb, "tcp", "127.0.0.1:0")
	e.tcpsURL = "tcps://" + tl.Addr().String()
	wg.Go(func() { r.ServeRawSocket(tl) })
	tb.Cleanup(func() {
		if err := r.Close(); err != nil {
			tb.Errorf("Router.Close: %v", err)
		}
		hs.Close()
		wg.Wait()
	})
	return e
}

// url returns the router's URL for kind, "wss" or "tcps".
func (e *tlsEnv) url(kind string) string {
	if kind == "wss" {
		return e.wssURL
	}
	return e.tcpsURL
}

// clientTLS returns a client tls.Config that trusts the router's CA.
func (e *tlsEnv) clientTLS() *tls.Config {
	return &tls.Config{RootCAs: e.ca.Pool(), ServerName: "127.0.0.1"}
}

// relay is a man in the middle: a wss server with a certificate of a CA
// of its own that, for every client that connects, dials the router over
// wss and passes WAMP messages both ways unchanged, as an attacker who
// got a certificate the client trusts would.
type relay struct {
	ca  *testCA
	url string
}

// startRelay starts a relay to the router at routerURL (wss), dialing it
// with routerTLS.
func startRelay(tb testing.TB, routerURL string, routerTLS *tls.Config) *relay {
	tb.Helper()
	rl := &relay{ca: newCA(tb, "relay CA")}
	ws := &transport.WebSocketServer{Handler: func(in transport.Peer) {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		out, err := transport.DialWebSocket(ctx, routerURL, transport.WebSocketDialConfig{TLSConfig: routerTLS})
		if err != nil {
			return
		}
		defer out.Close(nil)
		var wg sync.WaitGroup
		pipe := func(from, to transport.Peer) {
			defer wg.Done()
			defer from.Close(nil)
			defer to.Close(nil)
			for {
				m, err := from.Recv()
				if err != nil || to.Send(context.Background(), m) != nil {
					return
				}
			}
		}
		wg.Add(2)
		go pipe(in, out)
		go pipe(out, in)
		wg.Wait()
	}}
	hs := &http.Server{Handler: ws, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{rl.ca.Issue(tb, "127.0.0.1", x509.ExtKeyUsageServerAuth)}}}
	l := listen(tb, "tcp", "127.0.0.1:0")
	rl.url = "wss://" + l.Addr().String() + "/ws"
	done := make(chan struct{})
	go func() { defer close(done); hs.ServeTLS(l, "", "") }()
	tb.Cleanup(func() {
		ws.Close()
		hs.Close()
		<-done
	})
	return rl
}

// clientTLS returns a client tls.Config that trusts the relay's CA (the
// client was fooled into trusting it).
func (rl *relay) clientTLS() *tls.Config {
	return &tls.Config{RootCAs: rl.ca.Pool(), ServerName: "127.0.0.1"}
}
