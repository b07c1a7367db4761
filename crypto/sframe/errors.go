package sframe

import "errors"

// ErrDecrypt is the one error Open returns for every frame that fails to
// decrypt or authenticate: a malformed or short frame, a wrong tag, a
// modified header, ciphertext or metadata. It deliberately does not say
// which check failed.
var ErrDecrypt = errors.New("sframe: frame could not be decrypted")

// ErrUnknownKey is returned by Open when no key is registered for the
// frame's KID (or the key was wiped). A frame may arrive before its key; the
// caller may keep it briefly and retry (RFC 9605 section 4.4.4).
var ErrUnknownKey = errors.New("sframe: no key for the frame's key ID")

// ErrReplay is returned by Open when the frame's counter was already
// accepted for its KID, or is ReplayWindow or more behind the highest
// counter accepted.
var ErrReplay = errors.New("sframe: replayed or too old frame")

// ErrMalformedHeader is returned by ParseHeader when the bytes are not a
// complete, minimally encoded SFrame header. (Open reports such frames as
// ErrDecrypt.)
var ErrMalformedHeader = errors.New("sframe: malformed header")

// ErrUnsupportedSuite is returned for a cipher suite this package does not
// implement.
var ErrUnsupportedSuite = errors.New("sframe: unsupported cipher suite")

// ErrInvalidKey is returned when a base key is empty.
var ErrInvalidKey = errors.New("sframe: invalid base key")

// ErrDuplicateKID is returned by Receiver.AddKey when the KID already has a
// key. Replacing a key would reset its replay window, so the caller must
// remove the old key explicitly.
var ErrDuplicateKID = errors.New("sframe: key ID already registered")

// ErrCounterExhausted is returned by Sender.Seal once every counter value
// has been used; the sender needs a new key.
var ErrCounterExhausted = errors.New("sframe: counter exhausted (a new key is needed)")

// ErrWiped is returned by Sender.Seal after Sender.Wipe.
var ErrWiped = errors.New("sframe: key was wiped")
