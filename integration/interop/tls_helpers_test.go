package interop

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/wampkit/wampkit/internal/testcert"
	"github.com/wampkit/wampkit/router"
)

// testCA is a certificate authority made for a test, with its
// certificate also in a PEM file.
type testCA struct {
	*testcert.CA
	file string // PEM of the CA's certificate, for the scripts' --ca
}

// newCA returns a new self-signed CA named cn, its certificate written
// to a PEM file in the test's temporary directory.
func newCA(tb testing.TB, cn string) *testCA {
	tb.Helper()
	ca := testcert.NewCA(tb, cn)
	file := filepath.Join(tb.TempDir(), "ca.pem")
	writePEM(tb, file, "CERTIFICATE", ca.Cert.Raw)
	return &testCA{CA: ca, file: file}
}

// issued is a certificate of a testCA, in memory and as PEM files for
// the scripts' --cert and --key.
type issued struct {
	tls.Certificate
	certFile, keyFile string
}

// fingerprint returns the SHA-256 fingerprint of the certificate, hex.
func (c issued) fingerprint() string {
	fp := sha256.Sum256(c.Leaf.Raw)
	return hex.EncodeToString(fp[:])
}

// issue returns a certificate of ca for cn (also its DNS name, and
// 127.0.0.1) with the given extended key usage, also in PEM files.
func (ca *testCA) issue(tb testing.TB, cn string, usage x509.ExtKeyUsage) issued {
	tb.Helper()
	cert := ca.Issue(tb, cn, usage)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	out := issued{Certificate: cert, certFile: filepath.Join(dir, "cert.pem"), keyFile: filepath.Join(dir, "key.pem")}
	writePEM(tb, out.certFile, "CERTIFICATE", cert.Certificate[0])
	writePEM(tb, out.keyFile, "PRIVATE KEY", pkcs8)
	return out
}

// writePEM writes one PEM block to file.
func writePEM(tb testing.TB, file, kind string, der []byte) {
	tb.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// tlsRouter is a wampkit router served over TLS only, on 127.0.0.1:
// WebSocket (wss) and RawSocket (rss, RawSocket over TLS).
type tlsRouter struct {
	r      *router.Router
	ca     *testCA // issued the router's certificate
	wssURL string  // wss://127.0.0.1:PORT/
	rssURL string  // rss://127.0.0.1:PORT
}

// startTLSRouter starts a router with realms on wss and rss with a
// certificate for 127.0.0.1 of a new CA. tweak, if not nil, adjusts the
// server's tls.Config (versions, client certificates). Failed
// authentications are not throttled: the tests fail them on purpose.
// Everything is stopped when the test ends.
func startTLSRouter(tb testing.TB, realms []router.RealmConfig, tweak func(*tls.Config)) *tlsRouter {
	tb.Helper()
	tr := &tlsRouter{ca: newCA(tb, "wampkit interop CA")}
	serverTC := &tls.Config{Certificates: []tls.Certificate{tr.ca.issue(tb, "127.0.0.1", x509.ExtKeyUsageServerAuth).Certificate}}
	if tweak != nil {
		tweak(serverTC)
	}
	cfg := router.Config{Realms: realms, Logger: testLogger(tb), AuthThrottle: router.AuthThrottle{Disabled: true}}
	cfg.RawSocket.TLSConfig = serverTC
	r, err := router.New(cfg)
	if err != nil {
		tb.Fatalf("router.New: %v", err)
	}
	tr.r = r
	hs := &http.Server{Handler: r.Handler(), ReadHeaderTimeout: 30 * time.Second, TLSConfig: serverTC}
	wl := listenLocal(tb)
	rl := listenLocal(tb)
	tr.wssURL = "wss://" + wl.Addr().String() + "/"
	tr.rssURL = "rss://" + rl.Addr().String()
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := hs.ServeTLS(wl, "", ""); !errors.Is(err, http.ErrServerClosed) {
			tb.Errorf("ServeTLS: %v", err)
		}
	})
	wg.Go(func() {
		if err := r.ServeRawSocket(rl); !errors.Is(err, router.ErrClosed) {
			tb.Errorf("ServeRawSocket: %v", err)
		}
	})
	tb.Cleanup(func() {
		r.Close()
		hs.Close()
		wg.Wait()
	})
	return tr
}

// url returns the router's URL for transport "websocket" or "rawsocket".
func (tr *tlsRouter) url(transport string) string {
	if transport == "rawsocket" {
		return tr.rssURL
	}
	return tr.wssURL
}

// listenLocal listens on 127.0.0.1 with a port the system picks.
func listenLocal(tb testing.TB) net.Listener {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

// tlsRelay is a man in the middle between a client and a TLS router: it
// ends the client's TLS connection with a certificate of a CA of its
// own (one the client was fooled into trusting), opens a TLS connection
// of its own to the router and copies the bytes both ways unchanged,
// whatever the transport inside (WebSocket or RawSocket). A signature
// bound to the client's TLS channel does not fit the relay's.
type tlsRelay struct {
	ca   *testCA
	addr string // 127.0.0.1:PORT
}

// startRelay starts a relay to the router at routerAddr (host:port),
// dialing it with routerTLS. It stops when the test ends.
func startRelay(tb testing.TB, routerAddr string, routerTLS *tls.Config) *tlsRelay {
	tb.Helper()
	rl := &tlsRelay{ca: newCA(tb, "relay CA")}
	l := tls.NewListener(listenLocal(tb), &tls.Config{
		Certificates: []tls.Certificate{rl.ca.issue(tb, "127.0.0.1", x509.ExtKeyUsageServerAuth).Certificate},
		// The client's TLS version: the router's side is routerTLS's.
		MaxVersion: routerTLS.MaxVersion,
	})
	rl.addr = l.Addr().String()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		conns  []net.Conn // guarded by mu: closed when the test ends
		closed bool       // guarded by mu
	)
	// track keeps c to be closed when the test ends, or closes it now
	// if it has ended.
	track := func(c net.Conn) {
		mu.Lock()
		defer mu.Unlock()
		if closed {
			c.Close()
			return
		}
		conns = append(conns, c)
	}
	wg.Go(func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			track(in)
			wg.Go(func() {
				defer in.Close()
				d := &tls.Dialer{Config: routerTLS, NetDialer: &net.Dialer{Timeout: scriptTimeout}}
				out, err := d.Dial("tcp", routerAddr)
				if err != nil {
					return
				}
				track(out)
				defer out.Close()
				done := make(chan struct{})
				go func() {
					defer close(done)
					io.Copy(out, in) //nolint:errcheck // ends with either side
					out.Close()
				}()
				io.Copy(in, out) //nolint:errcheck // ends with either side
				in.Close()
				<-done
			})
		}
	})
	tb.Cleanup(func() {
		l.Close()
		mu.Lock()
		closed = true
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return rl
}
