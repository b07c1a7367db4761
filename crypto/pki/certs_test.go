package pki

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"testing"
)

func TestUnitIDAndRoleFromCert(t *testing.T) {
	ca := newTestCA(t, "Example Police")
	client := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	server := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	tests := []struct {
		name       string
		uris       []string
		eku        []x509.ExtKeyUsage
		wantID     uint32
		wantIDErr  bool
		wantRole   string
		wantServer bool
	}{
		{"unit", []string{"varta://unit/1042", "varta://role/officer"}, client, 1042, false, RoleOfficer, false},
		{"lowest ID", []string{"varta://unit/1", "varta://role/kmf"}, client, 1, false, RoleKMF, false},
		{"highest ID", []string{"varta://unit/16777215", "varta://role/recorder"}, client, MaxUnitID, false, RoleRecorder, false},
		{"other URIs ignored", []string{"https://example.org/x", "varta://unit/5", "varta://role/dispatcher"}, client, 5, false, RoleDispatcher, false},
		{"ID 0", []string{"varta://unit/0", "varta://role/officer"}, client, 0, true, RoleOfficer, false},
		{"ID too large", []string{"varta://unit/16777216", "varta://role/officer"}, client, 0, true, RoleOfficer, false},
		{"leading zero", []string{"varta://unit/01042", "varta://role/officer"}, client, 0, true, RoleOfficer, false},
		{"sign", []string{"varta://unit/+5", "varta://role/officer"}, client, 0, true, RoleOfficer, false},
		{"not a number", []string{"varta://unit/abc", "varta://role/officer"}, client, 0, true, RoleOfficer, false},
		{"query", []string{"varta://unit/5?x=1", "varta://role/officer"}, client, 0, true, RoleOfficer, false},
		{"two IDs", []string{"varta://unit/5", "varta://unit/6", "varta://role/officer"}, client, 0, true, RoleOfficer, false},
		{"no ID", []string{"varta://role/officer"}, client, 0, true, RoleOfficer, false},
		{"unknown role", []string{"varta://unit/5", "varta://role/admin"}, client, 5, false, "", false},
		{"server role spelled out", []string{"varta://unit/5", "varta://role/server"}, client, 5, false, "", false},
		{"two roles", []string{"varta://unit/5", "varta://role/officer", "varta://role/kmf"}, client, 5, false, "", false},
		{"no role", []string{"varta://unit/5"}, client, 5, false, "", false},
		{"server", []string{"varta://server"}, server, 0, true, RoleServer, true},
		{"server name without ServerAuth", []string{"varta://server"}, client, 0, true, "", false},
		{"server name and unit ID", []string{"varta://server", "varta://unit/5", "varta://role/officer"}, server, 0, true, RoleOfficer, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := craftCert(t, ca, tt.uris, tt.eku, nil)
			id, err := UnitIDFromCert(c)
			if tt.wantIDErr {
				if !errors.Is(err, ErrNotUnitCert) {
					t.Errorf("UnitIDFromCert = %d, %v; want ErrNotUnitCert", id, err)
				}
			} else if err != nil || id != tt.wantID {
				t.Errorf("UnitIDFromCert = %d, %v; want %d", id, err, tt.wantID)
			}
			role, err := RoleFromCert(c)
			if tt.wantRole == "" {
				if !errors.Is(err, ErrNotUnitCert) {
					t.Errorf("RoleFromCert = %q, %v; want ErrNotUnitCert", role, err)
				}
			} else if err != nil || role != tt.wantRole {
				t.Errorf("RoleFromCert = %q, %v; want %q", role, err, tt.wantRole)
			}
			if got := IsServerCert(c); got != tt.wantServer {
				t.Errorf("IsServerCert = %v, want %v", got, tt.wantServer)
			}
		})
	}
	if _, err := UnitIDFromCert(nil); !errors.Is(err, ErrNotUnitCert) {
		t.Errorf("UnitIDFromCert(nil) error = %v", err)
	}
	if _, err := RoleFromCert(nil); !errors.Is(err, ErrNotUnitCert) {
		t.Errorf("RoleFromCert(nil) error = %v", err)
	}
	if IsServerCert(nil) {
		t.Error("IsServerCert(nil) = true")
	}
}

func TestKeyExtensionsMalformed(t *testing.T) {
	ca := newTestCA(t, "Example Police")
	good := newTestUnit(t, ca, 1, RoleOfficer)
	goodHPKE, _ := marshalHPKEExtension(good.HPKEPrivateKey.PublicKey())
	goodSig, _ := marshalSigningExtension(good.SigningKey.Public().(ed25519.PublicKey))
	x25519Pub, _ := asn1.Marshal(hpkeKeyInfo{KEM: 0x0020, PublicKey: make([]byte, 32)})
	shortPub, _ := asn1.Marshal(hpkeKeyInfo{KEM: 0x647a, PublicKey: make([]byte, 32)})
	trailing := append(append([]byte{}, goodHPKE...), 0)
	ecdsaSPKI, _ := x509.MarshalPKIXPublicKey(ca.Key.Public())

	uris := []string{"varta://unit/1", "varta://role/officer"}
	client := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	ext := func(oid asn1.ObjectIdentifier, v []byte) pkix.Extension { return pkix.Extension{Id: oid, Value: v} }
	tests := []struct {
		name           string
		exts           []pkix.Extension
		hpkeOK, signOK bool
	}{
		{"both", []pkix.Extension{ext(OIDHPKEPublicKey, goodHPKE), ext(OIDSigningPublicKey, goodSig)}, true, true},
		{"none", nil, false, false},
		{"HPKE not DER", []pkix.Extension{ext(OIDHPKEPublicKey, []byte{1, 2}), ext(OIDSigningPublicKey, goodSig)}, false, true},
		{"HPKE trailing data", []pkix.Extension{ext(OIDHPKEPublicKey, trailing)}, false, false},
		{"HPKE other KEM", []pkix.Extension{ext(OIDHPKEPublicKey, x25519Pub)}, false, false},
		{"HPKE short key", []pkix.Extension{ext(OIDHPKEPublicKey, shortPub)}, false, false},
		{"signing key not Ed25519", []pkix.Extension{ext(OIDSigningPublicKey, ecdsaSPKI)}, false, false},
		{"signing key garbage", []pkix.Extension{ext(OIDSigningPublicKey, []byte{0x30, 0})}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := craftCert(t, ca, uris, client, tt.exts)
			if _, err := HPKEPublicKeyFromCert(c); (err == nil) != tt.hpkeOK || (err != nil && !errors.Is(err, ErrMalformed)) {
				t.Errorf("HPKEPublicKeyFromCert error = %v, want ok=%v", err, tt.hpkeOK)
			}
			if _, err := SigningPublicKeyFromCert(c); (err == nil) != tt.signOK || (err != nil && !errors.Is(err, ErrMalformed)) {
				t.Errorf("SigningPublicKeyFromCert error = %v, want ok=%v", err, tt.signOK)
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	ca := newTestCA(t, "Example Police")
	a := newTestUnit(t, ca, 1, RoleOfficer)
	b := newTestUnit(t, ca, 2, RoleOfficer)
	sum := sha256.Sum256(a.Cert.Raw)
	if got, want := Fingerprint(a.Cert), hex.EncodeToString(sum[:]); got != want || a.Fingerprint() != want {
		t.Errorf("Fingerprint = %s, want %s", got, want)
	}
	if len(Fingerprint(a.Cert)) != 64 || Fingerprint(a.Cert) == Fingerprint(b.Cert) {
		t.Error("fingerprints not 64 hex digits or not distinct")
	}
}

func TestServerSaveLoad(t *testing.T) {
	ca := newTestCA(t, "Example Police")
	srv, err := IssueServer(ca, []string{"relay.example", "203.0.113.9"}, rand.Reader, testNow)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := SaveServer(dir, srv); err != nil {
		t.Fatalf("SaveServer: %v", err)
	}
	for name, want := range map[string]uint32{ServerCertFile: 0o644, ServerKeyFile: 0o600, CACertFile: 0o644} {
		if fi, err := osStat(dir, name); err != nil || uint32(fi) != want {
			t.Errorf("%s mode %#o (%v), want %#o", name, fi, err, want)
		}
	}
	got, err := LoadServer(dir)
	if err != nil {
		t.Fatalf("LoadServer: %v", err)
	}
	if !got.Cert.Equal(srv.Cert) || !got.CA.Equal(ca.Cert) || !keyMatchesCert(got.Key, srv.Cert) || got.Role != RoleServer || got.UnitID != 0 {
		t.Error("loaded relay identity differs")
	}
	if err := SaveServer(dir, srv); !errors.Is(err, ErrExists) {
		t.Errorf("SaveServer again: %v, want ErrExists", err)
	}

	// Saving next to an existing, equal ca.crt works (vartad init saves the
	// CA first); next to another agency's ca.crt it is refused.
	shared := t.TempDir()
	if err := ca.Save(shared); err != nil {
		t.Fatal(err)
	}
	if err := SaveServer(shared, srv); err != nil {
		t.Errorf("SaveServer next to its CA: %v", err)
	}
	foreign := t.TempDir()
	if err := newTestCA(t, "Other").Save(foreign); err != nil {
		t.Fatal(err)
	}
	if err := SaveServer(foreign, srv); !errors.Is(err, ErrUntrusted) {
		t.Errorf("SaveServer next to another CA: %v, want ErrUntrusted", err)
	}
	if _, err := osStat(foreign, ServerKeyFile); err == nil {
		t.Error("refused SaveServer left server.key behind")
	}

	unit := newTestUnit(t, ca, 1, RoleOfficer)
	if err := SaveServer(t.TempDir(), unit); !errors.Is(err, ErrNotServerCert) {
		t.Errorf("SaveServer(unit) = %v, want ErrNotServerCert", err)
	}
}

func TestLoadServerErrors(t *testing.T) {
	ca := newTestCA(t, "Example Police")
	srv := newTestServer(t, ca)
	other := newTestCA(t, "Other")
	otherSrv := newTestServer(t, other)
	unit := newTestUnit(t, ca, 1, RoleOfficer)

	tests := []struct {
		name    string
		setup   func(dir string)
		wantErr error
	}{
		{"empty dir", func(string) {}, errNotExist},
		{"CA swapped", func(dir string) {
			replaceFile(t, dir, CACertFile, encodePEM(pemCertificate, nil, other.Cert.Raw))
		}, ErrUntrusted},
		{"key swapped", func(dir string) {
			der, _ := x509.MarshalPKCS8PrivateKey(otherSrv.Key)
			replaceFile(t, dir, ServerKeyFile, encodePEM(pemPrivateKey, nil, der))
		}, ErrKeyMismatch},
		{"unit certificate", func(dir string) {
			replaceFile(t, dir, ServerCertFile, encodePEM(pemCertificate, nil, unit.Cert.Raw))
		}, ErrNotServerCert},
		{"key missing", func(dir string) { removeFile(t, dir, ServerKeyFile) }, errNotExist},
		{"cert damaged", func(dir string) { replaceFile(t, dir, ServerCertFile, []byte("-----BEGIN CERTIFICATE-----\nAAAA")) }, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.name != "empty dir" {
				if err := SaveServer(dir, srv); err != nil {
					t.Fatal(err)
				}
			}
			tt.setup(dir)
			if _, err := LoadServer(dir); !errors.Is(err, tt.wantErr) {
				t.Errorf("LoadServer error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}
