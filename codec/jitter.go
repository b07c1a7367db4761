package codec

import (
	"fmt"
	"sync"
	"time"
)

// Kind says what a JitterBuffer played in one 20 ms slot.
type Kind uint8

// Playout kinds.
const (
	// KindSilence: the burst has not started playing yet (no frame, or the
	// buffer is filling to its start depth). The PCM is silence.
	KindSilence Kind = iota
	// KindFrame: the slot's own frame, decoded.
	KindFrame
	// KindFEC: the slot's frame was lost; it was recovered from the in-band
	// FEC data of the next frame.
	KindFEC
	// KindPLC: the slot's frame was lost (or corrupt) and the next frame had
	// no FEC for it; libopus concealed it.
	KindPLC
	// KindUnderrun: the buffer ran dry mid-burst (a network stall, or a
	// pause while the talker's encoder was in DTX). The PCM is concealment
	// fading to silence; the buffer refills to its target depth before it
	// plays on.
	KindUnderrun
	// KindStretch: the buffer holds less than its target depth (jitter grew),
	// so it played concealment and kept the next frame for the next slot,
	// adding 20 ms of delay.
	KindStretch
	// KindDone: the burst ended (end flag or End) and everything buffered has
	// been played. The PCM is silence.
	KindDone
)

func (k Kind) String() string {
	switch k {
	case KindSilence:
		return "silence"
	case KindFrame:
		return "frame"
	case KindFEC:
		return "FEC"
	case KindPLC:
		return "PLC"
	case KindUnderrun:
		return "underrun"
	case KindStretch:
		return "stretch"
	case KindDone:
		return "done"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Playout is one 20 ms slot of audio from JitterBuffer.Pop.
type Playout struct {
	// PCM always holds FrameSamples samples. It is owned by the JitterBuffer
	// and valid until the next Pop: read or copy it, do not keep it.
	PCM  []int16
	Kind Kind
	// Seq is the sequence number the slot stands for (KindFrame, KindFEC,
	// KindPLC) or, for KindUnderrun and KindStretch, the frame the buffer is
	// waiting for; zero for the other kinds.
	Seq uint64
}

// Defaults for JitterConfig.
const (
	DefaultStartDepth = 60 * time.Millisecond
	DefaultMinDepth   = 40 * time.Millisecond
	DefaultMaxDepth   = 200 * time.Millisecond
)

// JitterConfig configures a JitterBuffer. Depths are rounded to whole 20 ms
// frames.
type JitterConfig struct {
	// StartDepth is the buffering delay a burst starts with, kept until
	// enough arrivals have been seen to measure jitter. Default 60 ms.
	StartDepth time.Duration
	// MinDepth and MaxDepth bound the adaptive target depth. Defaults 40 ms
	// and 200 ms; MaxDepth may be at most 960 ms.
	MinDepth time.Duration
	MaxDepth time.Duration
	// DisableFEC makes the buffer conceal every lost frame with PLC, even when
	// the next frame carries FEC data. For measurements; default false.
	DisableFEC bool
	// NoTrim keeps every frame: the buffer never drops one to bring its
	// delay back down after a burst of late arrivals. For recording, where
	// completeness matters more than latency; default false (live playout).
	NoTrim bool
}

const (
	ringSize      = 64  // frames held at most (1.28 s); a power of two
	maxDepthLimit = 48  // frames; leaves room in the ring for early frames
	jitterWindow  = 100 // arrivals (2 s) over which jitter is measured
	jitterWarmup  = 25  // arrivals before the measurement may go below StartDepth
	maxConceal    = 5   // underrun slots concealed with PLC before plain silence

	// The buffering delay (see JitterStats.Delay) is kept within
	// [target-stretchBelow, target+trimAbove): below, a slot is stretched;
	// above, a frame is dropped. A burst starts at target +-startSlack.
	stretchBelow = 20 * time.Millisecond
	trimAbove    = 40 * time.Millisecond
	startSlack   = 10 * time.Millisecond
)

func frames(d time.Duration) int {
	return int((d + FrameDuration/2) / FrameDuration)
}

func (c *JitterConfig) fill() error {
	if c.StartDepth == 0 {
		c.StartDepth = DefaultStartDepth
	}
	if c.MinDepth == 0 {
		c.MinDepth = DefaultMinDepth
	}
	if c.MaxDepth == 0 {
		c.MaxDepth = DefaultMaxDepth
	}
	minF, startF, maxF := frames(c.MinDepth), frames(c.StartDepth), frames(c.MaxDepth)
	switch {
	case minF < 1:
		return fmt.Errorf("%w: minimum jitter depth %v is under one 20 ms frame", ErrConfig, c.MinDepth)
	case maxF > maxDepthLimit:
		return fmt.Errorf("%w: maximum jitter depth %v is over %v", ErrConfig, c.MaxDepth, maxDepthLimit*FrameDuration)
	case minF > startF || startF > maxF:
		return fmt.Errorf("%w: jitter depths must satisfy min %v <= start %v <= max %v",
			ErrConfig, c.MinDepth, c.StartDepth, c.MaxDepth)
	}
	return nil
}

// JitterStats counts what a JitterBuffer did during the current burst.
type JitterStats struct {
	Received   uint64 // frames accepted into the buffer
	Played     uint64 // slots played from their own frame
	FEC        uint64 // lost frames recovered from the next frame's FEC
	PLC        uint64 // lost or corrupt frames concealed by PLC
	Underruns  uint64 // slots where the buffer was empty mid-burst
	Stretched  uint64 // slots of concealment inserted to deepen the buffer
	Late       uint64 // frames dropped: their slot had been concealed already
	Duplicates uint64 // frames dropped: already received
	Trimmed    uint64 // frames dropped to bring the delay back to target
	Overflow   uint64 // frames dropped: a frame arrived more than 1.28 s ahead
	Corrupt    uint64 // empty, oversized or undecodable frames (PLC covers their slots)
	AfterEnd   uint64 // frames dropped: they came after the end of the burst

	Depth    time.Duration // target buffering delay, adapted to the jitter
	Delay    time.Duration // buffering delay at the last Pop: how long after its earliest expected arrival a frame is played
	Buffered time.Duration // audio held now, from the playout point to the newest frame
	Jitter   time.Duration // largest lateness over the last 2 s of arrivals
}

type jbSlot struct {
	seq     uint64
	present bool
	end     bool
	data    []byte
}

// JitterBuffer reorders one talker's frames, absorbs network jitter, and
// plays them out every 20 ms, recovering lost frames with FEC or PLC.
//
// Frames carry a sequence number that rises by one per frame the sender
// transmits (the radio's payload sequence number, see radio/payload.go);
// DTX frames are not transmitted and take no number, so a DTX pause shows
// as a gap in arrivals, not as loss.
//
// Timing: the buffer keeps, per talk spurt, the earliest arrival it has seen
// relative to the sequence numbers, which tells when each frame could arrive
// at the earliest. A frame's lateness is how much later it came; the target
// depth covers the largest lateness of the last 2 s plus one frame, so that
// the next frame (and its FEC) is at hand when a slot is decided, within
// MinDepth and MaxDepth. The buffering delay is how long after that earliest time the
// current frame is played; it is held near the target by inserting a
// concealment slot (KindStretch) when it is too short and dropping a frame
// when it is 40 ms too long. When the buffer runs dry (KindUnderrun: a
// stall, or the talker paused in DTX) the next arrival starts a new spurt,
// and playout resumes once it has waited the target depth.
//
// Playout: Pop plays the next frame if present. If it is missing while a
// later frame is buffered it is lost: it is recovered from the next frame's
// FEC, or concealed by PLC; if it turns up afterwards it is dropped as late.
//
// A buffer serves one burst: after KindDone, frames are dropped (AfterEnd)
// until Reset.
//
// Push and End may be called from any goroutine (the receive loop); Pop and
// Reset only from the playout goroutine, never concurrently with each other.
// Time is passed in; the buffer never reads the clock.
type JitterBuffer struct {
	cfg                JitterConfig
	minF, startF, maxF int

	// Owned by the playout goroutine (Pop, Reset).
	dec                  *Decoder
	frameBuf, discardBuf []byte // frames copied out under mu, decoded outside it
	silence              [FrameSamples]int16
	concealRun           int // consecutive concealed slots

	mu       sync.Mutex // guards everything below
	slots    [ringSize]jbSlot
	started  bool   // a frame of this burst has been accepted
	consumed bool   // a slot of this burst has been played
	playing  bool   // filled to depth; slots advance
	done     bool   // burst over and drained
	next     uint64 // seq of the next slot to play
	high     uint64 // one past the highest buffered seq; >= next
	count    int    // frames buffered
	seen     uint64 // bit i set: seq next-1-i was received
	endKnown bool   // a frame with the end flag arrived
	closing  bool   // End was called
	endSeq   uint64
	refSeq   uint64    // the spurt's earliest arrival, relative to seq:
	refAt    time.Time // frame n could arrive at refAt + (n-refSeq)*20ms at the earliest
	spurtSeq uint64    // the spurt's first frame
	spurtAt  time.Time
	target   int // frames
	lateness [jitterWindow]time.Duration
	lateN    int // arrivals observed this burst
	worst    time.Duration
	delay    time.Duration // at the last Pop
	stats    JitterStats
}

// NewJitterBuffer returns an empty buffer for one talker's burst, with its
// own Decoder.
func NewJitterBuffer(cfg JitterConfig) (*JitterBuffer, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	dec, err := NewDecoder()
	if err != nil {
		return nil, err
	}
	jb := &JitterBuffer{
		cfg:        cfg,
		minF:       frames(cfg.MinDepth),
		startF:     frames(cfg.StartDepth),
		maxF:       frames(cfg.MaxDepth),
		dec:        dec,
		frameBuf:   make([]byte, 0, MaxFrameBytes),
		discardBuf: make([]byte, 0, MaxFrameBytes),
	}
	jb.clear()
	return jb, nil
}

// clear empties the buffer state, keeping the slots' memory. Called with mu
// held or before the buffer is shared.
func (jb *JitterBuffer) clear() {
	for i := range jb.slots {
		jb.slots[i] = jbSlot{data: jb.slots[i].data[:0]}
	}
	jb.started, jb.consumed, jb.playing, jb.done = false, false, false, false
	jb.next, jb.high, jb.count, jb.seen = 0, 0, 0, 0
	jb.endKnown, jb.closing, jb.endSeq = false, false, 0
	jb.target = jb.startF
	jb.lateN, jb.worst, jb.delay = 0, 0, 0
	jb.stats = JitterStats{}
}

// Reset prepares the buffer for a new burst: it drops buffered frames and
// clears the statistics and the decoder state. Called only from the playout
// goroutine.
func (jb *JitterBuffer) Reset() error {
	jb.mu.Lock()
	jb.clear()
	jb.mu.Unlock()
	jb.concealRun = 0
	return jb.dec.Reset()
}

// Push hands the buffer a received frame: its sequence number, whether the
// sender marked it the last of the burst, and when it arrived. The buffer
// copies frame; the caller may reuse it at once. Late, duplicate and
// out-of-burst frames are dropped and counted. Push does not allocate once
// the buffer has seen frames of the largest size.
func (jb *JitterBuffer) Push(seq uint64, frame []byte, end bool, arrival time.Time) {
	jb.mu.Lock()
	defer jb.mu.Unlock()
	if jb.done || (jb.endKnown && seq > jb.endSeq) {
		jb.stats.AfterEnd++
		return
	}
	if len(frame) == 0 || len(frame) > MaxFrameBytes {
		jb.stats.Corrupt++
		if end { // the burst still ends here; the slot is concealed
			jb.markEnd(seq)
		}
		return
	}
	switch {
	case !jb.started:
		jb.started = true
		jb.next, jb.high = seq, seq
	case seq < jb.next:
		if !jb.consumed && jb.high-seq < ringSize {
			// Reordered at the start of the burst: nothing was played yet,
			// so begin earlier.
			jb.next = seq
			break
		}
		if d := jb.next - seq; d <= 64 && jb.seen&(1<<(d-1)) != 0 {
			jb.stats.Duplicates++
		} else {
			jb.stats.Late++
		}
		return
	case seq-jb.next >= ringSize:
		jb.advanceTo(seq - ringSize + 1)
	}
	s := &jb.slots[seq%ringSize]
	if s.present {
		jb.stats.Duplicates++
		return
	}
	// A frame into an empty buffer that is not playing starts a talk spurt
	// (the burst's first, or the first after a DTX pause or a stall): its
	// arrival is the new timing reference, and its delay is not jitter.
	newSpurt := !jb.playing && jb.count == 0
	s.seq, s.present, s.end = seq, true, end
	s.data = append(s.data[:0], frame...)
	jb.count++
	jb.high = max(jb.high, seq+1)
	jb.stats.Received++
	if end {
		jb.markEnd(seq)
	}
	jb.observe(seq, arrival, newSpurt)
}

// markEnd records that seq is the burst's last frame and drops any buffered
// frame after it. Called with mu held.
func (jb *JitterBuffer) markEnd(seq uint64) {
	jb.endKnown, jb.endSeq = true, seq
	for seq+1 < jb.high {
		jb.high--
		if s := &jb.slots[jb.high%ringSize]; s.present && s.seq == jb.high {
			s.present = false
			jb.count--
			jb.stats.AfterEnd++
		}
	}
	jb.high = max(jb.high, jb.next)
}

// advanceTo drops every slot before seq because a frame arrived too far
// ahead to fit in the ring (drop-oldest). Called with mu held.
func (jb *JitterBuffer) advanceTo(seq uint64) {
	for i := 0; i < ringSize && jb.next < seq; i++ {
		s := &jb.slots[jb.next%ringSize]
		got := uint64(0)
		if s.present && s.seq == jb.next {
			s.present = false
			jb.count--
			jb.stats.Overflow++
			got = 1
		}
		jb.seen = jb.seen<<1 | got
		jb.next++
	}
	if jb.next < seq { // a jump longer than the ring: nothing was buffered there
		jb.next, jb.seen = seq, 0
	}
	jb.high = max(jb.high, jb.next)
	jb.consumed = true
}

// earliest is when frame seq could arrive at the earliest in this spurt.
// Called with mu held.
func (jb *JitterBuffer) earliest(seq uint64) time.Time {
	return jb.refAt.Add(time.Duration(int64(seq-jb.refSeq)) * FrameDuration)
}

// observe updates the timing reference and the jitter measurement with an
// arrival, and sets the target depth. Called with mu held.
func (jb *JitterBuffer) observe(seq uint64, at time.Time, newSpurt bool) {
	var late time.Duration
	if newSpurt {
		jb.refSeq, jb.refAt = seq, at
		jb.spurtSeq, jb.spurtAt = seq, at
	} else if late = at.Sub(jb.earliest(seq)); late < 0 {
		// Earlier than any frame of the spurt so far: the new reference.
		// The frames before were later than measured; the spurt's first
		// frame by the most (after a stall: by the whole stall).
		jb.refSeq, jb.refAt = seq, at
		late = jb.spurtAt.Sub(jb.earliest(jb.spurtSeq))
	}
	old := jb.lateness[jb.lateN%jitterWindow]
	jb.lateness[jb.lateN%jitterWindow] = late
	jb.lateN++
	if late >= jb.worst {
		jb.worst = late
	} else if old == jb.worst && jb.lateN > jitterWindow {
		jb.worst = 0 // the worst one left the window: rescan
		for _, l := range jb.lateness {
			jb.worst = max(jb.worst, l)
		}
	}
	// Slot n is decided when it is played, and needs frame n+1 by then: to
	// tell a lost frame from a pause, and for its FEC data. So the delay,
	// kept at least (target-1) frames, must cover the worst lateness plus
	// one frame.
	t := int((jb.worst+FrameDuration-1)/FrameDuration) + 2
	if jb.lateN < jitterWarmup {
		t = max(t, jb.startF)
	}
	jb.target = min(max(t, jb.minF), jb.maxF)
}

// End tells the buffer that no more frames of this burst will come (the end
// control message arrived): it plays out what it holds, then reports
// KindDone.
func (jb *JitterBuffer) End() {
	jb.mu.Lock()
	jb.closing = true
	jb.mu.Unlock()
}

// Stats returns the counters of the current burst.
func (jb *JitterBuffer) Stats() JitterStats {
	jb.mu.Lock()
	defer jb.mu.Unlock()
	st := jb.stats
	st.Depth = time.Duration(jb.target) * FrameDuration
	st.Delay = jb.delay
	if jb.count > 0 {
		st.Buffered = time.Duration(jb.high-jb.next) * FrameDuration
	}
	st.Jitter = jb.worst
	return st
}

// take removes the frame for seq jb.next (if present), advances the playout
// point, and copies the frame into dst. Called with mu held.
func (jb *JitterBuffer) take(dst []byte) ([]byte, bool) {
	s := &jb.slots[jb.next%ringSize]
	got := s.present && s.seq == jb.next
	bit := uint64(0)
	if got {
		dst = append(dst[:0], s.data...)
		s.present = false
		jb.count--
		bit = 1
	}
	jb.seen = jb.seen<<1 | bit
	jb.next++
	jb.high = max(jb.high, jb.next)
	jb.consumed = true
	return dst, got
}

// present reports whether frame seq is buffered. Called with mu held.
func (jb *JitterBuffer) present(seq uint64) bool {
	s := &jb.slots[seq%ringSize]
	return s.present && s.seq == seq
}

// plan is what Pop decided under the lock, carried out by the decoder
// outside it.
type plan struct {
	kind    Kind
	seq     uint64
	discard bool // decode discardBuf first and throw the audio away
	conceal bool // for KindUnderrun and KindStretch: PLC rather than silence
}

// Pop returns the audio for the next 20 ms slot; now is the playout clock's
// time. It does not wait for the network: whatever is missing is concealed.
// Called only from the playout goroutine.
func (jb *JitterBuffer) Pop(now time.Time) Playout {
	jb.mu.Lock()
	p := jb.decide(now)
	jb.mu.Unlock()

	if p.discard {
		_, _ = jb.dec.Decode(jb.discardBuf) // keeps the decoder's state continuous
	}
	out := Playout{Kind: p.kind, Seq: p.seq}
	var pcm []int16
	var err error
	corrupt := false
	switch p.kind {
	case KindFrame:
		if pcm, err = jb.dec.Decode(jb.frameBuf); err != nil {
			corrupt = true
			out.Kind = KindPLC
			pcm, err = jb.dec.PLC()
		}
	case KindFEC:
		if pcm, err = jb.dec.DecodeFEC(jb.frameBuf); err != nil {
			out.Kind = KindPLC
			pcm, err = jb.dec.PLC()
		}
	case KindPLC:
		pcm, err = jb.dec.PLC()
	case KindUnderrun, KindStretch:
		if p.conceal {
			pcm, err = jb.dec.PLC()
		}
	}
	switch out.Kind {
	case KindFrame, KindFEC:
		jb.concealRun = 0
	case KindPLC, KindUnderrun, KindStretch:
		jb.concealRun++
	}
	if pcm == nil || err != nil {
		clear(jb.silence[:])
		pcm = jb.silence[:]
	}
	out.PCM = pcm

	jb.mu.Lock()
	switch out.Kind {
	case KindFrame:
		jb.stats.Played++
	case KindFEC:
		jb.stats.FEC++
	case KindPLC:
		jb.stats.PLC++
	case KindUnderrun:
		jb.stats.Underruns++
	case KindStretch:
		jb.stats.Stretched++
	}
	if corrupt {
		jb.stats.Corrupt++
	}
	jb.mu.Unlock()
	return out
}

// decide picks what to play in this slot and copies out the frames to
// decode. Called with mu held.
func (jb *JitterBuffer) decide(now time.Time) plan {
	ending := jb.endKnown || jb.closing
	switch {
	case jb.done:
		return plan{kind: KindDone}
	case !jb.started && ending:
		jb.done = true
		return plan{kind: KindDone}
	case !jb.started:
		return plan{kind: KindSilence}
	case jb.endKnown && jb.next > jb.endSeq, ending && jb.count == 0:
		jb.done = true
		return plan{kind: KindDone}
	}
	conceal := jb.concealRun < maxConceal
	if jb.count == 0 {
		jb.playing = false
		if !jb.consumed {
			return plan{kind: KindSilence}
		}
		return plan{kind: KindUnderrun, seq: jb.next, conceal: conceal}
	}
	goal := time.Duration(jb.target) * FrameDuration
	jb.delay = now.Sub(jb.earliest(jb.next))
	if !jb.playing {
		if jb.delay < goal-startSlack && !ending {
			if !jb.consumed {
				return plan{kind: KindSilence}
			}
			return plan{kind: KindUnderrun, seq: jb.next, conceal: conceal}
		}
		jb.playing = true
	} else if jb.delay < goal-stretchBelow && !ending {
		return plan{kind: KindStretch, seq: jb.next, conceal: conceal}
	}
	var p plan
	if !jb.cfg.NoTrim && jb.delay >= goal+trimAbove && !ending && jb.present(jb.next) && jb.present(jb.next+1) {
		jb.discardBuf, _ = jb.take(jb.discardBuf)
		jb.stats.Trimmed++
		jb.delay -= FrameDuration
		p.discard = true
	}
	p.seq = jb.next
	var got bool
	if jb.frameBuf, got = jb.take(jb.frameBuf); got {
		p.kind = KindFrame
		return p
	}
	// Lost: count > 0, so a later frame is buffered.
	p.kind = KindPLC
	if s := &jb.slots[jb.next%ringSize]; !jb.cfg.DisableFEC && s.present && s.seq == jb.next && hasFEC(s.data) {
		jb.frameBuf = append(jb.frameBuf[:0], s.data...)
		p.kind = KindFEC
	}
	return p
}
