package audiodev

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func seq(from, n int) []int16 {
	p := make([]int16, n)
	for i := range p {
		p[i] = int16(from + i)
	}
	return p
}

func TestRingDropsOldestWhenFull(t *testing.T) {
	q := newRing(10, 1)
	q.write(seq(1, 6))
	q.write(seq(7, 6)) // 12 samples into 10: 1 and 2 go
	out := make([]int16, 10)
	if n := q.read(out); n != 10 || !slices.Equal(out, seq(3, 10)) {
		t.Fatalf("read %d: %v", n, out)
	}
	if _, dropped, _, _ := q.stats(); dropped != 2 {
		t.Fatalf("dropped %d", dropped)
	}
	// A write larger than the ring keeps its newest samples.
	q.write(seq(100, 25))
	if n := q.read(out); n != 10 || !slices.Equal(out, seq(115, 10)) {
		t.Fatalf("read %d: %v", n, out)
	}
}

func TestRingPlaysSilenceWhenEmpty(t *testing.T) {
	q := newRing(100, 1)
	out := seq(1, 8)
	if n := q.read(out); n != 0 || !slices.Equal(out, make([]int16, 8)) {
		t.Fatalf("empty ring read %d: %v", n, out)
	}
	q.write(seq(1, 5))
	out = seq(50, 8)
	if n := q.read(out); n != 5 || !slices.Equal(out, append(seq(1, 5), 0, 0, 0)) {
		t.Fatalf("short read %d: %v", n, out)
	}
	if _, _, underruns, played := q.stats(); underruns != 1 || played != 5 {
		t.Fatalf("underruns %d, played %d", underruns, played)
	}
	// Plain silence, with nothing flowing, is not an underrun.
	q.read(out)
	if _, _, underruns, _ := q.stats(); underruns != 1 {
		t.Fatalf("underruns %d after idle silence", underruns)
	}
}

// After silence the ring waits for its start depth, or for as long as
// that depth takes to play, so a burst's last short frame still plays.
func TestRingStartDepth(t *testing.T) {
	q := newRing(100, 20)
	q.write(seq(1, 10))
	out := make([]int16, 10)
	if n := q.read(out); n != 0 {
		t.Fatalf("played %d samples below the start depth", n)
	}
	q.write(seq(11, 10))
	if n := q.read(out); n != 10 || !slices.Equal(out, seq(1, 10)) {
		t.Fatalf("read %d: %v", n, out)
	}
	if n := q.read(out); n != 10 || !slices.Equal(out, seq(11, 10)) {
		t.Fatalf("read %d: %v", n, out)
	}
	// Run dry: the stream has ended.
	if n := q.read(out); n != 0 {
		t.Fatalf("read %d from an empty ring", n)
	}
	// A lone short frame plays after waiting the start depth's time.
	q.write(seq(1, 5))
	if n := q.read(out); n != 0 {
		t.Fatalf("played at once: %d", n)
	}
	q.read(out)
	if n := q.read(out); n != 5 {
		t.Fatalf("the short frame never played: %d", n)
	}
}

// Against a plain slice, over random writes and reads.
func TestRingMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	q := newRing(64, 1)
	var model []int16
	next := 0
	for range 5000 {
		if rng.IntN(2) == 0 {
			p := seq(next, rng.IntN(40))
			next += len(p)
			q.write(p)
			model = append(model, p...)
			if len(model) > 64 {
				model = model[len(model)-64:]
			}
		} else {
			out := make([]int16, rng.IntN(40)+1)
			n := q.read(out)
			want := min(len(out), len(model))
			if n != want || !slices.Equal(out[:n], model[:n]) || !slices.Equal(out[n:], make([]int16, len(out)-n)) {
				t.Fatalf("read %d: %v, want %v", n, out, model[:want])
			}
			model = model[n:]
		}
	}
}

func BenchmarkRingWriteRead(b *testing.B) {
	q := newRing(960*8, 960*2)
	in := seq(0, 960)
	out := make([]int16, 480)
	b.ReportAllocs()
	for b.Loop() {
		q.write(in)
		q.read(out)
		q.read(out)
	}
}
