package sframe

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
)

var (
	testBaseKey  = bytes.Repeat([]byte{0x42}, 32)
	testMetadata = []byte{0x10, 0x00, 0xc8, 0x00, 0x04, 0x12} // a clear voice header
)

const testKID = 0xc8_000412

func newPair(t testing.TB, suite CipherSuite, kid uint64) (*Sender, *Receiver) {
	t.Helper()
	s, err := NewSender(suite, kid, testBaseKey)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReceiver(suite)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.AddKey(kid, testBaseKey); err != nil {
		t.Fatal(err)
	}
	return s, r
}

func mustSeal(t testing.TB, s *Sender, metadata, pt []byte) []byte {
	t.Helper()
	ct, err := s.Seal(nil, metadata, pt)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return ct
}

func TestSealOpenRoundTrip(t *testing.T) {
	for _, suite := range []CipherSuite{AES128GCMSHA256128, AES256GCMSHA512128} {
		for _, tc := range []struct {
			name     string
			metadata []byte
			pt       []byte
		}{
			{"voice frame", testMetadata, bytes.Repeat([]byte{0xA5}, 60)},
			{"no metadata", nil, []byte("hello")},
			{"empty plaintext", testMetadata, nil},
			{"large", testMetadata, bytes.Repeat([]byte{1}, 900)},
		} {
			t.Run(fmt.Sprintf("%v/%s", suite, tc.name), func(t *testing.T) {
				s, r := newPair(t, suite, testKID)
				for i := range 3 {
					ct := mustSeal(t, s, tc.metadata, tc.pt)
					want := (Header{KID: testKID, CTR: uint64(i)}).Len() + len(tc.pt) + TagSize
					if len(ct) != want {
						t.Errorf("sealed length %d, want %d", len(ct), want)
					}
					pt, h, err := r.Open(nil, tc.metadata, ct)
					if err != nil {
						t.Fatalf("frame %d: Open: %v", i, err)
					}
					if !bytes.Equal(pt, tc.pt) || h.KID != testKID || h.CTR != uint64(i) {
						t.Fatalf("frame %d: Open = %x, %+v", i, pt, h)
					}
				}
			})
		}
	}
}

// TestSealAppends checks that Seal and Open append to dst and leave its
// prefix alone (the caller puts the clear voice header there).
func TestSealAppends(t *testing.T) {
	s, r := newPair(t, AES256GCMSHA512128, testKID)
	dst := append(make([]byte, 0, 128), testMetadata...)
	out, err := s.Seal(dst, testMetadata, []byte("audio"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out[:len(testMetadata)], testMetadata) || &out[0] != &dst[:1][0] {
		t.Fatalf("Seal did not append in place: %x", out)
	}
	prefix := []byte("pt:")
	pt, _, err := r.Open(prefix, out[:len(testMetadata)], out[len(testMetadata):])
	if err != nil || string(pt) != "pt:audio" {
		t.Fatalf("Open = %q, %v", pt, err)
	}
}

func TestSendersWithDifferentKeysDiffer(t *testing.T) {
	a, err := NewSender(AES256GCMSHA512128, 1, testBaseKey)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSender(AES256GCMSHA512128, 2, testBaseKey)
	if err != nil {
		t.Fatal(err)
	}
	pt := bytes.Repeat([]byte{0}, 32)
	ca, cb := mustSeal(t, a, nil, pt), mustSeal(t, b, nil, pt)
	// Same base key, same counter, different KID: the KID is in the
	// derivation, so the ciphertexts after the header differ.
	if bytes.Equal(ca[1:], cb[1:]) {
		t.Fatal("two KIDs with the same base key produced the same ciphertext")
	}
}

// TestOpenRejectsTampering flips each part of a sealed frame and its
// metadata; every change must give exactly the opaque ErrDecrypt and must
// not consume the counter.
func TestOpenRejectsTampering(t *testing.T) {
	s, r := newPair(t, AES256GCMSHA512128, 0x123)
	pt := bytes.Repeat([]byte{0x5A}, 60)
	ct := mustSeal(t, s, testMetadata, pt)
	_, hlen, err := ParseHeader(ct)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(b []byte, i int) []byte {
		c := bytes.Clone(b)
		c[i] ^= 0x01
		return c
	}
	tests := []struct {
		name     string
		metadata []byte
		frame    []byte
	}{
		{"header counter (in the config byte)", testMetadata, flip(ct, 0)},
		{"ciphertext first byte", testMetadata, flip(ct, hlen)},
		{"ciphertext last byte", testMetadata, flip(ct, len(ct)-TagSize-1)},
		{"tag first byte", testMetadata, flip(ct, len(ct)-TagSize)},
		{"tag last byte", testMetadata, flip(ct, len(ct)-1)},
		{"metadata changed", flip(testMetadata, 0), ct},
		{"metadata missing", nil, ct},
		{"metadata extended", append(bytes.Clone(testMetadata), 0), ct},
		{"truncated by one", testMetadata, ct[:len(ct)-1]},
		{"extra byte", testMetadata, append(bytes.Clone(ct), 0)},
		{"header only", testMetadata, ct[:hlen]},
		{"shorter than a tag", testMetadata, ct[:hlen+TagSize-1]},
		{"empty", testMetadata, nil},
		{"truncated header", testMetadata, ct[:1]},
		{"non-minimal header", testMetadata, append([]byte{0x80, 0x05}, ct[hlen:]...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := r.Open(nil, tc.metadata, tc.frame)
			if err != ErrDecrypt {
				t.Fatalf("Open error = %v, want ErrDecrypt", err)
			}
			if out != nil {
				t.Fatalf("Open returned plaintext %x on failure", out)
			}
		})
	}
	// A changed KID names a key the receiver does not have.
	if _, _, err := r.Open(nil, testMetadata, flip(ct, hlen-1)); err != ErrUnknownKey {
		t.Fatalf("changed KID: %v, want ErrUnknownKey", err)
	}
	// None of the failures used up the counter: the real frame opens.
	if got, _, err := r.Open(nil, testMetadata, ct); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("genuine frame after forgeries: %x, %v", got, err)
	}
}

func TestOpenUnknownKID(t *testing.T) {
	s, r := newPair(t, AES256GCMSHA512128, 0x123)
	other, err := NewSender(AES256GCMSHA512128, 0x124, testBaseKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Open(nil, nil, mustSeal(t, other, nil, []byte("x"))); err != ErrUnknownKey {
		t.Fatalf("Open with unknown KID: %v, want ErrUnknownKey", err)
	}
	ct := mustSeal(t, s, nil, []byte("x"))
	r.RemoveKey(0x123)
	if _, _, err := r.Open(nil, nil, ct); err != ErrUnknownKey {
		t.Fatalf("Open after RemoveKey: %v, want ErrUnknownKey", err)
	}
	rk, err := NewReceiverKey(AES256GCMSHA512128, 0x124, testBaseKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := rk.Open(nil, nil, ct); err != ErrUnknownKey {
		t.Fatalf("ReceiverKey.Open of another KID: %v, want ErrUnknownKey", err)
	}
}

// TestOpenWrongKey opens with the right KID but another base key (a
// non-member guessing, or a stale key): that is a decryption failure.
func TestOpenWrongKey(t *testing.T) {
	s, _ := newPair(t, AES256GCMSHA512128, 7)
	r, err := NewReceiver(AES256GCMSHA512128)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.AddKey(7, []byte("some other key")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Open(nil, nil, mustSeal(t, s, nil, []byte("x"))); err != ErrDecrypt {
		t.Fatalf("Open with the wrong key: %v, want ErrDecrypt", err)
	}
}

func TestOpenReplay(t *testing.T) {
	s, r := newPair(t, AES256GCMSHA512128, testKID)
	frames := make([][]byte, 5)
	for i := range frames {
		frames[i] = mustSeal(t, s, testMetadata, []byte{byte(i)})
	}
	open := func(i int) error {
		_, _, err := r.Open(nil, testMetadata, frames[i])
		return err
	}
	// Out of order within the window: each accepted once.
	for _, i := range []int{1, 0, 3, 2} {
		if err := open(i); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	for _, i := range []int{0, 1, 2, 3} {
		if err := open(i); err != ErrReplay {
			t.Fatalf("replayed frame %d: %v, want ErrReplay", i, err)
		}
	}
	if err := open(4); err != nil {
		t.Fatalf("frame 4: %v", err)
	}
}

func TestOpenTooOld(t *testing.T) {
	s, r := newPair(t, AES256GCMSHA512128, testKID)
	first := mustSeal(t, s, nil, nil)
	edge := mustSeal(t, s, nil, nil) // counter 1
	s.AdvanceTo(ReplayWindow + 1)
	newest := mustSeal(t, s, nil, nil) // counter ReplayWindow+1
	if _, _, err := r.Open(nil, nil, newest); err != nil {
		t.Fatal(err)
	}
	// Counter 0 is ReplayWindow+1 behind: rejected though never seen.
	if _, _, err := r.Open(nil, nil, first); err != ErrReplay {
		t.Fatalf("frame %d behind: %v, want ErrReplay", ReplayWindow+1, err)
	}
	// Counter 1 is exactly ReplayWindow behind: still rejected.
	if _, _, err := r.Open(nil, nil, edge); err != ErrReplay {
		t.Fatalf("frame %d behind: %v, want ErrReplay", ReplayWindow, err)
	}
	s.AdvanceTo(2) // no effect: never backwards
	inWindow := mustSeal(t, s, nil, nil)
	if h, _, _ := ParseHeader(inWindow); h.CTR != ReplayWindow+2 {
		t.Fatalf("AdvanceTo moved the counter back to %d", h.CTR)
	}
}

// TestForgedFrameDoesNotAdvanceWindow sends a forgery with a counter far
// ahead; if it moved the window, every genuine frame would then be "too
// old".
func TestForgedFrameDoesNotAdvanceWindow(t *testing.T) {
	s, r := newPair(t, AES256GCMSHA512128, testKID)
	genuine := mustSeal(t, s, testMetadata, []byte("a"))
	forged := AppendHeader(nil, Header{KID: testKID, CTR: 1 << 40})
	forged = append(forged, make([]byte, 1+TagSize)...)
	if _, _, err := r.Open(nil, testMetadata, forged); err != ErrDecrypt {
		t.Fatalf("forged frame: %v, want ErrDecrypt", err)
	}
	if _, _, err := r.Open(nil, testMetadata, genuine); err != nil {
		t.Fatalf("genuine frame after forgery: %v", err)
	}
}

func TestAddKeyDuplicate(t *testing.T) {
	_, r := newPair(t, AES256GCMSHA512128, 9)
	if err := r.AddKey(9, testBaseKey); !errors.Is(err, ErrDuplicateKID) {
		t.Fatalf("second AddKey: %v, want ErrDuplicateKID", err)
	}
}

func TestInvalidParameters(t *testing.T) {
	if _, err := NewSender(0x0001, 1, testBaseKey); !errors.Is(err, ErrUnsupportedSuite) {
		t.Errorf("NewSender(suite 1): %v, want ErrUnsupportedSuite", err)
	}
	if _, err := NewReceiver(0x0006); !errors.Is(err, ErrUnsupportedSuite) {
		t.Errorf("NewReceiver(suite 6): %v, want ErrUnsupportedSuite", err)
	}
	if _, err := NewSender(AES256GCMSHA512128, 1, nil); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("NewSender(empty key): %v, want ErrInvalidKey", err)
	}
	if _, err := NewReceiverKey(AES256GCMSHA512128, 1, []byte{}); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("NewReceiverKey(empty key): %v, want ErrInvalidKey", err)
	}
}

func TestWipe(t *testing.T) {
	s, r := newPair(t, AES256GCMSHA512128, testKID)
	ct := mustSeal(t, s, nil, []byte("x"))
	s.Wipe()
	if _, err := s.Seal(nil, nil, []byte("x")); err != ErrWiped {
		t.Fatalf("Seal after Wipe: %v, want ErrWiped", err)
	}
	r.Wipe()
	if _, _, err := r.Open(nil, nil, ct); err != ErrUnknownKey {
		t.Fatalf("Open after Receiver.Wipe: %v, want ErrUnknownKey", err)
	}
	rk, err := NewReceiverKey(AES256GCMSHA512128, testKID, testBaseKey)
	if err != nil {
		t.Fatal(err)
	}
	rk.Wipe()
	if _, _, err := rk.Open(nil, nil, ct); err != ErrUnknownKey {
		t.Fatalf("Open after ReceiverKey.Wipe: %v, want ErrUnknownKey", err)
	}
	if s.key.salt != [NonceSize]byte{} || rk.key.salt != [NonceSize]byte{} {
		t.Fatal("Wipe left the salt")
	}
}

func TestCounterExhausted(t *testing.T) {
	s, r := newPair(t, AES256GCMSHA512128, testKID)
	s.AdvanceTo(math.MaxUint64 - 1)
	for _, want := range []uint64{math.MaxUint64 - 1, math.MaxUint64} {
		ct := mustSeal(t, s, nil, nil)
		if _, h, err := r.Open(nil, nil, ct); err != nil || h.CTR != want {
			t.Fatalf("Open = %+v, %v; want counter %#x", h, err, want)
		}
	}
	if _, err := s.Seal(nil, nil, nil); err != ErrCounterExhausted {
		t.Fatalf("Seal after the last counter: %v, want ErrCounterExhausted", err)
	}
}

// TestConcurrentSealOpen runs senders and receivers in parallel (for the
// race detector) and checks that no counter is used twice.
func TestConcurrentSealOpen(t *testing.T) {
	s, r := newPair(t, AES256GCMSHA512128, testKID)
	const workers, perWorker = 4, 200
	frames := make(chan []byte, workers*perWorker)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range perWorker {
				ct, err := s.Seal(nil, testMetadata, []byte("concurrent"))
				if err != nil {
					t.Error(err)
					return
				}
				frames <- ct
			}
		})
	}
	wg.Wait()
	close(frames)
	var opened sync.Map
	var owg sync.WaitGroup
	for range workers {
		owg.Go(func() {
			for ct := range frames {
				_, h, err := r.Open(nil, testMetadata, ct)
				if err != nil {
					t.Errorf("Open: %v", err)
					continue
				}
				if _, dup := opened.LoadOrStore(h.CTR, true); dup {
					t.Errorf("counter %d opened twice", h.CTR)
				}
			}
		})
	}
	owg.Wait()
}
