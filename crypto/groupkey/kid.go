package groupkey

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha512"
	"fmt"
	"io"

	"github.com/varta-ptt/varta/crypto/pki"
	"github.com/varta-ptt/varta/crypto/sframe"
)

// Suite is the SFrame cipher suite of Varta's voice frames.
const Suite = sframe.AES256GCMSHA512128

const (
	// EpochKeySize is the size of an epoch key.
	EpochKeySize = 32
	// SenderKeySize is the size of a sender's SFrame base key.
	SenderKeySize = 32
)

// A key ID names the epoch and the sender of a frame. It is a 40-bit
// integer:
//
//	 39            24 23                     0
//	+----------------+------------------------+
//	| epoch (low 16) |  sender unit ID (24)   |
//	+----------------+------------------------+
//
// The SFrame header carries it in at most 5 bytes. Only the low 16 bits of
// the epoch are in the KID; a receiver holds at most two epochs of a
// talkgroup (current and previous), and tells them apart by those bits.
const (
	kidUnitBits = 24
	kidBits     = kidUnitBits + 16
)

// MakeKID returns the SFrame key ID for sender unit's frames in epoch.
func MakeKID(epoch, unit uint32) uint64 {
	return uint64(epoch&0xffff)<<kidUnitBits | uint64(unit&pki.MaxUnitID)
}

// SplitKID returns the low 16 bits of the epoch and the unit ID from a key
// ID made by MakeKID. ok is false if kid is not of that form (too large or
// unit 0).
func SplitKID(kid uint64) (epoch16 uint16, unit uint32, ok bool) {
	if kid>>kidBits != 0 {
		return 0, 0, false
	}
	unit = uint32(kid & pki.MaxUnitID)
	return uint16(kid >> kidUnitBits), unit, unit != 0
}

// NewEpochKey returns a new random epoch key read from rnd (nil means
// crypto/rand).
func NewEpochKey(rnd io.Reader) ([]byte, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	key := make([]byte, EpochKeySize)
	if _, err := io.ReadFull(rnd, key); err != nil {
		return nil, fmt.Errorf("groupkey: generate epoch key: %w", err)
	}
	return key, nil
}

// senderLabel starts the HKDF info of a sender key; the talkgroup (2
// bytes), epoch (4) and unit (4) follow, big-endian.
const senderLabel = "varta/1 sender"

// SenderKey derives sender unit's SFrame base key for epoch of talkgroup
// tg from the epoch key:
//
//	HKDF-SHA512(secret = epoch key, salt = none,
//	            info = "varta/1 sender" || tg || epoch || unit, 32 bytes)
//
// Distinct units get independent keys, so no two senders share a key (and
// a nonce).
func SenderKey(epochKey []byte, tg uint16, epoch, unit uint32) ([]byte, error) {
	if err := checkIDs(tg, epoch, unit); err != nil {
		return nil, err
	}
	if len(epochKey) != EpochKeySize {
		return nil, fmt.Errorf("%w: epoch key is %d bytes, want %d", ErrInvalid, len(epochKey), EpochKeySize)
	}
	key, err := hkdf.Key(sha512.New, epochKey, nil, bindingInfo(senderLabel, tg, epoch, unit), SenderKeySize)
	if err != nil {
		return nil, fmt.Errorf("groupkey: derive sender key: %w", err)
	}
	return key, nil
}

// bindingInfo returns label || tg || epoch || unit, the fixed-length
// context that binds a derivation or a wrap to one talkgroup, epoch and
// unit.
func bindingInfo(label string, tg uint16, epoch, unit uint32) string {
	b := make([]byte, 0, len(label)+2+4+4)
	b = append(b, label...)
	b = append(b, byte(tg>>8), byte(tg))
	b = append(b, byte(epoch>>24), byte(epoch>>16), byte(epoch>>8), byte(epoch))
	b = append(b, byte(unit>>24), byte(unit>>16), byte(unit>>8), byte(unit))
	return string(b)
}

func checkIDs(tg uint16, epoch, unit uint32) error {
	if tg == 0 {
		return fmt.Errorf("%w: talkgroup 0", ErrInvalid)
	}
	if epoch == 0 {
		return fmt.Errorf("%w: epoch 0", ErrInvalid)
	}
	return checkUnit(unit)
}

func checkUnit(unit uint32) error {
	if unit < pki.MinUnitID || unit > pki.MaxUnitID {
		return fmt.Errorf("%w: unit ID %d is outside %d..%d", ErrInvalid, unit, pki.MinUnitID, pki.MaxUnitID)
	}
	return nil
}
