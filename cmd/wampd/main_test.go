package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/wampkit/wampkit/internal/testcert"
	"github.com/wampkit/wampkit/serialize"
)

// TestMain_WebSocket is the end-to-end test: wampd on port 0, a raw
// WebSocket client joins realm1, and cancelling Run's context (what SIGTERM
// does in main) makes wampd say GOODBYE wamp.close.system_shutdown.
func TestMain_WebSocket(t *testing.T) {
	defer goleak.VerifyNone(t)
	m, cancel, logs := mustRunMain(t, "-ws", "127.0.0.1:0", "-rawsocket", "127.0.0.1:0")

	conn := dialWS(t, m.WebSocketURL(), nil)
	defer conn.Close()
	writeWS(t, conn, `[1,"realm1",{"roles":{"caller":{},"subscriber":{}}}]`)
	welcome := readWS(t, conn)
	if len(welcome) != 3 || welcome[0] != float64(2) {
		t.Fatalf("reply to HELLO = %v, want WELCOME [2, session, details]", welcome)
	}

	cancel() // what SIGINT/SIGTERM do in main
	goodbye := readWS(t, conn)
	if len(goodbye) != 3 || goodbye[0] != float64(6) || goodbye[2] != "wamp.close.system_shutdown" {
		t.Fatalf("after shutdown began got %v, want [6, {...}, \"wamp.close.system_shutdown\"]", goodbye)
	}
	writeWS(t, conn, `[6,{},"wamp.close.goodbye_and_out"]`)
	if err := m.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	conn.Close()
	for _, want := range []string{"listening", "shutting down", "stopped"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

// TestMain_RawSocket joins realm1 over RawSocket on TCP and on a Unix socket.
func TestMain_RawSocket(t *testing.T) {
	defer goleak.VerifyNone(t)
	sock := filepath.Join(shortTempDir(t), "wampd.sock")
	m, _, _ := mustRunMain(t, "-ws", "", "-rawsocket", "127.0.0.1:0", "-unix", sock)
	if m.WebSocketAddr() != nil {
		t.Errorf("WebSocketAddr() = %v with -ws \"\", want nil", m.WebSocketAddr())
	}
	for _, addr := range []net.Addr{m.RawSocketAddr(), m.UnixAddr()} {
		c, err := net.Dial(addr.Network(), addr.String())
		if err != nil {
			t.Fatal(err)
		}
		rawSocketHandshake(t, c)
		writeRS(t, c, `[1,"realm1",{"roles":{"publisher":{}}}]`)
		if msg := readRS(t, c); len(msg) != 3 || msg[0] != float64(2) {
			t.Errorf("%s: reply to HELLO = %v, want WELCOME", addr.Network(), msg)
		}
		c.Close()
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file %s still there after Close (stat: %v)", sock, err)
	}
}

// TestMain_ConfigFile runs wampd from a YAML file: its realms replace the
// default realm1, and a flag overrides the file.
func TestMain_ConfigFile(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "wampd.yaml")
	writeFile(t, path, `
log:
  level: debug
  format: json
realms:
  - name: com.example.one
  - name: com.example.two
websocket:
  address: 127.0.0.1:0
  path: /wamp
rawsocket:
  address: 127.0.0.1:0   # disabled by the flag below
shutdown_timeout: 3s
`)
	m, _, logs := mustRunMain(t, "-config", path, "-rawsocket", "")
	if got, want := m.Config.realmNames(), []string{"com.example.one", "com.example.two"}; !cmp.Equal(got, want) {
		t.Errorf("realms = %v, want %v", got, want)
	}
	if m.RawSocketAddr() != nil {
		t.Errorf("RawSocketAddr() = %v, want nil (disabled by flag)", m.RawSocketAddr())
	}
	if !strings.HasSuffix(m.WebSocketURL(), "/wamp") {
		t.Errorf("WebSocketURL() = %q, want path /wamp", m.WebSocketURL())
	}

	conn := dialWS(t, m.WebSocketURL(), nil)
	writeWS(t, conn, `[1,"com.example.two",{"roles":{"callee":{}}}]`)
	if msg := readWS(t, conn); len(msg) != 3 || msg[0] != float64(2) {
		t.Errorf("HELLO com.example.two: got %v, want WELCOME", msg)
	}
	conn.Close()

	conn = dialWS(t, m.WebSocketURL(), nil)
	writeWS(t, conn, `[1,"realm1",{"roles":{"callee":{}}}]`)
	if msg := readWS(t, conn); len(msg) < 3 || msg[0] != float64(3) || msg[2] != "wamp.error.no_such_realm" {
		t.Errorf("HELLO realm1: got %v, want ABORT wamp.error.no_such_realm", msg)
	}
	conn.Close()

	if err := m.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	first, _, _ := strings.Cut(logs.String(), "\n")
	if !json.Valid([]byte(first)) {
		t.Errorf("log format json: first line is not JSON: %s", first)
	}
}

// TestMain_TLS serves wss:// and RawSocket over TLS with -tls-cert/-tls-key.
func TestMain_TLS(t *testing.T) {
	defer goleak.VerifyNone(t)
	certFile, keyFile, pool := writeServerCert(t)
	m, _, _ := mustRunMain(t, "-ws", "127.0.0.1:0", "-rawsocket", "127.0.0.1:0",
		"-tls-cert", certFile, "-tls-key", keyFile)
	clientTLS := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}

	if !strings.HasPrefix(m.WebSocketURL(), "wss://") {
		t.Fatalf("WebSocketURL() = %q, want wss://", m.WebSocketURL())
	}
	conn := dialWS(t, m.WebSocketURL(), clientTLS)
	writeWS(t, conn, `[1,"realm1",{"roles":{"caller":{}}}]`)
	if msg := readWS(t, conn); len(msg) != 3 || msg[0] != float64(2) {
		t.Errorf("wss: reply to HELLO = %v, want WELCOME", msg)
	}
	conn.Close()

	c, err := tls.Dial("tcp", m.RawSocketAddr().String(), clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	rawSocketHandshake(t, c)
	writeRS(t, c, `[1,"realm1",{"roles":{"caller":{}}}]`)
	if msg := readRS(t, c); len(msg) != 3 || msg[0] != float64(2) {
		t.Errorf("rawsocket+tls: reply to HELLO = %v, want WELCOME", msg)
	}
	c.Close()
	if err := m.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
}

func TestMain_RunFails(t *testing.T) {
	defer goleak.VerifyNone(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	m := NewMain()
	m.Stderr = io.Discard
	if err := m.ParseFlags(context.Background(), []string{"-ws", l.Addr().String(), "-rawsocket", ""}); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err == nil {
		t.Errorf("Run() with the WebSocket address in use = nil, want an error")
	}
	if err := m.Close(); err != nil {
		t.Errorf("Close() after failed Run = %v, want nil", err)
	}
}

func TestParseFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "wampd.yaml")
	writeFile(t, file, "realms:\n  - name: from.file\nwebsocket:\n  path: /file\nlog:\n  level: warn\n")
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, "websocket:\n  adress: 127.0.0.1:1\n")
	empty := filepath.Join(dir, "empty.yaml")
	writeFile(t, empty, "")
	nobody := filepath.Join(dir, "nobody.yaml")
	writeFile(t, nobody, "realms:\n  - name: a.b\n    anonymous: false\n")
	origins := filepath.Join(dir, "origins.yaml")
	writeFile(t, origins, "websocket:\n  allowed_origins: [https://app.example.com]\n")
	badOrigin := filepath.Join(dir, "badorigin.yaml")
	writeFile(t, badOrigin, "websocket:\n  allowed_origins: [example.com]\n")
	nosecret := filepath.Join(dir, "nosecret.yaml")
	writeFile(t, nosecret, "realms:\n  - name: a.b\n    wampcra:\n      bob: {role: x}\n")

	def := DefaultConfig()
	with := func(f func(c *Config)) Config {
		c := DefaultConfig()
		f(&c)
		return c
	}
	tests := []struct {
		name    string
		args    []string
		want    Config
		wantErr string // substring; "" means no error
	}{
		{name: "no arguments", args: nil, want: def},
		{name: "listeners", args: []string{"-ws", ":9000", "-ws-path", "/wamp", "-rawsocket", "", "-unix", "/run/wampd.sock"},
			want: with(func(c *Config) {
				c.WebSocket.Address, c.WebSocket.Path = ":9000", "/wamp"
				c.RawSocket.Address, c.RawSocket.Unix = "", "/run/wampd.sock"
			})},
		{name: "realms repeat", args: []string{"-realm", "a.b", "-realm", "c.d", "-realm", "a.b"},
			want: with(func(c *Config) { c.Realms = []RealmConfig{{Name: "a.b"}, {Name: "c.d"}} })},
		{name: "logging", args: []string{"-log-level", "debug", "-log-format", "json"},
			want: with(func(c *Config) { c.Log = LogConfig{Level: "debug", Format: "json"} })},
		{name: "tls", args: []string{"-tls-cert", "c.pem", "-tls-key", "k.pem"},
			want: with(func(c *Config) {
				c.WebSocket.TLS = TLSConfig{Cert: "c.pem", Key: "k.pem"}
				c.RawSocket.TLS = TLSConfig{Cert: "c.pem", Key: "k.pem"}
			})},
		{name: "shutdown timeout", args: []string{"-shutdown-timeout", "1m"},
			want: with(func(c *Config) { c.ShutdownTimeout = time.Minute })},
		{name: "limits", args: []string{"-max-sessions", "-1", "-max-message-size", "65536"},
			want: with(func(c *Config) { c.MaxSessions, c.MaxMessageSize = -1, 65536 })},
		{name: "negative message size", args: []string{"-max-message-size", "-1"}, wantErr: "max_message_size must not be negative"},
		{name: "allowed origins", args: []string{"-allowed-origins", "https://app.example.com, http://127.0.0.1:3000"},
			want: with(func(c *Config) {
				c.WebSocket.AllowedOrigins = []string{"https://app.example.com", "http://127.0.0.1:3000"}
			})},
		{name: "any origin", args: []string{"-allowed-origins", "*"},
			want: with(func(c *Config) { c.WebSocket.AllowedOrigins = []string{"*"} })},
		{name: "no allowed origins", args: []string{"-config", origins, "-allowed-origins", ""}, want: def},
		{name: "origin with a path", args: []string{"-allowed-origins", "https://app.example.com/"}, wantErr: `allowed_origins "https://app.example.com/"`},
		{name: "origin without scheme", args: []string{"-allowed-origins", "app.example.com"}, wantErr: "scheme://host"},
		{name: "origin with a wildcard", args: []string{"-allowed-origins", "https://*.example.com"}, wantErr: `"*" alone`},
		{name: "origin in file", args: []string{"-config", badOrigin}, wantErr: `allowed_origins "example.com"`},
		{name: "connection limits", args: []string{"-max-connections", "500", "-max-connections-per-address", "-1"},
			want: with(func(c *Config) { c.MaxConnections, c.MaxConnectionsPerAddress = 500, -1 })},
		{name: "file", args: []string{"-config", file},
			want: with(func(c *Config) {
				c.Realms = []RealmConfig{{Name: "from.file"}}
				c.WebSocket.Path = "/file"
				c.Log.Level = "warn"
			})},
		{name: "flags override file", args: []string{"-ws-path", "/flag", "-config", file, "-log-level", "error", "-realm", "from.flag"},
			want: with(func(c *Config) {
				c.Realms = []RealmConfig{{Name: "from.file"}, {Name: "from.flag"}}
				c.WebSocket.Path = "/flag"
				c.Log.Level = "error"
			})},
		{name: "empty file", args: []string{"-config", empty}, want: def},
		{name: "unknown key in file", args: []string{"-config", bad}, wantErr: "adress"},
		{name: "missing file", args: []string{"-config", filepath.Join(dir, "nope.yaml")}, wantErr: "no such file"},
		{name: "unknown flag", args: []string{"-nope"}, wantErr: "not defined"},
		{name: "stray argument", args: []string{"serve"}, wantErr: "unexpected argument"},
		{name: "bad level", args: []string{"-log-level", "loud"}, wantErr: "log level"},
		{name: "bad format", args: []string{"-log-format", "xml"}, wantErr: "log format"},
		{name: "bad realm", args: []string{"-realm", "a..b"}, wantErr: "not a valid URI"},
		{name: "no listener", args: []string{"-ws", "", "-rawsocket", ""}, wantErr: "no listener"},
		{name: "bad path", args: []string{"-ws-path", "ws"}, wantErr: "must start with /"},
		{name: "cert without key", args: []string{"-tls-cert", "c.pem"}, wantErr: "need both cert and key"},
		{name: "realm admits nobody", args: []string{"-config", nobody}, wantErr: "admits nobody"},
		{name: "principal without secret", args: []string{"-config", nosecret}, wantErr: "has no secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMain()
			m.Stderr = io.Discard
			err := m.ParseFlags(context.Background(), tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseFlags(%q) = %v, want error containing %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseFlags(%q) = %v", tt.args, err)
			}
			if diff := cmp.Diff(tt.want, m.Config); diff != "" {
				t.Errorf("ParseFlags(%q) config mismatch (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}

func TestParseFlags_Version(t *testing.T) {
	var out bytes.Buffer
	m := NewMain()
	m.Version, m.Stdout = "v9.9.9-test", &out
	if err := m.ParseFlags(context.Background(), []string{"-version"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("ParseFlags(-version) = %v, want flag.ErrHelp", err)
	}
	if got, want := out.String(), "wampd v9.9.9-test\n"; got != want {
		t.Errorf("-version printed %q, want %q", got, want)
	}
}

// TestExampleConfig keeps wampd.example.yaml loadable and valid.
func TestExampleConfig(t *testing.T) {
	cfg, err := LoadConfigFile(filepath.Join("..", "..", "wampd.example.yaml"), DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("wampd.example.yaml: %v", err)
	}
	// The example shows the defaults, so loading it changes nothing.
	want := DefaultConfig()
	want.Realms = []RealmConfig{{Name: DefaultRealm, SlowConsumer: "disconnect"}}
	if diff := cmp.Diff(want, cfg, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("wampd.example.yaml differs from the defaults (-want +got):\n%s", diff)
	}
}

// mustRunMain parses args, runs wampd and returns it with the cancel
// function of Run's context and its log. Close runs at cleanup.
func mustRunMain(tb testing.TB, args ...string) (*Main, context.CancelFunc, *lockedBuffer) {
	tb.Helper()
	logs := &lockedBuffer{}
	m := NewMain()
	m.Stderr = logs
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	if err := m.ParseFlags(ctx, args); err != nil {
		tb.Fatalf("ParseFlags(%q) = %v", args, err)
	}
	if err := m.Run(ctx); err != nil {
		m.Close()
		tb.Fatalf("Run() = %v", err)
	}
	tb.Cleanup(func() { m.Close() })
	return m, cancel, logs
}

func dialWS(tb testing.TB, url string, tlsCfg *tls.Config) *websocket.Conn {
	tb.Helper()
	d := websocket.Dialer{Subprotocols: []string{"wamp.2.json"}, TLSClientConfig: tlsCfg}
	conn, resp, err := d.Dial(url, nil)
	if err != nil {
		tb.Fatalf("dial %s: %v", url, err)
	}
	resp.Body.Close()
	if got := conn.Subprotocol(); got != "wamp.2.json" {
		tb.Fatalf("negotiated sub-protocol %q, want wamp.2.json", got)
	}
	return conn
}

func writeWS(tb testing.TB, c *websocket.Conn, msg string) {
	tb.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		tb.Fatalf("write %s: %v", msg, err)
	}
}

func readWS(tb testing.TB, c *websocket.Conn) []any {
	tb.Helper()
	_, data, err := c.ReadMessage()
	if err != nil {
		tb.Fatalf("read: %v", err)
	}
	return decodeJSON(tb, data)
}

// rawSocketHandshake asks for JSON with the largest message size (WAMP
// spec, basic "RawSocket Transport") and checks the router's answer.
func rawSocketHandshake(tb testing.TB, c net.Conn) {
	tb.Helper()
	if _, err := c.Write([]byte{0x7f, 0xf1, 0, 0}); err != nil {
		tb.Fatal(err)
	}
	var reply [4]byte
	if _, err := io.ReadFull(c, reply[:]); err != nil {
		tb.Fatalf("rawsocket handshake: %v", err)
	}
	if reply[0] != 0x7f || reply[1]&0x0f != 1 {
		tb.Fatalf("rawsocket handshake reply % x, want 7f x1 00 00", reply)
	}
}

func writeRS(tb testing.TB, c net.Conn, msg string) {
	tb.Helper()
	frame := make([]byte, 4, 4+len(msg))
	binary.BigEndian.PutUint32(frame, uint32(len(msg))) // type 0: regular message
	if _, err := c.Write(append(frame, msg...)); err != nil {
		tb.Fatal(err)
	}
}

func readRS(tb testing.TB, c net.Conn) []any {
	tb.Helper()
	for {
		var hdr [4]byte
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			tb.Fatalf("rawsocket read: %v", err)
		}
		body := make([]byte, binary.BigEndian.Uint32(hdr[:])&0xffffff)
		if _, err := io.ReadFull(c, body); err != nil {
			tb.Fatalf("rawsocket read: %v", err)
		}
		switch hdr[0] & 0x07 {
		case 0:
			return decodeJSON(tb, body)
		case 1: // PING: answer with PONG, same payload
			hdr[0] = 2
			c.Write(append(hdr[:], body...))
		}
	}
}

func decodeJSON(tb testing.TB, data []byte) []any {
	tb.Helper()
	var msg []any
	if err := json.Unmarshal(data, &msg); err != nil {
		tb.Fatalf("decode %q: %v", data, err)
	}
	return msg
}

func writeFile(tb testing.TB, path, content string) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// shortTempDir returns a temporary directory with a path short enough for
// a Unix socket (108 bytes on Linux), which t.TempDir may exceed.
func shortTempDir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.MkdirTemp("", "wampd")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// writeServerCert writes a server certificate for 127.0.0.1 and its
// key to PEM files and returns their paths and a pool that trusts the
// certificate's CA.
func writeServerCert(tb testing.TB) (certFile, keyFile string, pool *x509.CertPool) {
	tb.Helper()
	ca := testcert.NewCA(tb, "wampd test CA")
	certFile, keyFile = testcert.WritePEM(tb, tb.TempDir(), ca.Issue(tb, "wampd test", x509.ExtKeyUsageServerAuth))
	return certFile, keyFile, ca.Pool()
}

// lockedBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestMain_Serializers restricts the WebSocket serializers in the file: a
// client offering only JSON is then refused.
func TestMain_Serializers(t *testing.T) {
	defer goleak.VerifyNone(t)
	path := filepath.Join(t.TempDir(), "wampd.yaml")
	writeFile(t, path, "websocket:\n  address: 127.0.0.1:0\n  serializers: [msgpack, cbor]\nrawsocket:\n  address: \"\"\n")
	m, _, _ := mustRunMain(t, "-config", path)
	d := websocket.Dialer{Subprotocols: []string{"wamp.2.json"}}
	conn, resp, err := d.Dial(m.WebSocketURL(), nil)
	if err == nil {
		conn.Close()
		t.Fatalf("dial with wamp.2.json succeeded, want a refusal")
	}
	if resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("dial with wamp.2.json: response %v, want 400 Bad Request", resp)
	}
	if resp != nil {
		resp.Body.Close()
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
}

// TestMain_AllowedOrigins: -allowed-origins lets a browser page of a
// listed origin connect, and not one of another origin.
func TestMain_AllowedOrigins(t *testing.T) {
	defer goleak.VerifyNone(t)
	m, _, _ := mustRunMain(t, "-ws", "127.0.0.1:0", "-rawsocket", "", "-allowed-origins", "https://app.example.com")
	for _, tt := range []struct {
		origin string
		want   int
	}{{"https://app.example.com", http.StatusSwitchingProtocols}, {"https://evil.example.com", http.StatusForbidden}} {
		d := websocket.Dialer{Subprotocols: []string{"wamp.2.json"}}
		conn, resp, err := d.Dial(m.WebSocketURL(), http.Header{"Origin": {tt.origin}})
		if conn != nil {
			conn.Close()
		}
		if resp == nil {
			t.Errorf("Origin %s: %v, want HTTP %d", tt.origin, err, tt.want)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("Origin %s: HTTP %d, want %d", tt.origin, resp.StatusCode, tt.want)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestCheckOrigin(t *testing.T) {
	tests := []struct {
		allowed []string
		origin  string
		want    bool
	}{
		{allowed: []string{"https://app.example.com"}, origin: "", want: true},
		{allowed: []string{"https://app.example.com"}, origin: "https://app.example.com", want: true},
		{allowed: []string{"https://app.example.com"}, origin: "HTTPS://APP.EXAMPLE.COM", want: true},
		{allowed: []string{"https://app.example.com"}, origin: "https://evil.example.com", want: false},
		{allowed: []string{"https://a.example", "*"}, origin: "https://evil.example.com", want: true},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "/ws", nil)
		if tt.origin != "" {
			r.Header.Set("Origin", tt.origin)
		}
		if got := checkOrigin(tt.allowed)(r); got != tt.want {
			t.Errorf("checkOrigin(%q)(Origin %q) = %v, want %v", tt.allowed, tt.origin, got, tt.want)
		}
	}
	if checkOrigin(nil) != nil {
		t.Errorf("checkOrigin(nil) is not nil; want nil for the transport's same-origin default")
	}
	// With allowed_origins set, a page of the request's own host passes
	// only on the console's endpoint of the admin listener: on the
	// WebSocket listener it would let a DNS-rebinding page in.
	allowed := []string{"https://app.example.com"}
	r := httptest.NewRequest(http.MethodGet, "/ws", nil)
	r.Header.Set("Origin", "http://"+r.Host)
	if checkOrigin(allowed)(r) {
		t.Errorf("checkOrigin(%q) let a same-host page (%s) through on the WebSocket listener", allowed, r.Host)
	}
	if !checkOrigin(allowed)(forConsole(r)) {
		t.Errorf("checkOrigin(%q) refused the console's own page (%s)", allowed, r.Host)
	}
}

func TestParseSerializers(t *testing.T) {
	tests := []struct {
		names   []string
		want    []serialize.Serializer
		wantErr bool
	}{
		{names: nil, want: nil},
		{names: []string{"json", "msgpack", "cbor"}, want: []serialize.Serializer{serialize.JSON, serialize.MessagePack, serialize.CBOR}},
		{names: []string{"xml"}, wantErr: true},
		{names: []string{"json.batched"}, wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseSerializers(tt.names)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseSerializers(%q) error = %v, want error %v", tt.names, err, tt.wantErr)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("parseSerializers(%q) mismatch (-want +got):\n%s", tt.names, diff)
		}
	}
}

// TestMain_TicketAuth configures a realm with ticket authentication only.
func TestMain_TicketAuth(t *testing.T) {
	defer goleak.VerifyNone(t)
	path := filepath.Join(t.TempDir(), "wampd.yaml")
	writeFile(t, path, `
realms:
  - name: com.example.secure
    ticket:
      alice: {secret: s3cret, role: admin}
websocket:
  address: 127.0.0.1:0
rawsocket:
  address: ""
`)
	m, _, _ := mustRunMain(t, "-config", path)

	conn := dialWS(t, m.WebSocketURL(), nil)
	writeWS(t, conn, `[1,"com.example.secure",{"roles":{"caller":{}},"authmethods":["ticket"],"authid":"alice"}]`)
	if msg := readWS(t, conn); len(msg) != 3 || msg[0] != float64(4) || msg[1] != "ticket" {
		t.Fatalf("reply to HELLO = %v, want CHALLENGE ticket", msg)
	}
	writeWS(t, conn, `[5,"s3cret",{}]`)
	welcome := readWS(t, conn)
	if len(welcome) != 3 || welcome[0] != float64(2) {
		t.Fatalf("reply to AUTHENTICATE = %v, want WELCOME", welcome)
	}
	if details, _ := welcome[2].(map[string]any); details["authrole"] != "admin" || details["authid"] != "alice" {
		t.Errorf("WELCOME details = %v, want authid alice, authrole admin", welcome[2])
	}
	conn.Close()

	conn = dialWS(t, m.WebSocketURL(), nil)
	writeWS(t, conn, `[1,"com.example.secure",{"roles":{"caller":{}}}]`)
	if msg := readWS(t, conn); len(msg) < 3 || msg[0] != float64(3) {
		t.Errorf("anonymous HELLO = %v, want ABORT", msg)
	}
	conn.Close()
	if err := m.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
}
