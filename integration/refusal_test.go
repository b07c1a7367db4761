package integration

import (
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/varta-ptt/varta/client"
	"github.com/varta-ptt/varta/crypto/pki"
	"github.com/varta-ptt/varta/internal/agency"
	"github.com/varta-ptt/varta/protocol"
	"github.com/varta-ptt/varta/server"
	"github.com/varta-ptt/varta/server/store"
)

// Every refusal reaches the radio as a *client.RefusedError whose message a
// person can act on.
func TestRefusals(t *testing.T) {
	r := startRelay(t, func(c *server.Config) {
		c.AllowedRoles = []store.Role{store.RoleOfficer, store.RoleDispatcher}
	})
	otherCA, err := pki.NewCA("Other Agency", rand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		setup func(t *testing.T) *pki.Identity
		want  string
	}{
		{
			name: "certificate from another CA",
			setup: func(t *testing.T) *pki.Identity {
				id, err := pki.IssueUnit(otherCA, pki.UnitSpec{ID: 201, Alias: "X-201", Role: "officer", Server: r.addr}, rand.Reader, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				// A forged bundle: it trusts this agency's relay but its
				// certificate comes from another CA.
				id.CA = r.ca.Cert
				return id
			},
			want: "another agency CA",
		},
		{
			name: "expired certificate",
			setup: func(t *testing.T) *pki.Identity {
				id, err := pki.IssueUnit(r.ca, pki.UnitSpec{ID: 202, Alias: "P-202", Role: "officer", Server: r.addr, ValidFor: time.Hour}, rand.Reader, time.Now().Add(-48*time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				u, err := agency.UnitRecord(id, []uint16{100})
				if err != nil {
					t.Fatal(err)
				}
				if err := r.srv.AddUnit(u); err != nil {
					t.Fatal(err)
				}
				return id
			},
			want: "expired",
		},
		{
			name: "removed unit",
			setup: func(t *testing.T) *pki.Identity {
				id := r.enrol(203, "P-203", store.RoleOfficer, 100)
				if err := r.srv.RemoveUnit(203); err != nil {
					t.Fatal(err)
				}
				return id
			},
			want: "unit 203 is not enrolled in this agency",
		},
		{
			name: "role that may not connect",
			setup: func(t *testing.T) *pki.Identity {
				return r.enrol(204, "REC-1", store.RoleRecorder, 100)
			},
			want: "units with role recorder may not connect",
		},
		{
			name: "replaced identity file",
			setup: func(t *testing.T) *pki.Identity {
				old := r.enrol(205, "P-205", store.RoleOfficer, 100)
				fresh, err := pki.IssueUnit(r.ca, pki.UnitSpec{ID: 205, Alias: "P-205", Role: "officer", Server: r.addr}, rand.Reader, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				u, _ := agency.UnitRecord(fresh, nil)
				if _, err := r.store.ReplaceUnitCredentials(205, u.CertFingerprint, u.HPKEPublicKey, u.SigningPublicKey, u.Cert); err != nil {
					t.Fatal(err)
				}
				return old
			},
			want: "has been replaced by a newer one",
		},
		{
			name: "stunned unit",
			setup: func(t *testing.T) *pki.Identity {
				id := r.enrol(206, "P-206", store.RoleOfficer, 100)
				if _, err := r.store.SetUnitStunned(206, true); err != nil {
					t.Fatal(err)
				}
				return id
			},
			want: "is stunned",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := tt.setup(t)
			before := r.srv.Stats().Refused
			c, err := r.tryDial(id)
			if err == nil {
				c.Close()
				t.Fatal("the relay accepted the unit")
			}
			var refused *client.RefusedError
			if !errors.As(err, &refused) {
				t.Fatalf("got %T %v, want a RefusedError", err, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("message %q does not say %q", err.Error(), tt.want)
			}
			t.Logf("radio shows: %s", err)
			if tt.name != "certificate from another CA" && tt.name != "expired certificate" {
				if r.srv.Stats().Refused != before+1 {
					t.Fatalf("refusal not counted")
				}
			}
		})
	}
	// The relay is undisturbed.
	ok := r.unit(300, "P-300", 100)
	if _, err := ok.Ping(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

// A radio checks the relay: a relay with a certificate from another CA is
// refused by the radio.
func TestRadioRefusesForeignRelay(t *testing.T) {
	r := startRelay(t, nil)
	otherCA, _ := pki.NewCA("Impostor", rand.Reader, time.Now())
	id, err := pki.IssueUnit(otherCA, pki.UnitSpec{ID: 101, Alias: "P-101", Role: "officer", Server: r.addr}, rand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.tryDial(id)
	if err == nil || !strings.Contains(err.Error(), "CA") {
		t.Fatalf("got %v, want a refusal naming the CA", err)
	}
}

// Removing a connected unit, or changing its talkgroups, takes effect at once.
func TestRosterChangesApplyLive(t *testing.T) {
	r := startRelay(t, nil)
	a := r.unit(101, "P-101", 100, 200)
	b := r.unit(102, "P-102", 100)

	// Taking talkgroup 200 away de-affiliates the unit and says so.
	if _, err := r.srv.SetUnitTalkgroups(101, []uint16{100}); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(waitLimit)
	for changed := false; !changed; {
		select {
		case env := <-a.Events():
			if ac := env.GetAffiliationChanged(); ac != nil {
				changed = true
				if len(ac.Talkgroups) != 1 || ac.Talkgroups[0] != 100 || ac.Reason == "" {
					t.Fatalf("affiliation change says %v %q", ac.Talkgroups, ac.Reason)
				}
			}
		case <-deadline:
			t.Fatal("no affiliation change event")
		}
	}
	if res := request(t, a, 200, 50, 0); res.Cause.String() != "CAUSE_NOT_AFFILIATED" {
		t.Fatalf("floor on a removed talkgroup: %v", res.Cause)
	}

	// Removing the unit disconnects it with a reason.
	if err := r.srv.RemoveUnit(102); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.Done():
	case <-time.After(waitLimit):
		t.Fatal("removed unit still connected")
	}
	var closed *client.ClosedError
	if !errors.As(b.Err(), &closed) || closed.Code != protocol.CloseRosterChange || !strings.Contains(closed.Reason, "removed from the roster") {
		t.Fatalf("removed unit told %v", b.Err())
	}
}

// A unit that connects twice keeps only the newest connection.
func TestSecondConnectionReplacesFirst(t *testing.T) {
	r := startRelay(t, nil)
	id := r.enrol(101, "P-101", store.RoleOfficer, 100)
	first := r.dial(id)
	second := r.dial(id)
	select {
	case <-first.Done():
	case <-time.After(waitLimit):
		t.Fatal("first connection not closed")
	}
	var closed *client.ClosedError
	if !errors.As(first.Err(), &closed) || closed.Code != protocol.CloseReplaced {
		t.Fatalf("first connection told %v", first.Err())
	}
	if _, err := second.Ping(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}
