package sframe

import (
	"math/rand/v2"
	"testing"
)

func TestReplayWindow(t *testing.T) {
	type step struct {
		ctr  uint64
		want bool // accepted
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"in order", []step{{0, true}, {1, true}, {2, true}}},
		{"duplicate", []step{{5, true}, {5, false}}},
		{"first counter may be large", []step{{1 << 40, true}, {1<<40 - 1, true}, {1 << 40, false}}},
		{"reordered within window", []step{{10, true}, {8, true}, {9, true}, {8, false}, {11, true}}},
		{"oldest in window", []step{{ReplayWindow - 1, true}, {0, true}, {0, false}}},
		{"just outside window", []step{{ReplayWindow, true}, {0, false}, {1, true}}},
		{"jump clears old bits", []step{{3, true}, {3 + 64*windowWords, true}, {3 + 64*windowWords - ReplayWindow + 1, true}}},
		{"small jump keeps bits", []step{{100, true}, {99, true}, {170, true}, {99, false}, {100, false}, {101, true}}},
		{"word boundary", []step{{63, true}, {64, true}, {127, true}, {128, true}, {63, false}, {64, false}, {65, true}}},
		{"max counter", []step{{^uint64(0), true}, {^uint64(0), false}, {^uint64(0) - 1, true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var w replayWindow
			for i, s := range tc.steps {
				got := w.check(s.ctr)
				if got != s.want {
					t.Fatalf("step %d: check(%d) = %v, want %v", i, s.ctr, got, s.want)
				}
				if got {
					w.accept(s.ctr)
				}
			}
		})
	}
}

// TestReplayWindowModel compares the bitmap with a plain set of accepted
// counters over random walks with reordering, duplicates and jumps.
func TestReplayWindowModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for run := range 50 {
		var w replayWindow
		seen := map[uint64]bool{}
		var top uint64
		anySeen := false
		next := uint64(rng.IntN(1 << 20))
		for i := range 5000 {
			var ctr uint64
			switch r := rng.IntN(100); {
			case r < 60:
				ctr = next
				next++
			case r < 85 && next > 0: // reordered or duplicate, within ~2 windows
				ctr = next - 1 - uint64(rng.IntN(min(int(next), 2*ReplayWindow)))
			case r < 95:
				next += uint64(rng.IntN(3 * ReplayWindow))
				ctr = next
			default:
				next += uint64(rng.IntN(200 * 64))
				ctr = next
			}
			want := !seen[ctr] && (!anySeen || ctr > top || top-ctr < ReplayWindow)
			if got := w.check(ctr); got != want {
				t.Fatalf("run %d step %d: check(%d) = %v, want %v (top %d)", run, i, ctr, got, want, top)
			}
			if want {
				w.accept(ctr)
				seen[ctr] = true
				if !anySeen || ctr > top {
					top, anySeen = ctr, true
				}
			}
		}
	}
}
