package cli

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wampkit/wampkit/protocol"
)

// Arguments on the command line (see the "Arguments" section of wamp
// --help): a word that is one whole JSON value is that value, any other
// word is the string it spells. So "2" is the integer 2, "hello" the
// string "hello", "[1,2]" a list and '"2"' the string "2". With
// --string every word is a string as written.
//
// JSON has one binary convention in WAMP (spec basic "Binary support in
// JSON"): a string that starts with "\u0000" holds base64 of the bytes. It
// is used both ways here, so that a byte string travels through any
// serializer and is printed in a form that can be pasted back.

// parseValue returns the WAMP value of one command-line word: the JSON
// value it spells, or else the word itself. If literal is set the word is
// always a string.
func parseValue(word string, literal bool) any {
	if literal {
		return word
	}
	v, err := decodeJSON(strings.NewReader(word))
	if err != nil {
		return word
	}
	return v
}

// decodeJSON reads exactly one JSON value from r (nothing but white space
// may follow it) and returns it as a WAMP value: integers as int64 (or
// uint64 above MaxInt64), other numbers as float64, objects as
// map[string]any, arrays as []any, and "\u0000"+base64 strings as []byte.
func decodeJSON(r io.Reader) (any, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("more than one JSON value")
	}
	return fromJSON(v), nil
}

// fromJSON converts a value decoded with UseNumber into a WAMP value.
func fromJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i
		}
		if u, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			return u
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return string(x) // out of float64 range: keep the digits
		}
		return f
	case string:
		if b, ok := binaryString(x); ok {
			return b
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = fromJSON(e)
		}
		return x
	case map[string]any:
		for k, e := range x {
			x[k] = fromJSON(e)
		}
		return x
	}
	return v
}

// binaryString decodes s if it is the spec's JSON form of binary data,
// "\u0000" followed by standard base64 (without the line breaks that
// package base64 would skip: a string with them stays a string).
func binaryString(s string) ([]byte, bool) {
	if len(s) == 0 || s[0] != 0 || strings.ContainsAny(s, "\r\n") {
		return nil, false
	}
	b, err := base64.StdEncoding.DecodeString(s[1:])
	if err != nil {
		return nil, false
	}
	return b, true
}

// parseArgs returns the positional arguments of a call or publication.
// It returns nil for no words, so that no empty Arguments list is sent. A
// word that is not valid UTF-8 is a usage error: WAMP strings are UTF-8
// (spec basic "Serializations"), and the serializers would each mangle it
// differently.
func parseArgs(words []string, literal bool) (protocol.List, error) {
	if len(words) == 0 {
		return nil, nil
	}
	args := make(protocol.List, len(words))
	for i, w := range words {
		if !utf8.ValidString(w) {
			return nil, usageErrorf("argument %d %q is not valid UTF-8", i+1, w)
		}
		args[i] = parseValue(w, literal)
	}
	return args, nil
}

// parseKwargs returns the keyword arguments of -k name=value flags, or nil
// for none. A flag without "=" or with an empty name is a usage error.
func parseKwargs(pairs []string, literal bool) (protocol.Dict, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	kw := make(protocol.Dict, len(pairs))
	for _, p := range pairs {
		name, value, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			return nil, usageErrorf("-k %q: want name=value", p)
		}
		if !utf8.ValidString(p) {
			return nil, usageErrorf("-k %q is not valid UTF-8", p)
		}
		kw[name] = parseValue(value, literal)
	}
	return kw, nil
}

// toJSON turns a WAMP value, as any serializer decodes it, into a value
// encoding/json writes faithfully: []byte becomes the "\u0000"+base64
// string, protocol.List and protocol.Dict plain slices and maps, maps with
// non-string keys maps with their keys printed, and NaN and the
// infinities (which CBOR and MessagePack can carry but JSON cannot) the
// strings "NaN", "Infinity" and "-Infinity".
func toJSON(v any) any {
	switch x := v.(type) {
	case nil, bool, string, int64, uint64, int, int32, uint32, int16, uint16, int8, uint8, uint:
		return x
	case float64:
		return jsonFloat(x)
	case float32:
		return jsonFloat(float64(x))
	case []byte:
		return "\x00" + base64.StdEncoding.EncodeToString(x)
	case protocol.List:
		return toJSON([]any(x))
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = toJSON(e)
		}
		return out
	case protocol.Dict:
		return toJSON(map[string]any(x))
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = toJSON(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = toJSON(e)
		}
		return out
	case protocol.ID:
		return uint64(x)
	case protocol.URI:
		return string(x)
	}
	return v // encoding/json's own rules (structs, typed slices)
}

func jsonFloat(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return f
}

// marshalLine returns v (after toJSON) as one line of JSON with a trailing
// newline. HTML characters are not escaped; map keys are sorted.
func marshalLine(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(toJSON(v)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// compact returns v as JSON text without a newline, for messages; a value
// JSON cannot hold is shown with %v.
func compact(v any) string {
	b, err := marshalLine(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(bytes.TrimRight(b, "\n"))
}

// payload is how the command prints args and kwargs: never null, so that
// a script can index them without checks.
func payload(args protocol.List, kwargs protocol.Dict) (any, any) {
	var a any = []any(args)
	if args == nil {
		a = []any{}
	}
	var k any = map[string]any(kwargs)
	if kwargs == nil {
		k = map[string]any{}
	}
	return a, k
}
