package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// TestUndefinedRoles: a role that a session can have but that the realm's
// permissions do not list, and a role in permissions or trust_levels that
// no session can have, are errors at start, naming the realm, the role
// and who has it. Before, such a typo silently denied everything.
func TestUndefinedRoles(t *testing.T) {
	tests := []struct {
		name    string
		realm   string   // YAML lines under "  - name: a.b\n"
		wantErr []string // substrings; nil means valid
	}{
		{name: "principal role not in permissions",
			realm:   "    ticket:\n      alice: {secret: x, role: admn}\n    permissions:\n      admin: []\n",
			wantErr: []string{`realm "a.b"`, `ticket principal "alice"`, `role "admn"`, "permissions does not list"}},
		{name: "default role user not in permissions",
			realm:   "    wampcra:\n      bob: {secret: x}\n    permissions:\n      user: []\n      users: []\n",
			wantErr: []string{`realm "a.b"`, `permissions for role "users"`, "no session can have", "user"}},
		{name: "default role missing",
			realm:   "    wampcra:\n      bob: {secret: x}\n    permissions:\n      admin: []\n",
			wantErr: []string{`realm "a.b"`, `wampcra principal "bob"`, `role "user"`, "permissions does not list"}},
		{name: "anonymous without permissions",
			realm:   "    permissions:\n      anonymus:\n        - {uri: com.x, allow: [call]}\n",
			wantErr: []string{`realm "a.b"`, `anonymous clients`, `role "anonymous"`, "permissions does not list"}},
		{name: "permissions for anonymous in a closed realm",
			realm:   "    ticket:\n      alice: {secret: x}\n    permissions:\n      user: []\n      anonymous: []\n",
			wantErr: []string{`realm "a.b"`, `permissions for role "anonymous"`, "no session can have", `roles: "user"`}},
		{name: "trust level for nobody",
			realm:   "    trust_levels: {backend: 2}\n",
			wantErr: []string{`realm "a.b"`, `trust_levels for role "backend"`, "no session can have", `roles: "anonymous"`}},
		{name: "cryptosign and scram roles",
			realm: "    cryptosign:\n      erin: {public_key: \"" + strings.Repeat("ab", 32) + "\", role: device}\n" +
				"    scram:\n      grace: {password: pw, kdf: pbkdf2, iterations: 4096, role: ops}\n    permissions:\n      ops: []\n",
			wantErr: []string{`cryptosign principal "erin"`, `role "device"`}},
		{name: "every role listed", realm: "    anonymous: true\n    ticket:\n      alice: {secret: x, role: admin}\n" +
			"    permissions:\n      admin: []\n      anonymous: []\n    trust_levels: {admin: 1, anonymous: 0}\n"},
		{name: "no permissions: any role", realm: "    ticket:\n      alice: {secret: x, role: whatever}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "wampd.yaml")
			writeFile(t, path, "realms:\n  - name: a.b\n"+tt.realm)
			m := NewMain()
			m.Stderr = io.Discard
			err := m.ParseFlags(context.Background(), []string{"-config", path})
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("ParseFlags() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseFlags() with\n%s= nil, want an error", tt.realm)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("ParseFlags() = %q, want it to contain %q", err, want)
				}
			}
		})
	}
}
