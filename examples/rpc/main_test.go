package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/examples/internal/routertest"
	"github.com/wampkit/wampkit/protocol"
)

func TestRun(t *testing.T) {
	urls := routertest.Start(t)
	const want = `callee: registered com.example.add2 and com.example.countdown
add2(2, 3) = 5
countdown: 3
countdown: 2
countdown: 1
countdown: liftoff
com.example.add2[two 3] failed: wamp.error.invalid_argument [add2 takes two integers]
com.example.nothing[] failed: wamp.error.no_such_procedure []
`
	for _, url := range []string{urls.WebSocket, urls.RawSocket} {
		scheme, _, _ := strings.Cut(url, ":")
		for _, tt := range []struct {
			name string
			cfg  client.Config
		}{
			{"anonymous", config("realm1", "", "")},
			{"ticket", config(routertest.TicketRealm, routertest.TicketAuthID, routertest.Ticket)},
		} {
			t.Run(scheme+"/"+tt.name, func(t *testing.T) {
				var out bytes.Buffer
				if err := run(context.Background(), url, tt.cfg, &out); err != nil {
					t.Fatalf("run(%s) = %v", url, err)
				}
				if diff := cmp.Diff(want, out.String()); diff != "" {
					t.Errorf("run(%s) output mismatch (-want +got):\n%s", url, diff)
				}
			})
		}
	}
	// A wrong ticket is refused.
	err := run(context.Background(), urls.WebSocket, config(routertest.TicketRealm, routertest.TicketAuthID, "guess"), io.Discard)
	var abort *client.AbortError
	if !errors.As(err, &abort) || abort.Reason != protocol.ErrAuthenticationDenied {
		t.Errorf("run with a wrong ticket = %v, want ABORT %s", err, protocol.ErrAuthenticationDenied)
	}
}
