package audiodev

import "sync"

// ring is the playback buffer between Playback.Write (any goroutine) and
// the device's callback (miniaudio's thread). Write drops the oldest
// samples when the ring is full, so the speaker stays close to live;
// read fills with silence what the ring cannot supply.
//
// After silence the ring waits until it holds start samples (or has held
// some for as long as start samples take to play) before it plays, so that
// a writer working in 20 ms frames and a device reading in 10 ms periods do
// not underrun on every beat.
type ring struct {
	mu      sync.Mutex // guards everything below
	buf     []int16
	r, n    int  // read position and samples held
	start   int  // samples to collect before playing after silence
	playing bool // audio is flowing
	waited  int  // samples of silence played while holding audio that is not playing yet

	dropped   uint64 // samples dropped by Write because the ring was full
	underruns uint64 // reads that ran dry while audio was flowing
	played    uint64 // samples of audio played (not silence)
}

func newRing(size, start int) *ring {
	return &ring{buf: make([]int16, size), start: min(start, size)}
}

// write copies p into the ring, dropping the oldest samples if it would
// overflow. It never blocks beyond the ring's lock.
func (q *ring) write(p []int16) {
	q.mu.Lock()
	defer q.mu.Unlock()
	size := len(q.buf)
	if len(p) > size {
		q.dropped += uint64(len(p) - size)
		p = p[len(p)-size:]
	}
	if over := q.n + len(p) - size; over > 0 {
		q.r = (q.r + over) % size
		q.n -= over
		q.dropped += uint64(over)
	}
	w := (q.r + q.n) % size
	c := copy(q.buf[w:], p)
	copy(q.buf, p[c:])
	q.n += len(p)
}

// read fills p with the next samples, silence where there are none, and
// returns how many were audio.
func (q *ring) read(p []int16) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.playing {
		if q.n == 0 {
			q.waited = 0
			clear(p)
			return 0
		}
		if q.n < q.start && q.waited < q.start {
			q.waited += len(p)
			clear(p)
			return 0
		}
		q.playing, q.waited = true, 0
	}
	got := min(len(p), q.n)
	size := len(q.buf)
	c := copy(p[:got], q.buf[q.r:min(q.r+got, size)])
	copy(p[c:got], q.buf[:got-c])
	clear(p[got:])
	q.r = (q.r + got) % size
	q.n -= got
	q.played += uint64(got)
	if got < len(p) {
		q.underruns++
		q.playing = false
	}
	if q.n == 0 {
		q.r = 0
	}
	return got
}

// stats returns the counters.
func (q *ring) stats() (held int, dropped, underruns, played uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n, q.dropped, q.underruns, q.played
}
