package server

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/varta-ptt/varta/protocol"
	"github.com/varta-ptt/varta/protocol/pb"
	"github.com/varta-ptt/varta/server/store"
)

// voiceDatagram builds a voice datagram with an opaque sealed payload.
func voiceDatagram(tg uint16, sender uint32, flags uint8, payload int) []byte {
	b := protocol.AppendVoiceHeader(nil, protocol.VoiceHeader{Kind: protocol.KindGroupVoice, Flags: flags, Talkgroup: tg, Sender: sender})
	return append(b, bytes.Repeat([]byte{0xa5}, payload)...)
}

func TestForward(t *testing.T) {
	s := newBareServer(t, nil)
	tg := s.addTG(100)
	s.addTG(200)
	talker := s.bareSession(101, "P-101", store.RoleOfficer, 100, 200)
	l1 := s.bareSession(102, "P-102", store.RoleOfficer, 100)
	l2 := s.bareSession(103, "P-103", store.RoleOfficer, 100)
	other := s.bareSession(104, "P-104", store.RoleOfficer, 200)
	for _, x := range []*session{talker, l1, l2} {
		join(t, x, 100)
	}
	join(t, other, 200)
	join(t, talker, 100, 200)

	// Not the holder yet.
	if s.forward(talker, voiceDatagram(100, 101, 0, 40), 1) {
		t.Fatal("voice accepted from a unit without the floor")
	}
	tg.request(talker, 50, pb.Emergency_EMERGENCY_NONE, false)

	tests := []struct {
		name   string
		from   *session
		b      []byte
		ok     bool
		reason DropReason
	}{
		{"holder", talker, voiceDatagram(100, 101, 0, 40), true, 0},
		{"spoofed sender", talker, voiceDatagram(100, 102, 0, 40), false, DropSpoofed},
		{"listener without the floor", l1, voiceDatagram(100, 102, 0, 40), false, DropNotHolder},
		{"unknown talkgroup", talker, voiceDatagram(300, 101, 0, 40), false, DropUnknownTG},
		{"holder on a talkgroup it does not hold", talker, voiceDatagram(200, 101, 0, 40), false, DropNotHolder},
		{"short", talker, voiceDatagram(100, 101, 0, 3), false, DropMalformed},
		{"oversize", talker, voiceDatagram(100, 101, 0, protocol.MaxVoiceDatagram), false, DropOversize},
		{"garbage", talker, []byte{0xff, 0xff, 0xff}, false, DropMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.counters.snapshot()
			q1, q2, qt := l1.voice.len(), l2.voice.len(), talker.voice.len()
			if got := s.forward(tt.from, tt.b, 1); got != tt.ok {
				t.Fatalf("forward = %v, want %v", got, tt.ok)
			}
			if talker.voice.len() != qt {
				t.Fatal("the talker was sent its own voice")
			}
			if other.voice.len() != 0 {
				t.Fatal("a unit outside the talkgroup got voice")
			}
			if tt.ok {
				if l1.voice.len() != q1+1 || l2.voice.len() != q2+1 {
					t.Fatal("a listener did not get the datagram")
				}
				return
			}
			if l1.voice.len() != q1 || l2.voice.len() != q2 {
				t.Fatal("a dropped datagram reached a listener")
			}
			after := s.counters.snapshot()
			if after.Dropped(tt.reason) != before.Dropped(tt.reason)+1 {
				t.Fatalf("drop not counted as %s", tt.reason)
			}
		})
	}
	got := l1.voice.pop()
	if !bytes.Equal(got, voiceDatagram(100, 101, 0, 40)) {
		t.Fatal("the listener's datagram differs from what was sent")
	}
}

func TestVoiceQueueDropsOldest(t *testing.T) {
	q := newVoiceQueue(4)
	for i := range 6 {
		dropped := q.push([]byte{byte(i)})
		if dropped != (i >= 4) {
			t.Fatalf("push %d dropped=%v", i, dropped)
		}
	}
	for want := 2; want < 6; want++ {
		if b := q.pop(); b == nil || b[0] != byte(want) {
			t.Fatalf("pop got %v, want %d", b, want)
		}
	}
	if q.pop() != nil {
		t.Fatal("queue not empty")
	}
}

func TestForwardDoesNotAllocate(t *testing.T) {
	s, talker, b := benchSetup(t, 8)
	allocs := testing.AllocsPerRun(1000, func() {
		s.forward(talker, b, 1)
		drainVoice(s)
	})
	if allocs != 0 {
		t.Fatalf("forward allocates %.1f times per datagram, want 0", allocs)
	}
}

func benchSetup(tb testing.TB, listeners int) (*Server, *session, []byte) {
	s := newBareServer(tb, func(c *Config) { c.VoiceQueueLen = 64 })
	tg := s.addTG(100)
	talker := s.bareSession(1, "T", store.RoleOfficer, 100)
	join(tb, talker, 100)
	for i := range listeners {
		l := s.bareSession(uint32(1000+i), "L", store.RoleOfficer, 100)
		join(tb, l, 100)
	}
	tg.request(talker, 50, pb.Emergency_EMERGENCY_NONE, false)
	return s, talker, voiceDatagram(100, 1, 0, 60)
}

// drainVoice empties every listener's queue, as their writers would.
func drainVoice(s *Server) {
	for _, m := range *(*s.tgs.Load())[100].members.Load() {
		for m.voice.pop() != nil {
		}
	}
}

// BenchmarkForward measures the relay's forwarding path: one datagram from
// the floor holder queued to every listener. Reported per datagram in.
func BenchmarkForward(b *testing.B) {
	for _, n := range []int{2, 10, 100} {
		b.Run(fmt.Sprintf("listeners=%d", n), func(b *testing.B) {
			s, talker, d := benchSetup(b, n)
			b.ReportAllocs()
			b.SetBytes(int64(len(d) * n))
			i := 0
			for b.Loop() {
				s.forward(talker, d, 1)
				if i++; i%32 == 0 {
					drainVoice(s)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
		})
	}
}
