package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wampkit/wampkit/examples/internal/routertest"
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
		t.Run(scheme, func(t *testing.T) {
			var out bytes.Buffer
			if err := run(context.Background(), url, &out); err != nil {
				t.Fatalf("run(%s) = %v", url, err)
			}
			if diff := cmp.Diff(want, out.String()); diff != "" {
				t.Errorf("run(%s) output mismatch (-want +got):\n%s", url, diff)
			}
		})
	}
}
