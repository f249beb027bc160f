package main

import (
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
	"gopkg.in/yaml.v3"
)

// TestMain_Permissions configures a realm's permissions in the config
// file and checks them over WebSocket.
func TestMain_Permissions(t *testing.T) {
	defer goleak.VerifyNone(t)
	path := filepath.Join(t.TempDir(), "wampd.yaml")
	writeFile(t, path, `
realms:
  - name: realm1
    permissions:
      anonymous:
        - {uri: com.example., match: prefix, allow: [subscribe, publish]}
        - {uri: com.example.secret, allow: [subscribe]}
        - {uri: wamp.session.count, allow: [call]}
websocket:
  address: 127.0.0.1:0
`)
	m, _, _ := mustRunMain(t, "-config", path, "-rawsocket", "")
	defer m.Close() // before goleak looks
	conn := dialWS(t, m.WebSocketURL(), nil)
	defer conn.Close()
	writeWS(t, conn, `[1,"realm1",{"roles":{"caller":{},"publisher":{},"subscriber":{},"callee":{}}}]`)
	if msg := readWS(t, conn); msg[0] != float64(2) {
		t.Fatalf("HELLO: got %v, want WELCOME", msg)
	}
	tests := []struct {
		send string
		want float64 // message type of the answer
		uri  string  // error URI, for ERROR
	}{
		{`[32,1,{},"com.example.t"]`, 33, ""},
		{`[32,2,{},"com.other"]`, 8, "wamp.error.not_authorized"},
		{`[16,3,{"acknowledge":true},"com.example.t"]`, 17, ""},
		{`[16,4,{"acknowledge":true},"com.example.secret"]`, 8, "wamp.error.not_authorized"},
		{`[64,5,{},"com.example.proc"]`, 8, "wamp.error.not_authorized"},
		{`[48,6,{},"wamp.session.count",[]]`, 50, ""},
		{`[48,7,{},"wamp.session.list",[]]`, 8, "wamp.error.not_authorized"},
	}
	for _, tt := range tests {
		writeWS(t, conn, tt.send)
		got := readWS(t, conn)
		if len(got) < 2 || got[0] != tt.want || tt.uri != "" && (len(got) < 5 || got[4] != tt.uri) {
			t.Errorf("%s: got %v, want type %v %s", tt.send, got, tt.want, tt.uri)
		}
	}
}

func TestPermissionsConfigInvalid(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"action", `{anonymous: [{uri: com.x, allow: [read]}]}`, `allow "read"`},
		{"match", `{anonymous: [{uri: com.x, match: regex, allow: [call]}]}`, "match policy"},
		{"uri", `{anonymous: [{uri: "com..x", allow: [call]}]}`, "invalid URI"},
		{"duplicate", `{anonymous: [{uri: com.x}, {uri: com.x, match: exact}]}`, "twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var perms map[string][]PermissionConfig
			if err := yaml.Unmarshal([]byte(tt.yaml), &perms); err != nil {
				t.Fatal(err)
			}
			cfg := DefaultConfig()
			cfg.Realms = []RealmConfig{{Name: "realm1", Permissions: perms}}
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "realm1") {
				t.Errorf("Validate() = %v, want an error about realm1 containing %q", err, tt.want)
			}
		})
	}
}

// TestPermissionsConfigEmpty checks that an empty permissions map denies
// everything, and an absent one nothing.
func TestPermissionsConfigEmpty(t *testing.T) {
	for _, tt := range []struct {
		perms map[string][]PermissionConfig
		want  bool // an Authorizer
	}{{nil, false}, {map[string][]PermissionConfig{}, true}} {
		a, err := RealmConfig{Name: "realm1", Permissions: tt.perms}.authorizer()
		if err != nil || (a != nil) != tt.want {
			t.Errorf("authorizer(%#v) = %v, %v, want one: %v", tt.perms, a, err, tt.want)
		}
	}
}
