package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// nexusPrefix marks a -wampd entry that is a nexusd binary (the router of
// github.com/gammazero/nexus) rather than a wampd: "nexus:/path/nexusd".
// The issues compare wampkit with nexus; this runs both under the same
// load, alternating, on the same machine.
const nexusPrefix = "nexus:"

// startNexus runs the nexusd binary bin with realm1 open to anonymous
// sessions, a WebSocket and a RawSocket listener on free ports of
// 127.0.0.1 and no logging. nexusd has no admin listener: the figures
// that need one (heap and stacks of idle sessions, profiles, traces)
// are not available, and it does not join clusters.
func startNexus(bin string, o options, natsURL string) (*wampd, error) {
	switch {
	case natsURL != "":
		return nil, errors.New("nexusd does not join a wampkit cluster: use -nodes 1")
	case o.tls:
		return nil, errors.New("-tls is for wampd only")
	case o.profiles != "" || o.traces != "":
		return nil, errors.New("-profiles and -trace need wampd's admin listener")
	}
	wsPort, err := freePort()
	if err != nil {
		return nil, err
	}
	rsPort, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "wampload-nexus")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cfg := map[string]any{
		"websocket": map[string]any{
			"address":       "127.0.0.1:" + strconv.Itoa(wsPort),
			"keep_alive":    600, // seconds: as wampd's 10 minute pings
			"allow_origins": []string{"*"},
		},
		"rawsocket": map[string]any{"tcp_address": "127.0.0.1:" + strconv.Itoa(rsPort)},
		"router": map[string]any{
			"realms": []any{map[string]any{"uri": "realm1", "anonymous_auth": true}},
		},
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "nexus.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-c", path)
	cmd.Env = os.Environ()
	if o.gomaxprocs > 0 {
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+strconv.Itoa(o.gomaxprocs))
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	w := &wampd{
		cmd:    cmd,
		wsURL:  fmt.Sprintf("ws://127.0.0.1:%d/ws", wsPort),
		rsAddr: "127.0.0.1:" + strconv.Itoa(rsPort),
	}
	// nexusd reads its configuration file before it starts: wait until
	// both listeners accept.
	for _, addr := range []string{"127.0.0.1:" + strconv.Itoa(wsPort), w.rsAddr} {
		if err := awaitListener("nexusd", addr); err != nil {
			w.stop()
			return nil, err
		}
	}
	return w, nil
}

// isNexus reports whether the -wampd entry bin names a nexusd binary.
func isNexus(bin string) bool { return strings.HasPrefix(bin, nexusPrefix) }
