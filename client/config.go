package client

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"time"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

// Defaults of the Config fields, as their comments say.
const (
	defaultResponseTimeout = time.Minute
	defaultCloseTimeout    = 5 * time.Second
	defaultAgent           = "wampkit-go"
)

// Config configures a session. It is passed by value to [Join] and [Dial],
// which fill in the defaults on their copy; changing a Config afterwards has
// no effect on the session. Only Realm is required.
type Config struct {
	// Realm is the realm to join (HELLO.Realm). Required: Join and Dial
	// return ErrNoRealm when it is empty.
	Realm protocol.URI

	// Agent is sent as HELLO.Details.agent. Empty means "wampkit-go".
	Agent string

	// AuthID is sent as HELLO.Details.authid when not empty (WAMP spec,
	// advanced/authentication.md). Empty means none is sent. The authid
	// the session gets is the router's to decide (WELCOME.Details.authid,
	// see [Client.WelcomeDetails]): a wampkit router ignores it for
	// anonymous sessions and gives them a random one.
	AuthID string

	// PayloadPassthru announces payload_passthru_mode on every role
	// (WAMP spec, advanced/payload_passthru_mode.md), which the client
	// needs to send requests with a [Passthru] and to be sent payloads in
	// the mode: routers refuse those for peers that did not announce it.
	// Set it only if the handlers of the session look at [PassthruOf] of
	// what they receive. The zero value announces nothing.
	PayloadPassthru bool

	// AuthExtra is sent as HELLO.Details.authextra when not nil, merged
	// with what the authenticators of Auth need there (CryptosignAuth's
	// public key, SCRAMAuth's nonce); AuthExtra wins where both set a key.
	// Nil means only the authenticators' values are sent.
	AuthExtra protocol.Dict

	// Auth lists the authentication methods the client offers, in order of
	// preference: their Method names become HELLO.Details.authmethods, and
	// a CHALLENGE is answered by the Authenticator whose Method matches
	// CHALLENGE.AuthMethod. Nil or empty means no authmethods are announced
	// (the router decides, typically "anonymous"); a CHALLENGE then makes
	// Join fail with ErrNoAuthenticator.
	Auth []Authenticator

	// HelloDetails holds extra HELLO.Details keys, for example
	// "transport.auth" or implementation-specific "_foo" keys. Keys the
	// client sets itself (roles, agent, authid, authmethods, authextra)
	// take precedence. Nil means no extra keys.
	HelloDetails protocol.Dict

	// ResponseTimeout bounds how long a request waits for the router's
	// reply when its context has no deadline: the handshake in Join, and
	// Subscribe, Unsubscribe, Register, Unregister and acknowledged
	// publications. It does not apply to calls, which wait as long as their
	// context allows (use CallRequest.Timeout for a dealer-side timeout).
	// A request that times out returns ErrResponseTimeout. Zero means one
	// minute; negative means no timeout.
	ResponseTimeout time.Duration

	// CloseTimeout bounds how long Close waits for the router to echo its
	// GOODBYE before closing the transport anyway. Zero means 5 seconds;
	// negative means Close does not wait for the echo.
	CloseTimeout time.Duration

	// EventQueue is the default capacity of each subscription's event
	// queue (see SubscribeOptions.Queue). Zero or negative means unbounded.
	EventQueue int

	// Serializer is the serializer Dial asks the router for. Zero means
	// serialize.JSON for WebSocket URLs (the one every WAMP router speaks)
	// and serialize.MessagePack for RawSocket URLs (binary framing, compact,
	// supported by the RawSocket routers we know). Join ignores it.
	Serializer serialize.Serializer

	// TLSConfig is used by Dial for wss:// and tcps:// URLs. Nil means the
	// zero tls.Config (system roots, server name from the URL). Join
	// ignores it.
	TLSConfig *tls.Config

	// Header holds extra HTTP headers for Dial's WebSocket upgrade request
	// (Origin, Authorization, Cookie, ...). Nil means none. Join and
	// RawSocket URLs ignore it.
	Header http.Header

	// Logger receives the client's diagnostics: dropped late replies,
	// handler failures, queue overflows. Nil means slog.Default().
	Logger *slog.Logger
}

// Authenticator answers the router's CHALLENGE for one authentication
// method (WAMP spec, advanced/authentication.md). wampkit will provide
// ticket, WAMP-CRA and cryptosign authenticators; any type with these two
// methods can be put in Config.Auth.
type Authenticator interface {
	// Method returns the method name announced in HELLO.Details.authmethods
	// and matched against CHALLENGE.AuthMethod, such as "ticket".
	Method() string
	// Authenticate returns the AUTHENTICATE message answering c. ctx is the
	// context of Join. An error aborts the handshake: the client sends
	// ABORT wamp.error.authentication_failed and Join returns the error.
	// It may be called more than once per Join (multi-round methods).
	Authenticate(ctx context.Context, c *protocol.Challenge) (*protocol.Authenticate, error)
}

// An extraAuthenticator is an Authenticator that needs values in
// HELLO.Details.authextra, such as WAMP-Cryptosign's public key. Join
// merges the AuthExtra of every such authenticator in Config.Auth into
// the HELLO; Config.AuthExtra wins where both set a key.
type extraAuthenticator interface {
	Authenticator
	AuthExtra() protocol.Dict
}

// AuthFunc returns an Authenticator for method that answers challenges
// with f.
func AuthFunc(method string, f func(ctx context.Context, c *protocol.Challenge) (*protocol.Authenticate, error)) Authenticator {
	return authFunc{method: method, f: f}
}

var _ Authenticator = authFunc{}

type authFunc struct {
	method string
	f      func(context.Context, *protocol.Challenge) (*protocol.Authenticate, error)
}

func (a authFunc) Method() string { return a.method }

func (a authFunc) Authenticate(ctx context.Context, c *protocol.Challenge) (*protocol.Authenticate, error) {
	return a.f(ctx, c)
}

// withDefaults returns cfg with its zero fields replaced by defaults.
func (cfg Config) withDefaults() Config {
	if cfg.Agent == "" {
		cfg.Agent = defaultAgent
	}
	if cfg.ResponseTimeout == 0 {
		cfg.ResponseTimeout = defaultResponseTimeout
	}
	if cfg.CloseTimeout == 0 {
		cfg.CloseTimeout = defaultCloseTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg
}

// clientRoles is the HELLO role announcement: the roles and Advanced
// Profile features this client implements (WAMP spec,
// advanced/features.md). Keep in sync with the code.
func clientRoles(ppt bool) map[string]any {
	roles := protocol.Roles{
		protocol.RoleCaller: {
			protocol.FeatureCallCanceling:              true,
			protocol.FeatureCallTimeout:                true,
			protocol.FeatureCallerIdentification:       true,
			protocol.FeatureProgressiveCallResults:     true,
			protocol.FeatureProgressiveCallInvocations: true,
		},
		protocol.RoleCallee: {
			protocol.FeatureCallCanceling:              true,
			protocol.FeatureCallerIdentification:       true,
			protocol.FeaturePatternBasedRegistration:   true,
			protocol.FeatureProgressiveCallResults:     true,
			protocol.FeatureProgressiveCallInvocations: true,
			protocol.FeatureSharedRegistration:         true,
		},
		protocol.RolePublisher: {
			protocol.FeaturePublisherExclusion:          true,
			protocol.FeaturePublisherIdentification:     true,
			protocol.FeatureSubscriberBlackWhiteListing: true,
		},
		protocol.RoleSubscriber: {
			protocol.FeaturePatternBasedSubscription: true,
			protocol.FeaturePublisherIdentification:  true,
		},
	}
	if ppt {
		for _, fs := range roles {
			fs[protocol.FeaturePayloadPassthruMode] = true
		}
	}
	return roles.Dict() // nested values are map[string]any, like decoded ones
}
