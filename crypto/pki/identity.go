package pki

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"time"
)

// Identity is what a unit or the relay proves itself with: its certificate
// and private keys, and the agency CA that issued it.
//
// A unit identity (from IssueUnit or ParseIdentity) has all fields set. A
// relay identity (from IssueServer or LoadServer) has UnitID 0, Role
// RoleServer, an empty Server, and no HPKE or signing key.
type Identity struct {
	// UnitID is the unit ID from the certificate, 0 for the relay.
	UnitID uint32
	// Alias is the certificate's common name.
	Alias string
	// Role is the role from the certificate, or RoleServer.
	Role string
	// Server is the relay address (host:port) stored in a unit bundle; it
	// is not covered by the CA's signature. Empty if not set.
	Server string

	// Cert is the unit or relay certificate.
	Cert *x509.Certificate
	// Key is the TLS private key of Cert (an *ecdsa.PrivateKey for
	// identities this package creates).
	Key crypto.Signer
	// HPKEPrivateKey is the unit's MLKEM768-X25519 private key, whose
	// public key is in Cert. Its Bytes method gives the 32-byte seed stored
	// in the bundle; that slice is the key's own, so do not modify it.
	// Nil for the relay.
	HPKEPrivateKey hpke.PrivateKey
	// SigningKey is the unit's Ed25519 burst-signing key, whose public key
	// is in Cert. Nil for the relay.
	SigningKey ed25519.PrivateKey
	// CA is the agency CA certificate that issued Cert.
	CA *x509.Certificate
}

// TLSCertificate returns Cert and Key as a tls.Certificate.
func (id *Identity) TLSCertificate() tls.Certificate {
	return tls.Certificate{
		Certificate: [][]byte{id.Cert.Raw},
		PrivateKey:  id.Key,
		Leaf:        id.Cert,
	}
}

// Fingerprint returns the fingerprint of the identity's certificate (see
// the function Fingerprint).
func (id *Identity) Fingerprint() string { return Fingerprint(id.Cert) }

// CAPool returns a pool holding only the identity's agency CA.
func (id *Identity) CAPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(id.CA)
	return p
}

// CheckValidity returns ErrExpired or ErrNotYetValid if the identity's
// certificate or its CA is not valid at now. Parsing and loading do not
// check time, so a tool can still show an expired identity.
func (id *Identity) CheckValidity(now time.Time) error {
	if err := checkTime(id.Cert, id.describe(), now); err != nil {
		return err
	}
	return checkTime(id.CA, fmt.Sprintf("agency CA %q", id.CA.Subject.CommonName), now)
}

func (id *Identity) describe() string {
	if id.UnitID == 0 {
		return "relay certificate"
	}
	return fmt.Sprintf("unit %d certificate", id.UnitID)
}

const dateFormat = "2006-01-02 15:04 MST"

func checkTime(cert *x509.Certificate, what string, now time.Time) error {
	if now.Before(cert.NotBefore) {
		return fmt.Errorf("%w: %s is valid only from %s (check the clock)", ErrNotYetValid, what, cert.NotBefore.UTC().Format(dateFormat))
	}
	if now.After(cert.NotAfter) {
		return fmt.Errorf("%w: %s expired on %s", ErrExpired, what, cert.NotAfter.UTC().Format(dateFormat))
	}
	return nil
}

// checkIssuedBy checks that cert's signature is from ca, without looking at
// the time.
func checkIssuedBy(cert, ca *x509.Certificate, what string) error {
	if !bytes.Equal(cert.RawIssuer, ca.RawSubject) {
		return fmt.Errorf("%w: %s was issued by %q, not by the agency CA %q", ErrUntrusted, what, cert.Issuer.String(), ca.Subject.String())
	}
	if err := cert.CheckSignatureFrom(ca); err != nil {
		return fmt.Errorf("%w: %s does not carry a valid signature of the agency CA %q", ErrUntrusted, what, ca.Subject.String())
	}
	return nil
}

func hasExtKeyUsage(cert *x509.Certificate, want x509.ExtKeyUsage) bool {
	for _, u := range cert.ExtKeyUsage {
		if u == want {
			return true
		}
	}
	return false
}

// checkUnitCert checks that cert is a well-formed unit certificate and
// returns its unit ID and role. It does not check the issuer or time.
func checkUnitCert(cert *x509.Certificate) (uint32, string, error) {
	id, err := UnitIDFromCert(cert)
	if err != nil {
		return 0, "", err
	}
	role, err := RoleFromCert(cert)
	if err != nil {
		return 0, "", err
	}
	if cert.IsCA || !hasExtKeyUsage(cert, x509.ExtKeyUsageClientAuth) {
		return 0, "", fmt.Errorf("%w: unit %d certificate is not for client authentication", ErrNotUnitCert, id)
	}
	return id, role, nil
}
