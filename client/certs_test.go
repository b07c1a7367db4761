package client

import (
	"crypto/rand"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/varta-ptt/varta/crypto/groupkey"
	"github.com/varta-ptt/varta/crypto/pki"
)

func issue(t *testing.T, ca *pki.CA, id uint32, role string, now time.Time, validFor time.Duration) *pki.Identity {
	t.Helper()
	ident, err := pki.IssueUnit(ca, pki.UnitSpec{ID: id, Alias: "Unit", Role: role, ValidFor: validFor}, rand.Reader, now)
	if err != nil {
		t.Fatal(err)
	}
	return ident
}

func TestCheckSenderCert(t *testing.T) {
	now := time.Now()
	ca, err := pki.NewCA("Test Police", rand.Reader, now.Add(-30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.NewCA("Other Police", rand.Reader, now.Add(-30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	me := issue(t, ca, 1, pki.RoleOfficer, now, 0)
	cr, err := NewCrypto(me, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	good := issue(t, ca, 42, pki.RoleOfficer, now, 0)
	tests := []struct {
		name string
		unit uint32
		der  []byte
		want string // "" for success
	}{
		{"officer", 42, good.Cert.Raw, ""},
		{"dispatcher", 43, issue(t, ca, 43, pki.RoleDispatcher, now, 0).Cert.Raw, ""},
		{"commander", 44, issue(t, ca, 44, pki.RoleCommander, now, 0).Cert.Raw, ""},
		{"another CA", 42, issue(t, other, 42, pki.RoleOfficer, now, 0).Cert.Raw, `not issued by this agency's CA "Test Police"`},
		{"another unit", 7, good.Cert.Raw, "the relay sent the certificate of unit 42 instead"},
		{"kmf", 45, issue(t, ca, 45, pki.RoleKMF, now, 0).Cert.Raw, `role "kmf" does not talk`},
		{"recorder", 46, issue(t, ca, 46, pki.RoleRecorder, now, 0).Cert.Raw, `role "recorder" does not talk`},
		{"expired", 47, issue(t, ca, 47, pki.RoleOfficer, now.Add(-48*time.Hour), 24*time.Hour).Cert.Raw, "is not valid now"},
		{"not yet valid", 48, issue(t, ca, 48, pki.RoleOfficer, now.Add(48*time.Hour), 0).Cert.Raw, "is not valid now"},
		{"CA certificate", 1, ca.Cert.Raw, "unit 1:"},
		{"garbage", 49, []byte("not a certificate"), "does not parse"},
		{"empty", 50, nil, "empty certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := cr.checkSenderCert(tt.unit, tt.der)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(k.pub) == 0 {
					t.Fatal("no key")
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted; want an error containing %q", tt.want)
			}
			t.Log(err)
			if !errors.Is(err, ErrSenderCert) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q; want ErrSenderCert containing %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), "unit ") {
				t.Fatalf("error %q does not name the unit", err)
			}
		})
	}

	// The key checked from the certificate verifies the unit's signature.
	k, err := cr.checkSenderCert(42, good.Cert.Raw)
	if err != nil {
		t.Fatal(err)
	}
	s, err := groupkey.NewBurstSigner(good.SigningKey, 100, 42)
	if err != nil {
		t.Fatal(err)
	}
	bv, err := groupkey.NewBurstVerifier(k.pub, 100, 42)
	if err != nil {
		t.Fatal(err)
	}
	s.Add([]byte("frame"))
	bv.Add([]byte("frame"))
	if err := bv.Verify(s.Sign()); err != nil {
		t.Fatalf("signature of unit 42 does not verify with its checked key: %v", err)
	}
}

func TestSenderKeyExpires(t *testing.T) {
	now := time.Now()
	ca, err := pki.NewCA("Test Police", rand.Reader, now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	clock := now
	var mu sync.Mutex
	cr, err := NewCrypto(issue(t, ca, 1, pki.RoleOfficer, now, 0), func() time.Time { mu.Lock(); defer mu.Unlock(); return clock })
	if err != nil {
		t.Fatal(err)
	}
	sender := issue(t, ca, 2, pki.RoleOfficer, now, time.Hour)
	k, err := cr.checkSenderCert(2, sender.Cert.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := cr.senders.put(2, k); err != nil {
		t.Fatal(err)
	}
	if _, ok := cr.SenderKey(2); !ok {
		t.Fatal("no key for unit 2")
	}
	cr.ForgetSender(2)
	if _, ok := cr.SenderKey(2); ok {
		t.Fatal("unit 2's key kept after ForgetSender")
	}
	if err := cr.senders.put(2, k); err != nil {
		t.Fatal(err)
	}
	if _, ok := cr.SenderKey(3); ok {
		t.Fatal("a key for unit 3, never learnt")
	}
	mu.Lock()
	clock = now.Add(2 * time.Hour)
	mu.Unlock()
	if _, ok := cr.SenderKey(2); ok {
		t.Fatal("unit 2's key still given after its certificate expired")
	}
}

func TestSenderKeysBounded(t *testing.T) {
	var s senderKeys
	for u := range uint32(MaxSenderKeys) {
		if err := s.put(u+1, senderKey{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.put(MaxSenderKeys+1, senderKey{}); err == nil || !strings.Contains(err.Error(), "cache is full") {
		t.Fatalf("put past the bound: %v; want a full-cache error", err)
	}
	if err := s.put(1, senderKey{}); err != nil {
		t.Fatalf("replacing a kept key when full: %v", err)
	}
}
