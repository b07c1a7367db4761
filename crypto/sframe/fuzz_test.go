package sframe

import (
	"bytes"
	"testing"
)

// FuzzParseHeader checks that ParseHeader never panics, fails only with
// ErrMalformedHeader, and that every header it accepts re-encodes to the
// exact bytes it consumed (one encoding per header).
func FuzzParseHeader(f *testing.F) {
	for _, h := range []Header{{0, 0}, {7, 7}, {0x123, 0x4567}, {^uint64(0), ^uint64(0)}} {
		f.Add(AppendHeader(nil, h))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := ParseHeader(b)
		if err != nil {
			if err != ErrMalformedHeader {
				t.Fatalf("ParseHeader(%x) error %v, want ErrMalformedHeader", b, err)
			}
			return
		}
		if n > len(b) || n != h.Len() {
			t.Fatalf("ParseHeader(%x) used %d bytes, Len() = %d", b, n, h.Len())
		}
		if enc := AppendHeader(nil, h); !bytes.Equal(enc, b[:n]) {
			t.Fatalf("ParseHeader(%x) = %+v, which encodes as %x", b[:n], h, enc)
		}
	})
}

// fuzzKIDs are the keys the FuzzOpen receiver knows: the RFC 9605 C.3 key
// and a Varta-like sender.
var fuzzKIDs = []uint64{0x123, testKID}

func fuzzBaseKey(kid uint64) []byte {
	if kid == 0x123 {
		return []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	}
	return testBaseKey
}

// FuzzOpen feeds arbitrary metadata and frames to a receiver. Open must
// fail only with ErrDecrypt or ErrUnknownKey (a fresh receiver has seen no
// counter), and any frame it accepts must be exactly what the sender would
// seal for that plaintext and counter, and must then be refused as a
// replay.
func FuzzOpen(f *testing.F) {
	s, err := NewSender(AES256GCMSHA512128, testKID, testBaseKey)
	if err != nil {
		f.Fatal(err)
	}
	ct, err := s.Seal(nil, testMetadata, bytes.Repeat([]byte{0x5A}, 60))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(testMetadata, ct)
	f.Fuzz(func(t *testing.T, metadata, frame []byte) {
		r, err := NewReceiver(AES256GCMSHA512128)
		if err != nil {
			t.Fatal(err)
		}
		for _, kid := range fuzzKIDs {
			if err := r.AddKey(kid, fuzzBaseKey(kid)); err != nil {
				t.Fatal(err)
			}
		}
		pt, h, err := r.Open(nil, metadata, frame)
		switch err {
		case ErrDecrypt, ErrUnknownKey:
			return
		case nil:
		default:
			t.Fatalf("Open error %v", err)
		}
		s, err := NewSender(AES256GCMSHA512128, h.KID, fuzzBaseKey(h.KID))
		if err != nil {
			t.Fatal(err)
		}
		s.AdvanceTo(h.CTR)
		again, err := s.Seal(nil, metadata, pt)
		if err != nil || !bytes.Equal(again, frame) {
			t.Fatalf("accepted frame %x, but sealing its plaintext gives %x, %v", frame, again, err)
		}
		if _, _, err := r.Open(nil, metadata, frame); err != ErrReplay {
			t.Fatalf("second Open of an accepted frame: %v, want ErrReplay", err)
		}
	})
}
