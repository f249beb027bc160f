package bridge

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/internal/throttle"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/transport"
)

// Defaults of [Config].
const (
	// DefaultMaxBodyBytes is the default of Config.MaxBodyBytes: the
	// router's default largest message.
	DefaultMaxBodyBytes = 1 << 20
	// DefaultCallTimeout is the default of Config.CallTimeout.
	DefaultCallTimeout = 30 * time.Second
	// MinTokenLength is the shortest bearer token New accepts, in bytes:
	// tokens are secrets that can be guessed at HTTP speed; [Throttle]
	// slows that down per client address, not an attacker with many.
	MinTokenLength = 16
)

var (
	// ErrConfig is wrapped by the error New returns for a Config it
	// cannot use.
	ErrConfig = errors.New("bridge: bad configuration")
	// ErrClosed is the cause of the 503 answers after [Bridge.Close].
	ErrClosed = errors.New("bridge: closed")
)

// ErrTimeout is the error URI of a 504 answer when no result came within
// Config.CallTimeout or the request was given up by its client.
const ErrTimeout protocol.URI = protocol.ErrTimeout

// Principal maps a bearer token to the identity the bridge publishes and
// calls with.
type Principal struct {
	// Token is the bearer token (Authorization: Bearer <token>): a secret
	// of at least MinTokenLength bytes, such as 32 random bytes in hex.
	// Tokens must be unique.
	Token string
	// Realm is the realm the principal publishes and calls in. Its
	// Authenticators must include the bridge's [Authenticator].
	Realm protocol.URI
	// AuthID is the session's authid. Empty means "bridge".
	AuthID string
	// AuthRole is the session's authrole, whose permissions the realm's
	// Authorizer applies. Empty means "bridge".
	AuthRole string
}

// Config configures a [Bridge]. It is passed by value to [New], which
// fills in the defaults on its copy.
type Config struct {
	// Router is the router the bridge publishes and calls through.
	// Required.
	Router *router.Router
	// Authenticator admits the bridge's sessions; it must be among the
	// Authenticators of every realm a principal names. Required.
	Authenticator *Authenticator
	// Principals lists who may use the bridge. Required (at least one).
	Principals []Principal
	// MaxBodyBytes bounds a request's body; a larger one is answered 413.
	// Zero means DefaultMaxBodyBytes; negative is an error.
	MaxBodyBytes int64
	// CallTimeout bounds the wait for a call's result (and for a
	// publication's acknowledgement); past it the call is canceled and
	// answered 504. Zero means DefaultCallTimeout; negative means no
	// limit but the request's own (its client going away). An HTTP
	// server's WriteTimeout should be longer.
	CallTimeout time.Duration
	// Throttle limits the requests with a wrong bearer token per client
	// address (see [Throttle]). The zero value is a safe default.
	Throttle Throttle
	// Logger receives what the bridge could not do for a reason of its
	// own (a join refused, a response not written) and the start of the
	// throttling of an address. Nil means slog.Default().
	Logger *slog.Logger
}

// Bridge is the HTTP bridge: an http.Handler (see the package
// documentation). Make one with [New]; it is safe for concurrent use.
type Bridge struct {
	cfg     Config
	byToken map[[sha256.Size]byte]*principal // read-only after New
	mux     *http.ServeMux
	fails   throttle.Table[netip.Addr] // wrong tokens per client address

	// mu guards closed. Lock order: principal.mu, then mu.
	mu     sync.Mutex
	closed bool
}

// principal is a Principal with its session.
type principal struct {
	Principal
	mu sync.Mutex     // serializes joins and Close
	c  *client.Client // guarded by mu: the session, or nil
}

// New checks cfg and returns a Bridge. It joins no session yet: each
// principal's is joined on its first request. The caller must call
// [Bridge.Close].
func New(cfg Config) (*Bridge, error) {
	switch {
	case cfg.Router == nil:
		return nil, fmt.Errorf("%w: no Router", ErrConfig)
	case cfg.Authenticator == nil:
		return nil, fmt.Errorf("%w: no Authenticator", ErrConfig)
	case len(cfg.Principals) == 0:
		return nil, fmt.Errorf("%w: no principal", ErrConfig)
	case cfg.MaxBodyBytes < 0:
		return nil, fmt.Errorf("%w: MaxBodyBytes %d is negative", ErrConfig, cfg.MaxBodyBytes)
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	b := &Bridge{cfg: cfg, byToken: make(map[[sha256.Size]byte]*principal, len(cfg.Principals))}
	cfg.Throttle.init(&b.fails)
	for i, p := range cfg.Principals {
		if len(p.Token) < MinTokenLength {
			return nil, fmt.Errorf("%w: principal %d (authid %q): token shorter than %d bytes", ErrConfig, i+1, p.AuthID, MinTokenLength)
		}
		if err := protocol.CheckURI(p.Realm, false); err != nil {
			return nil, fmt.Errorf("%w: principal %d (authid %q): realm: %w", ErrConfig, i+1, p.AuthID, err)
		}
		if p.AuthID == "" {
			p.AuthID = "bridge"
		}
		if p.AuthRole == "" {
			p.AuthRole = "bridge"
		}
		h := sha256.Sum256([]byte(p.Token))
		if b.byToken[h] != nil {
			return nil, fmt.Errorf("%w: principal %d (authid %q): token used twice", ErrConfig, i+1, p.AuthID)
		}
		b.byToken[h] = &principal{Principal: p}
	}
	b.mux = http.NewServeMux()
	b.mux.HandleFunc("/publish", b.publish)
	b.mux.HandleFunc("/call", b.call)
	b.mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "wampkit.bridge.error.not_found", "the bridge serves POST /publish and POST /call", nil, nil)
	})
	return b, nil
}

// ServeHTTP answers POST /publish and POST /call (see the package
// documentation).
func (b *Bridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mux.ServeHTTP(w, r)
}

// Close closes the bridge's sessions and makes later requests fail with
// 503. Requests under way fail (503) as their session ends. It returns
// once every session has ended; it may be called more than once.
func (b *Bridge) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	for _, p := range b.byToken {
		p.mu.Lock()
		if p.c != nil {
			_ = p.c.Close() // a session killed earlier reports that: fine
			p.c = nil
		}
		p.mu.Unlock()
	}
	return nil
}

// session returns p's session, joining it if it has none or it ended.
func (b *Bridge) session(ctx context.Context, p *principal) (*client.Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if p.c != nil {
		select {
		case <-p.c.Done():
			_ = p.c.Close()
			p.c = nil
		default:
			return p.c, nil
		}
	}
	key, forget := b.cfg.Authenticator.expect(router.Identity{AuthID: p.AuthID, AuthRole: p.AuthRole, AuthMethod: AuthMethod})
	defer forget()
	peer, err := b.cfg.Router.Connect(ctx)
	if err != nil {
		return nil, err
	}
	c, err := client.Join(ctx, peer, client.Config{
		Realm:     p.Realm,
		Agent:     "wampkit-bridge",
		AuthID:    p.AuthID,
		AuthExtra: protocol.Dict{authKeyExtra: key},
		Auth:      []client.Authenticator{client.AuthFunc(AuthMethod, noChallenge)},
		Logger:    b.cfg.Logger,
	})
	if err != nil {
		peer.Close(err)
		return nil, err
	}
	p.c = c
	return c, nil
}

// noChallenge answers a CHALLENGE, which the bridge's Authenticator never
// sends.
func noChallenge(context.Context, *protocol.Challenge) (*protocol.Authenticate, error) {
	return nil, errors.New("bridge: unexpected challenge")
}

// request is the body of POST /publish and POST /call.
type request struct {
	Topic     string         `json:"topic,omitempty"`
	Procedure string         `json:"procedure,omitempty"`
	Args      []any          `json:"args"`
	Kwargs    map[string]any `json:"kwargs"`
	Options   map[string]any `json:"options"`
}

// begin checks the method, the token and the body of a request. It
// answers failures itself and then returns nil.
func (b *Bridge) begin(w http.ResponseWriter, r *http.Request, uriKey string) (*principal, *request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "wampkit.bridge.error.method_not_allowed", "use POST", nil, nil)
		return nil, nil
	}
	if b.throttled(w, r) {
		return nil, nil
	}
	p, guessed := b.authenticate(r)
	if p == nil {
		if guessed {
			b.failed(r)
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="wampkit-bridge"`)
		writeError(w, http.StatusUnauthorized, protocol.ErrAuthenticationRequired, "a valid bearer token is required (Authorization: Bearer <token>)", nil, nil)
		return nil, nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			writeError(w, http.StatusUnsupportedMediaType, "wampkit.bridge.error.bad_request", "Content-Type must be application/json", nil, nil)
			return nil, nil
		}
	}
	var req request
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, b.cfg.MaxBodyBytes))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	err := dec.Decode(&req)
	if err == nil && dec.Decode(new(json.RawMessage)) != io.EOF {
		err = errors.New("more than one JSON value")
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, protocol.ErrPayloadSizeExceeded,
			"the body is larger than "+strconv.FormatInt(tooBig.Limit, 10)+" bytes", nil, nil)
		return nil, nil
	case err != nil:
		writeError(w, http.StatusBadRequest, protocol.ErrInvalidArgument, "body: "+err.Error(), nil, nil)
		return nil, nil
	}
	uri := req.Topic
	other := req.Procedure
	if uriKey == "procedure" {
		uri, other = req.Procedure, req.Topic
	}
	if uri == "" || other != "" {
		writeError(w, http.StatusBadRequest, protocol.ErrInvalidArgument, "body: want a "+uriKey+" (and no other URI)", nil, nil)
		return nil, nil
	}
	if err := protocol.CheckURI(protocol.URI(uri), false); err != nil {
		writeError(w, http.StatusBadRequest, protocol.ErrInvalidURI, err.Error(), nil, nil)
		return nil, nil
	}
	normalizeList(req.Args)
	normalizeDict(req.Kwargs)
	normalizeDict(req.Options)
	return p, &req
}

// authenticate returns the principal of the request's bearer token, or
// nil and whether the request carried a token (a wrong one, then).
// Tokens are compared by their SHA-256 hashes, so that the time a lookup
// takes says nothing about how much of a token was right.
func (b *Bridge) authenticate(r *http.Request) (*principal, bool) {
	const prefix = "Bearer "
	h := r.Header.Get("Authorization")
	if len(h) <= len(prefix) || !equalFold(h[:len(prefix)], prefix) {
		return nil, false
	}
	return b.byToken[sha256.Sum256([]byte(h[len(prefix):]))], true
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i]|0x20, b[i]|0x20
		if x != y {
			return false
		}
	}
	return true
}

func (b *Bridge) publish(w http.ResponseWriter, r *http.Request) {
	p, req := b.begin(w, r, "topic")
	if p == nil {
		return
	}
	ctx, cancel := b.timeout(r.Context())
	defer cancel()
	c, err := b.session(ctx, p)
	if err != nil {
		b.fail(w, p, err)
		return
	}
	id, err := c.DoPublish(ctx, &client.PublishRequest{Topic: protocol.URI(req.Topic), Args: req.Args,
		Kwargs: req.Kwargs, Options: req.Options, Acknowledge: true})
	if err != nil {
		b.fail(w, p, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": uint64(id)})
}

func (b *Bridge) call(w http.ResponseWriter, r *http.Request) {
	p, req := b.begin(w, r, "procedure")
	if p == nil {
		return
	}
	ctx, cancel := b.timeout(r.Context())
	defer cancel()
	c, err := b.session(ctx, p)
	if err != nil {
		b.fail(w, p, err)
		return
	}
	res, err := c.Do(ctx, &client.CallRequest{Procedure: protocol.URI(req.Procedure), Args: req.Args,
		Kwargs: req.Kwargs, Options: req.Options})
	if err != nil {
		b.fail(w, p, err)
		return
	}
	out := map[string]any{"args": res.Args, "kwargs": res.Kwargs}
	if res.Args == nil {
		out["args"] = []any{}
	}
	if res.Kwargs == nil {
		out["kwargs"] = map[string]any{}
	}
	writeJSON(w, http.StatusOK, out)
}

// timeout bounds ctx by Config.CallTimeout.
func (b *Bridge) timeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if b.cfg.CallTimeout < 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, b.cfg.CallTimeout)
}

// fail answers a request that failed with err.
func (b *Bridge) fail(w http.ResponseWriter, p *principal, err error) {
	var werr *protocol.Error
	var abort *client.AbortError
	switch {
	case errors.As(err, &werr):
		msg, _ := werr.Details["message"].(string)
		writeError(w, StatusOf(werr.URI), werr.URI, msg, werr.Args, werr.Kwargs)
	case errors.Is(err, protocol.ErrMalformed):
		// The client checks a request before it sends it.
		writeError(w, http.StatusBadRequest, protocol.ErrInvalidArgument, err.Error(), nil, nil)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		writeError(w, http.StatusGatewayTimeout, ErrTimeout, "no answer within the bridge's call timeout", nil, nil)
	case errors.As(err, &abort):
		b.cfg.Logger.Warn("bridge: join refused", "realm", string(p.Realm), "authid", p.AuthID,
			"error", abort)
		writeError(w, http.StatusServiceUnavailable, abort.Reason, "the bridge cannot join the realm", nil, nil)
	case errors.Is(err, transport.ErrQueueFull):
		writeError(w, http.StatusServiceUnavailable, protocol.ErrUnavailable, "the bridge's session is busy; try again", nil, nil)
	default:
		// The bridge closed, the session was killed, the router shuts
		// down: the request may be retried.
		if !errors.Is(err, ErrClosed) && !errors.Is(err, client.ErrClosed) && !errors.Is(err, router.ErrClosed) {
			b.cfg.Logger.Warn("bridge: request failed", "realm", string(p.Realm), "authid", p.AuthID, "error", err)
		}
		writeError(w, http.StatusServiceUnavailable, protocol.ErrUnavailable, "the bridge's session is not available", nil, nil)
	}
}

// StatusOf returns the HTTP status of a request that failed with the
// WAMP error uri (see the package documentation); an error URI a callee
// chose itself gives 502 Bad Gateway.
func StatusOf(uri protocol.URI) int {
	switch uri {
	case protocol.ErrNotAuthorized, protocol.ErrAuthorizationFailed, protocol.ErrAuthorizationDenied,
		protocol.ErrOptionNotAllowed, protocol.ErrOptionDisallowedDisclose:
		return http.StatusForbidden
	case protocol.ErrNoSuchProcedure:
		return http.StatusNotFound
	case protocol.ErrInvalidURI, protocol.ErrInvalidArgument, protocol.ErrFeatureNotSupported:
		return http.StatusBadRequest
	case protocol.ErrPayloadSizeExceeded:
		return http.StatusRequestEntityTooLarge
	case router.LimitExceeded:
		return http.StatusTooManyRequests
	case protocol.ErrNoAvailableCallee, protocol.ErrUnavailable, protocol.ErrNetworkFailure, protocol.ErrNoSuchRealm:
		return http.StatusServiceUnavailable
	case protocol.ErrTimeout, protocol.ErrCanceled:
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

// writeError writes the JSON error answer.
func writeError(w http.ResponseWriter, status int, uri protocol.URI, msg string, args protocol.List, kwargs protocol.Dict) {
	body := map[string]any{"error": string(uri)}
	if msg != "" {
		body["message"] = msg
	}
	if len(args) > 0 {
		body["args"] = args
	}
	if len(kwargs) > 0 {
		body["kwargs"] = kwargs
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		// A value a callee returned that JSON cannot carry (a NaN).
		status = http.StatusBadGateway
		data, _ = json.Marshal(map[string]any{"error": string(protocol.ErrInvalidArgument),
			"message": "the result cannot be written as JSON: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(data, '\n'))
}

// normalizeList and normalizeDict replace the json.Numbers of a decoded
// body in place: integers become int64 (uint64 above its range), other
// numbers float64, so that other serializers send them as numbers.
func normalizeList(l []any) {
	for i, v := range l {
		l[i] = normalize(v)
	}
}

func normalizeDict(d map[string]any) {
	for k, v := range d {
		d[k] = normalize(v)
	}
}

func normalize(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i
		}
		if u, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			return u
		}
		f, _ := x.Float64() // json.Decoder checked the syntax
		return f
	case []any:
		normalizeList(x)
	case map[string]any:
		normalizeDict(x)
	}
	return v
}
