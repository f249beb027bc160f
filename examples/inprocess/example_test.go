package inprocess_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/router/auth"
	"github.com/wampkit/wampkit/transport"
)

// quiet is the logger of the examples' routers and clients: their
// diagnostics would only distract here.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// join connects a new in-process session to r.
func join(ctx context.Context, r *router.Router, cfg client.Config) (*client.Client, error) {
	peer, err := r.Connect(ctx)
	if err != nil {
		return nil, err
	}
	cfg.Logger = quiet
	return client.Join(ctx, peer, cfg)
}

// AddArgs and Add are a typed procedure, declared once and shared by its
// callee and its callers.
type AddArgs struct {
	A int `wamp:",arg"` // Args[0]
	B int `wamp:",arg"` // Args[1]
}

var Add = client.Procedure[AddArgs, int]{URI: "com.example.add"}

// Reading and Readings are a typed topic.
type Reading struct {
	Sensor string  `wamp:",arg"`
	Value  float64 `wamp:"value"`
}

var Readings = client.Topic[Reading]{URI: "com.example.readings"}

// Typed procedures and topics: the callee registers a Go function, the
// caller gets a typed result; the subscriber gets each event as a
// Reading. A caller that does not use these types (another library, or
// untyped Call) sees ordinary WAMP arguments.
func Example_typed() {
	ctx := context.Background()
	r, err := router.New(router.Config{Realms: []router.RealmConfig{{Name: "realm1"}}, Logger: quiet})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	callee, err := join(ctx, r, client.Config{Realm: "realm1"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer callee.Close()
	caller, err := join(ctx, r, client.Config{Realm: "realm1"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer caller.Close()

	_, err = Add.Register(ctx, callee, func(ctx context.Context, in AddArgs) (int, error) {
		return in.A + in.B, nil
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	sum, err := Add.Call(ctx, caller, AddArgs{A: 2, B: 3})
	fmt.Println("Add:", sum, err)

	// The same procedure, called untyped: its arguments are positional.
	res, err := caller.Call(ctx, "com.example.add", 20, 22)
	if err == nil {
		n, _ := client.Convert[int](res.Args[0])
		fmt.Println("untyped call:", n)
	}
	_, err = caller.Call(ctx, "com.example.add", "two", 3)
	var werr *protocol.Error
	if errors.As(err, &werr) {
		fmt.Println("wrong shape:", werr.URI, werr.Args[0])
	}

	got := make(chan Reading, 1)
	if _, err := Readings.Subscribe(ctx, callee, func(_ *client.Event, r Reading) { got <- r }, nil); err != nil {
		fmt.Println(err)
		return
	}
	if err := Readings.Publish(ctx, caller, Reading{Sensor: "s1", Value: 21.5}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("event: %+v\n", <-got)
	// Output:
	// Add: 5 <nil>
	// untyped call: 42
	// wrong shape: wamp.error.invalid_argument args[0] (field inprocess_test.AddArgs.A): want int, got string
	// event: {Sensor:s1 Value:21.5}
}

// A reconnecting callee survives a router restart: it joins the new
// router and registers its procedure again, and callers of the new
// router reach it. (Over the network, DialReconnecting takes the URL and
// ReconnectConfig.Connect stays nil.)
func Example_reconnect() {
	ctx := context.Background()
	cfg := router.Config{Realms: []router.RealmConfig{{Name: "realm1"}}, Logger: quiet}
	r1, err := router.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	var mu sync.Mutex
	current := r1 // the router the client reconnects to
	states := make(chan client.ConnState, 10)
	rc, err := client.DialReconnecting(ctx, "", client.Config{Realm: "realm1", Logger: quiet}, client.ReconnectConfig{
		Connect: func(ctx context.Context) (transport.Peer, error) {
			mu.Lock()
			defer mu.Unlock()
			return current.Connect(ctx)
		},
		OnState: func(s client.ConnState, err error) { states <- s },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rc.Close()
	fmt.Println(<-states)
	_, err = Add.Register(ctx, rc, func(ctx context.Context, in AddArgs) (int, error) { return in.A + in.B, nil }, nil)
	if err != nil {
		fmt.Println(err)
		return
	}

	// Restart: a new router, and the old one goes away with its sessions.
	r2, err := router.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r2.Close()
	mu.Lock()
	current = r2
	mu.Unlock()
	r1.Close()
	for s := range states {
		fmt.Println(s)
		if s == client.StateConnected {
			break
		}
	}

	caller, err := join(ctx, r2, client.Config{Realm: "realm1"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer caller.Close()
	sum, err := Add.Call(ctx, caller, AddArgs{A: 40, B: 2})
	fmt.Println("after the restart:", sum, err)
	// Output:
	// connected
	// disconnected
	// reconnecting
	// connected
	// after the restart: 42 <nil>
}

// Ticket authentication: the realm knows alice and her ticket, and a
// wrong ticket is refused with ABORT. Use tickets over TLS only.
func Example_ticket() {
	ctx := context.Background()
	r, err := router.New(router.Config{Logger: quiet, Realms: []router.RealmConfig{{
		Name: "realm1",
		Authenticators: []router.Authenticator{&auth.Ticket{
			Principals: map[string]auth.Principal{"alice": {Secret: "s3cret", Role: "operator"}},
		}},
	}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()

	c, err := join(ctx, r, client.Config{Realm: "realm1", AuthID: "alice", Auth: []client.Authenticator{client.TicketAuth("s3cret")}})
	if err != nil {
		fmt.Println(err)
		return
	}
	d := c.WelcomeDetails()
	fmt.Println("welcome:", d.String("authid"), d.String("authrole"), d.String("authmethod"))
	c.Close()

	_, err = join(ctx, r, client.Config{Realm: "realm1", AuthID: "alice", Auth: []client.Authenticator{client.TicketAuth("guess")}})
	var abort *client.AbortError
	if errors.As(err, &abort) {
		fmt.Println("refused:", abort.Reason)
	}
	// Output:
	// welcome: alice operator ticket
	// refused: wamp.error.authentication_denied
}

// WAMP-Cryptosign: the realm knows the client's public key; the client
// proves it holds the private key, which never leaves it.
func Example_cryptosign() {
	ctx := context.Background()
	// A fixed key for the example; generate one with ed25519.GenerateKey.
	priv := ed25519.NewKeyFromSeed([]byte("an example seed of 32 bytes!!!!!"))
	r, err := router.New(router.Config{Logger: quiet, Realms: []router.RealmConfig{{
		Name: "realm1",
		Authenticators: []router.Authenticator{&auth.Cryptosign{
			Principals: map[string]auth.CryptosignPrincipal{
				"device-7": {Role: "device", PublicKeys: []ed25519.PublicKey{priv.Public().(ed25519.PublicKey)}},
			},
		}},
	}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()

	c, err := join(ctx, r, client.Config{Realm: "realm1", AuthID: "device-7", Auth: []client.Authenticator{client.CryptosignAuth(priv)}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	d := c.WelcomeDetails()
	fmt.Println("welcome:", d.String("authid"), d.String("authrole"), d.String("authmethod"))
	// Output:
	// welcome: device-7 device cryptosign
}
