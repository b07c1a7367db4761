package groupkey

import "errors"

// ErrInvalid is returned for arguments out of range: a talkgroup or unit
// ID outside its range, epoch 0, a key of the wrong size, a key of the
// wrong HPKE KEM.
var ErrInvalid = errors.New("groupkey: invalid argument")

// ErrUnwrap is the one error OpenEpochKey returns for a sealed epoch key
// that does not open: the wrong private key, a blob made for another
// talkgroup, epoch or unit, or a damaged blob. It does not say which.
var ErrUnwrap = errors.New("groupkey: sealed epoch key could not be opened")

// ErrMalformedBundle is returned by ParseBundle (and Bundle.Sign) for a
// key bundle that does not follow the encoding: cut short, an unknown
// version, IDs out of range, members out of order or repeated.
var ErrMalformedBundle = errors.New("groupkey: malformed key bundle")

// ErrBadSignature is returned when a key bundle's signature does not verify
// with the KMF's public key.
var ErrBadSignature = errors.New("groupkey: key bundle signature does not verify")

// ErrNotMember is returned when a key bundle holds no sealed epoch key for
// the unit.
var ErrNotMember = errors.New("groupkey: unit is not a member in the key bundle")

// ErrNoEpochKey is returned when the keyring holds no epoch key for the
// talkgroup: the unit has not received one yet, or it was forgotten or
// zeroized.
var ErrNoEpochKey = errors.New("groupkey: no epoch key for talkgroup")

// ErrStaleEpoch is returned by SetEpochKey and InstallBundle for an epoch
// older than the one installed, or for the installed epoch with a
// different key. Installing it would roll the keys back.
var ErrStaleEpoch = errors.New("groupkey: epoch is not newer than the installed one")

// ErrBurstUnverified is returned by BurstVerifier.Verify when a burst
// cannot be verified: a frame was lost, added or changed, or the signature
// does not match. It does not prove forgery; a lost frame is enough.
var ErrBurstUnverified = errors.New("groupkey: burst not verified")

// ErrBurstFrames, wrapped with ErrBurstUnverified, means the frames added
// are not as many as the sender signed: some were lost (or added) on the
// way. Radio links lose frames; this is the usual reason.
var ErrBurstFrames = errors.New("groupkey: frame count differs")
