package protocol

import (
	"math/rand/v2"
	"sync/atomic"
)

// GlobalID returns a random ID drawn uniformly from [1, MaxID], as the spec
// requires for global-scope IDs: session IDs in WELCOME and publication IDs
// in PUBLISHED and EVENT (spec basic "IDs").
//
// It uses the top-level generator of math/rand/v2, a per-thread ChaCha8
// state that the runtime seeds from the operating system's entropy source,
// so it is safe for concurrent use, lock-free and allocation-free. The IDs
// are unpredictable in practice but GlobalID is not meant as a source of
// secrets.
func GlobalID() ID {
	return ID(rand.Uint64N(uint64(MaxID))) + 1
}

// RouterIDs generates router-scope IDs (subscription and registration IDs,
// spec basic "IDs"): 1, 2, 3, ... wrapping to 1 after MaxID. The zero value
// is ready to use; Next is safe for concurrent use. A RouterIDs must not be
// copied after first use.
//
// Wrapping only happens after 2^53 IDs; a router that keeps IDs alive for
// that long must still check an ID is free before using it.
type RouterIDs struct {
	n atomic.Uint64
}

// Next returns the next router-scope ID.
func (g *RouterIDs) Next() ID { return wrapCount(g.n.Add(1)) }

// SessionIDs generates session-scope request IDs: 1, 2, 3, ..., wrapping to
// 1 after MaxID (spec basic "IDs": a new request ID MUST be the previous
// one plus 1). Each direction of a session has its own counter: the client
// for its requests (CALL, PUBLISH, ...), the router for each session's
// INVOCATIONs. The zero value starts at 1; Next is safe for concurrent use.
// A SessionIDs must not be copied after first use.
type SessionIDs struct {
	n atomic.Uint64
}

// Next returns the next request ID of the session.
func (g *SessionIDs) Next() ID { return wrapCount(g.n.Add(1)) }

// wrapCount maps the n-th count (n >= 1) to an ID in [1, MaxID]:
// 1..MaxID, then 1 again. Because 2^64 is a multiple of MaxID (2^53), the
// sequence stays continuous even when the uint64 counter itself wraps.
func wrapCount(n uint64) ID {
	return ID((n-1)%uint64(MaxID)) + 1
}
