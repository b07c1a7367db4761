package radio

import (
	"context"
	"crypto/ed25519"
	"sync"
	"sync/atomic"
	"time"

	"github.com/varta-ptt/varta/client"
	"github.com/varta-ptt/varta/codec"
	"github.com/varta-ptt/varta/protocol"
	"github.com/varta-ptt/varta/protocol/pb"
)

// Transmission is one received burst, decoded.
type Transmission struct {
	Talkgroup uint16
	Talker    uint32
	Alias     string // from the relay's Taken event; "" if none was seen
	Emergency bool
	Start     time.Time // first frame's arrival
	End       time.Time
	// PCM is the burst's audio at 48 kHz: decoded frames, FEC and PLC for
	// lost ones, and the talker's DTX pauses as silence, so its length is
	// the talker's speaking time.
	PCM []int16
	// Complete is set when the end-of-burst marker arrived (not a timeout).
	Complete bool
	Stats    codec.JitterStats
	// Verification says whether the talker's signature over the burst
	// checked out (see BurstCheck).
	Verification Verification
}

// ReceiverConfig configures a Receiver.
type ReceiverConfig struct {
	// Crypto opens the frames. Required.
	Crypto *client.Crypto
	// OnTransmission is called, from the Receiver's goroutine, for each
	// finished transmission. Required.
	OnTransmission func(Transmission)
	// OnStart, if set, is called when a new burst is first heard.
	OnStart func(tg uint16, talker uint32, alias string)
	// Jitter configures each burst's jitter buffer.
	Jitter codec.JitterConfig
	// Idle ends a burst whose marker was lost after this long without
	// frames. Default 1 s.
	Idle time.Duration
	// Drop, if set, is asked about every received datagram and drops it
	// when it returns true: a test hook to simulate loss.
	Drop func(datagram []byte) bool
	// SenderKey returns a talker's signing key, checked against the agency
	// CA, or nil while it is not known; Learn, if set, is told of a talker
	// whose key is not known when its burst starts, to fetch it (it must
	// not block). Without SenderKey, bursts are not checked.
	SenderKey func(unit uint32) ed25519.PublicKey
	Learn     func(unit uint32)
}

// Receiver turns received voice datagrams into transmissions. Feed it with
// Datagram and Event (safe from any goroutine) and run its playout clock
// with Run.
type Receiver struct {
	cfg ReceiverConfig

	mu      sync.Mutex
	bursts  map[burstKey]*burst
	aliases map[uint32]string

	refused atomic.Uint64 // frames that did not open

	live []*burst // owned by the playout goroutine (see snapshot)
}

type burstKey struct {
	tg     uint16
	talker uint32
}

// burst is one talker's transmission being received. The jitter buffer is
// safe for a pushing and a popping goroutine; mu guards gaps, ended and
// check, which both touch. unwrap, start, last and emergency are guarded
// by the Receiver's mu; pcm belongs to the playout goroutine.
type burst struct {
	key burstKey
	jb  *codec.JitterBuffer

	mu    sync.Mutex
	gaps  map[uint64]uint8 // DTX slots before each sequence number
	ended bool             // end-of-burst marker seen
	check *BurstCheck      // the signature check

	unwrap    SeqUnwrapper
	start     time.Time
	last      time.Time
	emergency bool

	pcm []int16
}

// NewReceiver returns a Receiver.
func NewReceiver(cfg ReceiverConfig) *Receiver {
	if cfg.Idle == 0 {
		cfg.Idle = time.Second
	}
	return &Receiver{cfg: cfg, bursts: make(map[burstKey]*burst), aliases: make(map[uint32]string)}
}

// Refused counts frames that failed to open (tampered, replayed, wrong key).
func (r *Receiver) Refused() uint64 { return r.refused.Load() }

// Event takes note of talker aliases from floor events.
func (r *Receiver) Event(env *pb.Envelope) {
	if fe := env.GetFloorEvent(); fe != nil && fe.Kind == pb.FloorEventKind_FLOOR_EVENT_TAKEN {
		r.mu.Lock()
		r.aliases[fe.Talker] = fe.TalkerAlias
		r.mu.Unlock()
	}
}

// Datagram handles one received voice datagram that arrived at at.
func (r *Receiver) Datagram(d []byte, at time.Time) {
	if r.cfg.Drop != nil && r.cfg.Drop(d) {
		return
	}
	h, pt, _, err := r.cfg.Crypto.Open(nil, d)
	if err != nil {
		r.refused.Add(1)
		return
	}
	p, err := ParsePayload(pt)
	if err != nil {
		r.refused.Add(1)
		return
	}
	key := burstKey{h.Talkgroup, h.Sender}
	r.mu.Lock()
	b := r.bursts[key]
	if b == nil {
		jb, err := codec.NewJitterBuffer(r.cfg.Jitter)
		if err != nil {
			r.mu.Unlock()
			return
		}
		b = &burst{key: key, jb: jb, gaps: make(map[uint64]uint8), start: at, check: NewBurstCheck(key.tg, key.talker)}
		r.bursts[key] = b
		if r.cfg.SenderKey != nil && r.cfg.Learn != nil && r.cfg.SenderKey(h.Sender) == nil {
			r.cfg.Learn(h.Sender)
		}
		if r.cfg.OnStart != nil {
			alias := r.aliases[h.Sender]
			defer r.cfg.OnStart(key.tg, key.talker, alias)
		}
	}
	b.last = at
	b.emergency = b.emergency || h.Flags&protocol.FlagEmergency != 0
	seq := b.unwrap.Unwrap(p.Seq)
	end := h.Flags&protocol.FlagEndOfBurst != 0
	r.mu.Unlock()

	if end {
		// The marker carries no audio but the burst's signature; its gap
		// (trailing silence) is not played.
		var key ed25519.PublicKey
		if r.cfg.SenderKey != nil {
			key = r.cfg.SenderKey(h.Sender)
		}
		b.mu.Lock()
		b.ended = true
		if r.cfg.SenderKey != nil {
			b.check.End(Signature(h.Flags, p.Opus), key)
		}
		b.mu.Unlock()
		b.jb.End()
		return
	}
	b.mu.Lock()
	if p.Gap > 0 {
		b.gaps[seq] = p.Gap
	}
	if r.cfg.SenderKey != nil {
		b.check.Add(seq, d)
	}
	b.mu.Unlock()
	b.jb.Push(seq, p.Opus, false, at)
}

// Run plays out every burst every 20 ms until ctx is done, and hands each
// finished burst to OnTransmission.
func (r *Receiver) Run(ctx context.Context) {
	t := time.NewTicker(codec.FrameDuration)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			r.flush(time.Now())
			return
		case now := <-t.C:
			r.tick(now)
		}
	}
}

// tick plays one slot of every burst.
func (r *Receiver) tick(now time.Time) {
	for _, b := range r.snapshot() {
		p := b.jb.Pop(now)
		switch p.Kind {
		case codec.KindFrame, codec.KindFEC, codec.KindPLC:
			b.mu.Lock()
			gap := b.gaps[p.Seq]
			delete(b.gaps, p.Seq)
			b.mu.Unlock()
			if gap > 0 {
				b.pcm = append(b.pcm, make([]int16, int(gap)*codec.FrameSamples)...)
			}
			b.pcm = append(b.pcm, p.PCM...)
		case codec.KindDone:
			r.finish(b, now, true)
			continue
		}
		b.mu.Lock()
		ended := b.ended
		b.mu.Unlock()
		r.mu.Lock()
		idle := now.Sub(b.last) > r.cfg.Idle
		r.mu.Unlock()
		if !ended && idle && b.jb.Stats().Buffered == 0 {
			r.finish(b, now, false)
		}
	}
}

func (r *Receiver) finish(b *burst, now time.Time, complete bool) {
	r.mu.Lock()
	if r.bursts[b.key] == b {
		delete(r.bursts, b.key)
	}
	alias := r.aliases[b.key.talker]
	r.mu.Unlock()
	b.mu.Lock()
	v := b.check.Result()
	if r.cfg.SenderKey == nil {
		v = Verification{Why: "not checked"}
	}
	b.mu.Unlock()
	r.cfg.OnTransmission(Transmission{
		Talkgroup: b.key.tg, Talker: b.key.talker, Alias: alias, Emergency: b.emergency,
		Start: b.start, End: now, PCM: b.pcm, Complete: complete, Stats: b.jb.Stats(),
		Verification: v,
	})
}

// snapshot returns the bursts being received, in a slice reused from tick
// to tick. Called only from the playout goroutine.
func (r *Receiver) snapshot() []*burst {
	clear(r.live) // let finished bursts go
	r.live = r.live[:0]
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.bursts {
		r.live = append(r.live, b)
	}
	return r.live
}

// flush ends every burst at shutdown.
func (r *Receiver) flush(now time.Time) {
	for _, b := range r.snapshot() {
		if len(b.pcm) > 0 {
			r.finish(b, now, false)
		}
	}
}
