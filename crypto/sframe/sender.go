package sframe

import (
	"math"
	"sync"
)

// Sender seals frames under one base key and KID with an incrementing
// counter (RFC 9605 section 4.4.1). The base key must belong to this sender
// alone and must never be registered for opening.
//
// A Sender is safe for concurrent use; frames are numbered in the order the
// Seal calls take its lock.
type Sender struct {
	suite CipherSuite
	kid   uint64

	mu   sync.Mutex
	key  keyState
	next uint64 // counter of the next frame
	done bool   // every counter has been used
}

// NewSender derives the sealing key for base key baseKey under KID kid. The
// first frame gets counter 0. NewSender does not keep baseKey.
func NewSender(suite CipherSuite, kid uint64, baseKey []byte) (*Sender, error) {
	k, err := newKeyState(suite, kid, baseKey)
	if err != nil {
		return nil, err
	}
	return &Sender{suite: suite, kid: kid, key: k}, nil
}

// KID returns the sender's key ID.
func (s *Sender) KID() uint64 { return s.kid }

// Suite returns the sender's cipher suite.
func (s *Sender) Suite() CipherSuite { return s.suite }

// Seal appends the SFrame ciphertext of plaintext to dst and returns the
// extended slice: the header with the KID and the next counter, then the
// AES-GCM ciphertext and tag. The associated data is the header followed
// by metadata, which the receiver must pass to Open unchanged. plaintext
// and metadata must not overlap the part of dst that Seal writes. Seal does
// not allocate when dst has room for len(plaintext)+MaxOverhead more bytes.
//
// Seal fails only after Wipe (ErrWiped) or when the counter is exhausted
// (ErrCounterExhausted).
func (s *Sender) Seal(dst, metadata, plaintext []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.key.aead == nil {
		return dst, ErrWiped
	}
	if s.done {
		return dst, ErrCounterExhausted
	}
	ctr := s.next
	if ctr == math.MaxUint64 {
		s.done = true
	} else {
		s.next++
	}
	start := len(dst)
	dst = AppendHeader(dst, Header{KID: s.kid, CTR: ctr})
	aad := s.key.setAAD(dst[start:], metadata)
	return s.key.aead.Seal(dst, s.key.setNonce(ctr), plaintext, aad), nil
}

// AdvanceTo makes the next counter at least ctr. It never moves the counter
// back. A sender whose counter must stay unique across restarts (the same
// key after a reboot) advances it to a value derived from a clock before
// sealing.
func (s *Sender) AdvanceTo(ctr uint64) {
	s.mu.Lock()
	if !s.done && ctr > s.next {
		s.next = ctr
	}
	s.mu.Unlock()
}

// Wipe drops the key; later Seal calls fail with ErrWiped.
func (s *Sender) Wipe() {
	s.mu.Lock()
	s.key.wipe()
	s.mu.Unlock()
}
