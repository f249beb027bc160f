package transport

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"

	"github.com/wampkit/wampkit/internal/testcert"
)

// tlsState returns p's TLS connection state, failing the test if p does
// not implement TLSStater.
func tlsState(tb testing.TB, p Peer) *tls.ConnectionState {
	tb.Helper()
	ts, ok := p.(TLSStater)
	if !ok {
		tb.Fatalf("%T does not implement TLSStater", p)
	}
	return ts.TLSConnectionState()
}

// TestTLSConnectionState: over wss and RawSocket over TLS, with TLS 1.2
// and 1.3 and a client certificate, both ends give their owner the TLS
// connection state: the other end's certificates (the client's, for an
// authentication by certificate), the same tls-exporter channel binding
// (RFC 9266), and with TLS 1.2 the same tls-unique (RFC 5929), which TLS
// 1.3 does not have.
func TestTLSConnectionState(t *testing.T) {
	versions := []struct {
		name    string
		version uint16
	}{{"TLS1.2", tls.VersionTLS12}, {"TLS1.3", tls.VersionTLS13}}
	for _, v := range versions {
		for _, kind := range []string{"websocket", "rawsocket"} {
			t.Run(kind+"/"+v.name, func(t *testing.T) {
				scfg, ccfg := testCert(t)
				serverLeaf := scfg.Certificates[0].Leaf
				clientCA := testcert.NewCA(t, "wampkit test client CA")
				clientCert := clientCA.Issue(t, "wampkit test client", x509.ExtKeyUsageClientAuth)
				clientLeaf := clientCert.Leaf
				scfg.ClientAuth = tls.RequireAndVerifyClientCert
				scfg.ClientCAs = clientCA.Pool()
				scfg.MaxVersion = v.version
				ccfg.Certificates = []tls.Certificate{clientCert}

				peers := newServerPeers()
				var client Peer
				var err error
				switch kind {
				case "websocket":
					_, url := wsServer(t, WebSocketConfig{}, scfg, peers.handler)
					client, err = DialWebSocket(testContext(t), url, WebSocketDialConfig{TLSConfig: ccfg})
				case "rawsocket":
					_, addr := rawServer(t, "tcp", RawSocketConfig{TLSConfig: scfg}, peers.handler)
					client, err = DialRawSocket(testContext(t), "tcp", addr, RawSocketDialConfig{TLSConfig: ccfg})
				}
				t.Cleanup(peers.stop) // before the server's cleanup, which waits for the handler
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { client.Close(nil) })
				server := peers.next(t)

				cs, ss := tlsState(t, client), tlsState(t, server)
				if cs == nil || ss == nil {
					t.Fatalf("TLSConnectionState() = %v (client), %v (server), want both", cs, ss)
				}
				if cs.Version != v.version || ss.Version != v.version || !cs.HandshakeComplete || !ss.HandshakeComplete {
					t.Errorf("versions %x, %x, handshakes complete %v, %v; want %x, complete", cs.Version, ss.Version,
						cs.HandshakeComplete, ss.HandshakeComplete, v.version)
				}
				if len(ss.PeerCertificates) == 0 || !ss.PeerCertificates[0].Equal(clientLeaf) {
					t.Errorf("server's PeerCertificates = %v, want the client's certificate", ss.PeerCertificates)
				}
				if len(cs.PeerCertificates) == 0 || !cs.PeerCertificates[0].Equal(serverLeaf) {
					t.Errorf("client's PeerCertificates = %v, want the server's certificate", cs.PeerCertificates)
				}
				ckm, cerr := cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
				skm, serr := ss.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
				if cerr != nil || serr != nil || len(ckm) != 32 || !bytes.Equal(ckm, skm) {
					t.Errorf("tls-exporter = %x, %v (client), %x, %v (server), want the same 32 bytes", ckm, cerr, skm, serr)
				}
				if v.version == tls.VersionTLS12 {
					if len(cs.TLSUnique) == 0 || !bytes.Equal(cs.TLSUnique, ss.TLSUnique) {
						t.Errorf("tls-unique = %x (client), %x (server), want the same, not empty", cs.TLSUnique, ss.TLSUnique)
					}
				} else if cs.TLSUnique != nil || ss.TLSUnique != nil {
					t.Errorf("tls-unique = %x, %x with TLS 1.3, want none", cs.TLSUnique, ss.TLSUnique)
				}
				for _, p := range []Peer{client, server} {
					if got := p.(Detailer).TransportDetails()["tls"]; got != true {
						t.Errorf("TransportDetails()[tls] = %v, want true", got)
					}
				}
			})
		}
	}
}

// TestTLSConnectionStateNone: peers without TLS have no TLS state.
func TestTLSConnectionStateNone(t *testing.T) {
	for _, tc := range pairCases() {
		if strings.Contains(tc.name, "tls") {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			client, server := tc.make(t)
			for _, p := range []Peer{client, server} {
				if cs := tlsState(t, p); cs != nil {
					t.Errorf("TLSConnectionState() = %v, want nil", cs)
				}
				if _, ok := p.(Detailer).TransportDetails()["tls"]; ok {
					t.Errorf("TransportDetails() = %v, want no tls", p.(Detailer).TransportDetails())
				}
			}
		})
	}
}
