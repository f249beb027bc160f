package main

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/serialize"
)

// Config is everything wampd can be told, in the shape of its YAML file
// (see wampd.example.yaml at the root of the repository). The zero value is
// not useful; start from [DefaultConfig].
type Config struct {
	// Log selects the level and format of the log on standard error.
	Log LogConfig `yaml:"log"`
	// Realms lists the realms the router serves. Clients can join only
	// these. Empty means one open realm, "realm1".
	Realms []RealmConfig `yaml:"realms"`
	// WebSocket is the WebSocket listener (ws:// or, with TLS, wss://).
	WebSocket WebSocketConfig `yaml:"websocket"`
	// RawSocket is the RawSocket listener on TCP and on a Unix socket.
	RawSocket RawSocketConfig `yaml:"rawsocket"`
	// Admin is the admin listener: Prometheus metrics, health and the Go
	// profiler, for operators. Off unless its address is set.
	Admin AdminConfig `yaml:"admin"`
	// Bridge is the HTTP bridge: publish and call with a POST. Off
	// unless its address is set.
	Bridge BridgeConfig `yaml:"bridge"`
	// HandshakeTimeout bounds the time from a new connection to its
	// session's WELCOME. Zero means the router's default (10s).
	HandshakeTimeout time.Duration `yaml:"handshake_timeout"`
	// AuthTimeout bounds authentication, from HELLO to WELCOME, within
	// HandshakeTimeout. Zero means the router's default (10s); negative
	// means no limit but HandshakeTimeout.
	AuthTimeout time.Duration `yaml:"auth_timeout"`
	// AuthThrottle limits failed authentications per authid and per
	// client address, and their logging.
	AuthThrottle AuthThrottleConfig `yaml:"auth_throttle"`
	// GoodbyeTimeout bounds the wait for each session's answer to the
	// GOODBYE of a shutdown. Zero means ShutdownTimeout; negative means no
	// limit but ShutdownTimeout.
	GoodbyeTimeout time.Duration `yaml:"goodbye_timeout"`
	// StrictRequestIDs makes the router abort sessions whose request IDs
	// do not count up by one (spec basic "IDs"). Off by default, because
	// some clients send random request IDs.
	StrictRequestIDs bool `yaml:"strict_request_ids"`
	// MaxMessageSize is the largest message accepted, in bytes, on every
	// listener whose own max_message_size is zero. Zero means the
	// transports' default for servers (1 MiB).
	MaxMessageSize int64 `yaml:"max_message_size"`
	// MaxSessions is the most sessions served at once, over all realms. A
	// HELLO beyond it is answered with ABORT wampkit.error.limit_exceeded.
	// Zero means the router's default (100,000); negative means no limit.
	MaxSessions int `yaml:"max_sessions"`
	// MaxConnections is the most connections open at once over all
	// listeners (WebSocket, RawSocket on TCP and on the Unix socket,
	// idle HTTP connections and handshakes included). A connection beyond
	// it is closed at once, before its HTTP request, TLS or RawSocket
	// handshake is read, and counted in the log. Zero means a tenth less
	// than the process's limit of open files (RLIMIT_NOFILE), so that
	// wampd never runs out of descriptors; negative means no limit.
	MaxConnections int `yaml:"max_connections"`
	// MaxConnectionsPerAddress is the most connections open at once from
	// one client address (an IPv4 address or an IPv6 /64), whatever the
	// port, so that one host cannot take every connection. Browsers
	// behind one NAT share an address, hence a generous default. Zero
	// means DefaultMaxConnectionsPerAddress (1000), or half of
	// MaxConnections if that is less; negative means no limit.
	MaxConnectionsPerAddress int `yaml:"max_connections_per_address"`
	// MaxPendingCalls is the most calls one session may have waiting for
	// their result. Zero means the router's default (1000); negative
	// means no limit.
	MaxPendingCalls int `yaml:"max_pending_calls"`
	// MaxSubscriptions is the most subscriptions one session may hold.
	// Zero means the router's default (10,000); negative means no limit.
	MaxSubscriptions int `yaml:"max_subscriptions"`
	// MaxRegistrations is the most registrations one session may hold.
	// Zero means the router's default (10,000); negative means no limit.
	MaxRegistrations int `yaml:"max_registrations"`
	// MaxTestaments is the most session testaments one session may hold.
	// Zero means the router's default (64); negative means no limit.
	MaxTestaments int `yaml:"max_testaments"`
	// MaxBacklog is the most messages held for a session whose outbound
	// queue is full, before the realm's slow_consumer policy applies. Zero
	// means the router's default (1024); negative means no backlog.
	MaxBacklog int `yaml:"max_backlog"`
	// MaxBacklogBytes bounds the backlog in bytes too (the estimated size
	// of its messages). Zero means the router's default (8 MiB); negative
	// means no limit in bytes.
	MaxBacklogBytes int64 `yaml:"max_backlog_bytes,omitempty"`
	// SlowConsumerWait bounds how long a session's backlog may wait for
	// room in its outbound queue before the session is disconnected as a
	// slow consumer. Zero means the router's default (1s); negative
	// means no wait.
	SlowConsumerWait time.Duration `yaml:"slow_consumer_wait"`
	// StrictURIs makes the router check URIs with the spec's strict rules
	// (components of [0-9a-z_] only) instead of the loose rules.
	StrictURIs bool `yaml:"strict_uris"`
	// Cluster joins wampd to other wampd nodes through NATS, to serve
	// the same realms as one router. Its URL empty (the default) means a
	// single router.
	Cluster ClusterConfig `yaml:"cluster,omitempty"`
	// ShutdownTimeout bounds the graceful shutdown on SIGINT or SIGTERM:
	// sessions are told GOODBYE (wamp.close.system_shutdown) and have this
	// long to answer before their connections are closed. Zero means
	// DefaultShutdownTimeout.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// LogConfig configures wampd's structured log.
type LogConfig struct {
	// Level is debug, info, warn or error. Empty means info.
	Level string `yaml:"level"`
	// Format is text (logfmt-like key=value) or json. Empty means text.
	Format string `yaml:"format"`
}

// RealmConfig configures one realm.
type RealmConfig struct {
	// Name is the realm's URI, as clients give it in HELLO.
	Name string `yaml:"name"`
	// Anonymous admits clients without credentials. Nil means true when
	// no principal is listed (in Ticket, WAMPCRA, Cryptosign, SCRAM or TLS), false
	// otherwise.
	Anonymous *bool `yaml:"anonymous,omitempty"`
	// Ticket maps authid to principal for ticket authentication (spec
	// advanced/authentication_ticket.md); the secret is the ticket. Use it
	// over TLS only.
	Ticket map[string]PrincipalConfig `yaml:"ticket,omitempty"`
	// WAMPCRA maps authid to principal for WAMP-CRA authentication (spec
	// advanced/authentication_cra.md), plain or salted.
	WAMPCRA map[string]CRAPrincipalConfig `yaml:"wampcra,omitempty"`
	// Cryptosign maps authid to principal for WAMP-Cryptosign
	// authentication (spec advanced/authentication_cryptosign.md) with
	// Ed25519 keys.
	Cryptosign map[string]CryptosignPrincipalConfig `yaml:"cryptosign,omitempty"`
	// TLS maps authid to principal for TLS client certificate
	// authentication, authmethod "tls" (as Crossbar.io names it): the
	// client's certificate, asked for by a listener's tls.client_auth,
	// is the credential. A principal lists SHA-256 fingerprints, or none
	// to be known by name (the subject CN or a SAN of a certificate
	// verified against TLSClientCA or the listener's client_ca).
	TLS map[string]TLSPrincipalConfig `yaml:"tls,omitempty"`
	// TLSClientCA is the path of a PEM file of the CA certificates that
	// vouch for the names of the realm's tls principals known by name
	// (those without a fingerprint): wampd verifies a client's
	// certificate against them itself, so that a listener that only asks
	// for certificates (tls.client_auth request or require, no
	// client_ca) serves both principals pinned by fingerprint,
	// self-signed ones included, and principals named by this CA. A
	// certificate that the listener verified against its own client_ca
	// counts as verified too. The file is read at start and on every
	// SIGHUP: a reload applies a changed file to new logins. It needs tls
	// principals. Empty means only the listener's verification counts.
	TLSClientCA CAFile `yaml:"tls_client_ca,omitempty"`
	// CryptosignRouterKey is the router's Ed25519 private key for
	// WAMP-Cryptosign router authentication (spec "Router
	// Authentication"): a client that sends authextra.challenge gets it
	// signed with this key, and the key's public half, in the CHALLENGE.
	// Its text is 64 hex digits (the 32-byte seed, as Autobahn and
	// Crossbar.io write private keys), 128 hex digits (the seed and then
	// the public key, as libsodium and Go's ed25519.PrivateKey hold it),
	// or a PEM "PRIVATE KEY" block (PKCS #8, as `openssl genpkey
	// -algorithm ed25519` writes it); surrounding white space is ignored.
	// It is a Secret: give it as {file: path} or {env: NAME} to keep it
	// out of this file; it is never logged. It needs Cryptosign
	// principals. Empty means the router does not authenticate itself.
	CryptosignRouterKey Secret `yaml:"cryptosign_router_key,omitempty"`
	// SCRAM maps authid to principal for WAMP-SCRAM authentication (spec
	// advanced/authentication_scram.md), authmethod "wamp-scram".
	SCRAM map[string]SCRAMPrincipalConfig `yaml:"scram,omitempty"`
	// MaxSessions is the most sessions joined to the realm at once; a
	// HELLO beyond it is answered with ABORT wampkit.error.limit_exceeded.
	// Zero or negative means no limit of the realm's own (the router-wide
	// max_sessions still applies).
	MaxSessions int `yaml:"max_sessions,omitempty"`
	// SlowConsumer is what the router does with a session of the realm
	// that reads too slowly: "disconnect" it, or "drop-events" (drop the
	// events for it and count them in wamp.session.get's
	// _dropped_events). Empty means "disconnect".
	SlowConsumer string `yaml:"slow_consumer,omitempty"`
	// MaxRetained is the most topics of the realm that keep a retained
	// event (PUBLISH.Options.retain, spec advanced "Event Retention");
	// beyond it retention on new topics is declined. Zero means the
	// router's default (100,000); negative means no limit.
	MaxRetained int `yaml:"max_retained,omitempty"`
	// MaxRetainedBytes bounds the realm's retained events in bytes (their
	// estimated size in memory); a retained event beyond it is published
	// but not retained. Zero means the router's default (64 MiB);
	// negative means no limit.
	MaxRetainedBytes int64 `yaml:"max_retained_bytes,omitempty"`
	// MaxHistoryBytes bounds the events kept for event_history in bytes,
	// shared equally by the history topics. Zero means the router's
	// default (64 MiB); negative means no limit.
	MaxHistoryBytes int64 `yaml:"max_history_bytes,omitempty"`
	// TrustLevels maps an authrole to the trust level of its sessions'
	// publications and calls (EVENT and INVOCATION Details.trustlevel,
	// spec advanced "Publication Trust Levels", "Call Trust Levels").
	// Empty means none. Each role must be one a session of the realm can
	// have (anonymous, or a principal's).
	TrustLevels map[string]int `yaml:"trust_levels,omitempty"`
	// EventHistory lists the topics whose recent events the realm keeps
	// for wamp.subscription.get_events (spec advanced "Event History").
	// Empty means none.
	EventHistory []HistoryConfig `yaml:"event_history,omitempty"`
	// Permissions maps an authrole to the rules of what its sessions may
	// do (router.RoleAuthorizer): the exact rule for a URI wins, then the
	// longest prefix rule, then the first wildcard rule; no rule denies.
	// Present, even empty, it switches authorization on for the realm,
	// and roles it does not list may do nothing. Nil (absent) means every
	// session may call, register, publish and subscribe anything.
	// Anonymous sessions have the role "anonymous", principals theirs
	// (default "user").
	//
	// Every role a session of the realm can have must be listed (an
	// empty list denies everything on purpose), and every role listed
	// must be one a session can have; otherwise the configuration is
	// refused at start, naming the role (see checkRoles), so that a typo
	// does not silently deny everything.
	Permissions map[string][]PermissionConfig `yaml:"permissions,omitempty"`
}

// PermissionConfig is one authorization rule of a role.
type PermissionConfig struct {
	// URI is the procedure or topic (match exact), a prefix (match prefix;
	// "" covers every URI) or a wildcard pattern (match wildcard).
	URI string `yaml:"uri"`
	// Match is exact, prefix or wildcard. Empty means exact.
	Match string `yaml:"match,omitempty"`
	// Allow lists the actions allowed: call, register, publish,
	// subscribe. Empty denies all four on what URI and Match cover.
	Allow []string `yaml:"allow,omitempty"`
}

// authorizer returns the realm's router.Authorizer, nil when it has no
// permissions, or an error naming the realm and the rule at fault.
func (r RealmConfig) authorizer() (router.Authorizer, error) {
	if r.Permissions == nil {
		return nil, nil
	}
	roles := make(map[string][]router.Permission, len(r.Permissions))
	for role, rules := range r.Permissions {
		perms := make([]router.Permission, 0, len(rules))
		for i, rule := range rules {
			p := router.Permission{URI: protocol.URI(rule.URI), Match: protocol.MatchPolicy(rule.Match)}
			for _, act := range rule.Allow {
				switch act {
				case router.ActionCall.String():
					p.Call = true
				case router.ActionRegister.String():
					p.Register = true
				case router.ActionPublish.String():
					p.Publish = true
				case router.ActionSubscribe.String():
					p.Subscribe = true
				default:
					return nil, fmt.Errorf("wampd: realm %q: permissions of role %q, rule %d: allow %q: want call, register, publish or subscribe",
						r.Name, role, i+1, act)
				}
			}
			perms = append(perms, p)
		}
		roles[role] = perms
	}
	a, err := router.NewRoleAuthorizer(roles)
	if err != nil {
		return nil, fmt.Errorf("wampd: realm %q: permissions: %w", r.Name, err)
	}
	return a, nil
}

// HistoryConfig is one topic (or pattern) of a realm's event history.
type HistoryConfig struct {
	// Topic is the topic, or the pattern for match prefix or wildcard.
	Topic string `yaml:"topic"`
	// Match is exact, prefix or wildcard. Empty means exact.
	Match string `yaml:"match,omitempty"`
	// Limit is the most events kept. Zero means the router's default
	// (100).
	Limit int `yaml:"limit,omitempty"`
	// MaxAge drops events older than it. Zero means no limit of age.
	MaxAge time.Duration `yaml:"max_age,omitempty"`
}

// hasPrincipals reports whether the realm lists any principal.
func (r RealmConfig) hasPrincipals() bool {
	return len(r.Ticket) > 0 || len(r.WAMPCRA) > 0 || len(r.Cryptosign) > 0 || len(r.SCRAM) > 0 || len(r.TLS) > 0
}

// anonymous reports whether the realm admits anonymous clients.
func (r RealmConfig) anonymous() bool {
	if r.Anonymous != nil {
		return *r.Anonymous
	}
	return !r.hasPrincipals()
}

// slowConsumer returns the realm's slow consumer policy, or an error
// naming the realm and the key if it is unknown.
func (r RealmConfig) slowConsumer() (router.SlowConsumerPolicy, error) {
	switch r.SlowConsumer {
	case "", router.SlowConsumerDisconnect.String():
		return router.SlowConsumerDisconnect, nil
	case router.SlowConsumerDropEvents.String():
		return router.SlowConsumerDropEvents, nil
	}
	return 0, fmt.Errorf("wampd: realm %q: slow_consumer %q: want disconnect or drop-events", r.Name, r.SlowConsumer)
}

// TLSConfig names a certificate and its private key, both PEM files, and
// whether the listener asks clients for certificates (for the "tls"
// authmethod, realms[].tls). Both Cert and Key empty means no TLS.
type TLSConfig struct {
	// Cert is the path of the certificate (chain) PEM file.
	Cert string `yaml:"cert"`
	// Key is the path of the private key PEM file.
	Key string `yaml:"key"`
	// ClientAuth is whether the listener asks clients for a certificate
	// in the TLS handshake and checks it: none (the default: it does not
	// ask), request (asks, takes any certificate or none), require (takes
	// any, requires one), verify_if_given (a certificate, if given, must
	// be issued by ClientCA) or require_and_verify (one issued by ClientCA
	// is required). request and require suit principals pinned by
	// fingerprint; principals known by name need a verifying mode.
	ClientAuth string `yaml:"client_auth,omitempty"`
	// ClientCA is the path of a PEM file of the CA certificates that
	// issue client certificates, required by verify_if_given and
	// require_and_verify.
	ClientCA string `yaml:"client_ca,omitempty"`
}

// clientAuthModes maps the values of TLSConfig.ClientAuth to crypto/tls.
var clientAuthModes = map[string]tls.ClientAuthType{
	"":                   tls.NoClientCert,
	"none":               tls.NoClientCert,
	"request":            tls.RequestClientCert,
	"require":            tls.RequireAnyClientCert,
	"verify_if_given":    tls.VerifyClientCertIfGiven,
	"require_and_verify": tls.RequireAndVerifyClientCert,
}

// check reports the first problem of c, for the listener name.
func (c TLSConfig) check(name string) error {
	if c.Enabled() && (c.Cert == "" || c.Key == "") {
		return fmt.Errorf("wampd: %s tls: need both cert and key", name)
	}
	mode, ok := clientAuthModes[c.ClientAuth]
	switch {
	case !ok:
		return fmt.Errorf("wampd: %s tls: client_auth %q: want none, request, require, verify_if_given or require_and_verify", name, c.ClientAuth)
	case !c.Enabled() && (mode != tls.NoClientCert || c.ClientCA != ""):
		return fmt.Errorf("wampd: %s tls: client_auth and client_ca need cert and key", name)
	case (mode == tls.VerifyClientCertIfGiven || mode == tls.RequireAndVerifyClientCert) && c.ClientCA == "":
		return fmt.Errorf("wampd: %s tls: client_auth %s needs client_ca", name, c.ClientAuth)
	case c.ClientCA != "" && mode == tls.NoClientCert:
		return fmt.Errorf("wampd: %s tls: client_ca without client_auth (want verify_if_given or require_and_verify)", name)
	}
	return nil
}

// Enabled reports whether a certificate is configured.
func (c TLSConfig) Enabled() bool { return c.Cert != "" || c.Key != "" }

// WebSocketConfig configures the WebSocket listener.
type WebSocketConfig struct {
	// Address is the TCP host:port to listen on. Empty disables WebSocket.
	Address string `yaml:"address"`
	// Path is the HTTP path of the WAMP endpoint, e.g. /ws.
	Path string `yaml:"path"`
	// TLS, when set, serves wss:// instead of ws://.
	TLS TLSConfig `yaml:"tls"`
	// Serializers lists the serializers offered as WebSocket
	// sub-protocols: json, msgpack, cbor. Empty means all of them.
	Serializers []string `yaml:"serializers"`
	// MaxMessageSize is the largest message accepted, in bytes. Zero means
	// MaxMessageSize of Config, and if that is zero too the transport's
	// default (1 MiB).
	MaxMessageSize int64 `yaml:"max_message_size"`
	// PingInterval is the interval of keep-alive pings. Zero means the
	// transport's default (30s); negative turns keep-alive off.
	PingInterval time.Duration `yaml:"ping_interval"`
	// QueueSize is the capacity of each connection's outbound queue, in
	// messages. Zero means the transport's default (256).
	QueueSize int `yaml:"queue_size"`
	// QueueBytes is the capacity of each connection's outbound queue, in
	// bytes of encoded messages (one message of any size fits an empty
	// queue). Zero means the transport's default (2 MiB).
	QueueBytes int `yaml:"queue_bytes"`
	// EnableCompression negotiates permessage-deflate with clients that
	// offer it.
	EnableCompression bool `yaml:"enable_compression"`
	// AllowedOrigins lists the Origin header values browsers may connect
	// from, such as https://app.example.com (scheme://host[:port], no
	// path: anything else is an error at start); "*" allows any. The
	// comparison ignores case. Requests without an Origin header
	// (non-browser clients) always pass. Empty means same-origin only.
	// The -allowed-origins flag sets it from a comma-separated list.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// ReadHeaderTimeout bounds the wait for a request's headers, from the
	// connection's start or from its last response (http.Server's
	// ReadHeaderTimeout). Zero means DefaultReadHeaderTimeout; negative
	// means none.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// ReadTimeout bounds the read of a whole request, body included.
	// Upgraded WebSocket connections are not affected (the deadline is
	// cleared when the connection is hijacked). Zero means
	// DefaultReadTimeout; negative means none.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// WriteTimeout bounds the write of a response (an HTTP error or
	// /healthz): a client that does not read its responses is cut off.
	// Upgraded WebSocket connections are not affected. Zero means
	// DefaultWriteTimeout; negative means none.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// IdleTimeout is how long a keep-alive connection may wait for its
	// next request before it is closed. Zero means DefaultIdleTimeout;
	// negative means none.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxHeaderBytes bounds the size of a request's headers. Zero means
	// DefaultMaxHeaderBytes.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
}

// AdminConfig configures the admin listener, plain HTTP for operators:
//
//   - GET /metrics: Prometheus metrics in the text format: the router's
//     (wampkit_router_*), wampd's own (wampd_*: build, connections,
//     configuration reloads), the Go runtime's (go_*) and the process's
//     (process_*);
//   - GET /healthz: "ok", or 503 "shutting down" once shutdown has begun;
//   - /debug/pprof/: the Go profiler (net/http/pprof), only with PProf;
//   - /console/: the live web console, with Console (see package console).
//
// It has no authentication: bind it to a loopback or internal address.
// Its connections are not counted in max_connections, so that a flood of
// clients cannot lock operators out; it takes at most
// AdminMaxConnections of its own.
type AdminConfig struct {
	// Address is the TCP host:port to listen on. Empty (the default)
	// disables the admin listener, and the router then counts nothing.
	Address string `yaml:"address"`
	// PProf serves the Go profiler under /debug/pprof/. Off by default:
	// profiling costs CPU time while it runs, and a heap or goroutine
	// profile shows the program's inner workings.
	PProf bool `yaml:"pprof"`
	// Console serves the live web console (package console) under
	// /console/, with the router's WebSocket endpoint at /console/ws for
	// it. The page signs in to a realm as a ticket principal whose role
	// may use the meta API. On by default (DefaultConfig).
	Console bool `yaml:"console"`
}

// RawSocketConfig configures the RawSocket listeners.
type RawSocketConfig struct {
	// Address is the TCP host:port to listen on. Empty disables RawSocket
	// over TCP.
	Address string `yaml:"address"`
	// Unix is the path of a Unix domain socket to listen on. Empty
	// disables it. A stale socket file at the path is removed first.
	Unix string `yaml:"unix"`
	// TLS, when set, wraps the TCP listener (not the Unix one) in TLS.
	TLS TLSConfig `yaml:"tls"`
	// Serializers lists the serializers accepted: json, msgpack, cbor.
	// Empty means all of them.
	Serializers []string `yaml:"serializers"`
	// MaxMessageSize is the largest message accepted, in bytes, rounded
	// down to a power of two from 512 B to 16 MiB. Zero means
	// MaxMessageSize of Config, and if that is zero too 1 MiB.
	MaxMessageSize int64 `yaml:"max_message_size"`
	// MaxConnections limits the number of RawSocket connections. Zero
	// means no limit.
	MaxConnections int `yaml:"max_connections"`
	// QueueSize is the capacity of each connection's outbound queue, in
	// messages. Zero means the transport's default (256).
	QueueSize int `yaml:"queue_size"`
	// QueueBytes is the capacity of each connection's outbound queue, in
	// bytes of encoded messages (one message of any size fits an empty
	// queue). Zero means the transport's default (2 MiB).
	QueueBytes int `yaml:"queue_bytes"`
	// PingInterval is the interval of keep-alive RawSocket PINGs. Zero
	// or negative means none (the transport's default; TCP keep-alive
	// still finds dead connections): Autobahn|Python's RawSocket clients
	// cannot answer a PING.
	PingInterval time.Duration `yaml:"ping_interval"`
}

// Defaults used by [DefaultConfig] and for zero fields.
const (
	DefaultWebSocketAddress = "127.0.0.1:8080"
	DefaultWebSocketPath    = "/ws"
	DefaultRawSocketAddress = "127.0.0.1:8081"
	DefaultRealm            = "realm1"
	DefaultShutdownTimeout  = 5 * time.Second

	// DefaultMaxConnectionsPerAddress is the default of
	// max_connections_per_address: room for a few hundred browsers
	// (a tab or two each) behind one NAT, while one address takes a
	// small share of the descriptors.
	DefaultMaxConnectionsPerAddress = 1000
	// DefaultReadHeaderTimeout and the others are the defaults of the
	// HTTP settings of the WebSocket listener.
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
)

// DefaultConfig returns what wampd does with no arguments at all: an open
// realm "realm1" on ws://127.0.0.1:8080/ws and RawSocket on 127.0.0.1:8081,
// text logs at level info, and the router's default limits (the values
// router.Config and router.AuthThrottle document for their zero fields,
// written out so that wampd.example.yaml can show them).
func DefaultConfig() Config {
	return Config{
		Log: LogConfig{Level: "info", Format: "text"},
		WebSocket: WebSocketConfig{Address: DefaultWebSocketAddress, Path: DefaultWebSocketPath,
			ReadHeaderTimeout: DefaultReadHeaderTimeout, ReadTimeout: DefaultReadTimeout,
			WriteTimeout: DefaultWriteTimeout, IdleTimeout: DefaultIdleTimeout, MaxHeaderBytes: DefaultMaxHeaderBytes},
		RawSocket:       RawSocketConfig{Address: DefaultRawSocketAddress},
		Admin:           AdminConfig{Console: true},
		ShutdownTimeout: DefaultShutdownTimeout,
		AuthTimeout:     10 * time.Second,
		AuthThrottle: AuthThrottleConfig{
			AuthIDFailures:  5,
			AuthIDWindow:    time.Minute,
			AddressFailures: 20,
			AddressWindow:   time.Minute,
			MaxEntries:      100_000,
			LogLines:        20,
			LogInterval:     time.Minute,
		},
		MaxSessions:              100_000,
		MaxConnectionsPerAddress: DefaultMaxConnectionsPerAddress,
		MaxPendingCalls:          1000,
		MaxSubscriptions:         10_000,
		MaxRegistrations:         10_000,
		MaxTestaments:            64,
		MaxBacklog:               1024,
		SlowConsumerWait:         time.Second,
	}
}

// LoadConfigFile reads the YAML file at path over a copy of base: settings
// the file leaves out keep base's values, a list in the file replaces
// base's list. Unknown keys are an error, so that a typo does not go
// unnoticed.
func LoadConfigFile(path string, base Config) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return base, fmt.Errorf("wampd: read config: %w", err)
	}
	cfg := base
	cfg.Realms = nil // a realms list in the file replaces, not extends
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return base, fmt.Errorf("wampd: config %s: %w", path, err)
	}
	if cfg.Realms == nil {
		cfg.Realms = base.Realms
	}
	return cfg, nil
}

// Validate checks the settings and returns the first problem found.
func (c *Config) Validate() error {
	if _, err := parseLevel(c.Log.Level); err != nil {
		return err
	}
	if err := c.Cluster.validate(); err != nil {
		return err
	}
	switch c.Log.Format {
	case "", "text", "json":
	default:
		return fmt.Errorf("wampd: log format %q: want text or json", c.Log.Format)
	}
	seen := make(map[string]bool, len(c.Realms))
	for _, r := range c.Realms {
		if err := checkRealmName(r.Name); err != nil {
			return err
		}
		if err := r.checkPrincipals(); err != nil {
			return err
		}
		if err := r.checkRoles(c.Bridge.holders(r.Name)); err != nil {
			return err
		}
		if !r.anonymous() && !r.hasPrincipals() {
			return fmt.Errorf("wampd: realm %q admits nobody: anonymous is false and no principal is listed", r.Name)
		}
		if _, err := r.slowConsumer(); err != nil {
			return err
		}
		if _, err := r.authorizer(); err != nil {
			return err
		}
		if seen[r.Name] {
			return fmt.Errorf("wampd: realm %q configured twice", r.Name)
		}
		seen[r.Name] = true
	}
	if c.WebSocket.Address == "" && c.RawSocket.Address == "" && c.RawSocket.Unix == "" {
		return errors.New("wampd: no listener: set a WebSocket address, a RawSocket address or a Unix socket")
	}
	if err := c.Bridge.check(c.effectiveRealms()); err != nil {
		return err
	}
	if c.Admin.PProf && c.Admin.Address == "" {
		return errors.New("wampd: admin pprof needs an admin address (-admin host:port)")
	}
	if c.WebSocket.Address != "" && !strings.HasPrefix(c.WebSocket.Path, "/") {
		return fmt.Errorf("wampd: websocket path %q must start with /", c.WebSocket.Path)
	}
	for _, o := range c.WebSocket.AllowedOrigins {
		if err := checkOriginSyntax(o); err != nil {
			return fmt.Errorf("wampd: websocket allowed_origins %q: %w", o, err)
		}
	}
	for _, t := range []struct {
		name string
		tls  TLSConfig
	}{{"websocket", c.WebSocket.TLS}, {"rawsocket", c.RawSocket.TLS}} {
		if err := t.tls.check(t.name); err != nil {
			return err
		}
	}
	for _, l := range [][]string{c.WebSocket.Serializers, c.RawSocket.Serializers} {
		if _, err := parseSerializers(l); err != nil {
			return err
		}
	}
	if c.MaxMessageSize < 0 || c.WebSocket.MaxMessageSize < 0 || c.RawSocket.MaxMessageSize < 0 {
		return errors.New("wampd: max_message_size must not be negative")
	}
	if c.WebSocket.QueueSize < 0 || c.RawSocket.QueueSize < 0 {
		return errors.New("wampd: queue_size must not be negative")
	}
	if err := c.AuthThrottle.check(); err != nil {
		return err
	}
	if c.WebSocket.QueueBytes < 0 || c.RawSocket.QueueBytes < 0 {
		return errors.New("wampd: queue_bytes must not be negative")
	}
	if c.WebSocket.MaxHeaderBytes < 0 {
		return errors.New("wampd: websocket max_header_bytes must not be negative")
	}
	if c.ShutdownTimeout < 0 {
		return fmt.Errorf("wampd: shutdown timeout %v is negative", c.ShutdownTimeout)
	}
	return nil
}

// realmNames returns the configured realm names, or DefaultRealm when none
// is configured.
func (c *Config) realmNames() []string {
	if len(c.Realms) == 0 {
		return []string{DefaultRealm}
	}
	names := make([]string, len(c.Realms))
	for i, r := range c.Realms {
		names[i] = r.Name
	}
	return names
}

// checkOriginSyntax reports whether o can ever equal an Origin header: a
// browser sends scheme://host[:port] (RFC 6454), without a path, not even
// a trailing slash, so "https://app.example.com/" would never match.
func checkOriginSyntax(o string) error {
	if o == "*" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || u.Scheme == "" || u.Host == "" || u.Opaque != "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return errors.New("want scheme://host[:port] as browsers send it (no path, not even a trailing slash), or *")
	}
	if strings.Contains(u.Host, "*") {
		return errors.New(`wildcards are not supported: list each origin, or "*" alone for any`)
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if s == "" {
		return slog.LevelInfo, nil
	}
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("wampd: log level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// checkRealmName applies the spec's loose URI rules (WAMP spec, "URIs"):
// dot-separated non-empty components without whitespace or '#'.
func checkRealmName(name string) error {
	if name == "" {
		return errors.New("wampd: realm name is empty")
	}
	for _, comp := range strings.Split(name, ".") {
		if comp == "" || strings.ContainsAny(comp, "# \t\r\n\v\f") {
			return fmt.Errorf("wampd: realm name %q is not a valid URI", name)
		}
	}
	return nil
}

func (c *Config) hasRealm(name string) bool {
	for _, r := range c.Realms {
		if r.Name == name {
			return true
		}
	}
	return false
}

// parseSerializers turns serializer names (json, msgpack, cbor) into
// serializers; nil or empty gives nil, which means all of them.
func parseSerializers(names []string) ([]serialize.Serializer, error) {
	var sers []serialize.Serializer
	for _, name := range names {
		ser, ok := serialize.BySubProtocol("wamp.2." + name)
		if !ok || strings.Contains(name, ".") {
			return nil, fmt.Errorf("wampd: serializer %q: want json, msgpack or cbor", name)
		}
		sers = append(sers, ser)
	}
	return sers, nil
}
