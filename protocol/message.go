package protocol

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"

	"google.golang.org/protobuf/proto"

	"github.com/varta-ptt/varta/protocol/pb"
)

// MaxMessageSize caps one control message (the Envelope, without its length
// prefix). Larger messages are refused before anything is allocated.
const MaxMessageSize = 64 << 10

// MaxKMFMessageSize caps a control message on a connection of a unit with
// role kmf, which carries a whole talkgroup's member certificates and sealed
// keys in one message.
const MaxKMFMessageSize = 16 << 20

// maxPrefixLen is the longest varint that can encode MaxKMFMessageSize.
const maxPrefixLen = 4

// A control message on the wire:
//
//	+----------------------+---------------------------------+
//	| length (varint, 1-3) | pb.Envelope (length bytes)       |
//	+----------------------+---------------------------------+
//
// The length is a protobuf base-128 varint and at most MaxMessageSize.

// AppendMessage appends m, length-prefixed, to b. On error it returns b
// unchanged: nothing of m is appended.
func AppendMessage(b []byte, m *pb.Envelope) ([]byte, error) {
	return AppendMessageLimit(b, m, MaxMessageSize)
}

// AppendMessageLimit is AppendMessage with another size cap (MaxKMFMessageSize
// on kmf connections).
func AppendMessageLimit(b []byte, m *pb.Envelope, limit int) ([]byte, error) {
	size := proto.Size(m)
	if size > limit {
		return b, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, size, limit)
	}
	out := binary.AppendUvarint(b, uint64(size))
	out, err := proto.MarshalOptions{}.MarshalAppend(out, m)
	if err != nil {
		return b, fmt.Errorf("protocol: encode message: %w", err)
	}
	return out, nil
}

// parseLength decodes the length prefix at the front of b.
func parseLength(b []byte, limit int) (size, n int, err error) {
	var v uint64
	for i := 0; i < len(b); i++ {
		if i == maxPrefixLen {
			return 0, 0, ErrBadLength
		}
		c := b[i]
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			if i > 0 && c == 0 {
				// Non-minimal encoding: refuse, so every length has
				// exactly one encoding.
				return 0, 0, ErrBadLength
			}
			if v > uint64(limit) {
				return 0, 0, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, v, limit)
			}
			return int(v), i + 1, nil
		}
	}
	return 0, 0, ErrShort
}

// ParseMessage decodes one length-prefixed message from the front of b and
// returns it with the number of bytes used. A message cut short returns
// ErrShort; the caller may retry with more bytes.
func ParseMessage(b []byte) (*pb.Envelope, int, error) {
	size, n, err := parseLength(b, MaxMessageSize)
	if err != nil {
		return nil, 0, err
	}
	if len(b)-n < size {
		return nil, 0, ErrShort
	}
	m, err := unmarshal(b[n : n+size])
	if err != nil {
		return nil, 0, err
	}
	return m, n + size, nil
}

func unmarshal(b []byte) (*pb.Envelope, error) {
	m := new(pb.Envelope)
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	return m, nil
}

// Reader reads length-prefixed control messages from a stream. It is not
// safe for concurrent use.
type Reader struct {
	r     *bufio.Reader
	buf   []byte
	limit int
}

// NewReader returns a Reader on r that refuses messages over MaxMessageSize.
func NewReader(r io.Reader) *Reader {
	// A small buffer: the relay keeps one per connected unit, and most
	// control messages are tens of bytes; larger bodies are read straight
	// into buf.
	return &Reader{r: bufio.NewReaderSize(r, 512), limit: MaxMessageSize}
}

// SetLimit changes the largest message the Reader accepts (MaxKMFMessageSize
// on kmf connections). The buffer grows only as messages need it.
func (r *Reader) SetLimit(n int) { r.limit = n }

// Read blocks until a whole message has arrived and returns it. It returns
// io.EOF at a clean end of stream, and ErrShort (wrapped with
// io.ErrUnexpectedEOF) when the stream ends inside a message. An oversized
// length is refused before its body is read.
func (r *Reader) Read() (*pb.Envelope, error) {
	var prefix [maxPrefixLen]byte
	n := 0
	for {
		c, err := r.r.ReadByte()
		if err != nil {
			if err == io.EOF && n > 0 {
				return nil, fmt.Errorf("%w: %w", ErrShort, io.ErrUnexpectedEOF)
			}
			return nil, err
		}
		if n == maxPrefixLen {
			return nil, ErrBadLength
		}
		prefix[n] = c
		n++
		if c < 0x80 {
			break
		}
	}
	size, _, err := parseLength(prefix[:n], r.limit)
	if err != nil {
		return nil, err
	}
	if cap(r.buf) < size {
		r.buf = make([]byte, size)
	}
	body := r.buf[:size]
	if _, err := io.ReadFull(r.r, body); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("%w: %w", ErrShort, io.ErrUnexpectedEOF)
		}
		return nil, err
	}
	return unmarshal(body)
}
