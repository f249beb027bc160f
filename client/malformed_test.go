package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wampkit/wampkit/client"
)

// TestMalformedFromRouterAborts checks that a message from the router that
// cannot be decoded into a valid WAMP message is answered with ABORT
// wamp.error.protocol_violation before the client closes (WAMP spec,
// basic/sessions.md, "Protocol Errors"). The router here is a raw
// WebSocket peer so that it can send bytes no wampkit encoder produces.
func TestMalformedFromRouterAborts(t *testing.T) {
	tests := []struct {
		name  string
		frame string
	}{
		{"null kwargs in RESULT", `[50,1,{},["x"],null]`},
		{"not JSON", `[50,1,{`},
		{"unknown type", `[99,1]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := make(chan string, 1)
			up := websocket.Upgrader{Subprotocols: []string{"wamp.2.json"}}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				conn, err := up.Upgrade(w, r, nil)
				if err != nil {
					return
				}
				defer conn.Close()
				conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, _, err := conn.ReadMessage(); err != nil { // HELLO
					return
				}
				conn.WriteMessage(websocket.TextMessage, []byte(`[2,1,{"roles":{"dealer":{},"broker":{}}}]`))
				conn.WriteMessage(websocket.TextMessage, []byte(tt.frame))
				_, data, err := conn.ReadMessage()
				if err != nil {
					got <- "read error: " + err.Error()
					return
				}
				got <- string(data)
			}))
			defer srv.Close()

			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := client.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), client.Config{Realm: "realm1", Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			select {
			case frame := <-got:
				if !strings.HasPrefix(frame, "[3,") || !strings.Contains(frame, `"wamp.error.protocol_violation"`) {
					t.Errorf("client sent %s, want ABORT wamp.error.protocol_violation", frame)
				}
			case <-ctx.Done():
				t.Fatal("no reply from the client")
			}
			select {
			case <-c.Done():
			case <-ctx.Done():
				t.Fatal("session did not end")
			}
			if !errors.Is(c.Err(), client.ErrProtocolViolation) {
				t.Errorf("Err() = %v, want ErrProtocolViolation", c.Err())
			}
		})
	}
}
