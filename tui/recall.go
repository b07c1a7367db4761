package tui

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/varta-ptt/varta/codec"
	"github.com/varta-ptt/varta/radio"
)

// Instant recall: the console keeps the last transmissions heard on each
// talkgroup so that a dispatcher can play one again ("say again" without
// asking the officer). They are kept as the Opus frames that arrived, in
// memory only (decrypted: the console is an endpoint), and decoded when
// replayed.

const (
	// recallPerTalkgroup is how many transmissions each talkgroup keeps.
	recallPerTalkgroup = 10
	// recallMaxFrames caps one recording at 5 minutes of speech; the rest
	// of a longer transmission is not kept.
	recallMaxFrames = 5 * 60 * 50
)

// Recording is one transmission heard, kept for instant recall.
type Recording struct {
	Talkgroup  uint16
	Unit       uint32
	Alias      string
	Emergency  bool
	Start, End time.Time
	// Complete is set when the end-of-burst marker arrived.
	Complete bool
	// Truncated is set when the transmission was longer than a recording
	// keeps.
	Truncated bool
	// Verification says whether the talker's signature checked out.
	Verification radio.Verification

	frames []recFrame
}

type recFrame struct {
	seq  uint64
	gap  uint8 // DTX slots before this frame
	opus []byte
}

// add keeps a frame. The caller serialises calls.
func (r *Recording) add(seq uint64, p radio.Payload, at time.Time, end bool) {
	r.End = at
	if end {
		return
	}
	if len(r.frames) >= recallMaxFrames {
		r.Truncated = true
		return
	}
	r.frames = append(r.frames, recFrame{seq: seq, gap: p.Gap, opus: slices.Clone(p.Opus)})
}

// Duration is the speaking time: frames and pauses, without the losses at
// either end.
func (r *Recording) Duration() time.Duration {
	if len(r.frames) == 0 {
		return 0
	}
	first, last := r.frames[0].seq, r.frames[0].seq
	gaps := 0
	for _, f := range r.frames {
		first, last = min(first, f.seq), max(last, f.seq)
		gaps += int(f.gap)
	}
	return time.Duration(int(last-first+1)+gaps) * codec.FrameDuration
}

// PCM decodes the recording with a new decoder: frames in sequence order,
// lost ones recovered from FEC or concealed, and the talker's pauses as
// silence.
func (r *Recording) PCM() ([]int16, error) {
	if len(r.frames) == 0 {
		return nil, nil
	}
	fs := slices.Clone(r.frames)
	slices.SortFunc(fs, func(a, b recFrame) int { return cmp.Compare(a.seq, b.seq) })
	fs = slices.CompactFunc(fs, func(a, b recFrame) bool { return a.seq == b.seq })
	first := fs[0].seq
	n := int(fs[len(fs)-1].seq-first) + 1
	opus := make([][]byte, n)
	gaps := make([]uint8, n)
	for _, f := range fs {
		opus[f.seq-first] = f.opus
		gaps[f.seq-first] = f.gap
	}
	pcm, err := codec.DecodeAll(opus)
	if err != nil {
		return nil, err
	}
	total := len(pcm)
	for _, g := range gaps {
		total += int(g) * codec.FrameSamples
	}
	out := make([]int16, 0, total)
	for i := range n {
		out = append(out, make([]int16, int(gaps[i])*codec.FrameSamples)...)
		out = append(out, pcm[i*codec.FrameSamples:(i+1)*codec.FrameSamples]...)
	}
	return out, nil
}

// RecallMsg tells the screen a transmission was kept for recall.
type RecallMsg struct {
	ID        uint64
	Talkgroup uint32
	Unit      uint32
	Alias     string
	Emergency bool
	At        time.Time // when it started
	Duration  time.Duration
	Verified  bool // the talker's signature checked out
}

// recallStore keeps the recent recordings of each talkgroup.
type recallStore struct {
	mu   sync.Mutex
	next uint64
	byTG map[uint16][]recallEntry
}

type recallEntry struct {
	id  uint64
	rec *Recording
}

func newRecallStore() *recallStore { return &recallStore{byTG: make(map[uint16][]recallEntry)} }

// add keeps rec, forgetting the talkgroup's oldest beyond the limit, and
// returns the message for the screen.
func (s *recallStore) add(rec *Recording) RecallMsg {
	s.mu.Lock()
	s.next++
	id := s.next
	l := append(s.byTG[rec.Talkgroup], recallEntry{id, rec})
	if len(l) > recallPerTalkgroup {
		l = slices.Delete(l, 0, len(l)-recallPerTalkgroup)
	}
	s.byTG[rec.Talkgroup] = l
	s.mu.Unlock()
	return RecallMsg{ID: id, Talkgroup: uint32(rec.Talkgroup), Unit: rec.Unit, Alias: rec.Alias,
		Emergency: rec.Emergency, At: rec.Start, Duration: rec.Duration(), Verified: rec.Verification.Verified}
}

// get returns a kept recording, or nil once it is forgotten.
func (s *recallStore) get(id uint64) *Recording {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.byTG {
		for _, e := range l {
			if e.id == id {
				return e.rec
			}
		}
	}
	return nil
}

// boolGain is 1 for a talkgroup that is heard, 0 for one that is not.
func boolGain(heard bool) float64 {
	if heard {
		return 1
	}
	return 0
}
