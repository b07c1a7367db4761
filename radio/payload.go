// Package radio is the handheld's voice pipeline on top of the client
// session: transmit (PCM -> Opus -> SFrame -> voice datagrams, paced at
// 20 ms, under floor control) and receive (datagrams -> SFrame open ->
// jitter buffer with FEC and PLC -> PCM per transmission).
//
// Inside each sealed frame, after SFrame decryption, the payload is:
//
//	0      2 bytes  sequence number of the frame in its burst (big-endian,
//	                +1 per frame sent; DTX frames are not sent and take none)
//	2      1 byte   gap: 20 ms slots of DTX silence before this frame
//	3      ...      one 20 ms Opus frame; empty on the end-of-burst marker
//
// A burst ends with a datagram flagged protocol.FlagEndOfBurst whose Opus
// frame is empty; its gap counts trailing silence. Because the payload is
// inside SFrame, the relay sees none of it.
package radio

import (
	"encoding/binary"
	"errors"
)

// PayloadHeaderLen is the size of the sequence number and gap.
const PayloadHeaderLen = 3

// ErrPayload is returned for a payload too short to hold its header.
var ErrPayload = errors.New("radio: voice payload too short")

// Payload is the plaintext of one voice frame.
type Payload struct {
	Seq  uint16
	Gap  uint8
	Opus []byte // aliases the parsed buffer
}

// AppendPayload appends a payload's encoding to b.
func AppendPayload(b []byte, seq uint16, gap uint8, opus []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, seq)
	b = append(b, gap)
	return append(b, opus...)
}

// ParsePayload parses a payload; Opus aliases b.
func ParsePayload(b []byte) (Payload, error) {
	if len(b) < PayloadHeaderLen {
		return Payload{}, ErrPayload
	}
	return Payload{Seq: binary.BigEndian.Uint16(b), Gap: b[2], Opus: b[PayloadHeaderLen:]}, nil
}

// SeqUnwrapper extends a burst's 16-bit sequence numbers to 64 bits. The
// zero value is ready.
type SeqUnwrapper struct {
	started bool
	last    uint64
}

// Unwrap returns the 64-bit sequence number nearest the last one seen.
func (u *SeqUnwrapper) Unwrap(s uint16) uint64 {
	if !u.started {
		u.started = true
		u.last = uint64(s)
		return u.last
	}
	d := int16(s - uint16(u.last))
	v := uint64(int64(u.last) + int64(d))
	if v > u.last {
		u.last = v
	}
	return v
}
