package groupkey

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"testing"
	"time"
)

// testSigner is a fixed Ed25519 key for bundles that need no certificate.
var testSigner = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))

// smallBundle is a signed bundle with short made-up blobs, for tests of the
// encoding itself.
func smallBundle(t testing.TB) *Bundle {
	t.Helper()
	b := &Bundle{
		Talkgroup: testTG, Epoch: 7, Created: testEpoch0, Signer: testKMF,
		Members: []Member{
			{Unit: unitC, Sealed: []byte("sealed-for-C")},
			{Unit: unitA, Sealed: []byte("sealed-for-A")},
			{Unit: unitB, Sealed: []byte{0xB}},
		},
	}
	if err := b.Sign(testSigner); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBundleRoundTrip(t *testing.T) {
	f := getFixture(t)
	epochKey := testEpochKey(t, 0x33)
	b := f.bundleFor(t, testTG, 12, testEpoch0.Add(1234567*time.Nanosecond), epochKey, unitC, unitA, unitB)
	enc := b.Append(nil)
	got, n, err := ParseBundle(append(bytes.Clone(enc), "trailing"...))
	if err != nil {
		t.Fatal(err)
	}
	if n != len(enc) {
		t.Fatalf("ParseBundle used %d bytes, want %d", n, len(enc))
	}
	if got.Talkgroup != testTG || got.Epoch != 12 || got.Signer != testKMF || !got.Created.Equal(testEpoch0.Add(time.Millisecond)) {
		t.Fatalf("parsed %+v", got)
	}
	if len(got.Members) != 3 || got.Members[0].Unit != unitA || got.Members[2].Unit != unitC {
		t.Fatalf("members not sorted by unit: %v", got.Members)
	}
	if again := got.Append(nil); !bytes.Equal(again, enc) {
		t.Fatal("re-encoding a parsed bundle changed it")
	}
	if err := got.Verify(f.kmfPub(t)); err != nil {
		t.Fatal(err)
	}
	// Each member picks its own blob out of the bundle and opens it.
	for _, u := range []uint32{unitA, unitB, unitC} {
		key, err := got.Open(f.kmfPub(t), f.units[u].HPKEPrivateKey, u)
		if err != nil || !bytes.Equal(key, epochKey) {
			t.Fatalf("unit %d: Open = %x, %v", u, key, err)
		}
	}
	// A unit that is not a member has no blob.
	if _, err := got.Open(f.kmfPub(t), f.units[unitOutsider].HPKEPrivateKey, unitOutsider); !errors.Is(err, ErrNotMember) {
		t.Fatalf("non-member Open: %v, want ErrNotMember", err)
	}
	// A member cannot open another member's blob by claiming its ID.
	if _, err := got.Open(f.kmfPub(t), f.units[unitOutsider].HPKEPrivateKey, unitA); !errors.Is(err, ErrUnwrap) {
		t.Fatalf("Open of unit A's blob with another key: %v, want ErrUnwrap", err)
	}
}

func TestBundleSealedFor(t *testing.T) {
	b := smallBundle(t)
	for _, tc := range []struct {
		unit uint32
		want string
		ok   bool
	}{
		{unitA, "sealed-for-A", true},
		{unitC, "sealed-for-C", true},
		{unitA - 1, "", false},
		{unitC + 1, "", false},
		{unitOutsider, "", false},
	} {
		got, ok := b.SealedFor(tc.unit)
		if ok != tc.ok || string(got) != tc.want {
			t.Errorf("SealedFor(%d) = %q, %v; want %q, %v", tc.unit, got, ok, tc.want, tc.ok)
		}
	}
}

func TestBundleEveryPrefixFails(t *testing.T) {
	enc := smallBundle(t).Append(nil)
	for i := range len(enc) {
		if _, _, err := ParseBundle(enc[:i]); !errors.Is(err, ErrMalformedBundle) {
			t.Fatalf("ParseBundle of %d of %d bytes: %v, want ErrMalformedBundle", i, len(enc), err)
		}
	}
}

// TestBundleEveryByteSigned flips each byte of an encoded bundle: the
// result must fail to parse or fail to verify.
func TestBundleEveryByteSigned(t *testing.T) {
	enc := smallBundle(t).Append(nil)
	pub := testSigner.Public().(ed25519.PublicKey)
	for i := range enc {
		for _, bit := range []byte{0x01, 0x80} {
			c := bytes.Clone(enc)
			c[i] ^= bit
			b, _, err := ParseBundle(c)
			if err == nil {
				err = b.Verify(pub)
			}
			if err == nil {
				t.Fatalf("byte %d ^ %#x: bundle still parses and verifies", i, bit)
			}
		}
	}
}

func TestBundleVerifyRejects(t *testing.T) {
	b := smallBundle(t)
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize))
	tests := []struct {
		name   string
		mutate func(b *Bundle)
		pub    ed25519.PublicKey
	}{
		{"other KMF key", func(*Bundle) {}, other.Public().(ed25519.PublicKey)},
		{"no public key", func(*Bundle) {}, nil},
		{"epoch changed", func(b *Bundle) { b.Epoch++ }, nil},
		{"talkgroup changed", func(b *Bundle) { b.Talkgroup++ }, nil},
		{"created changed", func(b *Bundle) { b.Created = b.Created.Add(time.Millisecond) }, nil},
		{"signer changed", func(b *Bundle) { b.Signer++ }, nil},
		{"member dropped", func(b *Bundle) { b.Members = b.Members[1:] }, nil},
		{"blob swapped", func(b *Bundle) { b.Members[0].Sealed, b.Members[1].Sealed = b.Members[1].Sealed, b.Members[0].Sealed }, nil},
		{"member renamed", func(b *Bundle) { b.Members[2].Unit++ }, nil},
		{"signature cut", func(b *Bundle) { b.Signature = b.Signature[:63] }, nil},
		{"unsigned", func(b *Bundle) { b.Signature = nil }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := ParseBundle(b.Append(nil))
			if err != nil {
				t.Fatal(err)
			}
			tc.mutate(c)
			pub := tc.pub
			if pub == nil && tc.name != "no public key" {
				pub = testSigner.Public().(ed25519.PublicKey)
			}
			if err := c.Verify(pub); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("Verify: %v, want ErrBadSignature", err)
			}
		})
	}
}

func TestParseBundleRejects(t *testing.T) {
	good := smallBundle(t).Append(nil)
	set := func(off int, v ...byte) []byte {
		c := bytes.Clone(good)
		copy(c[off:], v)
		return c
	}
	u32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	firstMember := bundleFixedLen
	secondMember := firstMember + memberFixedLen + len("sealed-for-A")
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"version 0", set(0, 0)},
		{"version 2", set(0, 2)},
		{"talkgroup 0", set(1, 0, 0)},
		{"epoch 0", set(3, 0, 0, 0, 0)},
		{"created 0", set(7, 0, 0, 0, 0, 0, 0, 0, 0)},
		{"created negative", set(7, 0xff)},
		{"signer 0", set(15, u32(0)...)},
		{"signer too large", set(15, u32(1<<24)...)},
		{"no members", set(19, 0, 0)},
		{"too many members", set(19, 0x10, 0x01)},
		{"count larger than data", set(19, 0x00, 0x04)},
		{"member unit 0", set(firstMember, u32(0)...)},
		{"members out of order", set(secondMember, u32(unitA-1)...)},
		{"member repeated", set(secondMember, u32(unitA)...)},
		{"blob length 0", set(firstMember+4, 0, 0)},
		{"blob longer than data", set(firstMember+4, 0xff, 0xff)},
		{"signature missing", good[:len(good)-64]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if b, _, err := ParseBundle(tc.data); !errors.Is(err, ErrMalformedBundle) {
				t.Fatalf("ParseBundle = %+v, %v; want ErrMalformedBundle", b, err)
			}
		})
	}
}

func TestBundleSignRejects(t *testing.T) {
	tests := []struct {
		name string
		b    Bundle
	}{
		{"no members", Bundle{Talkgroup: 1, Epoch: 1, Created: testEpoch0, Signer: 1}},
		{"zero time", Bundle{Talkgroup: 1, Epoch: 1, Signer: 1, Members: []Member{{1, []byte{1}}}}},
		{"duplicate member", Bundle{Talkgroup: 1, Epoch: 1, Created: testEpoch0, Signer: 1, Members: []Member{{1, []byte{1}}, {1, []byte{2}}}}},
		{"empty blob", Bundle{Talkgroup: 1, Epoch: 1, Created: testEpoch0, Signer: 1, Members: []Member{{1, nil}}}},
		{"blob too long", Bundle{Talkgroup: 1, Epoch: 1, Created: testEpoch0, Signer: 1, Members: []Member{{1, make([]byte, 1<<16)}}}},
	}
	for _, tc := range tests {
		if err := tc.b.Sign(testSigner); !errors.Is(err, ErrMalformedBundle) {
			t.Errorf("%s: Sign = %v, want ErrMalformedBundle", tc.name, err)
		}
	}
	b := smallBundle(t)
	if err := b.Sign(testSigner[:10]); !errors.Is(err, ErrInvalid) {
		t.Errorf("Sign with a short key: %v, want ErrInvalid", err)
	}
}

// TestBundleSignPerMember: the KMF signs one bundle per member, and each
// member installs its own without seeing the others' blobs.
func TestBundleSignPerMember(t *testing.T) {
	f := getFixture(t)
	epochKey := testEpochKey(t, 0x88)
	whole := f.bundleFor(t, testTG, 4, testEpoch0, epochKey, unitB, unitA, unitC)
	// Unsorted input is fine, as for Sign.
	whole.Members[0], whole.Members[2] = whole.Members[2], whole.Members[0]
	parts, err := whole.SignPerMember(f.kmf.SigningKey)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 3 {
		t.Fatalf("%d bundles, want 3", len(parts))
	}
	for i, u := range []uint32{unitA, unitB, unitC} {
		p, _, err := ParseBundle(parts[i].Append(nil))
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Members) != 1 || p.Members[0].Unit != u {
			t.Fatalf("bundle %d holds %v, want only unit %d", i, p.Members, u)
		}
		key, err := p.Open(f.kmfPub(t), f.units[u].HPKEPrivateKey, u)
		if err != nil || !bytes.Equal(key, epochKey) {
			t.Fatalf("unit %d: %x, %v", u, key, err)
		}
		other := []uint32{unitB, unitC, unitA}[i]
		if _, err := p.Open(f.kmfPub(t), f.units[other].HPKEPrivateKey, other); !errors.Is(err, ErrNotMember) {
			t.Fatalf("unit %d opened unit %d's bundle: %v", other, u, err)
		}
	}
	bad := &Bundle{Talkgroup: testTG, Epoch: 1, Created: testEpoch0, Signer: testKMF}
	if _, err := bad.SignPerMember(f.kmf.SigningKey); !errors.Is(err, ErrMalformedBundle) {
		t.Fatalf("SignPerMember of an empty bundle: %v", err)
	}
}
