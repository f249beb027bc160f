package protocol

import (
	"sync"
	"testing"
)

func TestGlobalIDRange(t *testing.T) {
	seen := make(map[ID]bool, 10000)
	var high int
	for range 10000 {
		id := GlobalID()
		if !id.Valid() {
			t.Fatalf("GlobalID() = %d, out of [1, 2^53]", id)
		}
		if seen[id] {
			t.Fatalf("GlobalID() repeated %d within 10000 draws", id)
		}
		seen[id] = true
		if id > MaxID/2 {
			high++
		}
	}
	// Uniform over [1, 2^53]: about half the draws lie in the upper half.
	// 10000 draws put the count within 4500..5500 with overwhelming probability.
	if high < 4500 || high > 5500 {
		t.Errorf("%d of 10000 GlobalIDs in the upper half, want about 5000", high)
	}
}

func TestGlobalIDConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				if id := GlobalID(); !id.Valid() {
					t.Errorf("GlobalID() = %d", id)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestSessionIDsSequence(t *testing.T) {
	var g SessionIDs
	for want := ID(1); want <= 5; want++ {
		if got := g.Next(); got != want {
			t.Fatalf("Next() = %d, want %d", got, want)
		}
	}
}

func TestSessionIDsWrap(t *testing.T) {
	var g SessionIDs
	g.n.Store(uint64(MaxID) - 2)
	for _, want := range []ID{MaxID - 1, MaxID, 1, 2} {
		if got := g.Next(); got != want {
			t.Fatalf("Next() = %d, want %d", got, want)
		}
	}
	// The sequence stays continuous when the underlying uint64 wraps.
	g.n.Store(^uint64(0) - 1)
	for _, want := range []ID{MaxID - 1, MaxID, 1, 2} {
		if got := g.Next(); got != want {
			t.Fatalf("Next() after uint64 wrap = %d, want %d", got, want)
		}
	}
}

func TestRouterIDs(t *testing.T) {
	var g RouterIDs
	if a, b := g.Next(), g.Next(); a != 1 || b != 2 {
		t.Errorf("Next(), Next() = %d, %d, want 1, 2", a, b)
	}
	g.n.Store(uint64(MaxID) - 1)
	if a, b := g.Next(), g.Next(); a != MaxID || b != 1 {
		t.Errorf("Next() at the end = %d, %d, want 2^53, 1", a, b)
	}
}

func TestIDGeneratorsConcurrent(t *testing.T) {
	const workers, per = 8, 2000
	var s SessionIDs
	var r RouterIDs
	var mu sync.Mutex
	seenS := map[ID]bool{}
	seenR := map[ID]bool{}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			ls := make([]ID, 0, per)
			lr := make([]ID, 0, per)
			for range per {
				ls = append(ls, s.Next())
				lr = append(lr, r.Next())
			}
			mu.Lock()
			defer mu.Unlock()
			for i := range ls {
				seenS[ls[i]] = true
				seenR[lr[i]] = true
			}
		})
	}
	wg.Wait()
	for id := ID(1); id <= workers*per; id++ {
		if !seenS[id] || !seenR[id] {
			t.Fatalf("ID %d missing from the concurrent sequence", id)
		}
	}
	if len(seenS) != workers*per || len(seenR) != workers*per {
		t.Errorf("got %d and %d distinct IDs, want %d", len(seenS), len(seenR), workers*per)
	}
}
