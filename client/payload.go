package client

import (
	"encoding"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/wampkit/wampkit/protocol"
)

// Encode returns the payload of v: its positional arguments (Args) and
// keyword arguments (Kwargs), as [Procedure] and [Topic] send them and
// [Decode] reads them back.
//
// A struct (or a pointer to one) is split by its fields' `wamp` tags:
//
//	type Move struct {
//		From  string   `wamp:",arg"`        // Args[0]
//		To    string   `wamp:",arg"`        // Args[1]
//		Speed float64  `wamp:"speed"`       // Kwargs["speed"]
//		Note  string   `wamp:",omitempty"`  // Kwargs["Note"], left out when ""
//		Rest  []any    `wamp:",args"`       // further positional arguments
//		Extra map[string]any `wamp:",kwargs"` // further keyword arguments
//		Debug bool     `wamp:"-"`           // not part of the payload
//	}
//
// A field tagged "arg" is the next positional argument, in the order of
// the fields; every other exported field is a keyword argument, named by
// its `wamp` tag, else by its `codec` or `json` tag, else like the field.
// "omitempty" leaves a zero keyword argument out (and a trailing zero
// positional one); "args" (a slice) takes the positional arguments after
// the "arg" fields and "kwargs" (a map with string keys) the keyword
// arguments of no other field. Embedded structs are flattened. Any other
// value (including time.Time and other [encoding.TextMarshaler] structs)
// is the one positional argument; nil is an empty payload.
//
// Integers are written as int64 (uint64 above math.MaxInt64), floats as
// float64, strings, bools and [encoding.TextMarshaler] values as strings
// (as a network peer would read them); other values -- slices, maps,
// structs, pointers -- are put in as they are, so the in-process link
// hands them to the receiver without copying, and a network serializer
// encodes them (nested structs as dicts keyed by their `codec` or `json`
// tags). The payload shares v's slices and maps and must be treated as
// read-only once sent (see [protocol.Message]).
//
// Encode panics if v's type has contradictory `wamp` tags (two "args"
// fields, "args" on something that is not a slice, ...).
func Encode(v any) (protocol.List, protocol.Dict) {
	return encodePayload(reflect.ValueOf(v), nil)
}

// Decode reads a payload, args and kwargs, into v, which must be a
// non-nil pointer: into a struct by the rules of [Encode], into anything
// else from the one positional argument. Values are converted as by
// [Convert]; those that already have the field's type pass through
// without copying.
//
// A payload that does not fit is a *[PayloadError] naming the argument
// and the field: a positional argument missing or of the wrong type, more
// positional arguments than v takes, or a keyword argument of the wrong
// type. Keyword arguments that v does not take are ignored, and so are
// keyword arguments for a value that is not a struct. Fields that the
// payload does not mention keep their value.
func Decode(args protocol.List, kwargs protocol.Dict, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("client: Decode needs a non-nil pointer, not %T", v)
	}
	if e := decodePayload(args, kwargs, rv.Elem()); e != nil {
		return e
	}
	return nil
}

// payloadKind is the role of a struct field in a payload.
type payloadKind uint8

const (
	payloadKwarg      payloadKind = iota // a keyword argument
	payloadArg                           // the next positional argument
	payloadRestArgs                      // the positional arguments after the others
	payloadRestKwargs                    // the keyword arguments of no other field
	payloadSkip                          // not part of the payload
)

// fieldInfo is an exported field of a struct type (of an embedded struct,
// flattened), with its roles as a dict entry and in a payload.
type fieldInfo struct {
	index  []int
	typ    reflect.Type
	goName string
	// dictName is the entry the field is in a dict (a nested value):
	// its codec or json tag name, else its name; "" if those tags say "-".
	dictName      string
	dictOmitEmpty bool
	// In a payload of its own struct:
	kind      payloadKind
	kwName    string
	omitEmpty bool
	// text reports that the field's type is an encoding.TextMarshaler,
	// which Encode writes as a string.
	text bool
}

// structInfo is what Convert, Encode and Decode need of a struct type.
type structInfo struct {
	typ    reflect.Type
	fields []fieldInfo
	byDict map[string]int // dictName -> fields index

	// The payload layout; err reports contradictory wamp tags.
	args       []int          // positional fields, in order
	kwargs     []int          // keyword fields
	byKw       map[string]int // kwName -> fields index
	restArgs   int            // fields index, or -1
	restKwargs int            // fields index, or -1
	err        error
}

func (s *structInfo) byDictName(name string) *fieldInfo {
	if i, ok := s.byDict[name]; ok {
		return &s.fields[i]
	}
	return nil
}

// structInfos caches structInfo by reflect.Type.
var structInfos sync.Map // reflect.Type -> *structInfo

// structOf returns the structInfo of the struct type t.
func structOf(t reflect.Type) *structInfo {
	if v, ok := structInfos.Load(t); ok {
		return v.(*structInfo)
	}
	v, _ := structInfos.LoadOrStore(t, newStructInfo(t))
	return v.(*structInfo)
}

var textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()

func newStructInfo(t reflect.Type) *structInfo {
	s := &structInfo{typ: t, byDict: map[string]int{}, byKw: map[string]int{}, restArgs: -1, restKwargs: -1}
	collectFields(t, nil, s, map[reflect.Type]bool{})
	// Resolve name clashes as encoding/json does, simplified: the
	// shallowest field wins, the first at equal depth.
	depth := func(i int) int { return len(s.fields[i].index) }
	for i := range s.fields {
		f := &s.fields[i]
		if f.dictName != "" {
			if j, ok := s.byDict[f.dictName]; !ok || depth(i) < depth(j) {
				s.byDict[f.dictName] = i
			}
		}
	}
	for i := range s.fields {
		f := &s.fields[i]
		switch f.kind {
		case payloadArg:
			s.args = append(s.args, i)
		case payloadKwarg:
			if j, ok := s.byKw[f.kwName]; ok && depth(j) <= depth(i) {
				continue
			}
			s.byKw[f.kwName] = i
		case payloadRestArgs:
			if s.restArgs >= 0 {
				s.err = fmt.Errorf("client: %s: two fields tagged wamp:\",args\"", t)
			}
			if f.typ.Kind() != reflect.Slice {
				s.err = fmt.Errorf("client: %s.%s: wamp:\",args\" needs a slice, not %s", t, f.goName, f.typ)
			}
			s.restArgs = i
		case payloadRestKwargs:
			if s.restKwargs >= 0 {
				s.err = fmt.Errorf("client: %s: two fields tagged wamp:\",kwargs\"", t)
			}
			if f.typ.Kind() != reflect.Map || f.typ.Key().Kind() != reflect.String {
				s.err = fmt.Errorf("client: %s.%s: wamp:\",kwargs\" needs a map with string keys, not %s", t, f.goName, f.typ)
			}
			s.restKwargs = i
		}
	}
	for _, i := range s.byKw {
		s.kwargs = append(s.kwargs, i)
	}
	// Keep the keyword fields in field order, for deterministic errors.
	sortInts(s.kwargs)
	return s
}

// collectFields appends the exported fields of t (at index prefix) to s,
// flattening embedded structs that carry no name tag.
func collectFields(t reflect.Type, prefix []int, s *structInfo, seen map[reflect.Type]bool) {
	if seen[t] {
		return // an embedded cycle through pointers
	}
	seen[t] = true
	defer delete(seen, t)
	for i := range t.NumField() {
		sf := t.Field(i)
		index := append(append([]int(nil), prefix...), i)
		wname, wopts, wtagged := parseTag(sf.Tag.Get("wamp"))
		dname, dopts, dskip := dictTag(sf)
		if sf.Anonymous {
			et := sf.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct && wname == "" && dname == "" && !dskip && wopts == "" {
				if sf.IsExported() || sf.Type.Kind() != reflect.Pointer {
					// As encoding/json: the exported fields of an
					// unexported embedded struct count, but not through
					// an unexported pointer, which could not be set.
					collectFields(et, index, s, seen)
				}
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		f := fieldInfo{index: index, typ: sf.Type, goName: sf.Name}
		if !dskip {
			f.dictName = dname
			if f.dictName == "" {
				f.dictName = sf.Name
			}
			f.dictOmitEmpty = hasOpt(dopts, "omitempty")
		}
		f.text = sf.Type.Implements(textMarshalerType) && sf.Type.Kind() != reflect.String
		switch {
		case wtagged && wname == "-" && wopts == "":
			f.kind = payloadSkip
		case hasOpt(wopts, "arg"):
			f.kind = payloadArg
		case hasOpt(wopts, "args"):
			f.kind = payloadRestArgs
		case hasOpt(wopts, "kwargs"):
			f.kind = payloadRestKwargs
		case !wtagged && dskip:
			f.kind = payloadSkip
		default:
			f.kind = payloadKwarg
		}
		f.kwName = wname
		if f.kwName == "" {
			f.kwName = f.dictName
		}
		if f.kwName == "" {
			f.kwName = sf.Name
		}
		f.omitEmpty = hasOpt(wopts, "omitempty") || (!wtagged && f.dictOmitEmpty)
		s.fields = append(s.fields, f)
	}
}

// parseTag splits a tag value into its name and options.
func parseTag(tag string) (name, opts string, ok bool) {
	if tag == "" {
		return "", "", false
	}
	name, opts, _ = strings.Cut(tag, ",")
	return name, opts, true
}

// dictTag returns the name and options of the codec tag, else the json
// tag, as ugorji (the serializers' encoder of structs) reads them; skip
// if the tag is "-".
func dictTag(sf reflect.StructField) (name, opts string, skip bool) {
	for _, key := range []string{"codec", "json"} {
		if tag, ok := sf.Tag.Lookup(key); ok {
			name, opts, _ = parseTag(tag)
			if name == "-" && opts == "" {
				return "", "", true
			}
			return name, opts, false
		}
	}
	return "", "", false
}

func hasOpt(opts, opt string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == opt {
			return true
		}
	}
	return false
}

func sortInts(a []int) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// isPayloadStruct reports whether a value of type t is split into
// arguments (a struct that does not stand for one value, as time.Time
// does).
func isPayloadStruct(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && !t.Implements(textMarshalerType) &&
		!reflect.PointerTo(t).Implements(textUnmarshalerType)
}

// encodePayload returns the payload of v, appending positional arguments
// to buf (which may be nil) so that a caller can offer room.
func encodePayload(v reflect.Value, buf []any) (protocol.List, protocol.Dict) {
	for v.IsValid() && (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) {
		if v.IsNil() {
			return nil, nil
		}
		v = v.Elem()
	}
	if !v.IsValid() {
		return nil, nil
	}
	if !isPayloadStruct(v.Type()) {
		return append(buf, encodeValue(v, false)), nil
	}
	s := structOf(v.Type())
	if s.err != nil {
		panic(s.err.Error())
	}
	args := buf
	last := 0 // args up to the last one that is not an omitted zero
	for _, i := range s.args {
		f := &s.fields[i]
		fv, ok := fieldOf(v, f.index)
		if !ok {
			args = append(args, nil)
			continue
		}
		args = append(args, encodeValue(fv, f.text))
		if !f.omitEmpty || !fv.IsZero() {
			last = len(args)
		}
	}
	if s.restArgs >= 0 {
		if rv, ok := fieldOf(v, s.fields[s.restArgs].index); ok && rv.Len() > 0 {
			for j := range rv.Len() {
				args = append(args, encodeValue(rv.Index(j), false))
			}
			last = len(args)
		}
	}
	args = args[:last]
	var kwargs protocol.Dict
	put := func(k string, x any) {
		if kwargs == nil {
			kwargs = make(protocol.Dict, len(s.kwargs)+1)
		}
		kwargs[k] = x
	}
	if s.restKwargs >= 0 {
		if rv, ok := fieldOf(v, s.fields[s.restKwargs].index); ok && rv.Len() > 0 {
			it := rv.MapRange()
			for it.Next() {
				if _, taken := s.byKw[it.Key().String()]; !taken {
					put(it.Key().String(), encodeValue(it.Value(), false))
				}
			}
		}
	}
	for _, i := range s.kwargs {
		f := &s.fields[i]
		fv, ok := fieldOf(v, f.index)
		if !ok || (f.omitEmpty && fv.IsZero()) {
			continue
		}
		put(f.kwName, encodeValue(fv, f.text))
	}
	if len(args) == 0 {
		args = nil
	}
	return args, kwargs
}

// encodeValue returns v as a payload value: scalars in the types a
// network peer reads them as, everything else as it is.
func encodeValue(v reflect.Value, text bool) any {
	if text {
		if v.Kind() == reflect.Pointer && v.IsNil() {
			return nil
		}
		if b, err := v.Interface().(encoding.TextMarshaler).MarshalText(); err == nil {
			return string(b)
		}
	}
	switch v.Kind() {
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if u := v.Uint(); u > math.MaxInt64 {
			return u
		} else {
			return int64(u)
		}
	case reflect.Float32, reflect.Float64:
		return v.Float()
	case reflect.String:
		return v.String()
	case reflect.Interface, reflect.Pointer, reflect.Map, reflect.Slice:
		if v.IsNil() {
			return nil
		}
	}
	return v.Interface()
}

// decodePayload reads args and kwargs into dst (settable).
func decodePayload(args protocol.List, kwargs protocol.Dict, dst reflect.Value) *PayloadError {
	t := dst.Type()
	if t.Kind() == reflect.Pointer && isPayloadStruct(t.Elem()) {
		if dst.IsNil() {
			dst.Set(reflect.New(t.Elem()))
		}
		dst = dst.Elem()
		t = t.Elem()
	}
	if !isPayloadStruct(t) {
		switch {
		case len(args) > 1:
			return &PayloadError{Path: "args", Want: "1 positional argument", Got: strconv.Itoa(len(args))}
		case len(args) == 0 && t.Kind() == reflect.Interface:
			dst.SetZero()
			return nil
		case len(args) == 0:
			return &PayloadError{Path: "args[0]", Want: typeName(t), Got: "nothing"}
		}
		if e := convertValue(dst, reflect.ValueOf(args[0]), 0); e != nil {
			return e.atIndex(0).at("args")
		}
		return nil
	}
	s := structOf(t)
	if s.err != nil {
		return &PayloadError{Want: "a struct with valid wamp tags", Got: s.err.Error()}
	}
	for j, i := range s.args {
		f := &s.fields[i]
		if j >= len(args) {
			if f.omitEmpty {
				continue
			}
			return &PayloadError{Path: "args[" + strconv.Itoa(j) + "]", Field: typeName(t) + "." + f.goName, Want: typeName(f.typ), Got: "nothing"}
		}
		if e := setField(dst, f, reflect.ValueOf(args[j]), 0); e != nil {
			return e.atField(t, f).atIndex(j).at("args")
		}
	}
	if n := len(s.args); len(args) > n {
		if s.restArgs < 0 {
			return &PayloadError{Path: "args", Want: "at most " + plural(n, "positional argument"), Got: strconv.Itoa(len(args))}
		}
		f := &s.fields[s.restArgs]
		rest := reflect.MakeSlice(f.typ, len(args)-n, len(args)-n)
		for j, x := range args[n:] {
			if e := convertValue(rest.Index(j), reflect.ValueOf(x), 1); e != nil {
				return e.atField(t, f).atIndex(n + j).at("args")
			}
		}
		fieldAlloc(dst, f.index).Set(rest)
	}
	for _, i := range s.kwargs {
		f := &s.fields[i]
		x, ok := kwargs[f.kwName]
		if !ok {
			continue
		}
		if e := setField(dst, f, reflect.ValueOf(x), 0); e != nil {
			return e.atField(t, f).atKey(f.kwName).at("kwargs")
		}
	}
	if s.restKwargs >= 0 && len(kwargs) > 0 {
		f := &s.fields[s.restKwargs]
		rest := make(map[string]any, len(kwargs))
		for k, x := range kwargs {
			if _, taken := s.byKw[k]; !taken {
				rest[k] = x
			}
		}
		if len(rest) > 0 {
			if e := convertMap(fieldAlloc(dst, f.index), reflect.ValueOf(rest), 0); e != nil {
				return e.atField(t, f).at("kwargs")
			}
		}
	}
	return nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// The flat layout is a faster path for the common payloads: a value of a
// basic kind (bool, integers, floats, string), or a struct whose payload
// fields all are. Encoding and decoding those needs no reflect.Value,
// only loads and stores at fixed offsets, so the typed API can keep its
// values on the stack: a typed call then allocates no more than an
// untyped one.

// flatField is a field of basic kind at a fixed offset.
type flatField struct {
	off       uintptr
	kind      reflect.Kind
	typ       reflect.Type
	name      string // the keyword argument's name (keyword fields)
	goName    string // for errors; "" for a value that is not a field
	omitEmpty bool
}

// flatLayout is the flat layout of a type: its positional and keyword
// fields (a value that is not a struct is one positional "field" at
// offset 0).
type flatLayout struct {
	typ    reflect.Type
	args   []flatField
	kwargs []flatField
	single bool // a value, not a struct
}

// flatLayouts caches flatOf by reflect.Type; a type without a flat
// layout maps to a nil *flatLayout.
var flatLayouts sync.Map // reflect.Type -> *flatLayout

// flatOf returns the flat layout of t, or nil if it has none.
func flatOf(t reflect.Type) *flatLayout {
	if v, ok := flatLayouts.Load(t); ok {
		return v.(*flatLayout)
	}
	v, _ := flatLayouts.LoadOrStore(t, newFlatLayout(t))
	return v.(*flatLayout)
}

// isFlatKind reports whether values of t are loaded and stored by the flat
// layout: basic kinds, but not types that marshal themselves as text.
func isFlatKind(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64, reflect.String:
		return !t.Implements(textMarshalerType) && !reflect.PointerTo(t).Implements(textUnmarshalerType)
	}
	return false
}

func newFlatLayout(t reflect.Type) *flatLayout {
	if isFlatKind(t) {
		return &flatLayout{typ: t, single: true, args: []flatField{{kind: t.Kind(), typ: t}}}
	}
	if !isPayloadStruct(t) {
		return nil
	}
	s := structOf(t)
	if s.err != nil || s.restArgs >= 0 || s.restKwargs >= 0 {
		return nil
	}
	l := &flatLayout{typ: t}
	field := func(i int) (flatField, bool) {
		f := &s.fields[i]
		if !isFlatKind(f.typ) || f.text {
			return flatField{}, false
		}
		// The offset through embedded structs; embedded pointers have none.
		var off uintptr
		ft := t
		for _, x := range f.index {
			if ft.Kind() != reflect.Struct {
				return flatField{}, false
			}
			sf := ft.Field(x)
			off += sf.Offset
			ft = sf.Type
		}
		return flatField{off: off, kind: f.typ.Kind(), typ: f.typ, name: f.kwName, goName: f.goName, omitEmpty: f.omitEmpty}, true
	}
	for _, i := range s.args {
		ff, ok := field(i)
		if !ok {
			return nil
		}
		l.args = append(l.args, ff)
	}
	for _, i := range s.kwargs {
		ff, ok := field(i)
		if !ok {
			return nil
		}
		l.kwargs = append(l.kwargs, ff)
	}
	return l
}

// encodeTyped returns the payload of *v, appending positional arguments
// to buf. It reads *v but does not keep it.
func encodeTyped[T any](v *T, buf []any) (protocol.List, protocol.Dict) {
	return encodeWith(flatOf(reflect.TypeFor[T]()), v, buf)
}

// encodeWith is encodeTyped with T's flat layout (nil if it has none)
// looked up already.
func encodeWith[T any](l *flatLayout, v *T, buf []any) (protocol.List, protocol.Dict) {
	if l != nil {
		return encodeFlat(unsafe.Pointer(v), l, buf)
	}
	p := new(T) // reflect would make v escape: work on a copy
	*p = *v
	return encodePayload(reflect.ValueOf(p).Elem(), buf)
}

// decodeTyped reads args and kwargs into *v, as Decode does.
func decodeTyped[T any](args protocol.List, kwargs protocol.Dict, v *T) *PayloadError {
	return decodeWith(flatOf(reflect.TypeFor[T]()), args, kwargs, v)
}

// decodeWith is decodeTyped with T's flat layout (nil if it has none)
// looked up already.
func decodeWith[T any](l *flatLayout, args protocol.List, kwargs protocol.Dict, v *T) *PayloadError {
	if l != nil {
		return decodeFlat(unsafe.Pointer(v), l, args, kwargs)
	}
	p := new(T)
	e := decodePayload(args, kwargs, reflect.ValueOf(p).Elem())
	*v = *p
	return e
}

func encodeFlat(base unsafe.Pointer, l *flatLayout, buf []any) (protocol.List, protocol.Dict) {
	args := buf
	last := 0
	for i := range l.args {
		f := &l.args[i]
		x, zero := loadFlat(unsafe.Add(base, f.off), f.kind)
		args = append(args, x)
		if !f.omitEmpty || !zero {
			last = len(args)
		}
	}
	args = args[:last]
	if len(args) == 0 {
		args = nil
	}
	var kwargs protocol.Dict
	for i := range l.kwargs {
		f := &l.kwargs[i]
		x, zero := loadFlat(unsafe.Add(base, f.off), f.kind)
		if f.omitEmpty && zero {
			continue
		}
		if kwargs == nil {
			kwargs = make(protocol.Dict, len(l.kwargs))
		}
		kwargs[f.name] = x
	}
	return args, kwargs
}

// loadFlat loads the value of kind at p as Encode writes it, and reports
// whether it is zero.
func loadFlat(p unsafe.Pointer, kind reflect.Kind) (any, bool) {
	switch kind {
	case reflect.Bool:
		b := *(*bool)(p)
		return b, !b
	case reflect.Int:
		n := int64(*(*int)(p))
		return n, n == 0
	case reflect.Int8:
		n := int64(*(*int8)(p))
		return n, n == 0
	case reflect.Int16:
		n := int64(*(*int16)(p))
		return n, n == 0
	case reflect.Int32:
		n := int64(*(*int32)(p))
		return n, n == 0
	case reflect.Int64:
		n := *(*int64)(p)
		return n, n == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		var u uint64
		switch kind {
		case reflect.Uint:
			u = uint64(*(*uint)(p))
		case reflect.Uint8:
			u = uint64(*(*uint8)(p))
		case reflect.Uint16:
			u = uint64(*(*uint16)(p))
		case reflect.Uint32:
			u = uint64(*(*uint32)(p))
		default:
			u = *(*uint64)(p)
		}
		if u > math.MaxInt64 {
			return u, false
		}
		return int64(u), u == 0
	case reflect.Float32:
		f := float64(*(*float32)(p))
		return f, f == 0 && !math.Signbit(f)
	case reflect.Float64:
		f := *(*float64)(p)
		return f, f == 0 && !math.Signbit(f)
	case reflect.String:
		s := *(*string)(p)
		return s, s == ""
	}
	panic("client: loadFlat of kind " + kind.String())
}

func decodeFlat(base unsafe.Pointer, l *flatLayout, args protocol.List, kwargs protocol.Dict) *PayloadError {
	if l.single {
		f := &l.args[0]
		switch {
		case len(args) > 1:
			return &PayloadError{Path: "args", Want: "1 positional argument", Got: strconv.Itoa(len(args))}
		case len(args) == 0:
			return &PayloadError{Path: "args[0]", Want: typeName(f.typ), Got: "nothing"}
		}
		if e := storeFlat(base, f, args[0]); e != nil {
			return e.atIndex(0).at("args")
		}
		return nil
	}
	for j := range l.args {
		f := &l.args[j]
		if j >= len(args) {
			if f.omitEmpty {
				continue
			}
			return &PayloadError{Path: "args[" + strconv.Itoa(j) + "]", Field: typeName(l.typ) + "." + f.goName, Want: typeName(f.typ), Got: "nothing"}
		}
		if e := storeFlat(unsafe.Add(base, f.off), f, args[j]); e != nil {
			e.Field = typeName(l.typ) + "." + f.goName
			return e.atIndex(j).at("args")
		}
	}
	if len(args) > len(l.args) {
		return &PayloadError{Path: "args", Want: "at most " + plural(len(l.args), "positional argument"), Got: strconv.Itoa(len(args))}
	}
	for j := range l.kwargs {
		f := &l.kwargs[j]
		x, ok := kwargs[f.name]
		if !ok {
			continue
		}
		if e := storeFlat(unsafe.Add(base, f.off), f, x); e != nil {
			e.Field = typeName(l.typ) + "." + f.goName
			return e.atKey(f.name).at("kwargs")
		}
	}
	return nil
}

// storeFlat stores src, converted as Convert does, into the field f at p.
func storeFlat(p unsafe.Pointer, f *flatField, src any) *PayloadError {
	switch f.kind {
	case reflect.Bool:
		switch b := src.(type) {
		case bool:
			*(*bool)(p) = b
			return nil
		case nil:
			*(*bool)(p) = false
			return nil
		}
		if v := reflect.ValueOf(src); v.Kind() == reflect.Bool {
			*(*bool)(p) = v.Bool()
			return nil
		}
	case reflect.String:
		switch s := src.(type) {
		case string:
			*(*string)(p) = s
			return nil
		case nil:
			*(*string)(p) = ""
			return nil
		}
		if v := reflect.ValueOf(src); v.Kind() == reflect.String {
			*(*string)(p) = v.String()
			return nil
		}
	case reflect.Float32, reflect.Float64:
		var x float64
		switch n := src.(type) {
		case float64:
			x = n
		case int64:
			x = float64(n)
		case nil:
		default:
			v := reflect.ValueOf(src)
			switch v.Kind() {
			case reflect.Float32, reflect.Float64:
				x = v.Float()
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
				x = float64(v.Int())
			case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
				x = float64(v.Uint())
			default:
				return &PayloadError{Want: typeName(f.typ), Got: describe(v)}
			}
		}
		if f.kind == reflect.Float32 {
			if math.Abs(x) > math.MaxFloat32 && !math.IsInf(x, 0) {
				return &PayloadError{Want: typeName(f.typ), Got: outOfRange(src)}
			}
			*(*float32)(p) = float32(x)
		} else {
			*(*float64)(p) = x
		}
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if src == nil {
			storeInt(p, f.kind, 0)
			return nil
		}
		var n int64
		var ok, exact bool
		switch x := src.(type) {
		case int64:
			n, ok, exact = x, true, true
		case int:
			n, ok, exact = int64(x), true, true
		default:
			n, ok, exact = toInt64(reflect.ValueOf(src))
		}
		if ok && exact && !intOverflows(n, f.kind) {
			storeInt(p, f.kind, n)
			return nil
		}
		if ok {
			return &PayloadError{Want: typeName(f.typ), Got: outOfRange(src)}
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if src == nil {
			storeUint(p, f.kind, 0)
			return nil
		}
		n, ok, exact := toUint64(reflect.ValueOf(src))
		if ok && exact && !uintOverflows(n, f.kind) {
			storeUint(p, f.kind, n)
			return nil
		}
		if ok {
			return &PayloadError{Want: typeName(f.typ), Got: outOfRange(src)}
		}
	}
	return &PayloadError{Want: typeName(f.typ), Got: describe(reflect.ValueOf(src))}
}

func intOverflows(n int64, kind reflect.Kind) bool {
	bits := 64
	switch kind {
	case reflect.Int:
		bits = strconv.IntSize
	case reflect.Int8:
		bits = 8
	case reflect.Int16:
		bits = 16
	case reflect.Int32:
		bits = 32
	}
	if bits == 64 {
		return false
	}
	lim := int64(1) << (bits - 1)
	return n < -lim || n >= lim
}

func uintOverflows(n uint64, kind reflect.Kind) bool {
	bits := 64
	switch kind {
	case reflect.Uint:
		bits = strconv.IntSize
	case reflect.Uint8:
		bits = 8
	case reflect.Uint16:
		bits = 16
	case reflect.Uint32:
		bits = 32
	}
	return bits < 64 && n >= 1<<bits
}

func storeInt(p unsafe.Pointer, kind reflect.Kind, n int64) {
	switch kind {
	case reflect.Int:
		*(*int)(p) = int(n)
	case reflect.Int8:
		*(*int8)(p) = int8(n)
	case reflect.Int16:
		*(*int16)(p) = int16(n)
	case reflect.Int32:
		*(*int32)(p) = int32(n)
	default:
		*(*int64)(p) = n
	}
}

func storeUint(p unsafe.Pointer, kind reflect.Kind, n uint64) {
	switch kind {
	case reflect.Uint:
		*(*uint)(p) = uint(n)
	case reflect.Uint8:
		*(*uint8)(p) = uint8(n)
	case reflect.Uint16:
		*(*uint16)(p) = uint16(n)
	case reflect.Uint32:
		*(*uint32)(p) = uint32(n)
	default:
		*(*uint64)(p) = n
	}
}
