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

// maxPrefixLen is the longest varint that can encode MaxMessageSize.
const maxPrefixLen = 3

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
	size := proto.Size(m)
	if size > MaxMessageSize {
		return b, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, size, MaxMessageSize)
	}
	out := binary.AppendUvarint(b, uint64(size))
	out, err := proto.MarshalOptions{}.MarshalAppend(out, m)
	if err != nil {
		return b, fmt.Errorf("protocol: encode message: %w", err)
	}
	return out, nil
}

// parseLength decodes the length prefix at the front of b.
func parseLength(b []byte) (size, n int, err error) {
	var v uint64
	for i := 0; i < len(b); i++ {
		if i == maxPrefixLen {
			return 0, 0, ErrBadLength
		}
		c := b[i]
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			if v > MaxMessageSize {
				return 0, 0, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, v, MaxMessageSize)
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
	size, n, err := parseLength(b)
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
	r   *bufio.Reader
	buf []byte
}

// NewReader returns a Reader on r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 4096)}
}

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
	size, _, err := parseLength(prefix[:n])
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
