package main

import (
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wampkit/wampkit/cluster"
	"github.com/wampkit/wampkit/console"
	"github.com/wampkit/wampkit/transport"
)

// AdminMaxConnections is the most connections the admin listener takes
// at once: enough for scrapers, health checks and a profile or two.
const AdminMaxConnections = 64

// HTTP timeouts of the admin listener. The write timeout leaves room for
// a CPU profile or trace of up to a minute (/debug/pprof/profile?seconds=60),
// which net/http/pprof refuses if it would outlast the write timeout.
const (
	adminReadHeaderTimeout = 10 * time.Second
	adminReadTimeout       = 30 * time.Second
	adminWriteTimeout      = 90 * time.Second
	adminIdleTimeout       = 60 * time.Second
)

// startAdmin opens the admin listener (see AdminConfig) and serves it in
// m.serving; reg holds every collector /metrics shows.
func (m *Main) startAdmin(c AdminConfig, reg *prometheus.Registry) error {
	l, err := net.Listen("tcp", c.Address)
	if err != nil {
		return fmt.Errorf("wampd: admin: %w", err)
	}
	m.adminAddr = l.Addr()
	limited := (&transport.ConnLimiter{MaxConnections: AdminMaxConnections, Logger: m.logger}).Listener(l)

	mux := http.NewServeMux()
	errLog := slog.NewLogLogger(m.logger.Handler(), slog.LevelWarn)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      errLog,
		ErrorHandling: promhttp.ContinueOnError, // serve what can be collected
		Registry:      reg,                      // counts promhttp's own errors
	}))
	mux.HandleFunc("GET /healthz", m.healthz)
	paths := []string{"/metrics", "/healthz"}
	if c.PProf {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		paths = append(paths, "/debug/pprof/")
	}
	if c.Console {
		cfg := m.Config
		mux.Handle("/console/", http.StripPrefix("/console", console.Handler(console.Config{
			Realms:  cfg.realmNames(),
			Version: m.Version,
		})))
		// The console's own WAMP endpoint, same origin as its page, so
		// that it works whatever allowed_origins says and without the
		// WebSocket listener.
		ws := m.router.Handler()
		mux.HandleFunc("/console/ws", func(w http.ResponseWriter, r *http.Request) {
			ws.ServeHTTP(w, forConsole(r))
		})
		paths = append(paths, "/console/")
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!DOCTYPE html>\n<title>wampd</title>\n<h1>wampd "+html.EscapeString(m.Version)+"</h1>\n<ul>\n")
		for _, p := range paths {
			fmt.Fprintf(w, "<li><a href=\"%s\">%s</a></li>\n", p, p)
		}
		io.WriteString(w, "</ul>\n")
	})

	m.admin = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: adminReadHeaderTimeout,
		ReadTimeout:       adminReadTimeout,
		WriteTimeout:      adminWriteTimeout,
		IdleTimeout:       adminIdleTimeout,
		MaxHeaderBytes:    DefaultMaxHeaderBytes,
		ErrorLog:          errLog,
	}
	m.serve("admin", func() error { return m.admin.Serve(limited) })
	m.logger.Info("listening", "transport", "admin", "address", l.Addr().String(), "pprof", c.PProf)
	return nil
}

// registerMetrics registers on reg what wampd exports besides the router's
// metrics: the Go runtime's and the process's collectors, the build, the
// connections of the WAMP listeners, and the configuration reloads,
// whose collectors it returns.
func registerMetrics(reg *prometheus.Registry, version string, limiter *transport.ConnLimiter) (*reloadMetrics, error) {
	reload := newReloadMetrics()
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "wampd_build_info",
		Help:        "Always 1; the labels name wampd's version and the Go version it was built with.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	})
	build.Set(1)
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		build,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "wampd_connections_open",
			Help: "Connections open on the WAMP listeners (WebSocket, RawSocket, Unix socket), HTTP and handshakes included."},
			func() float64 { return float64(limiter.Open()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "wampd_connections_max",
			Help: "The cap on connections open on the WAMP listeners (max_connections); 0 means none."},
			func() float64 { return float64(limiter.MaxConnections) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "wampd_connections_refused_total",
			Help: "Connections closed at once because max_connections or max_connections_per_address was reached."},
			func() float64 { return float64(limiter.Refused()) }),
		reload.total, reload.lastOK, reload.lastOKTime,
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return reload, nil
}

// registerClusterMetrics exports the counts of the node's events across
// the cluster (cluster.Stats), so that nothing the cluster loses goes
// unseen.
func registerClusterMetrics(reg *prometheus.Registry, c *cluster.Cluster) error {
	counter := func(name, help string, f func(cluster.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(f(c.Stats())) })
	}
	for _, col := range []prometheus.Collector{
		counter("wampd_cluster_events_forwarded_total", "Publications of this node handed to NATS for the other nodes.",
			func(s cluster.Stats) uint64 { return s.Forwarded }),
		counter("wampd_cluster_events_forward_failed_total", "Publications of this node that could not be handed to NATS (logged).",
			func(s cluster.Stats) uint64 { return s.ForwardFailed }),
		counter("wampd_cluster_events_received_total", "Events from other nodes, once per matching subscription of this node.",
			func(s cluster.Stats) uint64 { return s.Received }),
		counter("wampd_cluster_events_dropped_total", "Events from other nodes lost because this node's queue was full or they could not be decoded (logged).",
			func(s cluster.Stats) uint64 { return s.Dropped }),
		counter("wampd_cluster_calls_refused_total", "Messages of calls for other nodes that did not fit the queue to their node: their calls failed with wampkit.error.cluster_unavailable (logged).",
			func(s cluster.Stats) uint64 { return s.CallsRefused }),
		counter("wampd_cluster_late_chunks_total", "Chunks of progressive call invocations from other nodes discarded because their call had ended on this node.",
			func(s cluster.Stats) uint64 { return s.LateChunks }),
	} {
		if err := reg.Register(col); err != nil {
			return err
		}
	}
	store := func(name, help string, f func(cluster.StoreStats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(f(c.StoreStats())) })
	}
	for _, col := range []prometheus.Collector{
		store("wampd_cluster_retained_total", "Retained events of this node stored in JetStream for the cluster.",
			func(s cluster.StoreStats) uint64 { return s.Retained }),
		store("wampd_cluster_retain_failed_total", "Retained events of this node that JetStream did not store (logged; retained on this node only).",
			func(s cluster.StoreStats) uint64 { return s.RetainFailed }),
		store("wampd_cluster_history_recorded_total", "Events of this node added to the cluster's event history in JetStream.",
			func(s cluster.StoreStats) uint64 { return s.Recorded }),
		store("wampd_cluster_history_failed_total", "Events of this node that JetStream did not add to the cluster's event history (logged).",
			func(s cluster.StoreStats) uint64 { return s.RecordFailed }),
	} {
		if err := reg.Register(col); err != nil {
			return err
		}
	}
	return nil
}

// reloadMetrics count configuration reloads (SIGHUP), as Prometheus
// does its own, so that a failed reload can raise an alert. A nil
// *reloadMetrics counts nothing.
type reloadMetrics struct {
	total      *prometheus.CounterVec
	lastOK     prometheus.Gauge
	lastOKTime prometheus.Gauge
}

func newReloadMetrics() *reloadMetrics {
	r := &reloadMetrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wampd_config_reloads_total",
			Help: "Configuration reloads (SIGHUP), by result: success or failure."}, []string{"result"}),
		lastOK: prometheus.NewGauge(prometheus.GaugeOpts{Name: "wampd_config_last_reload_successful",
			Help: "1 if the last configuration reload succeeded (or none was tried), 0 if it failed."}),
		lastOKTime: prometheus.NewGauge(prometheus.GaugeOpts{Name: "wampd_config_last_reload_success_timestamp_seconds",
			Help: "When the configuration was last loaded successfully, at start or by a reload, in Unix time."}),
	}
	r.total.WithLabelValues("success")
	r.total.WithLabelValues("failure")
	r.lastOK.Set(1)
	r.lastOKTime.SetToCurrentTime()
	return r
}

// count counts a reload that ended with err.
func (r *reloadMetrics) count(err error) {
	if r == nil {
		return
	}
	if err != nil {
		r.total.WithLabelValues("failure").Inc()
		r.lastOK.Set(0)
		return
	}
	r.total.WithLabelValues("success").Inc()
	r.lastOK.Set(1)
	r.lastOKTime.SetToCurrentTime()
}
