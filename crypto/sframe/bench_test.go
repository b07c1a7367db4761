package sframe

import (
	"bytes"
	"testing"
)

// benchFrameSize is a 20 ms Opus voice frame at about 24 kbit/s.
const benchFrameSize = 60

func BenchmarkSeal(b *testing.B) {
	s, err := NewSender(AES256GCMSHA512128, testKID, testBaseKey)
	if err != nil {
		b.Fatal(err)
	}
	pt := bytes.Repeat([]byte{0x5A}, benchFrameSize)
	buf := make([]byte, 0, benchFrameSize+MaxOverhead)
	b.SetBytes(benchFrameSize)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Seal(buf, testMetadata, pt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	// Each counter opens once, so pre-seal a ring of frames and reset the
	// replay window whenever the ring wraps.
	const ring = 1 << 14
	s, err := NewSender(AES256GCMSHA512128, testKID, testBaseKey)
	if err != nil {
		b.Fatal(err)
	}
	k, err := NewReceiverKey(AES256GCMSHA512128, testKID, testBaseKey)
	if err != nil {
		b.Fatal(err)
	}
	pt := bytes.Repeat([]byte{0x5A}, benchFrameSize)
	frames := make([][]byte, ring)
	for i := range frames {
		if frames[i], err = s.Seal(nil, testMetadata, pt); err != nil {
			b.Fatal(err)
		}
	}
	out := make([]byte, 0, benchFrameSize)
	b.SetBytes(benchFrameSize)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == ring {
			i = 0
			k.window = replayWindow{}
		}
		if _, _, err := k.Open(out, testMetadata, frames[i]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkParseHeader(b *testing.B) {
	hdr := AppendHeader(nil, Header{KID: 0x01_000412, CTR: 180_000})
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseHeader(hdr); err != nil {
			b.Fatal(err)
		}
	}
}
