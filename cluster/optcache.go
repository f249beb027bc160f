package cluster

import (
	"errors"

	"github.com/wampkit/wampkit/protocol"
)

// Decoding the frames of calls without decoding their options each time.
//
// The options of the CALLs one node sends another repeat from call to
// call: the stand-in's INVOCATION details carry the caller's identity
// (session ID, authid, authrole, disclosure, trust level; see the router's
// cluster sessions), the same for every call of one caller, and a YIELD's
// options are most often empty or {"progress": true}. Decoding them is
// most of a frame's decoding (a map, its keys, a list, strings and their
// boxes: 10 of the 15 allocations of a CALL). So the node that receives
// the frames keeps the options it decoded, by their MessagePack bytes: a
// frame whose options are the same bytes as an earlier one's gets that
// Dict, and only the rest of the message is decoded (with empty options
// in their place). The bytes name the options exactly, so a hit is what
// decoding would give; a Dict is shared by the messages that have those
// options, which the router only reads (messages are read-only once
// routed). The cache is bounded: it is emptied when full.
//
// Only the goroutine that handles the node's frames (takeFrames) uses
// it.

const (
	// maxCachedOptions bounds the entries of an options cache, and
	// maxCachedOptionsLen the MessagePack size of the options it keeps.
	maxCachedOptions    = 1024
	maxCachedOptionsLen = 512
	// maxSkipDepth bounds the nesting that skipValue walks through;
	// deeper options are decoded every time (the decoder then refuses
	// them).
	maxSkipDepth = 16
)

// errSkip is returned by skipValue for what it cannot walk through:
// malformed, truncated or too deep MessagePack.
var errSkip = errors.New("cluster: cannot skip a MessagePack value")

// optCache holds decoded options by their MessagePack bytes.
type optCache struct {
	m       map[string]protocol.Dict
	scratch []byte // the message with empty options, to decode
}

// decode decodes the WAMP message data (MessagePack), taking the options
// (or details) of a CALL, CANCEL, YIELD or ERROR from the cache when it
// has them.
func (c *optCache) decode(data []byte) (protocol.Message, error) {
	at, ok := optionsIndex(data)
	if !ok {
		return codec.Decode(data)
	}
	start, end, ok := elementAt(data, at)
	if !ok || end-start == 1 || end-start > maxCachedOptionsLen {
		// Empty options (decoded as nil, without allocating), large
		// ones, or malformed data: the decoder decides.
		return codec.Decode(data)
	}
	if opts, ok := c.m[string(data[start:end])]; ok {
		c.scratch = append(append(append(c.scratch[:0], data[:start]...), 0x80), data[end:]...)
		m, err := codec.Decode(c.scratch)
		if err != nil {
			return nil, err
		}
		if !setOptions(m, opts) {
			return codec.Decode(data)
		}
		return m, nil
	}
	m, err := codec.Decode(data)
	if err != nil {
		return nil, err
	}
	if opts := optionsOf(m); opts != nil {
		if c.m == nil || len(c.m) >= maxCachedOptions {
			c.m = make(map[string]protocol.Dict)
		}
		c.m[string(data[start:end])] = opts
	}
	return m, nil
}

// optionsOf returns the options (or details) of the messages whose frames
// the cache serves.
func optionsOf(m protocol.Message) protocol.Dict {
	switch m := m.(type) {
	case *protocol.Call:
		return m.Options
	case *protocol.Cancel:
		return m.Options
	case *protocol.Yield:
		return m.Options
	case *protocol.Error:
		return m.Details
	}
	return nil
}

// setOptions sets the options (or details) of m to opts; it reports false
// for a message of another type.
func setOptions(m protocol.Message, opts protocol.Dict) bool {
	switch m := m.(type) {
	case *protocol.Call:
		m.Options = opts
	case *protocol.Cancel:
		m.Options = opts
	case *protocol.Yield:
		m.Options = opts
	case *protocol.Error:
		m.Details = opts
	default:
		return false
	}
	return true
}

// optionsIndex returns the index of the options (or details) in the
// MessagePack array data of a WAMP message whose frames the cache serves:
// CALL, CANCEL and YIELD have them after the request ID, ERROR after its
// request type and request ID. It reports false for another message or
// malformed data.
func optionsIndex(data []byte) (int, bool) {
	start, end, ok := elementAt(data, 0)
	if !ok || end-start != 1 || data[start] > 0x7f {
		return 0, false
	}
	switch protocol.MessageType(data[start]) {
	case protocol.TypeCall, protocol.TypeCancel, protocol.TypeYield:
		return 2, true
	case protocol.TypeError:
		return 3, true
	}
	return 0, false
}

// elementAt returns the byte range of the element i of the MessagePack
// array data, which must be a fixarray, array16 or array32.
func elementAt(data []byte, i int) (start, end int, ok bool) {
	if len(data) == 0 {
		return 0, 0, false
	}
	var n, pos int
	switch b := data[0]; {
	case b&0xf0 == 0x90:
		n, pos = int(b&0x0f), 1
	case b == 0xdc && len(data) >= 3:
		n, pos = int(data[1])<<8|int(data[2]), 3
	case b == 0xdd && len(data) >= 5:
		n, pos = int(data[1])<<24|int(data[2])<<16|int(data[3])<<8|int(data[4]), 5
	default:
		return 0, 0, false
	}
	if i >= n {
		return 0, 0, false
	}
	for range i {
		var err error
		if pos, err = skipValue(data, pos, 0); err != nil {
			return 0, 0, false
		}
	}
	end, err := skipValue(data, pos, 0)
	if err != nil {
		return 0, 0, false
	}
	return pos, end, true
}

// skipValue returns the position after the MessagePack value at data[pos:].
func skipValue(data []byte, pos, depth int) (int, error) {
	if pos >= len(data) {
		return 0, errSkip
	}
	b := data[pos]
	pos++
	// size reads a big-endian length of n bytes at pos.
	size := func(n int) (int, bool) {
		if pos+n > len(data) {
			return 0, false
		}
		v := 0
		for _, c := range data[pos : pos+n] {
			v = v<<8 | int(c)
		}
		pos += n
		return v, v >= 0
	}
	// skip moves pos over n bytes.
	skip := func(n int, ok bool) (int, error) {
		if !ok || n > len(data)-pos {
			return 0, errSkip
		}
		return pos + n, nil
	}
	// elems walks over n values (2n for a map).
	elems := func(n int, ok bool) (int, error) {
		if !ok || depth >= maxSkipDepth || n > len(data)-pos {
			return 0, errSkip // every value takes a byte at least
		}
		var err error
		for range n {
			if pos, err = skipValue(data, pos, depth+1); err != nil {
				return 0, err
			}
		}
		return pos, nil
	}
	switch {
	case b <= 0x7f, b >= 0xe0, b == 0xc0, b == 0xc2, b == 0xc3:
		return pos, nil
	case b&0xf0 == 0x80:
		return elems(2*int(b&0x0f), true)
	case b&0xf0 == 0x90:
		return elems(int(b&0x0f), true)
	case b&0xe0 == 0xa0:
		return skip(int(b&0x1f), true)
	}
	switch b {
	case 0xc4, 0xd9: // bin8, str8
		return skip(size(1))
	case 0xc5, 0xda:
		return skip(size(2))
	case 0xc6, 0xdb:
		return skip(size(4))
	case 0xc7, 0xc8, 0xc9: // ext8, ext16, ext32: length, type, data
		n, ok := size(1 << (b - 0xc7))
		return skip(n+1, ok)
	case 0xca, 0xce, 0xd2: // float32, uint32, int32
		return skip(4, true)
	case 0xcb, 0xcf, 0xd3:
		return skip(8, true)
	case 0xcc, 0xd0:
		return skip(1, true)
	case 0xcd, 0xd1:
		return skip(2, true)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1 to 16: type, data
		return skip(1+1<<(b-0xd4), true)
	case 0xdc:
		return elems(size(2))
	case 0xdd:
		return elems(size(4))
	case 0xde:
		n, ok := size(2)
		return elems(2*n, ok)
	case 0xdf:
		n, ok := size(4)
		return elems(2*n, ok)
	}
	return 0, errSkip // 0xc1, never used
}
