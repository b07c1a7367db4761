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

// payloadHeaderLen is the size of the sequence number and gap.
const payloadHeaderLen = 3

// errPayload is returned for a payload too short to hold its header.
var errPayload = errors.New("radio: voice payload too short")

type payload struct {
	seq  uint16
	gap  uint8
	opus []byte // aliases the parsed buffer
}

func appendPayload(b []byte, seq uint16, gap uint8, opus []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, seq)
	b = append(b, gap)
	return append(b, opus...)
}

func parsePayload(b []byte) (payload, error) {
	if len(b) < payloadHeaderLen {
		return payload{}, errPayload
	}
	return payload{seq: binary.BigEndian.Uint16(b), gap: b[2], opus: b[payloadHeaderLen:]}, nil
}
