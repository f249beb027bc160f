package router_test

import (
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// TestJoinLeaveLogs checks the INFO lines of a session's join and leave.
func TestJoinLeaveLogs(t *testing.T) {
	var buf syncBuffer
	r := newRouter(t, router.Config{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	c := join(t, r)
	c.subscribe("com.example.t", nil)
	c.publishAck("com.example.t", nil)
	c.send(&protocol.Goodbye{Details: protocol.Dict{}, Reason: protocol.CloseGoodbyeAndOut})
	expect[*protocol.Goodbye](c)
	c.expectClosed()
	r.Close()
	var joined, left string
	for _, line := range strings.Split(buf.String(), "\n") {
		switch {
		case strings.Contains(line, `msg="router: session joined"`):
			joined = line
		case strings.Contains(line, `msg="router: session left"`):
			left = line
		}
	}
	authid := c.welcome.Details["authid"].(string)
	for _, want := range []string{"level=INFO", "session=" + strconv.FormatUint(uint64(c.session), 10), "realm=realm1",
		"authid=" + authid, "authrole=anonymous", "authmethod=anonymous", "transport=local"} {
		if !strings.Contains(joined, want) {
			t.Errorf("join line %q lacks %q", joined, want)
		}
	}
	for _, want := range []string{"level=INFO", "session=" + strconv.FormatUint(uint64(c.session), 10), `reason="goodbye wamp.close.goodbye_and_out"`,
		"duration=", "messages_in=4", "messages_out=4"} {
		if !strings.Contains(left, want) {
			t.Errorf("leave line %q lacks %q", left, want)
		}
	}
}
