// Package clustertest runs NATS servers with JetStream inside a test
// process, on 127.0.0.1, for the tests of package cluster and of programs
// that use it. It is for tests only: it imports the NATS server.
package clustertest

import (
	"crypto/tls"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ReadyTimeout is how long StartNATS waits for a server to take
// connections before it fails the test.
const ReadyTimeout = 30 * time.Second

// Options are the settings of a test NATS server. The zero value is a
// server on a free port, storing JetStream data in a directory of the
// test, with the NATS default max_payload.
type Options struct {
	// Port is the port on 127.0.0.1; 0 means a free one the server picks.
	Port int
	// StoreDir is JetStream's directory; "" means a new one of the test.
	// Give the same directory to a server started again on the same Port
	// to restart "the same" server.
	StoreDir string
	// MaxPayload is the largest message the server takes; 0 means the
	// NATS default (1 MiB).
	MaxPayload int32
	// TLS, if not nil, makes the server take TLS connections only, with
	// this configuration (its certificate); ClientURL then starts with
	// "tls://".
	TLS *tls.Config
}

// StartNATS starts a NATS server with JetStream as o says and returns it
// once it takes connections; its URL is ClientURL. The server is shut
// down when the test ends, if the test has not done it before.
func StartNATS(tb testing.TB, o Options) *server.Server {
	tb.Helper()
	port := o.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	dir := o.StoreDir
	if dir == "" {
		dir = tb.TempDir()
	}
	s, err := server.NewServer(&server.Options{
		Host:       "127.0.0.1",
		Port:       port,
		JetStream:  true,
		StoreDir:   dir,
		MaxPayload: o.MaxPayload,
		NoLog:      true,
		NoSigs:     true,
		TLS:        o.TLS != nil,
		TLSConfig:  o.TLS,
		TLSTimeout: 5,
	})
	if err != nil {
		tb.Fatalf("nats server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(ReadyTimeout) {
		s.Shutdown()
		tb.Fatal("nats server not ready")
	}
	tb.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}
