package client_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
)

type addArgs struct {
	A     int    `wamp:",arg"`
	B     int    `wamp:",arg"`
	Label string `wamp:"label,omitempty"`
}

type sum struct {
	Sum   int    `wamp:",arg"`
	Label string `wamp:"label"`
}

var addProc = client.Procedure[addArgs, sum]{URI: "test.add"}

func addFunc(ctx context.Context, in addArgs) (sum, error) {
	if in.A < 0 {
		return sum{}, &protocol.Error{URI: "test.error.negative", Args: protocol.List{"a < 0"}}
	}
	return sum{Sum: in.A + in.B, Label: in.Label}, nil
}

func TestProcedure(t *testing.T) {
	peer, wait := startFakeRouter()
	defer wait()
	ctx := context.Background()
	c, err := client.Join(ctx, peer, client.Config{Realm: "realm1", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := addProc.Register(ctx, c, addFunc, nil); err != nil {
		t.Fatalf("Register: %v", err)
	}

	got, err := addProc.Call(ctx, c, addArgs{A: 2, B: 3, Label: "x"})
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	if want := (sum{Sum: 5, Label: "x"}); got != want {
		t.Errorf("Call = %+v, want %+v", got, want)
	}

	// Untyped callers send what they like; the handler reads it as an
	// addArgs, as a network link would deliver it.
	res, err := c.Do(ctx, &client.CallRequest{Procedure: "test.add", Args: protocol.List{int64(2), 3.0}, Kwargs: protocol.Dict{"label": "y"}})
	if err != nil {
		t.Fatalf("untyped call: %v", err)
	}
	if diff := cmp.Diff(protocol.List{int64(5)}, res.Args); diff != "" {
		t.Errorf("untyped call result args (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(protocol.Dict{"label": "y"}, res.Kwargs); diff != "" {
		t.Errorf("untyped call result kwargs (-want +got):\n%s", diff)
	}

	// A payload of the wrong shape: invalid_argument naming the field.
	for _, tt := range []struct {
		args protocol.List
		want string
	}{
		{protocol.List{1, "three"}, "args[1] (field client_test.addArgs.B): want int, got string"},
		{protocol.List{1}, "args[1] (field client_test.addArgs.B): want int, got nothing"},
		{protocol.List{1, 2, 3}, "args: want at most 2 positional arguments, got 3"},
	} {
		_, err := c.Call(ctx, "test.add", tt.args...)
		var werr *protocol.Error
		if !errors.As(err, &werr) || werr.URI != protocol.ErrInvalidArgument || len(werr.Args) != 1 || werr.Args[0] != tt.want {
			t.Errorf("Call(test.add, %v) = %v, want %s with %q", tt.args, err, protocol.ErrInvalidArgument, tt.want)
		}
	}

	// The handler's error goes to the caller.
	_, err = addProc.Call(ctx, c, addArgs{A: -1})
	var werr *protocol.Error
	if !errors.As(err, &werr) || werr.URI != "test.error.negative" {
		t.Errorf("Call with a < 0 = %v, want test.error.negative", err)
	}
}

func TestProcedureResultMismatch(t *testing.T) {
	peer, wait := startFakeRouter()
	defer wait()
	ctx := context.Background()
	c, err := client.Join(ctx, peer, client.Config{Realm: "realm1", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// test.echo returns the arguments: a string where the caller wants
	// an int.
	echo := client.Procedure[string, int]{URI: "test.echo"}
	_, err = echo.Call(ctx, c, "five")
	var perr *client.PayloadError
	if !errors.As(err, &perr) || perr.Path != "args[0]" || perr.Want != "int" || perr.Got != "string" {
		t.Fatalf("Call with a result of the wrong type = %v, want a PayloadError for args[0]", err)
	}
	if want := "client: result of test.echo: args[0]: want int, got string"; err.Error() != want {
		t.Errorf("error text %q, want %q", err, want)
	}
}

func TestInvocationOf(t *testing.T) {
	peer, wait := startFakeRouter()
	defer wait()
	ctx := context.Background()
	c, err := client.Join(ctx, peer, client.Config{Realm: "realm1", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if client.InvocationOf(ctx) != nil {
		t.Errorf("InvocationOf(context.Background()) != nil")
	}
	count := client.Procedure[int, string]{URI: "test.count"}
	if _, err := count.Register(ctx, c, func(ctx context.Context, n int) (string, error) {
		inv := client.InvocationOf(ctx)
		if inv == nil {
			return "", errors.New("no invocation")
		}
		dctx, cancel := context.WithCancel(ctx)
		defer cancel()
		if client.InvocationOf(dctx) != inv {
			return "", errors.New("derived context lost the invocation")
		}
		for i := range n {
			if err := inv.SendProgress(ctx, protocol.List{i}, nil); err != nil {
				return "", err
			}
		}
		return string(inv.Procedure), nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	var progress []any
	res, err := c.Do(ctx, &client.CallRequest{Procedure: "test.count", Args: protocol.List{2},
		OnProgress: func(r *client.Result) error { progress = append(progress, r.Args[0]); return nil }})
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	if res.Args[0] != "test.count" || len(progress) != 2 {
		t.Errorf("result %v after progress %v, want test.count after 2", res.Args, progress)
	}
}

type reading struct {
	Sensor string  `wamp:",arg"`
	Value  float64 `wamp:"value"`
}

func TestTopicSubscribe(t *testing.T) {
	c, w := join(t, routerWelcome(false), client.Config{})
	readings := client.Topic[reading]{URI: "com.readings"}
	got := make(chan reading, 10)
	ch := async(func() (*client.Subscription, error) {
		return readings.Subscribe(context.Background(), c, func(ev *client.Event, r reading) { got <- r }, nil)
	})
	w.expect(&protocol.Subscribe{Request: 1, Options: protocol.Dict{}, Topic: "com.readings"})
	w.send(&protocol.Subscribed{Request: 1, Subscription: 5})
	if _, err := await(t, ch); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	w.send(&protocol.Event{Subscription: 5, Publication: 1, Details: protocol.Dict{}, Args: protocol.List{"s1"}, Kwargs: protocol.Dict{"value": int64(20)}})
	// Of the wrong shape: dropped.
	w.send(&protocol.Event{Subscription: 5, Publication: 2, Details: protocol.Dict{}, Args: protocol.List{42}})
	w.send(&protocol.Event{Subscription: 5, Publication: 3, Details: protocol.Dict{}, Args: protocol.List{"s2"}, Kwargs: protocol.Dict{"value": 21.5}})
	for _, want := range []reading{{"s1", 20}, {"s2", 21.5}} {
		o := async(func() (reading, error) { return <-got, nil })
		if r, _ := await(t, o); r != want {
			t.Errorf("event %+v, want %+v", r, want)
		}
	}
}

func TestTopicPublish(t *testing.T) {
	c, w := join(t, routerWelcome(false), client.Config{})
	readings := client.Topic[reading]{URI: "com.readings"}
	if err := readings.Publish(context.Background(), c, reading{Sensor: "s1", Value: 1.5}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	w.expect(&protocol.Publish{Request: 1, Options: protocol.Dict{}, Topic: "com.readings",
		Args: protocol.List{"s1"}, Kwargs: protocol.Dict{"value": 1.5}})
}

func TestTypedBadTags(t *testing.T) {
	type bad struct {
		A []int `wamp:",args"`
		B int   `wamp:",args"`
	}
	peer, wait := startFakeRouter()
	defer wait()
	ctx := context.Background()
	c, err := client.Join(ctx, peer, client.Config{Realm: "realm1", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = client.Procedure[bad, int]{URI: "test.bad"}.Register(ctx, c, func(context.Context, bad) (int, error) { return 0, nil }, nil)
	if err == nil || !strings.Contains(err.Error(), "args") {
		t.Errorf("Register with bad tags = %v, want an error about them", err)
	}
	_, err = client.Topic[*bad]{URI: "test.bad"}.Subscribe(ctx, c, func(*client.Event, *bad) {}, nil)
	if err == nil {
		t.Errorf("Subscribe with bad tags succeeded")
	}
}
