package pki

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// PEM block types used in Varta files.
const (
	pemCertificate    = "CERTIFICATE"
	pemPrivateKey     = "PRIVATE KEY"
	pemHPKEPrivateKey = "VARTA HPKE PRIVATE KEY"
	pemSigningKey     = "VARTA SIGNING PRIVATE KEY"
	pemCACertificate  = "VARTA CA CERTIFICATE"
)

// Modes of the files this package writes.
const (
	modePublic  fs.FileMode = 0o644
	modePrivate fs.FileMode = 0o600
	modeDir     fs.FileMode = 0o700
)

// maxFileSize caps every file this package reads. A unit bundle is about
// 6 KB.
const maxFileSize = 64 << 10

// existing returns an ErrExists error naming the first of paths that
// exists.
func existing(paths ...string) error {
	for _, p := range paths {
		_, err := os.Lstat(p)
		if err == nil {
			return fmt.Errorf("%w: %s", ErrExists, p)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("pki: %w", err)
		}
	}
	return nil
}

// writeFileExcl creates path with the given mode and writes data to it,
// refusing to replace an existing file (ErrExists). The file is synced
// before it is closed; on any error it is removed.
func writeFileExcl(path string, data []byte, mode fs.FileMode) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: %s", ErrExists, path)
		}
		return fmt.Errorf("pki: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(path)
		}
	}()
	// The umask may only have narrowed the mode; make it exact.
	if runtime.GOOS != "windows" {
		if err := f.Chmod(mode); err != nil {
			return fmt.Errorf("pki: %w", err)
		}
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("pki: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("pki: sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("pki: close %s: %w", path, err)
	}
	syncDir(filepath.Dir(path))
	return nil
}

// syncDir makes a new directory entry durable where the platform allows it.
// Failure is ignored: the file itself is already synced.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	d.Sync()
	d.Close()
}

// writeFilesExcl writes several files, none of which may exist. If one
// fails, the ones already written are removed.
func writeFilesExcl(files ...fileToWrite) error {
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = f.path
	}
	if err := existing(paths...); err != nil {
		return err
	}
	for i, f := range files {
		if err := writeFileExcl(f.path, f.data, f.mode); err != nil {
			for _, done := range files[:i] {
				os.Remove(done.path)
			}
			return err
		}
	}
	return nil
}

type fileToWrite struct {
	path string
	data []byte
	mode fs.FileMode
}

// readFile reads a file of at most maxFileSize bytes.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("pki: read %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrMalformed, path, maxFileSize)
	}
	return data, nil
}

// CheckFileMode returns [ErrInsecureFileMode] if the file at path can be
// read or written by its group or by others. Private keys and identity
// bundles should be mode 0600; a command-line tool calls this after loading
// one and warns or refuses. On Windows, where Unix permission bits do not
// apply, it only checks that the file exists.
func CheckFileMode(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	if runtime.GOOS == "windows" {
		return nil
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%w: %s has mode %#o (run: chmod 600 %s)", ErrInsecureFileMode, path, perm, path)
	}
	return nil
}

// decodeSinglePEM decodes data that must hold exactly one PEM block of type
// want and nothing else but white space.
func decodeSinglePEM(data []byte, want, what string) (*pem.Block, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: %s: no PEM block found (file empty, truncated or damaged)", ErrMalformed, what)
	}
	if block.Type != want {
		return nil, fmt.Errorf("%w: %s: PEM block is %q, want %q", ErrMalformed, what, block.Type, want)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: %s: unexpected data after the %s block", ErrMalformed, what, want)
	}
	return block, nil
}

func encodePEM(typ string, headers map[string]string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Headers: headers, Bytes: der})
}

// parseCertDER parses one certificate.
func parseCertDER(der []byte, what string) (*x509.Certificate, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	return cert, nil
}

// parseSignerDER parses a PKCS#8 private key usable as a TLS/CA key.
func parseSignerDER(der []byte, what string) (crypto.Signer, error) {
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: %s: key of type %T cannot sign", ErrMalformed, what, key)
	}
	return signer, nil
}

// keyMatchesCert reports whether key is the private key of cert's public
// key.
func keyMatchesCert(key crypto.Signer, cert *x509.Certificate) bool {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(cert.PublicKey)
}
