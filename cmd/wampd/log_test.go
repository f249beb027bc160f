package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
)

// TestMain_LogLines reads wampd's log lines (JSON, level debug, so that
// nothing is left out) for a join, a leave and a wrong ticket, and checks
// what they say and that no ticket appears anywhere in the log.
func TestMain_LogLines(t *testing.T) {
	defer goleak.VerifyNone(t)
	t.Setenv("WAMPD_TEST_ALICE_TICKET", "alice-s3cret-ticket")
	const realm = "com.example.app"
	m, _, logs := mustRunConfig(t, `
log: {level: debug, format: json}
realms:
  - name: com.example.app
    ticket:
      alice: {secret: {env: WAMPD_TEST_ALICE_TICKET}, role: admin}
`)
	c := mustJoin(t, m, client.Config{Realm: realm, AuthID: "alice", Auth: []client.Authenticator{client.TicketAuth("alice-s3cret-ticket")}})
	session := float64(c.SessionID())
	c.Close()
	if c, err := join(t, m, client.Config{Realm: realm, AuthID: "alice", Auth: []client.Authenticator{client.TicketAuth("wrong-guess-ticket")}}); !isAbort(err, protocol.ErrAuthenticationDenied) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("join with a wrong ticket = %v, want ABORT %s", err, protocol.ErrAuthenticationDenied)
	}
	// The leave is logged when the router has ended the session, after
	// the client's Close returned: wait for it.
	deadline := time.Now().Add(10 * time.Second)
	for findLog(logLines(t, logs.String()), "router: session left") == nil {
		if time.Now().After(deadline) {
			t.Fatalf("no leave in the log:\n%s", logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	lines := logLines(t, logs.String())
	joined := findLog(lines, "router: session joined")
	if r, _ := joined["remote"].(string); !strings.HasPrefix(r, "tcp4:127.0.0.1:") {
		t.Errorf("join line: remote %q, want tcp4:127.0.0.1:port", r)
	}
	for _, l := range []map[string]any{joined} {
		delete(l, "time")
		delete(l, "remote")
	}
	if diff := cmp.Diff(map[string]any{"level": "INFO", "msg": "router: session joined", "session": session, "realm": realm,
		"authid": "alice", "authrole": "admin", "authmethod": "ticket", "transport": "websocket"}, joined); diff != "" {
		t.Errorf("join line mismatch (-want +got):\n%s", diff)
	}
	left := findLog(lines, "router: session left")
	if left["level"] != "INFO" || left["session"] != session || left["realm"] != realm || left["authid"] != "alice" ||
		left["reason"] == "" || left["duration"] == nil {
		t.Errorf("leave line = %v, want INFO with session %v, realm, authid alice, reason and duration", left, session)
	}
	// In: HELLO, AUTHENTICATE, GOODBYE; out: CHALLENGE, WELCOME, GOODBYE.
	if left["messages_in"] != float64(3) || left["messages_out"] != float64(3) {
		t.Errorf("leave line: messages_in %v, messages_out %v; want 3 and 3", left["messages_in"], left["messages_out"])
	}
	failed := findLog(lines, "router: authentication failed")
	if failed == nil {
		t.Fatalf("no authentication failure in the log:\n%s", logs)
	}
	if r, _ := failed["remote"].(string); !strings.HasPrefix(r, "tcp4:127.0.0.1:") {
		t.Errorf("authentication failure line: remote %q, want tcp4:127.0.0.1:port", r)
	}
	for _, k := range []string{"time", "remote", "message"} {
		delete(failed, k)
	}
	if diff := cmp.Diff(map[string]any{"level": "WARN", "msg": "router: authentication failed", "realm": realm,
		"authmethod": "ticket", "authid": "alice", "reason": string(protocol.ErrAuthenticationDenied)}, failed); diff != "" {
		t.Errorf("authentication failure line mismatch (-want +got):\n%s", diff)
	}
	for _, secret := range []string{"alice-s3cret-ticket", "wrong-guess-ticket"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log shows the ticket %q", secret)
		}
	}
}
