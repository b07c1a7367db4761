package groupkey

import (
	"crypto/hpke"
	"fmt"

	"github.com/varta-ptt/varta/crypto/pki"
)

// wrapLabel starts the HPKE info of a sealed epoch key; the talkgroup (2
// bytes), epoch (4) and unit (4) follow, big-endian.
const wrapLabel = "varta/1 epoch key"

// The HPKE cipher suite of the key wrap: the unit keys' KEM
// (MLKEM768-X25519, pki.HPKEKEM), HKDF-SHA256 and AES-256-GCM.
var (
	wrapKDF  = hpke.HKDFSHA256()
	wrapAEAD = hpke.AES256GCM()
)

// SealEpochKey seals epochKey to member unit's HPKE public key (from its
// certificate, pki.HPKEPublicKeyFromCert) in HPKE base mode. The HPKE info
// binds the blob to the talkgroup, epoch and unit, so it opens only for
// that unit, in that talkgroup and epoch. The blob is the encapsulated key
// followed by the ciphertext.
//
// Go's crypto/hpke takes no random source: the encapsulation always uses
// the system's secure generator (tests make it deterministic with
// testing/cryptotest.SetGlobalRandom).
func SealEpochKey(memberKey hpke.PublicKey, tg uint16, epoch, unit uint32, epochKey []byte) ([]byte, error) {
	if err := checkIDs(tg, epoch, unit); err != nil {
		return nil, err
	}
	if len(epochKey) != EpochKeySize {
		return nil, fmt.Errorf("%w: epoch key is %d bytes, want %d", ErrInvalid, len(epochKey), EpochKeySize)
	}
	if memberKey == nil || memberKey.KEM().ID() != pki.HPKEKEM().ID() {
		return nil, fmt.Errorf("%w: unit %d's HPKE key is not MLKEM768-X25519", ErrInvalid, unit)
	}
	blob, err := hpke.Seal(memberKey, wrapKDF, wrapAEAD, []byte(bindingInfo(wrapLabel, tg, epoch, unit)), epochKey)
	if err != nil {
		return nil, fmt.Errorf("groupkey: seal epoch key for unit %d: %w", unit, err)
	}
	return blob, nil
}

// OpenEpochKey opens a blob from SealEpochKey with the unit's HPKE private
// key (pki.Identity.HPKEPrivateKey) and returns the epoch key. The
// talkgroup, epoch and unit must be those the blob was sealed for. Every
// failure is the opaque ErrUnwrap.
func OpenEpochKey(key hpke.PrivateKey, tg uint16, epoch, unit uint32, blob []byte) ([]byte, error) {
	if err := checkIDs(tg, epoch, unit); err != nil {
		return nil, err
	}
	if key == nil || key.KEM().ID() != pki.HPKEKEM().ID() {
		return nil, fmt.Errorf("%w: HPKE private key is not MLKEM768-X25519", ErrInvalid)
	}
	epochKey, err := hpke.Open(key, wrapKDF, wrapAEAD, []byte(bindingInfo(wrapLabel, tg, epoch, unit)), blob)
	if err != nil {
		return nil, ErrUnwrap
	}
	if len(epochKey) != EpochKeySize {
		clear(epochKey)
		return nil, ErrUnwrap
	}
	return epochKey, nil
}
