package bridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/bridge"
	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

const (
	backendToken    = "backend-token-0123456789abcdef"
	restrictedToken = "restricted-token-0123456789abcdef"
)

// env is a router with one realm whose permissions let role "backend"
// call and publish under com.example., role "restricted" only publish
// under com.example.public., and anonymous sessions subscribe and
// register; a bridge for both roles; and an HTTP server with the
// router's WebSocket endpoint at /ws and the bridge under /bridge/, on
// 127.0.0.1.
type env struct {
	r      *router.Router
	b      *bridge.Bridge
	srv    *httptest.Server
	wsURL  string
	bridge string // the bridge's base URL
}

func newEnv(tb testing.TB, callTimeout time.Duration) *env {
	tb.Helper()
	return newEnvWith(tb, func(c *bridge.Config) { c.CallTimeout = callTimeout })
}

// newEnvWith is newEnv with the bridge's configuration adjusted by tweak.
func newEnvWith(tb testing.TB, tweak func(*bridge.Config)) *env {
	tb.Helper()
	authz, err := router.NewRoleAuthorizer(map[string][]router.Permission{
		"anonymous": {
			{URI: "com.example.", Match: protocol.MatchPrefix, Subscribe: true, Register: true},
			{URI: "wamp.session.", Match: protocol.MatchPrefix, Call: true},
		},
		"backend": {{URI: "com.example.", Match: protocol.MatchPrefix, Call: true, Publish: true}},
		"restricted": {
			{URI: "com.example.public.", Match: protocol.MatchPrefix, Publish: true},
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	auth := bridge.NewAuthenticator()
	r, err := router.New(router.Config{
		Logger: slog.New(slog.DiscardHandler),
		Realms: []router.RealmConfig{{
			Name:           "realm1",
			Authenticators: []router.Authenticator{router.Anonymous{}, auth},
			Authorizer:     authz,
		}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	cfg := bridge.Config{
		Router:        r,
		Authenticator: auth,
		MaxBodyBytes:  4096,
		Logger:        slog.New(slog.DiscardHandler),
		Principals: []bridge.Principal{
			{Token: backendToken, Realm: "realm1", AuthID: "webhook", AuthRole: "backend"},
			{Token: restrictedToken, Realm: "realm1", AuthID: "cron", AuthRole: "restricted"},
		},
	}
	tweak(&cfg)
	b, err := bridge.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", r.Handler())
	mux.Handle("/bridge/", http.StripPrefix("/bridge", b))
	srv := httptest.NewServer(mux)
	tb.Cleanup(func() {
		srv.Close()
		b.Close()
		r.Close()
	})
	return &env{r: r, b: b, srv: srv, wsURL: "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws", bridge: srv.URL + "/bridge"}
}

// dial joins realm1 over WebSocket, anonymously.
func (e *env) dial(tb testing.TB) *client.Client {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, e.wsURL, client.Config{Realm: "realm1", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// post sends body to the bridge's path with token and returns the status
// and the decoded JSON answer.
func (e *env) post(tb testing.TB, path, token, contentType, body string) (int, map[string]any) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, e.bridge+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return do(tb, req)
}

func do(tb testing.TB, req *http.Request) (int, map[string]any) {
	tb.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		tb.Fatalf("%s %s: Content-Type %q, want application/json (body %s)", req.Method, req.URL.Path, ct, data)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		tb.Fatalf("%s %s: body %q: %v", req.Method, req.URL.Path, data, err)
	}
	return resp.StatusCode, out
}

func TestPublishReachesWebSocketSubscriber(t *testing.T) {
	e := newEnv(t, 0)
	sub := e.dial(t)
	events := make(chan *client.Event, 1)
	ctx := context.Background()
	if _, err := sub.Subscribe(ctx, "com.example.news", func(ev *client.Event) { events <- ev }, nil); err != nil {
		t.Fatal(err)
	}
	status, body := e.post(t, "/publish", backendToken, "application/json",
		`{"topic": "com.example.news", "args": ["hello", 42, 1.5], "kwargs": {"n": {"deep": [7]}}}`)
	if status != http.StatusOK {
		t.Fatalf("POST /publish = %d %v, want 200", status, body)
	}
	id, ok := body["id"].(float64)
	if !ok || id < 1 {
		t.Errorf("POST /publish answered %v, want a publication id", body)
	}
	select {
	case ev := <-events:
		// Integers arrive as integers (the JSON serializer decodes them
		// as int64 or uint64), not as floats.
		if diff := cmp.Diff(protocol.List{"hello", int64(42), 1.5}, normalizeInts(ev.Args)); diff != "" {
			t.Errorf("event args mismatch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(protocol.Dict{"n": map[string]any{"deep": []any{int64(7)}}}, normalizeInts(ev.Kwargs)); diff != "" {
			t.Errorf("event kwargs mismatch (-want +got):\n%s", diff)
		}
		if uint64(ev.Publication) != uint64(id) {
			t.Errorf("event publication %d, the bridge answered %v", ev.Publication, id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event reached the WebSocket subscriber")
	}
}

// normalizeInts turns the unsigned integers a decoder may give into
// int64, so that comparisons do not depend on the decoder.
func normalizeInts[T any](v T) T {
	var walk func(any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case uint64:
			return int64(x)
		case []any:
			out := make([]any, len(x))
			for i := range x {
				out[i] = walk(x[i])
			}
			return out
		case protocol.List:
			return protocol.List(walk([]any(x)).([]any))
		case map[string]any:
			out := make(map[string]any, len(x))
			for k := range x {
				out[k] = walk(x[k])
			}
			return out
		case protocol.Dict:
			return protocol.Dict(walk(map[string]any(x)).(map[string]any))
		}
		return v
	}
	return walk(any(v)).(T)
}

func TestCallReturnsCalleeResult(t *testing.T) {
	e := newEnv(t, 0)
	callee := e.dial(t)
	ctx := context.Background()
	_, err := callee.Register(ctx, "com.example.add", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		a, _ := protocol.ToInt64(inv.Args[0])
		b, _ := protocol.ToInt64(inv.Args[1])
		return &client.Result{Args: protocol.List{a + b}, Kwargs: protocol.Dict{"caller": inv.Details["caller_authid"]}}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	status, body := e.post(t, "/call", backendToken, "", `{"procedure": "com.example.add", "args": [2, 3], "options": {"disclose_me": true}}`)
	if status != http.StatusOK {
		t.Fatalf("POST /call = %d %v, want 200", status, body)
	}
	want := map[string]any{"args": []any{5.0}, "kwargs": map[string]any{"caller": "webhook"}}
	if diff := cmp.Diff(want, body); diff != "" {
		t.Errorf("POST /call mismatch (-want +got):\n%s", diff)
	}
}

func TestDeniedCallIs403WithURI(t *testing.T) {
	e := newEnv(t, 0)
	callee := e.dial(t)
	called := make(chan struct{}, 1)
	_, err := callee.Register(context.Background(), "com.example.add", func(context.Context, *client.Invocation) (*client.Result, error) {
		called <- struct{}{}
		return &client.Result{}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	status, body := e.post(t, "/call", restrictedToken, "application/json", `{"procedure": "com.example.add", "args": [2, 3]}`)
	if status != http.StatusForbidden || body["error"] != string(protocol.ErrNotAuthorized) {
		t.Errorf("POST /call by a role without call = %d %v, want 403 %s", status, body, protocol.ErrNotAuthorized)
	}
	status, body = e.post(t, "/publish", restrictedToken, "application/json", `{"topic": "com.example.news"}`)
	if status != http.StatusForbidden || body["error"] != string(protocol.ErrNotAuthorized) {
		t.Errorf("POST /publish by a role without publish = %d %v, want 403 %s", status, body, protocol.ErrNotAuthorized)
	}
	status, body = e.post(t, "/publish", restrictedToken, "application/json", `{"topic": "com.example.public.news"}`)
	if status != http.StatusOK {
		t.Errorf("POST /publish of an allowed topic = %d %v, want 200", status, body)
	}
	select {
	case <-called:
		t.Error("the denied call reached the callee")
	default:
	}
}

func TestBadRequests(t *testing.T) {
	e := newEnv(t, 0)
	callee := e.dial(t)
	ctx := context.Background()
	_, err := callee.Register(ctx, "com.example.fail", func(context.Context, *client.Invocation) (*client.Result, error) {
		return nil, &protocol.Error{URI: "com.example.error.out_of_stock", Args: protocol.List{"none left"}}
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		path        string
		token       string
		contentType string
		body        string
		status      int
		uri         string
	}{
		{"not JSON", "/publish", backendToken, "", `{"topic": `, 400, "wamp.error.invalid_argument"},
		{"unknown key", "/publish", backendToken, "", `{"topic": "com.example.a", "argz": []}`, 400, "wamp.error.invalid_argument"},
		{"no topic", "/publish", backendToken, "", `{"args": []}`, 400, "wamp.error.invalid_argument"},
		{"procedure to publish", "/publish", backendToken, "", `{"procedure": "com.example.a"}`, 400, "wamp.error.invalid_argument"},
		{"args not a list", "/call", backendToken, "", `{"procedure": "com.example.a", "args": {"a": 1}}`, 400, "wamp.error.invalid_argument"},
		{"two values", "/call", backendToken, "", `{"procedure": "com.example.a"} {}`, 400, "wamp.error.invalid_argument"},
		{"a list", "/call", backendToken, "", `[]`, 400, "wamp.error.invalid_argument"},
		{"bad URI", "/call", backendToken, "", `{"procedure": "com..example"}`, 400, "wamp.error.invalid_uri"},
		{"bad option", "/call", backendToken, "", `{"procedure": "com.example.fail", "options": {"timeout": -1}}`, 400, "wamp.error.invalid_argument"},
		{"too large", "/publish", backendToken, "", `{"topic": "com.example.a", "args": ["` + strings.Repeat("x", 5000) + `"]}`, 413, "wamp.error.payload_size_exceeded"},
		{"text/plain", "/publish", backendToken, "text/plain", `{"topic": "com.example.a"}`, 415, "wampkit.bridge.error.bad_request"},
		{"no token", "/publish", "", "", `{"topic": "com.example.a"}`, 401, "wamp.error.authentication_required"},
		{"wrong token", "/publish", backendToken + "x", "", `{"topic": "com.example.a"}`, 401, "wamp.error.authentication_required"},
		{"unknown path", "/subscribe", backendToken, "", `{"topic": "com.example.a"}`, 404, "wampkit.bridge.error.not_found"},
		{"no such procedure", "/call", backendToken, "", `{"procedure": "com.example.nobody"}`, 404, "wamp.error.no_such_procedure"},
		{"application error", "/call", backendToken, "", `{"procedure": "com.example.fail"}`, 502, "com.example.error.out_of_stock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.post(t, tt.path, tt.token, tt.contentType, tt.body)
			if status != tt.status || body["error"] != tt.uri {
				t.Errorf("POST %s %s = %d %v, want %d %s", tt.path, tt.body[:min(len(tt.body), 60)], status, body, tt.status, tt.uri)
			}
		})
	}

	t.Run("GET", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, e.bridge+"/call", nil)
		req.Header.Set("Authorization", "Bearer "+backendToken)
		status, body := do(t, req)
		if status != http.StatusMethodNotAllowed {
			t.Errorf("GET /call = %d %v, want 405", status, body)
		}
	})
	t.Run("application error payload", func(t *testing.T) {
		_, body := e.post(t, "/call", backendToken, "", `{"procedure": "com.example.fail"}`)
		if diff := cmp.Diff([]any{"none left"}, body["args"]); diff != "" {
			t.Errorf("error args mismatch (-want +got):\n%s", diff)
		}
	})
}

func TestCallTimeoutIs504(t *testing.T) {
	e := newEnv(t, 100*time.Millisecond)
	callee := e.dial(t)
	canceled := make(chan struct{})
	_, err := callee.Register(context.Background(), "com.example.slow", func(ctx context.Context, _ *client.Invocation) (*client.Result, error) {
		<-ctx.Done() // until the bridge gives up and cancels
		close(canceled)
		return nil, ctx.Err()
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	status, body := e.post(t, "/call", backendToken, "", `{"procedure": "com.example.slow"}`)
	if status != http.StatusGatewayTimeout || body["error"] != string(protocol.ErrTimeout) {
		t.Errorf("POST /call of a callee that never answers = %d %v, want 504 %s", status, body, protocol.ErrTimeout)
	}
	select {
	case <-canceled:
	case <-time.After(10 * time.Second):
		t.Error("the callee's invocation was not canceled")
	}
}

func TestKilledSessionIsJoinedAgain(t *testing.T) {
	e := newEnv(t, 0)
	admin := e.dial(t)
	ctx := context.Background()
	if status, body := e.post(t, "/publish", backendToken, "", `{"topic": "com.example.news"}`); status != http.StatusOK {
		t.Fatalf("POST /publish = %d %v", status, body)
	}
	res, err := admin.Call(ctx, "wamp.session.kill_by_authid", "webhook")
	if err != nil {
		t.Fatal(err)
	}
	if killed, _ := res.Args[0].([]any); len(killed) != 1 {
		t.Fatalf("kill_by_authid(webhook) killed %v, want the bridge's session", res.Args)
	}
	// The bridge learns of the kill when its session reads the GOODBYE;
	// from then on a request joins a new session.
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, body := e.post(t, "/publish", backendToken, "", `{"topic": "com.example.news"}`)
		if status == http.StatusOK {
			break
		}
		if status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("POST /publish after the kill = %d %v, want 200 (or 503 while the kill is under way)", status, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	res, err = admin.Call(ctx, "wamp.session.list", []any{"backend"})
	if err != nil {
		t.Fatal(err)
	}
	if ids, _ := res.Args[0].([]any); len(ids) != 1 {
		t.Errorf("sessions of role backend after the rejoin: %v, want one", res.Args)
	}
}

func TestClosedBridgeAnswers503(t *testing.T) {
	e := newEnv(t, 0)
	if status, body := e.post(t, "/publish", backendToken, "", `{"topic": "com.example.news"}`); status != http.StatusOK {
		t.Fatalf("POST /publish = %d %v", status, body)
	}
	e.b.Close()
	status, body := e.post(t, "/publish", backendToken, "", `{"topic": "com.example.news"}`)
	if status != http.StatusServiceUnavailable || body["error"] != string(protocol.ErrUnavailable) {
		t.Errorf("POST /publish after Close = %d %v, want 503 %s", status, body, protocol.ErrUnavailable)
	}
}

func TestAuthenticatorRefusesNetworkClients(t *testing.T) {
	e := newEnv(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := client.Dial(ctx, e.wsURL, client.Config{
		Realm:     "realm1",
		AuthID:    "webhook",
		AuthExtra: protocol.Dict{"bridge_key": "00000000000000000000000000000000"},
		Auth: []client.Authenticator{client.AuthFunc(bridge.AuthMethod, func(context.Context, *protocol.Challenge) (*protocol.Authenticate, error) {
			return &protocol.Authenticate{}, nil
		})},
		Logger: slog.New(slog.DiscardHandler),
	})
	var abort *client.AbortError
	if !errors.As(err, &abort) || abort.Reason != protocol.ErrAuthenticationDenied {
		t.Errorf("Dial with authmethod %s over WebSocket: %v, want ABORT %s", bridge.AuthMethod, err, protocol.ErrAuthenticationDenied)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	r, err := router.New(router.Config{Realms: []router.RealmConfig{{Name: "realm1"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	auth := bridge.NewAuthenticator()
	good := bridge.Principal{Token: backendToken, Realm: "realm1"}
	tests := []struct {
		name string
		cfg  bridge.Config
	}{
		{"no router", bridge.Config{Authenticator: auth, Principals: []bridge.Principal{good}}},
		{"no authenticator", bridge.Config{Router: r, Principals: []bridge.Principal{good}}},
		{"no principals", bridge.Config{Router: r, Authenticator: auth}},
		{"short token", bridge.Config{Router: r, Authenticator: auth, Principals: []bridge.Principal{{Token: "short", Realm: "realm1"}}}},
		{"bad realm", bridge.Config{Router: r, Authenticator: auth, Principals: []bridge.Principal{{Token: backendToken, Realm: "a..b"}}}},
		{"same token twice", bridge.Config{Router: r, Authenticator: auth, Principals: []bridge.Principal{good, good}}},
		{"negative body size", bridge.Config{Router: r, Authenticator: auth, Principals: []bridge.Principal{good}, MaxBodyBytes: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := bridge.New(tt.cfg); !errors.Is(err, bridge.ErrConfig) {
				t.Errorf("New() error = %v, want ErrConfig", err)
			}
		})
	}
}
