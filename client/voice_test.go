package client

import (
	"bytes"
	"crypto/rand"
	"testing"
	"time"

	"github.com/varta-ptt/varta/crypto/pki"
)

// benchCryptos returns the voice crypto of two units of one agency that
// share an epoch key for talkgroup tg.
func benchCryptos(tb testing.TB, tg uint16) (tx, rx *Crypto) {
	tb.Helper()
	now := time.Now()
	ca, err := pki.NewCA("Test Police", rand.Reader, now.Add(-time.Hour))
	if err != nil {
		tb.Fatal(err)
	}
	key := bytes.Repeat([]byte{7}, 32)
	for i, unit := range []uint32{1, 2} {
		id, err := pki.IssueUnit(ca, pki.UnitSpec{ID: unit, Alias: "Unit", Role: pki.RoleOfficer}, rand.Reader, now)
		if err != nil {
			tb.Fatal(err)
		}
		cr, err := NewCrypto(id, nil)
		if err != nil {
			tb.Fatal(err)
		}
		if err := cr.ring.SetEpochKey(tg, 1, now.Add(-time.Minute), key); err != nil {
			tb.Fatal(err)
		}
		if i == 0 {
			tx = cr
		} else {
			rx = cr
		}
	}
	return tx, rx
}

// BenchmarkCryptoSeal seals a 60-byte voice frame (about 20 ms of Opus at
// 24 kbit/s) into a caller-provided buffer: the sending half of the voice
// path.
func BenchmarkCryptoSeal(b *testing.B) {
	tx, _ := benchCryptos(b, 100)
	payload := bytes.Repeat([]byte{0x5A}, 60)
	buf := make([]byte, 0, 1200)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tx.Seal(buf, 100, 0, payload); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCryptoOpen opens 60-byte voice frames of another unit into a
// caller-provided buffer: the receiving half of the voice path. Frames are
// pre-sealed in a ring; when it wraps, a fresh receiver (outside the timer)
// starts the replay window over.
func BenchmarkCryptoOpen(b *testing.B) {
	const ring = 1 << 14
	tx, rx := benchCryptos(b, 100)
	payload := bytes.Repeat([]byte{0x5A}, 60)
	frames := make([][]byte, ring)
	for i := range frames {
		var err error
		if frames[i], err = tx.Seal(nil, 100, 0, payload); err != nil {
			b.Fatal(err)
		}
	}
	out := make([]byte, 0, len(payload))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == ring {
			b.StopTimer()
			_, rx = benchCryptos(b, 100)
			i = 0
			b.StartTimer()
		}
		if _, _, _, err := rx.Open(out, frames[i]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// TestCryptoSealOpen checks that a frame sealed by one unit opens at
// another with its header and payload intact, that neither side allocates
// once the buffers have room (after the first frame from a sender, which
// derives its key), and that a tampered frame is refused and counted.
func TestCryptoSealOpen(t *testing.T) {
	const tg = 100
	tx, rx := benchCryptos(t, tg)
	payload := bytes.Repeat([]byte{0x5A}, 60)
	buf := make([]byte, 0, 1200)
	out := make([]byte, 0, len(payload))

	d, err := tx.Seal(buf, tg, 0, payload)
	if err != nil {
		t.Fatal(err)
	}
	h, got, info, err := rx.Open(out, d)
	if err != nil {
		t.Fatal(err)
	}
	if h.Talkgroup != tg || h.Sender != 1 || info.Unit != 1 || info.Epoch != 1 {
		t.Errorf("opened header %+v, info %+v; want talkgroup %d from unit 1, epoch 1", h, info, tg)
	}
	if !bytes.Equal(got, payload) {
		t.Errorf("opened payload % x, want % x", got, payload)
	}

	var sealErr, openErr error
	allocs := testing.AllocsPerRun(100, func() {
		d, sealErr = tx.Seal(buf, tg, 0, payload)
		if sealErr == nil {
			_, _, _, openErr = rx.Open(out, d)
		}
	})
	if sealErr != nil || openErr != nil {
		t.Fatalf("seal: %v, open: %v", sealErr, openErr)
	}
	if allocs != 0 {
		t.Errorf("Seal and Open allocate %.1f times per frame, want 0", allocs)
	}

	d, err = tx.Seal(buf, tg, 0, payload)
	if err != nil {
		t.Fatal(err)
	}
	d[len(d)-1] ^= 1
	if _, _, _, err := rx.Open(out, d); err == nil {
		t.Error("a tampered frame opened")
	}
	if st := rx.Stats(); st.AuthFailed != 1 || st.Opened != 102 {
		t.Errorf("receiver stats %+v, want 102 opened and 1 failed authentication", st)
	}
}
