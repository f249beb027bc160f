package router

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// TestMembers checks members against a plain slice through random adds
// and removes, and that a snapshot never changes once taken.
func TestMembers(t *testing.T) {
	var m members[int]
	var want []int
	type kept struct {
		snap *memberSnap[int]
		want []int
	}
	var snaps []kept
	rng := rand.New(rand.NewPCG(1, 2))
	next := 0
	for step := range 20000 {
		// Grow to a few chunks, shrink, grow again.
		grow := step%5000 < 3000
		if len(want) == 0 || grow && rng.IntN(4) != 0 || !grow && rng.IntN(4) == 0 {
			next++
			m.add(next)
			want = append(want, next)
		} else {
			x := want[rng.IntN(len(want))]
			if !m.remove(x) {
				t.Fatalf("step %d: remove(%d) = false for a member", step, x)
			}
			want = slices.DeleteFunc(want, func(y int) bool { return y == x })
		}
		s := m.load()
		if got := s.all(); s.len() != len(want) || !slices.Equal(got, want) {
			t.Fatalf("step %d: got %d members %v, want %v", step, s.len(), got, want)
		}
		for _, ch := range s.chunkList() {
			if len(ch) == 0 || len(ch) > memberChunk {
				t.Fatalf("step %d: a chunk of %d members", step, len(ch))
			}
		}
		if n := len(s.chunkList()); n > 2 && len(want) < n*memberChunk/4 {
			t.Fatalf("step %d: %d chunks for %d members", step, n, len(want))
		}
		if step%97 == 0 {
			snaps = append(snaps, kept{s, slices.Clone(want)})
		}
	}
	for _, k := range snaps {
		if got := k.snap.all(); !slices.Equal(got, k.want) {
			t.Fatalf("a snapshot changed: %v, was %v", got, k.want)
		}
	}
	if m.remove(-1) {
		t.Error("remove of a non-member reported true")
	}
	for _, x := range slices.Clone(want) {
		m.remove(x)
	}
	if s := m.load(); s.len() != 0 || len(s.chunkList()) != 0 || s.contains(1) {
		t.Errorf("emptied set: %d members", s.len())
	}
}

// TestMembersConcurrentReaders has readers walk snapshots while a writer
// adds and removes (run with -race): every snapshot a reader takes holds
// distinct, positive members and as many as it says.
func TestMembersConcurrentReaders(t *testing.T) {
	var m members[int]
	var mu sync.Mutex // the owner's lock
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				s := m.load()
				seen := make(map[int]bool, s.len())
				for _, ch := range s.chunkList() {
					for _, x := range ch {
						if x <= 0 || seen[x] {
							t.Errorf("member %d seen twice or invalid", x)
							return
						}
						seen[x] = true
					}
				}
				if len(seen) != s.len() {
					t.Errorf("snapshot of %d members walks %d", s.len(), len(seen))
					return
				}
			}
		})
	}
	var in []int
	for i := 1; i <= 3000; i++ {
		mu.Lock()
		m.add(i)
		in = append(in, i)
		if i%3 == 0 {
			x := in[len(in)/2]
			m.remove(x)
			in = slices.DeleteFunc(in, func(y int) bool { return y == x })
		}
		mu.Unlock()
	}
	close(done)
	wg.Wait()
}

// TestPickWhere checks that pickWhere chooses among the callees ok
// admits as choose would among a slice of just those, for each policy,
// with and without weights, over a registration of several chunks.
func TestPickWhere(t *testing.T) {
	for _, invoke := range []string{invokeSingle, invokeFirst, invokeLast, invokeRoundRobin} {
		for _, weighted := range []bool{false, true} {
			a := &registration{invoke: invoke} // pickWhere's
			b := &registration{invoke: invoke} // choose's, over the eligible
			var eligible []*registrant
			for i := range 700 {
				rg := &registrant{order: uint64(i)}
				if weighted && i%7 == 0 {
					rg.weight.Store(uint32(i%5 + 2))
				}
				a.callees.add(rg)
				if i%3 != 0 {
					eligible = append(eligible, rg)
				}
			}
			a.weighted.Store(weighted)
			b.weighted.Store(weighted)
			ok := func(rg *registrant) bool { return rg.order%3 != 0 }
			for call := range 1500 {
				got, want := a.pickWhere(ok), b.choose([][]*registrant{eligible}, len(eligible))
				if got != want {
					t.Fatalf("%s weighted=%v, call %d: picked callee %d, want %d", invoke, weighted, call, got.order, want.order)
				}
			}
			if rg := a.pickWhere(func(*registrant) bool { return false }); rg != nil {
				t.Errorf("%s: picked callee %d with none eligible", invoke, rg.order)
			}
		}
	}
	// random: only eligible callees, and all of them in time.
	r := &registration{invoke: invokeRandom}
	for i := range 300 {
		r.callees.add(&registrant{order: uint64(i)})
	}
	seen := map[uint64]bool{}
	for range 20000 {
		rg := r.pickWhere(func(rg *registrant) bool { return rg.order%2 == 1 })
		if rg.order%2 != 1 {
			t.Fatalf("random picked ineligible callee %d", rg.order)
		}
		seen[rg.order] = true
	}
	if len(seen) != 150 {
		t.Errorf("random reached %d of 150 eligible callees", len(seen))
	}
}
