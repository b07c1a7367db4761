package sframe

import "math/bits"

// Header is an SFrame header (RFC 9605 section 4.3): the key ID that selects
// the key and the counter that, with the key's salt, forms the nonce.
//
//	 0 1 2 3 4 5 6 7
//	+-+-+-+-+-+-+-+-+---------------------+---------------------+
//	|X|  K  |Y|  C  |  KID... (0-8 bytes) |  CTR... (0-8 bytes) |
//	+-+-+-+-+-+-+-+-+---------------------+---------------------+
//
// A value below 8 is carried in the config byte itself (K or C) with its
// flag (X or Y) clear. A larger value follows the config byte as a
// big-endian integer of the minimum length, KID first; its flag is set and
// K or C holds the length minus one. A header is therefore 1 to 17 bytes.
type Header struct {
	KID uint64
	CTR uint64
}

// MaxHeaderLen is the longest SFrame header: the config byte and two
// 8-byte values.
const MaxHeaderLen = 1 + 8 + 8

// Len returns the length of h's encoding.
func (h Header) Len() int { return 1 + extLen(h.KID) + extLen(h.CTR) }

// extLen is the number of bytes that follow the config byte for v: none if
// v fits in three bits, else the minimum big-endian length.
func extLen(v uint64) int {
	if v < 8 {
		return 0
	}
	return (bits.Len64(v) + 7) / 8
}

// AppendHeader appends h's encoding to b.
func AppendHeader(b []byte, h Header) []byte {
	kl, cl := extLen(h.KID), extLen(h.CTR)
	var cfg byte
	if kl == 0 {
		cfg = byte(h.KID) << 4
	} else {
		cfg = 0x80 | byte(kl-1)<<4
	}
	if cl == 0 {
		cfg |= byte(h.CTR)
	} else {
		cfg |= 0x08 | byte(cl-1)
	}
	b = append(b, cfg)
	b = appendUint(b, h.KID, kl)
	return appendUint(b, h.CTR, cl)
}

func appendUint(b []byte, v uint64, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

// ParseHeader parses the SFrame header at the front of b and returns it
// with the number of bytes it used. It returns ErrMalformedHeader if b is
// shorter than the header its config byte announces, or if a value is not
// in its minimal encoding (a value below 8 in extra bytes, or a leading zero
// byte), so that every header has exactly one encoding. It does not
// allocate.
func ParseHeader(b []byte) (Header, int, error) {
	var h Header
	if len(b) == 0 {
		return h, 0, ErrMalformedHeader
	}
	cfg := b[0]
	n := 1
	var ok bool
	if h.KID, n, ok = parseValue(b, n, cfg>>4); !ok {
		return Header{}, 0, ErrMalformedHeader
	}
	if h.CTR, n, ok = parseValue(b, n, cfg&0x0f); !ok {
		return Header{}, 0, ErrMalformedHeader
	}
	return h, n, nil
}

// parseValue decodes one value from its four config bits (the X or Y flag
// and K or C) and, if the flag is set, the bytes at b[n:]. It returns the
// value and the offset after it.
func parseValue(b []byte, n int, field byte) (uint64, int, bool) {
	if field&0x08 == 0 {
		return uint64(field & 0x07), n, true
	}
	l := int(field&0x07) + 1
	if len(b)-n < l {
		return 0, 0, false
	}
	var v uint64
	for _, c := range b[n : n+l] {
		v = v<<8 | uint64(c)
	}
	if extLen(v) != l {
		return 0, 0, false
	}
	return v, n + l, true
}
