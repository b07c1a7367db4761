package radio

import (
	"bytes"
	"testing"

	"github.com/varta-ptt/varta/protocol"
)

// plainSeal "seals" a frame as talkgroup, flags and the payload in clear.
type plainSeal struct{}

func (plainSeal) Seal(dst []byte, tg uint16, flags uint8, payload []byte) ([]byte, error) {
	dst = append(dst, byte(tg>>8), byte(tg), flags)
	return append(dst, payload...), nil
}

type sentFrame struct {
	tg    uint16
	flags uint8
	p     Payload
}

func TestBurstSender(t *testing.T) {
	var sent []sentFrame
	s := NewBurstSender(plainSeal{}, func(d []byte) error {
		p, err := ParsePayload(bytes.Clone(d[3:]))
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, sentFrame{uint16(d[0])<<8 | uint16(d[1]), d[2], p})
		return nil
	}, nil)
	tgs := []uint32{100, 200}
	if err := s.Send(tgs, protocol.FlagEmergency, []byte("a")); err != nil {
		t.Fatal(err)
	}
	for i := range 255 {
		if !s.Pause() {
			t.Fatalf("Pause %d refused below the counter's limit", i+1)
		}
	}
	if s.Pause() {
		t.Fatal("Pause took a 256th slot: the gap counter would wrap")
	}
	if err := s.Send(tgs[:1], 0, []byte("b")); err != nil {
		t.Fatal(err)
	}
	s.Pause()
	if err := s.End(tgs, 0); err != nil {
		t.Fatal(err)
	}
	want := []sentFrame{
		{100, protocol.FlagEmergency, Payload{Seq: 0, Gap: 0, Opus: []byte("a")}},
		{200, protocol.FlagEmergency, Payload{Seq: 0, Gap: 0, Opus: []byte("a")}},
		{100, 0, Payload{Seq: 1, Gap: 255, Opus: []byte("b")}},
		// Unsigned: the marker carries no signature and no FlagSignature.
		{100, protocol.FlagEndOfBurst, Payload{Seq: 2, Gap: 1, Opus: []byte{}}},
		{200, protocol.FlagEndOfBurst, Payload{Seq: 2, Gap: 1, Opus: []byte{}}},
	}
	if len(sent) != len(want) {
		t.Fatalf("sent %d frames, want %d: %+v", len(sent), len(want), sent)
	}
	for i, w := range want {
		g := sent[i]
		if g.tg != w.tg || g.flags != w.flags || g.p.Seq != w.p.Seq || g.p.Gap != w.p.Gap || !bytes.Equal(g.p.Opus, w.p.Opus) {
			t.Errorf("frame %d = %+v, want %+v", i, g, w)
		}
	}
}
