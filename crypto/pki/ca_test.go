package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNewCA(t *testing.T) {
	ca := newTestCA(t, "Example Police")
	c := ca.Cert
	if !c.IsCA || !c.BasicConstraintsValid || c.MaxPathLen != 0 || !c.MaxPathLenZero {
		t.Errorf("IsCA=%v BasicConstraintsValid=%v MaxPathLen=%d MaxPathLenZero=%v, want a CA with path length 0",
			c.IsCA, c.BasicConstraintsValid, c.MaxPathLen, c.MaxPathLenZero)
	}
	if want := x509.KeyUsageCertSign | x509.KeyUsageCRLSign; c.KeyUsage != want {
		t.Errorf("KeyUsage = %v, want %v", c.KeyUsage, want)
	}
	if c.Subject.CommonName != "Example Police" {
		t.Errorf("CommonName = %q", c.Subject.CommonName)
	}
	if pub, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("public key %T, want ECDSA P-256", c.PublicKey)
	}
	if got := c.NotAfter.Sub(testNow); got != CAValidity {
		t.Errorf("valid for %v after now, want %v", got, CAValidity)
	}
	if c.NotBefore.After(testNow) {
		t.Errorf("NotBefore %v is after the issue time %v", c.NotBefore, testNow)
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("not self-signed: %v", err)
	}
}

func TestNewCAInvalidName(t *testing.T) {
	for _, name := range []string{"", " padded", "line\nbreak", strings.Repeat("x", 65), "bad\xffutf8"} {
		if _, err := NewCA(name, rand.Reader, testNow); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("NewCA(%q) error = %v, want ErrInvalidSpec", name, err)
		}
	}
}

func TestCASaveLoad(t *testing.T) {
	ca := newTestCA(t, "Example Police")
	dir := filepath.Join(t.TempDir(), "ca")
	if err := ca.Save(dir); err != nil {
		t.Fatalf("Save: %v", err)
	}
	for name, want := range map[string]os.FileMode{CACertFile: 0o644, CAKeyFile: 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode %#o, want %#o", name, got, want)
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, CAKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "-----BEGIN PRIVATE KEY-----\n") {
		t.Errorf("ca.key is not a PKCS#8 PEM:\n%s", data)
	}
	if err := CheckFileMode(filepath.Join(dir, CAKeyFile)); err != nil {
		t.Errorf("CheckFileMode(ca.key): %v", err)
	}

	got, err := LoadCA(dir)
	if err != nil {
		t.Fatalf("LoadCA: %v", err)
	}
	if !got.Cert.Equal(ca.Cert) {
		t.Error("loaded certificate differs")
	}
	if !keyMatchesCert(got.Key, ca.Cert) {
		t.Error("loaded key does not match the certificate")
	}
	// The loaded CA can issue.
	u, err := IssueUnit(got, UnitSpec{ID: 7, Alias: "Seven", Role: RoleOfficer}, rand.Reader, testNow)
	if err != nil {
		t.Fatalf("IssueUnit with the loaded CA: %v", err)
	}
	if err := u.Cert.CheckSignatureFrom(ca.Cert); err != nil {
		t.Errorf("unit certificate from the loaded CA: %v", err)
	}
}

func TestCASaveRefusesOverwrite(t *testing.T) {
	ca := newTestCA(t, "Example Police")
	tests := []struct {
		name    string
		present string // file that exists before Save
	}{
		{"both", ""},
		{"cert only", CACertFile},
		{"key only", CAKeyFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.present == "" {
				if err := ca.Save(dir); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(filepath.Join(dir, tt.present), []byte("old"), 0o600); err != nil {
				t.Fatal(err)
			}
			before := snapshotDir(t, dir)
			err := newTestCA(t, "Other").Save(dir)
			if !errors.Is(err, ErrExists) {
				t.Fatalf("Save over existing files: error = %v, want ErrExists", err)
			}
			if !strings.HasPrefix(err.Error(), "pki: ") {
				t.Errorf("error %q does not start with pki:", err)
			}
			if after := snapshotDir(t, dir); after != before {
				t.Errorf("directory changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// snapshotDir returns the names and contents of the files in dir.
func snapshotDir(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(e.Name() + "=" + string(data) + ";")
	}
	return b.String()
}

func TestLoadCAErrors(t *testing.T) {
	ca := newTestCA(t, "Example Police")
	other := newTestCA(t, "Other")
	unit := newTestUnit(t, ca, 1, RoleOfficer)
	certPEM := encodePEM(pemCertificate, nil, ca.Cert.Raw)
	keyDER, _ := x509.MarshalPKCS8PrivateKey(ca.Key)
	keyPEM := encodePEM(pemPrivateKey, nil, keyDER)
	otherKeyDER, _ := x509.MarshalPKCS8PrivateKey(other.Key)

	tests := []struct {
		name       string
		cert, key  []byte // nil: file absent
		wantErr    error
		wantSubstr string
	}{
		{"no cert", nil, keyPEM, os.ErrNotExist, "ca.crt"},
		{"no key", certPEM, nil, os.ErrNotExist, "ca.key"},
		{"garbage cert", []byte("not pem"), keyPEM, ErrMalformed, "no PEM block"},
		{"truncated cert", certPEM[:len(certPEM)/2], keyPEM, ErrMalformed, "no PEM block"},
		{"key in cert file", keyPEM, keyPEM, ErrMalformed, `is "PRIVATE KEY", want "CERTIFICATE"`},
		{"unit cert as CA", encodePEM(pemCertificate, nil, unit.Cert.Raw), keyPEM, ErrMalformed, "not a CA certificate"},
		{"two certs", append(append([]byte{}, certPEM...), certPEM...), keyPEM, ErrMalformed, "unexpected data after"},
		{"other CA's key", certPEM, encodePEM(pemPrivateKey, nil, otherKeyDER), ErrKeyMismatch, "does not belong"},
		{"EC key", certPEM, encodePEM("EC PRIVATE KEY", nil, keyDER), ErrMalformed, "want \"PRIVATE KEY\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.cert != nil {
				os.WriteFile(filepath.Join(dir, CACertFile), tt.cert, 0o644)
			}
			if tt.key != nil {
				os.WriteFile(filepath.Join(dir, CAKeyFile), tt.key, 0o600)
			}
			_, err := LoadCA(dir)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("LoadCA error = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantSubstr) || !strings.HasPrefix(err.Error(), "pki: ") {
				t.Errorf("error %q: want prefix \"pki: \" and %q", err, tt.wantSubstr)
			}
		})
	}
}

func TestIssueRefusesInvalidCA(t *testing.T) {
	ca := newTestCA(t, "Example Police")
	spec := UnitSpec{ID: 1, Alias: "One", Role: RoleOfficer}
	tests := []struct {
		name    string
		now     time.Time
		wantErr error
	}{
		{"before the CA", ca.Cert.NotBefore.Add(-time.Hour), ErrNotYetValid},
		{"after the CA", ca.Cert.NotAfter.Add(time.Hour), ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := IssueUnit(ca, spec, rand.Reader, tt.now); !errors.Is(err, tt.wantErr) {
				t.Errorf("IssueUnit error = %v, want %v", err, tt.wantErr)
			}
			if _, err := IssueServer(ca, nil, rand.Reader, tt.now); !errors.Is(err, tt.wantErr) {
				t.Errorf("IssueServer error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}
