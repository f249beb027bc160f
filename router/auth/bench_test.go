package auth_test

import (
	"context"
	"testing"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/router/auth"
)

// BenchmarkJoin measures an in-process session's opening and closing
// handshakes: HELLO, (CHALLENGE, AUTHENTICATE,) WELCOME, GOODBYE and its
// echo, for anonymous and ticket authentication.
func BenchmarkJoin(b *testing.B) {
	r := newRouter(b, router.Config{Realms: []router.RealmConfig{{Name: realm1, Authenticators: []router.Authenticator{
		router.Anonymous{},
		&auth.Ticket{Principals: map[string]auth.Principal{"alice": {Secret: "opensesame"}}},
	}}}})
	for _, method := range []string{"anonymous", "ticket"} {
		b.Run("method="+method, func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			for b.Loop() {
				p, err := r.Connect(ctx)
				if err != nil {
					b.Fatal(err)
				}
				details := protocol.Dict{"roles": clientRoles(), "authmethods": []any{method}, "authid": "alice"}
				if err := p.Send(ctx, &protocol.Hello{Realm: realm1, Details: details}); err != nil {
					b.Fatal(err)
				}
				m, err := p.Recv()
				if _, ok := m.(*protocol.Challenge); ok {
					if err := p.Send(ctx, &protocol.Authenticate{Signature: "opensesame", Extra: protocol.Dict{}}); err != nil {
						b.Fatal(err)
					}
					m, err = p.Recv()
				}
				if _, ok := m.(*protocol.Welcome); !ok || err != nil {
					b.Fatalf("got %v, %v, want WELCOME", m, err)
				}
				if err := p.Send(ctx, &protocol.Goodbye{Details: protocol.Dict{}, Reason: protocol.CloseSystemShutdown}); err != nil {
					b.Fatal(err)
				}
				if m, err := p.Recv(); err != nil || m.Type() != protocol.TypeGoodbye {
					b.Fatalf("got %v, %v, want GOODBYE", m, err)
				}
				p.Close(nil)
			}
		})
	}
}
