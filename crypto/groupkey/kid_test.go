package groupkey

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"testing/iotest"

	"github.com/varta-ptt/varta/crypto/pki"
	"github.com/varta-ptt/varta/crypto/sframe"
)

func TestKIDRoundTrip(t *testing.T) {
	tests := []struct {
		epoch, unit uint32
		wantEpoch   uint16
	}{
		{1, 1, 1},
		{1, 1042, 1},
		{0xffff, pki.MaxUnitID, 0xffff},
		{0x10000, 1042, 0},      // only the low 16 bits of the epoch
		{0x12345678, 7, 0x5678}, //
	}
	for _, tc := range tests {
		kid := MakeKID(tc.epoch, tc.unit)
		if kid >= 1<<40 {
			t.Errorf("MakeKID(%d, %d) = %#x, wider than 40 bits", tc.epoch, tc.unit, kid)
		}
		e, u, ok := SplitKID(kid)
		if !ok || e != tc.wantEpoch || u != tc.unit {
			t.Errorf("SplitKID(MakeKID(%d, %d)) = %d, %d, %v; want %d, %d, true", tc.epoch, tc.unit, e, u, ok, tc.wantEpoch, tc.unit)
		}
		// The largest KID takes 5 bytes in the SFrame header.
		if n := (sframe.Header{KID: kid}).Len(); n > 1+5 {
			t.Errorf("KID %#x takes a %d-byte header", kid, n)
		}
	}
	for _, kid := range []uint64{0, 1 << 40, 1<<40 | 5, 0x0001_000000} {
		if _, _, ok := SplitKID(kid); ok {
			t.Errorf("SplitKID(%#x) accepted a KID that no sender has", kid)
		}
	}
}

func TestSenderKeysDiffer(t *testing.T) {
	epochKey := testEpochKey(t, 1)
	seen := map[string]string{}
	note := func(name string, key []byte, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if len(key) != SenderKeySize {
			t.Fatalf("%s: key of %d bytes", name, len(key))
		}
		if prev, dup := seen[string(key)]; dup {
			t.Fatalf("%s and %s derive the same key", prev, name)
		}
		seen[string(key)] = name
	}
	for unit := uint32(1); unit <= 200; unit++ {
		key, err := SenderKey(epochKey, testTG, 1, unit)
		note(fmt.Sprintf("unit %d", unit), key, err)
	}
	key, err := SenderKey(epochKey, testTG+1, 1, 1)
	note("other talkgroup", key, err)
	key, err = SenderKey(epochKey, testTG, 2, 1)
	note("other epoch", key, err)
	key, err = SenderKey(testEpochKey(t, 2), testTG, 1, 1)
	note("other epoch key", key, err)

	again, err := SenderKey(epochKey, testTG, 1, 1)
	if err != nil || seen[string(again)] == "" {
		t.Fatal("SenderKey is not deterministic")
	}
}

func TestSenderKeyInvalid(t *testing.T) {
	key := testEpochKey(t, 1)
	tests := []struct {
		name     string
		epochKey []byte
		tg       uint16
		epoch    uint32
		unit     uint32
	}{
		{"short key", key[:31], testTG, 1, unitA},
		{"talkgroup 0", key, 0, 1, unitA},
		{"epoch 0", key, testTG, 0, unitA},
		{"unit 0", key, testTG, 1, 0},
		{"unit too large", key, testTG, 1, pki.MaxUnitID + 1},
	}
	for _, tc := range tests {
		if _, err := SenderKey(tc.epochKey, tc.tg, tc.epoch, tc.unit); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", tc.name, err)
		}
	}
}

func TestNewEpochKey(t *testing.T) {
	a, err := NewEpochKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewEpochKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != EpochKeySize || bytes.Equal(a, b) {
		t.Fatalf("NewEpochKey gave %x and %x", a, b)
	}
	if _, err := NewEpochKey(iotest.ErrReader(errors.New("no entropy"))); err == nil {
		t.Fatal("NewEpochKey ignored a failing reader")
	}
	det := bytes.Repeat([]byte{7}, EpochKeySize)
	if k, _ := NewEpochKey(bytes.NewReader(det)); !bytes.Equal(k, det) {
		t.Fatal("NewEpochKey does not read the injected source")
	}
}
