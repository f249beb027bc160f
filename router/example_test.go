package router_test

import (
	"context"
	"fmt"
	"log"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/transport"
)

// ExampleNew starts a router with one realm and joins it over the
// in-process link, speaking raw WAMP messages.
func ExampleNew() {
	r, err := router.New(router.Config{
		Realms: []router.RealmConfig{{Name: "realm1"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	ctx := context.Background()
	peer, err := r.Connect(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer peer.Close(nil)
	peer.Send(ctx, &protocol.Hello{Realm: "realm1", Details: protocol.Dict{
		"roles": map[string]any{"caller": map[string]any{}},
	}})
	m, err := peer.Recv()
	if err != nil {
		log.Fatal(err)
	}
	welcome := m.(*protocol.Welcome)
	fmt.Println(welcome.Type(), welcome.Details["authrole"], welcome.Details["authmethod"])

	peer.Send(ctx, &protocol.Goodbye{Details: protocol.Dict{}, Reason: protocol.CloseSystemShutdown})
	m, _ = peer.Recv()
	fmt.Println(m.Type(), m.(*protocol.Goodbye).Reason)
	// Output:
	// WELCOME anonymous anonymous
	// GOODBYE wamp.close.goodbye_and_out
}

// ExampleRouter_Connect registers a procedure from one in-process session
// and calls it from another.
func ExampleRouter_Connect() {
	r, err := router.New(router.Config{Realms: []router.RealmConfig{{Name: "realm1"}}})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close() // also closes the sessions' transports

	ctx := context.Background()
	join := func(role string) transport.Peer {
		peer, err := r.Connect(ctx)
		if err != nil {
			log.Fatal(err)
		}
		peer.Send(ctx, &protocol.Hello{Realm: "realm1", Details: protocol.Dict{
			"roles": map[string]any{role: map[string]any{}},
		}})
		peer.Recv() // WELCOME
		return peer
	}
	recv := func(p transport.Peer) protocol.Message {
		m, err := p.Recv()
		if err != nil {
			log.Fatal(err)
		}
		return m
	}
	callee, caller := join("callee"), join("caller")

	callee.Send(ctx, &protocol.Register{Request: 1, Procedure: "com.example.add"})
	fmt.Println(recv(callee).Type())

	caller.Send(ctx, &protocol.Call{Request: 1, Procedure: "com.example.add", Args: protocol.List{2, 3}})
	inv := recv(callee).(*protocol.Invocation)
	fmt.Println(inv.Type(), inv.Args)
	callee.Send(ctx, &protocol.Yield{Request: inv.Request, Args: protocol.List{inv.Args[0].(int) + inv.Args[1].(int)}})
	res := recv(caller).(*protocol.Result)
	fmt.Println(res.Type(), res.Args)
	// Output:
	// REGISTERED
	// INVOCATION [2 3]
	// RESULT [5]
}
