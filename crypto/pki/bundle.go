package pki

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strconv"
)

// A unit identity bundle is one PEM file holding, in this order:
//
//	CERTIFICATE                unit certificate; PEM headers Unit, Alias,
//	                           Role and (if set) Server
//	PRIVATE KEY                TLS key, PKCS#8
//	VARTA HPKE PRIVATE KEY     MLKEM768-X25519 private key, 32-byte seed
//	                           (RFC 9180 SerializePrivateKey)
//	VARTA SIGNING PRIVATE KEY  Ed25519 key, PKCS#8
//	VARTA CA CERTIFICATE       the agency CA certificate
//
// The certificate is authoritative: the Unit, Alias and Role headers are for
// people reading the file, and ParseIdentity refuses a file whose headers
// disagree with the certificate. Server is only in the header.

// PEM header names on the bundle's first block.
const (
	headerUnit   = "Unit"
	headerAlias  = "Alias"
	headerRole   = "Role"
	headerServer = "Server"
)

// bundleBlocks lists the blocks of a bundle in file order with what they
// hold, for error messages.
var bundleBlocks = []struct{ typ, what string }{
	{pemCertificate, "unit certificate"},
	{pemPrivateKey, "TLS private key"},
	{pemHPKEPrivateKey, "HPKE private key"},
	{pemSigningKey, "signing private key"},
	{pemCACertificate, "agency CA certificate"},
}

// MarshalPEM encodes a unit identity as a bundle (see ParseIdentity for the
// checks). It fails for a relay identity or an identity whose parts do not
// belong together; what it returns always parses with ParseIdentity.
func (id *Identity) MarshalPEM() ([]byte, error) {
	if id == nil || id.Cert == nil || id.Key == nil || id.HPKEPrivateKey == nil || id.SigningKey == nil || id.CA == nil {
		return nil, fmt.Errorf("%w: identity bundle needs a unit certificate, TLS key, HPKE key, signing key and CA", ErrMalformed)
	}
	if id.UnitID == 0 {
		return nil, fmt.Errorf("%w: identity bundles are for units; save the relay identity with SaveServer", ErrNotUnitCert)
	}
	if id.Server != "" {
		if err := checkServerAddr(id.Server); err != nil {
			return nil, fmt.Errorf("%w: unit %d relay address: %v", ErrInvalidSpec, id.UnitID, err)
		}
	}
	tlsDER, err := x509.MarshalPKCS8PrivateKey(id.Key)
	if err != nil {
		return nil, fmt.Errorf("pki: unit %d: encode TLS key: %w", id.UnitID, err)
	}
	hpkeBytes, err := id.HPKEPrivateKey.Bytes()
	if err != nil {
		return nil, fmt.Errorf("pki: unit %d: encode HPKE key: %w", id.UnitID, err)
	}
	sigDER, err := x509.MarshalPKCS8PrivateKey(id.SigningKey)
	if err != nil {
		return nil, fmt.Errorf("pki: unit %d: encode signing key: %w", id.UnitID, err)
	}
	headers := map[string]string{
		headerUnit:  strconv.FormatUint(uint64(id.UnitID), 10),
		headerAlias: id.Alias,
		headerRole:  id.Role,
	}
	if id.Server != "" {
		headers[headerServer] = id.Server
	}
	var buf bytes.Buffer
	for _, b := range []*pem.Block{
		{Type: pemCertificate, Headers: headers, Bytes: id.Cert.Raw},
		{Type: pemPrivateKey, Bytes: tlsDER},
		{Type: pemHPKEPrivateKey, Bytes: hpkeBytes},
		{Type: pemSigningKey, Bytes: sigDER},
		{Type: pemCACertificate, Bytes: id.CA.Raw},
	} {
		if err := pem.Encode(&buf, b); err != nil {
			return nil, fmt.Errorf("pki: unit %d: encode %s: %w", id.UnitID, b.Type, err)
		}
	}
	// hpkeBytes is not cleared: crypto/hpke returns its own copy of the
	// seed, still in use by the key.
	clear(tlsDER)
	clear(sigDER)
	out := buf.Bytes()
	// Check the result the way the radio will, so a bad identity is caught
	// here and not on the street.
	if _, err := ParseIdentity(out); err != nil {
		clear(out)
		return nil, err
	}
	return out, nil
}

// ParseIdentity decodes and checks a unit identity bundle. It refuses, with
// an error that names the problem, a bundle that:
//
//   - is larger than 64 KiB, truncated, or has text after the last block;
//   - lacks one of the five blocks, repeats one, or has an unknown block;
//   - holds a certificate, key or extension that does not decode;
//   - holds a CA certificate that is not a self-signed CA (ErrMalformed);
//   - holds a unit certificate not issued by that CA (ErrUntrusted);
//   - holds a certificate that is not a unit certificate (ErrNotUnitCert);
//   - holds a TLS, HPKE or signing private key that does not match the
//     public key in the certificate (ErrKeyMismatch);
//   - has Unit, Alias or Role headers that disagree with the certificate,
//     or a Server header that is not host:port.
//
// It does not check validity dates; see Identity.CheckValidity.
func ParseIdentity(data []byte) (*Identity, error) {
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%w: identity bundle is larger than %d bytes", ErrMalformed, maxFileSize)
	}
	blocks := make(map[string]*pem.Block, len(bundleBlocks))
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		known := false
		for _, bb := range bundleBlocks {
			known = known || bb.typ == b.Type
		}
		if !known {
			return nil, fmt.Errorf("%w: identity bundle has an unexpected %q block", ErrMalformed, b.Type)
		}
		if blocks[b.Type] != nil {
			return nil, fmt.Errorf("%w: identity bundle has more than one %q block", ErrMalformed, b.Type)
		}
		blocks[b.Type] = b
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: identity bundle is truncated or damaged (text after the last complete PEM block)", ErrMalformed)
	}
	for _, bb := range bundleBlocks {
		if blocks[bb.typ] == nil {
			return nil, fmt.Errorf("%w: identity bundle has no %s (%q block)", ErrMalformed, bb.what, bb.typ)
		}
	}

	ca, err := parseCertDER(blocks[pemCACertificate].Bytes, "identity bundle: agency CA certificate")
	if err != nil {
		return nil, err
	}
	if err := checkCACert(ca, "identity bundle"); err != nil {
		return nil, err
	}
	certBlock := blocks[pemCertificate]
	cert, err := parseCertDER(certBlock.Bytes, "identity bundle: unit certificate")
	if err != nil {
		return nil, err
	}
	if err := checkIssuedBy(cert, ca, "the unit certificate in the identity bundle"); err != nil {
		return nil, err
	}
	unitID, role, err := checkUnitCert(cert)
	if err != nil {
		return nil, err
	}
	id := &Identity{
		UnitID: unitID,
		Alias:  cert.Subject.CommonName,
		Role:   role,
		Cert:   cert,
		CA:     ca,
	}
	if err := id.checkHeaders(certBlock.Headers); err != nil {
		return nil, err
	}

	id.Key, err = parseSignerDER(blocks[pemPrivateKey].Bytes, fmt.Sprintf("unit %d TLS private key", unitID))
	if err != nil {
		return nil, err
	}
	if !keyMatchesCert(id.Key, cert) {
		return nil, fmt.Errorf("%w: the TLS private key in the bundle is not the key of unit %d's certificate", ErrKeyMismatch, unitID)
	}

	hpkePub, err := HPKEPublicKeyFromCert(cert)
	if err != nil {
		return nil, err
	}
	id.HPKEPrivateKey, err = HPKEKEM().NewPrivateKey(blocks[pemHPKEPrivateKey].Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: unit %d HPKE private key: %v", ErrMalformed, unitID, err)
	}
	if !bytes.Equal(id.HPKEPrivateKey.PublicKey().Bytes(), hpkePub.Bytes()) {
		return nil, fmt.Errorf("%w: the HPKE private key in the bundle does not match the HPKE public key in unit %d's certificate", ErrKeyMismatch, unitID)
	}

	sigPub, err := SigningPublicKeyFromCert(cert)
	if err != nil {
		return nil, err
	}
	sigKey, err := parseSigningKey(blocks[pemSigningKey].Bytes, unitID)
	if err != nil {
		return nil, err
	}
	if !sigKey.Public().(ed25519.PublicKey).Equal(sigPub) {
		return nil, fmt.Errorf("%w: the signing private key in the bundle does not match the signing public key in unit %d's certificate", ErrKeyMismatch, unitID)
	}
	id.SigningKey = sigKey
	return id, nil
}

func parseSigningKey(der []byte, unitID uint32) (ed25519.PrivateKey, error) {
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: unit %d signing private key: %v", ErrMalformed, unitID, err)
	}
	edKey, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: unit %d signing private key is %T, want Ed25519", ErrMalformed, unitID, key)
	}
	return edKey, nil
}

// checkHeaders checks the first block's headers against the certificate
// and sets id.Server.
func (id *Identity) checkHeaders(h map[string]string) error {
	for _, c := range []struct{ name, want string }{
		{headerUnit, strconv.FormatUint(uint64(id.UnitID), 10)},
		{headerAlias, id.Alias},
		{headerRole, id.Role},
	} {
		if v, ok := h[c.name]; ok && v != c.want {
			return fmt.Errorf("%w: identity bundle header %s is %q but the certificate says %q", ErrMalformed, c.name, v, c.want)
		}
	}
	for k := range h {
		switch k {
		case headerUnit, headerAlias, headerRole, headerServer:
		default:
			return fmt.Errorf("%w: identity bundle has an unknown header %q", ErrMalformed, k)
		}
	}
	if s, ok := h[headerServer]; ok {
		if err := checkServerAddr(s); err != nil {
			return fmt.Errorf("%w: identity bundle Server header: %v", ErrMalformed, err)
		}
		id.Server = s
	}
	return nil
}

// WriteIdentityFile writes id's bundle to path with mode 0600. It refuses
// with ErrExists if path exists.
func WriteIdentityFile(path string, id *Identity) error {
	data, err := id.MarshalPEM()
	if err != nil {
		return err
	}
	defer clear(data)
	return writeFileExcl(path, data, modePrivate)
}

// LoadIdentityFile reads and checks the bundle at path (see ParseIdentity).
// It does not check the file's mode: call CheckFileMode for that, and the
// certificate's dates: call Identity.CheckValidity.
func LoadIdentityFile(path string) (*Identity, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	defer clear(data)
	id, err := ParseIdentity(data)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return id, nil
}
