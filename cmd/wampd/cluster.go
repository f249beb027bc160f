package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wampkit/wampkit/cluster"
)

// ClusterConfig joins wampd to a cluster of wampd nodes through NATS (see
// the README, "Running a cluster"). With URL empty, wampd is a single
// router and opens no NATS connection.
type ClusterConfig struct {
	// URL lists the NATS servers, comma separated
	// ("nats://10.0.0.1:4222,nats://10.0.0.2:4222"). The NATS servers
	// need JetStream. Empty means no cluster. The -cluster flag sets it.
	URL string `yaml:"url"`
	// Name names this node in logs and on the NATS servers. Empty means
	// the host name and a random suffix. The -cluster-name flag sets it.
	Name string `yaml:"name,omitempty"`
	// Prefix starts the cluster's NATS subjects and buckets, so that
	// clusters can share NATS; the same on every node. Empty means
	// "wampkit".
	Prefix string `yaml:"prefix,omitempty"`
	// Wait makes wampd wait for NATS at start, trying again every
	// second and logging each failure, instead of exiting with an
	// error when no NATS server answers. The -cluster-wait flag sets it.
	Wait bool `yaml:"wait,omitempty"`
	// Token authenticates to NATS with a token.
	Token Secret `yaml:"token,omitempty"`
	// User and Password authenticate to NATS with a user name and
	// password.
	User     string `yaml:"user,omitempty"`
	Password Secret `yaml:"password,omitempty"`
	// Credentials is the path of a NATS credentials file (a user JWT and
	// its NKey seed).
	Credentials string `yaml:"credentials,omitempty"`
	// TLS configures TLS towards NATS: CA is the PEM file of the
	// certificate authorities to trust (empty: the system's), Cert and
	// Key a client certificate, if the servers ask for one. With none
	// set, TLS is used when the URL says tls://.
	TLS ClusterTLSConfig `yaml:"tls,omitempty"`
	// Replicas is the number of JetStream replicas of the cluster's
	// state; 3 with a NATS cluster of three servers or more. Zero means 1.
	Replicas int `yaml:"replicas,omitempty"`
	// MetaTimeout bounds how long a meta procedure waits for the other
	// nodes' answers (a node that has not answered by then is left out,
	// and logged). Zero means cluster.DefaultMetaTimeout.
	MetaTimeout time.Duration `yaml:"meta_timeout,omitempty"`
	// TestamentBytes is the size of the JetStream bucket of the sessions'
	// testaments, SessionBytes of the one of their records (for the
	// on_leave of a node that dies). Zero means the cluster package's
	// defaults. The node that makes a bucket sets its size.
	TestamentBytes int64 `yaml:"testament_bytes,omitempty"`
	SessionBytes   int64 `yaml:"session_bytes,omitempty"`
	// CallQueueBytes bounds the messages of calls waiting for each other
	// node while the NATS connection is busy; a call that does not fit
	// fails with wampkit.error.cluster_unavailable. Zero means
	// cluster.DefaultCallQueueBytes (8 MiB).
	CallQueueBytes int64 `yaml:"call_queue_bytes,omitempty"`
	// Embedded, if set, runs a NATS server inside wampd, routed to the
	// other nodes' (see EmbeddedNATSConfig); the node then uses its own
	// server, in-process, and URL must be empty.
	Embedded *EmbeddedNATSConfig `yaml:"embedded,omitempty"`
}

// enabled reports whether wampd joins a cluster.
func (c ClusterConfig) enabled() bool { return c.URL != "" || c.Embedded != nil }

// ClusterTLSConfig is TLS towards the NATS servers.
type ClusterTLSConfig struct {
	// CA is the PEM file of the certificate authorities to trust.
	CA string `yaml:"ca,omitempty"`
	// Cert and Key are the client certificate and its key, PEM files.
	Cert string `yaml:"cert,omitempty"`
	Key  string `yaml:"key,omitempty"`
}

// validate checks what can be checked without connecting.
func (c ClusterConfig) validate() error {
	if err := c.Embedded.validate(c.URL); err != nil {
		return err
	}
	if !c.enabled() {
		return nil
	}
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		return errors.New("wampd: cluster: tls needs both cert and key, or neither")
	}
	if c.Token != "" && (c.User != "" || c.Credentials != "") || c.User != "" && c.Credentials != "" {
		return errors.New("wampd: cluster: give one of token, user and password, or credentials")
	}
	switch {
	case c.MetaTimeout < 0:
		return errors.New("wampd: cluster: meta_timeout must not be negative")
	case c.TestamentBytes < 0:
		return errors.New("wampd: cluster: testament_bytes must not be negative")
	case c.SessionBytes < 0:
		return errors.New("wampd: cluster: session_bytes must not be negative")
	case c.CallQueueBytes < 0:
		return errors.New("wampd: cluster: call_queue_bytes must not be negative")
	}
	return nil
}

// natsConfig returns the cluster.Config of c with the NATS options opts.
func (c ClusterConfig) natsConfig(opts []nats.Option, log *slog.Logger) cluster.Config {
	return cluster.Config{URL: c.URL, Name: c.Name, Prefix: c.Prefix, Options: opts, Replicas: c.Replicas,
		MetaTimeout: c.MetaTimeout, TestamentBytes: c.TestamentBytes, SessionBytes: c.SessionBytes,
		CallQueueBytes: c.CallQueueBytes, Logger: log}
}

// natsOptions returns the NATS options of c: credentials and TLS.
func (c ClusterConfig) natsOptions() ([]nats.Option, error) {
	var opts []nats.Option
	switch {
	case c.Token != "":
		opts = append(opts, nats.Token(string(c.Token)))
	case c.User != "":
		opts = append(opts, nats.UserInfo(c.User, string(c.Password)))
	case c.Credentials != "":
		opts = append(opts, nats.UserCredentials(c.Credentials))
	}
	if c.TLS.CA != "" || c.TLS.Cert != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if c.TLS.CA != "" {
			pem, err := os.ReadFile(c.TLS.CA)
			if err != nil {
				return nil, fmt.Errorf("wampd: cluster: tls ca: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("wampd: cluster: tls ca %s: no PEM certificate", c.TLS.CA)
			}
		}
		if c.TLS.Cert != "" {
			cert, err := tls.LoadX509KeyPair(c.TLS.Cert, c.TLS.Key)
			if err != nil {
				return nil, fmt.Errorf("wampd: cluster: tls: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		opts = append(opts, nats.Secure(tc))
	}
	return opts, nil
}

// clusterRetry is the wait between two attempts to reach NATS at start
// with ClusterConfig.Wait.
const clusterRetry = time.Second

// joinCluster connects to the cluster of c: once, or with c.Wait until it
// succeeds or ctx ends. With c.Embedded it first starts the embedded NATS
// server, returned to be stopped after the cluster.
func joinCluster(ctx context.Context, c ClusterConfig, log *slog.Logger) (*cluster.Cluster, *embeddedNATS, error) {
	opts, err := c.natsOptions()
	if err != nil {
		return nil, nil, err
	}
	if c.Name == "" {
		// One name for the node and its embedded server.
		host, _ := os.Hostname()
		if host == "" {
			host = "wampd"
		}
		c.Name = fmt.Sprintf("%s-%06x", host, rand.Uint32()&0xffffff)
	}
	var e *embeddedNATS
	if c.Embedded != nil {
		if e, err = startEmbeddedNATS(c.Embedded, c.Name, log); err != nil {
			return nil, nil, err
		}
		c.URL = e.s.ClientURL()
		opts = append(opts, nats.InProcessServer(e.s))
		log.Info("cluster: embedded NATS server started", "listen", c.Embedded.Listen,
			"cluster_listen", c.Embedded.ClusterListen, "routes", c.Embedded.Routes)
	}
	cl, err := joinNATS(ctx, c, opts, log)
	if err != nil {
		if e != nil {
			e.stop()
		}
		return nil, nil, err
	}
	return cl, e, nil
}

// joinNATS makes the node's cluster link: once, or with c.Wait until it
// succeeds or ctx ends.
func joinNATS(ctx context.Context, c ClusterConfig, opts []nats.Option, log *slog.Logger) (*cluster.Cluster, error) {
	cfg := c.natsConfig(opts, log)
	for attempt := 1; ; attempt++ {
		cl, err := cluster.New(ctx, cfg)
		if err == nil {
			return cl, nil
		}
		if !c.Wait && c.Embedded == nil || errors.Is(err, cluster.ErrNoJetStream) {
			return nil, fmt.Errorf("wampd: cannot join the cluster: %w (is NATS running there? -cluster-wait waits for it)", err)
		}
		if c.Embedded != nil {
			// JetStream needs a quorum of the routed servers.
			log.Info("cluster: waiting for the embedded NATS servers to form JetStream", "attempt", attempt, "error", err)
		} else {
			log.Warn("cluster: NATS unreachable, waiting", "url", c.URL, "attempt", attempt, "error", err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wampd: stopped while waiting for NATS at %s: %w", c.URL, ctx.Err())
		case <-time.After(clusterRetry):
		}
	}
}
