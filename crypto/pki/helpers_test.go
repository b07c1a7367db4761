package pki

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testNow is a fixed issue time a month in the past, so that certificates
// issued at testNow are valid now, and certificates issued at testNow with
// a short validity have expired.
var testNow = time.Now().Add(-30 * 24 * time.Hour).Truncate(time.Second)

func newTestCA(t testing.TB, name string) *CA {
	t.Helper()
	ca, err := NewCA(name, rand.Reader, testNow)
	if err != nil {
		t.Fatalf("NewCA(%q): %v", name, err)
	}
	return ca
}

func newTestUnit(t testing.TB, ca *CA, id uint32, role string) *Identity {
	t.Helper()
	u, err := IssueUnit(ca, UnitSpec{ID: id, Alias: "Unit " + role, Role: role, Server: "192.0.2.1:4433"}, rand.Reader, testNow)
	if err != nil {
		t.Fatalf("IssueUnit(%d): %v", id, err)
	}
	return u
}

func newTestServer(t testing.TB, ca *CA) *Identity {
	t.Helper()
	s, err := IssueServer(ca, nil, rand.Reader, testNow)
	if err != nil {
		t.Fatalf("IssueServer: %v", err)
	}
	return s
}

// craftCert has ca sign a certificate with the given URIs, extended key
// usages and extensions, valid from testNow until an hour from now, for
// testing on certificates IssueUnit would never produce. Its public key is
// the CA's, so ca.Key is its private key.
func craftCert(t testing.TB, ca *CA, uris []string, eku []x509.ExtKeyUsage, exts []pkix.Extension) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(42),
		Subject:         pkix.Name{CommonName: "crafted"},
		NotBefore:       testNow,
		NotAfter:        time.Now().Add(time.Hour),
		ExtKeyUsage:     eku,
		ExtraExtensions: exts,
	}
	for _, s := range uris {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatalf("url.Parse(%q): %v", s, err)
		}
		tmpl.URIs = append(tmpl.URIs, u)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, ca.Key.Public(), ca.Key)
	if err != nil {
		t.Fatalf("CreateCertificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("ParseCertificate: %v", err)
	}
	return cert
}

var errNotExist = os.ErrNotExist

func osStat(dir, name string) (os.FileMode, error) {
	fi, err := os.Stat(filepath.Join(dir, name))
	if err != nil {
		return 0, err
	}
	return fi.Mode().Perm(), nil
}

func replaceFile(t testing.TB, dir, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func removeFile(t testing.TB, dir, name string) {
	t.Helper()
	if err := os.Remove(filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}
