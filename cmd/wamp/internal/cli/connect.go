package cli

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

// Defaults of the global flags.
const (
	// DefaultURL is the default of --url: wampd's default WebSocket
	// endpoint.
	DefaultURL = "ws://127.0.0.1:8080/ws"
	// DefaultRealm is the default of --realm: wampd's default realm.
	DefaultRealm = "realm1"
	// DefaultTimeout is the default of --timeout.
	DefaultTimeout = 10 * time.Second
	// envPrefix starts the environment variable of every global flag:
	// --tls-ca is WAMP_TLS_CA.
	envPrefix = "WAMP_"
)

// globalOptions are the flags every subcommand has: where to connect and
// how to authenticate.
type globalOptions struct {
	url, realm, serializer string
	authid                 string
	ticket, ticketFile     string
	wampcra, wampcraFile   string
	cryptosignKey          string
	scram, scramFile       string
	tlsCA                  string
	tlsCert, tlsKey        string
	tlsInsecure            bool
	timeout                time.Duration
}

// addFlags defines the global flags on fs, each naming its environment
// variable in its usage.
func (o *globalOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.url, "url", DefaultURL, "router `URL`: ws://, wss://, tcp://, tcps:// or unix:///path")
	fs.StringVar(&o.realm, "realm", DefaultRealm, "`realm` to join")
	fs.StringVar(&o.serializer, "serializer", "", "json, msgpack or cbor (default: json on WebSocket, msgpack on RawSocket)")
	fs.StringVar(&o.authid, "authid", "", "authentication `id` (user name) sent in HELLO")
	fs.StringVar(&o.ticket, "ticket", "", "authenticate with this `ticket` (ticket auth)")
	fs.StringVar(&o.ticketFile, "ticket-file", "", "read the ticket from `file` (first line)")
	fs.StringVar(&o.wampcra, "wampcra", "", "authenticate with this WAMP-CRA `secret`")
	fs.StringVar(&o.wampcraFile, "wampcra-file", "", "read the WAMP-CRA secret from `file` (first line)")
	fs.StringVar(&o.cryptosignKey, "cryptosign-key", "", "authenticate with the Ed25519 key in `file` (WAMP-Cryptosign; see Authentication)")
	fs.StringVar(&o.scram, "scram", "", "authenticate with this WAMP-SCRAM `password`")
	fs.StringVar(&o.scramFile, "scram-file", "", "read the WAMP-SCRAM password from `file` (first line)")
	fs.StringVar(&o.tlsCA, "tls-ca", "", "trust the CA certificates in `file` (PEM) instead of the system's")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "client certificate `file` (PEM), with --tls-key")
	fs.StringVar(&o.tlsKey, "tls-key", "", "client private key `file` (PEM), with --tls-cert")
	fs.BoolVar(&o.tlsInsecure, "tls-insecure", false, "do not verify the router's certificate (testing only)")
	fs.DurationVar(&o.timeout, "timeout", DefaultTimeout, "how long to wait for the connection and for each answer; 0 means no limit")
	fs.VisitAll(func(f *pflag.Flag) {
		f.Usage += " [$" + envName(f.Name) + "]"
	})
}

// envName returns the environment variable of the global flag name.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// applyEnv sets every flag of fs that was not given on the command line
// from its environment variable, if that is set and not empty.
func applyEnv(fs *pflag.FlagSet, getenv func(string) string) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = usageErrorf("$%s: %v", envName(f.Name), e)
			}
		}
	})
	return err
}

// clientConfig returns the client configuration the options describe. A
// file that cannot be read or a key that cannot be parsed is a usage
// error.
func (o *globalOptions) clientConfig(logger *slog.Logger) (client.Config, error) {
	cfg := client.Config{
		Realm:  protocol.URI(o.realm),
		AuthID: o.authid,
		Agent:  "wamp-cli (wampkit)",
		Logger: logger,
		// Every wait is bounded by the run's own contexts (--timeout);
		// the client's default minute must not cut them shorter.
		ResponseTimeout: -1,
	}
	switch strings.ToLower(o.serializer) {
	case "":
	case "json":
		cfg.Serializer = serialize.JSON
	case "msgpack", "messagepack":
		cfg.Serializer = serialize.MessagePack
	case "cbor":
		cfg.Serializer = serialize.CBOR
	default:
		return cfg, usageErrorf("--serializer %q: want json, msgpack or cbor", o.serializer)
	}
	auth, err := o.authenticators()
	if err != nil {
		return cfg, err
	}
	cfg.Auth = auth
	if cfg.TLSConfig, err = o.tlsConfig(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// authenticators returns the authentication methods the flags ask for,
// strongest first: the router picks the first it supports.
func (o *globalOptions) authenticators() ([]client.Authenticator, error) {
	var auth []client.Authenticator
	if o.cryptosignKey != "" {
		key, err := readCryptosignKey(o.cryptosignKey)
		if err != nil {
			return nil, err
		}
		auth = append(auth, client.CryptosignAuth(key))
	}
	scram, err := secret("scram", o.scram, o.scramFile)
	if err != nil {
		return nil, err
	}
	if scram != "" {
		auth = append(auth, client.SCRAMAuth(scram))
	}
	cra, err := secret("wampcra", o.wampcra, o.wampcraFile)
	if err != nil {
		return nil, err
	}
	if cra != "" {
		auth = append(auth, client.WAMPCRAAuth(cra))
	}
	ticket, err := secret("ticket", o.ticket, o.ticketFile)
	if err != nil {
		return nil, err
	}
	if ticket != "" {
		auth = append(auth, client.TicketAuth(ticket))
	}
	return auth, nil
}

// secret returns the value of --NAME or the first line of the file of
// --NAME-file; giving both is a usage error.
func secret(name, value, file string) (string, error) {
	if file == "" {
		return value, nil
	}
	if value != "" {
		return "", usageErrorf("--%s and --%s-file: give one of them", name, name)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", usageErrorf("--%s-file: %v", name, err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimRight(line, "\r")
	if line == "" {
		return "", usageErrorf("--%s-file %s: the first line is empty", name, file)
	}
	return line, nil
}

// readCryptosignKey reads an Ed25519 private key from file, in one of these
// forms:
//
//   - 64 hex digits: the 32-byte seed (the form Autobahn and Crossbar.io
//     use for private keys);
//   - 128 hex digits: the 64-byte private key, seed then public key;
//   - 32 or 64 raw bytes: the seed or the private key;
//   - PEM "PRIVATE KEY" (PKCS #8), as openssl genpkey -algorithm ed25519
//     writes it.
//
// White space around hex digits is ignored. A 64-byte key whose public half
// does not belong to its seed is refused.
func readCryptosignKey(file string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, usageErrorf("--cryptosign-key: %v", err)
	}
	key, err := parseCryptosignKey(b)
	if err != nil {
		return nil, usageErrorf("--cryptosign-key %s: %v", file, err)
	}
	return key, nil
}

func parseCryptosignKey(b []byte) (ed25519.PrivateKey, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("PEM block %q, want PRIVATE KEY (PKCS #8)", blk.Type)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, err
		}
		priv, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("PEM key is a %T, want Ed25519", k)
		}
		return priv, nil
	}
	raw := b
	if h := strings.Join(strings.Fields(string(b)), ""); len(h) == 2*ed25519.SeedSize || len(h) == 2*ed25519.PrivateKeySize {
		if d, err := hex.DecodeString(h); err == nil {
			raw = d
		}
	}
	switch len(raw) {
	case ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(raw), nil
	case ed25519.PrivateKeySize:
		priv := ed25519.NewKeyFromSeed(raw[:ed25519.SeedSize])
		if !priv.Public().(ed25519.PublicKey).Equal(ed25519.PublicKey(raw[ed25519.SeedSize:])) {
			return nil, fmt.Errorf("the public key in the last 32 bytes does not belong to the seed")
		}
		return priv, nil
	}
	return nil, fmt.Errorf("want a 32-byte seed or a 64-byte private key, as hex or raw bytes, or PEM PKCS #8; got %d bytes", len(b))
}

// tlsConfig returns the TLS configuration of the --tls flags, or nil when
// none is given (the client then uses the system's roots).
func (o *globalOptions) tlsConfig() (*tls.Config, error) {
	if o.tlsCA == "" && o.tlsCert == "" && o.tlsKey == "" && !o.tlsInsecure {
		return nil, nil
	}
	cfg := &tls.Config{InsecureSkipVerify: o.tlsInsecure} //nolint:gosec // asked for with --tls-insecure
	if o.tlsCA != "" {
		pemCerts, err := os.ReadFile(o.tlsCA)
		if err != nil {
			return nil, usageErrorf("--tls-ca: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemCerts) {
			return nil, usageErrorf("--tls-ca %s: no PEM certificate in it", o.tlsCA)
		}
		cfg.RootCAs = pool
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return nil, usageErrorf("--tls-cert and --tls-key go together")
	}
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return nil, usageErrorf("--tls-cert/--tls-key: %v", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// withTimeout returns ctx bounded by --timeout (unbounded when it is 0).
func (o *globalOptions) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if o.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, o.timeout)
}

// dial connects to the router and joins the realm, within --timeout.
func (o *globalOptions) dial(ctx context.Context, logger *slog.Logger) (*client.Client, error) {
	cfg, err := o.clientConfig(logger)
	if err != nil {
		return nil, err
	}
	ctx, cancel := o.withTimeout(ctx)
	defer cancel()
	c, err := client.Dial(ctx, o.url, cfg)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			// No answer in time from the router is a connection failure,
			// whichever step of connecting and joining it stopped at.
			return nil, &exitError{code: ExitConnection, err: fmt.Errorf("connect %s: no answer within --timeout %v: %w", o.url, o.timeout, err)}
		}
		return nil, classify(err)
	}
	return c, nil
}
