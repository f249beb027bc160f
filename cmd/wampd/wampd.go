package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/wampkit/wampkit/bridge"
	"github.com/wampkit/wampkit/cluster"
	"github.com/wampkit/wampkit/internal/buildinfo"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/transport"
)

// Main is the wampd program: its settings, its router and its listeners.
// main() only wires signals to a context and calls NewMain, ParseFlags, Run
// and Close, so that tests can run the whole program in-process.
type Main struct {
	// Config holds the settings. NewMain sets DefaultConfig; ParseFlags
	// overlays the -config file and then the flags given.
	Config Config
	// Version is printed by -version and logged at start. NewMain sets
	// it from -ldflags or the build info (see internal/buildinfo).
	Version string
	// Stdout receives -version and -healthcheck output; Stderr the log
	// and flag errors.
	Stdout, Stderr io.Writer
	// HealthcheckURL, set by -healthcheck, makes wampd a health check
	// client: main calls Healthcheck instead of Run.
	HealthcheckURL string

	// Set by ParseFlags, for Reload: the settings before the file, the
	// file, and what applies the flags given over it.
	base       Config
	configPath string
	overlay    func(*Config)

	// Set by Run before it starts a listener, then only read.
	logger *slog.Logger
	level  *slog.LevelVar // the logger's level, which Reload sets
	reload *reloadMetrics // nil without the admin listener
	router *router.Router
	// cluster is the node's link to its cluster, or nil; closed after
	// the router, and then the embedded NATS server, if any.
	cluster *cluster.Cluster
	nats    *embeddedNATS
	http    *http.Server // the WebSocket listener's
	admin   *http.Server // the admin listener's, or nil
	// The HTTP bridge, its authenticator (in every realm) and listener,
	// or nil.
	bridge     *bridge.Bridge
	bridgeAuth *bridge.Authenticator
	bridgeHTTP *http.Server
	// Bound addresses, known once Run has returned nil.
	wsAddr, rsAddr, unixAddr, adminAddr, bridgeAddr net.Addr
	wsTLS                                           bool
	listeners                                       []net.Listener         // the WAMP listeners
	limiter                                         *transport.ConnLimiter // caps the WAMP listeners' connections
	// serving runs every listener's Serve loop. A loop that returns
	// before shutdown began is a failure: it cancels the group's context,
	// which shuts wampd down, and Close returns its error.
	serving *errgroup.Group

	// reloadMu serializes Reload, which calls into the router with it
	// held; nothing else takes it.
	reloadMu sync.Mutex
	running  Config // guarded by reloadMu: the settings in force

	stopping atomic.Bool // set when shutdown begins; /healthz then answers 503
	stopOnce sync.Once
	stopped  chan struct{} // closed when shutdown has finished
	stopErr  error         // written before stopped is closed
}

// NewMain returns a Main with the default configuration, writing to the
// process's standard output and error.
func NewMain() *Main {
	return &Main{
		Config:  DefaultConfig(),
		Version: buildinfo.Version(version),
		Stdout:  os.Stdout,
		Stderr:  os.Stderr,
		stopped: make(chan struct{}),
	}
}

// realmList is a repeatable -realm flag.
type realmList []string

func (r *realmList) String() string { return strings.Join(*r, ",") }
func (r *realmList) Set(s string) error {
	*r = append(*r, s)
	return nil
}

// ParseFlags parses the command line arguments (without the program name)
// into m.Config: defaults first, then the file named by -config, then every
// flag that was given. It returns flag.ErrHelp after printing the usage
// (-h) or the version (-version); the caller should then exit with status 0.
func (m *Main) ParseFlags(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("wampd", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: wampd [flags]\n\n"+
			"wampd is a WAMP router. With no flags it serves an open realm %q on\n"+
			"ws://%s%s and RawSocket on %s.\n"+
			"Flags override the -config file.\n\nFlags:\n",
			DefaultRealm, DefaultWebSocketAddress, DefaultWebSocketPath, DefaultRawSocketAddress)
		fs.PrintDefaults()
	}
	def := m.Config
	var (
		configPath  = fs.String("config", "", "YAML configuration `file` (see wampd.example.yaml)")
		wsAddr      = fs.String("ws", def.WebSocket.Address, "WebSocket listen `address` (host:port); empty disables")
		wsPath      = fs.String("ws-path", def.WebSocket.Path, "HTTP `path` of the WebSocket endpoint")
		rsAddr      = fs.String("rawsocket", def.RawSocket.Address, "RawSocket TCP listen `address` (host:port); empty disables")
		unixPath    = fs.String("unix", def.RawSocket.Unix, "RawSocket Unix socket `path`; empty disables")
		logLevel    = fs.String("log-level", def.Log.Level, "log `level`: debug, info, warn or error")
		logFormat   = fs.String("log-format", def.Log.Format, "log `format`: text or json")
		tlsCert     = fs.String("tls-cert", "", "TLS certificate `file` (PEM): serve wss:// and RawSocket over TLS")
		tlsKey      = fs.String("tls-key", "", "TLS private key `file` (PEM), with -tls-cert")
		shutdown    = fs.Duration("shutdown-timeout", def.ShutdownTimeout, "how long sessions get to say GOODBYE on shutdown")
		maxSessions = fs.Int("max-sessions", def.MaxSessions, "most sessions at once, over all realms; negative means no limit")
		maxConns    = fs.Int("max-connections", def.MaxConnections, "most connections at once, over all listeners; 0 means derived from the open files limit, negative no limit")
		maxPerAddr  = fs.Int("max-connections-per-address", def.MaxConnectionsPerAddress, "most connections at once from one client address; negative means no limit")
		maxMsgSize  = fs.Int64("max-message-size", def.MaxMessageSize, "largest message accepted, in `bytes`, where a listener sets none; 0 means 1 MiB")
		origins     = fs.String("allowed-origins", strings.Join(def.WebSocket.AllowedOrigins, ","), "comma-separated `origins` (scheme://host[:port], or *) whose browser pages may connect over WebSocket; empty means same-origin only")
		adminAddr   = fs.String("admin", def.Admin.Address, "admin listen `address` (host:port) for /metrics, /healthz and -admin-pprof; empty disables")
		adminPProf  = fs.Bool("admin-pprof", def.Admin.PProf, "serve the Go profiler under /debug/pprof/ on the admin listener")
		showVersion = fs.Bool("version", false, "print the version and exit")
		clusterURL  = fs.String("cluster", def.Cluster.URL, "join a cluster through the NATS servers at `urls` (comma separated, with JetStream); empty means a single router")
		clusterName = fs.String("cluster-name", def.Cluster.Name, "this node's `name` in the cluster; empty means the host name and a random suffix")
		clusterWait = fs.Bool("cluster-wait", def.Cluster.Wait, "with -cluster, wait for NATS at start instead of exiting when it does not answer")
		healthcheck = fs.String("healthcheck", "", "do not serve: GET `url` (such as http://127.0.0.1:8082/healthz) and exit with status 0 if it answers 200 OK, 1 otherwise")
		realms      realmList
	)
	fs.Var(&realms, "realm", "serve realm `uri` (repeatable; adds to the -config file's realms; default "+DefaultRealm+")")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("wampd: unexpected argument %q (see wampd -h)", fs.Arg(0))
	}
	if *showVersion {
		fmt.Fprintf(m.Stdout, "wampd %s\n", m.Version)
		return flag.ErrHelp
	}
	if *healthcheck != "" {
		// A health check reads no configuration: it runs beside the
		// server, often without its files or environment.
		if err := checkHealthcheckURL(*healthcheck); err != nil {
			return err
		}
		m.HealthcheckURL = *healthcheck
		return nil
	}

	// overlayFlag sets the setting of the flag name, which was given.
	overlayFlag := func(cfg *Config, name string) {
		switch name {
		case "ws":
			cfg.WebSocket.Address = *wsAddr
		case "ws-path":
			cfg.WebSocket.Path = *wsPath
		case "rawsocket":
			cfg.RawSocket.Address = *rsAddr
		case "unix":
			cfg.RawSocket.Unix = *unixPath
		case "log-level":
			cfg.Log.Level = *logLevel
		case "log-format":
			cfg.Log.Format = *logFormat
		case "tls-cert":
			cfg.WebSocket.TLS.Cert, cfg.RawSocket.TLS.Cert = *tlsCert, *tlsCert
		case "tls-key":
			cfg.WebSocket.TLS.Key, cfg.RawSocket.TLS.Key = *tlsKey, *tlsKey
		case "shutdown-timeout":
			cfg.ShutdownTimeout = *shutdown
		case "max-sessions":
			cfg.MaxSessions = *maxSessions
		case "max-connections":
			cfg.MaxConnections = *maxConns
		case "max-connections-per-address":
			cfg.MaxConnectionsPerAddress = *maxPerAddr
		case "max-message-size":
			cfg.MaxMessageSize = *maxMsgSize
		case "allowed-origins":
			cfg.WebSocket.AllowedOrigins = splitList(*origins)
		case "admin":
			cfg.Admin.Address = *adminAddr
		case "admin-pprof":
			cfg.Admin.PProf = *adminPProf
		case "cluster":
			cfg.Cluster.URL = *clusterURL
		case "cluster-name":
			cfg.Cluster.Name = *clusterName
		case "cluster-wait":
			cfg.Cluster.Wait = *clusterWait
		}
	}
	// Reload repeats what follows: the file over the same base, then the
	// same flags.
	m.base, m.configPath = m.Config, *configPath
	m.overlay = func(cfg *Config) {
		fs.Visit(func(f *flag.Flag) { overlayFlag(cfg, f.Name) })
		for _, name := range realms {
			if !cfg.hasRealm(name) {
				cfg.Realms = append(cfg.Realms, RealmConfig{Name: name})
			}
		}
	}
	cfg, err := m.load()
	if err != nil {
		return err
	}
	m.Config = cfg
	return nil
}

// load returns the configuration of ParseFlags: m.base, then the file
// m.configPath (read again, with the secrets it names), then the flags
// given, checked.
func (m *Main) load() (Config, error) {
	cfg := m.base
	if m.configPath != "" {
		var err error
		if cfg, err = LoadConfigFile(m.configPath, cfg); err != nil {
			return Config{}, err
		}
	}
	m.overlay(&cfg)
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Run validates the configuration, starts the router and its listeners and
// returns once they accept connections; the addresses are then available
// from WebSocketAddr, RawSocketAddr, UnixAddr and AdminAddr. When ctx is
// cancelled, or a listener fails (see Done), wampd shuts down gracefully
// in the background; Close waits for that. If Run fails, the caller must
// still call Close.
func (m *Main) Run(ctx context.Context) (err error) {
	cfg := m.Config
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	m.level = new(slog.LevelVar)
	if m.logger, err = newLogger(m.Stderr, cfg.Log, m.level); err != nil {
		return err
	}
	m.reloadMu.Lock()
	m.running = m.Config
	m.reloadMu.Unlock()
	g, serveCtx := errgroup.WithContext(ctx)
	m.serving = g

	if cfg.Bridge.enabled() {
		m.bridgeAuth = bridge.NewAuthenticator()
	}
	rcfg, err := routerConfig(cfg, m.logger, m.extraAuth()...)
	if err != nil {
		return err
	}
	var reg *prometheus.Registry
	if cfg.Admin.Address != "" {
		// The router counts only when someone can read the counts.
		reg = prometheus.NewRegistry()
		rcfg.Metrics = reg
	}
	if cfg.Cluster.enabled() {
		if m.cluster, m.nats, err = joinCluster(ctx, cfg.Cluster, m.logger); err != nil {
			return err
		}
		rcfg.Cluster = m.cluster
	}
	if m.router, err = router.New(rcfg); err != nil {
		return fmt.Errorf("wampd: %w", err)
	}
	total := maxConnections(cfg.MaxConnections, fdLimit())
	m.limiter = &transport.ConnLimiter{
		MaxConnections: total,
		MaxPerAddress:  maxPerAddress(cfg.MaxConnectionsPerAddress, total),
		Logger:         m.logger,
	}
	m.logger.Info("connection limits", "max_connections", m.limiter.MaxConnections,
		"max_connections_per_address", m.limiter.MaxPerAddress)
	if reg != nil {
		if m.reload, err = registerMetrics(reg, m.Version, m.limiter); err != nil {
			return fmt.Errorf("wampd: metrics: %w", err)
		}
		if m.cluster != nil {
			if err := registerClusterMetrics(reg, m.cluster); err != nil {
				return fmt.Errorf("wampd: metrics: %w", err)
			}
		}
	}

	if cfg.WebSocket.Address != "" {
		if err := m.startWebSocket(cfg.WebSocket); err != nil {
			return err
		}
	}
	if cfg.RawSocket.Address != "" {
		tlsCfg, err := loadTLS(cfg.RawSocket.TLS)
		if err != nil {
			return err
		}
		l, err := m.listen("tcp", cfg.RawSocket.Address, tlsCfg)
		if err != nil {
			return err
		}
		m.rsAddr = l.Addr()
		m.serveRawSocket(l)
		m.logger.Info("listening", "transport", "rawsocket", "address", l.Addr().String(), "tls", tlsCfg != nil)
	}
	if cfg.RawSocket.Unix != "" {
		removeStaleSocket(cfg.RawSocket.Unix)
		l, err := m.listen("unix", cfg.RawSocket.Unix, nil)
		if err != nil {
			return err
		}
		m.unixAddr = l.Addr()
		m.serveRawSocket(l)
		m.logger.Info("listening", "transport", "rawsocket", "unix", cfg.RawSocket.Unix)
	}
	if cfg.Bridge.enabled() {
		if err := m.startBridge(cfg.Bridge, cfg.AuthThrottle.bridge()); err != nil {
			return err
		}
	}
	if cfg.Admin.Address != "" {
		if err := m.startAdmin(cfg.Admin, reg); err != nil {
			return err
		}
	}
	m.logger.Info("wampd started", "version", m.Version, "go", runtime.Version(), "realms", cfg.realmNames())

	// Shut down when ctx ends or a listener fails (serveCtx covers both).
	go func() {
		select {
		case <-serveCtx.Done():
			m.stop(cfg.ShutdownTimeout)
		case <-m.stopped:
		}
	}()
	return nil
}

// serve runs a listener's Serve loop in m.serving. What it returns once
// shutdown has begun is the end of a closed listener; before, it is a
// failure, and what, names the listener in the error.
func (m *Main) serve(what string, loop func() error) {
	m.serving.Go(func() error {
		err := loop()
		if m.stopping.Load() {
			return nil
		}
		if err == nil {
			err = errors.New("stopped")
		}
		m.logger.Error("listener failed; shutting down", "listener", what, "error", err)
		return fmt.Errorf("wampd: %s listener failed: %w", what, err)
	})
}

// extraAuth returns the authenticators every realm has besides those of
// its settings: the HTTP bridge's, if it is on.
func (m *Main) extraAuth() []router.Authenticator {
	if m.bridgeAuth == nil {
		return nil
	}
	return []router.Authenticator{m.bridgeAuth}
}

// routerConfig translates the settings into the router's Config; every
// realm gets the authenticators extra too.
func routerConfig(cfg Config, logger *slog.Logger, extra ...router.Authenticator) (router.Config, error) {
	wsSers, err := parseSerializers(cfg.WebSocket.Serializers)
	if err != nil {
		return router.Config{}, err
	}
	rsSers, err := parseSerializers(cfg.RawSocket.Serializers)
	if err != nil {
		return router.Config{}, err
	}
	goodbye := cfg.GoodbyeTimeout
	if goodbye == 0 {
		goodbye = cfg.ShutdownTimeout
	}
	rcfg := router.Config{
		Logger:           logger,
		HandshakeTimeout: cfg.HandshakeTimeout,
		AuthTimeout:      cfg.AuthTimeout,
		AuthThrottle:     cfg.AuthThrottle.router(),
		GoodbyeTimeout:   goodbye,
		StrictURIs:       cfg.StrictURIs,
		StrictRequestIDs: cfg.StrictRequestIDs,
		MaxMessageSize:   cfg.MaxMessageSize,
		MaxSessions:      cfg.MaxSessions,
		MaxPendingCalls:  cfg.MaxPendingCalls,
		MaxSubscriptions: cfg.MaxSubscriptions,
		MaxRegistrations: cfg.MaxRegistrations,
		MaxTestaments:    cfg.MaxTestaments,
		MaxBacklog:       cfg.MaxBacklog,
		MaxBacklogBytes:  cfg.MaxBacklogBytes,
		SlowConsumerWait: cfg.SlowConsumerWait,
		WebSocket: transport.WebSocketConfig{
			PeerConfig: transport.PeerConfig{
				MaxMessageSize: cfg.WebSocket.MaxMessageSize,
				QueueSize:      cfg.WebSocket.QueueSize,
				QueueBytes:     cfg.WebSocket.QueueBytes,
				PingInterval:   cfg.WebSocket.PingInterval,
				Logger:         logger,
			},
			Serializers:       wsSers,
			EnableCompression: cfg.WebSocket.EnableCompression,
			CheckOrigin:       checkOrigin(cfg.WebSocket.AllowedOrigins),
		},
		RawSocket: transport.RawSocketConfig{
			PeerConfig: transport.PeerConfig{
				MaxMessageSize: cfg.RawSocket.MaxMessageSize,
				QueueSize:      cfg.RawSocket.QueueSize,
				QueueBytes:     cfg.RawSocket.QueueBytes,
				PingInterval:   cfg.RawSocket.PingInterval,
				Logger:         logger,
			},
			Serializers:    rsSers,
			MaxConnections: cfg.RawSocket.MaxConnections,
		},
	}
	realms := cfg.Realms
	if len(realms) == 0 {
		realms = []RealmConfig{{Name: DefaultRealm}}
	}
	for _, r := range realms {
		policy, err := r.slowConsumer()
		if err != nil {
			return router.Config{}, err
		}
		auths, err := authenticators(r)
		if err != nil {
			return router.Config{}, err
		}
		auths = append(auths, extra...)
		authz, err := r.authorizer()
		if err != nil {
			return router.Config{}, err
		}
		var history []router.HistoryConfig
		for _, h := range r.EventHistory {
			history = append(history, router.HistoryConfig{Topic: protocol.URI(h.Topic),
				Match: protocol.MatchPolicy(h.Match), Limit: h.Limit, MaxAge: h.MaxAge})
		}
		rcfg.Realms = append(rcfg.Realms, router.RealmConfig{
			Name:             protocol.URI(r.Name),
			MaxSessions:      r.MaxSessions,
			SlowConsumer:     policy,
			Authenticators:   auths,
			MaxRetained:      r.MaxRetained,
			MaxRetainedBytes: r.MaxRetainedBytes,
			MaxHistoryBytes:  r.MaxHistoryBytes,
			TrustLevels:      r.TrustLevels,
			EventHistory:     history,
			Authorizer:       authz,
		})
	}
	return rcfg, nil
}

// splitList splits a comma-separated flag value, trimming spaces and
// dropping empty items; nil if none is left.
func splitList(s string) []string {
	var items []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

// consoleKey marks, in a request's context, a WebSocket upgrade on the
// console's own endpoint (the admin listener's /console/ws).
type consoleKey struct{}

// forConsole returns r marked as a request of the console's endpoint.
func forConsole(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), consoleKey{}, true))
}

// checkOrigin returns the WebSocket origin check for allowed, or nil (the
// transport's same-origin default) when allowed is empty.
func checkOrigin(allowed []string) func(*http.Request) bool {
	if len(allowed) == 0 {
		return nil
	}
	return func(r *http.Request) bool {
		origin := r.Header.Get("Origin")
		if origin == "" {
			return true // not a browser
		}
		if r.Context().Value(consoleKey{}) != nil {
			// The console's page comes from the admin listener itself.
			if u, err := url.Parse(origin); err == nil && strings.EqualFold(u.Host, r.Host) {
				return true
			}
		}
		for _, a := range allowed {
			if a == "*" || strings.EqualFold(a, origin) {
				return true
			}
		}
		return false
	}
}

func (m *Main) startWebSocket(c WebSocketConfig) error {
	tlsCfg, err := loadTLS(c.TLS)
	if err != nil {
		return err
	}
	l, err := m.listen("tcp", c.Address, tlsCfg)
	if err != nil {
		return err
	}
	m.wsAddr, m.wsTLS = l.Addr(), tlsCfg != nil

	mux := http.NewServeMux()
	mux.Handle(c.Path, m.router.Handler())
	if c.Path != "/healthz" {
		mux.HandleFunc("/healthz", m.healthz)
	}
	m.http = httpServer(c, mux)
	m.http.ErrorLog = slog.NewLogLogger(m.logger.Handler(), slog.LevelWarn)
	m.serve("websocket", func() error { return m.http.Serve(l) })
	m.logger.Info("listening", "transport", "websocket", "url", m.WebSocketURL())
	return nil
}

func (m *Main) serveRawSocket(l net.Listener) {
	m.serve("rawsocket "+l.Addr().String(), func() error { return m.router.ServeRawSocket(l) })
}

// healthz answers GET /healthz: 200 "ok" while wampd serves, 503
// "shutting down" once shutdown has begun, so that a load balancer stops
// sending clients.
func (m *Main) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if m.stopping.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "shutting down\n")
		return
	}
	io.WriteString(w, "ok\n")
}

// listen opens a listener and remembers it so that shutdown closes it.
// Its connections are capped by m.limiter before anything is read from
// them, TLS handshakes included.
func (m *Main) listen(network, address string, tlsCfg *tls.Config) (net.Listener, error) {
	l, err := net.Listen(network, address)
	if err != nil {
		return nil, fmt.Errorf("wampd: %w", err)
	}
	m.listeners = append(m.listeners, l)
	limited := m.limiter.Listener(l)
	if tlsCfg != nil {
		return transport.TLSListener(limited, tlsCfg), nil
	}
	return limited, nil
}

// WebSocketAddr returns the address the WebSocket listener is bound to, or
// nil if it is disabled or Run has not succeeded.
func (m *Main) WebSocketAddr() net.Addr { return m.wsAddr }

// WebSocketURL returns the URL clients dial, such as ws://127.0.0.1:8080/ws,
// or "" if WebSocket is disabled or Run has not succeeded.
func (m *Main) WebSocketURL() string {
	if m.wsAddr == nil {
		return ""
	}
	scheme := "ws"
	if m.wsTLS {
		scheme = "wss"
	}
	return scheme + "://" + m.wsAddr.String() + m.Config.WebSocket.Path
}

// RawSocketAddr returns the address the RawSocket TCP listener is bound
// to, or nil if it is disabled or Run has not succeeded.
func (m *Main) RawSocketAddr() net.Addr { return m.rsAddr }

// UnixAddr returns the address of the RawSocket Unix socket listener, or
// nil if it is disabled or Run has not succeeded.
func (m *Main) UnixAddr() net.Addr { return m.unixAddr }

// BridgeAddr returns the address the HTTP bridge's listener is bound to,
// or nil if it is disabled or Run has not succeeded.
func (m *Main) BridgeAddr() net.Addr { return m.bridgeAddr }

// AdminAddr returns the address the admin listener is bound to, or nil if
// it is disabled or Run has not succeeded.
func (m *Main) AdminAddr() net.Addr { return m.adminAddr }

// Done returns a channel that is closed when wampd has stopped: after
// Close, after Run's context ended and the shutdown finished, or after a
// listener failed and wampd shut itself down (Close then returns the
// failure).
func (m *Main) Done() <-chan struct{} { return m.stopped }

// Close shuts wampd down gracefully if that has not begun yet (as when
// Run's context is cancelled), waits until it has finished and returns its
// error. It may be called more than once, and after a failed Run.
func (m *Main) Close() error {
	timeout := m.Config.ShutdownTimeout
	if timeout <= 0 {
		timeout = DefaultShutdownTimeout
	}
	m.stop(timeout)
	<-m.stopped
	return m.stopErr
}

// stop runs the shutdown once: stop accepting, tell every session GOODBYE
// (router.Shutdown, bounded by timeout), close whatever is left, and
// last the admin listener, so that metrics can be read during the
// shutdown.
func (m *Main) stop(timeout time.Duration) {
	m.stopOnce.Do(func() {
		defer close(m.stopped)
		m.stopping.Store(true)
		log := m.logger
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		if m.router != nil {
			log.Info("shutting down", "timeout", timeout.String())
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()

		var errs []error
		// New connections are refused from here on; WebSocket connections
		// already upgraded are hijacked and so not waited for here.
		if m.http != nil {
			if err := m.http.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("wampd: http shutdown: %w", err))
			}
		}
		if m.bridgeHTTP != nil {
			if err := m.bridgeHTTP.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("wampd: bridge shutdown: %w", err))
			}
		}
		if m.bridge != nil {
			m.bridge.Close() // its sessions leave before the router shuts down
		}
		for _, l := range m.listeners {
			_ = l.Close() // already closed by http.Shutdown or router: fine
		}
		if m.router != nil {
			if err := m.router.Shutdown(ctx); err != nil {
				log.Warn("graceful shutdown incomplete", "error", err)
			}
			if err := m.router.Close(); err != nil && !isClosedErr(err) {
				errs = append(errs, fmt.Errorf("wampd: close router: %w", err))
			}
		}
		if m.cluster != nil {
			_ = m.cluster.Close() // returns nil; logs what goes wrong
		}
		if m.nats != nil {
			m.nats.stop()
		}
		if m.admin != nil {
			if err := m.admin.Shutdown(ctx); err != nil {
				_ = m.admin.Close() // a long profile: cut it off
			}
		}
		if m.serving != nil {
			if err := m.serving.Wait(); err != nil {
				errs = append([]error{err}, errs...)
			}
		}
		m.stopErr = errors.Join(errs...)
		if m.router != nil {
			log.Info("stopped")
		}
	})
}

func isClosedErr(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, router.ErrClosed)
}

// newLogger returns the logger c describes, writing to w, and sets level
// to c's level; the logger follows level.
func newLogger(w io.Writer, c LogConfig, level *slog.LevelVar) (*slog.Logger, error) {
	l, err := parseLevel(c.Level)
	if err != nil {
		return nil, err
	}
	level.Set(l)
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

func loadTLS(c TLSConfig) (*tls.Config, error) {
	if !c.Enabled() {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.Cert, c.Key)
	if err != nil {
		return nil, fmt.Errorf("wampd: tls: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, ClientAuth: clientAuthModes[c.ClientAuth]}
	if c.ClientCA != "" {
		pem, err := os.ReadFile(c.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("wampd: tls client_ca: %w", err)
		}
		tc.ClientCAs = x509.NewCertPool()
		if !tc.ClientCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("wampd: tls client_ca %s: no PEM certificate in it", c.ClientCA)
		}
	}
	return tc, nil
}

// removeStaleSocket removes a Unix socket file left by a process that
// died, so that listening on the path succeeds. Anything that is not a
// socket is left alone (and listening then fails with a clear error).
func removeStaleSocket(path string) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		if c, err := net.Dial("unix", path); err == nil {
			c.Close() // someone is listening: leave it, Listen will fail
			return
		}
		_ = os.Remove(path)
	}
}
