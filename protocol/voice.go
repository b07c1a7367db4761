package protocol

import "fmt"

// VoiceHeader is the clear header in front of every voice datagram. The relay
// reads it and nothing else; the rest is an SFrame (RFC 9605) ciphertext that
// authenticates these bytes as associated data.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  kind | flags |        talkgroup ID           |   sender ...  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   ... sender unit ID (24 bits)|  SFrame header, ciphertext,   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+    tag (17 or more bytes) ... |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// kind is KindGroupVoice; flags are the Flag* bits, and the reserved bit must
// be zero. All integers are big-endian.
type VoiceHeader struct {
	Kind      uint8
	Flags     uint8
	Talkgroup uint16
	Sender    uint32
}

// Datagram kinds (high four bits of the first byte).
const (
	KindGroupVoice uint8 = 1
)

// Voice flags (low four bits of the first byte).
const (
	FlagEndOfBurst uint8 = 1 << 0 // last frame of a transmission
	FlagEmergency  uint8 = 1 << 1 // the burst is an emergency call
	FlagSignature  uint8 = 1 << 2 // the payload signs the burst rather than carrying audio
	flagReserved   uint8 = 1 << 3
)

const (
	// VoiceHeaderLen is the size of the clear header.
	VoiceHeaderLen = 6
	// MinSealedLen is the smallest SFrame: a one-byte header and a 16-byte tag.
	MinSealedLen = 1 + 16
	// MaxVoiceDatagram caps a whole voice datagram, header included. It fits
	// a QUIC DATAGRAM frame in a 1,280-byte packet with room to spare.
	MaxVoiceDatagram = 1000
)

// ParseVoiceHeader parses the clear header at the front of a whole voice
// datagram b and returns it with the number of bytes it used. It checks the
// datagram's size, the kind, the reserved flag and both IDs, so a datagram
// it accepts has a sealed payload of MinSealedLen bytes or more after the
// header. It does not allocate.
func ParseVoiceHeader(b []byte) (VoiceHeader, int, error) {
	var h VoiceHeader
	if len(b) > MaxVoiceDatagram {
		return h, 0, ErrTooLarge
	}
	if len(b) < VoiceHeaderLen+MinSealedLen {
		return h, 0, ErrShort
	}
	h.Kind = b[0] >> 4
	h.Flags = b[0] & 0x0f
	h.Talkgroup = uint16(b[1])<<8 | uint16(b[2])
	h.Sender = uint32(b[3])<<16 | uint32(b[4])<<8 | uint32(b[5])
	if h.Kind != KindGroupVoice || h.Flags&flagReserved != 0 {
		return h, 0, ErrBadKind
	}
	if h.Talkgroup == 0 || h.Sender == 0 {
		return h, 0, ErrBadID
	}
	return h, VoiceHeaderLen, nil
}

// AppendVoiceHeader appends h's encoding to b.
func AppendVoiceHeader(b []byte, h VoiceHeader) []byte {
	return append(b,
		h.Kind<<4|h.Flags&0x0f,
		byte(h.Talkgroup>>8), byte(h.Talkgroup),
		byte(h.Sender>>16), byte(h.Sender>>8), byte(h.Sender))
}

// String describes h for logs and tests.
func (h VoiceHeader) String() string {
	return fmt.Sprintf("voice{kind=%d flags=%#x tg=%d sender=%d}", h.Kind, h.Flags, h.Talkgroup, h.Sender)
}
