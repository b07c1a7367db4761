package groupkey

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/varta-ptt/varta/crypto/sframe"
)

// talkgroup is a talkgroup whose members' keyrings all installed epoch 1.
type talkgroup struct {
	f     *fixture
	clock *clock
	rings map[uint32]*Keyring
	key   []byte
}

func newTalkgroup(t *testing.T, members ...uint32) *talkgroup {
	t.Helper()
	f := getFixture(t)
	tg := &talkgroup{f: f, clock: newClock(testEpoch0.Add(time.Minute)), rings: map[uint32]*Keyring{}, key: testEpochKey(t, 0x44)}
	b := f.bundleFor(t, testTG, 1, testEpoch0, tg.key, members...)
	for _, u := range members {
		tg.rings[u] = newKeyring(t, u, tg.clock)
		f.install(t, tg.rings[u], b)
	}
	return tg
}

func seal(t testing.TB, k *Keyring, pt []byte) []byte {
	t.Helper()
	ct, err := k.Sealer(testTG).Seal(nil, voiceHeader(testTG, k.unit), pt)
	if err != nil {
		t.Fatalf("unit %d Seal: %v", k.unit, err)
	}
	return ct
}

func open(k *Keyring, sender uint32, ct []byte) ([]byte, FrameInfo, error) {
	return k.Open(nil, testTG, sender, voiceHeader(testTG, sender), ct)
}

func TestKeyringMemberToMember(t *testing.T) {
	g := newTalkgroup(t, unitA, unitB, unitC)
	audio := bytes.Repeat([]byte{0x5A}, 60)
	for i := range 3 {
		ct := seal(t, g.rings[unitA], audio)
		h, _, err := sframe.ParseHeader(ct)
		if err != nil {
			t.Fatal(err)
		}
		if h.KID != MakeKID(1, unitA) {
			t.Fatalf("frame KID %#x, want %#x", h.KID, MakeKID(1, unitA))
		}
		for _, rx := range []uint32{unitB, unitC} {
			pt, info, err := open(g.rings[rx], unitA, ct)
			if err != nil {
				t.Fatalf("frame %d at unit %d: %v", i, rx, err)
			}
			if !bytes.Equal(pt, audio) || info.Unit != unitA || info.Epoch != 1 {
				t.Fatalf("frame %d at unit %d: %x, %+v", i, rx, pt, info)
			}
		}
		g.clock.Advance(20 * time.Millisecond)
	}
	// And back: B talks, A listens.
	ct := seal(t, g.rings[unitB], audio)
	if pt, _, err := open(g.rings[unitA], unitB, ct); err != nil || !bytes.Equal(pt, audio) {
		t.Fatalf("B to A: %x, %v", pt, err)
	}
	if s := g.rings[unitB].Stats(); s != (Stats{Opened: 3}) {
		t.Fatalf("unit B stats %+v", s)
	}
}

func TestKeyringSendersUseDifferentKeys(t *testing.T) {
	g := newTalkgroup(t, unitA, unitB, unitC)
	// Same clock, same plaintext, same counter: if A and B shared a key
	// their ciphertexts would match.
	a := seal(t, g.rings[unitA], make([]byte, 32))
	b := seal(t, g.rings[unitB], make([]byte, 32))
	ha, na, _ := sframe.ParseHeader(a)
	hb, nb, _ := sframe.ParseHeader(b)
	if ha.CTR != hb.CTR {
		t.Fatalf("counters differ (%d, %d); the test needs equal ones", ha.CTR, hb.CTR)
	}
	if bytes.Equal(a[na:], b[nb:]) {
		t.Fatal("two senders produced the same ciphertext")
	}
	// A frame from A relabelled as B's (KID changed) does not open.
	forged := sframe.AppendHeader(nil, sframe.Header{KID: MakeKID(1, unitB), CTR: ha.CTR})
	forged = append(forged, a[na:]...)
	if _, _, err := open(g.rings[unitC], unitB, forged); err != sframe.ErrDecrypt {
		t.Fatalf("A's frame under B's KID: %v, want ErrDecrypt", err)
	}
}

func TestKeyringNonMember(t *testing.T) {
	g := newTalkgroup(t, unitA, unitB)
	ct := seal(t, g.rings[unitA], []byte("audio"))

	// A radio that is not in the bundle gets no epoch key.
	outsider := newKeyring(t, unitOutsider, g.clock)
	b := g.f.bundleFor(t, testTG, 1, testEpoch0, g.key, unitA, unitB)
	err := outsider.InstallBundle(b, g.f.kmfPub(t), g.f.units[unitOutsider].HPKEPrivateKey)
	if !errors.Is(err, ErrNotMember) {
		t.Fatalf("outsider InstallBundle: %v, want ErrNotMember", err)
	}
	if _, _, err := open(outsider, unitA, ct); err != sframe.ErrUnknownKey {
		t.Fatalf("outsider Open: %v, want ErrUnknownKey", err)
	}
	// Guessing an epoch key does not help.
	if err := outsider.SetEpochKey(testTG, 1, testEpoch0, testEpochKey(t, 0x45)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := open(outsider, unitA, ct); err != sframe.ErrDecrypt {
		t.Fatalf("outsider with a guessed key: %v, want ErrDecrypt", err)
	}
	if s := outsider.Stats(); s.UnknownKey != 1 || s.AuthFailed != 1 || s.Opened != 0 {
		t.Fatalf("outsider stats %+v", s)
	}
	// A member of another talkgroup does not hold this one's key.
	if _, err := g.rings[unitB].Sealer(testTG+1).Seal(nil, nil, []byte("x")); !errors.Is(err, ErrNoEpochKey) {
		t.Fatalf("Seal for a talkgroup without a key: %v, want ErrNoEpochKey", err)
	}
	if _, _, err := g.rings[unitB].Open(nil, testTG+1, unitA, voiceHeader(testTG+1, unitA), ct); err != sframe.ErrUnknownKey {
		t.Fatalf("Open in another talkgroup: %v, want ErrUnknownKey", err)
	}
}

// TestKeyringRejectsTampering: whatever the relay changes, the receiver
// gets the opaque error, counted as an authentication failure, and the
// genuine frame still opens afterwards.
func TestKeyringRejectsTampering(t *testing.T) {
	g := newTalkgroup(t, unitA, unitB)
	rx := g.rings[unitB]
	ct := seal(t, g.rings[unitA], bytes.Repeat([]byte{1}, 60))
	_, hlen, _ := sframe.ParseHeader(ct)
	md := voiceHeader(testTG, unitA)
	flip := func(b []byte, i int) []byte {
		c := bytes.Clone(b)
		c[i] ^= 0x01
		return c
	}
	tests := []struct {
		name     string
		sender   uint32
		metadata []byte
		frame    []byte
	}{
		{"SFrame counter", unitA, md, flip(ct, hlen-1)},
		{"ciphertext", unitA, md, flip(ct, hlen+3)},
		{"tag", unitA, md, flip(ct, len(ct)-1)},
		{"voice header flags", unitA, flip(md, 0), ct},
		{"voice header talkgroup", unitA, flip(md, 2), ct},
		{"truncated", unitA, md, ct[:len(ct)-1]},
		{"garbage header", unitA, md, []byte{0xff}},
		{"voice header names another sender", unitC, voiceHeader(testTG, unitC), ct},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := rx.Open(nil, testTG, tc.sender, tc.metadata, tc.frame); err != sframe.ErrDecrypt {
				t.Fatalf("Open: %v, want ErrDecrypt", err)
			}
			if got := rx.Stats().AuthFailed; got != uint64(i+1) {
				t.Fatalf("AuthFailed = %d, want %d", got, i+1)
			}
		})
	}
	if _, _, err := open(rx, unitA, ct); err != nil {
		t.Fatalf("genuine frame after the forgeries: %v", err)
	}
}

func TestKeyringReplay(t *testing.T) {
	g := newTalkgroup(t, unitA, unitB)
	rx := g.rings[unitB]
	f1 := seal(t, g.rings[unitA], []byte("one"))
	f2 := seal(t, g.rings[unitA], []byte("two"))
	for _, step := range []struct {
		frame []byte
		want  error
	}{{f2, nil}, {f1, nil}, {f1, sframe.ErrReplay}, {f2, sframe.ErrReplay}} {
		if _, _, err := open(rx, unitA, step.frame); err != step.want {
			t.Fatalf("Open: %v, want %v", err, step.want)
		}
	}
	if s := rx.Stats(); s != (Stats{Opened: 2, Replay: 2}) {
		t.Fatalf("stats %+v", s)
	}
}

func TestKeyringOwnKeyOnlySeals(t *testing.T) {
	g := newTalkgroup(t, unitA, unitB)
	ct := seal(t, g.rings[unitA], []byte("echo"))
	if _, _, err := open(g.rings[unitA], unitA, ct); err != sframe.ErrUnknownKey {
		t.Fatalf("opening own frame: %v, want ErrUnknownKey", err)
	}
}

// TestKeyringOverlap rekeys the talkgroup and checks that the old epoch
// opens for the overlap only, and that senders switch at once.
func TestKeyringOverlap(t *testing.T) {
	g := newTalkgroup(t, unitA, unitB, unitC)
	rx := g.rings[unitB]
	old1 := seal(t, g.rings[unitA], []byte("old 1"))
	old2 := seal(t, g.rings[unitA], []byte("old 2"))
	old3 := seal(t, g.rings[unitA], []byte("old 3"))
	if _, _, err := open(rx, unitA, old1); err != nil {
		t.Fatal(err)
	}

	// Epoch 2 excludes C (say it was stunned).
	newKey := testEpochKey(t, 0x55)
	b2 := g.f.bundleFor(t, testTG, 2, g.clock.Now(), newKey, unitA, unitB)
	g.f.install(t, rx, b2)
	g.f.install(t, g.rings[unitA], b2)
	if e, _ := rx.Epoch(testTG); e != 2 {
		t.Fatalf("current epoch %d, want 2", e)
	}

	// The sender seals under epoch 2 at once.
	fresh := seal(t, g.rings[unitA], []byte("new"))
	if _, info, err := open(rx, unitA, fresh); err != nil || info.Epoch != 2 {
		t.Fatalf("epoch 2 frame: %+v, %v", info, err)
	}
	// C still has epoch 1 only, so it cannot hear the new epoch.
	if _, _, err := open(g.rings[unitC], unitA, fresh); err != sframe.ErrUnknownKey {
		t.Fatalf("excluded unit opened an epoch 2 frame: %v", err)
	}

	// Late frames of epoch 1 open during the overlap...
	g.clock.Advance(DefaultOverlap - time.Millisecond)
	if _, info, err := open(rx, unitA, old2); err != nil || info.Epoch != 1 {
		t.Fatalf("epoch 1 frame within the overlap: %+v, %v", info, err)
	}
	// ...and not after.
	g.clock.Advance(time.Millisecond)
	if _, _, err := open(rx, unitA, old3); err != sframe.ErrUnknownKey {
		t.Fatalf("epoch 1 frame after the overlap: %v, want ErrUnknownKey", err)
	}
	if s := rx.Stats(); s.UnknownKey != 1 {
		t.Fatalf("stats %+v", s)
	}
	// The expired epoch was wiped.
	rx.mu.RLock()
	prev := rx.groups[testTG].prev
	rx.mu.RUnlock()
	if prev != nil {
		t.Fatal("previous epoch kept after the overlap")
	}
}

func TestKeyringOverlapConfig(t *testing.T) {
	for _, tc := range []struct {
		overlap time.Duration
		at      time.Duration
		want    error
	}{
		{0, 9 * time.Second, nil}, // default 10 s
		{0, 10 * time.Second, sframe.ErrUnknownKey},
		{time.Second, 900 * time.Millisecond, nil},
		{time.Second, time.Second, sframe.ErrUnknownKey},
		{-1, 0, sframe.ErrUnknownKey}, // no overlap
		{time.Minute, 59 * time.Second, nil},
		{time.Minute, time.Minute + time.Nanosecond, sframe.ErrUnknownKey},
	} {
		t.Run(fmt.Sprintf("overlap %v at %v", tc.overlap, tc.at), func(t *testing.T) {
			c := newClock(testEpoch0.Add(time.Minute))
			tx := newKeyring(t, unitA, c)
			rx, err := New(Config{Unit: unitB, Overlap: tc.overlap, Now: c.Now})
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []*Keyring{tx, rx} {
				if err := k.SetEpochKey(testTG, 1, testEpoch0, testEpochKey(t, 1)); err != nil {
					t.Fatal(err)
				}
			}
			ct := seal(t, tx, []byte("x"))
			if err := rx.SetEpochKey(testTG, 2, c.Now(), testEpochKey(t, 2)); err != nil {
				t.Fatal(err)
			}
			c.Advance(tc.at)
			if _, _, err := open(rx, unitA, ct); err != tc.want {
				t.Fatalf("Open: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestKeyringStaleEpoch(t *testing.T) {
	c := newClock(testEpoch0)
	k := newKeyring(t, unitA, c)
	k2 := testEpochKey(t, 2)
	if err := k.SetEpochKey(testTG, 2, testEpoch0, k2); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		epoch uint32
		key   []byte
		want  error
	}{
		{"older epoch (a replayed bundle)", 1, testEpochKey(t, 1), ErrStaleEpoch},
		{"same epoch, other key", 2, testEpochKey(t, 3), ErrStaleEpoch},
		{"same epoch, same key (delivered twice)", 2, k2, nil},
		{"short key", 3, k2[:31], ErrInvalid},
		{"epoch 0", 0, k2, ErrInvalid},
	}
	for _, tc := range tests {
		if err := k.SetEpochKey(testTG, tc.epoch, testEpoch0, tc.key); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if err := k.SetEpochKey(testTG, 3, time.Time{}, k2); !errors.Is(err, ErrInvalid) {
		t.Errorf("zero creation time: %v, want ErrInvalid", err)
	}
	if e, _ := k.Epoch(testTG); e != 2 {
		t.Fatalf("epoch %d after refused installs, want 2", e)
	}
}

// TestKeyringReinstallKeepsCounter: the same bundle delivered again must
// not restart the sender's counter.
func TestKeyringReinstallKeepsCounter(t *testing.T) {
	g := newTalkgroup(t, unitA, unitB)
	a := g.rings[unitA]
	first := seal(t, a, nil)
	if err := a.SetEpochKey(testTG, 1, testEpoch0, g.key); err != nil {
		t.Fatal(err)
	}
	second := seal(t, a, nil)
	h1, _, _ := sframe.ParseHeader(first)
	h2, _, _ := sframe.ParseHeader(second)
	if h2.CTR <= h1.CTR {
		t.Fatalf("counter went from %d to %d", h1.CTR, h2.CTR)
	}
}

// TestKeyringCountersSurviveRestart models a radio that reboots and gets
// the same epoch key again: its counters must not repeat.
func TestKeyringCountersSurviveRestart(t *testing.T) {
	c := newClock(testEpoch0.Add(90 * time.Second))
	key := testEpochKey(t, 9)
	boot := func() *Keyring {
		k := newKeyring(t, unitA, c)
		if err := k.SetEpochKey(testTG, 1, testEpoch0, key); err != nil {
			t.Fatal(err)
		}
		return k
	}
	seen := map[uint64]bool{}
	var last uint64
	for run := range 3 {
		k := boot()
		for i := range 100 { // a burst, faster than the clock moves
			ct := seal(t, k, nil)
			h, _, _ := sframe.ParseHeader(ct)
			if seen[h.CTR] || (i > 0 && h.CTR <= last) {
				t.Fatalf("run %d frame %d: counter %d reused or not increasing", run, i, h.CTR)
			}
			if h.CTR < uint64(c.Now().Sub(testEpoch0).Milliseconds()) {
				t.Fatalf("counter %d behind the clock", h.CTR)
			}
			seen[h.CTR] = true
			last = h.CTR
			if i%10 == 0 {
				c.Advance(20 * time.Millisecond)
			}
		}
		c.Advance(30 * time.Second) // reboot time
	}
}

func TestKeyringZeroize(t *testing.T) {
	g := newTalkgroup(t, unitA, unitB)
	rx := g.rings[unitB]
	before := seal(t, g.rings[unitA], []byte("x"))
	if _, _, err := open(rx, unitA, before); err != nil {
		t.Fatal(err)
	}
	b2 := g.f.bundleFor(t, testTG, 2, g.clock.Now(), testEpochKey(t, 0x66), unitA, unitB)
	g.f.install(t, rx, b2)
	rx.mu.RLock()
	cur, prev := rx.groups[testTG].cur, rx.groups[testTG].prev
	rx.mu.RUnlock()

	rx.Zeroize()
	if cur.key != [EpochKeySize]byte{} || prev.key != [EpochKeySize]byte{} {
		t.Fatal("Zeroize left epoch key bytes in memory")
	}
	if len(prev.receivers) != 0 || !cur.wiped || !prev.wiped {
		t.Fatal("Zeroize left receiving keys")
	}
	if _, err := rx.Sealer(testTG).Seal(nil, nil, []byte("x")); !errors.Is(err, ErrNoEpochKey) {
		t.Fatalf("Seal after Zeroize: %v, want ErrNoEpochKey", err)
	}
	if _, _, err := open(rx, unitA, seal(t, g.rings[unitA], []byte("y"))); err != sframe.ErrUnknownKey {
		t.Fatalf("Open after Zeroize: %v, want ErrUnknownKey", err)
	}
	if _, ok := rx.Epoch(testTG); ok {
		t.Fatal("Epoch reports a key after Zeroize")
	}
	// A zeroized radio that is re-enabled takes new keys.
	b3 := g.f.bundleFor(t, testTG, 3, g.clock.Now(), testEpochKey(t, 0x77), unitA, unitB)
	g.f.install(t, rx, b3)
	g.f.install(t, g.rings[unitA], b3)
	if _, _, err := open(rx, unitA, seal(t, g.rings[unitA], []byte("z"))); err != nil {
		t.Fatalf("Open after re-keying: %v", err)
	}
}

func TestKeyringForget(t *testing.T) {
	g := newTalkgroup(t, unitA, unitB)
	sealer := g.rings[unitA].Sealer(testTG)
	g.rings[unitA].Forget(testTG)
	if _, err := sealer.Seal(nil, nil, nil); !errors.Is(err, ErrNoEpochKey) {
		t.Fatalf("Seal after Forget: %v, want ErrNoEpochKey", err)
	}
}

func TestKeyringInstallBundleChecks(t *testing.T) {
	g := newTalkgroup(t, unitA)
	k := g.rings[unitA]
	b := g.f.bundleFor(t, testTG, 5, g.clock.Now(), testEpochKey(t, 1), unitA)
	// A bundle signed by someone else (here: unit B's signing key).
	forged := *b
	forged.Members = append([]Member(nil), b.Members...)
	if err := forged.Sign(g.f.units[unitB].SigningKey); err != nil {
		t.Fatal(err)
	}
	if err := k.InstallBundle(&forged, g.f.kmfPub(t), g.f.units[unitA].HPKEPrivateKey); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("bundle not signed by the KMF: %v, want ErrBadSignature", err)
	}
	if err := k.InstallBundle(b, g.f.kmfPub(t), g.f.units[unitB].HPKEPrivateKey); !errors.Is(err, ErrUnwrap) {
		t.Fatalf("wrong HPKE key: %v, want ErrUnwrap", err)
	}
	if e, _ := k.Epoch(testTG); e != 1 {
		t.Fatalf("epoch changed to %d by a refused bundle", e)
	}
}

func TestNewKeyringInvalid(t *testing.T) {
	for _, unit := range []uint32{0, 1 << 24} {
		if _, err := New(Config{Unit: unit}); !errors.Is(err, ErrInvalid) {
			t.Errorf("New(unit %d): %v, want ErrInvalid", unit, err)
		}
	}
}

// TestKeyringConcurrent opens frames from several senders in parallel
// while the talkgroup is rekeyed (for the race detector), and checks that
// every frame opened exactly once.
func TestKeyringConcurrent(t *testing.T) {
	g := newTalkgroup(t, unitA, unitB, unitC)
	rx := g.rings[unitC]
	const perSender = 300
	var frames [2][][]byte
	for i, u := range []uint32{unitA, unitB} {
		for range perSender {
			frames[i] = append(frames[i], seal(t, g.rings[u], []byte("c")))
		}
	}
	var wg sync.WaitGroup
	for i, u := range []uint32{unitA, unitB} {
		for half := range 2 { // two goroutines per sender, racing on its first frame
			wg.Go(func() {
				for j := half; j < perSender; j += 2 {
					if _, _, err := open(rx, u, frames[i][j]); err != nil {
						t.Errorf("unit %d frame %d: %v", u, j, err)
					}
				}
			})
		}
	}
	wg.Go(func() {
		if err := rx.SetEpochKey(testTG, 2, g.clock.Now(), testEpochKey(t, 0x99)); err != nil {
			t.Error(err)
		}
		_, _ = rx.Sealer(testTG).Seal(nil, nil, []byte("during rekey"))
	})
	wg.Wait()
	if s := rx.Stats(); s.Opened != 2*perSender {
		t.Fatalf("stats %+v, want %d opened", s, 2*perSender)
	}
}
