package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/varta-ptt/varta/client"
	"github.com/varta-ptt/varta/crypto/pki"
	"github.com/varta-ptt/varta/crypto/sframe"
	"github.com/varta-ptt/varta/kmf"
	"github.com/varta-ptt/varta/protocol"
	"github.com/varta-ptt/varta/protocol/pb"
	"github.com/varta-ptt/varta/server/store"
)

// startKMF enrols a KMF unit and runs the key management facility against
// the relay until the test ends.
func (r *relay) startKMF(t *testing.T) *pki.Identity {
	t.Helper()
	id := r.enrol(16777000, "KMF-1", store.RoleKMF)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- kmf.Run(ctx, kmf.Config{Identity: id, Addr: r.addr}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("kmf: %v", err)
		}
	})
	return id
}

// secureUnit is a connected unit with its voice crypto.
type secureUnit struct {
	*client.Client
	crypto *client.Crypto
	events []*pb.Envelope // non-key events seen while waiting for keys
}

func (r *relay) secureUnit(t *testing.T, id uint32, alias string, tgs ...uint16) *secureUnit {
	t.Helper()
	ident := r.enrol(id, alias, store.RoleOfficer, tgs...)
	c := r.dial(ident)
	affiliate(t, c, tgs...)
	cr, err := client.NewCrypto(ident, nil)
	if err != nil {
		t.Fatal(err)
	}
	u := &secureUnit{Client: c, crypto: cr}
	if _, err := cr.FetchKeys(ctxT(t), c); err != nil {
		t.Fatal(err)
	}
	return u
}

// waitKeysFresh waits until the KMF has keyed tg for its current members
// and returns the epoch.
func (r *relay) waitKeysFresh(t *testing.T, tg uint16) uint32 {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		st, err := r.store.KeyState(tg)
		if err != nil {
			t.Fatal(err)
		}
		if !st.Stale && st.Epoch > 0 {
			return st.Epoch
		}
		if time.Now().After(deadline) {
			t.Fatalf("talkgroup %d still has stale keys: %+v", tg, st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitEpoch installs pushed key bundles until the unit holds epoch (or a
// later one) of tg.
func (u *secureUnit) waitEpoch(t *testing.T, tg uint16, epoch uint32) {
	t.Helper()
	timeout := time.After(waitLimit)
	for {
		if e, ok := u.crypto.Epoch(tg); ok && e >= epoch {
			return
		}
		select {
		case env := <-u.Events():
			if kb := env.GetKeyBundle(); kb != nil {
				if err := u.crypto.Install(kb); err != nil {
					t.Fatalf("unit %d install key: %v", u.Unit(), err)
				}
			}
		case <-timeout:
			t.Fatalf("unit %d never got epoch %d of talkgroup %d", u.Unit(), epoch, tg)
		}
	}
}

// Voice is sealed end to end: members open it, the relay's traffic holds
// neither the plaintext nor anything a non-member can open, and tampered,
// replayed and wrong-key frames are refused and counted.
func TestEndToEndEncryption(t *testing.T) {
	r := startRelay(t, nil)
	r.startKMF(t)
	talker := r.secureUnit(t, 101, "P-101", 100)
	l1 := r.secureUnit(t, 102, "P-102", 100)
	l2 := r.secureUnit(t, 103, "P-103", 100)
	outsider := r.secureUnit(t, 104, "P-104", 200)
	e0 := r.waitKeysFresh(t, 100)
	for _, u := range []*secureUnit{talker, l1, l2} {
		u.waitEpoch(t, 100, e0)
	}
	outsider.waitEpoch(t, 200, r.waitKeysFresh(t, 200))

	request(t, talker.Client, 100, 50, 0)
	var plain [][]byte
	for i := range 30 {
		p := make([]byte, 40)
		rand.Read(p)
		plain = append(plain, p)
		var flags uint8
		if i == 29 {
			flags = protocol.FlagEndOfBurst
		}
		d, err := talker.crypto.Seal(nil, 100, flags, p)
		if err != nil {
			t.Fatal(err)
		}
		if err := talker.SendVoice(d); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	// What the relay forwarded, byte for byte.
	relayed := receive(t, l1.Client, len(plain))
	got2 := receive(t, l2.Client, len(plain))
	for i, d := range relayed {
		if i == 3 || i == 4 {
			continue // kept unopened at 102 for the tampering checks below
		}
		_, pt, info, err := l1.crypto.Open(nil, d)
		if err != nil {
			t.Fatalf("member 102 cannot open frame %d: %v", i, err)
		}
		if info.Unit != 101 || !bytes.Equal(pt, plain[i]) {
			t.Fatalf("frame %d opened to different bytes or sender %d", i, info.Unit)
		}
		if _, pt, _, err := l2.crypto.Open(nil, got2[i]); err != nil || !bytes.Equal(pt, plain[i]) {
			t.Fatalf("member 103 frame %d: %v", i, err)
		}
		// The relay never had the plaintext...
		for _, p := range plain {
			if bytes.Contains(d, p[:16]) {
				t.Fatal("plaintext visible in relayed traffic")
			}
		}
	}
	// ...and a unit outside the talkgroup, given all of it, opens nothing.
	for i, d := range relayed {
		if _, _, _, err := outsider.crypto.Open(nil, d); err == nil {
			t.Fatalf("non-member opened frame %d", i)
		}
	}
	if st := outsider.crypto.Stats(); st.Opened != 0 || st.UnknownKey != uint64(len(relayed)) {
		t.Fatalf("outsider stats %+v", st)
	}

	// Tampered, replayed and wrong-key frames are refused and counted.
	before := l1.crypto.Stats()
	tampered := bytes.Clone(relayed[3])
	tampered[len(tampered)-1] ^= 1
	headerTampered := bytes.Clone(relayed[4])
	headerTampered[0] |= protocol.FlagEmergency
	outsiderFrame, err := outsider.crypto.Seal(nil, 200, 0, plain[0])
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		d    []byte
		want error
	}{
		{"tampered ciphertext", tampered, sframe.ErrDecrypt},
		{"tampered clear header", headerTampered, sframe.ErrDecrypt},
		{"replayed", relayed[5], sframe.ErrReplay},
		{"wrong key", outsiderFrame, sframe.ErrUnknownKey},
	}
	for _, c := range cases {
		if _, _, _, err := l1.crypto.Open(nil, c.d); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
	after := l1.crypto.Stats()
	if after.AuthFailed != before.AuthFailed+2 || after.Replay != before.Replay+1 || after.UnknownKey != before.UnknownKey+1 {
		t.Fatalf("rejections not counted: before %+v after %+v", before, after)
	}
	// A refused forgery does not burn the genuine frame's counter.
	for _, i := range []int{3, 4} {
		if _, pt, _, err := l1.crypto.Open(nil, relayed[i]); err != nil || !bytes.Equal(pt, plain[i]) {
			t.Fatalf("genuine frame %d after its forgery was refused: %v", i, err)
		}
	}
}

// Moving a unit out of a talkgroup makes the KMF rekey it: the remaining
// members get a new epoch, the departed unit does not, and it cannot open
// voice sealed under the new epoch.
func TestRekeyOnMembershipChange(t *testing.T) {
	r := startRelay(t, nil)
	r.startKMF(t)
	a := r.secureUnit(t, 101, "P-101", 100)
	b := r.secureUnit(t, 102, "P-102", 100)
	c := r.secureUnit(t, 103, "P-103", 100, 200)
	e0 := r.waitKeysFresh(t, 100)
	for _, u := range []*secureUnit{a, b, c} {
		u.waitEpoch(t, 100, e0)
	}
	if _, err := r.srv.SetUnitTalkgroups(103, []uint16{200}); err != nil {
		t.Fatal(err)
	}
	// The remaining members receive the new epoch pushed by the relay.
	a.waitEpoch(t, 100, e0+1)
	b.waitEpoch(t, 100, e0+1)
	d, err := b.crypto.Seal(nil, 100, 0, []byte("units respond to 5th and main"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := c.crypto.Open(nil, d); err == nil {
		t.Fatal("the departed unit opened voice of the new epoch")
	}
	if _, pt, _, err := a.crypto.Open(nil, d); err != nil || string(pt) != "units respond to 5th and main" {
		t.Fatalf("a remaining member cannot open the new epoch: %v", err)
	}
}

// A large agency is keyed completely: a talkgroup of 60 members (its member
// list and key bundle are far over the 64 KiB a unit's messages may be)
// and 80 talkgroups at once (over a unit's control rate limit). Epochs never
// fall below the clock in seconds, so they keep rising across a roster
// restore.
func TestKMFLargeAgency(t *testing.T) {
	r := startRelay(t, nil)
	for id := uint16(1000); id < 1080; id++ {
		if err := r.srv.AddTalkgroup(store.Talkgroup{ID: id, Name: "Sector"}); err != nil {
			t.Fatal(err)
		}
	}
	for u := range uint32(60) {
		r.enrol(5000+u, "U", store.RoleOfficer, 100)
	}
	start := time.Now()
	r.startKMF(t)
	deadline := time.Now().Add(3 * waitLimit)
	for {
		states, err := r.store.KeyStates()
		if err != nil {
			t.Fatal(err)
		}
		stale := 0
		for _, st := range states {
			if st.Stale {
				stale++
			}
		}
		if stale == 0 {
			for _, st := range states {
				if st.Epoch < uint32(start.Unix()) {
					t.Fatalf("talkgroup %d epoch %d is below the clock (%d)", st.Talkgroup, st.Epoch, start.Unix())
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d talkgroups still without a fresh key", stale, len(states))
		}
		time.Sleep(20 * time.Millisecond)
	}
	for u := range uint32(60) {
		if _, err := r.store.MemberKey(100, 5000+u); err != nil {
			t.Fatalf("member %d has no key: %v", 5000+u, err)
		}
	}
	t.Logf("82 talkgroups keyed, 60 members in talkgroup 100, in %s", time.Since(start).Round(time.Millisecond))
}
