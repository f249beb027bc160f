package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var genSeeds = flag.Bool("genseeds", false, "rewrite the seed corpus in testdata/fuzz/FuzzFromList")

// FuzzFromList feeds FromList two kinds of lists built from the fuzz input:
// the input decoded as JSON (numbers as int64 or float64, as a JSON codec
// would hand them over), and a list built by a small deterministic
// generator that mostly follows each message type's layout. FromList must
// never panic, every error must be a *MessageError wrapping ErrMalformed,
// and every accepted message must survive ToList -> FromList unchanged.
func FuzzFromList(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if v, ok := jsonValue(data); ok {
			checkFromValue(t, v)
		}
		checkFromValue(t, genList(data))
	})
}

func checkFromValue(t *testing.T, v any) {
	t.Helper()
	m, err := FromValue(v)
	if err != nil {
		var me *MessageError
		if m != nil || !errors.Is(err, ErrMalformed) || !errors.As(err, &me) {
			t.Fatalf("FromValue(%#v) = %#v, %v; want nil and a *MessageError", v, m, err)
		}
		return
	}
	if err := ValidateReceived(m); err != nil {
		t.Fatalf("FromValue(%#v) accepted a message ValidateReceived refuses: %v", v, err)
	}
	if Validate(m) != nil {
		// Accepted with a topic or procedure that only the router refuses
		// (ERROR wamp.error.invalid_uri); ToList rightly refuses to send it.
		return
	}
	l, err := ToList(m)
	if err != nil {
		t.Fatalf("ToList(FromValue(%#v)) error: %v", v, err)
	}
	m2, err := FromList(l)
	if err != nil {
		t.Fatalf("FromList(ToList(FromValue(%#v))) error: %v", v, err)
	}
	if diff := cmp.Diff(m, m2, cmpopts.EquateEmpty(), cmpopts.EquateNaNs()); diff != "" {
		t.Fatalf("round trip of %#v mismatch (-first +second):\n%s", v, diff)
	}
}

// jsonValue decodes data as one JSON value, turning numbers into int64
// when they are integers in range and float64 otherwise, like the JSON
// codecs of the serialize package.
func jsonValue(data []byte) (any, bool) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, false
	}
	return convertNumbers(v), true
}

func convertNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		if u, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			return u
		}
		if f, err := x.Float64(); err == nil {
			return f
		}
		return string(x)
	case []any:
		for i, e := range x {
			x[i] = convertNumbers(e)
		}
	case map[string]any:
		for k, e := range x {
			x[k] = convertNumbers(e)
		}
	}
	return v
}

// generator turns fuzz bytes into values; it reads zero bytes once the
// input is used up, so every input gives a finite list.
type generator struct{ b []byte }

func (g *generator) byte() byte {
	if len(g.b) == 0 {
		return 0
	}
	c := g.b[0]
	g.b = g.b[1:]
	return c
}

func (g *generator) u64() uint64 {
	var n uint64
	for range 8 {
		n = n<<8 | uint64(g.byte())
	}
	return n
}

var fuzzCodes = []int64{1, 2, 3, 4, 5, 6, 8, 16, 17, 32, 33, 34, 35, 36, 48, 49, 50, 64, 65, 66, 67, 68, 69, 70, 0, 7, 71, 256, -1}

// fuzzLayouts gives each message's elements after the type code:
// i=ID, z=ID or 0, t=request type, d=dict, u=URI, p=pattern, s=string,
// a=Arguments, k=ArgumentsKw.
var fuzzLayouts = map[int64]string{
	1: "ud", 2: "id", 3: "duak", 4: "sd", 5: "sd", 6: "du", 8: "tiduak", 16: "idpak", 17: "ii",
	32: "idp", 33: "ii", 34: "ii", 35: "zd", 36: "iidak", 48: "iduak", 49: "id", 50: "idak",
	64: "idp", 65: "ii", 66: "ii", 67: "zd", 68: "iidak", 69: "id", 70: "idak",
}

var fuzzURIs = []string{"com.myapp.topic1", "a", "wamp.error.canceled", "a..b", "", ".", "a.", ".a",
	"a b", "a#b", "com.\xff", "Com.My-App", "a..", "..", "bücher.x", "com.myapp.\u3000"}

var fuzzKeys = []string{"match", "roles", "acknowledge", "receive_progress", "progress", "x", "", "caller"}

func genList(data []byte) List {
	g := &generator{b: data}
	code := fuzzCodes[int(g.byte())%len(fuzzCodes)]
	layout := fuzzLayouts[code]
	n := len(layout) - int(g.byte()%3) + int(g.byte()%2) // usually shorter or full, sometimes longer
	l := List{g.number(code)}
	for i := range max(n, 0) {
		kind := byte('?')
		if i < len(layout) && g.byte() < 230 {
			kind = layout[i]
		}
		l = append(l, g.value(kind, 0))
	}
	return l
}

// number encodes n as one of the integer kinds decoders produce.
func (g *generator) number(n int64) any {
	switch g.byte() % 6 {
	case 0:
		return uint64(n)
	case 1:
		return float64(n)
	case 2:
		return int(n)
	case 3:
		return int32(n)
	case 4:
		return uint8(n)
	}
	return n
}

func (g *generator) value(kind byte, depth int) any {
	switch kind {
	case 'i', 'z':
		switch g.byte() % 8 {
		case 0:
			return g.number(int64(MaxID))
		case 1:
			return g.number(int64(MaxID) + 1)
		case 2:
			return g.number(0)
		case 3:
			return -int64(g.byte())
		case 4:
			return float64(g.byte()) + 0.5
		}
		return g.number(int64(g.u64()%uint64(MaxID)) + 1)
	case 't':
		return g.number(fuzzCodes[int(g.byte())%len(fuzzCodes)])
	case 'd', 'k':
		return g.dict(depth)
	case 'u', 'p', 's':
		return fuzzURIs[int(g.byte())%len(fuzzURIs)]
	case 'a':
		return g.list(depth)
	}
	return g.any(depth)
}

func (g *generator) dict(depth int) any {
	n := int(g.byte() % 4)
	switch g.byte() % 4 {
	case 0: // map[any]any, maybe with a non-string key
		m := make(map[any]any, n)
		for range n {
			if g.byte()%8 == 0 {
				m[int64(g.byte())] = g.any(depth + 1)
			} else {
				m[fuzzKeys[int(g.byte())%len(fuzzKeys)]] = g.any(depth + 1)
			}
		}
		return m
	case 1:
		d := make(Dict, n)
		for range n {
			d[fuzzKeys[int(g.byte())%len(fuzzKeys)]] = g.any(depth + 1)
		}
		return d
	}
	m := make(map[string]any, n)
	for range n {
		k := fuzzKeys[int(g.byte())%len(fuzzKeys)]
		if k == "match" && g.byte()%2 == 0 {
			m[k] = []string{"prefix", "wildcard", "exact", "regex", ""}[g.byte()%5]
			continue
		}
		m[k] = g.any(depth + 1)
	}
	return m
}

func (g *generator) list(depth int) any {
	n := int(g.byte() % 4)
	l := make([]any, 0, n)
	for range n {
		l = append(l, g.any(depth+1))
	}
	if g.byte()%4 == 0 {
		return List(l)
	}
	return l
}

func (g *generator) any(depth int) any {
	c := g.byte()
	if depth >= 4 {
		c %= 9 // scalars only
	}
	switch c % 12 {
	case 0:
		return g.number(int64(g.byte()))
	case 1:
		return g.u64()
	case 2:
		return math.Float64frombits(g.u64())
	case 3:
		return -int64(g.byte())
	case 4:
		return g.byte()%2 == 0
	case 5:
		return nil
	case 6:
		return fuzzURIs[int(g.byte())%len(fuzzURIs)]
	case 7:
		b := make([]byte, g.byte()%8)
		for i := range b {
			b[i] = g.byte()
		}
		return b
	case 8:
		return float32(g.byte()) / 4
	case 9, 10:
		return g.dict(depth)
	}
	return g.list(depth)
}

// fuzzSeeds returns the seed inputs: the JSON encoding of every message
// of the round-trip table, malformed JSON lists, and a few generator
// inputs.
func fuzzSeeds() [][]byte {
	var seeds [][]byte
	for _, tt := range roundTripMessages {
		l, err := ToList(tt.m)
		if err != nil {
			panic(err)
		}
		b, err := json.Marshal(l)
		if err != nil {
			panic(err)
		}
		seeds = append(seeds, b)
	}
	for _, s := range []string{
		`[]`, `{}`, `null`, `"x"`, `[7,1]`, `[48]`, `[48,0,{},"a"]`, `[48,9007199254740993,{},"a"]`,
		`[48,1.5,{},"a"]`, `[48,true,{},"a"]`, `[48,1,{},"a..b"]`, `[48,1,[],"a"]`, `[48,1,{},"a",{}]`,
		`[48,1,{},"a",[],[]]`, `[8,2,1,{},"a"]`, `[35,0,{"subscription":1}]`, `[35,0]`, `[67,0,{}]`,
		`[32,1,{"match":"wildcard"},"a..b"]`, `[32,1,{"match":"prefix"},"a."]`, `[32,1,{"match":7},"a"]`,
		`[64,1,{"match":"regex"},"a.*"]`, `[2,9007199254740992.0,{}]`, `[2,-1,{}]`, `[1e400]`,
		`[48,1,{},"a",[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]`, "[48,1,{},\"a\\u0000\"]",
	} {
		seeds = append(seeds, []byte(s))
	}
	for i := range 16 {
		seeds = append(seeds, []byte{byte(i), 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	}
	return seeds
}

// TestWriteFuzzSeeds rewrites testdata/fuzz/FuzzFromList from fuzzSeeds
// when run with -genseeds.
func TestWriteFuzzSeeds(t *testing.T) {
	if !*genSeeds {
		t.Skip("run with -genseeds to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzFromList")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range fuzzSeeds() {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%03d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
