package tui

import (
	"context"
	"crypto/ed25519"
	"sync"
	"sync/atomic"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/varta-ptt/varta/codec"
	"github.com/varta-ptt/varta/crypto/groupkey"
	"github.com/varta-ptt/varta/protocol"
	"github.com/varta-ptt/varta/protocol/pb"
	"github.com/varta-ptt/varta/radio"
)

// opener opens received voice datagrams; *client.Crypto implements it.
type opener interface {
	Open(dst, datagram []byte) (protocol.VoiceHeader, []byte, groupkey.FrameInfo, error)
}

// liveRxConfig configures a liveRx.
type liveRxConfig struct {
	open   opener
	jitter codec.JitterConfig
	// idle ends a burst whose end marker was lost. Default 1 s.
	idle time.Duration
	// gain is how loud a talkgroup's audio goes to the speaker: 0 mutes
	// it, 1 is as received.
	gain func(tg uint16) float64
	// recall, if set, receives each finished transmission for instant
	// recall.
	recall func(*Recording)
	// out plays one mixed 20 ms frame; it must not block. Nil: nothing
	// is played (the bursts are still followed, for TalkerMsg).
	out func(pcm []int16)
	// send delivers TalkerMsg to the screen; it must not block.
	send func(tea.Msg)
	// senderKey returns a talker's signing key, checked against the agency
	// CA, or nil while unknown; learn is told of a talker whose key is not
	// known when its burst starts (it must not block). Without senderKey
	// bursts are not checked.
	senderKey func(unit uint32) ed25519.PublicKey
	learn     func(unit uint32)
}

// liveRx is the screens' receiver for live listening (radio and
// console). Package radio's Receiver hands over a transmission's audio
// when it has ended; this one plays as it goes: every 20 ms it pops a slot
// from each talker's jitter buffer and mixes them, each at its
// talkgroup's gain, into the speaker, with any recalled transmission
// being replayed. With cfg.recall it also keeps each burst's frames for
// instant recall. datagram and event are called from the voice and event
// pumps; run owns the playout clock.
type liveRx struct {
	cfg liveRxConfig

	mu      sync.Mutex // guards bursts, aliases and the fields of rxBurst marked so
	bursts  map[burstKey]*rxBurst
	aliases map[uint32]string

	refused atomic.Uint64 // datagrams that failed to open or parse

	// replay is a recalled transmission being played, mixed in with the
	// live audio; guarded by mu.
	replay []int16

	// Owned by the playout goroutine.
	mix  []int32
	pcm  []int16
	live []*rxBurst // see snapshot
}

type burstKey struct {
	tg     uint16
	talker uint32
}

// rxBurst is one talker's transmission being heard.
type rxBurst struct {
	key burstKey
	jb  *codec.JitterBuffer

	// Guarded by liveRx.mu.
	unwrap    radio.SeqUnwrapper
	last      time.Time
	emergency bool
	alias     string
	rec       *Recording // nil without cfg.recall
	check     *radio.BurstCheck

	ended atomic.Bool // the end-of-burst marker arrived

	// Owned by the playout goroutine.
	played, concealed int
}

func newLiveRx(cfg liveRxConfig) *liveRx {
	if cfg.idle == 0 {
		cfg.idle = time.Second
	}
	if cfg.gain == nil {
		cfg.gain = func(uint16) float64 { return 1 }
	}
	if cfg.send == nil {
		cfg.send = func(tea.Msg) {}
	}
	return &liveRx{
		cfg:     cfg,
		bursts:  make(map[burstKey]*rxBurst),
		aliases: make(map[uint32]string),
		mix:     make([]int32, codec.FrameSamples),
		pcm:     make([]int16, codec.FrameSamples),
	}
}

// event takes note of talker aliases from floor events.
func (r *liveRx) event(fe *pb.FloorEvent) {
	if fe != nil && fe.Kind == pb.FloorEventKind_FLOOR_EVENT_TAKEN {
		r.mu.Lock()
		r.aliases[fe.Talker] = fe.TalkerAlias
		r.mu.Unlock()
	}
}

// datagram handles a voice datagram that arrived at at.
func (r *liveRx) datagram(d []byte, at time.Time) {
	h, pt, _, err := r.cfg.open.Open(nil, d)
	if err != nil {
		r.refused.Add(1)
		return
	}
	p, err := radio.ParsePayload(pt)
	if err != nil {
		r.refused.Add(1)
		return
	}
	key := burstKey{h.Talkgroup, h.Sender}
	var start *TalkerMsg
	r.mu.Lock()
	b := r.bursts[key]
	if b == nil {
		jb, err := codec.NewJitterBuffer(r.cfg.jitter)
		if err != nil {
			r.mu.Unlock()
			return
		}
		b = &rxBurst{key: key, jb: jb, alias: r.aliases[h.Sender], check: radio.NewBurstCheck(key.tg, key.talker)}
		if r.cfg.senderKey != nil && r.cfg.learn != nil && r.cfg.senderKey(h.Sender) == nil {
			r.cfg.learn(h.Sender)
		}
		if r.cfg.recall != nil {
			b.rec = &Recording{Talkgroup: key.tg, Unit: key.talker, Alias: b.alias, Start: at}
		}
		r.bursts[key] = b
		start = &TalkerMsg{Talkgroup: uint32(key.tg), Unit: key.talker, Alias: b.alias, Active: true}
	}
	b.last = at
	b.emergency = b.emergency || h.Flags&protocol.FlagEmergency != 0
	if start != nil {
		start.Emergency = b.emergency
	}
	seq := b.unwrap.Unwrap(p.Seq)
	end := h.Flags&protocol.FlagEndOfBurst != 0
	if b.rec != nil {
		b.rec.add(seq, p, at, end)
	}
	if r.cfg.senderKey != nil {
		if end {
			// The end marker carries the burst's signature.
			b.check.End(radio.Signature(h.Flags, p.Opus), r.cfg.senderKey(h.Sender))
		} else {
			b.check.Add(seq, d)
		}
	}
	r.mu.Unlock()
	if start != nil {
		r.cfg.send(*start)
	}
	if end {
		// The marker carries no audio.
		b.ended.Store(true)
		b.jb.End()
		return
	}
	b.jb.Push(seq, p.Opus, false, at)
}

// run plays a slot of every burst every 20 ms until ctx is done.
func (r *liveRx) run(ctx context.Context) {
	t := time.NewTicker(codec.FrameDuration)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			r.flush()
			return
		case now := <-t.C:
			r.tick(now)
		}
	}
}

// tick plays one 20 ms slot. Called only from the playout goroutine.
func (r *liveRx) tick(now time.Time) {
	clear(r.mix)
	mixed := false
	for _, b := range r.snapshot() {
		p := b.jb.Pop(now)
		switch p.Kind {
		case codec.KindDone:
			r.finish(b, true)
			continue
		case codec.KindSilence:
		case codec.KindFrame:
			b.played++
		case codec.KindFEC, codec.KindPLC:
			b.played++
			b.concealed++
		}
		if g := r.cfg.gain(b.key.tg); p.Kind != codec.KindSilence && g > 0 {
			mixInto(r.mix, p.PCM, g)
			mixed = true
		}
		r.mu.Lock()
		idle := now.Sub(b.last) > r.cfg.idle
		r.mu.Unlock()
		if idle && !b.ended.Load() && b.jb.Stats().Buffered == 0 {
			r.finish(b, false)
		}
	}
	r.mu.Lock()
	if len(r.replay) > 0 {
		n := min(len(r.replay), len(r.mix))
		mixInto(r.mix[:n], r.replay[:n], 1)
		r.replay = r.replay[n:]
		mixed = true
	}
	r.mu.Unlock()
	if mixed && r.cfg.out != nil {
		for i, v := range r.mix {
			r.pcm[i] = int16(min(max(v, -32768), 32767))
		}
		r.cfg.out(r.pcm)
	}
}

// mixInto adds pcm at gain g to mix.
func mixInto(mix []int32, pcm []int16, g float64) {
	if g == 1 {
		for i, s := range pcm {
			mix[i] += int32(s)
		}
		return
	}
	for i, s := range pcm {
		mix[i] += int32(float64(s) * g)
	}
}

// play mixes pcm into the speaker from the next slot on, in place of any
// replay still playing; nil stops the replay.
func (r *liveRx) play(pcm []int16) {
	r.mu.Lock()
	r.replay = pcm
	r.mu.Unlock()
}

// finish ends a burst and tells the screen.
func (r *liveRx) finish(b *rxBurst, complete bool) {
	r.mu.Lock()
	if r.bursts[b.key] == b {
		delete(r.bursts, b.key)
	}
	alias := r.aliases[b.key.talker]
	emergency := b.emergency
	rec := b.rec
	v := b.check.Result()
	if r.cfg.senderKey == nil {
		v = radio.Verification{Why: "not checked"}
	}
	if rec != nil {
		rec.Alias, rec.Emergency, rec.Complete, rec.Verification = alias, emergency, complete, v
	}
	r.mu.Unlock()
	if rec != nil && len(rec.frames) > 0 {
		r.cfg.recall(rec)
	}
	r.cfg.send(TalkerMsg{
		Talkgroup: uint32(b.key.tg), Unit: b.key.talker, Alias: alias, Emergency: emergency,
		Heard: time.Duration(b.played) * codec.FrameDuration, Concealed: b.concealed, Complete: complete,
		Verification: v,
	})
}

// snapshot returns the bursts being heard, in a slice reused from tick to
// tick. Called only from the playout goroutine.
func (r *liveRx) snapshot() []*rxBurst {
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
func (r *liveRx) flush() {
	for _, b := range r.snapshot() {
		r.finish(b, false)
	}
}
