package sframe

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
)

// CipherSuite is an SFrame cipher suite from the IANA "SFrame Cipher
// Suites" registry (RFC 9605 section 8.1).
type CipherSuite uint16

// The AES-GCM cipher suites this package implements. Both have a 12-byte
// nonce and a full 16-byte tag.
const (
	// AES128GCMSHA256128 is AES_128_GCM_SHA256_128: Nh 32, Nk 16, Nn 12,
	// Nt 16.
	AES128GCMSHA256128 CipherSuite = 0x0004
	// AES256GCMSHA512128 is AES_256_GCM_SHA512_128: Nh 64, Nk 32, Nn 12,
	// Nt 16. Varta uses this suite.
	AES256GCMSHA512128 CipherSuite = 0x0005
)

const (
	// NonceSize is AEAD.Nn, the nonce size of both suites.
	NonceSize = 12
	// TagSize is AEAD.Nt, the tag size of both suites.
	TagSize = 16
	// MaxOverhead is the most a sealed frame adds to its plaintext: the
	// longest header and the tag.
	MaxOverhead = MaxHeaderLen + TagSize
)

// String returns the suite's registry name.
func (s CipherSuite) String() string {
	switch s {
	case AES128GCMSHA256128:
		return "AES_128_GCM_SHA256_128"
	case AES256GCMSHA512128:
		return "AES_256_GCM_SHA512_128"
	}
	return fmt.Sprintf("CipherSuite(%#04x)", uint16(s))
}

// params returns the suite's hash function and AES key size (AEAD.Nk).
func (s CipherSuite) params() (func() hash.Hash, int, error) {
	switch s {
	case AES128GCMSHA256128:
		return sha256.New, 16, nil
	case AES256GCMSHA512128:
		return sha512.New, 32, nil
	}
	return nil, 0, fmt.Errorf("%w: %v", ErrUnsupportedSuite, s)
}

// keyLabelPrefix and saltLabelPrefix start the HKDF-Expand labels of RFC
// 9605 section 4.4.2; the KID (8 bytes) and the suite (2 bytes) follow.
const (
	keyLabelPrefix  = "SFrame 1.0 Secret key "
	saltLabelPrefix = "SFrame 1.0 Secret salt "
)

// deriveKeySalt is derive_key_salt of RFC 9605 section 4.4.2:
//
//	sframe_secret = HKDF-Extract("", base_key)
//	sframe_key  = HKDF-Expand(sframe_secret, "SFrame 1.0 Secret key "  + KID + suite, Nk)
//	sframe_salt = HKDF-Expand(sframe_secret, "SFrame 1.0 Secret salt " + KID + suite, Nn)
//
// with KID as an 8-byte and the suite as a 2-byte big-endian integer. The
// caller must clear the returned key once it has used it.
func deriveKeySalt(suite CipherSuite, kid uint64, baseKey []byte) (key []byte, salt [NonceSize]byte, err error) {
	newHash, nk, err := suite.params()
	if err != nil {
		return nil, salt, err
	}
	if len(baseKey) == 0 {
		return nil, salt, ErrInvalidKey
	}
	secret, err := hkdf.Extract(newHash, baseKey, nil)
	if err != nil {
		return nil, salt, fmt.Errorf("sframe: derive key: %w", err)
	}
	defer clear(secret)
	key, err = hkdf.Expand(newHash, secret, label(keyLabelPrefix, kid, suite), nk)
	if err != nil {
		return nil, salt, fmt.Errorf("sframe: derive key: %w", err)
	}
	s, err := hkdf.Expand(newHash, secret, label(saltLabelPrefix, kid, suite), NonceSize)
	if err != nil {
		clear(key)
		return nil, salt, fmt.Errorf("sframe: derive salt: %w", err)
	}
	copy(salt[:], s)
	clear(s)
	return key, salt, nil
}

func label(prefix string, kid uint64, suite CipherSuite) string {
	b := make([]byte, 0, len(saltLabelPrefix)+8+2)
	b = append(b, prefix...)
	b = appendUint(b, kid, 8)
	b = appendUint(b, uint64(suite), 2)
	return string(b)
}

// keyState is what both directions keep for one KID: the AEAD and the salt,
// plus scratch space for the nonce and the associated data so that sealing
// and opening do not allocate. It is guarded by the owner's mutex.
type keyState struct {
	aead  cipher.AEAD // nil once wiped
	salt  [NonceSize]byte
	nonce [NonceSize]byte
	aad   []byte
}

func newKeyState(suite CipherSuite, kid uint64, baseKey []byte) (keyState, error) {
	key, salt, err := deriveKeySalt(suite, kid, baseKey)
	if err != nil {
		return keyState{}, err
	}
	defer clear(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return keyState{}, fmt.Errorf("sframe: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return keyState{}, fmt.Errorf("sframe: %w", err)
	}
	return keyState{aead: aead, salt: salt}, nil
}

// setNonce writes salt XOR ctr (as a 12-byte big-endian integer) into the
// nonce scratch and returns it.
func (k *keyState) setNonce(ctr uint64) []byte {
	k.nonce = k.salt
	for i := range 8 {
		k.nonce[NonceSize-1-i] ^= byte(ctr >> (8 * i))
	}
	return k.nonce[:]
}

// setAAD returns header || metadata, the associated data of RFC 9605
// section 4.4.3, reusing the scratch buffer.
func (k *keyState) setAAD(header, metadata []byte) []byte {
	if len(metadata) == 0 {
		return header
	}
	k.aad = append(append(k.aad[:0], header...), metadata...)
	return k.aad
}

// wipe drops the AEAD and zeroes the salt and scratch. The standard library
// offers no way to zero the AES key schedule inside the AEAD; once dropped
// it is garbage for the collector.
func (k *keyState) wipe() {
	k.aead = nil
	clear(k.salt[:])
	clear(k.nonce[:])
	clear(k.aad[:cap(k.aad)])
	k.aad = nil
}
