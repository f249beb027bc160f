package integration

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// The values matrix: one set of handlers, typed and untyped, registered
// and subscribed in every cell of links(), with the same assertions in
// every cell. A handler must see the same Go values whatever link the
// payload came over (issue 13, "one set of values on every link").

type matrixPoint struct {
	X int `json:"x"`
	Y int `json:"y"`
}

// matrixIn uses positional and keyword arguments of most kinds, nested
// structs and values at the edges of their types.
type matrixIn struct {
	Count  int            `wamp:",arg"`
	Ratio  float64        `wamp:",arg"`
	Name   string         `wamp:",arg"`
	Blob   []byte         `wamp:"blob"`
	Tags   []string       `wamp:"tags"`
	Scores map[string]int `wamp:"scores"`
	At     matrixPoint    `wamp:"at"`
	Path   []matrixPoint  `wamp:"path,omitempty"`
	Big    uint64         `wamp:"big"`
	Small  int8           `wamp:"small"`
	Flag   bool           `wamp:"flag"`
	Note   *string        `wamp:"note"`
}

// matrixOut is the typed procedure's result: a summary and the input,
// nested (as a dict keyed by the field names).
type matrixOut struct {
	Summary string   `wamp:",arg"`
	Echo    matrixIn `wamp:"echo"`
}

var (
	matrixProc  = client.Procedure[matrixIn, matrixOut]{URI: "com.values.typed"}
	matrixTopic = client.Topic[matrixIn]{URI: "com.values.typed_events"}
)

func matrixValue() matrixIn {
	note := "ünïcode ✓"
	return matrixIn{
		Count: 1 << 40, Ratio: -0.25, Name: "héllo", Blob: []byte{0, 1, 0xfe, 0xff},
		Tags: []string{"a", "b"}, Scores: map[string]int{"x": -1, "y": math.MaxInt32},
		At: matrixPoint{1, 2}, Path: []matrixPoint{{3, 4}, {5, 6}},
		Big: math.MaxUint64, Small: math.MinInt8, Flag: true, Note: &note,
	}
}

// typedHandler is the typed procedure: it checks nothing itself, the
// decoding does; it echoes its input with a summary.
func typedHandler(_ context.Context, in matrixIn) (matrixOut, error) {
	return matrixOut{Summary: fmt.Sprintf("%d %v %s %d", in.Count, in.Ratio, in.Name, len(in.Blob)), Echo: in}, nil
}

// untypedArgs is the payload of issue 13's example, and more: the sender's
// Go types differ from what a network decoder produces.
func untypedArgs() []any {
	return []any{1, int32(2), map[string]int{"a": 1}, matrixPoint{1, 2}, []string{"x"},
		[]byte{0, 1}, float32(2.5), true, nil, uint64(math.MaxUint64),
		client.Kwargs{"at": matrixPoint{3, 4}, "n": int8(-3)}}
}

// describe reads an untyped payload with client.Convert and describes it;
// every link must give the same description.
func describe(args protocol.List, kwargs protocol.Dict) (string, error) {
	if len(args) != 10 {
		return "", fmt.Errorf("%d arguments, want 10", len(args))
	}
	a0, err0 := client.Convert[int64](args[0])
	a1, err1 := client.Convert[int](args[1])
	a2, err2 := client.Convert[map[string]int](args[2])
	a3, err3 := client.Convert[matrixPoint](args[3])
	a4, err4 := client.Convert[[]string](args[4])
	a5, err5 := client.Convert[[]byte](args[5])
	a6, err6 := client.Convert[float64](args[6])
	a7, err7 := client.Convert[bool](args[7])
	a8, err8 := client.Convert[*int](args[8])
	a9, err9 := client.Convert[uint64](args[9])
	at, err10 := client.Convert[matrixPoint](kwargs["at"])
	n, err11 := client.Convert[int](kwargs["n"])
	for _, err := range []error{err0, err1, err2, err3, err4, err5, err6, err7, err8, err9, err10, err11} {
		if err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("%d %d %v %+v %q %x %v %v %v %d at=%+v n=%d", a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, at, n), nil
}

const wantDescription = `1 2 map[a:1] {X:1 Y:2} ["x"] 0001 2.5 true <nil> 18446744073709551615 at={X:3 Y:4} n=-3`

// untypedHandler is the untyped procedure.
func untypedHandler(_ context.Context, inv *client.Invocation) (*client.Result, error) {
	d, err := describe(inv.Args, inv.Kwargs)
	if err != nil {
		return nil, &protocol.Error{URI: protocol.ErrInvalidArgument, Args: protocol.List{err.Error()}}
	}
	return &client.Result{Args: protocol.List{d}}, nil
}

func TestValuesMatrix(t *testing.T) {
	for _, l := range links() {
		t.Run(l.String(), func(t *testing.T) {
			t.Parallel()
			e := startEnv(t, router.Config{})
			ctx := timeout(t)
			callee := e.join(t, l)
			caller := e.join(t, l)

			// The same handlers in every cell.
			register(t, callee, "com.values.untyped", untypedHandler)
			if _, err := matrixProc.Register(ctx, callee, typedHandler, nil); err != nil {
				t.Fatalf("typed Register: %v", err)
			}
			untypedEvents := make(chan string, 1)
			if _, err := callee.Subscribe(ctx, "com.values.events", func(ev *client.Event) {
				d, err := describe(ev.Args, ev.Kwargs)
				if err != nil {
					d = "error: " + err.Error()
				}
				untypedEvents <- d
			}, nil); err != nil {
				t.Fatalf("Subscribe: %v", err)
			}
			typedEvents := make(chan matrixIn, 1)
			if _, err := matrixTopic.Subscribe(ctx, callee, func(_ *client.Event, v matrixIn) { typedEvents <- v }, nil); err != nil {
				t.Fatalf("typed Subscribe: %v", err)
			}

			t.Run("untyped call", func(t *testing.T) {
				res, err := caller.Call(ctx, "com.values.untyped", untypedArgs()...)
				if err != nil {
					t.Fatalf("Call: %v", err)
				}
				if got, _ := client.Convert[string](res.Args[0]); got != wantDescription {
					t.Errorf("the handler read\n%s\nwant\n%s", got, wantDescription)
				}
			})
			t.Run("typed call", func(t *testing.T) {
				in := matrixValue()
				got, err := matrixProc.Call(ctx, caller, in)
				if err != nil {
					t.Fatalf("Call: %v", err)
				}
				want := matrixOut{Summary: "1099511627776 -0.25 héllo 4", Echo: in}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("typed result mismatch (-want +got):\n%s", diff)
				}
			})
			t.Run("typed procedure, untyped caller", func(t *testing.T) {
				res, err := caller.Call(ctx, "com.values.typed", 7, 0.5, "n", client.Kwargs{"tags": []string{"t"}, "small": 5})
				if err != nil {
					t.Fatalf("Call: %v", err)
				}
				var out matrixOut
				if err := client.Decode(res.Args, res.Kwargs, &out); err != nil {
					t.Fatalf("Decode: %v", err)
				}
				want := matrixOut{Summary: "7 0.5 n 0", Echo: matrixIn{Count: 7, Ratio: 0.5, Name: "n", Tags: []string{"t"}, Small: 5}}
				if diff := cmp.Diff(want, out); diff != "" {
					t.Errorf("result mismatch (-want +got):\n%s", diff)
				}
			})
			t.Run("typed procedure, wrong shape", func(t *testing.T) {
				for _, tt := range []struct {
					args []any
					want string
				}{
					{[]any{"seven", 0.5, "n"}, "args[0] (field integration.matrixIn.Count): want int, got string"},
					{[]any{7, 0.5}, "args[2] (field integration.matrixIn.Name): want string, got nothing"},
					{[]any{7, 0.5, "n", client.Kwargs{"small": 200}}, `kwargs["small"] (field integration.matrixIn.Small): want int8, got 200 (out of range)`},
					{[]any{7, 0.5, "n", client.Kwargs{"at": map[string]any{"x": "one"}}}, `kwargs["at"]["x"] (field integration.matrixPoint.X): want int, got string`},
				} {
					_, err := caller.Call(ctx, "com.values.typed", tt.args...)
					perr := asError(t, err)
					if perr.URI != protocol.ErrInvalidArgument || len(perr.Args) != 1 || perr.Args[0] != tt.want {
						t.Errorf("Call(%v) = %v %v, want %s %q", tt.args, perr.URI, perr.Args, protocol.ErrInvalidArgument, tt.want)
					}
				}
			})
			t.Run("untyped event", func(t *testing.T) {
				if err := caller.Publish(ctx, "com.values.events", untypedArgs()...); err != nil {
					t.Fatalf("Publish: %v", err)
				}
				select {
				case got := <-untypedEvents:
					if got != wantDescription {
						t.Errorf("the subscriber read\n%s\nwant\n%s", got, wantDescription)
					}
				case <-ctx.Done():
					t.Fatal("no event")
				}
			})
			t.Run("typed event", func(t *testing.T) {
				in := matrixValue()
				if err := matrixTopic.Publish(ctx, caller, in); err != nil {
					t.Fatalf("Publish: %v", err)
				}
				select {
				case got := <-typedEvents:
					if diff := cmp.Diff(in, got); diff != "" {
						t.Errorf("typed event mismatch (-want +got):\n%s", diff)
					}
					if l.transport == "local" && &got.Blob[0] != &in.Blob[0] {
						t.Errorf("in-process, the typed event's []byte was copied")
					}
				case <-ctx.Done():
					t.Fatal("no event")
				}
			})
		})
	}
}
