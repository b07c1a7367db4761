package groupkey

import (
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/subtle"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/varta-ptt/varta/crypto/sframe"
)

// DefaultOverlap is how long the previous epoch still opens frames after a
// newer epoch key arrives, unless Config.Overlap says otherwise.
const DefaultOverlap = 10 * time.Second

// MaxSendersPerEpoch caps the senders whose keys a Keyring keeps per
// talkgroup and epoch. Keys are only kept for senders whose frames
// authenticated, so only a member can fill this; past it, new senders'
// frames are rejected as unknown keys.
const MaxSendersPerEpoch = 4096

// Config configures a Keyring.
type Config struct {
	// Unit is this unit's ID, 1..16777215. Required.
	Unit uint32
	// Overlap is how long the previous epoch of a talkgroup still opens
	// frames after a newer epoch key is installed. Zero means
	// DefaultOverlap (10 s); a negative value means no overlap.
	Overlap time.Duration
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// Keyring holds one unit's epoch keys, per talkgroup the current epoch and,
// for Overlap after a newer one arrived, the previous one. It seals the
// unit's own frames under the current epoch (Sealer) and opens other
// members' frames by their key ID (Open). It is safe for concurrent use.
//
// Frame counters. Every sender key is derived from the epoch key, so a unit
// that restarted and received the same epoch again would derive the same
// key; reusing a counter with it would break AES-GCM. To keep counters
// unique across restarts without storing them, the sealer sets each
// frame's counter to at least the milliseconds elapsed since the epoch's
// creation time (Bundle.Created), by the injected clock. This holds as long
// as the unit's clock does not run backwards across a restart (radios keep
// GNSS or NTP time), and it keeps the SFrame counter at 3-4 bytes for
// epochs of up to 4.6 hours / 49 days. It also means the replay window of
// 1024 counters spans about one second of reordering. No two devices may
// use the same unit ID at once: the relay must refuse a second session.
type Keyring struct {
	unit    uint32
	overlap time.Duration
	now     func() time.Time

	mu     sync.RWMutex
	groups map[uint16]*group // guarded by mu

	opened, unknownKey, replay, authFailed atomic.Uint64
}

// group is one talkgroup's epochs, guarded by Keyring.mu.
type group struct {
	cur       *epochState
	prev      *epochState // nil, or valid until prevUntil
	prevUntil time.Time
}

// epochState is one epoch of one talkgroup. Its fields other than
// receivers and wiped are set once; receivers and wiped are guarded by
// Keyring.mu.
type epochState struct {
	tg      uint16
	epoch   uint32
	created time.Time
	key     [EpochKeySize]byte
	sender  *sframe.Sender // this unit's own key: sealing only
	// receivers holds the other senders' keys, added when their first
	// frame authenticates.
	receivers map[uint32]*sframe.ReceiverKey
	wiped     bool
}

// New returns an empty Keyring for cfg.Unit.
func New(cfg Config) (*Keyring, error) {
	if err := checkUnit(cfg.Unit); err != nil {
		return nil, err
	}
	k := &Keyring{unit: cfg.Unit, overlap: cfg.Overlap, now: cfg.Now, groups: make(map[uint16]*group)}
	if k.overlap == 0 {
		k.overlap = DefaultOverlap
	}
	if k.now == nil {
		k.now = time.Now
	}
	return k, nil
}

// InstallBundle verifies b with the KMF's public key, opens this unit's
// sealed epoch key with its HPKE private key and installs it with
// SetEpochKey.
func (k *Keyring) InstallBundle(b *Bundle, kmf ed25519.PublicKey, key hpke.PrivateKey) error {
	epochKey, err := b.Open(kmf, key, k.unit)
	if err != nil {
		return err
	}
	defer clear(epochKey)
	return k.SetEpochKey(b.Talkgroup, b.Epoch, b.Created, epochKey)
}

// SetEpochKey installs epochKey as the current epoch of talkgroup tg,
// created at created (Bundle.Created). The current epoch becomes the
// previous one, which opens frames for the Overlap from now and is then
// wiped; this unit seals under the new epoch at once. An older epoch, or
// the current epoch with a different key, is refused with ErrStaleEpoch;
// the current epoch with the same key is a no-op. SetEpochKey copies
// epochKey.
func (k *Keyring) SetEpochKey(tg uint16, epoch uint32, created time.Time, epochKey []byte) error {
	if err := checkIDs(tg, epoch, k.unit); err != nil {
		return err
	}
	if len(epochKey) != EpochKeySize {
		return fmt.Errorf("%w: epoch key is %d bytes, want %d", ErrInvalid, len(epochKey), EpochKeySize)
	}
	if created.UnixMilli() <= 0 {
		return fmt.Errorf("%w: epoch creation time %v is not after 1970", ErrInvalid, created)
	}
	es, err := newEpochState(tg, epoch, created, epochKey, k.unit)
	if err != nil {
		return err
	}
	now := k.now()

	k.mu.Lock()
	defer k.mu.Unlock()
	g := k.groups[tg]
	if g == nil {
		g = &group{}
		k.groups[tg] = g
	}
	if cur := g.cur; cur != nil {
		switch {
		case epoch == cur.epoch && subtle.ConstantTimeCompare(epochKey, cur.key[:]) == 1:
			es.wipe()
			return nil
		case epoch <= cur.epoch:
			es.wipe()
			return fmt.Errorf("%w: talkgroup %d has epoch %d, got epoch %d", ErrStaleEpoch, tg, cur.epoch, epoch)
		}
	}
	if g.prev != nil {
		g.prev.wipe()
		g.prev = nil
	}
	if cur := g.cur; cur != nil {
		// The old epoch no longer seals. It keeps opening for the
		// overlap, unless its KID bits collide with the new epoch's.
		cur.sender.Wipe()
		if k.overlap > 0 && uint16(cur.epoch) != uint16(epoch) {
			g.prev, g.prevUntil = cur, now.Add(k.overlap)
		} else {
			cur.wipe()
		}
	}
	g.cur = es
	return nil
}

func newEpochState(tg uint16, epoch uint32, created time.Time, epochKey []byte, self uint32) (*epochState, error) {
	es := &epochState{tg: tg, epoch: epoch, created: created, receivers: make(map[uint32]*sframe.ReceiverKey)}
	copy(es.key[:], epochKey)
	base, err := SenderKey(es.key[:], tg, epoch, self)
	if err != nil {
		return nil, err
	}
	defer clear(base)
	if es.sender, err = sframe.NewSender(Suite, MakeKID(epoch, self), base); err != nil {
		clear(es.key[:])
		return nil, err
	}
	return es, nil
}

// wipe zeroes the epoch key and wipes every SFrame key derived from it.
// The caller holds Keyring.mu for writing (or is the only owner).
func (es *epochState) wipe() {
	clear(es.key[:])
	es.sender.Wipe()
	for u, rk := range es.receivers {
		rk.Wipe()
		delete(es.receivers, u)
	}
	es.wiped = true
}

// Epoch returns the current epoch of talkgroup tg, if any.
func (k *Keyring) Epoch(tg uint16) (uint32, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if g := k.groups[tg]; g != nil && g.cur != nil {
		return g.cur.epoch, true
	}
	return 0, false
}

// Forget wipes and drops every key of talkgroup tg (the unit left it).
func (k *Keyring) Forget(tg uint16) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if g := k.groups[tg]; g != nil {
		g.wipe()
		delete(k.groups, tg)
	}
}

// Zeroize wipes and drops every key of every talkgroup: epoch keys, this
// unit's sealing keys and all receiving keys. The keyring stays usable for
// new epoch keys. (Go's AES keeps an expanded key schedule that cannot be
// zeroed from outside; Zeroize drops every reference to it.)
func (k *Keyring) Zeroize() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for tg, g := range k.groups {
		g.wipe()
		delete(k.groups, tg)
	}
}

func (g *group) wipe() {
	if g.cur != nil {
		g.cur.wipe()
	}
	if g.prev != nil {
		g.prev.wipe()
	}
	g.cur, g.prev = nil, nil
}

// Sealer returns the sealer for this unit's frames in talkgroup tg. It
// always seals under the talkgroup's current epoch, so it follows rekeys.
func (k *Keyring) Sealer(tg uint16) *Sealer { return &Sealer{k: k, tg: tg} }

// Sealer seals one unit's frames for one talkgroup; see Keyring.Sealer.
// It is safe for concurrent use.
type Sealer struct {
	k  *Keyring
	tg uint16
}

// Seal appends the SFrame ciphertext of plaintext to dst under the current
// epoch of the talkgroup, with metadata (the clear voice header) as
// associated data; see sframe.Sender.Seal. It does not allocate when dst
// has room for len(plaintext)+sframe.MaxOverhead more bytes. It fails with
// ErrNoEpochKey when the keyring has no epoch key for the talkgroup.
func (s *Sealer) Seal(dst, metadata, plaintext []byte) ([]byte, error) {
	now := s.k.now()
	// A rekey or Zeroize between looking up the sender and sealing wipes
	// that sender; look up again once.
	for range 2 {
		s.k.mu.RLock()
		var snd *sframe.Sender
		var created time.Time
		if g := s.k.groups[s.tg]; g != nil && g.cur != nil {
			snd, created = g.cur.sender, g.cur.created
		}
		s.k.mu.RUnlock()
		if snd == nil {
			return dst, fmt.Errorf("%w %d", ErrNoEpochKey, s.tg)
		}
		if d := now.Sub(created); d > 0 {
			snd.AdvanceTo(uint64(d.Milliseconds()))
		}
		out, err := snd.Seal(dst, metadata, plaintext)
		if err != sframe.ErrWiped {
			return out, err
		}
	}
	return dst, fmt.Errorf("%w %d", ErrNoEpochKey, s.tg)
}

// FrameInfo describes a frame Open accepted.
type FrameInfo struct {
	Unit    uint32 // the sender, from the key ID
	Epoch   uint32 // the epoch whose key opened the frame
	Counter uint64 // the SFrame counter
}

// Open opens an SFrame ciphertext that unit sender sent to talkgroup tg,
// with metadata as the sender sealed it (for Varta, the clear voice header,
// whose talkgroup and sender are tg and sender). It appends the plaintext
// to dst. It does not allocate when dst has room for the plaintext, except
// on the first frame from a sender in an epoch, which derives that
// sender's key.
//
// Open fails with the sframe package's errors: sframe.ErrUnknownKey when
// the key ID names an epoch the keyring does not hold for tg (or no longer,
// after the overlap), or this unit itself (its key seals only);
// sframe.ErrReplay for a replayed or too old frame; and the opaque
// sframe.ErrDecrypt for everything else, including a key ID whose unit is
// not sender. Each rejection is counted in Stats.
func (k *Keyring) Open(dst []byte, tg uint16, sender uint32, metadata, frame []byte) ([]byte, FrameInfo, error) {
	out, info, err := k.open(dst, tg, sender, metadata, frame)
	switch err {
	case nil:
		k.opened.Add(1)
		return out, info, nil
	case sframe.ErrUnknownKey:
		k.unknownKey.Add(1)
	case sframe.ErrReplay:
		k.replay.Add(1)
	default:
		k.authFailed.Add(1)
	}
	return out, FrameInfo{}, err
}

func (k *Keyring) open(dst []byte, tg uint16, sender uint32, metadata, frame []byte) ([]byte, FrameInfo, error) {
	h, _, err := sframe.ParseHeader(frame)
	if err != nil {
		return dst, FrameInfo{}, sframe.ErrDecrypt
	}
	epoch16, unit, ok := SplitKID(h.KID)
	if !ok || unit == k.unit {
		return dst, FrameInfo{}, sframe.ErrUnknownKey
	}
	if unit != sender {
		return dst, FrameInfo{}, sframe.ErrDecrypt
	}
	now := k.now()

	k.mu.RLock()
	es, expired := k.epochFor(tg, epoch16, now)
	var rk *sframe.ReceiverKey
	if es != nil {
		rk = es.receivers[unit]
	}
	k.mu.RUnlock()
	if expired {
		k.dropExpired(tg, now)
	}
	if es == nil {
		return dst, FrameInfo{}, sframe.ErrUnknownKey
	}
	info := FrameInfo{Unit: unit, Epoch: es.epoch, Counter: h.CTR}
	if rk == nil {
		out, err := k.firstFrame(es, unit, dst, metadata, frame)
		return out, info, err
	}
	out, _, err := rk.Open(dst, metadata, frame)
	return out, info, err
}

// epochFor returns the epoch of tg whose low 16 bits are epoch16 and that
// may open frames at now. expired reports that the previous epoch matched
// but its overlap has ended. The caller holds mu.
func (k *Keyring) epochFor(tg uint16, epoch16 uint16, now time.Time) (es *epochState, expired bool) {
	g := k.groups[tg]
	switch {
	case g == nil:
		return nil, false
	case g.cur != nil && uint16(g.cur.epoch) == epoch16:
		return g.cur, false
	case g.prev != nil && uint16(g.prev.epoch) == epoch16:
		if now.Before(g.prevUntil) {
			return g.prev, false
		}
		return nil, true
	}
	return nil, false
}

// dropExpired wipes tg's previous epoch if its overlap has ended.
func (k *Keyring) dropExpired(tg uint16, now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if g := k.groups[tg]; g != nil && g.prev != nil && !now.Before(g.prevUntil) {
		g.prev.wipe()
		g.prev = nil
	}
}

// firstFrame opens the first frame of sender unit in epoch es with a
// freshly derived key, and keeps the key only if the frame authenticates,
// so that forged key IDs cost no memory.
func (k *Keyring) firstFrame(es *epochState, unit uint32, dst, metadata, frame []byte) ([]byte, error) {
	k.mu.RLock()
	wiped := es.wiped
	var epochKey [EpochKeySize]byte
	epochKey = es.key
	k.mu.RUnlock()
	if wiped {
		return dst, sframe.ErrUnknownKey
	}
	base, err := SenderKey(epochKey[:], es.tg, es.epoch, unit)
	clear(epochKey[:])
	if err != nil {
		return dst, sframe.ErrUnknownKey
	}
	candidate, err := sframe.NewReceiverKey(Suite, MakeKID(es.epoch, unit), base)
	clear(base)
	if err != nil {
		return dst, sframe.ErrUnknownKey
	}

	k.mu.Lock()
	defer k.mu.Unlock()
	if es.wiped {
		candidate.Wipe()
		return dst, sframe.ErrUnknownKey
	}
	if rk := es.receivers[unit]; rk != nil {
		// Another goroutine added the key meanwhile: use it, so that
		// the sender has one replay window.
		candidate.Wipe()
		out, _, err := rk.Open(dst, metadata, frame)
		return out, err
	}
	if len(es.receivers) >= MaxSendersPerEpoch {
		candidate.Wipe()
		return dst, sframe.ErrUnknownKey
	}
	out, _, err := candidate.Open(dst, metadata, frame)
	if err != nil {
		candidate.Wipe()
		return dst, err
	}
	es.receivers[unit] = candidate
	return out, nil
}

// Stats counts what Open did since the keyring was made.
type Stats struct {
	Opened     uint64 // frames opened
	UnknownKey uint64 // rejected: no key for the key ID (epoch not held, overlap over, own key ID)
	Replay     uint64 // rejected: replayed or too old
	AuthFailed uint64 // rejected: malformed, or failed authentication
}

// Stats returns the keyring's counters.
func (k *Keyring) Stats() Stats {
	return Stats{
		Opened:     k.opened.Load(),
		UnknownKey: k.unknownKey.Load(),
		Replay:     k.replay.Load(),
		AuthFailed: k.authFailed.Load(),
	}
}
