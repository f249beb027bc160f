//go:build !race

package protocol

import "testing"

// TestFromListAllocs pins FromList's cost for decoded input that needs no
// conversion: one allocation, the message struct itself.
func TestFromListAllocs(t *testing.T) {
	for _, bm := range benchMessages {
		l, err := ToList(bm.m)
		if err != nil {
			t.Fatal(err)
		}
		n := testing.AllocsPerRun(100, func() {
			if _, err := FromList(l); err != nil {
				t.Fatal(err)
			}
		})
		if n > 1 {
			t.Errorf("FromList(%s) allocates %v times, want 1", bm.name, n)
		}
	}
}

// TestIDAllocs pins the ID generators and URI checks to zero allocations.
func TestIDAllocs(t *testing.T) {
	var s SessionIDs
	var r RouterIDs
	n := testing.AllocsPerRun(100, func() {
		GlobalID()
		s.Next()
		r.Next()
		_ = CheckURI("com.myapp.topic", true)
		_ = CheckPattern("com.myapp..topic", MatchWildcard, false)
	})
	if n != 0 {
		t.Errorf("ID generators and URI checks allocate %v times, want 0", n)
	}
}
