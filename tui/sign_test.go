package tui

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/varta-ptt/varta/codec"
	"github.com/varta-ptt/varta/crypto/groupkey"
	"github.com/varta-ptt/varta/protocol"
	"github.com/varta-ptt/varta/radio"
)

// signedBurst is burstDatagrams with the talker's burst signature in the
// end marker, made as the talk loop makes it.
func signedBurst(t *testing.T, tg uint16, unit uint32, key ed25519.PrivateKey, pcm []int16) [][]byte {
	t.Helper()
	ds := burstDatagrams(t, tg, unit, 0, pcm)
	signers := radio.NewBurstSigners(func(tg uint16) (*groupkey.BurstSigner, error) { return groupkey.NewBurstSigner(key, tg, unit) })
	for _, d := range ds[:len(ds)-1] {
		signers.Add(d)
	}
	// The marker: same header and sequence number, the signature as its
	// payload's audio.
	last := ds[len(ds)-1]
	p, err := radio.ParsePayload(last[protocol.VoiceHeaderLen:])
	if err != nil {
		t.Fatal(err)
	}
	end := append(append([]byte(nil), last[:protocol.VoiceHeaderLen]...), radio.AppendPayload(nil, p.Seq, p.Gap, signers.Signature(tg))...)
	end[0] |= protocol.FlagSignature
	return append(ds[:len(ds)-1:len(ds)-1], end)
}

// The live receiver checks each burst's signature with the talker's key and
// says why a burst is not verified; it asks for a talker's certificate
// when its key is not known.
func TestLiveReceiverChecksSignatures(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	pcm := tonePCM(20)
	for _, c := range []struct {
		name     string
		burst    func() [][]byte
		key      ed25519.PublicKey
		drop     int // index of a datagram lost on the way, or -1
		verified bool
		why      string
	}{
		{"signed", func() [][]byte { return signedBurst(t, 100, 102, priv, pcm) }, pub, -1, true, ""},
		{"signed by another key", func() [][]byte { return signedBurst(t, 100, 102, otherPriv, pcm) }, pub, -1, false, "the signature does not match"},
		{"a frame lost", func() [][]byte { return signedBurst(t, 100, 102, priv, pcm) }, pub, 4, false, "frames were lost"},
		{"not signed", func() [][]byte { return burstDatagrams(t, 100, 102, 0, pcm) }, pub, -1, false, "not signed"},
		{"talker unknown", func() [][]byte { return signedBurst(t, 100, 102, priv, pcm) }, nil, -1, false, "the talker's certificate is not known"},
		{"end marker lost", func() [][]byte {
			ds := signedBurst(t, 100, 102, priv, pcm)
			return ds[:len(ds)-1]
		}, pub, -1, false, "the end of the burst was lost"},
	} {
		t.Run(c.name, func(t *testing.T) {
			log := newMsgLog()
			var learned []uint32
			rx := newLiveRx(liveRxConfig{
				open: clearOpener{}, send: log.send, idle: 200 * time.Millisecond,
				senderKey: func(unit uint32) ed25519.PublicKey {
					if unit != 102 {
						return nil
					}
					return c.key
				},
				learn: func(unit uint32) { learned = append(learned, unit) },
			})
			ds := c.burst()
			start := time.Unix(1000, 0)
			for i := 0; i < 60; i++ {
				now := start.Add(time.Duration(i) * codec.FrameDuration)
				if i < len(ds) && i != c.drop {
					rx.datagram(ds[i], now)
				}
				rx.tick(now.Add(codec.FrameDuration / 2))
			}
			var end *TalkerMsg
			for len(log.ch) > 0 {
				if m := (<-log.ch).(TalkerMsg); !m.Active {
					end = &m
				}
			}
			if end == nil {
				t.Fatal("the burst did not end")
			}
			if v := end.Verification; v.Verified != c.verified || v.Why != c.why {
				t.Fatalf("verification %+v, want verified %v, %q", v, c.verified, c.why)
			}
			if wantLearn := c.key == nil; (len(learned) == 1) != wantLearn || (wantLearn && learned[0] != 102) {
				t.Fatalf("learn calls %v", learned)
			}
		})
	}
}
