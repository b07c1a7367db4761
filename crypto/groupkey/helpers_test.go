package groupkey

import (
	"bytes"
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/varta-ptt/varta/crypto/pki"
	"github.com/varta-ptt/varta/protocol"
)

// testEpoch0 is when the test KMF creates epoch keys.
var testEpoch0 = time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)

const (
	testTG       = 200
	testKMF      = 9000
	unitA        = 1041
	unitB        = 1042
	unitC        = 1043
	unitOutsider = 1099 // not a member
)

// fixture is an agency with a KMF and four units, issued once per test
// binary (key generation is slow under the race detector).
type fixture struct {
	kmf   *pki.Identity
	units map[uint32]*pki.Identity
}

var testFixture = sync.OnceValues(func() (*fixture, error) {
	now := testEpoch0.Add(-24 * time.Hour)
	ca, err := pki.NewCA("Test Agency", rand.Reader, now)
	if err != nil {
		return nil, err
	}
	f := &fixture{units: map[uint32]*pki.Identity{}}
	if f.kmf, err = pki.IssueUnit(ca, pki.UnitSpec{ID: testKMF, Alias: "KMF", Role: pki.RoleKMF}, rand.Reader, now); err != nil {
		return nil, err
	}
	for _, id := range []uint32{unitA, unitB, unitC, unitOutsider} {
		if f.units[id], err = pki.IssueUnit(ca, pki.UnitSpec{ID: id, Alias: "Radio", Role: pki.RoleOfficer}, rand.Reader, now); err != nil {
			return nil, err
		}
	}
	return f, nil
})

func getFixture(t testing.TB) *fixture {
	t.Helper()
	f, err := testFixture()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// bundleFor has the KMF make and sign a bundle sealing epochKey to the
// given members, as it would: public keys come from the certificates.
func (f *fixture) bundleFor(t testing.TB, tg uint16, epoch uint32, created time.Time, epochKey []byte, members ...uint32) *Bundle {
	t.Helper()
	b := &Bundle{Talkgroup: tg, Epoch: epoch, Created: created, Signer: testKMF}
	for _, u := range members {
		pub, err := pki.HPKEPublicKeyFromCert(f.units[u].Cert)
		if err != nil {
			t.Fatal(err)
		}
		sealed, err := SealEpochKey(pub, tg, epoch, u, epochKey)
		if err != nil {
			t.Fatal(err)
		}
		b.Members = append(b.Members, Member{Unit: u, Sealed: sealed})
	}
	if err := b.Sign(f.kmf.SigningKey); err != nil {
		t.Fatal(err)
	}
	return b
}

// kmfPub is the KMF's signing public key as a unit reads it from the KMF's
// certificate.
func (f *fixture) kmfPub(t testing.TB) []byte {
	t.Helper()
	pub, err := pki.SigningPublicKeyFromCert(f.kmf.Cert)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newKeyring(t testing.TB, unit uint32, c *clock) *Keyring {
	t.Helper()
	k, err := New(Config{Unit: unit, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// install has unit's keyring install b as the unit would.
func (f *fixture) install(t testing.TB, k *Keyring, b *Bundle) {
	t.Helper()
	// The bundle travels as bytes through the relay.
	parsed, _, err := ParseBundle(b.Append(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := k.InstallBundle(parsed, f.kmfPub(t), f.units[k.unit].HPKEPrivateKey); err != nil {
		t.Fatalf("unit %d InstallBundle: %v", k.unit, err)
	}
}

func testEpochKey(t testing.TB, fill byte) []byte {
	t.Helper()
	key, err := NewEpochKey(bytes.NewReader(bytes.Repeat([]byte{fill}, EpochKeySize)))
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// voiceHeader is the clear header unit sends to tg with.
func voiceHeader(tg uint16, unit uint32) []byte {
	return protocol.AppendVoiceHeader(nil, protocol.VoiceHeader{Kind: protocol.KindGroupVoice, Talkgroup: tg, Sender: unit})
}
