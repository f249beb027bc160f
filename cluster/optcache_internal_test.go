package cluster

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/wampkit/wampkit/protocol"
)

// callerOptions are options like those of the CALLs a stand-in sends: the
// caller's identity (see the router's cluster sessions).
func callerOptions(id uint64) protocol.Dict {
	return protocol.Dict{"wampkit_caller": protocol.List{id, "alice", "user", false}, "wampkit_trustlevel": uint64(2)}
}

func encodeMsg(tb testing.TB, m protocol.Message) []byte {
	tb.Helper()
	b, err := codec.Encode(nil, m)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// sameDecoding checks that the cache decodes data as the decoder does.
func sameDecoding(tb testing.TB, c *optCache, data []byte) {
	tb.Helper()
	want, wantErr := codec.Decode(data)
	got, err := c.decode(data)
	if (err != nil) != (wantErr != nil) {
		tb.Fatalf("decode %x: error %v, the decoder's %v", data, err, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		tb.Fatalf("decode %x:\n got %#v\nwant %#v", data, got, want)
	}
}

// TestOptCacheDecode decodes the messages of call frames through a cache,
// first (a miss) and again with other request IDs and payloads (hits):
// each decodes as the decoder decodes it, options that differ in one
// value are told apart, and other messages and malformed data pass
// through to the decoder.
func TestOptCacheDecode(t *testing.T) {
	var c optCache
	for i := range 3 {
		req := protocol.ID(i + 1)
		args := protocol.List{fmt.Sprint("payload", i), uint64(i)}
		for _, m := range []protocol.Message{
			&protocol.Call{Request: req, Options: callerOptions(7), Procedure: "com.example.echo", Args: args},
			&protocol.Call{Request: req, Options: callerOptions(8), Procedure: "com.example.echo", Args: args,
				Kwargs: protocol.Dict{"k": uint64(i)}},
			&protocol.Call{Request: req, Options: protocol.Dict{"progress": true, "wampkit_caller": protocol.List{uint64(7), "", "", true}},
				Procedure: "com.example.upload", Args: args},
			&protocol.Call{Request: req, Procedure: "com.example.none"},
			&protocol.Cancel{Request: req, Options: protocol.Dict{"mode": "killnowait"}},
			&protocol.Yield{Request: req, Args: args},
			&protocol.Yield{Request: req, Options: protocol.Dict{"progress": true}, Args: args},
			&protocol.Error{RequestType: protocol.TypeInvocation, Request: req, Details: protocol.Dict{"x": "y"},
				URI: "com.example.error", Args: args},
			&protocol.Error{RequestType: protocol.TypeInvocation, Request: req, URI: "com.example.error"},
			&protocol.Event{Subscription: 5, Publication: req, Details: protocol.Dict{"topic": "a.b"}},
		} {
			sameDecoding(t, &c, encodeMsg(t, m))
		}
	}
	// Options 7 and 8, the progressive call's, the CANCEL's, the
	// progressive YIELD's and the ERROR's.
	if len(c.m) != 6 {
		t.Errorf("the cache holds %d options, want 6", len(c.m))
	}
	call := encodeMsg(t, &protocol.Call{Request: 1, Options: callerOptions(7), Procedure: "com.example.echo", Args: protocol.List{"x"}})
	for _, bad := range [][]byte{
		nil, {0x90}, {0x91, 0x30}, {0x92, 0x30, 0x01}, {0x94, 0x30, 0x01, 0xc1, 0xa1},
		call[:len(call)-1], append(call[:len(call):len(call)], 0xc0),
		// The options' length says more than there is.
		{0x94, 0x30, 0x01, 0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 'a'},
	} {
		sameDecoding(t, &c, bad)
	}
}

// TestOptCacheBounded fills a cache with more distinct options than it
// keeps: it never holds more than maxCachedOptions, and still decodes
// right.
func TestOptCacheBounded(t *testing.T) {
	var c optCache
	for i := range maxCachedOptions + 10 {
		sameDecoding(t, &c, encodeMsg(t, &protocol.Call{Request: 1, Options: callerOptions(uint64(i)), Procedure: "p"}))
		if len(c.m) > maxCachedOptions {
			t.Fatalf("the cache holds %d options, more than %d", len(c.m), maxCachedOptions)
		}
	}
	// Options larger than maxCachedOptionsLen are not kept.
	c = optCache{}
	big := protocol.Dict{"wampkit_caller": protocol.List{uint64(1), string(make([]byte, maxCachedOptionsLen)), "", false}}
	sameDecoding(t, &c, encodeMsg(t, &protocol.Call{Request: 1, Options: big, Procedure: "p"}))
	if len(c.m) != 0 {
		t.Errorf("the cache holds %d options of more than %d bytes", len(c.m), maxCachedOptionsLen)
	}
}

// TestOptCacheAllocs: a CALL whose options the cache holds decodes with
// fewer allocations than the decoder makes for it (the options' map,
// keys, list, strings and boxes).
func TestOptCacheAllocs(t *testing.T) {
	data := encodeMsg(t, &protocol.Call{Request: 9, Options: callerOptions(7), Procedure: "com.example.echo", Args: protocol.List{"payload"}})
	var c optCache
	sameDecoding(t, &c, data)
	plain := testing.AllocsPerRun(100, func() { _, _ = codec.Decode(data) })
	cached := testing.AllocsPerRun(100, func() { _, _ = c.decode(data) })
	if cached > plain-8 {
		t.Errorf("a CALL with cached options takes %v allocations, the decoder %v: want 8 fewer at least", cached, plain)
	}
	t.Logf("allocations: %v decoded, %v with the options cached", plain, cached)
}

// FuzzOptCache: whatever the bytes, the cache decodes them as the
// decoder does, the first time and with its options cached, and never
// panics.
func FuzzOptCache(f *testing.F) {
	for _, m := range []protocol.Message{
		&protocol.Call{Request: 1, Options: callerOptions(7), Procedure: "p", Args: protocol.List{"x", 1.5, []byte{1}}},
		&protocol.Yield{Request: 1, Options: protocol.Dict{"progress": true, "n": protocol.List{protocol.Dict{"a": nil}}}},
		&protocol.Error{RequestType: protocol.TypeInvocation, Request: 1, Details: protocol.Dict{"a": int64(-5)}, URI: "e"},
		&protocol.Cancel{Request: 1, Options: protocol.Dict{"mode": "kill"}},
	} {
		f.Add(encodeMsg(f, m))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c optCache
		sameDecoding(t, &c, data)
		sameDecoding(t, &c, data)
		if start, end, ok := elementAt(data, 2); ok && (start < 0 || end > len(data) || start >= end) {
			t.Fatalf("element 2 of %x at [%d:%d]", data, start, end)
		}
	})
}
