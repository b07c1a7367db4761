package groupkey

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
)

// Burst signatures. The SFrame keys only prove that a frame came from some
// member of the talkgroup (any member can derive any sender's key). To
// prove which member spoke, the sender signs each burst with its Ed25519
// key (the one in its certificate) over a hash chain of the burst's sealed
// frames:
//
//	h0 = SHA-256("varta/1 burst" || tg || unit)
//	hi = SHA-256(h(i-1) || sealed frame i)        for frames 1..n in order
//	signature = Ed25519(key, "varta/1 burst signature" || tg || unit || n || hn)
//
// with tg 2 bytes and unit and n 4 bytes, big-endian. The sealed frame is
// the SFrame ciphertext (header, ciphertext, tag), whose key ID and counter
// tie it to the sender's key and place in the stream. At the end of the
// burst the sender sends the BurstSignatureSize-byte payload n || signature.
//
// A receiver folds the frames it opened, in the sender's order, into a
// BurstVerifier and checks the payload. The burst is verified only if it
// received exactly the frames the sender signed. A lost, duplicated or
// reordered frame makes the burst "unverified", which is not evidence of
// forgery: radio links lose frames. Only a verified burst proves the
// sender.
const (
	burstChainContext = "varta/1 burst"
	burstSigContext   = "varta/1 burst signature"
	// BurstSignatureSize is the size of the payload Sign returns: the
	// frame count (4 bytes) and the Ed25519 signature.
	BurstSignatureSize = 4 + ed25519.SignatureSize
)

// burstChain is the running hash chain shared by signer and verifier.
type burstChain struct {
	tg    uint16
	unit  uint32
	h     hash.Hash
	chain [sha256.Size]byte
	n     uint32
}

func newBurstChain(tg uint16, unit uint32) burstChain {
	c := burstChain{tg: tg, unit: unit, h: sha256.New()}
	c.h.Write([]byte(burstChainContext))
	c.h.Write([]byte{byte(tg >> 8), byte(tg), byte(unit >> 24), byte(unit >> 16), byte(unit >> 8), byte(unit)})
	c.h.Sum(c.chain[:0])
	return c
}

func (c *burstChain) add(frame []byte) {
	c.h.Reset()
	c.h.Write(c.chain[:])
	c.h.Write(frame)
	c.h.Sum(c.chain[:0])
	c.n++
}

// message returns what the signature covers for a burst of n frames.
func (c *burstChain) message(n uint32) []byte {
	m := make([]byte, 0, len(burstSigContext)+2+4+4+sha256.Size)
	m = append(m, burstSigContext...)
	m = binary.BigEndian.AppendUint16(m, c.tg)
	m = binary.BigEndian.AppendUint32(m, c.unit)
	m = binary.BigEndian.AppendUint32(m, n)
	return append(m, c.chain[:]...)
}

// BurstSigner signs one burst. It is not safe for concurrent use; the
// sender's voice loop owns it.
type BurstSigner struct {
	key ed25519.PrivateKey
	c   burstChain
}

// NewBurstSigner starts the burst of unit in talkgroup tg, signed with the
// unit's Ed25519 key (pki.Identity.SigningKey).
func NewBurstSigner(key ed25519.PrivateKey, tg uint16, unit uint32) (*BurstSigner, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: Ed25519 private key is %d bytes", ErrInvalid, len(key))
	}
	return &BurstSigner{key: key, c: newBurstChain(tg, unit)}, nil
}

// Add folds the next sealed frame of the burst (as Sealer.Seal returned
// it, without the clear voice header) into the chain. It does not
// allocate or keep frame.
func (s *BurstSigner) Add(frame []byte) { s.c.add(frame) }

// Sign returns the burst's signature payload (BurstSignatureSize bytes):
// the number of frames added and the signature over the chain.
func (s *BurstSigner) Sign() []byte {
	p := binary.BigEndian.AppendUint32(make([]byte, 0, BurstSignatureSize), s.c.n)
	return append(p, ed25519.Sign(s.key, s.c.message(s.c.n))...)
}

// BurstVerifier checks one received burst. It is not safe for concurrent
// use; the receiver's voice loop owns it.
type BurstVerifier struct {
	pub ed25519.PublicKey
	c   burstChain
}

// NewBurstVerifier starts checking a burst from unit in talkgroup tg,
// whose Ed25519 public key (pki.SigningPublicKeyFromCert) is pub.
func NewBurstVerifier(pub ed25519.PublicKey, tg uint16, unit uint32) (*BurstVerifier, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: Ed25519 public key is %d bytes", ErrInvalid, len(pub))
	}
	return &BurstVerifier{pub: pub, c: newBurstChain(tg, unit)}, nil
}

// Add folds the next received sealed frame into the chain. Frames must be
// added in the sender's counter order (the jitter buffer's order). It does
// not allocate or keep frame.
func (v *BurstVerifier) Add(frame []byte) { v.c.add(frame) }

// Frames returns how many frames have been added.
func (v *BurstVerifier) Frames() uint32 { return v.c.n }

// Verify checks the burst's signature payload against the frames added.
// It returns nil if the burst is verified, and otherwise an error wrapping
// ErrBurstUnverified that says why (for logs; show the user only
// "unverified"). A count mismatch means frames were lost or added on the
// way, not that the burst was forged.
func (v *BurstVerifier) Verify(payload []byte) error {
	if len(payload) != BurstSignatureSize {
		return fmt.Errorf("%w: signature payload is %d bytes, want %d", ErrBurstUnverified, len(payload), BurstSignatureSize)
	}
	n := binary.BigEndian.Uint32(payload)
	if n != v.c.n {
		return fmt.Errorf("%w: %w: sender signed %d frames, %d received", ErrBurstUnverified, ErrBurstFrames, n, v.c.n)
	}
	if !ed25519.Verify(v.pub, v.c.message(n), payload[4:]) {
		return fmt.Errorf("%w: signature does not match the frames received", ErrBurstUnverified)
	}
	return nil
}
