package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedNATSConfig runs a NATS server (with JetStream) inside wampd, so
// that a cluster needs no NATS of its own: each node's embedded server
// routes to the others', and the node talks to its own in-process. Use it
// for a few nodes that start together; run NATS apart (cluster.url) when
// other programs share it, when nodes come and go, or to scale NATS and
// wampd separately.
type EmbeddedNATSConfig struct {
	// Listen is the host:port where the embedded server takes NATS
	// clients (monitoring tools, other programs); wampd itself talks to
	// it in-process. Empty means 127.0.0.1 and a random port.
	Listen string `yaml:"listen,omitempty"`
	// ClusterListen is the host:port where the embedded server takes
	// routes from the other nodes' servers. Empty means a NATS server of
	// its own, routed to nobody: a cluster of one node.
	ClusterListen string `yaml:"cluster_listen,omitempty"`
	// Routes lists the other nodes' cluster_listen addresses as
	// nats-route://host:port URLs (listing the node itself is fine).
	Routes []string `yaml:"routes,omitempty"`
	// ClusterName names the NATS cluster; the same on every node. Empty
	// means "wampkit".
	ClusterName string `yaml:"cluster_name,omitempty"`
	// StoreDir is the JetStream directory. Empty means a temporary
	// directory, removed when wampd stops (the cluster keeps its state
	// in memory only).
	StoreDir string `yaml:"store_dir,omitempty"`
}

// validate checks what can be checked without starting.
func (c *EmbeddedNATSConfig) validate(url string) error {
	if c == nil {
		return nil
	}
	if url != "" {
		return errors.New("wampd: cluster: give url (an outside NATS) or embedded, not both")
	}
	for _, a := range []string{c.Listen, c.ClusterListen} {
		if a == "" {
			continue
		}
		if _, _, err := splitHostPort(a); err != nil {
			return fmt.Errorf("wampd: cluster: embedded: %w", err)
		}
	}
	if len(c.Routes) > 0 && c.ClusterListen == "" {
		return errors.New("wampd: cluster: embedded: routes need cluster_listen")
	}
	return nil
}

// splitHostPort splits a host:port with a numeric port.
func splitHostPort(a string) (string, int, error) {
	host, p, err := net.SplitHostPort(a)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("address %q: port %q is not a number", a, p)
	}
	return host, port, nil
}

// embeddedPingInterval and embeddedMaxPingsOut are the embedded server's
// keep-alive pings, to clients and routes: as the cluster's own NATS
// clients ping their servers.
const (
	embeddedPingInterval = 2 * time.Second
	embeddedMaxPingsOut  = 2
)

// embeddedNATS is a running embedded NATS server.
type embeddedNATS struct {
	s   *server.Server
	tmp string // StoreDir made by wampd, removed on stop; "" if none
}

// startEmbeddedNATS starts the NATS server of c, named name, and waits
// until it takes connections. The server's warnings and errors go to log.
func startEmbeddedNATS(c *EmbeddedNATSConfig, name string, log *slog.Logger) (*embeddedNATS, error) {
	e := &embeddedNATS{}
	opts := &server.Options{ServerName: name, JetStream: true, StoreDir: c.StoreDir, NoSigs: true,
		// The server drops a client or route that answers no ping for
		// 4 to 6 s, not minutes (its defaults): a node cut off behind
		// a path that loses packets without closing the connection
		// then leaves the others' view, as a node that died does.
		PingInterval: embeddedPingInterval, MaxPingsOut: embeddedMaxPingsOut}
	if opts.StoreDir == "" {
		dir, err := os.MkdirTemp("", "wampd-nats-")
		if err != nil {
			return nil, fmt.Errorf("wampd: embedded NATS: %w", err)
		}
		e.tmp, opts.StoreDir = dir, dir
	}
	if c.Listen == "" {
		// A server that does not listen for clients does not start its
		// routes either: listen where only this machine reaches it.
		opts.Host, opts.Port = "127.0.0.1", server.RANDOM_PORT
	} else {
		host, port, _ := splitHostPort(c.Listen)
		opts.Host, opts.Port = host, port
	}
	if c.ClusterListen != "" {
		host, port, _ := splitHostPort(c.ClusterListen)
		opts.Cluster.Name = c.ClusterName
		if opts.Cluster.Name == "" {
			opts.Cluster.Name = "wampkit"
		}
		opts.Cluster.Host, opts.Cluster.Port = host, port
		for _, r := range c.Routes {
			opts.Routes = append(opts.Routes, server.RoutesFromStr(r)...)
		}
	}
	s, err := server.NewServer(opts)
	if err != nil {
		e.removeTmp()
		return nil, fmt.Errorf("wampd: embedded NATS: %w", err)
	}
	e.s = s
	nl := &natsLog{log: log}
	s.SetLoggerV2(nl, false, false, false)
	go s.Start()
	ready := false
	for deadline := time.Now().Add(10 * time.Second); !ready && time.Now().Before(deadline) && !nl.failed(); {
		ready = s.ReadyForConnections(100 * time.Millisecond)
	}
	if !ready {
		e.stop()
		if err := nl.lastError(); err != "" {
			return nil, fmt.Errorf("wampd: embedded NATS: not ready within 10s: %s", err)
		}
		return nil, errors.New("wampd: embedded NATS: not ready within 10s")
	}
	return e, nil
}

// natsLog passes the embedded NATS server's warnings and errors to a
// slog.Logger (its notices, debug and trace lines are dropped), and keeps
// the last error, which says why a server that does not start failed
// (an address in use, say).
type natsLog struct {
	log   *slog.Logger
	mu    sync.Mutex
	last  string // guarded by mu
	fatal bool   // guarded by mu; the server logged a fatal error
}

func (l *natsLog) Noticef(string, ...any) {}
func (l *natsLog) Debugf(string, ...any)  {}
func (l *natsLog) Tracef(string, ...any)  {}

func (l *natsLog) Warnf(format string, v ...any) {
	l.log.Warn("cluster: embedded NATS: " + fmt.Sprintf(format, v...))
}

func (l *natsLog) Errorf(format string, v ...any) { l.error(fmt.Sprintf(format, v...), false) }
func (l *natsLog) Fatalf(format string, v ...any) { l.error(fmt.Sprintf(format, v...), true) }

func (l *natsLog) error(msg string, fatal bool) {
	l.mu.Lock()
	l.last = msg
	l.fatal = l.fatal || fatal
	l.mu.Unlock()
	l.log.Error("cluster: embedded NATS: " + msg)
}

// failed reports whether the server logged a fatal error: it will not
// start.
func (l *natsLog) failed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fatal
}

// lastError returns the last error the server logged, or "".
func (l *natsLog) lastError() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

// stop shuts the server down and removes its temporary directory.
func (e *embeddedNATS) stop() {
	e.s.Shutdown()
	e.s.WaitForShutdown()
	e.removeTmp()
}

func (e *embeddedNATS) removeTmp() {
	if e.tmp != "" {
		os.RemoveAll(e.tmp)
	}
}
