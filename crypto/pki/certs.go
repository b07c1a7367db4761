package pki

import (
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Private OIDs for the unit certificate extensions.
//
// The arc 1.3.6.1.4.1.99999 is a PLACEHOLDER private enterprise number: it is
// not registered to this project with IANA. Before certificates are issued
// for production the project must register its own PEN (free, at
// https://pen.iana.org) and replace 99999 below; certificates issued with the
// placeholder then have to be re-issued.
//
//	1.3.6.1.4.1.99999.1        Varta
//	1.3.6.1.4.1.99999.1.1      certificate extensions
//	1.3.6.1.4.1.99999.1.1.1    unit HPKE public key
//	1.3.6.1.4.1.99999.1.1.2    unit Ed25519 signing public key
//
// Both extensions are non-critical: a TLS stack that does not know them still
// verifies the certificate.
var (
	// OIDHPKEPublicKey identifies the extension that holds a unit's HPKE
	// public key. Its value is the DER of
	//
	//	HPKEPublicKey ::= SEQUENCE {
	//	    kem        INTEGER,      -- HPKE KEM identifier (RFC 9180), 0x647a
	//	    publicKey  OCTET STRING  -- SerializePublicKey output, 1216 bytes
	//	}
	OIDHPKEPublicKey = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1, 1, 1}

	// OIDSigningPublicKey identifies the extension that holds a unit's
	// Ed25519 burst-signing public key. Its value is the DER of a
	// SubjectPublicKeyInfo (RFC 8410).
	OIDSigningPublicKey = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1, 1, 2}
)

// Roles a certificate can carry. A unit certificate carries one of the unit
// roles in a varta://role/<role> URI; RoleServer is what [RoleFromCert]
// reports for a relay certificate.
const (
	RoleOfficer    = "officer"
	RoleDispatcher = "dispatcher"
	RoleCommander  = "commander"
	RoleKMF        = "kmf"
	RoleRecorder   = "recorder"
	RoleServer     = "server"
)

// Unit ID range (P25).
const (
	MinUnitID = 1
	MaxUnitID = 16777215
)

// HPKEKEM returns the KEM every Varta unit key uses: MLKEM768-X25519
// (X-Wing), so traffic recorded today stays safe against a future quantum
// computer.
func HPKEKEM() hpke.KEM { return hpke.MLKEM768X25519() }

// ValidUnitRole reports whether role is one a unit certificate may carry.
func ValidUnitRole(role string) bool {
	switch role {
	case RoleOfficer, RoleDispatcher, RoleCommander, RoleKMF, RoleRecorder:
		return true
	}
	return false
}

const (
	uriScheme     = "varta"
	uriUnitPrefix = "varta://unit/"
	uriRolePrefix = "varta://role/"
	uriServer     = "varta://server"
)

func unitURI(id uint32) *url.URL {
	return &url.URL{Scheme: uriScheme, Host: "unit", Path: "/" + strconv.FormatUint(uint64(id), 10)}
}

func roleURI(role string) *url.URL {
	return &url.URL{Scheme: uriScheme, Host: "role", Path: "/" + role}
}

func serverURI() *url.URL {
	return &url.URL{Scheme: uriScheme, Host: "server"}
}

// vartaURIs returns the string forms of the certificate's URI SANs that use
// the varta scheme.
func vartaURIs(cert *x509.Certificate) []string {
	var out []string
	for _, u := range cert.URIs {
		if u != nil && u.Scheme == uriScheme {
			out = append(out, u.String())
		}
	}
	return out
}

// parseUnitID parses a canonical decimal unit ID: no sign, no leading zeros,
// in 1..16777215.
func parseUnitID(s string) (uint32, bool) {
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil || strconv.FormatUint(v, 10) != s || v < MinUnitID || v > MaxUnitID {
		return 0, false
	}
	return uint32(v), true
}

// UnitIDFromCert returns the unit ID from the certificate's single
// varta://unit/<id> URI SAN. It fails with [ErrNotUnitCert] for a relay
// certificate, a certificate without exactly one such URI, or an ID outside
// 1..16777215.
func UnitIDFromCert(cert *x509.Certificate) (uint32, error) {
	if cert == nil {
		return 0, fmt.Errorf("%w: no certificate", ErrNotUnitCert)
	}
	var (
		id    uint32
		found int
	)
	for _, s := range vartaURIs(cert) {
		if s == uriServer {
			return 0, fmt.Errorf("%w: it is a relay certificate", ErrNotUnitCert)
		}
		rest, ok := strings.CutPrefix(s, uriUnitPrefix)
		if !ok {
			continue
		}
		found++
		v, ok := parseUnitID(rest)
		if !ok {
			return 0, fmt.Errorf("%w: invalid unit ID %q (want 1..%d)", ErrNotUnitCert, rest, MaxUnitID)
		}
		id = v
	}
	switch found {
	case 0:
		return 0, fmt.Errorf("%w: no %s<id> name", ErrNotUnitCert, uriUnitPrefix)
	case 1:
		return id, nil
	default:
		return 0, fmt.Errorf("%w: %d unit IDs", ErrNotUnitCert, found)
	}
}

// RoleFromCert returns the role from a unit certificate's single
// varta://role/<role> URI SAN, or [RoleServer] for a relay certificate
// (see [IsServerCert]). It fails with [ErrNotUnitCert] otherwise.
func RoleFromCert(cert *x509.Certificate) (string, error) {
	if cert == nil {
		return "", fmt.Errorf("%w: no certificate", ErrNotUnitCert)
	}
	if IsServerCert(cert) {
		return RoleServer, nil
	}
	var (
		role  string
		found int
	)
	for _, s := range vartaURIs(cert) {
		rest, ok := strings.CutPrefix(s, uriRolePrefix)
		if !ok {
			continue
		}
		found++
		if !ValidUnitRole(rest) {
			return "", fmt.Errorf("%w: unknown role %q", ErrNotUnitCert, rest)
		}
		role = rest
	}
	switch found {
	case 0:
		return "", fmt.Errorf("%w: no %s<role> name", ErrNotUnitCert, uriRolePrefix)
	case 1:
		return role, nil
	default:
		return "", fmt.Errorf("%w: %d roles", ErrNotUnitCert, found)
	}
}

// IsServerCert reports whether cert is a relay certificate: it carries the
// varta://server URI SAN, the ServerAuth extended key usage, and no unit ID.
// It does not check who issued the certificate.
func IsServerCert(cert *x509.Certificate) bool {
	if cert == nil {
		return false
	}
	server := false
	for _, s := range vartaURIs(cert) {
		switch {
		case s == uriServer:
			server = true
		case strings.HasPrefix(s, uriUnitPrefix):
			return false
		}
	}
	if !server {
		return false
	}
	for _, u := range cert.ExtKeyUsage {
		if u == x509.ExtKeyUsageServerAuth {
			return true
		}
	}
	return false
}

// findExtension returns the value of the single extension with the given
// OID, or nil if there is none.
func findExtension(cert *x509.Certificate, oid asn1.ObjectIdentifier, name string) ([]byte, error) {
	var val []byte
	found := 0
	for _, e := range cert.Extensions {
		if e.Id.Equal(oid) {
			found++
			val = e.Value
		}
	}
	switch found {
	case 0:
		return nil, fmt.Errorf("%w: certificate has no %s extension", ErrMalformed, name)
	case 1:
		return val, nil
	default:
		return nil, fmt.Errorf("%w: certificate has %d %s extensions", ErrMalformed, found, name)
	}
}

// hpkeKeyInfo is the ASN.1 value of the OIDHPKEPublicKey extension.
type hpkeKeyInfo struct {
	KEM       int
	PublicKey []byte
}

func marshalHPKEExtension(pub hpke.PublicKey) ([]byte, error) {
	return asn1.Marshal(hpkeKeyInfo{KEM: int(pub.KEM().ID()), PublicKey: pub.Bytes()})
}

func marshalSigningExtension(pub ed25519.PublicKey) ([]byte, error) {
	return x509.MarshalPKIXPublicKey(pub)
}

// HPKEPublicKeyFromCert returns the unit's HPKE public key from the
// certificate extension [OIDHPKEPublicKey]. Only MLKEM768-X25519 keys are
// accepted.
func HPKEPublicKeyFromCert(cert *x509.Certificate) (hpke.PublicKey, error) {
	if cert == nil {
		return nil, fmt.Errorf("%w: no certificate", ErrMalformed)
	}
	val, err := findExtension(cert, OIDHPKEPublicKey, "HPKE public key")
	if err != nil {
		return nil, err
	}
	var info hpkeKeyInfo
	rest, err := asn1.Unmarshal(val, &info)
	if err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("%w: HPKE public key extension is not valid DER", ErrMalformed)
	}
	kem := HPKEKEM()
	if info.KEM != int(kem.ID()) {
		return nil, fmt.Errorf("%w: HPKE public key uses KEM %#x, want MLKEM768-X25519 (%#x)", ErrMalformed, info.KEM, kem.ID())
	}
	pub, err := kem.NewPublicKey(info.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("%w: HPKE public key: %v", ErrMalformed, err)
	}
	return pub, nil
}

// SigningPublicKeyFromCert returns the unit's Ed25519 burst-signing public
// key from the certificate extension [OIDSigningPublicKey].
func SigningPublicKeyFromCert(cert *x509.Certificate) (ed25519.PublicKey, error) {
	if cert == nil {
		return nil, fmt.Errorf("%w: no certificate", ErrMalformed)
	}
	val, err := findExtension(cert, OIDSigningPublicKey, "signing public key")
	if err != nil {
		return nil, err
	}
	pub, err := x509.ParsePKIXPublicKey(val)
	if err != nil {
		return nil, fmt.Errorf("%w: signing public key extension: %v", ErrMalformed, err)
	}
	edPub, ok := pub.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: signing public key is %T, want Ed25519", ErrMalformed, pub)
	}
	return edPub, nil
}

// Fingerprint returns the lower-case hex SHA-256 of the certificate's DER
// encoding, as stored in the roster.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}
