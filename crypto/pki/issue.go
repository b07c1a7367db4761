package pki

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// UnitSpec describes a unit certificate to issue.
type UnitSpec struct {
	// ID is the unit ID, 1..16777215. Required.
	ID uint32
	// Alias is the human name shown to dispatchers, 1..64 characters; it
	// becomes the certificate's common name. Required.
	Alias string
	// Role is one of RoleOfficer, RoleDispatcher, RoleCommander, RoleKMF,
	// RoleRecorder. Required.
	Role string
	// Server is the relay address (host:port) stored in the bundle so the
	// radio knows where to dial. It is not part of the certificate. Empty
	// means the radio is told the address some other way.
	Server string
	// ValidFor is how long the certificate is valid. Zero means
	// DefaultUnitValidity (two years). The certificate never outlives the
	// CA: NotAfter is cut at the CA's NotAfter.
	ValidFor time.Duration
}

func (s UnitSpec) validate() error {
	if s.ID < MinUnitID || s.ID > MaxUnitID {
		return fmt.Errorf("%w: unit ID %d is outside %d..%d", ErrInvalidSpec, s.ID, MinUnitID, MaxUnitID)
	}
	if err := checkName(s.Alias); err != nil {
		return fmt.Errorf("%w: unit %d alias: %v", ErrInvalidSpec, s.ID, err)
	}
	if !ValidUnitRole(s.Role) {
		return fmt.Errorf("%w: unit %d role %q (want officer, dispatcher, commander, kmf or recorder)", ErrInvalidSpec, s.ID, s.Role)
	}
	if s.Server != "" {
		if err := checkServerAddr(s.Server); err != nil {
			return fmt.Errorf("%w: unit %d relay address: %v", ErrInvalidSpec, s.ID, err)
		}
	}
	if s.ValidFor < 0 {
		return fmt.Errorf("%w: unit %d validity %v is negative", ErrInvalidSpec, s.ID, s.ValidFor)
	}
	return nil
}

// checkServerAddr checks a relay address of the form host:port.
func checkServerAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	if host == "" || strings.ContainsFunc(host, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("%q has no valid host", addr)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return fmt.Errorf("%q has no valid port", addr)
	}
	return nil
}

// IssueUnit generates a unit's three key pairs (ECDSA P-256 for TLS,
// MLKEM768-X25519 for HPKE, Ed25519 for burst signatures) and has ca issue
// its certificate: common name = alias, URI SANs varta://unit/<id> and
// varta://role/<role>, ExtKeyUsage ClientAuth, and the HPKE and signing
// public keys in the extensions OIDHPKEPublicKey and OIDSigningPublicKey.
//
// rnd (nil means crypto/rand) supplies the serial number, the 32-byte HPKE
// seed and the Ed25519 seed; now is the issue time.
func IssueUnit(ca *CA, spec UnitSpec, rnd io.Reader, now time.Time) (*Identity, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	if err := spec.validate(); err != nil {
		return nil, err
	}
	validFor := spec.ValidFor
	if validFor == 0 {
		validFor = DefaultUnitValidity
	}

	tlsKey, err := ecdsa.GenerateKey(elliptic.P256(), rnd)
	if err != nil {
		return nil, fmt.Errorf("pki: unit %d: generate TLS key: %w", spec.ID, err)
	}
	// X-Wing private keys are a 32-byte seed; deserializing a random seed
	// is its key generation.
	seed := make([]byte, 32)
	if _, err := io.ReadFull(rnd, seed); err != nil {
		return nil, fmt.Errorf("pki: unit %d: generate HPKE key: %w", spec.ID, err)
	}
	hpkeKey, err := HPKEKEM().NewPrivateKey(seed)
	clear(seed)
	if err != nil {
		return nil, fmt.Errorf("pki: unit %d: generate HPKE key: %w", spec.ID, err)
	}
	sigPub, sigKey, err := ed25519.GenerateKey(rnd)
	if err != nil {
		return nil, fmt.Errorf("pki: unit %d: generate signing key: %w", spec.ID, err)
	}

	hpkeExt, err := marshalHPKEExtension(hpkeKey.PublicKey())
	if err != nil {
		return nil, fmt.Errorf("pki: unit %d: encode HPKE public key: %w", spec.ID, err)
	}
	sigExt, err := marshalSigningExtension(sigPub)
	if err != nil {
		return nil, fmt.Errorf("pki: unit %d: encode signing public key: %w", spec.ID, err)
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: spec.Alias, Organization: ca.orgOrNil()},
		URIs:        []*url.URL{unitURI(spec.ID), roleURI(spec.Role)},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		ExtraExtensions: []pkix.Extension{
			{Id: OIDHPKEPublicKey, Value: hpkeExt},
			{Id: OIDSigningPublicKey, Value: sigExt},
		},
	}
	cert, err := ca.issue(fmt.Sprintf("unit %d", spec.ID), tmpl, tlsKey.Public(), rnd, now, validFor)
	if err != nil {
		return nil, err
	}
	return &Identity{
		UnitID:         spec.ID,
		Alias:          spec.Alias,
		Role:           spec.Role,
		Server:         spec.Server,
		Cert:           cert,
		Key:            tlsKey,
		HPKEPrivateKey: hpkeKey,
		SigningKey:     sigKey,
		CA:             ca.Cert,
	}, nil
}

// DefaultServerHosts are the names a relay certificate carries when
// IssueServer is given none.
var DefaultServerHosts = []string{"localhost", "127.0.0.1", "::1"}

// serverAlias is the common name and alias of a relay identity.
const serverAlias = "varta relay"

// IssueServer generates a relay TLS key (ECDSA P-256) and has ca issue its
// certificate: ExtKeyUsage ServerAuth, URI SAN varta://server, and a DNS or
// IP SAN for each of hosts (DefaultServerHosts if empty), valid for
// ServerValidity. Clients do not check the host names (see
// ClientTLSConfig); they are there for other tools. The identity has UnitID
// 0 and Role RoleServer, and no HPKE or signing key.
func IssueServer(ca *CA, hosts []string, rnd io.Reader, now time.Time) (*Identity, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	if len(hosts) == 0 {
		hosts = DefaultServerHosts
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: serverAlias, Organization: ca.orgOrNil()},
		URIs:        []*url.URL{serverURI()},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			continue
		}
		if h == "" || strings.ContainsAny(h, ":/[]@ \t\r\n") {
			return nil, fmt.Errorf("%w: relay host %q (give a host name or IP address, without a port)", ErrInvalidSpec, h)
		}
		tmpl.DNSNames = append(tmpl.DNSNames, h)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rnd)
	if err != nil {
		return nil, fmt.Errorf("pki: relay: generate TLS key: %w", err)
	}
	cert, err := ca.issue("relay", tmpl, key.Public(), rnd, now, ServerValidity)
	if err != nil {
		return nil, err
	}
	return &Identity{
		Alias: serverAlias,
		Role:  RoleServer,
		Cert:  cert,
		Key:   key,
		CA:    ca.Cert,
	}, nil
}

func (ca *CA) orgOrNil() []string {
	if ca == nil || ca.Cert == nil {
		return nil
	}
	return ca.Cert.Subject.Organization
}

// issue fills in serial and validity, signs tmpl with the CA and parses the
// result. what names the certificate in errors ("unit 1042", "relay").
func (ca *CA) issue(what string, tmpl *x509.Certificate, pub any, rnd io.Reader, now time.Time, validFor time.Duration) (*x509.Certificate, error) {
	if ca == nil || ca.Cert == nil || ca.Key == nil {
		return nil, fmt.Errorf("%w: %s: no CA", ErrInvalidSpec, what)
	}
	if now.Before(ca.Cert.NotBefore) {
		return nil, fmt.Errorf("%w: cannot issue %s: CA %q is valid only from %s", ErrNotYetValid, what, ca.Cert.Subject.CommonName, ca.Cert.NotBefore.UTC().Format(time.RFC3339))
	}
	if !now.Before(ca.Cert.NotAfter) {
		return nil, fmt.Errorf("%w: cannot issue %s: CA %q expired on %s", ErrExpired, what, ca.Cert.Subject.CommonName, ca.Cert.NotAfter.UTC().Format(time.RFC3339))
	}
	serial, err := newSerial(rnd)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: %w", what, err)
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = now.Add(-clockSkew)
	if tmpl.NotBefore.Before(ca.Cert.NotBefore) {
		tmpl.NotBefore = ca.Cert.NotBefore
	}
	tmpl.NotAfter = now.Add(validFor)
	if tmpl.NotAfter.After(ca.Cert.NotAfter) {
		tmpl.NotAfter = ca.Cert.NotAfter
	}
	tmpl.BasicConstraintsValid = true
	tmpl.IsCA = false
	der, err := x509.CreateCertificate(rnd, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: create certificate: %w", what, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: parse new certificate: %w", what, err)
	}
	return cert, nil
}
