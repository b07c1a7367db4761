package protocol

import "errors"

var (
	// ErrShort is returned when a message or header is cut short.
	ErrShort = errors.New("protocol: message too short")
	// ErrTooLarge is returned when a message or datagram exceeds its cap.
	ErrTooLarge = errors.New("protocol: message too large")
	// ErrBadLength is returned when a length prefix is not a valid varint.
	ErrBadLength = errors.New("protocol: bad length prefix")
	// ErrBadKind is returned for a voice datagram of an unknown kind.
	ErrBadKind = errors.New("protocol: unknown datagram kind")
	// ErrBadID is returned when a unit or talkgroup ID is outside its range.
	ErrBadID = errors.New("protocol: ID out of range")
	// ErrBadMessage is returned when a control message does not decode.
	ErrBadMessage = errors.New("protocol: malformed control message")
)
