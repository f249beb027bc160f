package main

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
)

// reloadV1 and reloadV2 are a configuration before and after an edit:
// role user loses subscribe on com.example. and call on com.example.add;
// alice's ticket (in a file) changes, carol is added, dave removed, erin
// becomes a backend; the log level changes (applied) and so do
// max_pending_calls and a realm's trust levels (both need a restart).
const reloadV1 = `
log: {level: info, format: json}
max_pending_calls: 100
realms:
  - name: com.example.app
    ticket:
      alice: {secret: {file: ALICE_FILE}}
      bob: {secret: bob-ticket, role: backend}
      dave: {secret: dave-ticket}
      erin: {secret: erin-ticket}
    permissions:
      user:
        - {uri: com.example., match: prefix, allow: [call, subscribe]}
      backend:
        - {uri: com.example., match: prefix, allow: [call, register, publish, subscribe]}
`

const reloadV2 = `
log: {level: debug, format: json}
max_pending_calls: 200
realms:
  - name: com.example.app
    trust_levels: {backend: 1}
    ticket:
      alice: {secret: {file: ALICE_FILE}}
      bob: {secret: bob-ticket, role: backend}
      carol: {secret: carol-ticket}
      erin: {secret: erin-ticket, role: backend}
    permissions:
      user:
        - {uri: com.example., match: prefix, allow: [call]}
        - {uri: com.example.add, allow: []}
      backend:
        - {uri: com.example., match: prefix, allow: [call, register, publish, subscribe]}
`

// TestMain_Reload: what SIGHUP does. A reload changes permissions for
// new calls and revokes a subscription no longer allowed, changes
// principals for new logins, drops no session, logs what changed (and
// what needs a restart) without secrets, and counts reloads; an invalid
// file changes nothing.
func TestMain_Reload(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	aliceFile := filepath.Join(dir, "alice.ticket")
	writeFile(t, aliceFile, "alice-ticket-1\n")
	path := filepath.Join(dir, "wampd.yaml")
	writeFile(t, path, strings.ReplaceAll(reloadV1, "ALICE_FILE", aliceFile))
	m, _, logs := mustRunMain(t, "-config", path, "-ws", "127.0.0.1:0", "-rawsocket", "", "-admin", "127.0.0.1:0")
	defer m.Close() // before goleak looks
	ctx := context.Background()
	const realm = "com.example.app"
	ticket := func(authid, secret string) client.Config {
		return client.Config{Realm: realm, AuthID: authid, Auth: []client.Authenticator{client.TicketAuth(secret)}}
	}

	bob := mustJoin(t, m, ticket("bob", "bob-ticket"))
	defer bob.Close()
	echo := func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Args: inv.Args}, nil
	}
	for _, proc := range []protocol.URI{"com.example.add", "com.example.echo"} {
		if _, err := bob.Register(ctx, proc, echo, nil); err != nil {
			t.Fatalf("Register(%s) = %v", proc, err)
		}
	}
	alice := mustJoin(t, m, ticket("alice", "alice-ticket-1"))
	defer alice.Close()
	if _, err := alice.Call(ctx, "com.example.add", 1); err != nil {
		t.Fatalf("Call(add) before the reload = %v", err)
	}
	// A second session of alice subscribes, on the wire, announcing
	// subscription revocation (spec advanced "Subscription Revocation").
	conn := dialWS(t, m.WebSocketURL(), nil)
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(30 * time.Second)) // fail, not hang, if nothing comes
	writeWS(t, conn, `[1,"`+realm+`",{"authid":"alice","authmethods":["ticket"],`+
		`"roles":{"subscriber":{"features":{"subscription_revocation":true}}}}]`)
	if msg := readWS(t, conn); msg[0] != float64(4) {
		t.Fatalf("HELLO: got %v, want CHALLENGE", msg)
	}
	writeWS(t, conn, `[5,"alice-ticket-1",{}]`)
	if msg := readWS(t, conn); msg[0] != float64(2) {
		t.Fatalf("AUTHENTICATE: got %v, want WELCOME", msg)
	}
	writeWS(t, conn, `[32,1,{},"com.example.news"]`)
	subscribed := readWS(t, conn)
	if subscribed[0] != float64(33) {
		t.Fatalf("SUBSCRIBE: got %v, want SUBSCRIBED", subscribed)
	}
	admin := "http://" + m.AdminAddr().String()
	if n := scrape(t, admin)[`wampkit_router_subscriptions{realm="`+realm+`"}`]; n != 1 {
		t.Fatalf("%v subscriptions before the reload, want 1", n)
	}

	writeFile(t, aliceFile, "alice-ticket-2\n")
	writeFile(t, path, strings.ReplaceAll(reloadV2, "ALICE_FILE", aliceFile))
	if err := m.Reload(ctx); err != nil {
		t.Fatalf("Reload() = %v", err)
	}

	// alice is still joined; her new calls follow the new permissions.
	if _, err := alice.Call(ctx, "com.example.add", 1); !isError(err, protocol.ErrNotAuthorized) {
		t.Errorf("Call(add) after the reload = %v, want ERROR %s", err, protocol.ErrNotAuthorized)
	}
	if _, err := alice.Call(ctx, "com.example.echo", 1); err != nil {
		t.Errorf("Call(echo) after the reload = %v, want a result", err)
	}
	// Her subscription is revoked: UNSUBSCRIBED with request 0.
	revoked := readWS(t, conn)
	wantRevoked := []any{float64(35), float64(0), map[string]any{"subscription": subscribed[2], "reason": "no longer authorized"}}
	if diff := cmp.Diff(wantRevoked, revoked); diff != "" {
		t.Errorf("after the reload the subscriber got (-want +got):\n%s", diff)
	}
	if n := scrape(t, admin)[`wampkit_router_subscriptions{realm="`+realm+`"}`]; n != 0 {
		t.Errorf("%v subscriptions after the reload, want 0", n)
	}
	// bob's registrations are still allowed and still there.
	if _, err := bob.Call(ctx, "com.example.add", 1); err != nil {
		t.Errorf("bob's Call(add) after the reload = %v", err)
	}

	logins := []struct {
		cfg client.Config
		ok  bool
	}{
		{ticket("alice", "alice-ticket-1"), false},
		{ticket("alice", "alice-ticket-2"), true},
		{ticket("carol", "carol-ticket"), true},
		{ticket("dave", "dave-ticket"), false},
	}
	for _, l := range logins {
		c, err := join(t, m, l.cfg)
		if c != nil {
			c.Close()
		}
		if (err == nil) != l.ok {
			t.Errorf("login as %s after the reload: %v, want success %v", l.cfg.AuthID, err, l.ok)
		}
	}
	if c, err := join(t, m, ticket("erin", "erin-ticket")); err != nil {
		t.Errorf("login as erin after the reload: %v", err)
	} else {
		if role := c.WelcomeDetails().String("authrole"); role != "backend" {
			t.Errorf("erin's authrole after the reload = %q, want backend", role)
		}
		c.Close()
	}

	// An invalid file (a role without permissions) changes nothing.
	writeFile(t, path, strings.ReplaceAll(strings.ReplaceAll(reloadV2, "ALICE_FILE", aliceFile), "carol-ticket}", "carol-ticket, role: admn}"))
	if err := m.Reload(ctx); err == nil || !strings.Contains(err.Error(), `role "admn"`) {
		t.Errorf("Reload() of an invalid file = %v, want an error about role admn", err)
	}
	if c, err := join(t, m, ticket("carol", "carol-ticket")); err != nil {
		t.Errorf("login as carol after a failed reload: %v", err)
	} else {
		if role := c.WelcomeDetails().String("authrole"); role != "user" {
			t.Errorf("carol's authrole after a failed reload = %q, want user", role)
		}
		c.Close()
	}

	metrics := scrape(t, admin)
	for name, want := range map[string]float64{
		`wampd_config_reloads_total{result="success"}`: 1,
		`wampd_config_reloads_total{result="failure"}`: 1,
		`wampd_config_last_reload_successful`:          0,
	} {
		if metrics[name] != want {
			t.Errorf("%s = %v, want %v", name, metrics[name], want)
		}
	}

	conn.Close()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	lines := logLines(t, logs.String())
	updated := findLog(lines, "reload: realm updated")
	if updated == nil {
		t.Fatalf("no reload: realm updated line in the log:\n%s", logs)
	}
	want := map[string]any{
		"level": "INFO", "msg": "reload: realm updated", "realm": realm,
		"principals_added":    []any{"ticket:carol"},
		"principals_removed":  []any{"ticket:dave"},
		"roles_changed":       []any{"ticket:erin: user -> backend"},
		"credentials_changed": []any{"ticket:alice"},
		"permissions_changed": []any{"user"},
	}
	delete(updated, "time")
	if diff := cmp.Diff(want, updated); diff != "" {
		t.Errorf("reload: realm updated line mismatch (-want +got):\n%s", diff)
	}
	restart := findLog(lines, "reload: these settings take effect only at a restart; not applied")
	if got, want := restart["settings"], []any{"max_pending_calls", "realms[com.example.app].trust_levels"}; !cmp.Equal(got, want) {
		t.Errorf("settings needing a restart = %v, want %v", got, want)
	}
	if done := findLog(lines, "reload: done"); done["log_level"] != "debug" {
		t.Errorf("reload: done line = %v, want log_level debug", done)
	}
	if findLog(lines, "router: subscription revoked") == nil {
		t.Errorf("the log lacks the revoked subscription")
	}
	if failed := findLog(lines, "reload failed"); failed == nil || failed["level"] != "ERROR" {
		t.Errorf("reload failed line = %v, want one at ERROR", failed)
	}
	for _, secret := range []string{"alice-ticket-1", "alice-ticket-2", "bob-ticket", "carol-ticket", "dave-ticket", "erin-ticket"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log shows the secret %q", secret)
		}
	}
}

// TestMain_ReloadRealmsAndDefaults: realms added or removed need a
// restart; a file that changes nothing says so; a reload without a file
// or after Close does nothing.
func TestMain_ReloadRealmsAndDefaults(t *testing.T) {
	defer goleak.VerifyNone(t)
	path := filepath.Join(t.TempDir(), "wampd.yaml")
	writeFile(t, path, "log: {format: json}\n")
	m, _, logs := mustRunMain(t, "-config", path, "-ws", "127.0.0.1:0", "-rawsocket", "")
	ctx := context.Background()
	if err := m.Reload(ctx); err != nil {
		t.Fatalf("Reload() of the same file = %v", err)
	}
	writeFile(t, path, "log: {format: json}\nrealms:\n  - name: com.example.new\n")
	if err := m.Reload(ctx); err != nil {
		t.Fatalf("Reload() with a new realm = %v", err)
	}
	// The default realm is still served, the new one is not.
	c := mustJoin(t, m, client.Config{Realm: DefaultRealm})
	c.Close()
	if _, err := join(t, m, client.Config{Realm: "com.example.new"}); !isAbort(err, protocol.ErrNoSuchRealm) {
		t.Errorf("join com.example.new after the reload = %v, want ABORT %s", err, protocol.ErrNoSuchRealm)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Reload(ctx); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Reload() after Close = %v, want ErrNotRunning", err)
	}
	lines := logLines(t, logs.String())
	if findLog(lines, "reload: configuration unchanged") == nil {
		t.Errorf("the log lacks the unchanged reload:\n%s", logs)
	}
	restart := findLog(lines, "reload: these settings take effect only at a restart; not applied")
	if got, want := restart["settings"], []any{"realms[realm1] (removed)", "realms[com.example.new] (added)"}; !cmp.Equal(got, want) {
		t.Errorf("settings needing a restart = %v, want %v", got, want)
	}

	nofile, _, _ := mustRunMain(t, "-ws", "127.0.0.1:0", "-rawsocket", "")
	if err := nofile.Reload(ctx); err != nil {
		t.Errorf("Reload() without -config = %v, want nil", err)
	}
	if err := nofile.Close(); err != nil {
		t.Fatal(err)
	}
}

// logLines decodes a JSON log, one object per line.
func logLines(tb testing.TB, log string) []map[string]any {
	tb.Helper()
	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			tb.Fatalf("log line %q is not JSON: %v", line, err)
		}
		lines = append(lines, v)
	}
	return lines
}

// findLog returns the first line whose msg is msg, or nil.
func findLog(lines []map[string]any, msg string) map[string]any {
	for _, l := range lines {
		if l["msg"] == msg {
			return l
		}
	}
	return nil
}
