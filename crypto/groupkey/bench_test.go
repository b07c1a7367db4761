package groupkey

import (
	"bytes"
	"testing"
	"time"
)

// benchFrameSize is a 20 ms Opus voice frame at about 24 kbit/s.
const benchFrameSize = 60

func benchKeyrings(b *testing.B) (tx, rx *Keyring, c *clock) {
	c = newClock(testEpoch0.Add(time.Minute))
	key := testEpochKey(b, 1)
	tx, rx = newKeyring(b, unitA, c), newKeyring(b, unitB, c)
	for _, k := range []*Keyring{tx, rx} {
		if err := k.SetEpochKey(testTG, 1, testEpoch0, key); err != nil {
			b.Fatal(err)
		}
	}
	return tx, rx, c
}

// BenchmarkKeyringSeal seals a 60-byte frame with the clear voice header as
// metadata, into a caller-provided buffer.
func BenchmarkKeyringSeal(b *testing.B) {
	tx, _, _ := benchKeyrings(b)
	s := tx.Sealer(testTG)
	md := voiceHeader(testTG, unitA)
	pt := bytes.Repeat([]byte{0x5A}, benchFrameSize)
	buf := make([]byte, 0, 6+benchFrameSize+33)
	b.SetBytes(benchFrameSize)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Seal(buf, md, pt); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKeyringOpen opens 60-byte frames from one sender, with the clear
// voice header as metadata, into a caller-provided buffer. Frames are
// pre-sealed in a ring; when it wraps, a fresh receiving keyring (outside
// the timer) starts the replay window over. The first frame of each ring
// derives the sender's key.
func BenchmarkKeyringOpen(b *testing.B) {
	const ring = 1 << 14
	tx, _, c := benchKeyrings(b)
	md := voiceHeader(testTG, unitA)
	pt := bytes.Repeat([]byte{0x5A}, benchFrameSize)
	frames := make([][]byte, ring)
	for i := range frames {
		var err error
		if frames[i], err = tx.Sealer(testTG).Seal(nil, md, pt); err != nil {
			b.Fatal(err)
		}
	}
	newRx := func() *Keyring {
		rx := newKeyring(b, unitB, c)
		if err := rx.SetEpochKey(testTG, 1, testEpoch0, testEpochKey(b, 1)); err != nil {
			b.Fatal(err)
		}
		return rx
	}
	rx := newRx()
	out := make([]byte, 0, benchFrameSize)
	b.SetBytes(benchFrameSize)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == ring {
			b.StopTimer()
			rx, i = newRx(), 0
			b.StartTimer()
		}
		if _, _, err := rx.Open(out, testTG, unitA, md, frames[i]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkBurstAdd(b *testing.B) {
	s, err := NewBurstSigner(testSigner, testTG, unitA)
	if err != nil {
		b.Fatal(err)
	}
	frame := bytes.Repeat([]byte{1}, benchFrameSize+25)
	b.ReportAllocs()
	for b.Loop() {
		s.Add(frame)
	}
}
