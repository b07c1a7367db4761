package sframe

import (
	"fmt"
	"sync"
)

// ReceiverKey opens the frames of one KID and keeps that KID's replay
// window. It is safe for concurrent use; frames of one KID are opened one
// at a time.
type ReceiverKey struct {
	kid uint64

	mu     sync.Mutex
	key    keyState
	window replayWindow
}

// NewReceiverKey derives the opening key for base key baseKey under KID
// kid. It does not keep baseKey.
func NewReceiverKey(suite CipherSuite, kid uint64, baseKey []byte) (*ReceiverKey, error) {
	k, err := newKeyState(suite, kid, baseKey)
	if err != nil {
		return nil, err
	}
	return &ReceiverKey{kid: kid, key: k}, nil
}

// KID returns the key's key ID.
func (k *ReceiverKey) KID() uint64 { return k.kid }

// Open decrypts the SFrame ciphertext frame, which must carry this key's
// KID, with metadata as the sender passed it to Seal. It appends the
// plaintext to dst and returns the extended slice and the frame's header.
// dst must not overlap frame. Open does not allocate when dst has room for
// the plaintext.
//
// Open fails with ErrUnknownKey if the frame names another KID or the key
// was wiped, ErrReplay if the counter was seen or is too old, and ErrDecrypt
// for anything else. A frame that fails does not move the replay window.
func (k *ReceiverKey) Open(dst, metadata, frame []byte) ([]byte, Header, error) {
	h, n, err := ParseHeader(frame)
	if err != nil {
		return dst, Header{}, ErrDecrypt
	}
	if h.KID != k.kid {
		return dst, Header{}, ErrUnknownKey
	}
	return k.open(dst, metadata, frame, h, n)
}

// open is Open after the header h (n bytes) has been parsed and its KID
// matched.
func (k *ReceiverKey) open(dst, metadata, frame []byte, h Header, n int) ([]byte, Header, error) {
	if len(frame)-n < TagSize {
		return dst, Header{}, ErrDecrypt
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.key.aead == nil {
		return dst, Header{}, ErrUnknownKey
	}
	if !k.window.check(h.CTR) {
		return dst, Header{}, ErrReplay
	}
	aad := k.key.setAAD(frame[:n], metadata)
	out, err := k.key.aead.Open(dst, k.key.setNonce(h.CTR), frame[n:], aad)
	if err != nil {
		return dst, Header{}, ErrDecrypt
	}
	k.window.accept(h.CTR)
	return out, h, nil
}

// Wipe drops the key; later Open calls fail with ErrUnknownKey.
func (k *ReceiverKey) Wipe() {
	k.mu.Lock()
	k.key.wipe()
	k.window = replayWindow{}
	k.mu.Unlock()
}

// Receiver is a table of receiving keys by KID for one cipher suite: the
// key store of RFC 9605 section 4.4.4. It is safe for concurrent use.
type Receiver struct {
	suite CipherSuite

	mu   sync.RWMutex
	keys map[uint64]*ReceiverKey
}

// NewReceiver returns an empty table for suite.
func NewReceiver(suite CipherSuite) (*Receiver, error) {
	if _, _, err := suite.params(); err != nil {
		return nil, err
	}
	return &Receiver{suite: suite, keys: make(map[uint64]*ReceiverKey)}, nil
}

// AddKey derives and registers the key for kid from baseKey. It fails with
// ErrDuplicateKID if kid already has a key. AddKey does not keep baseKey.
func (r *Receiver) AddKey(kid uint64, baseKey []byte) error {
	k, err := NewReceiverKey(r.suite, kid, baseKey)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.keys[kid]; ok {
		k.Wipe()
		return fmt.Errorf("%w: %#x", ErrDuplicateKID, kid)
	}
	r.keys[kid] = k
	return nil
}

// RemoveKey wipes and forgets the key for kid, if any.
func (r *Receiver) RemoveKey(kid uint64) {
	r.mu.Lock()
	k := r.keys[kid]
	delete(r.keys, kid)
	r.mu.Unlock()
	if k != nil {
		k.Wipe()
	}
}

// Open decrypts frame with the key its header names; see ReceiverKey.Open.
// It fails with ErrUnknownKey if no key has the frame's KID.
func (r *Receiver) Open(dst, metadata, frame []byte) ([]byte, Header, error) {
	h, n, err := ParseHeader(frame)
	if err != nil {
		return dst, Header{}, ErrDecrypt
	}
	r.mu.RLock()
	k := r.keys[h.KID]
	r.mu.RUnlock()
	if k == nil {
		return dst, Header{}, ErrUnknownKey
	}
	return k.open(dst, metadata, frame, h, n)
}

// Wipe wipes and forgets every key.
func (r *Receiver) Wipe() {
	r.mu.Lock()
	keys := r.keys
	r.keys = make(map[uint64]*ReceiverKey)
	r.mu.Unlock()
	for _, k := range keys {
		k.Wipe()
	}
}
