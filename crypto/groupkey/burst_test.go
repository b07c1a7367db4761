package groupkey

import (
	"crypto/ed25519"
	"errors"
	"slices"
	"testing"

	"github.com/varta-ptt/varta/crypto/pki"
)

func TestBurstSignature(t *testing.T) {
	g := newTalkgroup(t, unitA, unitB)
	id := g.f.units[unitA]
	pub, err := pki.SigningPublicKeyFromCert(id.Cert)
	if err != nil {
		t.Fatal(err)
	}
	otherPub, err := pki.SigningPublicKeyFromCert(g.f.units[unitB].Cert)
	if err != nil {
		t.Fatal(err)
	}

	// Unit A talks: five sealed frames, signed at the end of the burst.
	signer, err := NewBurstSigner(id.SigningKey, testTG, unitA)
	if err != nil {
		t.Fatal(err)
	}
	var frames [][]byte
	for range 5 {
		ct := seal(t, g.rings[unitA], []byte("audio"))
		signer.Add(ct)
		frames = append(frames, ct)
	}
	sig := signer.Sign()
	if len(sig) != BurstSignatureSize {
		t.Fatalf("signature payload of %d bytes", len(sig))
	}

	flipped := func(i int) [][]byte {
		c := slices.Clone(frames)
		c[i] = slices.Clone(c[i])
		c[i][len(c[i])-1] ^= 1
		return c
	}
	swapped := slices.Clone(frames)
	swapped[1], swapped[2] = swapped[2], swapped[1]
	badSig := slices.Clone(sig)
	badSig[10] ^= 1

	tests := []struct {
		name     string
		pub      ed25519.PublicKey
		tg       uint16
		unit     uint32
		received [][]byte
		payload  []byte
		verified bool
	}{
		{"all frames", pub, testTG, unitA, frames, sig, true},
		{"lost frame", pub, testTG, unitA, slices.Delete(slices.Clone(frames), 2, 3), sig, false},
		{"lost last frame", pub, testTG, unitA, frames[:4], sig, false},
		{"duplicated frame", pub, testTG, unitA, append(slices.Clone(frames), frames[4]), sig, false},
		{"changed frame", pub, testTG, unitA, flipped(3), sig, false},
		{"reordered frames", pub, testTG, unitA, swapped, sig, false},
		{"another unit's key", otherPub, testTG, unitA, frames, sig, false},
		{"claimed by another unit", pub, testTG, unitB, frames, sig, false},
		{"other talkgroup", pub, testTG + 1, unitA, frames, sig, false},
		{"signature changed", pub, testTG, unitA, frames, badSig, false},
		{"signature missing", pub, testTG, unitA, frames, nil, false},
		{"signature cut", pub, testTG, unitA, frames, sig[:BurstSignatureSize-1], false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := NewBurstVerifier(tc.pub, tc.tg, tc.unit)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range tc.received {
				v.Add(f)
			}
			err = v.Verify(tc.payload)
			if tc.verified && err != nil {
				t.Fatalf("burst not verified: %v", err)
			}
			if !tc.verified && !errors.Is(err, ErrBurstUnverified) {
				t.Fatalf("Verify = %v, want ErrBurstUnverified", err)
			}
			// Only a count that differs says frames were lost or added.
			wantFrames := len(tc.received) != len(frames) && len(tc.payload) == BurstSignatureSize
			if errors.Is(err, ErrBurstFrames) != wantFrames {
				t.Fatalf("Verify = %v; ErrBurstFrames %v, want %v", err, errors.Is(err, ErrBurstFrames), wantFrames)
			}
		})
	}
}

func TestBurstEmpty(t *testing.T) {
	id := getFixture(t).units[unitA]
	s, err := NewBurstSigner(id.SigningKey, testTG, unitA)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewBurstVerifier(id.SigningKey.Public().(ed25519.PublicKey), testTG, unitA)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(s.Sign()); err != nil {
		t.Fatalf("empty burst: %v", err)
	}
}

func TestBurstInvalidKeys(t *testing.T) {
	if _, err := NewBurstSigner(nil, testTG, unitA); !errors.Is(err, ErrInvalid) {
		t.Errorf("NewBurstSigner(nil): %v", err)
	}
	if _, err := NewBurstVerifier(make([]byte, 31), testTG, unitA); !errors.Is(err, ErrInvalid) {
		t.Errorf("NewBurstVerifier(31 bytes): %v", err)
	}
}
