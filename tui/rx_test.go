package tui

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/varta-ptt/varta/codec"
	"github.com/varta-ptt/varta/protocol"
	"github.com/varta-ptt/varta/protocol/pb"
	"github.com/varta-ptt/varta/radio"
)

// speaker collects what the live receiver plays.
type speaker struct {
	mu  sync.Mutex
	pcm []int16
}

func (s *speaker) write(p []int16) {
	s.mu.Lock()
	s.pcm = append(s.pcm, p...)
	s.mu.Unlock()
}

// burstDatagrams encodes pcm as one talker's burst, as the talk loop does.
func burstDatagrams(t *testing.T, tg uint16, unit uint32, flags uint8, pcm []int16) [][]byte {
	t.Helper()
	frames, err := codec.EncodeAll(pcm, codec.EncoderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	s := radio.NewBurstSender(clearSealer{unit: unit}, func(d []byte) error {
		out = append(out, slices.Clone(d))
		return nil
	}, nil)
	tgs := []uint32{uint32(tg)}
	for _, f := range frames {
		if f == nil && s.Pause() {
			continue
		}
		if err := s.Send(tgs, flags, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.End(tgs, flags); err != nil {
		t.Fatal(err)
	}
	return out
}

func tonePCM(frames int) []int16 {
	var pcm []int16
	for i := range frames {
		pcm = append(pcm, tone(i)...)
	}
	return pcm
}

func energy(p []int16) float64 {
	var e float64
	for _, s := range p {
		e += float64(s) * float64(s)
	}
	return e
}

// The live receiver plays a talker's burst as it arrives, on a simulated
// clock: the selected talkgroup's audio reaches the speaker, another
// talkgroup's does not, and the screen hears of both.
func TestLiveReceiverPlays(t *testing.T) {
	spk := &speaker{}
	log := newMsgLog()
	rx := newLiveRx(liveRxConfig{
		open: clearOpener{}, out: spk.write, send: log.send,
		gain: func(tg uint16) float64 { return boolGain(tg == 100) },
	})
	rx.event(&pb.FloorEvent{Kind: pb.FloorEventKind_FLOOR_EVENT_TAKEN, Talkgroup: 100, Talker: 102, TalkerAlias: "P-102"})
	const n = 50 // one second
	pcm := tonePCM(n)
	heard := burstDatagrams(t, 100, 102, 0, pcm)
	other := burstDatagrams(t, 200, 103, protocol.FlagEmergency, pcm)
	start := time.Unix(1000, 0)
	for i := 0; i < len(heard)+30; i++ {
		now := start.Add(time.Duration(i) * codec.FrameDuration)
		if i < len(heard) {
			rx.datagram(heard[i], now)
			rx.datagram(other[i], now)
		}
		rx.tick(now.Add(codec.FrameDuration / 2))
	}
	spk.mu.Lock()
	played := spk.pcm
	spk.mu.Unlock()
	if len(played) < n*codec.FrameSamples || len(played) > (n+3)*codec.FrameSamples {
		t.Fatalf("played %d samples for %d", len(played), n*codec.FrameSamples)
	}
	if r := energy(played) / energy(pcm); r < 0.7 || r > 1.3 {
		t.Fatalf("played energy is %.2f of the input's (the other talkgroup mixed in, or audio lost)", r)
	}
	var msgs []TalkerMsg
	for len(log.ch) > 0 {
		msgs = append(msgs, (<-log.ch).(TalkerMsg))
	}
	ends := map[uint32]TalkerMsg{}
	starts := 0
	for _, m := range msgs {
		if m.Active {
			starts++
		} else {
			ends[m.Talkgroup] = m
		}
	}
	h := ends[100]
	if starts != 2 || !h.Complete || h.Unit != 102 || h.Alias != "P-102" || h.Heard != time.Second || h.Concealed != 0 {
		t.Fatalf("talker messages %+v", msgs)
	}
	if o := ends[200]; !o.Emergency || o.Unit != 103 {
		t.Fatalf("other talkgroup: %+v", o)
	}
	if rx.refused.Load() != 0 {
		t.Fatalf("%d refused", rx.refused.Load())
	}
}

// Lost frames are concealed and counted; a burst whose end marker is lost
// ends after the idle time.
func TestLiveReceiverLossAndIdle(t *testing.T) {
	spk := &speaker{}
	log := newMsgLog()
	rx := newLiveRx(liveRxConfig{open: clearOpener{}, out: spk.write, send: log.send, idle: 200 * time.Millisecond})
	ds := burstDatagrams(t, 100, 102, 0, tonePCM(20))
	ds = ds[:len(ds)-1] // no end marker
	start := time.Unix(1000, 0)
	for i := 0; i < 60; i++ {
		now := start.Add(time.Duration(i) * codec.FrameDuration)
		if i < len(ds) && i != 5 && i != 9 {
			rx.datagram(ds[i], now)
		}
		rx.tick(now.Add(codec.FrameDuration / 2))
	}
	var end TalkerMsg
	for len(log.ch) > 0 {
		if m := (<-log.ch).(TalkerMsg); !m.Active {
			end = m
		}
	}
	if end.Unit != 102 || end.Complete || end.Concealed != 2 || end.Heard != 20*codec.FrameDuration {
		t.Fatalf("end: %+v", end)
	}
	// Garbage is refused, not played.
	rx.datagram([]byte{1, 2}, start)
	if rx.refused.Load() != 1 {
		t.Fatal("short datagram not refused")
	}
}
