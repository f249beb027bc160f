package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
	"gopkg.in/yaml.v3"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
)

// TestMain_SecretsFromEnvAndFile: principals' secrets come from an
// environment variable and from files instead of the YAML text; they
// work, a file's final line break is not part of the secret, and neither
// the log nor the configuration's printed form shows them.
func TestMain_SecretsFromEnvAndFile(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	t.Setenv("WAMPD_TEST_ALICE_TICKET", "alice-env-ticket")
	bobFile := filepath.Join(dir, "bob.ticket")
	writeFile(t, bobFile, "bob-file-ticket\n")
	carolFile := filepath.Join(dir, "carol.key")
	writeFile(t, carolFile, "carol-file-key\r\n")
	m, _, logs := mustRunConfig(t, `
log: {level: debug}
realms:
  - name: com.example.secure
    ticket:
      alice: {secret: {env: WAMPD_TEST_ALICE_TICKET}}
      bob: {secret: {file: "`+bobFile+`"}}
    wampcra:
      carol: {secret: {file: "`+carolFile+`"}}
`)
	tests := []struct {
		authid string
		auth   client.Authenticator
		ok     bool
	}{
		{"alice", client.TicketAuth("alice-env-ticket"), true},
		{"bob", client.TicketAuth("bob-file-ticket"), true},
		{"bob", client.TicketAuth("bob-file-ticket\n"), false},
		{"carol", client.WAMPCRAAuth("carol-file-key"), true},
		{"alice", client.TicketAuth("{env: WAMPD_TEST_ALICE_TICKET}"), false},
	}
	for _, tt := range tests {
		c, err := join(t, m, client.Config{Realm: "com.example.secure", AuthID: tt.authid, Auth: []client.Authenticator{tt.auth}})
		if c != nil {
			c.Close()
		}
		if tt.ok && err != nil {
			t.Errorf("join as %s = %v, want WELCOME", tt.authid, err)
		}
		if !tt.ok && !isAbort(err, protocol.ErrAuthenticationDenied) {
			t.Errorf("join as %s with a wrong secret = %v, want ABORT %s", tt.authid, err, protocol.ErrAuthenticationDenied)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	shown := logs.String() + fmt.Sprintf("%v %+v %#v", m.Config, m.Config, m.Config)
	for _, secret := range []string{"alice-env-ticket", "bob-file-ticket", "carol-file-key"} {
		if strings.Contains(shown, secret) {
			t.Errorf("the log or the printed configuration shows the secret %q", secret)
		}
	}
	var buf strings.Builder
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "ticket", m.Config.Realms[0].Ticket["alice"].Secret)
	if strings.Contains(buf.String(), "alice-env-ticket") {
		t.Errorf("slog shows a Secret: %s", buf.String())
	}
}

// TestSecretErrors: a secret that cannot be read is an error at start
// that names the line, the variable or the file, and never the secret.
func TestSecretErrors(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("WAMPD_TEST_EMPTY", "")
	t.Setenv("WAMPD_TEST_SET", "hunter2")
	empty := filepath.Join(dir, "empty")
	writeFile(t, empty, "\n")
	big := filepath.Join(dir, "big")
	writeFile(t, big, "hunter2"+strings.Repeat("x", MaxSecretFileSize))
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name    string
		secret  string // the YAML value of alice's secret
		wantErr []string
	}{
		{"unset variable", "{env: WAMPD_TEST_UNSET}", []string{"line 5", "WAMPD_TEST_UNSET", "not set"}},
		{"empty variable", "{env: WAMPD_TEST_EMPTY}", []string{"line 5", "WAMPD_TEST_EMPTY", "empty"}},
		{"missing file", "{file: " + missing + "}", []string{"line 5", missing, "no such file"}},
		{"empty file", "{file: " + empty + "}", []string{"line 5", empty, "empty"}},
		{"file too large", "{file: " + big + "}", []string{"line 5", big, "larger than"}},
		{"unknown key", "{envv: WAMPD_TEST_SET}", []string{"line 5", `"envv"`, "want env or file"}},
		{"env and file", "{env: WAMPD_TEST_SET, file: " + empty + "}", []string{"line 5", "env or file, not both"}},
		{"neither", "{}", []string{"line 5", "want env or file"}},
		{"a list", "[hunter2]", []string{"line 5", "want a string, {env: NAME} or {file: path}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "wampd.yaml")
			writeFile(t, path, "realms:\n  - name: a.b\n    ticket:\n      alice:\n        secret: "+tt.secret+"\n")
			m := NewMain()
			m.Stderr = io.Discard
			err := m.ParseFlags(context.Background(), []string{"-config", path})
			if err == nil {
				t.Fatalf("ParseFlags() with secret %s = nil, want an error", tt.secret)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("ParseFlags() = %q, want it to contain %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("ParseFlags() = %q reveals a secret", err)
			}
		})
	}
}

// TestSecretYAML decodes every secret field of the principals from each
// of the three forms.
func TestSecretYAML(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	writeFile(t, path, "from-file")
	t.Setenv("WAMPD_TEST_SECRET", "from-env")
	for _, form := range []struct{ yaml, want string }{
		{`"plain"`, "plain"}, {"{env: WAMPD_TEST_SECRET}", "from-env"}, {"{file: " + path + "}", "from-file"},
	} {
		var got struct {
			Ticket PrincipalConfig
			CRA    CRAPrincipalConfig
			SCRAM  SCRAMPrincipalConfig
		}
		doc := strings.NewReplacer("S", form.yaml).Replace(`
ticket: {secret: S}
cra: {secret: S, derived_key: S}
scram: {password: S, stored_key: S, server_key: S}
`)
		if err := yaml.Unmarshal([]byte(doc), &got); err != nil {
			t.Fatalf("%s: %v", form.yaml, err)
		}
		for _, s := range []Secret{got.Ticket.Secret, got.CRA.Secret, got.CRA.DerivedKey, got.SCRAM.Password, got.SCRAM.StoredKey, got.SCRAM.ServerKey} {
			if string(s) != form.want {
				t.Errorf("%s: decoded %q, want %q", form.yaml, string(s), form.want)
			}
		}
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}
