// Package recent remembers the last few IDs of a kind, such as the
// request IDs of the progressive calls that ended lately, whose late
// messages a peer must recognize and discard (WAMP spec, advanced
// "Progressive Call Invocations", "Continuations on Completed Calls").
//
// It is shared by the router and the client, which do not import each
// other.
package recent

import (
	"slices"

	"github.com/wampkit/wampkit/protocol"
)

// Size is how many IDs an [IDs] remembers: the spec's "grace period
// table", kept by count rather than by time.
const Size = 64

// IDs remembers the last [Size] IDs added to it. The zero value is empty
// and ready to use; it allocates only when the first ID is added. It is
// not safe for concurrent use.
type IDs struct {
	ids  []protocol.ID
	next int // the slot Add overwrites once ids is full
}

// Add remembers id, forgetting the oldest ID if Size are remembered.
func (r *IDs) Add(id protocol.ID) {
	if len(r.ids) < Size {
		r.ids = append(r.ids, id)
		return
	}
	r.ids[r.next] = id
	r.next = (r.next + 1) % Size
}

// Contains reports whether id is remembered.
func (r *IDs) Contains(id protocol.ID) bool {
	return len(r.ids) > 0 && slices.Contains(r.ids, id)
}
