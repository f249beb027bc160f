package recent

import (
	"testing"

	"github.com/wampkit/wampkit/protocol"
)

func TestIDs(t *testing.T) {
	var r IDs
	if r.Contains(1) {
		t.Fatal("empty IDs contains 1")
	}
	for id := protocol.ID(1); id <= Size+10; id++ {
		r.Add(id)
	}
	for id := protocol.ID(1); id <= Size+10; id++ {
		if want := id > 10; r.Contains(id) != want {
			t.Errorf("Contains(%d) = %v, want %v", id, !want, want)
		}
	}
}
