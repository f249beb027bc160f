package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/wampkit/wampkit/bridge"
	"github.com/wampkit/wampkit/protocol"
)

// BridgeConfig configures the HTTP bridge (package bridge): POST
// <path>/publish and POST <path>/call with a JSON body and a bearer
// token, on a listener of its own. Off unless Address is set.
type BridgeConfig struct {
	// Address is the TCP host:port to listen on. Empty (the default)
	// disables the bridge. Its connections count in max_connections.
	Address string `yaml:"address"`
	// Path is the prefix of the endpoints: "/hooks" serves POST
	// /hooks/publish and POST /hooks/call. Empty means "/".
	Path string `yaml:"path"`
	// TLS, when set, serves HTTPS instead of HTTP. Bearer tokens travel
	// in the clear without it.
	TLS TLSConfig `yaml:"tls"`
	// MaxBodyBytes bounds a request's body; a larger one is answered
	// 413. Zero means bridge.DefaultMaxBodyBytes (1 MiB).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// CallTimeout bounds the wait for a call's result; past it the call
	// is canceled and answered 504. Zero means bridge.DefaultCallTimeout
	// (30s); negative means no limit.
	CallTimeout time.Duration `yaml:"call_timeout"`
	// Principals maps bearer tokens to identities. Required with an
	// Address.
	Principals []BridgePrincipalConfig `yaml:"principals"`
}

// BridgePrincipalConfig is one user of the HTTP bridge.
type BridgePrincipalConfig struct {
	// Token is the bearer token, at least bridge.MinTokenLength (16)
	// bytes. Required.
	Token Secret `yaml:"token"`
	// Realm is the realm the principal publishes and calls in; it must
	// be served. Required.
	Realm string `yaml:"realm"`
	// AuthID is the bridge session's authid. Empty means "bridge".
	AuthID string `yaml:"authid,omitempty"`
	// Role is the session's authrole; in a realm with permissions it must
	// be listed there. Empty means "user".
	Role string `yaml:"role,omitempty"`
}

// enabled reports whether the bridge is on.
func (c BridgeConfig) enabled() bool { return c.Address != "" }

// role returns p's role, with the default.
func (p BridgePrincipalConfig) role() string {
	if p.Role == "" {
		return DefaultRole
	}
	return p.Role
}

// check reports the first problem of the bridge's settings; realms are
// the realms served.
func (c BridgeConfig) check(realms []RealmConfig) error {
	if !c.enabled() {
		return nil
	}
	if c.Path != "" && !strings.HasPrefix(c.Path, "/") {
		return fmt.Errorf("wampd: bridge path %q must start with /", c.Path)
	}
	if len(c.Principals) == 0 {
		return errors.New("wampd: bridge: an address needs principals (token, realm, authid, role)")
	}
	if c.MaxBodyBytes < 0 {
		return errors.New("wampd: bridge max_body_bytes must not be negative")
	}
	if c.TLS.Enabled() && (c.TLS.Cert == "" || c.TLS.Key == "") {
		return errors.New("wampd: bridge tls: need both cert and key")
	}
	seen := make(map[Secret]bool, len(c.Principals))
	for i, p := range c.Principals {
		if len(p.Token) < bridge.MinTokenLength {
			return fmt.Errorf("wampd: bridge principal %d (authid %q): token shorter than %d bytes", i+1, p.AuthID, bridge.MinTokenLength)
		}
		if seen[p.Token] {
			return fmt.Errorf("wampd: bridge principal %d (authid %q): token used twice", i+1, p.AuthID)
		}
		seen[p.Token] = true
		found := false
		for _, r := range realms {
			found = found || r.Name == p.Realm
		}
		if !found {
			return fmt.Errorf("wampd: bridge principal %d (authid %q): realm %q is not served", i+1, p.AuthID, p.Realm)
		}
	}
	return nil
}

// holders returns who has which role in realm through the bridge.
func (c BridgeConfig) holders(realm string) []roleHolder {
	if !c.enabled() {
		return nil
	}
	var hs []roleHolder
	for _, p := range c.Principals {
		if p.Realm == realm {
			hs = append(hs, roleHolder{p.role(), fmt.Sprintf("bridge principal %q has", p.AuthID)})
		}
	}
	return hs
}

// startBridge opens the bridge's listener and serves it in m.serving;
// wrong bearer tokens are throttled per client address as th says.
// m.bridgeAuth must be among the realms' authenticators (routerConfig).
func (m *Main) startBridge(c BridgeConfig, th bridge.Throttle) error {
	tlsCfg, err := loadTLS(c.TLS)
	if err != nil {
		return err
	}
	principals := make([]bridge.Principal, len(c.Principals))
	for i, p := range c.Principals {
		principals[i] = bridge.Principal{Token: string(p.Token), Realm: protocol.URI(p.Realm), AuthID: p.AuthID, AuthRole: p.role()}
	}
	b, err := bridge.New(bridge.Config{
		Router:        m.router,
		Authenticator: m.bridgeAuth,
		Principals:    principals,
		MaxBodyBytes:  c.MaxBodyBytes,
		CallTimeout:   c.CallTimeout,
		Throttle:      th,
		Logger:        m.logger,
	})
	if err != nil {
		return fmt.Errorf("wampd: %w", err)
	}
	m.bridge = b
	l, err := m.listen("tcp", c.Address, tlsCfg)
	if err != nil {
		return err
	}
	m.bridgeAddr = l.Addr()
	prefix := strings.TrimSuffix(c.Path, "/")
	mux := http.NewServeMux()
	mux.Handle(prefix+"/", http.StripPrefix(prefix, b))
	write := c.CallTimeout
	if write == 0 {
		write = bridge.DefaultCallTimeout
	}
	if write > 0 {
		write += 10 * time.Second // room to write the 504
	}
	m.bridgeHTTP = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: DefaultReadHeaderTimeout,
		ReadTimeout:       DefaultReadTimeout,
		WriteTimeout:      write,
		IdleTimeout:       DefaultIdleTimeout,
		MaxHeaderBytes:    DefaultMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(m.logger.Handler(), slog.LevelWarn),
	}
	m.serve("bridge", func() error { return m.bridgeHTTP.Serve(l) })
	m.logger.Info("listening", "transport", "bridge", "address", l.Addr().String(), "path", prefix+"/",
		"tls", tlsCfg != nil, "principals", len(principals))
	return nil
}
