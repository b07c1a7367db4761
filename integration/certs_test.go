package integration

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/varta-ptt/varta/client"
	"github.com/varta-ptt/varta/crypto/groupkey"
	"github.com/varta-ptt/varta/crypto/pki"
	"github.com/varta-ptt/varta/internal/agency"
	"github.com/varta-ptt/varta/protocol/pb"
	"github.com/varta-ptt/varta/server/store"
)

// signedBurst signs a burst of frames on tg as ident would.
func signedBurst(t *testing.T, ident *pki.Identity, tg uint16, frames [][]byte) []byte {
	t.Helper()
	s, err := groupkey.NewBurstSigner(ident.SigningKey, tg, ident.UnitID)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		s.Add(f)
	}
	return s.Sign()
}

// verifies reports whether pub verifies unit's signature over frames.
func verifies(t *testing.T, pub []byte, tg uint16, unit uint32, frames [][]byte, sig []byte) bool {
	t.Helper()
	v, err := groupkey.NewBurstVerifier(pub, tg, unit)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		v.Add(f)
	}
	return v.Verify(sig) == nil
}

// A unit fetches other units' certificates from the relay, checks them
// against the agency CA and keeps their signing keys, with which it
// verifies who spoke a burst.
func TestUnitCertificates(t *testing.T) {
	r := startRelay(t, nil)
	me := r.enrol(10, "PATROL-10", store.RoleOfficer, 100)
	alice := r.enrol(11, "PATROL-11", store.RoleOfficer, 100)
	bob := r.enrol(12, "DISPATCH-12", store.RoleDispatcher, 100)
	// Unit 13 was added before Varta stored certificates: it has none.
	if err := r.srv.AddUnit(store.Unit{ID: 13, Alias: "OLD-13", Role: store.RoleOfficer}); err != nil {
		t.Fatal(err)
	}
	c := r.dial(me)

	t.Run("fetch", func(t *testing.T) {
		got, err := c.UnitCertificates(ctxT(t), 12, 11, 12, 999, 13, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := []*pki.Identity{bob, alice}
		if len(got) != len(want) {
			t.Fatalf("%d certificates; want %d (units 12 and 11 once each; 999, 13 and 0 left out)", len(got), len(want))
		}
		for i, w := range want {
			if got[i].Unit != w.UnitID || !bytes.Equal(got[i].Certificate, w.Cert.Raw) {
				t.Fatalf("certificate %d is unit %d's; want unit %d's enrolled certificate", i, got[i].Unit, w.UnitID)
			}
		}
	})

	t.Run("too many", func(t *testing.T) {
		units := make([]uint32, client.MaxCertificateUnits+1)
		for i := range units {
			units[i] = uint32(11 + i)
		}
		_, err := c.UnitCertificates(ctxT(t), units...)
		var re *client.RequestError
		if !errors.As(err, &re) || re.Code != pb.ErrorCode_ERROR_BAD_REQUEST || !strings.Contains(re.Reason, "at most 16 units") {
			t.Fatalf("17 units: %v; want ERROR_BAD_REQUEST saying at most 16", err)
		}
		// The session goes on.
		if got, err := c.UnitCertificates(ctxT(t), 11); err != nil || len(got) != 1 {
			t.Fatalf("after the refusal: %d certificates, %v", len(got), err)
		}
	})

	t.Run("learn and verify", func(t *testing.T) {
		cr, err := client.NewCrypto(me, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := cr.LearnSenders(ctxT(t), c, 11, 12, 999, 13); err != nil {
			t.Fatal(err)
		}
		for _, u := range []uint32{999, 13} {
			if _, ok := cr.SenderKey(u); ok {
				t.Fatalf("a key for unit %d, which has no certificate", u)
			}
		}
		frames := [][]byte{[]byte("sealed frame 1"), []byte("sealed frame 2"), []byte("sealed frame 3")}
		for _, sender := range []*pki.Identity{alice, bob} {
			pub, ok := cr.SenderKey(sender.UnitID)
			if !ok {
				t.Fatalf("no key learnt for unit %d", sender.UnitID)
			}
			sig := signedBurst(t, sender, 100, frames)
			if !verifies(t, pub, 100, sender.UnitID, frames, sig) {
				t.Fatalf("unit %d's burst does not verify with its learnt key", sender.UnitID)
			}
		}
		// Bob's key does not vouch for a burst Alice signed as Bob.
		bobKey, _ := cr.SenderKey(12)
		forged := signedBurst(t, &pki.Identity{UnitID: 12, SigningKey: alice.SigningKey}, 100, frames)
		if verifies(t, bobKey, 100, 12, frames, forged) {
			t.Fatal("a burst signed with unit 11's key verified as unit 12's")
		}
	})
}

// A relay that hands out a certificate not from the agency CA, or another
// unit's certificate, cannot make a receiver accept a key: LearnSenders
// refuses it, names the unit and why, and keeps the good keys.
func TestUnitCertificatesUntrustedRelay(t *testing.T) {
	r := startRelay(t, nil)
	me := r.enrol(10, "PATROL-10", store.RoleOfficer, 100)
	good := r.enrol(11, "PATROL-11", store.RoleOfficer, 100)

	otherCA, err := pki.NewCA("Impostor Police", rand.Reader, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := pki.IssueUnit(otherCA, pki.UnitSpec{ID: 20, Alias: "IMPOSTOR-20", Role: pki.RoleOfficer}, rand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	u, err := agency.UnitRecord(foreign, []uint16{100})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.srv.AddUnit(u); err != nil {
		t.Fatal(err)
	}
	// Unit 21's roster record carries unit 11's certificate.
	swapped, err := agency.UnitRecord(good, []uint16{100})
	if err != nil {
		t.Fatal(err)
	}
	swapped.ID, swapped.Alias = 21, "SWAPPED-21"
	if err := r.srv.AddUnit(swapped); err != nil {
		t.Fatal(err)
	}

	c := r.dial(me)
	cr, err := client.NewCrypto(me, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = cr.LearnSenders(ctxT(t), c, 20, 11, 21)
	if !errors.Is(err, client.ErrSenderCert) {
		t.Fatalf("LearnSenders: %v; want ErrSenderCert", err)
	}
	for _, want := range []string{
		`unit 20: the certificate was not issued by this agency's CA "Test Police" (issuer "Impostor Police")`,
		"unit 21: the relay sent the certificate of unit 11 instead",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	for _, u := range []uint32{20, 21} {
		if _, ok := cr.SenderKey(u); ok {
			t.Errorf("unit %d's refused certificate gave a key", u)
		}
	}
	if _, ok := cr.SenderKey(11); !ok {
		t.Error("unit 11's good certificate was not kept beside the refused ones")
	}
}

// LearnSenders asks in chunks the relay accepts, and one goroutine may read
// keys while another learns them.
func TestLearnSendersManyUnits(t *testing.T) {
	r := startRelay(t, nil)
	me := r.enrol(10, "PATROL-10", store.RoleOfficer, 100)
	const n = 40
	var units []uint32
	idents := make(map[uint32]*pki.Identity)
	for i := range n {
		id := uint32(100 + i)
		idents[id] = r.enrol(id, "PATROL", store.RoleOfficer, 100)
		units = append(units, id)
	}
	c := r.dial(me)
	cr, err := client.NewCrypto(me, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			for _, u := range units {
				cr.SenderKey(u)
			}
		}
	})
	err = cr.LearnSenders(ctxT(t), c, units...)
	close(done)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	frames := [][]byte{[]byte("frame")}
	for _, u := range units {
		pub, ok := cr.SenderKey(u)
		if !ok {
			t.Fatalf("no key for unit %d of %d asked for", u, n)
		}
		if !verifies(t, pub, 100, u, frames, signedBurst(t, idents[u], 100, frames)) {
			t.Fatalf("unit %d's burst does not verify", u)
		}
	}
}

// Sixteen large certificates do not fit in one reply: the relay says so
// instead of sending nothing, and LearnSenders asks again for fewer at a
// time, so every certificate is fetched (and these junk ones refused).
func TestUnitCertificatesTooLargeForOneReply(t *testing.T) {
	r := startRelay(t, nil)
	me := r.enrol(10, "PATROL-10", store.RoleOfficer, 100)
	tmpl, err := agency.UnitRecord(r.enrol(11, "PATROL-11", store.RoleOfficer, 100), []uint16{100})
	if err != nil {
		t.Fatal(err)
	}
	var units []uint32
	for i := range client.MaxCertificateUnits {
		u := tmpl
		u.ID, u.Alias = uint32(300+i), "BIG"
		u.Cert = bytes.Repeat([]byte{byte(i)}, 10<<10)
		u.CertFingerprint = fmt.Sprintf("%x", sha256.Sum256(u.Cert))
		if err := r.srv.AddUnit(u); err != nil {
			t.Fatal(err)
		}
		units = append(units, u.ID)
	}
	c := r.dial(me)
	_, err = c.UnitCertificates(ctxT(t), units...)
	var re *client.RequestError
	if !errors.As(err, &re) || re.Code != pb.ErrorCode_ERROR_BAD_REQUEST || !strings.Contains(re.Reason, "ask for fewer units") {
		t.Fatalf("16 certificates of 10 KiB: %v; want ERROR_BAD_REQUEST asking for fewer units", err)
	}
	cr, err := client.NewCrypto(me, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = cr.LearnSenders(ctxT(t), c, units...)
	for _, u := range units {
		if want := fmt.Sprintf("unit %d: the certificate does not parse", u); err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("LearnSenders: %v; want it to say %q", err, want)
		}
	}
}
