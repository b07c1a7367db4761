package codec

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

var epoch = time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)

// arrival is one frame reaching the receiver, at an offset from epoch.
type arrival struct {
	seq   uint64
	frame []byte
	end   bool
	at    time.Duration
}

// slotOut is one Pop, with the PCM copied.
type slotOut struct {
	kind Kind
	seq  uint64
	pcm  []int16
}

// simulate feeds arrivals to jb and pops every 20 ms (at 7 ms past each
// 20 ms tick, so arrivals and pops do not coincide) until KindDone or
// maxSlots. Every slot must carry exactly one frame of audio.
func simulate(t *testing.T, jb *JitterBuffer, arrivals []arrival, maxSlots int) []slotOut {
	t.Helper()
	arr := slices.Clone(arrivals)
	slices.SortStableFunc(arr, func(a, b arrival) int { return int(a.at - b.at) })
	var out []slotOut
	i := 0
	for slot := range maxSlots {
		now := time.Duration(slot)*FrameDuration + 7*time.Millisecond
		for ; i < len(arr) && arr[i].at <= now; i++ {
			jb.Push(arr[i].seq, arr[i].frame, arr[i].end, epoch.Add(arr[i].at))
		}
		p := jb.Pop(epoch.Add(now))
		if len(p.PCM) != FrameSamples {
			t.Fatalf("slot %d (%v): %d samples, want %d", slot, p.Kind, len(p.PCM), FrameSamples)
		}
		out = append(out, slotOut{p.Kind, p.Seq, copyPCM(p.PCM)})
		if p.Kind == KindDone {
			return out
		}
	}
	return out
}

// sendAll schedules frames sent every 20 ms from seq first, arriving after
// delay; the last one carries the end flag.
func sendAll(frames [][]byte, first uint64, delay time.Duration) []arrival {
	arr := make([]arrival, len(frames))
	for i, f := range frames {
		arr[i] = arrival{seq: first + uint64(i), frame: f, at: time.Duration(i)*FrameDuration + delay}
	}
	arr[len(arr)-1].end = true
	return arr
}

func newJB(t *testing.T, cfg JitterConfig) *JitterBuffer {
	t.Helper()
	jb, err := NewJitterBuffer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return jb
}

// kinds summarises a playout as runs, e.g. "silence×3 frame×50 done×1".
func kinds(out []slotOut) map[Kind]int {
	m := map[Kind]int{}
	for _, o := range out {
		m[o.kind]++
	}
	return m
}

// checkPlayout checks that out plays every frame once, in order, and that
// each frame played before any concealment equals a plain in-order decode
// (after concealment the decoder's state differs).
func checkPlayout(t *testing.T, out []slotOut, frames [][]byte, first uint64) {
	t.Helper()
	ref, err := DecodeAll(frames)
	if err != nil {
		t.Fatal(err)
	}
	want := first
	exact := true
	for i, o := range out {
		switch o.kind {
		case KindFrame:
		case KindSilence, KindDone:
			continue
		default:
			exact = false
			continue
		}
		if o.seq != want {
			t.Fatalf("slot %d played seq %d, want %d", i, o.seq, want)
		}
		k := int(o.seq - first)
		if exact && !slices.Equal(o.pcm, ref[k*FrameSamples:(k+1)*FrameSamples]) {
			t.Fatalf("slot %d (seq %d): PCM differs from an in-order decode", i, o.seq)
		}
		want++
	}
	if want != first+uint64(len(frames)) {
		t.Fatalf("played frames up to seq %d, want all %d", want, len(frames))
	}
}

func TestJitterInOrder(t *testing.T) {
	frames, _ := lossStream(t)
	frames = frames[100:150]
	jb := newJB(t, JitterConfig{})
	out := simulate(t, jb, sendAll(frames, 1000, 30*time.Millisecond), 100)
	checkPlayout(t, out, frames, 1000)
	k := kinds(out)
	// First arrival at 30 ms, playout starts once 60 ms are buffered.
	if k[KindSilence] < 3 || k[KindSilence] > 5 || k[KindFrame] != 50 || k[KindDone] != 1 || len(out) != k[KindSilence]+51 {
		t.Errorf("playout kinds %v in %d slots, want a few silence, 50 frames, done", k, len(out))
	}
	st := jb.Stats()
	if st.Received != 50 || st.Played != 50 || st.FEC+st.PLC+st.Late+st.Duplicates+st.Underruns != 0 {
		t.Errorf("stats %+v", st)
	}
	if p := jb.Pop(epoch.Add(time.Hour)); p.Kind != KindDone {
		t.Errorf("Pop after done = %v", p.Kind)
	}
}

func TestJitterReorderWithinDepth(t *testing.T) {
	frames, _ := lossStream(t)
	frames = frames[100:160]
	arr := sendAll(frames, 0, 25*time.Millisecond)
	arr[10].at += 35 * time.Millisecond             // after 11
	arr[20].at += 50 * time.Millisecond             // after 21 and 22
	arr[30].at, arr[31].at = arr[31].at, arr[30].at // swapped, 20 ms apart
	// A buffer 100 ms deep: every frame above is within its depth.
	jb := newJB(t, JitterConfig{MinDepth: 100 * time.Millisecond, StartDepth: 100 * time.Millisecond})
	out := simulate(t, jb, arr, 200)
	checkPlayout(t, out, frames, 0)
	if st := jb.Stats(); st.Played != 60 || st.Late != 0 || st.FEC+st.PLC != 0 {
		t.Errorf("stats %+v: want all 60 frames played, none late or concealed", st)
	}
}

func TestJitterStartReordered(t *testing.T) {
	frames, _ := lossStream(t)
	frames = frames[100:110]
	arr := sendAll(frames, 50, 10*time.Millisecond)
	arr[0].at = arr[2].at + time.Millisecond // 51, 52, then 50
	jb := newJB(t, JitterConfig{})
	out := simulate(t, jb, arr, 50)
	checkPlayout(t, out, frames, 50)
}

func TestJitterLateAndDuplicate(t *testing.T) {
	frames, _ := lossStream(t)
	frames = frames[100:140]
	arr := sendAll(frames, 0, 20*time.Millisecond)
	arr[10].at += 400 * time.Millisecond // far too late: concealed, then dropped
	arr = append(arr,
		arrival{seq: 15, frame: frames[15], at: arr[15].at + time.Millisecond}, // twice while buffered
		arrival{seq: 5, frame: frames[5], at: 300 * time.Millisecond},          // again after playing
		arrival{seq: 40, frame: frames[5], at: arr[39].at - time.Millisecond},  // beyond the end, dropped when it comes
	)
	jb := newJB(t, JitterConfig{})
	out := simulate(t, jb, arr, 200)
	var slot10 Kind
	for _, o := range out {
		if o.seq == 10 && o.kind != KindSilence {
			slot10 = o.kind
		}
	}
	if slot10 != KindFEC {
		t.Errorf("slot of the late frame was %v, want FEC from the next frame", slot10)
	}
	st := jb.Stats()
	if st.Late != 1 || st.Duplicates != 2 || st.FEC != 1 || st.Played != 39 {
		t.Errorf("stats %+v: want 1 late, 2 duplicates, 1 FEC, 39 played", st)
	}
	if out[len(out)-1].kind != KindDone {
		t.Errorf("burst did not finish")
	}
	// A frame after the end arrives once the burst is done.
	jb.Push(46, frames[6], false, epoch.Add(time.Hour))
	if st := jb.Stats(); st.AfterEnd != 2 {
		t.Errorf("AfterEnd = %d, want 2", st.AfterEnd)
	}
}

// TestJitterLossAndJitter plays a whole speech burst through 10% random loss
// and 0-60 ms random jitter and checks that the playout is continuous, every
// slot accounted for, and that FEC beats PLC.
func TestJitterLossAndJitter(t *testing.T) {
	frames, lossless := lossStream(t)
	type result struct {
		st  JitterStats
		snr float64
	}
	runOnce := func(cfg JitterConfig) result {
		rng := rand.New(rand.NewPCG(1, 2)) // the same network for both runs
		var arr []arrival
		lost := map[uint64]bool{}
		for i, f := range frames {
			if i > 0 && i < len(frames)-1 && rng.IntN(10) == 0 {
				lost[uint64(i)] = true
				continue
			}
			jitter := time.Duration(rng.IntN(60_000)) * time.Microsecond
			arr = append(arr, arrival{seq: uint64(i), frame: f, end: i == len(frames)-1,
				at: time.Duration(i)*FrameDuration + 15*time.Millisecond + jitter})
		}
		jb := newJB(t, cfg)
		out := simulate(t, jb, arr, 2*len(frames))
		if out[len(out)-1].kind != KindDone {
			t.Fatalf("burst not done after %d slots", len(out))
		}
		// Every sequence number gets exactly one slot, in order.
		played := make([]int16, len(lossless))
		next := uint64(0)
		started := false
		for i, o := range out {
			switch o.kind {
			case KindFrame, KindFEC, KindPLC:
				started = true
				if o.seq != next {
					t.Fatalf("slot %d plays seq %d, want %d", i, o.seq, next)
				}
				copy(played[o.seq*FrameSamples:], o.pcm)
				next++
			case KindUnderrun:
				// The buffer cannot tell a run of lost frames from a DTX
				// pause; anything else must be absorbed.
				if !lost[o.seq] {
					t.Errorf("slot %d: underrun waiting for frame %d, which was not lost", i, o.seq)
				}
			case KindStretch:
				t.Errorf("slot %d: stretched; the start depth should cover this jitter", i)
			case KindSilence:
				if started {
					t.Errorf("slot %d: silence after the burst started", i)
				}
			}
		}
		if next != uint64(len(frames)) {
			t.Fatalf("played %d of %d frames", next, len(frames))
		}
		st := jb.Stats()
		if got := st.FEC + st.PLC; got != uint64(len(lost))+st.Late {
			t.Errorf("FEC %d + PLC %d = %d concealed slots, want %d lost + %d late", st.FEC, st.PLC, got, len(lost), st.Late)
		}
		if st.Played+st.Late != uint64(len(arr)) || st.Received != uint64(len(arr))-st.Late {
			t.Errorf("stats %+v do not add up to %d frames sent", st, len(arr))
		}
		if st.Depth < 60*time.Millisecond || st.Depth > DefaultMaxDepth {
			t.Errorf("depth %v after 0-60 ms jitter, want 60..200 ms", st.Depth)
		}
		return result{st, SNR(lossless, played)}
	}
	fec := runOnce(JitterConfig{})
	plc := runOnce(JitterConfig{DisableFEC: true})
	t.Logf("10%% random loss, 0-60 ms jitter, %d frames: FEC+PLC: SNR %.1f dB vs lossless decode (stats %+v)", len(frames), fec.snr, fec.st)
	t.Logf("same network, PLC only: SNR %.1f dB (stats %+v)", plc.snr, plc.st)
	if fec.st.FEC == 0 || fec.st.PLC == 0 && fec.st.FEC < 30 {
		t.Errorf("FEC recovered %d frames, PLC %d: want FEC to do most of the work", fec.st.FEC, fec.st.PLC)
	}
	if plc.st.FEC != 0 {
		t.Errorf("DisableFEC: FEC used %d times", plc.st.FEC)
	}
	if fec.snr < plc.snr+3 {
		t.Errorf("with FEC %.1f dB, PLC only %.1f dB: want FEC clearly better", fec.snr, plc.snr)
	}
}

func TestJitterDepthAdapts(t *testing.T) {
	frames, _ := lossStream(t)
	cases := []struct {
		name     string
		jitter   time.Duration
		min, max time.Duration
	}{
		{"steady", 0, DefaultMinDepth, DefaultMinDepth},
		{"jitter 100ms", 100 * time.Millisecond, 100 * time.Millisecond, 140 * time.Millisecond},
		{"jitter 400ms", 400 * time.Millisecond, DefaultMaxDepth, DefaultMaxDepth},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			arr := sendAll(frames[:300], 0, 10*time.Millisecond)
			for i := range arr {
				if tc.jitter > 0 {
					arr[i].at += time.Duration(rng.Int64N(int64(tc.jitter)))
				}
			}
			jb := newJB(t, JitterConfig{})
			simulate(t, jb, arr[:250], 250) // stop mid-burst to read the depth
			st := jb.Stats()
			t.Logf("depth %v, jitter %v, stats %+v", st.Depth, st.Jitter, st)
			if st.Depth < tc.min || st.Depth > tc.max {
				t.Errorf("depth %v, want %v..%v", st.Depth, tc.min, tc.max)
			}
		})
	}
}

// TestJitterDTXPause: the talker pauses for a second mid-burst; the encoder
// is in DTX and sends nothing, and the sequence numbers run on. The pause is
// an underrun, not a loss, and nothing is dropped as late.
func TestJitterDTXPause(t *testing.T) {
	frames, _ := lossStream(t)
	arr := sendAll(frames[100:200], 0, 20*time.Millisecond)
	for i := 50; i < len(arr); i++ {
		arr[i].at += time.Second
	}
	jb := newJB(t, JitterConfig{})
	out := simulate(t, jb, arr, 300)
	checkPlayout(t, out, frames[100:200], 0)
	st := jb.Stats()
	if st.Underruns < 45 || st.FEC+st.PLC+st.Late+st.Trimmed != 0 {
		t.Errorf("stats %+v: want about 50 underrun slots and no loss", st)
	}
}

func TestJitterEnd(t *testing.T) {
	frames, _ := lossStream(t)
	jb := newJB(t, JitterConfig{})
	jb.End()
	if p := jb.Pop(epoch); p.Kind != KindDone {
		t.Errorf("End before any frame: Pop = %v, want done", p.Kind)
	}
	if err := jb.Reset(); err != nil {
		t.Fatal(err)
	}
	if p := jb.Pop(epoch); p.Kind != KindSilence {
		t.Errorf("after Reset: Pop = %v, want silence", p.Kind)
	}
	// No end flag on the frames; the end control message comes after them.
	for i := range 5 {
		jb.Push(uint64(7+i), frames[100+i], false, epoch.Add(time.Duration(i)*FrameDuration))
	}
	jb.End()
	var got []Kind
	for i := range 10 {
		got = append(got, jb.Pop(epoch.Add(100*time.Millisecond+time.Duration(i)*FrameDuration)).Kind)
	}
	want := []Kind{KindFrame, KindFrame, KindFrame, KindFrame, KindFrame, KindDone, KindDone, KindDone, KindDone, KindDone}
	if !slices.Equal(got, want) {
		t.Errorf("after End: %v, want %v", got, want)
	}
}

func TestJitterOverflow(t *testing.T) {
	frames, _ := lossStream(t)
	jb := newJB(t, JitterConfig{})
	for i := range 5 {
		jb.Push(uint64(i), frames[100+i], false, epoch)
	}
	jb.Push(1000, frames[110], false, epoch)
	st := jb.Stats()
	if st.Overflow != 5 || st.Buffered > ringSize*FrameDuration {
		t.Errorf("stats %+v: want the 5 old frames dropped", st)
	}
	var kindsSeen []Kind
	for i := range ringSize + 5 {
		p := jb.Pop(epoch.Add(time.Duration(i) * FrameDuration))
		kindsSeen = append(kindsSeen, p.Kind)
		if p.Kind == KindFrame && p.Seq != 1000 {
			t.Fatalf("played seq %d, want 1000", p.Seq)
		}
	}
	if !slices.Contains(kindsSeen, KindFrame) {
		t.Errorf("frame 1000 never played: %v", kindsSeen)
	}
	// A stale frame from before the jump is late.
	jb.Push(3, frames[103], false, epoch)
	if st := jb.Stats(); st.Late != 1 {
		t.Errorf("Late = %d, want 1", st.Late)
	}
}

func TestJitterCorruptFrames(t *testing.T) {
	frames, _ := lossStream(t)
	jb := newJB(t, JitterConfig{DisableFEC: true})
	jb.Push(0, frames[100], false, epoch)
	jb.Push(1, []byte{0x10, 0xff, 0xff}, false, epoch) // 40 ms frame: decode fails
	jb.Push(2, nil, false, epoch)                      // empty: dropped at once
	jb.Push(3, frames[103], true, epoch)
	var got []Kind
	for i := range 10 {
		p := jb.Pop(epoch.Add(time.Duration(i) * FrameDuration))
		got = append(got, p.Kind)
	}
	want := []Kind{KindFrame, KindPLC, KindPLC, KindFrame, KindDone}
	if !slices.Equal(got[:5], want) {
		t.Errorf("kinds %v, want %v", got[:5], want)
	}
	if st := jb.Stats(); st.Corrupt != 2 || st.PLC != 2 {
		t.Errorf("stats %+v: want 2 corrupt, 2 PLC", st)
	}
}

func TestJitterConfigErrors(t *testing.T) {
	for _, cfg := range []JitterConfig{
		{MinDepth: 5 * time.Millisecond},
		{MaxDepth: 2 * time.Second},
		{StartDepth: 300 * time.Millisecond},
		{MinDepth: 100 * time.Millisecond},
	} {
		if _, err := NewJitterBuffer(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("NewJitterBuffer(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
}

// TestJitterStallRecovers: the network holds frames for 300 ms and then
// delivers them at once. The buffer waits (underrun) rather than dropping
// them, then trims back towards its target delay.
func TestJitterStallRecovers(t *testing.T) {
	frames, _ := lossStream(t)
	frames = frames[100:300]
	arr := sendAll(frames, 0, 20*time.Millisecond)
	// Frames sent between 1.0 s and 1.3 s are queued and come out together,
	// in order, just after 1.3 s.
	for i := range arr {
		if sent := time.Duration(i) * FrameDuration; sent >= time.Second && sent < 1300*time.Millisecond {
			arr[i].at = 1300*time.Millisecond + time.Duration(i)*time.Microsecond
		}
	}
	jb := newJB(t, JitterConfig{})
	out := simulate(t, jb, arr, 400)
	st := jb.Stats()
	t.Logf("stats %+v", st)
	if st.Late != 0 || st.FEC+st.PLC != 0 || st.Underruns == 0 {
		t.Errorf("stats %+v: want underruns and no frame lost or late", st)
	}
	if st.Played+st.Trimmed != uint64(len(frames)) || st.Trimmed == 0 {
		t.Errorf("played %d + trimmed %d, want all %d frames and some trimmed", st.Played, st.Trimmed, len(frames))
	}
	if st.Delay > st.Depth+trimAbove {
		t.Errorf("delay %v at the end, want back within %v of the %v target", st.Delay, trimAbove, st.Depth)
	}
	if out[len(out)-1].kind != KindDone {
		t.Error("burst not done")
	}
	// Shortly after the stall the buffer has learned it as jitter.
	jb = newJB(t, JitterConfig{})
	simulate(t, jb, arr[:80], 80)
	if st := jb.Stats(); st.Jitter < 250*time.Millisecond || st.Depth != DefaultMaxDepth {
		t.Errorf("just after the stall: jitter %v, depth %v; want about 280 ms, and the maximum depth", st.Jitter, st.Depth)
	}
}

// TestJitterStretch: jitter rises mid-burst; the buffer deepens by inserting
// concealment slots rather than running dry.
func TestJitterStretch(t *testing.T) {
	frames, _ := lossStream(t)
	frames = frames[:400]
	arr := sendAll(frames, 0, 20*time.Millisecond)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 150; i < len(arr); i++ {
		arr[i].at += time.Duration(rng.Int64N(int64(80 * time.Millisecond)))
	}
	jb := newJB(t, JitterConfig{})
	simulate(t, jb, arr, 800)
	st := jb.Stats()
	t.Logf("stats %+v", st)
	if st.Stretched == 0 || st.Depth < 100*time.Millisecond {
		t.Errorf("stats %+v: want the buffer stretched to a deeper target", st)
	}
	if st.Underruns+st.Late > 2 {
		t.Errorf("stats %+v: want at most a couple of underruns or late frames while adapting", st)
	}
}

// TestJitterConcurrent: the receive loop pushes while the playout clock pops
// (run with -race).
func TestJitterConcurrent(t *testing.T) {
	frames, _ := lossStream(t)
	jb := newJB(t, JitterConfig{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i, f := range frames {
			jb.Push(uint64(i), f, i == len(frames)-1, epoch.Add(time.Duration(i)*FrameDuration))
			if i%10 == 0 {
				_ = jb.Stats()
			}
		}
	}()
	for i := 0; ; i++ {
		p := jb.Pop(epoch.Add(time.Duration(i) * FrameDuration))
		if len(p.PCM) != FrameSamples {
			t.Fatalf("slot %d: %d samples", i, len(p.PCM))
		}
		if p.Kind == KindDone || i > 10*len(frames) {
			break
		}
	}
	<-done
	if st := jb.Stats(); st.Received != uint64(len(frames))-st.Late-st.Duplicates {
		t.Errorf("stats %+v", st)
	}
}

// With NoTrim the buffer keeps every frame of a burst whose start was held
// up, where the default drops frames to bring the delay back down.
func TestJitterNoTrimKeepsEveryFrame(t *testing.T) {
	all, _ := lossStream(t)
	frames := all[:40]
	arrival := func(k int) time.Duration {
		if k < 10 {
			return 300 * time.Millisecond // the first ten were held up together
		}
		return time.Duration(k) * FrameDuration
	}
	for _, noTrim := range []bool{false, true} {
		jb, err := NewJitterBuffer(JitterConfig{NoTrim: noTrim})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Unix(1000, 0)
		pushed, played := 0, 0
		for slot := 0; slot < 200; slot++ {
			now := start.Add(time.Duration(slot) * FrameDuration)
			for pushed < len(frames) && start.Add(arrival(pushed)).Compare(now) <= 0 {
				jb.Push(uint64(pushed), frames[pushed], pushed == len(frames)-1, start.Add(arrival(pushed)))
				pushed++
			}
			p := jb.Pop(now)
			if p.Kind == KindFrame {
				played++
			}
			if p.Kind == KindDone {
				break
			}
		}
		trimmed := jb.Stats().Trimmed
		if noTrim && (played != len(frames) || trimmed != 0) {
			t.Fatalf("NoTrim played %d of %d frames, trimmed %d", played, len(frames), trimmed)
		}
		if !noTrim && trimmed == 0 {
			t.Fatalf("default buffer trimmed nothing after a held-up start (played %d)", played)
		}
	}
}
