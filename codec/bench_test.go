package codec

import (
	"bytes"
	"testing"
	"time"
)

func benchFrames(b *testing.B) ([][]int16, [][]byte) {
	b.Helper()
	pcm := speech(b)
	frames, err := EncodeAll(pcm, EncoderConfig{DisableDTX: true})
	if err != nil {
		b.Fatal(err)
	}
	return SplitFrames(pcm), frames
}

// BenchmarkEncode: one 20 ms frame of speech at the default settings
// (16 kbit/s, complexity 5).
func BenchmarkEncode(b *testing.B) {
	pcm, _ := benchFrames(b)
	enc, err := NewEncoder(EncoderConfig{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, _, err := enc.Encode(pcm[i%len(pcm)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkDecode: one 20 ms frame.
func BenchmarkDecode(b *testing.B) {
	_, frames := benchFrames(b)
	dec, err := NewDecoder()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := dec.Decode(frames[i%len(frames)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkPLC: concealing one lost frame.
func BenchmarkPLC(b *testing.B) {
	_, frames := benchFrames(b)
	dec, err := NewDecoder()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i%5 == 0 {
			dec.Decode(frames[i%len(frames)])
		} else if _, err := dec.PLC(); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkJitterBuffer: one Push and one Pop, the receive path per frame.
func BenchmarkJitterBuffer(b *testing.B) {
	_, frames := benchFrames(b)
	jb, err := NewJitterBuffer(JitterConfig{})
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Unix(1_700_000_000, 0)
	for i := range 3 {
		jb.Push(uint64(i), frames[i], false, t0.Add(time.Duration(i)*FrameDuration))
	}
	b.ReportAllocs()
	i := 3
	for b.Loop() {
		now := t0.Add(time.Duration(i) * FrameDuration)
		jb.Push(uint64(i), frames[i%len(frames)], false, now)
		if p := jb.Pop(now); p.Kind != KindFrame && p.Kind != KindSilence {
			b.Fatalf("slot %d: %v", i, p.Kind)
		}
		i++
	}
}

// BenchmarkReadWAV: a 22.05 kHz 16-bit WAV of 1 s, resampled to 48 kHz.
func BenchmarkReadWAV(b *testing.B) {
	tone := sine(22050, 440, 22050, 8000)
	var buf bytes.Buffer
	if err := WriteWAV(&buf, tone, 22050); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ReadWAV(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}
