package cluster

import (
	"runtime"
	"testing"

	"github.com/wampkit/wampkit/protocol"
)

// TestStandinProcsGrowLinearly: recording the procedure of one more
// mirrored registration costs the same next to 20,000 as next to none.
// The stand-in's table was a map copied on every change, so mirroring
// the n registrations of another node cost O(n²) (32,000 took 43 s).
func TestStandinProcsGrowLinearly(t *testing.T) {
	st := &standin{}
	const n = 20000
	for i := range n {
		st.setProc(protocol.ID(i+1), "com.example.proc")
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range 1000 {
		id := protocol.ID(n + i + 1)
		st.setProc(id, "com.example.other")
		st.setProc(id, "") // the registration ends
	}
	runtime.ReadMemStats(&after)
	// A copied map of 20,000 entries is hundreds of KiB; an entry of its
	// own a few dozen bytes.
	if per := (after.TotalAlloc - before.TotalAlloc) / 2000; per > 4096 {
		t.Errorf("recording a procedure next to %d allocates %d bytes", n, per)
	}
	for _, id := range []protocol.ID{1, n, n + 1} {
		p, ok := st.procs.Load(id)
		if want := id <= n; ok != want || ok && p.(protocol.URI) != "com.example.proc" {
			t.Errorf("procedure of %d: %v, %v", id, p, ok)
		}
	}
}
