package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
)

// These examples run against a small fake router on the other end of an
// in-process link (startFakeRouter, in fakerouter_test.go). With the real
// router, the peer comes from the router's in-process Connect, or use
// client.Dial with a URL; the client code is the same.

// The whole life of a session: join, register, call, leave.
func Example() {
	peer, wait := startFakeRouter() // stands in for an in-process router connection
	defer wait()
	ctx := context.Background()

	c, err := client.Join(ctx, peer, client.Config{Realm: "realm1"})
	if err != nil {
		fmt.Println("join:", err)
		return
	}
	defer c.Close()

	_, err = c.Register(ctx, "com.example.add", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		a, _ := inv.Args[0].(int)
		b, _ := inv.Args[1].(int)
		return &client.Result{Args: protocol.List{a + b}}, nil
	}, nil)
	if err != nil {
		fmt.Println("register:", err)
		return
	}
	res, err := c.Call(ctx, "com.example.add", 2, 3)
	if err != nil {
		fmt.Println("call:", err)
		return
	}
	fmt.Println("2 + 3 =", res.Args[0])
	// Output: 2 + 3 = 5
}

// A WAMP error from the callee (or the router) is a *protocol.Error.
func ExampleClient_Call_error() {
	peer, wait := startFakeRouter()
	defer wait()
	ctx := context.Background()
	c, err := client.Join(ctx, peer, client.Config{Realm: "realm1"})
	if err != nil {
		fmt.Println("join:", err)
		return
	}
	defer c.Close()

	_, err = c.Call(ctx, "com.example.missing")
	var werr *protocol.Error
	if errors.As(err, &werr) {
		fmt.Println("call failed:", werr.URI)
	}
	// Output: call failed: wamp.error.no_such_procedure
}

// Progressive results reach OnProgress, in order, before Do returns.
func ExampleClient_Do() {
	peer, wait := startFakeRouter()
	defer wait()
	ctx := context.Background()
	c, err := client.Join(ctx, peer, client.Config{Realm: "realm1"})
	if err != nil {
		fmt.Println("join:", err)
		return
	}
	defer c.Close()

	_, err = c.Register(ctx, "com.example.count", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		for i := 1; i <= 3; i++ {
			if err := inv.SendProgress(ctx, protocol.List{i}, nil); err != nil {
				return nil, err
			}
		}
		return &client.Result{Args: protocol.List{"done"}}, nil
	}, nil)
	if err != nil {
		fmt.Println("register:", err)
		return
	}
	res, err := c.Do(ctx, &client.CallRequest{
		Procedure: "com.example.count",
		OnProgress: func(r *client.Result) error {
			fmt.Println("progress", r.Args[0])
			return nil
		},
	})
	if err != nil {
		fmt.Println("call:", err)
		return
	}
	fmt.Println(res.Args[0])
	// Output:
	// progress 1
	// progress 2
	// progress 3
	// done
}

// Subscribe, then publish to yourself (publisher exclusion off) with an
// acknowledgement.
func ExampleClient_Subscribe() {
	peer, wait := startFakeRouter()
	defer wait()
	ctx := context.Background()
	c, err := client.Join(ctx, peer, client.Config{Realm: "realm1"})
	if err != nil {
		fmt.Println("join:", err)
		return
	}
	defer c.Close()

	got := make(chan string, 1)
	_, err = c.Subscribe(ctx, "com.example.news", func(ev *client.Event) {
		got <- fmt.Sprintf("%s: %v", ev.Topic, ev.Args[0])
	}, nil)
	if err != nil {
		fmt.Println("subscribe:", err)
		return
	}
	no := false
	_, err = c.DoPublish(ctx, &client.PublishRequest{
		Topic:       "com.example.news",
		Args:        protocol.List{"hello"},
		ExcludeMe:   &no,
		Acknowledge: true,
	})
	if err != nil {
		fmt.Println("publish:", err)
		return
	}
	fmt.Println(<-got)
	// Output: com.example.news: hello
}

// A router that refuses the session answers HELLO with ABORT; Join returns
// it as an *AbortError.
func ExampleJoin_abort() {
	peer, wait := startFakeRouter()
	defer wait()
	_, err := client.Join(context.Background(), peer, client.Config{Realm: "no.such.realm"})
	var abort *client.AbortError
	if errors.As(err, &abort) {
		fmt.Println("refused:", abort.Reason)
	}
	// Output: refused: wamp.error.no_such_realm
}

// Dial picks the transport from the URL; see the package documentation
// for the schemes. (Not run: it needs a router listening.)
func ExampleDial() {
	ctx := context.Background()
	c, err := client.Dial(ctx, "ws://127.0.0.1:8080/ws", client.Config{
		Realm:  "realm1",
		AuthID: "alice",
		Auth: []client.Authenticator{
			client.AuthFunc("ticket", func(ctx context.Context, ch *protocol.Challenge) (*protocol.Authenticate, error) {
				return &protocol.Authenticate{Signature: "secret-ticket"}, nil
			}),
		},
	})
	if err != nil {
		fmt.Println("dial:", err)
		return
	}
	defer c.Close()
	// Other URLs: "tcp://127.0.0.1:8081", "tcps://router.example.com:443",
	// "unix:///run/wampd.sock".
}

// A call whose arguments reach the callee in chunks, which its handler
// reads as they come (progressive call invocations).
func ExampleClient_DoStream() {
	peer, wait := startFakeRouter()
	defer wait()
	ctx := context.Background()
	c, err := client.Join(ctx, peer, client.Config{Realm: "realm1"})
	if err != nil {
		fmt.Println("join:", err)
		return
	}
	defer c.Close()

	_, err = c.Register(ctx, "com.example.sum", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		sum, _ := inv.Args[0].(int) // the first chunk
		for {
			chunk, err := inv.Recv(ctx)
			if err == io.EOF {
				return &client.Result{Args: protocol.List{sum}}, nil
			}
			if err != nil {
				return nil, err
			}
			n, _ := chunk.Args[0].(int)
			sum += n
		}
	}, nil)
	if err != nil {
		fmt.Println("register:", err)
		return
	}

	s, err := c.DoStream(ctx, &client.CallRequest{Procedure: "com.example.sum", Args: protocol.List{1}})
	if err != nil {
		fmt.Println("call:", err)
		return
	}
	for _, n := range []int{2, 3} {
		if err := s.Send(ctx, protocol.List{n}, nil); err != nil {
			fmt.Println("send:", err)
		}
	}
	if err := s.CloseSend(ctx, protocol.List{4}, nil); err != nil {
		fmt.Println("send:", err)
	}
	res, err := s.Result(ctx)
	if err != nil {
		fmt.Println("call:", err)
		return
	}
	fmt.Println("1 + 2 + 3 + 4 =", res.Args[0])
	// Output: 1 + 2 + 3 + 4 = 10
}

// A testament is an event the router publishes for the session once it
// is gone, even if its connection just drops.
func ExampleClient_AddTestament() {
	peer, wait := startFakeRouter()
	defer wait()
	ctx := context.Background()
	c, err := client.Join(ctx, peer, client.Config{Realm: "realm1"})
	if err != nil {
		fmt.Println("join:", err)
		return
	}
	defer c.Close()

	err = c.AddTestament(ctx, "com.example.presence",
		protocol.List{"offline"}, protocol.Dict{"name": "sensor-7"},
		&client.TestamentOptions{Publish: protocol.Dict{"disclose_me": true}})
	if err != nil {
		fmt.Println("add testament:", err)
		return
	}
	fmt.Println("testament left")

	// Shutting down on purpose: nobody needs to hear about it.
	if err := c.FlushTestaments(ctx, client.TestamentDestroyed); err != nil {
		fmt.Println("flush testaments:", err)
		return
	}
	fmt.Println("testaments flushed")
	// Output:
	// testament left
	// testaments flushed
}

// A typed procedure: the callee registers a Go function, the caller gets
// a typed result. The struct's wamp tags say which fields are positional
// and which keyword arguments.
func ExampleProcedure() {
	peer, wait := startFakeRouter()
	defer wait()
	ctx := context.Background()
	c, err := client.Join(ctx, peer, client.Config{Realm: "realm1"})
	if err != nil {
		fmt.Println("join:", err)
		return
	}
	defer c.Close()

	type Greeting struct {
		Name  string `wamp:",arg"`  // Args[0]
		Shout bool   `wamp:"shout"` // Kwargs["shout"]
	}
	greet := client.Procedure[Greeting, string]{URI: "com.example.greet"}

	_, err = greet.Register(ctx, c, func(ctx context.Context, g Greeting) (string, error) {
		s := "Hello, " + g.Name
		if g.Shout {
			s = strings.ToUpper(s)
		}
		return s + "!", nil
	}, nil)
	if err != nil {
		fmt.Println("register:", err)
		return
	}
	s, err := greet.Call(ctx, c, Greeting{Name: "Ada", Shout: true})
	if err != nil {
		fmt.Println("call:", err)
		return
	}
	fmt.Println(s)

	// A caller that sends the wrong shape gets wamp.error.invalid_argument,
	// naming the argument and the field.
	_, err = c.Call(ctx, "com.example.greet", 42)
	var werr *protocol.Error
	if errors.As(err, &werr) {
		fmt.Println(werr.URI, werr.Args[0])
	}
	// Output:
	// HELLO, ADA!
	// wamp.error.invalid_argument args[0] (field client_test.Greeting.Name): want string, got int
}

// A typed topic: subscribers get each event's payload as a T.
func ExampleTopic() {
	peer, wait := startFakeRouter()
	defer wait()
	ctx := context.Background()
	c, err := client.Join(ctx, peer, client.Config{Realm: "realm1"})
	if err != nil {
		fmt.Println("join:", err)
		return
	}
	defer c.Close()

	type Reading struct {
		Sensor string  `wamp:",arg"`
		Value  float64 `wamp:"value"`
	}
	readings := client.Topic[Reading]{URI: "com.example.readings"}
	got := make(chan Reading, 1)
	_, err = readings.Subscribe(ctx, c, func(ev *client.Event, r Reading) { got <- r }, nil)
	if err != nil {
		fmt.Println("subscribe:", err)
		return
	}
	// readings.Publish(ctx, c, r) publishes to the others; to hear our
	// own event we publish with options, with the payload of Encode.
	args, kwargs := client.Encode(Reading{Sensor: "s1", Value: 21.5})
	no := false
	_, err = c.DoPublish(ctx, &client.PublishRequest{Topic: readings.URI, Args: args, Kwargs: kwargs, ExcludeMe: &no, Acknowledge: true})
	if err != nil {
		fmt.Println("publish:", err)
		return
	}
	fmt.Printf("%+v\n", <-got)
	// Output: {Sensor:s1 Value:21.5}
}

// Convert reads a payload value whatever link it came over: here an
// integer as an in-process sender put it in and as a network peer's
// decoder produces it, and a dict as a struct.
func ExampleConvert() {
	type Point struct {
		X int `json:"x"`
		Y int `json:"y"`
	}
	for _, v := range []any{7, int64(7), 7.0} {
		n, err := client.Convert[int](v)
		fmt.Println(n, err)
	}
	p, err := client.Convert[Point](map[string]any{"x": int64(1), "y": int64(2)})
	fmt.Printf("%+v %v\n", p, err)
	_, err = client.Convert[int]("seven")
	fmt.Println(err)
	// Output:
	// 7 <nil>
	// 7 <nil>
	// 7 <nil>
	// {X:1 Y:2} <nil>
	// client: want int, got string
}
