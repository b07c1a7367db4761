package pki

import "errors"

// ErrExists is returned when a file that would be written already exists.
// Nothing in this package overwrites a key or certificate; the caller must
// move the old file away first.
var ErrExists = errors.New("pki: file already exists")

// ErrMalformed is returned when a PEM file, certificate, key or certificate
// extension cannot be decoded or lacks a required part (a missing PEM block,
// a missing extension, a truncated file).
var ErrMalformed = errors.New("pki: malformed")

// ErrKeyMismatch is returned when a private key does not belong to the public
// key in the certificate it is stored with: the TLS key, the HPKE key or the
// signing key of a bundle.
var ErrKeyMismatch = errors.New("pki: private key does not match the certificate")

// ErrUntrusted is returned when a certificate was not issued by the agency CA
// it is checked against.
var ErrUntrusted = errors.New("pki: certificate not issued by the agency CA")

// ErrExpired is returned when a certificate's validity period has ended.
var ErrExpired = errors.New("pki: certificate expired")

// ErrNotYetValid is returned when a certificate's validity period has not
// begun (often a wrong clock).
var ErrNotYetValid = errors.New("pki: certificate not yet valid")

// ErrNotUnitCert is returned when a certificate is not a unit certificate:
// it lacks the varta://unit/<id> or varta://role/<role> name, or carries
// invalid values there.
var ErrNotUnitCert = errors.New("pki: not a unit certificate")

// ErrNotServerCert is returned when a certificate is not a relay
// certificate: it lacks the varta://server name or the ServerAuth usage.
var ErrNotServerCert = errors.New("pki: not a relay certificate")

// ErrInvalidSpec is returned when the parameters for a new certificate are
// invalid: a unit ID out of range, an unknown role, an empty alias.
var ErrInvalidSpec = errors.New("pki: invalid certificate parameters")

// ErrInsecureFileMode is returned by [CheckFileMode] when a private key file
// can be read or written by users other than its owner.
var ErrInsecureFileMode = errors.New("pki: private key file is accessible to other users")

// ErrServerRejected wraps every error with which [ClientTLSConfig]'s
// verification refuses the relay's certificate, so callers can tell "the
// relay is not ours" from "the relay refused us".
var ErrServerRejected = errors.New("pki: relay certificate rejected")
