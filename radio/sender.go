package radio

import (
	"github.com/varta-ptt/varta/client"
	"github.com/varta-ptt/varta/crypto/groupkey"
	"github.com/varta-ptt/varta/protocol"
)

// Sealer seals voice frames; *client.Crypto implements it.
type Sealer interface {
	Seal(dst []byte, tg uint16, flags uint8, payload []byte) ([]byte, error)
}

var _ Sealer = (*client.Crypto)(nil)

// BurstSender numbers, seals, signs and sends the frames of one
// transmission: the payload's sequence number and DTX gap, the same frame
// sealed for each talkgroup it goes to under that talkgroup's own key
// (multiselect; the relay never bridges), each talkgroup's burst signed on
// its own, and the signature in the end-of-burst marker. It reuses its
// buffers from frame to frame. Not safe for concurrent use: the sender's
// voice loop owns it.
type BurstSender struct {
	seal    Sealer
	send    func(datagram []byte) error
	signers *BurstSigners
	seq     uint16
	gap     uint8
	buf, pl []byte
}

// NewBurstSender starts a transmission. send sends one sealed datagram;
// it must not keep the buffer after it returns. start makes each
// talkgroup's signer (client.Crypto.BurstSigner); with a nil start the
// transmission goes out unsigned.
func NewBurstSender(seal Sealer, send func(datagram []byte) error, start func(tg uint16) (*groupkey.BurstSigner, error)) *BurstSender {
	return &BurstSender{seal: seal, send: send, signers: NewBurstSigners(start)}
}

// Pause counts one 20 ms slot of DTX silence that is not sent. It returns
// false when the gap counter is full: that slot's frame must be sent
// anyway (with Send) to keep the counter in range.
func (s *BurstSender) Pause() bool {
	if s.gap == 255 {
		return false
	}
	s.gap++
	return true
}

// Send sends one Opus frame, sealed with flags, on each of tgs.
func (s *BurstSender) Send(tgs []uint32, flags uint8, opus []byte) error {
	return s.frame(tgs, flags, opus)
}

// End sends the end-of-burst marker, sealed with flags, on each of tgs:
// no audio, each talkgroup's burst signature in its place.
func (s *BurstSender) End(tgs []uint32, flags uint8) error {
	return s.frame(tgs, flags|protocol.FlagEndOfBurst, nil)
}

func (s *BurstSender) frame(tgs []uint32, flags uint8, opus []byte) error {
	end := flags&protocol.FlagEndOfBurst != 0
	s.pl = AppendPayload(s.pl[:0], s.seq, s.gap, opus)
	for _, tg := range tgs {
		f := flags
		if end {
			sig := s.signers.Signature(uint16(tg))
			s.pl = AppendPayload(s.pl[:0], s.seq, s.gap, sig)
			if sig != nil {
				f |= protocol.FlagSignature
			}
		}
		var err error
		if s.buf, err = s.seal.Seal(s.buf[:0], uint16(tg), f, s.pl); err != nil {
			return err
		}
		if !end {
			s.signers.Add(s.buf)
		}
		if err := s.send(s.buf); err != nil {
			return err
		}
	}
	s.seq++
	s.gap = 0
	return nil
}
