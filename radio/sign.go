package radio

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/varta-ptt/varta/client"
	"github.com/varta-ptt/varta/crypto/groupkey"
	"github.com/varta-ptt/varta/protocol"
)

// Burst signatures (DESIGN: sender authenticity inside a group). The
// talkgroup key proves only that a frame came from some member: any member
// can derive any sender's frame key. So the sender also signs each burst,
// per talkgroup, with its own Ed25519 key over the hash chain of the sealed
// frames it sent (crypto/groupkey), and puts the signature in the
// end-of-burst marker's payload where the audio would be. A receiver keeps
// the sealed frames of the burst, checks the signature with the key from
// the sender's certificate (checked against the agency CA) and marks the
// burst verified or not. Unverified is not proof of forgery: a lost frame
// or a lost marker also leaves a burst unverified.

// maxCheckFrames bounds the frames a receiver keeps to check one burst:
// 10 minutes of speech.
const maxCheckFrames = 10 * 60 * 50

// BurstSigners signs one transmission on each talkgroup it is sealed for.
// Not safe for concurrent use: the sender's voice loop owns it.
type BurstSigners struct {
	start func(tg uint16) (*groupkey.BurstSigner, error)
	m     map[uint16]*groupkey.BurstSigner
}

// NewBurstSigners starts signing a transmission; start makes each
// talkgroup's signer (client.Crypto.BurstSigner). With a nil start the
// transmission goes out unsigned.
func NewBurstSigners(start func(tg uint16) (*groupkey.BurstSigner, error)) *BurstSigners {
	return &BurstSigners{start: start, m: make(map[uint16]*groupkey.BurstSigner)}
}

// Add folds a sealed voice datagram, as sent (clear header included), into
// its talkgroup's chain. It is not called for the end-of-burst marker.
func (s *BurstSigners) Add(datagram []byte) {
	h, n, err := protocol.ParseVoiceHeader(datagram)
	if err != nil {
		return
	}
	sg := s.m[h.Talkgroup]
	if sg == nil {
		if s.start == nil {
			return
		}
		if sg, err = s.start(h.Talkgroup); err != nil {
			return // no signing key: the burst goes out unsigned
		}
		s.m[h.Talkgroup] = sg
	}
	sg.Add(datagram[n:])
}

// Signature returns the signature payload of the burst on tg, for its
// end-of-burst marker; nil if nothing was sent there or there is no key.
func (s *BurstSigners) Signature(tg uint16) []byte {
	if sg := s.m[tg]; sg != nil {
		return sg.Sign()
	}
	return nil
}

// Signature returns the burst signature an end-of-burst marker carries:
// its payload's audio part when the marker is flagged FlagSignature, else
// nil (not signed).
func Signature(flags uint8, audio []byte) []byte {
	if flags&protocol.FlagSignature == 0 {
		return nil
	}
	return audio
}

// Verification says whether a received burst was verified as sent by its
// talker.
type Verification struct {
	Verified bool
	// Why says, when not verified, why, for a person: "not signed",
	// "frames were lost", "the end of the burst was lost", "the talker's
	// certificate is not known", "the signature does not match".
	Why string
}

// String is "signature verified" or "UNVERIFIED: why".
func (v Verification) String() string {
	if v.Verified {
		return "signature verified"
	}
	return "UNVERIFIED: " + v.Why
}

// BurstCheck collects one received burst's sealed frames and checks its
// signature at the end. Not safe for concurrent use.
type BurstCheck struct {
	tg     uint16
	unit   uint32
	frames []sealedFrame
	over   bool
	result *Verification
}

type sealedFrame struct {
	seq    uint64
	sealed []byte
}

// NewBurstCheck starts checking a burst of unit on tg.
func NewBurstCheck(tg uint16, unit uint32) *BurstCheck {
	return &BurstCheck{tg: tg, unit: unit}
}

// Add keeps a received voice datagram (not the end marker) whose payload
// sequence number, unwrapped, is seq.
func (c *BurstCheck) Add(seq uint64, datagram []byte) {
	if len(c.frames) >= maxCheckFrames {
		c.over = true
		return
	}
	c.frames = append(c.frames, sealedFrame{seq, slices.Clone(datagram[protocol.VoiceHeaderLen:])})
}

// End checks the burst against the signature payload of its end marker,
// with key, the talker's verified public key (nil if unknown).
func (c *BurstCheck) End(sig []byte, key ed25519.PublicKey) Verification {
	v := c.check(sig, key)
	c.result = &v
	c.frames = nil
	return v
}

func (c *BurstCheck) check(sig []byte, key ed25519.PublicKey) Verification {
	switch {
	case len(sig) == 0:
		return Verification{Why: "not signed"}
	case c.over:
		return Verification{Why: "too long to check"}
	case key == nil:
		return Verification{Why: "the talker's certificate is not known"}
	}
	ver, err := groupkey.NewBurstVerifier(key, c.tg, c.unit)
	if err != nil {
		return Verification{Why: "the talker's key is not usable"}
	}
	fs := slices.Clone(c.frames)
	slices.SortStableFunc(fs, func(a, b sealedFrame) int { return cmp.Compare(a.seq, b.seq) })
	fs = slices.CompactFunc(fs, func(a, b sealedFrame) bool { return a.seq == b.seq })
	for _, f := range fs {
		ver.Add(f.sealed)
	}
	err = ver.Verify(sig)
	switch {
	case err == nil:
		return Verification{Verified: true}
	case errors.Is(err, groupkey.ErrBurstFrames):
		return Verification{Why: "frames were lost"}
	}
	return Verification{Why: "the signature does not match"}
}

// Result returns the verification once End has run, else one that says
// the end of the burst was lost.
func (c *BurstCheck) Result() Verification {
	if c.result != nil {
		return *c.result
	}
	return Verification{Why: "the end of the burst was lost"}
}

// SenderKeys adapts client.Crypto's cache of verified talker keys, and
// fetches the certificates of talkers it does not know yet, in the
// background, one fetch per unit at a time, each bounded in time.
type SenderKeys struct {
	ctx     context.Context
	cr      *client.Crypto
	session func() *client.Client
	mu      sync.Mutex
	pending map[uint32]bool
}

// NewSenderKeys returns the talker keys of cr; session returns the current
// session (nil while disconnected). Fetches stop when ctx is done.
func NewSenderKeys(ctx context.Context, cr *client.Crypto, session func() *client.Client) *SenderKeys {
	return &SenderKeys{ctx: ctx, cr: cr, session: session, pending: make(map[uint32]bool)}
}

// Key returns unit's verified signing key, or nil while it is not known.
func (s *SenderKeys) Key(unit uint32) ed25519.PublicKey {
	k, _ := s.cr.SenderKey(unit)
	return k
}

// Learn fetches unit's certificate in the background unless a fetch is
// under way. It does not block.
func (s *SenderKeys) Learn(unit uint32) {
	c := s.session()
	if c == nil {
		return
	}
	s.mu.Lock()
	if s.pending[unit] {
		s.mu.Unlock()
		return
	}
	s.pending[unit] = true
	s.mu.Unlock()
	go func() {
		defer func() {
			s.mu.Lock()
			delete(s.pending, unit)
			s.mu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(s.ctx, learnTimeout)
		defer cancel()
		s.cr.LearnSenders(ctx, c, unit)
	}()
}

// learnTimeout bounds one certificate fetch.
const learnTimeout = 5 * time.Second
