package groupkey

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hpke"
	"errors"
	"testing"
	"testing/cryptotest"

	"github.com/varta-ptt/varta/crypto/pki"
)

func TestWrapRoundTrip(t *testing.T) {
	f := getFixture(t)
	epochKey := testEpochKey(t, 0x11)
	for _, u := range []uint32{unitA, unitB} {
		pub, err := pki.HPKEPublicKeyFromCert(f.units[u].Cert)
		if err != nil {
			t.Fatal(err)
		}
		blob, err := SealEpochKey(pub, testTG, 3, u, epochKey)
		if err != nil {
			t.Fatal(err)
		}
		got, err := OpenEpochKey(f.units[u].HPKEPrivateKey, testTG, 3, u, blob)
		if err != nil || !bytes.Equal(got, epochKey) {
			t.Fatalf("unit %d: OpenEpochKey = %x, %v", u, got, err)
		}
	}
}

// TestWrapBinding checks that a sealed epoch key opens only for the unit,
// talkgroup and epoch it was made for, and that damage is detected. Every
// failure is the same opaque error.
func TestWrapBinding(t *testing.T) {
	f := getFixture(t)
	epochKey := testEpochKey(t, 0x22)
	pub, err := pki.HPKEPublicKeyFromCert(f.units[unitA].Cert)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := SealEpochKey(pub, testTG, 5, unitA, epochKey)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(blob)
		b[i] ^= 1
		return b
	}
	tests := []struct {
		name  string
		key   hpke.PrivateKey
		tg    uint16
		epoch uint32
		unit  uint32
		blob  []byte
	}{
		{"other talkgroup", f.units[unitA].HPKEPrivateKey, testTG + 1, 5, unitA, blob},
		{"other epoch", f.units[unitA].HPKEPrivateKey, testTG, 6, unitA, blob},
		{"other unit's name", f.units[unitA].HPKEPrivateKey, testTG, 5, unitB, blob},
		{"other unit's key", f.units[unitB].HPKEPrivateKey, testTG, 5, unitA, blob},
		{"other unit's key and name", f.units[unitB].HPKEPrivateKey, testTG, 5, unitB, blob},
		{"encapsulated key damaged", f.units[unitA].HPKEPrivateKey, testTG, 5, unitA, flip(10)},
		{"ciphertext damaged", f.units[unitA].HPKEPrivateKey, testTG, 5, unitA, flip(len(blob) - 20)},
		{"tag damaged", f.units[unitA].HPKEPrivateKey, testTG, 5, unitA, flip(len(blob) - 1)},
		{"truncated", f.units[unitA].HPKEPrivateKey, testTG, 5, unitA, blob[:len(blob)-1]},
		{"empty", f.units[unitA].HPKEPrivateKey, testTG, 5, unitA, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := OpenEpochKey(tc.key, tc.tg, tc.epoch, tc.unit, tc.blob)
			if err != ErrUnwrap || got != nil {
				t.Fatalf("OpenEpochKey = %x, %v; want ErrUnwrap", got, err)
			}
		})
	}
}

func TestWrapInvalid(t *testing.T) {
	f := getFixture(t)
	pub, err := pki.HPKEPublicKeyFromCert(f.units[unitA].Cert)
	if err != nil {
		t.Fatal(err)
	}
	x25519, err := hpke.DHKEM(ecdh.X25519()).GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	key := testEpochKey(t, 1)
	for name, err := range map[string]error{
		"short epoch key":   func() error { _, err := SealEpochKey(pub, testTG, 1, unitA, key[:16]); return err }(),
		"talkgroup 0":       func() error { _, err := SealEpochKey(pub, 0, 1, unitA, key); return err }(),
		"epoch 0":           func() error { _, err := SealEpochKey(pub, testTG, 0, unitA, key); return err }(),
		"unit 0":            func() error { _, err := SealEpochKey(pub, testTG, 1, 0, key); return err }(),
		"no public key":     func() error { _, err := SealEpochKey(nil, testTG, 1, unitA, key); return err }(),
		"X25519 public key": func() error { _, err := SealEpochKey(x25519.PublicKey(), testTG, 1, unitA, key); return err }(),
		"X25519 private key": func() error {
			_, err := OpenEpochKey(x25519, testTG, 1, unitA, make([]byte, 100))
			return err
		}(),
	} {
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

// TestWrapTestRandomness shows how tests get deterministic blobs: crypto/hpke
// takes no io.Reader but follows testing/cryptotest.SetGlobalRandom.
func TestWrapTestRandomness(t *testing.T) {
	f := getFixture(t)
	pub, err := pki.HPKEPublicKeyFromCert(f.units[unitA].Cert)
	if err != nil {
		t.Fatal(err)
	}
	key := testEpochKey(t, 3)
	seal := func() []byte {
		cryptotest.SetGlobalRandom(t, 42)
		b, err := SealEpochKey(pub, testTG, 1, unitA, key)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if a, b := seal(), seal(); !bytes.Equal(a, b) {
		t.Fatal("same test seed gave different blobs")
	}
}
