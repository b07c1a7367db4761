package audiodev

import "encoding/binary"

// framer cuts the capture device's little-endian signed 16-bit mono bytes
// into frames of a fixed number of samples. Called only from the device's
// callback.
type framer struct {
	frame []int16 // the frame being filled
	n     int     // samples in frame
	odd   []byte  // a byte left over from a callback with an odd length
	emit  func([]int16)
}

func newFramer(samples int, emit func([]int16)) *framer {
	return &framer{frame: make([]int16, samples), emit: emit}
}

// write consumes b; each full frame goes to emit, which keeps the slice
// (a new one is allocated for the next frame).
func (f *framer) write(b []byte) {
	if len(f.odd) == 1 && len(b) > 0 {
		f.push(int16(binary.LittleEndian.Uint16([]byte{f.odd[0], b[0]})))
		f.odd, b = f.odd[:0], b[1:]
	}
	for len(b) >= 2 {
		f.push(int16(binary.LittleEndian.Uint16(b)))
		b = b[2:]
	}
	if len(b) == 1 {
		f.odd = append(f.odd[:0], b[0])
	}
}

func (f *framer) push(s int16) {
	f.frame[f.n] = s
	f.n++
	if f.n == len(f.frame) {
		full := f.frame
		f.frame, f.n = make([]int16, len(full)), 0
		f.emit(full)
	}
}

// putSamples writes p into out as little-endian signed 16-bit samples.
func putSamples(out []byte, p []int16) {
	for i, s := range p {
		binary.LittleEndian.PutUint16(out[2*i:], uint16(s))
	}
}
