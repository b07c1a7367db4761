package pki

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// SaveServer writes the relay identity to the data directory dir:
// server.crt (0644), server.key (0600, PKCS#8 PEM) and, if it is not there
// yet, ca.crt (0644), creating dir with mode 0700 if needed. It refuses with
// ErrExists if server.crt or server.key exists, and with ErrUntrusted if
// dir already holds a different ca.crt.
func SaveServer(dir string, id *Identity) error {
	if id == nil || id.Cert == nil || id.Key == nil || id.CA == nil {
		return fmt.Errorf("%w: relay identity needs a certificate, key and CA", ErrMalformed)
	}
	if !IsServerCert(id.Cert) {
		return fmt.Errorf("%w: cannot save it as the relay identity", ErrNotServerCert)
	}
	if !keyMatchesCert(id.Key, id.Cert) {
		return fmt.Errorf("%w: relay key does not belong to the relay certificate", ErrKeyMismatch)
	}
	if err := checkIssuedBy(id.Cert, id.CA, "the relay certificate"); err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(id.Key)
	if err != nil {
		return fmt.Errorf("pki: encode relay key: %w", err)
	}
	if err := os.MkdirAll(dir, modeDir); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	files := []fileToWrite{
		{filepath.Join(dir, ServerKeyFile), encodePEM(pemPrivateKey, nil, keyDER), modePrivate},
		{filepath.Join(dir, ServerCertFile), encodePEM(pemCertificate, nil, id.Cert.Raw), modePublic},
	}
	clear(keyDER)
	caPath := filepath.Join(dir, CACertFile)
	switch old, err := LoadCACert(dir); {
	case err == nil:
		if !bytes.Equal(old.Raw, id.CA.Raw) {
			return fmt.Errorf("%w: %s holds another agency CA (%q) than the one that issued the relay certificate (%q)", ErrUntrusted, caPath, old.Subject.CommonName, id.CA.Subject.CommonName)
		}
	case errors.Is(err, fs.ErrNotExist):
		files = append(files, fileToWrite{caPath, encodePEM(pemCertificate, nil, id.CA.Raw), modePublic})
	default:
		return err
	}
	return writeFilesExcl(files...)
}

// LoadServer reads the relay identity written by SaveServer from dir and
// checks that the key belongs to the certificate, that the certificate is a
// relay certificate, and that dir's ca.crt issued it. It does not check
// dates; see Identity.CheckValidity.
func LoadServer(dir string) (*Identity, error) {
	ca, err := LoadCACert(dir)
	if err != nil {
		return nil, err
	}
	certPath := filepath.Join(dir, ServerCertFile)
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
	if !IsServerCert(cert) {
		return nil, fmt.Errorf("%w: %s", ErrNotServerCert, certPath)
	}
	if err := checkIssuedBy(cert, ca, certPath); err != nil {
		return nil, err
	}
	keyPath := filepath.Join(dir, ServerKeyFile)
	data, err = readFile(keyPath)
	if err != nil {
		return nil, err
	}
	defer clear(data)
	block, err = decodeSinglePEM(data, pemPrivateKey, keyPath)
	if err != nil {
		return nil, err
	}
	key, err := parseSignerDER(block.Bytes, keyPath)
	if err != nil {
		return nil, err
	}
	if !keyMatchesCert(key, cert) {
		return nil, fmt.Errorf("%w: %s does not belong to %s", ErrKeyMismatch, keyPath, certPath)
	}
	return &Identity{
		Alias: cert.Subject.CommonName,
		Role:  RoleServer,
		Cert:  cert,
		Key:   key,
		CA:    ca,
	}, nil
}
