package interop

import (
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"net/url"
	"strings"
	"testing"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/router/auth"
)

// The realms of the TLS tests: cryptosign (authID with the key of
// authSeed) and tls (client certificates).
const (
	cryptosignRealm = protocol.URI("cryptosignrealm")
	tlsRealm        = protocol.URI("tlsrealm")
)

// cryptosignRealmConfig admits authID with authSeed's key by cryptosign.
func cryptosignRealmConfig(tb testing.TB) router.RealmConfig {
	pub := seedKey(tb, authSeed).Public().(ed25519.PublicKey)
	return router.RealmConfig{Name: cryptosignRealm, Authenticators: []router.Authenticator{
		&auth.Cryptosign{Principals: map[string]auth.CryptosignPrincipal{authID: {Role: authRole, PublicKeys: []ed25519.PublicKey{pub}}}},
	}}
}

// hostPort returns the host:port of a URL.
func hostPort(tb testing.TB, u string) string {
	tb.Helper()
	p, err := url.Parse(u)
	if err != nil {
		tb.Fatal(err)
	}
	return p.Host
}

// pyJoin runs py/peer.py's join scenario at u in realm with serializer
// and the extra arguments, and returns its result line and whether it
// joined (the line of a refusal names the ABORT reason in "error").
func pyJoin(tb testing.TB, u string, realm protocol.URI, serializer string, extra ...string) (map[string]any, bool) {
	tb.Helper()
	return libJoin(tb, libNamed(tb, "autobahn_py"), u, realm, serializer, extra...)
}

// libJoin is pyJoin for the script of any library.
func libJoin(tb testing.TB, l lib, u string, realm protocol.URI, serializer string, extra ...string) (map[string]any, bool) {
	tb.Helper()
	l.require(tb)
	dir := interopDir(tb)
	argv := l.argv(dir, u, serializer, "join", "wampkit.interop.tls")
	for i, a := range argv {
		if a == "--realm" {
			argv[i+1] = string(realm)
		}
	}
	p := startScript(tb, dir, append(argv, extra...)...)
	m := p.next()
	for range p.lines {
	}
	p.cmd.Wait() //nolint:errcheck // the exit status says no more than "ok"
	return m, m["ok"] == true
}

// libNamed returns the lib called name.
func libNamed(tb testing.TB, name string) lib {
	tb.Helper()
	for _, l := range libs {
		if l.name == name {
			return l
		}
	}
	tb.Fatalf("no lib %q", name)
	return lib{}
}

// wantJoined requires the script's result to be a join as authid with
// role and method.
func wantJoined(tb testing.TB, m map[string]any, ok bool, authid, role, method string) {
	tb.Helper()
	if !ok {
		tb.Fatalf("not joined: %v", m["error"])
	}
	for k, want := range map[string]string{"authid": authid, "authrole": role, "authmethod": method} {
		if m[k] != want {
			tb.Errorf("WELCOME.Details.%s = %v, want %s", k, m[k], want)
		}
	}
}

// wantRefused requires the script to have been refused with ABORT reason
// whose message holds msg.
func wantRefused(tb testing.TB, m map[string]any, ok bool, reason protocol.URI, msg string) {
	tb.Helper()
	if ok {
		tb.Fatalf("joined (%v), want ABORT %s %q", m, reason, msg)
	}
	e, _ := m["error"].(string)
	if !strings.Contains(e, string(reason)) || !strings.Contains(e, msg) {
		tb.Errorf("peer's error %q, want ABORT %s with %q", e, reason, msg)
	}
}

// pyTransports are the TLS transports Autobahn|Python is driven over,
// each with another serializer.
var pyTransports = []struct{ transport, serializer string }{{"websocket", "json"}, {"rawsocket", "msgpack"}}

// TestAutobahnPythonChannelBinding: Autobahn|Python 22.7 binds its
// cryptosign signature to the TLS channel with tls-unique (its only
// binding, defined up to TLS 1.2) over wss and RawSocket over TLS, and
// wampkit's router, which computes the channel ID the same way
// (internal/channelbind), admits it. Through a relay that ends the
// client's TLS and opens its own to the router (a man in the middle
// with a certificate the client trusts), the unbound signature is
// accepted — the attack — and the bound one refused, since it was made
// for the client's channel. Over TLS 1.3, which does not define
// tls-unique, the router refuses the binding before any CHALLENGE.
func TestAutobahnPythonChannelBinding(t *testing.T) {
	t.Parallel()
	realms := []router.RealmConfig{cryptosignRealmConfig(t)}
	tls12 := startTLSRouter(t, realms, func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 })
	tls13 := startTLSRouter(t, realms, func(c *tls.Config) { c.MinVersion = tls.VersionTLS13 })
	bound := []string{"--authmethod", "cryptosign", "--authid", authID, "--secret", authSeed, "--channel-binding", "tls-unique"}
	unbound := []string{"--authmethod", "cryptosign", "--authid", authID, "--secret", authSeed}
	for _, tt := range pyTransports {
		scheme := map[string]string{"websocket": "wss", "rawsocket": "rss"}[tt.transport]
		t.Run(tt.transport+"/TLS1.2", func(t *testing.T) {
			t.Parallel()
			m, ok := pyJoin(t, tls12.url(tt.transport), cryptosignRealm, tt.serializer,
				append([]string{"--ca", tls12.ca.file, "--tls-max", "1.2"}, bound...)...)
			wantJoined(t, m, ok, authID, authRole, "cryptosign")
			if m["tls_version"] != "TLSv1.2" {
				t.Errorf("the peer's TLS version is %v, want TLSv1.2", m["tls_version"])
			}
		})
		t.Run(tt.transport+"/TLS1.2/relay", func(t *testing.T) {
			t.Parallel()
			rl := startRelay(t, hostPort(t, tls12.url(tt.transport)),
				&tls.Config{RootCAs: tls12.ca.Pool(), ServerName: "127.0.0.1", MaxVersion: tls.VersionTLS12})
			u := scheme + "://" + rl.addr + "/"
			relayed := []string{"--ca", rl.ca.file, "--tls-max", "1.2"}
			m, ok := pyJoin(t, u, cryptosignRealm, tt.serializer, append(relayed, unbound...)...)
			wantJoined(t, m, ok, authID, authRole, "cryptosign") // what binding prevents
			m, ok = pyJoin(t, u, cryptosignRealm, tt.serializer, append(relayed, bound...)...)
			wantRefused(t, m, ok, protocol.ErrAuthenticationDenied, "TLS channel")
		})
		t.Run(tt.transport+"/TLS1.3", func(t *testing.T) {
			t.Parallel()
			m, ok := pyJoin(t, tls13.url(tt.transport), cryptosignRealm, tt.serializer,
				append([]string{"--ca", tls13.ca.file}, bound...)...)
			wantRefused(t, m, ok, protocol.ErrAuthenticationDenied, "TLS 1.3")
		})
	}
}

// TestAutobahnPythonTLSClientCertificate: Autobahn|Python 22.7 has no
// authenticator named "tls", and needs none: it joins with
// authmethods ["tls"] over wss and RawSocket over TLS with a client
// certificate in its SSL context, and gets the authid and role of the
// principal whose certificate it is — pinned by fingerprint (here
// self-issued) or named by a client CA that the authenticator checks
// (auth.TLS ClientCAs, so that the listener only asks for certificates
// and verifies none). Without a certificate it is refused with
// wamp.error.authentication_required, with an unknown one (or another
// principal's) with wamp.error.authentication_denied.
func TestAutobahnPythonTLSClientCertificate(t *testing.T) {
	t.Parallel()
	clientCA := newCA(t, "client CA")
	selfMade := newCA(t, "device's own CA")
	pinned := selfMade.issue(t, "device-7", x509.ExtKeyUsageClientAuth)
	named := clientCA.issue(t, "backend", x509.ExtKeyUsageClientAuth)
	unknown := selfMade.issue(t, "someone", x509.ExtKeyUsageClientAuth)
	tr := startTLSRouter(t, []router.RealmConfig{{Name: tlsRealm, Authenticators: []router.Authenticator{
		&auth.TLS{
			Principals: map[string]auth.TLSPrincipal{
				"device":  {Role: "device", Fingerprints: []string{pinned.fingerprint()}},
				"backend": {Role: "backend"},
			},
			ClientCAs: clientCA.Pool(),
		},
	}}}, func(c *tls.Config) { c.ClientAuth = tls.RequestClientCert })
	withCert := func(c issued, more ...string) []string {
		return append([]string{"--ca", tr.ca.file, "--cert", c.certFile, "--key", c.keyFile, "--authmethod", "tls"}, more...)
	}
	for _, tt := range pyTransports {
		u := tr.url(tt.transport)
		t.Run(tt.transport, func(t *testing.T) {
			t.Parallel()
			for _, c := range []struct {
				name             string
				args             []string
				wantID, wantRole string
			}{
				{"pinned", withCert(pinned), "device", "device"},
				{"named by the CA", withCert(named), "backend", "backend"},
				{"named by the CA with authid", withCert(named, "--authid", "backend"), "backend", "backend"},
			} {
				t.Run(c.name, func(t *testing.T) {
					m, ok := pyJoin(t, u, tlsRealm, tt.serializer, c.args...)
					wantJoined(t, m, ok, c.wantID, c.wantRole, "tls")
				})
			}
			t.Run("no certificate", func(t *testing.T) {
				m, ok := pyJoin(t, u, tlsRealm, tt.serializer, "--ca", tr.ca.file, "--authmethod", "tls")
				wantRefused(t, m, ok, protocol.ErrAuthenticationRequired, "client certificate")
			})
			for _, c := range []struct {
				name string
				args []string
			}{{"unknown", withCert(unknown)}, {"another principal's", withCert(pinned, "--authid", "backend")}} {
				t.Run(c.name, func(t *testing.T) {
					m, ok := pyJoin(t, u, tlsRealm, tt.serializer, c.args...)
					wantRefused(t, m, ok, protocol.ErrAuthenticationDenied, "certificate not accepted")
				})
			}
		})
	}
}

// TestJSCryptosignWSS: Autobahn|JS 26.3.1 and wampy.js 8.0.2 join with
// cryptosign over wss, without channel binding, which neither
// implements: Autobahn|JS's sign_challenge signs the bare challenge
// (lib/auth/cryptosign.js lines 48-53) and its create_connection sends
// channel_binding null ("FIXME: at least on NodeJS, it should be
// possible to implement this", lines 113-116); wampy's cryptosign
// plugin signs the bare challenge too (dist/esm/auth/cryptosign/
// wampy-cryptosign.js, sign), and its README says "channel_binding is
// not supported yet". Neither gives the application the TLS socket's
// channel ID, so a signature cannot be bound through their API either.
func TestJSCryptosignWSS(t *testing.T) {
	t.Parallel()
	tr := startTLSRouter(t, []router.RealmConfig{cryptosignRealmConfig(t)}, nil)
	for _, name := range []string{"autobahn_js", "wampy"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m, ok := libJoin(t, libNamed(t, name), tr.wssURL, cryptosignRealm, "json",
				"--ca", tr.ca.file, "--authmethod", "cryptosign", "--authid", authID, "--secret", authSeed)
			wantJoined(t, m, ok, authID, authRole, "cryptosign")
		})
	}
}
