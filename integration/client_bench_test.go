package integration

import (
	"context"
	"testing"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/serialize"
)

// benchAddArgs and benchAdd are the typed form of the add procedure of
// BenchmarkCallTyped.
type benchAddArgs struct {
	A int `wamp:",arg"`
	B int `wamp:",arg"`
}

var benchAdd = client.Procedure[benchAddArgs, int]{URI: "com.bench.add"}

// BenchmarkCallTyped compares one call of an add procedure through the
// router, untyped and typed, doing the same work: two integers in, their
// sum out, read as ints on both sides (api=untyped: Call with two
// arguments, a handler reading them with Convert and returning a Result;
// api=typed: Procedure.Call and a func(ctx, benchAddArgs) (int, error)).
// Compare with benchstat -col /api.
func BenchmarkCallTyped(b *testing.B) {
	ls := []link{{transport: "local"}, {transport: "websocket", serializer: serialize.MessagePack}}
	for _, l := range ls {
		b.Run(benchName(l), func(b *testing.B) {
			e := startEnv(b, benchConfig())
			callee := e.join(b, l)
			caller := e.join(b, l)
			register(b, callee, "com.bench.untyped", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
				a, err := client.Convert[int](inv.Args[0])
				if err != nil {
					return nil, err
				}
				c, err := client.Convert[int](inv.Args[1])
				if err != nil {
					return nil, err
				}
				return &client.Result{Args: protocol.List{a + c}}, nil
			})
			if _, err := benchAdd.Register(timeout(b), callee, func(_ context.Context, in benchAddArgs) (int, error) {
				return in.A + in.B, nil
			}, nil); err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*testTimeout)
			defer cancel()
			b.Run("api=untyped", func(b *testing.B) {
				b.ReportAllocs()
				cpu := cpuTime()
				for i := 0; b.Loop(); i++ {
					res, err := caller.Call(ctx, "com.bench.untyped", i&0x3f, 3)
					if err != nil {
						b.Fatal(err)
					}
					if n, err := client.Convert[int](res.Args[0]); err != nil || n != i&0x3f+3 {
						b.Fatalf("result %v, %v", res.Args, err)
					}
				}
				reportCPU(b, cpuTime()-cpu, float64(b.N), "cpu-ns/op")
			})
			b.Run("api=typed", func(b *testing.B) {
				b.ReportAllocs()
				cpu := cpuTime()
				for i := 0; b.Loop(); i++ {
					n, err := benchAdd.Call(ctx, caller, benchAddArgs{A: i & 0x3f, B: 3})
					if err != nil || n != i&0x3f+3 {
						b.Fatalf("result %v, %v", n, err)
					}
				}
				reportCPU(b, cpuTime()-cpu, float64(b.N), "cpu-ns/op")
			})
		})
	}
}
