package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Validity periods.
const (
	// CAValidity is how long a new agency CA is valid.
	CAValidity = 10 * 365 * 24 * time.Hour
	// DefaultUnitValidity is how long a unit certificate is valid when
	// UnitSpec.ValidFor is zero.
	DefaultUnitValidity = 2 * 365 * 24 * time.Hour
	// ServerValidity is how long a relay certificate is valid.
	ServerValidity = 2 * 365 * 24 * time.Hour
	// clockSkew backdates NotBefore so that a radio whose clock is a little
	// behind accepts a certificate issued a moment ago.
	clockSkew = 5 * time.Minute
)

// File names in a CA or relay data directory.
const (
	CACertFile     = "ca.crt"
	CAKeyFile      = "ca.key"
	ServerCertFile = "server.crt"
	ServerKeyFile  = "server.key"
)

// CA is an agency certificate authority: a self-signed ECDSA P-256
// certificate with path length 0 (it signs unit and relay certificates
// directly, never another CA) and its private key.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// NewCA creates an agency CA named name, valid for [CAValidity] from now
// (backdated by five minutes for clock skew). rnd supplies the serial number
// (nil means crypto/rand); see the package comment for what Go does with it
// for ECDSA.
func NewCA(name string, rnd io.Reader, now time.Time) (*CA, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	if err := checkName(name); err != nil {
		return nil, fmt.Errorf("%w: CA name: %v", ErrInvalidSpec, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rnd)
	if err != nil {
		return nil, fmt.Errorf("pki: generate CA key: %w", err)
	}
	serial, err := newSerial(rnd)
	if err != nil {
		return nil, fmt.Errorf("pki: CA: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name, Organization: []string{name}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rnd, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("pki: create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: parse new CA certificate: %w", err)
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Pool returns a pool holding only this CA's certificate.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Save writes dir/ca.crt (mode 0644) and dir/ca.key (mode 0600, PKCS#8
// PEM), creating dir with mode 0700 if needed. It refuses with [ErrExists]
// if either file already exists and then writes neither.
func (ca *CA) Save(dir string) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		return fmt.Errorf("pki: encode CA key: %w", err)
	}
	if err := os.MkdirAll(dir, modeDir); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	return writeFilesExcl(
		fileToWrite{filepath.Join(dir, CAKeyFile), encodePEM(pemPrivateKey, nil, keyDER), modePrivate},
		fileToWrite{filepath.Join(dir, CACertFile), encodePEM(pemCertificate, nil, ca.Cert.Raw), modePublic},
	)
}

// LoadCA reads the CA written by [CA.Save] from dir and checks that the key
// belongs to the certificate and that the certificate is a CA.
func LoadCA(dir string) (*CA, error) {
	cert, err := LoadCACert(dir)
	if err != nil {
		return nil, err
	}
	keyPath := filepath.Join(dir, CAKeyFile)
	data, err := readFile(keyPath)
	if err != nil {
		return nil, err
	}
	block, err := decodeSinglePEM(data, pemPrivateKey, keyPath)
	if err != nil {
		return nil, err
	}
	key, err := parseSignerDER(block.Bytes, keyPath)
	if err != nil {
		return nil, err
	}
	if !keyMatchesCert(key, cert) {
		return nil, fmt.Errorf("%w: %s does not belong to %s", ErrKeyMismatch, keyPath, filepath.Join(dir, CACertFile))
	}
	return &CA{Cert: cert, Key: key}, nil
}

// LoadCACert reads only dir/ca.crt, for hosts that verify certificates but
// do not issue them.
func LoadCACert(dir string) (*x509.Certificate, error) {
	certPath := filepath.Join(dir, CACertFile)
	data, err := readFile(certPath)
	if err != nil {
		return nil, err
	}
	block, err := decodeSinglePEM(data, pemCertificate, certPath)
	if err != nil {
		return nil, err
	}
	cert, err := parseCertDER(block.Bytes, certPath)
	if err != nil {
		return nil, err
	}
	if err := checkCACert(cert, certPath); err != nil {
		return nil, err
	}
	return cert, nil
}

// checkCACert checks that cert can act as an agency CA; what names it in
// errors.
func checkCACert(cert *x509.Certificate, what string) error {
	if !cert.BasicConstraintsValid || !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return fmt.Errorf("%w: %s: %q is not a CA certificate", ErrMalformed, what, cert.Subject.CommonName)
	}
	if err := cert.CheckSignatureFrom(cert); err != nil {
		return fmt.Errorf("%w: %s: CA certificate %q is not self-signed: %v", ErrMalformed, what, cert.Subject.CommonName, err)
	}
	return nil
}

// newSerial returns a random positive serial number of at most 127 bits
// (RFC 5280 section 4.1.2.2).
func newSerial(rnd io.Reader) (*big.Int, error) {
	var b [16]byte
	if _, err := io.ReadFull(rnd, b[:]); err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	b[0] &= 0x7f
	s := new(big.Int).SetBytes(b[:])
	if s.Sign() == 0 {
		s.SetInt64(1)
	}
	return s, nil
}

// checkName checks a CA name or unit alias: 1 to 64 characters (the X.509
// upper bound for a common name), valid UTF-8, no control characters, no
// leading or trailing space.
func checkName(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("empty")
	case !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0:
		return fmt.Errorf("%q has invalid or control characters", s)
	case strings.TrimSpace(s) != s:
		return fmt.Errorf("%q has leading or trailing space", s)
	case utf8.RuneCountInString(s) > 64:
		return fmt.Errorf("%q is longer than 64 characters", s)
	}
	return nil
}
