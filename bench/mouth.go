package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/varta-ptt/varta/client"
	"github.com/varta-ptt/varta/codec"
	"github.com/varta-ptt/varta/protocol"
	"github.com/varta-ptt/varta/protocol/pb"
	"github.com/varta-ptt/varta/radio"
)

// Mouth-to-ear signal: a quiet 300 Hz tone (never silent, so DTX stays
// off) with a loud 1 kHz marker of markerLen every markerEvery, each marker
// starting at the first sample of a 20 ms frame: the sample that waits
// longest for its frame to be captured.
const (
	earBackground = 1000  // amplitude of the background tone
	earMarker     = 20000 // amplitude of the marker
	earThreshold  = 8000  // |sample| above this is the marker's onset
	markerLen     = 10 * time.Millisecond
	markerEvery   = 300 * time.Millisecond
	earTalk       = 3 * time.Second
)

// EarReport is the mouth-to-ear measurement: capture to playout through the
// real Opus codec, the relay over QUIC on loopback, and the jitter buffer,
// with no loss. Times in milliseconds.
type EarReport struct {
	Markers      int `json:"markers"`
	Found        int `json:"markers_found"`
	MouthToEarMs struct {
		P50 float64 `json:"p50"`
		Max float64 `json:"max"`
		Min float64 `json:"min"`
	} `json:"mouth_to_ear_ms"`
	FrameMs       float64  `json:"frame_ms"`              // capture: a frame is sent when its last sample is in
	CodecDelayMs  float64  `json:"codec_delay_ms"`        // encoder lookahead and decoder delay, from a local encode-then-decode
	NetworkP50Ms  float64  `json:"network_p50_ms"`        // send to receive through the relay
	JitterStartMs float64  `json:"jitter_start_depth_ms"` // codec.DefaultStartDepth
	JitterDelayMs float64  `json:"jitter_delay_end_ms"`   // the buffer's delay at the end of the burst (adapts down from the start depth)
	Notes         []string `json:"notes"`
}

// MouthToEar measures the voice path's delay from a sound at the microphone
// to the same sound leaving the receiver's playout (the jitter buffer's Pop,
// on a 20 ms playout clock as the handheld runs it): a talker captures a
// test signal in real time, 20 ms frames, encodes with the handheld's Opus
// settings and sends through an in-process relay; a listener pushes what
// arrives into a JitterBuffer with default settings and pops one slot every
// 20 ms. Each marker's onset in the played audio, minus the time it was
// "spoken", is one figure. Audio device buffers on either side are not in
// it (see docs/PERFORMANCE.md).
func MouthToEar(ctx context.Context) (*EarReport, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	pcm := earSignal()
	markers := earMarkers()

	// The codec's own delay, measured with the same onset detector.
	codecDelay, err := localCodecDelay(pcm, markers)
	if err != nil {
		return nil, err
	}

	dir, err := os.MkdirTemp("", "varta-ear-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	talker := &unit{id: firstUnit, tg: firstTG, grant: make(chan struct{}, 4)}
	listener := &unit{id: firstUnit + 1, tg: firstTG, grant: make(chan struct{}, 4)}
	if err := prepareAgency(ctx, filepath.Join(dir, "agency"), 1, []*unit{talker, listener}); err != nil {
		return nil, err
	}
	rl, err := startInProcess(filepath.Join(dir, "agency"))
	if err != nil {
		return nil, err
	}
	defer rl.stop()
	for _, u := range []*unit{talker, listener} {
		c, err := client.Dial(ctx, client.Config{Identity: u.ident, Addr: rl.addr, DialTimeout: opTimeout})
		if err != nil {
			return nil, fmt.Errorf("bench: dial unit %d: %w", u.id, err)
		}
		defer c.Close()
		u.c = c
		if err := u.affiliate(ctx); err != nil {
			return nil, err
		}
	}
	rctx, rcancel := context.WithTimeout(ctx, opTimeout)
	res, err := talker.c.RequestFloor(rctx, firstTG, 50, pb.Emergency_EMERGENCY_NONE)
	rcancel()
	if err != nil {
		return nil, err
	}
	if res.Status != pb.FloorStatus_FLOOR_GRANTED {
		return nil, fmt.Errorf("bench: floor not granted: %v", res.Status)
	}

	jb, err := codec.NewJitterBuffer(codec.JitterConfig{})
	if err != nil {
		return nil, err
	}
	// Listener: datagrams into the jitter buffer.
	var netLat []int64
	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		var un radio.SeqUnwrapper
		for {
			select {
			case b := <-listener.c.Voice():
				now := time.Now()
				h, n, err := protocol.ParseVoiceHeader(b)
				if err != nil || len(b) < n+8+earSealOverhead {
					continue
				}
				b = b[:len(b)-earSealOverhead]
				sentAt := int64(beUint64(b[n:]))
				netLat = append(netLat, now.UnixNano()-sentAt)
				p, err := radio.ParsePayload(b[n+8:])
				if err != nil {
					continue
				}
				end := h.Flags&protocol.FlagEndOfBurst != 0
				jb.Push(un.Unwrap(p.Seq), p.Opus, end, now)
				if end {
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()

	// Playout: one slot every 20 ms; each played sample's time is the slot's
	// time plus its offset in the slot.
	type slot struct {
		at  time.Time
		pcm []int16
	}
	var played []slot
	playDone := make(chan struct{})
	go func() {
		defer close(playDone)
		t := time.NewTicker(codec.FrameDuration)
		defer t.Stop()
		for {
			select {
			case now := <-t.C:
				p := jb.Pop(now)
				switch p.Kind {
				case codec.KindDone:
					return
				case codec.KindSilence:
					continue
				}
				played = append(played, slot{at: now, pcm: slices.Clone(p.PCM)})
			case <-ctx.Done():
				return
			}
		}
	}()

	// Talker: frame k is complete, and sent, at t0 + (k+1) * 20 ms.
	enc, err := codec.NewEncoder(codec.EncoderConfig{DisableDTX: true})
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	var seq uint16
	nFrames := len(pcm) / codec.FrameSamples
	for k := range nFrames {
		time.Sleep(time.Until(t0.Add(time.Duration(k+1) * codec.FrameDuration)))
		frame, send, err := enc.Encode(pcm[k*codec.FrameSamples : (k+1)*codec.FrameSamples])
		if err != nil {
			return nil, err
		}
		if !send {
			return nil, errors.New("bench: the encoder went into DTX on the test signal")
		}
		talker.c.SendVoice(earDatagram(seq, frame, 0))
		seq++
	}
	talker.c.SendVoice(earDatagram(seq, nil, protocol.FlagEndOfBurst))
	select {
	case <-playDone:
	case <-time.After(5 * time.Second):
		return nil, fmt.Errorf("bench: the listener's playout did not end within 5 s of the talker's (jitter buffer: %+v, %d datagrams received)", jb.Stats(), len(netLat))
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	<-recvDone
	st := jb.Stats()

	// Find each marker's onset in the played audio.
	rep := &EarReport{
		Markers: len(markers), FrameMs: ms(codec.FrameDuration), CodecDelayMs: ms(codecDelay),
		NetworkP50Ms: pct(netLat, 0.5), JitterStartMs: ms(codec.DefaultStartDepth), JitterDelayMs: ms(st.Delay),
	}
	var out []int16
	var outAt []time.Time // time of each slot's first sample
	for _, s := range played {
		out = append(out, s.pcm...)
		outAt = append(outAt, s.at)
	}
	var m2e []int64
	from := 0
	for _, m := range markers {
		j := onset(out, from)
		if j < 0 {
			break
		}
		playAt := outAt[j/codec.FrameSamples].Add(sampleDur(j % codec.FrameSamples))
		spoken := t0.Add(sampleDur(m))
		m2e = append(m2e, int64(playAt.Sub(spoken)))
		from = j + int(markerEvery*codec.SampleRate/time.Second)/2 // past this marker
	}
	rep.Found = len(m2e)
	rep.MouthToEarMs.P50, rep.MouthToEarMs.Max, rep.MouthToEarMs.Min = pct(m2e, 0.5), pct(m2e, 1), pct(m2e, 0)
	rep.Notes = []string{
		"each marker starts at the first sample of a 20 ms frame, so it waits a whole frame to be captured (the worst case; a sample at the end of a frame waits about 0)",
		"Opus 24 kbit/s, complexity 5, FEC (the handheld's settings) with DTX off, so that the steady test tone is never taken for silence (DTX decides which frames are sent, not their delay); default jitter buffer (start 60 ms, adapting between 40 and 200 ms); playout clock of 20 ms slots, as the handheld's receive loop",
		"not included: the audio devices' buffers (capture period, the playback ring's start depth of 2 frames and the device period) and SFrame seal and open (about 0.2 µs each)",
	}
	if rep.Found < rep.Markers {
		rep.Notes = append(rep.Notes, fmt.Sprintf("only %d of %d markers found in the played audio", rep.Found, rep.Markers))
	}
	return rep, nil
}

// earDatagram is a voice datagram: the clear header, the send time (8
// bytes, for the network figure), the radio payload and room for SFrame's
// overhead. Not sealed: the relay never opens it.
func earDatagram(seq uint16, opus []byte, flags uint8) []byte {
	b := protocol.AppendVoiceHeader(nil, protocol.VoiceHeader{Kind: protocol.KindGroupVoice, Flags: flags, Talkgroup: firstTG, Sender: firstUnit})
	b = appendBeUint64(b, uint64(time.Now().UnixNano()))
	b = radio.AppendPayload(b, seq, 0, opus)
	return append(b, make([]byte, earSealOverhead)...) // where SFrame's header and tag would be
}

// earSealOverhead stands for SFrame's overhead: a 1-byte header (a real
// one is 1-3 bytes) and the 16-byte AES-GCM tag.
const earSealOverhead = protocol.MinSealedLen

func earSignal() []int16 {
	n := int(earTalk / codec.FrameDuration * codec.FrameSamples)
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = int16(earBackground * math.Sin(2*math.Pi*300*float64(i)/codec.SampleRate))
	}
	ml := int(markerLen * codec.SampleRate / time.Second)
	for _, m := range earMarkers() {
		for i := 0; i < ml && m+i < n; i++ {
			pcm[m+i] = int16(earMarker * math.Sin(2*math.Pi*1000*float64(i)/codec.SampleRate))
		}
	}
	return pcm
}

// earMarkers returns the markers' first samples: from 500 ms on, every
// markerEvery, each on a frame boundary, ending 200 ms before the signal.
func earMarkers() []int {
	var ms []int
	every := int(markerEvery * codec.SampleRate / time.Second)
	end := int((earTalk - 200*time.Millisecond) * codec.SampleRate / time.Second)
	for m := codec.SampleRate / 2; m < end; m += every {
		ms = append(ms, m/codec.FrameSamples*codec.FrameSamples)
	}
	return ms
}

// onset returns the index of the first sample at or after from whose
// magnitude passes the threshold, or -1.
func onset(pcm []int16, from int) int {
	for i := max(from, 0); i < len(pcm); i++ {
		if pcm[i] > earThreshold || pcm[i] < -earThreshold {
			return i
		}
	}
	return -1
}

// localCodecDelay encodes and decodes pcm locally and returns the median
// shift of the markers' onsets.
func localCodecDelay(pcm []int16, markers []int) (time.Duration, error) {
	enc, err := codec.NewEncoder(codec.EncoderConfig{DisableDTX: true})
	if err != nil {
		return 0, err
	}
	dec, err := codec.NewDecoder()
	if err != nil {
		return 0, err
	}
	var out []int16
	for k := range len(pcm) / codec.FrameSamples {
		f, _, err := enc.Encode(pcm[k*codec.FrameSamples : (k+1)*codec.FrameSamples])
		if err != nil {
			return 0, err
		}
		d, err := dec.Decode(f)
		if err != nil {
			return 0, err
		}
		out = append(out, d...)
	}
	var shifts []int64
	for _, m := range markers {
		if j := onset(out, m); j >= 0 {
			shifts = append(shifts, int64(sampleDur(j-m)))
		}
	}
	if len(shifts) == 0 {
		return 0, errors.New("bench: no marker survived a local encode and decode")
	}
	return time.Duration(pct(shifts, 0.5) * 1e6), nil
}

func sampleDur(n int) time.Duration {
	return time.Duration(n) * time.Second / codec.SampleRate
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func beUint64(b []byte) uint64 {
	var v uint64
	for _, c := range b[:8] {
		v = v<<8 | uint64(c)
	}
	return v
}

func appendBeUint64(b []byte, v uint64) []byte {
	for i := 7; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

// WriteTable prints r for a person.
func (r *EarReport) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("mouth-to-ear p50/min/max", fmt.Sprintf("%.1f / %.1f / %.1f ms (%d of %d markers)", r.MouthToEarMs.P50, r.MouthToEarMs.Min, r.MouthToEarMs.Max, r.Found, r.Markers))
	row("  capture (one frame)", fmt.Sprintf("%.1f ms", r.FrameMs))
	row("  codec delay", fmt.Sprintf("%.1f ms (local encode then decode)", r.CodecDelayMs))
	row("  network p50", fmt.Sprintf("%.2f ms (talker to listener through the relay)", r.NetworkP50Ms))
	row("  jitter buffer", fmt.Sprintf("starts at %.0f ms; %.0f ms at the end of the burst", r.JitterStartMs, r.JitterDelayMs))
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range r.Notes {
		if _, err := fmt.Fprintf(w, "  note: %s\n", n); err != nil {
			return err
		}
	}
	return nil
}

// WriteJSON prints r as indented JSON.
func (r *EarReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
