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
	const want = `subscriber: subscribed to com.example.hello and to the prefix com.example
publisher: published 3 events to com.example.hello and 1 to com.example.bye
com.example.hello: Hello, world! #1
com.example.hello: Hello, world! #2
com.example.hello: Hello, world! #3
prefix com.example: com.example.hello [Hello, world! #1] map[]
prefix com.example: com.example.hello [Hello, world! #2] map[]
prefix com.example: com.example.hello [Hello, world! #3] map[]
prefix com.example: com.example.bye [Goodbye] map[from:publisher]
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
