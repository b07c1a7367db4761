package audiodev

import (
	"encoding/binary"
	"slices"
	"testing"
)

func TestFramerCutsFrames(t *testing.T) {
	var frames [][]int16
	f := newFramer(4, func(p []int16) { frames = append(frames, p) })
	in := seq(-5, 10)
	b := make([]byte, 2*len(in))
	for i, s := range in {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
	}
	// Callbacks of odd sizes, one splitting a sample.
	f.write(b[:3])
	f.write(b[3:11])
	f.write(b[11:])
	if len(frames) != 2 || !slices.Equal(frames[0], seq(-5, 4)) || !slices.Equal(frames[1], seq(-1, 4)) {
		t.Fatalf("frames %v", frames)
	}
	// Each frame is the receiver's: the framer does not reuse it.
	frames[0][0] = 99
	f.write(b[:8])
	if frames[1][0] != -1 || !slices.Equal(frames[2], []int16{3, 4, -5, -4}) {
		t.Fatalf("frames share memory: %v", frames)
	}
}

func TestPutSamples(t *testing.T) {
	out := make([]byte, 6)
	putSamples(out, []int16{1, -2, 32767})
	if want := []byte{1, 0, 0xfe, 0xff, 0xff, 0x7f}; !slices.Equal(out, want) {
		t.Fatalf("%x", out)
	}
}
