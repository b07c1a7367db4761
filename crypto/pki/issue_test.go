package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hpke"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestIssueUnit(t *testing.T) {
	ca := newTestCA(t, "Example Police")
	tests := []struct {
		spec     UnitSpec
		wantLife time.Duration
	}{
		{UnitSpec{ID: 1, Alias: "Patrol 1", Role: RoleOfficer, Server: "relay.example:4433"}, DefaultUnitValidity},
		{UnitSpec{ID: 1042, Alias: "Dispatch Nord", Role: RoleDispatcher, ValidFor: 90 * 24 * time.Hour}, 90 * 24 * time.Hour},
		{UnitSpec{ID: 500, Alias: "Einsatzleitung Süd", Role: RoleCommander}, DefaultUnitValidity},
		{UnitSpec{ID: 9000, Alias: "KMF", Role: RoleKMF, Server: "[2001:db8::1]:4433"}, DefaultUnitValidity},
		{UnitSpec{ID: MaxUnitID, Alias: "Recorder", Role: RoleRecorder, ValidFor: time.Hour}, time.Hour},
		// A unit certificate never outlives its CA.
		{UnitSpec{ID: 77, Alias: "Long", Role: RoleOfficer, ValidFor: 20 * CAValidity}, CAValidity},
	}
	for _, tt := range tests {
		t.Run(tt.spec.Alias, func(t *testing.T) {
			id, err := IssueUnit(ca, tt.spec, rand.Reader, testNow)
			if err != nil {
				t.Fatalf("IssueUnit: %v", err)
			}
			c := id.Cert
			if id.UnitID != tt.spec.ID || id.Alias != tt.spec.Alias || id.Role != tt.spec.Role || id.Server != tt.spec.Server {
				t.Errorf("identity %d %q %q %q, want %+v", id.UnitID, id.Alias, id.Role, id.Server, tt.spec)
			}
			if c.Subject.CommonName != tt.spec.Alias {
				t.Errorf("CommonName %q, want %q", c.Subject.CommonName, tt.spec.Alias)
			}
			var uris []string
			for _, u := range c.URIs {
				uris = append(uris, u.String())
			}
			wantURIs := []string{"varta://unit/" + itoa(tt.spec.ID), "varta://role/" + tt.spec.Role}
			if strings.Join(uris, " ") != strings.Join(wantURIs, " ") {
				t.Errorf("URIs %v, want %v", uris, wantURIs)
			}
			if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
				t.Errorf("ExtKeyUsage %v, want [ClientAuth]", c.ExtKeyUsage)
			}
			if c.IsCA {
				t.Error("unit certificate is a CA")
			}
			if pub, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
				t.Errorf("TLS key %T, want ECDSA P-256", c.PublicKey)
			}
			if !keyMatchesCert(id.Key, c) {
				t.Error("TLS key does not match the certificate")
			}
			if got := c.NotAfter.Sub(testNow); got != tt.wantLife {
				t.Errorf("valid for %v, want %v", got, tt.wantLife)
			}
			if !c.NotAfter.After(c.NotBefore) || c.NotBefore.After(testNow) || c.NotBefore.Before(ca.Cert.NotBefore) {
				t.Errorf("NotBefore %v NotAfter %v: want NotBefore in [CA NotBefore, issue time]", c.NotBefore, c.NotAfter)
			}
			if _, err := c.Verify(x509.VerifyOptions{Roots: ca.Pool(), CurrentTime: testNow, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Errorf("Verify: %v", err)
			}

			// Both key extensions are present, non-critical and hold
			// the identity's public keys.
			for _, oid := range []string{OIDHPKEPublicKey.String(), OIDSigningPublicKey.String()} {
				n := 0
				for _, e := range c.Extensions {
					if e.Id.String() == oid {
						n++
						if e.Critical {
							t.Errorf("extension %s is critical", oid)
						}
					}
				}
				if n != 1 {
					t.Errorf("extension %s appears %d times, want once", oid, n)
				}
			}
			hpkePub, err := HPKEPublicKeyFromCert(c)
			if err != nil {
				t.Fatalf("HPKEPublicKeyFromCert: %v", err)
			}
			if hpkePub.KEM().ID() != hpke.MLKEM768X25519().ID() {
				t.Errorf("HPKE KEM %#x, want MLKEM768-X25519", hpkePub.KEM().ID())
			}
			if !bytes.Equal(hpkePub.Bytes(), id.HPKEPrivateKey.PublicKey().Bytes()) {
				t.Error("HPKE public key in the certificate is not the identity's")
			}
			sigPub, err := SigningPublicKeyFromCert(c)
			if err != nil {
				t.Fatalf("SigningPublicKeyFromCert: %v", err)
			}
			if !sigPub.Equal(id.SigningKey.Public()) {
				t.Error("signing public key in the certificate is not the identity's")
			}
			if gotID, err := UnitIDFromCert(c); err != nil || gotID != tt.spec.ID {
				t.Errorf("UnitIDFromCert = %d, %v", gotID, err)
			}
			if role, err := RoleFromCert(c); err != nil || role != tt.spec.Role {
				t.Errorf("RoleFromCert = %q, %v", role, err)
			}
			if IsServerCert(c) {
				t.Error("IsServerCert(unit) = true")
			}
		})
	}
}

func itoa(id uint32) string { return strconv.FormatUint(uint64(id), 10) }

func TestIssueUnitKeysDiffer(t *testing.T) {
	ca := newTestCA(t, "Example Police")
	a := newTestUnit(t, ca, 1, RoleOfficer)
	b := newTestUnit(t, ca, 2, RoleOfficer)
	if a.Cert.SerialNumber.Cmp(b.Cert.SerialNumber) == 0 {
		t.Error("two units share a serial number")
	}
	if bytes.Equal(a.HPKEPrivateKey.PublicKey().Bytes(), b.HPKEPrivateKey.PublicKey().Bytes()) {
		t.Error("two units share an HPKE key")
	}
	if a.SigningKey.Equal(b.SigningKey) {
		t.Error("two units share a signing key")
	}
}

func TestIssueUnitInvalidSpec(t *testing.T) {
	ca := newTestCA(t, "Example Police")
	ok := UnitSpec{ID: 1, Alias: "One", Role: RoleOfficer, Server: "relay:4433"}
	tests := []struct {
		name   string
		mutate func(*UnitSpec)
		want   string
	}{
		{"ID 0", func(s *UnitSpec) { s.ID = 0 }, "unit ID 0 is outside 1..16777215"},
		{"ID too large", func(s *UnitSpec) { s.ID = MaxUnitID + 1 }, "outside 1..16777215"},
		{"no alias", func(s *UnitSpec) { s.Alias = "" }, "alias: empty"},
		{"alias with newline", func(s *UnitSpec) { s.Alias = "a\nb" }, "control characters"},
		{"alias with space", func(s *UnitSpec) { s.Alias = "a " }, "trailing space"},
		{"alias too long", func(s *UnitSpec) { s.Alias = strings.Repeat("ä", 65) }, "longer than 64"},
		{"no role", func(s *UnitSpec) { s.Role = "" }, `role ""`},
		{"server role", func(s *UnitSpec) { s.Role = RoleServer }, `role "server"`},
		{"unknown role", func(s *UnitSpec) { s.Role = "admin" }, `role "admin"`},
		{"server without port", func(s *UnitSpec) { s.Server = "relay" }, "not host:port"},
		{"server port 0", func(s *UnitSpec) { s.Server = "relay:0" }, "no valid port"},
		{"server port name", func(s *UnitSpec) { s.Server = "relay:https" }, "no valid port"},
		{"server empty host", func(s *UnitSpec) { s.Server = ":4433" }, "no valid host"},
		{"negative validity", func(s *UnitSpec) { s.ValidFor = -time.Hour }, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := ok
			tt.mutate(&spec)
			_, err := IssueUnit(ca, spec, rand.Reader, testNow)
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("error = %v, want ErrInvalidSpec", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
	if _, err := IssueUnit(nil, ok, rand.Reader, testNow); !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("IssueUnit(nil CA) error = %v, want ErrInvalidSpec", err)
	}
}

func TestIssueServer(t *testing.T) {
	ca := newTestCA(t, "Example Police")
	tests := []struct {
		name      string
		hosts     []string
		wantDNS   []string
		wantIPs   []string
		wantError bool
	}{
		{"default", nil, []string{"localhost"}, []string{"127.0.0.1", "::1"}, false},
		{"given", []string{"relay.example", "192.0.2.7", "2001:db8::7"}, []string{"relay.example"}, []string{"192.0.2.7", "2001:db8::7"}, false},
		{"with port", []string{"relay.example:4433"}, nil, nil, true},
		{"bracketed", []string{"[::1]"}, nil, nil, true},
		{"empty", []string{""}, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := IssueServer(ca, tt.hosts, rand.Reader, testNow)
			if tt.wantError {
				if !errors.Is(err, ErrInvalidSpec) {
					t.Fatalf("error = %v, want ErrInvalidSpec", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c := id.Cert
			if strings.Join(c.DNSNames, ",") != strings.Join(tt.wantDNS, ",") {
				t.Errorf("DNSNames %v, want %v", c.DNSNames, tt.wantDNS)
			}
			var ips []string
			for _, ip := range c.IPAddresses {
				ips = append(ips, ip.String())
			}
			if strings.Join(ips, ",") != strings.Join(tt.wantIPs, ",") {
				t.Errorf("IPAddresses %v, want %v", ips, tt.wantIPs)
			}
			if len(c.URIs) != 1 || c.URIs[0].String() != "varta://server" {
				t.Errorf("URIs %v, want [varta://server]", c.URIs)
			}
			if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
				t.Errorf("ExtKeyUsage %v, want [ServerAuth]", c.ExtKeyUsage)
			}
			if !IsServerCert(c) {
				t.Error("IsServerCert = false")
			}
			if id.UnitID != 0 || id.Role != RoleServer || id.HPKEPrivateKey != nil || id.SigningKey != nil {
				t.Errorf("server identity %d %q, HPKE %v, signing %v", id.UnitID, id.Role, id.HPKEPrivateKey != nil, id.SigningKey != nil)
			}
			if role, err := RoleFromCert(c); err != nil || role != RoleServer {
				t.Errorf("RoleFromCert = %q, %v", role, err)
			}
			if _, err := UnitIDFromCert(c); !errors.Is(err, ErrNotUnitCert) {
				t.Errorf("UnitIDFromCert(server) error = %v, want ErrNotUnitCert", err)
			}
			if _, err := HPKEPublicKeyFromCert(c); !errors.Is(err, ErrMalformed) {
				t.Errorf("HPKEPublicKeyFromCert(server) error = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestHPKESealToCertificate(t *testing.T) {
	ca := newTestCA(t, "Example Police")
	alice := newTestUnit(t, ca, 1, RoleOfficer)
	bob := newTestUnit(t, ca, 2, RoleOfficer)

	// The radio loads its bundle from disk; the KMF only has the
	// certificate.
	bundle, err := alice.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := ParseIdentity(bundle)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := HPKEPublicKeyFromCert(alice.Cert)
	if err != nil {
		t.Fatal(err)
	}
	info := []byte("varta test epoch key")
	epochKey := []byte("0123456789abcdef0123456789abcdef")
	sealed, err := hpke.Seal(pub, hpke.HKDFSHA256(), hpke.AES256GCM(), info, epochKey)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	got, err := hpke.Open(loaded.HPKEPrivateKey, hpke.HKDFSHA256(), hpke.AES256GCM(), info, sealed)
	if err != nil {
		t.Fatalf("Open with the bundle's key: %v", err)
	}
	if !bytes.Equal(got, epochKey) {
		t.Errorf("opened %x, want %x", got, epochKey)
	}
	if _, err := hpke.Open(bob.HPKEPrivateKey, hpke.HKDFSHA256(), hpke.AES256GCM(), info, sealed); err == nil {
		t.Error("another unit's key opened the sealed key")
	}

	// The signing key in the bundle verifies against the certificate.
	msg := []byte("burst hash chain")
	sigPub, err := SigningPublicKeyFromCert(alice.Cert)
	if err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(sigPub, msg, ed25519.Sign(loaded.SigningKey, msg)) {
		t.Error("signature by the bundle's signing key does not verify with the certificate's key")
	}
}
