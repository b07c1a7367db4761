package protocol_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/varta-ptt/varta/protocol"
)

// flagReserved is the voice flag bit that must be zero on the wire.
const flagReserved = 1 << 3

// datagram returns a voice datagram of n bytes in all: h's header followed by
// a stand-in for the sealed frame.
func datagram(h protocol.VoiceHeader, n int) []byte {
	b := protocol.AppendVoiceHeader(make([]byte, 0, n), h)
	for len(b) < n {
		b = append(b, byte(len(b)))
	}
	return b
}

func TestVoiceHeaderRoundTrip(t *testing.T) {
	const minDatagram = protocol.VoiceHeaderLen + protocol.MinSealedLen
	for _, tg := range []uint16{1, 2, 200, 0x0100, protocol.MaxTalkgroupID} {
		for _, sender := range []uint32{1, 0x0100, 0x010000, 1042, protocol.MaxUnitID} {
			for flags := uint8(0); flags < flagReserved; flags++ {
				for _, size := range []int{minDatagram, protocol.MaxVoiceDatagram} {
					h := protocol.VoiceHeader{Kind: protocol.KindGroupVoice, Flags: flags, Talkgroup: tg, Sender: sender}
					b := datagram(h, size)
					got, n, err := protocol.ParseVoiceHeader(b)
					if err != nil {
						t.Fatalf("ParseVoiceHeader(%v, %d bytes): %v", h, size, err)
					}
					if got != h || n != protocol.VoiceHeaderLen {
						t.Fatalf("ParseVoiceHeader(%d bytes) = %v, %d; want %v, %d", size, got, n, h, protocol.VoiceHeaderLen)
					}
				}
			}
		}
	}
}

func TestAppendVoiceHeaderLayout(t *testing.T) {
	cases := []struct {
		h    protocol.VoiceHeader
		want []byte
	}{
		{
			protocol.VoiceHeader{Kind: protocol.KindGroupVoice, Talkgroup: 1, Sender: 1},
			[]byte{0x10, 0x00, 0x01, 0x00, 0x00, 0x01},
		},
		{
			protocol.VoiceHeader{Kind: protocol.KindGroupVoice, Flags: protocol.FlagEndOfBurst | protocol.FlagEmergency | protocol.FlagSignature, Talkgroup: 0xabcd, Sender: 0x123456},
			[]byte{0x17, 0xab, 0xcd, 0x12, 0x34, 0x56},
		},
		{
			protocol.VoiceHeader{Kind: protocol.KindGroupVoice, Flags: protocol.FlagEmergency, Talkgroup: protocol.MaxTalkgroupID, Sender: protocol.MaxUnitID},
			[]byte{0x12, 0xff, 0xff, 0xff, 0xff, 0xff},
		},
	}
	for _, tc := range cases {
		t.Run(tc.h.String(), func(t *testing.T) {
			got := protocol.AppendVoiceHeader([]byte("keep"), tc.h)
			if !bytes.Equal(got, append([]byte("keep"), tc.want...)) {
				t.Errorf("AppendVoiceHeader = % x, want keep + % x", got, tc.want)
			}
		})
	}
}

func TestVoiceHeaderShort(t *testing.T) {
	h := protocol.VoiceHeader{Kind: protocol.KindGroupVoice, Flags: protocol.FlagEmergency, Talkgroup: 200, Sender: 1042}
	full := datagram(h, protocol.VoiceHeaderLen+protocol.MinSealedLen)
	for n := 0; n < len(full); n++ {
		// A fresh slice of exactly n bytes, so reading past it panics.
		got, used, err := protocol.ParseVoiceHeader(bytes.Clone(full[:n]))
		if !errors.Is(err, protocol.ErrShort) || used != 0 {
			t.Errorf("ParseVoiceHeader(%d bytes) = %v, %d, %v; want ErrShort", n, got, used, err)
		}
	}
	if _, _, err := protocol.ParseVoiceHeader(full); err != nil {
		t.Errorf("ParseVoiceHeader(%d bytes) = %v, want success", len(full), err)
	}
}

func TestVoiceHeaderErrors(t *testing.T) {
	good := protocol.VoiceHeader{Kind: protocol.KindGroupVoice, Talkgroup: 200, Sender: 1042}
	type tcase struct {
		name string
		b    []byte
		want error
	}
	cases := []tcase{
		{"oversize", datagram(good, protocol.MaxVoiceDatagram+1), protocol.ErrTooLarge},
		{"far oversize", datagram(good, 64<<10), protocol.ErrTooLarge},
		{"oversize and bad kind", datagram(protocol.VoiceHeader{Talkgroup: 200, Sender: 1042}, protocol.MaxVoiceDatagram+1), protocol.ErrTooLarge},
		{"talkgroup 0", datagram(protocol.VoiceHeader{Kind: protocol.KindGroupVoice, Sender: 1042}, 64), protocol.ErrBadID},
		{"sender 0", datagram(protocol.VoiceHeader{Kind: protocol.KindGroupVoice, Talkgroup: 200}, 64), protocol.ErrBadID},
		{"both IDs 0", datagram(protocol.VoiceHeader{Kind: protocol.KindGroupVoice}, 64), protocol.ErrBadID},
	}
	for kind := uint8(0); kind < 16; kind++ {
		if kind == protocol.KindGroupVoice {
			continue
		}
		h := good
		h.Kind = kind
		cases = append(cases, tcase{h.String(), datagram(h, 64), protocol.ErrBadKind})
	}
	for flags := uint8(flagReserved); flags < 16; flags++ {
		h := good
		h.Flags = flags
		cases = append(cases, tcase{"reserved flag " + h.String(), datagram(h, 64), protocol.ErrBadKind})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, n, err := protocol.ParseVoiceHeader(tc.b)
			if !errors.Is(err, tc.want) || n != 0 {
				t.Errorf("ParseVoiceHeader(% x..., %d bytes) = %d, %v; want %v", tc.b[:protocol.VoiceHeaderLen], len(tc.b), n, err, tc.want)
			}
		})
	}
}

// The relay parses a header per datagram; it must not allocate.
func TestParseVoiceHeaderAllocs(t *testing.T) {
	good := datagram(protocol.VoiceHeader{Kind: protocol.KindGroupVoice, Flags: protocol.FlagEndOfBurst, Talkgroup: 200, Sender: 1042}, 80)
	inputs := map[string][]byte{
		"valid":    good,
		"short":    good[:protocol.VoiceHeaderLen],
		"bad kind": datagram(protocol.VoiceHeader{Kind: 2, Talkgroup: 200, Sender: 1042}, 80),
		"bad ID":   datagram(protocol.VoiceHeader{Kind: protocol.KindGroupVoice, Sender: 1042}, 80),
	}
	for name, b := range inputs {
		allocs := testing.AllocsPerRun(100, func() {
			protocol.ParseVoiceHeader(b)
		})
		if allocs != 0 {
			t.Errorf("ParseVoiceHeader(%s) allocates %v times per call, want 0", name, allocs)
		}
	}
}

func BenchmarkParseVoiceHeader(b *testing.B) {
	d := datagram(protocol.VoiceHeader{Kind: protocol.KindGroupVoice, Talkgroup: 200, Sender: 1042}, 80)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := protocol.ParseVoiceHeader(d); err != nil {
			b.Fatal(err)
		}
	}
}
