package protocol_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/varta-ptt/varta/protocol"
	"github.com/varta-ptt/varta/protocol/pb"
)

// sampleMessages are valid envelopes of several types. The fuzz targets are
// seeded from them too.
func sampleMessages() []struct {
	name string
	msg  *pb.Envelope
} {
	return []struct {
		name string
		msg  *pb.Envelope
	}{
		{"empty", &pb.Envelope{}},
		{"hello", &pb.Envelope{Id: 1, Body: &pb.Envelope_Hello{Hello: &pb.Hello{Software: "varta-radio/0.1"}}}},
		{"floor request", &pb.Envelope{Id: 1<<64 - 1, Body: &pb.Envelope_FloorRequest{FloorRequest: &pb.FloorRequest{
			Talkgroup: protocol.MaxTalkgroupID,
			Priority:  255,
			Emergency: pb.Emergency_EMERGENCY_EMERGENCY,
		}}}},
		{"floor event", &pb.Envelope{Body: &pb.Envelope_FloorEvent{FloorEvent: &pb.FloorEvent{
			Kind:        pb.FloorEventKind_FLOOR_EVENT_TAKEN,
			Talkgroup:   200,
			Talker:      protocol.MaxUnitID,
			TalkerAlias: "Engine 7 — Ströme",
			Priority:    3,
			Emergency:   pb.Emergency_EMERGENCY_IMMINENT_PERIL,
			Position:    2,
			Cause:       pb.Cause_CAUSE_PREEMPTED,
			Reason:      "a higher-priority request took the floor",
			MaxTalkMs:   60000,
			CallId:      0xdeadbeefcafe,
		}}}},
		{"error", &pb.Envelope{Id: 42, Body: &pb.Envelope_Error{Error: &pb.Error{
			Code:   pb.ErrorCode_ERROR_NOT_ALLOWED,
			Reason: "unit 1042 is not a member of talkgroup 200 (ask the administrator to add it)",
		}}}},
		{"ack", &pb.Envelope{Id: 7, Body: &pb.Envelope_Ack{Ack: &pb.Ack{}}}},
		{"welcome", &pb.Envelope{Id: 1, Body: &pb.Envelope_Welcome{Welcome: &pb.Welcome{
			Unit:  1042,
			Alias: "E7",
			Role:  "firefighter",
			Allowed: []*pb.TalkgroupInfo{
				{Id: 1, Name: "dispatch", Priority: 1},
				{Id: 200, Name: "fireground"},
			},
			MaxDatagram:  protocol.MaxVoiceDatagram,
			MaxTalkMs:    60000,
			EndOfMediaMs: 2000,
			ServerTimeMs: -1,
			PriorityCap:  10,
		}}}},
		{"affiliate", &pb.Envelope{Id: 2, Body: &pb.Envelope_Affiliate{Affiliate: &pb.Affiliate{
			Talkgroups: []uint32{1, 200, protocol.MaxTalkgroupID},
		}}}},
	}
}

func mustAppend(t testing.TB, b []byte, m *pb.Envelope) []byte {
	t.Helper()
	b, err := protocol.AppendMessage(b, m)
	if err != nil {
		t.Fatalf("AppendMessage(%v): %v", m, err)
	}
	return b
}

// helloOfSize returns a Hello envelope whose encoding is exactly size bytes.
func helloOfSize(t testing.TB, size int) *pb.Envelope {
	t.Helper()
	for n := size; n >= 0; n-- {
		m := &pb.Envelope{Body: &pb.Envelope_Hello{Hello: &pb.Hello{Software: strings.Repeat("x", n)}}}
		if s := proto.Size(m); s == size {
			return m
		} else if s < size {
			break
		}
	}
	t.Fatalf("no Hello encodes to exactly %d bytes", size)
	return nil
}

func TestMessageRoundTrip(t *testing.T) {
	cases := sampleMessages()
	cases = append(cases, struct {
		name string
		msg  *pb.Envelope
	}{"largest", helloOfSize(t, protocol.MaxMessageSize)})

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte("keep")
			b := mustAppend(t, bytes.Clone(prefix), tc.msg)
			if !bytes.HasPrefix(b, prefix) {
				t.Fatalf("AppendMessage overwrote the buffer's contents: % x", b[:len(prefix)])
			}
			wire := b[len(prefix):]

			size, n := protowire.ConsumeVarint(wire)
			if n < 1 || n > 3 || int(size) != len(wire)-n || int(size) != proto.Size(tc.msg) {
				t.Fatalf("length prefix %d (%d bytes) for a %d-byte body of %d", size, n, len(wire)-n, proto.Size(tc.msg))
			}

			got, used, err := protocol.ParseMessage(wire)
			if err != nil {
				t.Fatalf("ParseMessage: %v", err)
			}
			if used != len(wire) {
				t.Errorf("ParseMessage used %d bytes, want %d", used, len(wire))
			}
			if !proto.Equal(got, tc.msg) {
				t.Errorf("ParseMessage = %v, want %v", got, tc.msg)
			}

			// Trailing bytes belong to the next message and are not consumed.
			_, used, err = protocol.ParseMessage(append(bytes.Clone(wire), 0x02, 0x08))
			if err != nil || used != len(wire) {
				t.Errorf("ParseMessage with trailing bytes = %d, %v; want %d, nil", used, err, len(wire))
			}

			r := protocol.NewReader(bytes.NewReader(wire))
			got, err = r.Read()
			if err != nil {
				t.Fatalf("Reader.Read: %v", err)
			}
			if !proto.Equal(got, tc.msg) {
				t.Errorf("Reader.Read = %v, want %v", got, tc.msg)
			}
			if _, err := r.Read(); err != io.EOF {
				t.Errorf("Reader.Read at end of stream = %v, want io.EOF", err)
			}
		})
	}
}

func TestAppendMessageTooLarge(t *testing.T) {
	m := helloOfSize(t, protocol.MaxMessageSize+1)
	in := []byte("keep")
	b, err := protocol.AppendMessage(in, m)
	if !errors.Is(err, protocol.ErrTooLarge) {
		t.Fatalf("AppendMessage(%d bytes) error = %v, want ErrTooLarge", proto.Size(m), err)
	}
	if !bytes.Equal(b, in) {
		t.Errorf("AppendMessage appended %q after refusing", b[len(in):])
	}
}

func TestAppendMessageInvalid(t *testing.T) {
	// proto3 strings must be UTF-8; the encoder refuses this one after it
	// has started writing, and nothing of it may reach the buffer.
	m := &pb.Envelope{Id: 1, Body: &pb.Envelope_Hello{Hello: &pb.Hello{Software: "bad \xff utf-8"}}}
	in := []byte("keep")
	b, err := protocol.AppendMessage(in, m)
	if err == nil {
		t.Fatalf("AppendMessage with invalid UTF-8 = % x, want an error", b)
	}
	if !bytes.Equal(b, in) {
		t.Errorf("AppendMessage appended % x after failing", b[len(in):])
	}
}

func TestReaderStream(t *testing.T) {
	var stream []byte
	var want []*pb.Envelope
	for _, tc := range sampleMessages() {
		stream = mustAppend(t, stream, tc.msg)
		want = append(want, tc.msg)
	}
	// A large message forces the Reader to grow its buffer; the small ones
	// after it reuse the buffer and must not see its old contents.
	big := helloOfSize(t, protocol.MaxMessageSize)
	stream = mustAppend(t, stream, big)
	want = append(want, big)
	for _, tc := range sampleMessages() {
		stream = mustAppend(t, stream, tc.msg)
		want = append(want, tc.msg)
	}

	t.Run("ParseMessage", func(t *testing.T) {
		b := stream
		for i, w := range want {
			got, n, err := protocol.ParseMessage(b)
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			if !proto.Equal(got, w) {
				t.Fatalf("message %d = %v, want %v", i, got, w)
			}
			b = b[n:]
		}
		if len(b) != 0 {
			t.Errorf("%d bytes left over", len(b))
		}
	})

	readers := []struct {
		name string
		r    func() io.Reader
	}{
		{"whole", func() io.Reader { return bytes.NewReader(stream) }},
		{"one byte at a time", func() io.Reader { return iotest.OneByteReader(bytes.NewReader(stream)) }},
		{"half reads", func() io.Reader { return iotest.HalfReader(bytes.NewReader(stream)) }},
		{"EOF with data", func() io.Reader { return iotest.DataErrReader(bytes.NewReader(stream)) }},
	}
	for _, rc := range readers {
		t.Run("Reader/"+rc.name, func(t *testing.T) {
			r := protocol.NewReader(rc.r())
			var got []*pb.Envelope
			for i, w := range want {
				m, err := r.Read()
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				if !proto.Equal(m, w) {
					t.Fatalf("message %d = %v, want %v", i, m, w)
				}
				got = append(got, m)
			}
			if _, err := r.Read(); err != io.EOF {
				t.Errorf("Read at end of stream = %v, want io.EOF", err)
			}
			// Messages returned earlier do not share the Reader's buffer.
			for i, w := range want {
				if !proto.Equal(got[i], w) {
					t.Errorf("message %d changed after later reads: %v", i, got[i])
				}
			}
		})
	}
}

func TestTruncatedMessage(t *testing.T) {
	for _, tc := range sampleMessages() {
		t.Run(tc.name, func(t *testing.T) {
			wire := mustAppend(t, nil, tc.msg)
			for n := 0; n < len(wire); n++ {
				// A fresh slice of exactly n bytes, so reading past it
				// would panic rather than see the rest of the message.
				b := bytes.Clone(wire[:n])
				m, used, err := protocol.ParseMessage(b)
				if !errors.Is(err, protocol.ErrShort) || m != nil || used != 0 {
					t.Errorf("ParseMessage(first %d of %d bytes) = %v, %d, %v; want ErrShort", n, len(wire), m, used, err)
				}

				_, err = protocol.NewReader(bytes.NewReader(b)).Read()
				switch {
				case n == 0:
					if err != io.EOF {
						t.Errorf("Reader on an empty stream = %v, want io.EOF", err)
					}
				case !errors.Is(err, protocol.ErrShort) || !errors.Is(err, io.ErrUnexpectedEOF):
					t.Errorf("Reader on first %d of %d bytes = %v, want ErrShort and io.ErrUnexpectedEOF", n, len(wire), err)
				}
			}
		})
	}

	// A stream cut inside the second message fails only there.
	first := mustAppend(t, nil, sampleMessages()[1].msg)
	second := mustAppend(t, nil, sampleMessages()[3].msg)
	r := protocol.NewReader(bytes.NewReader(append(first, second[:len(second)-1]...)))
	if _, err := r.Read(); err != nil {
		t.Fatalf("first message: %v", err)
	}
	if _, err := r.Read(); !errors.Is(err, protocol.ErrShort) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated second message = %v, want ErrShort and io.ErrUnexpectedEOF", err)
	}
}

// A Reader passes on the stream's own errors rather than calling them short.
func TestReaderStreamError(t *testing.T) {
	errReset := errors.New("stream reset")
	wire := mustAppend(t, nil, sampleMessages()[3].msg)
	for _, n := range []int{0, 1, len(wire) - 1} {
		r := protocol.NewReader(io.MultiReader(bytes.NewReader(wire[:n]), iotest.ErrReader(errReset)))
		if _, err := r.Read(); !errors.Is(err, errReset) {
			t.Errorf("stream failing after %d bytes: Read = %v, want %v", n, err, errReset)
		}
	}
}

func TestBadLengthPrefix(t *testing.T) {
	tooLarge := binary.AppendUvarint(nil, protocol.MaxMessageSize+1)
	huge := binary.AppendUvarint(nil, 1<<20)
	cases := []struct {
		name   string
		prefix []byte
		want   error
	}{
		{"MaxMessageSize+1", tooLarge, protocol.ErrTooLarge},
		{"1 MiB", huge, protocol.ErrTooLarge},
		{"largest 3-byte varint", []byte{0xff, 0xff, 0x7f}, protocol.ErrTooLarge},
		{"non-minimal 4-byte varint of 0", []byte{0x80, 0x80, 0x80, 0x00}, protocol.ErrBadLength},
		{"non-minimal 4-byte varint of a small value", []byte{0x81, 0x80, 0x80, 0x00}, protocol.ErrBadLength},
		{"5-byte varint", []byte{0x81, 0x80, 0x80, 0x80, 0x01}, protocol.ErrBadLength},
		{"10-byte varint", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, protocol.ErrBadLength},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Enough body for the length to be honoured if it were accepted.
			b := append(bytes.Clone(tc.prefix), make([]byte, protocol.MaxMessageSize+2)...)
			m, n, err := protocol.ParseMessage(b)
			if !errors.Is(err, tc.want) || m != nil || n != 0 {
				t.Errorf("ParseMessage = %v, %d, %v; want %v", m, n, err, tc.want)
			}
			if _, err := protocol.NewReader(bytes.NewReader(b)).Read(); !errors.Is(err, tc.want) {
				t.Errorf("Reader.Read = %v, want %v", err, tc.want)
			}
		})
	}
}

// endless is a stream that never ends; it counts what has been read from it.
type endless struct {
	prefix []byte
	read   int64
}

func (e *endless) Read(p []byte) (int, error) {
	n := copy(p, e.prefix)
	e.prefix = e.prefix[n:]
	for i := n; i < len(p); i++ {
		p[i] = 'x'
	}
	e.read += int64(len(p))
	return len(p), nil
}

// An oversized length prefix in front of a stream that would supply
// gigabytes is refused without reading or allocating the body.
func TestReaderRefusesOversizedBeforeAllocating(t *testing.T) {
	src := &endless{prefix: binary.AppendUvarint(nil, 1<<20)}
	r := protocol.NewReader(src)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := r.Read()
	runtime.ReadMemStats(&after)

	if !errors.Is(err, protocol.ErrTooLarge) {
		t.Fatalf("Read = %v, want ErrTooLarge", err)
	}
	if src.read > 64<<10 {
		t.Errorf("Reader read %d bytes of a body it should have refused", src.read)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc >= 1<<20 {
		t.Errorf("Reader allocated %d bytes while refusing a 1 MiB message", alloc)
	}
}

func TestBadMessageBody(t *testing.T) {
	cases := []struct {
		name string
		body []byte
	}{
		{"truncated varint field", []byte{0x08, 0x80}},
		{"field number 0", []byte{0x00, 0x01}},
		{"end group without start", []byte{0x0c}},
		{"reserved wire type 6", []byte{0x0e}},
		{"length past the end", []byte{0x52, 0x05, 0x0a}},
		{"hello with invalid UTF-8", []byte{0x52, 0x03, 0x0a, 0x01, 0xff}},
		{"garbage", bytes.Repeat([]byte{0xff}, 32)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wire := append(binary.AppendUvarint(nil, uint64(len(tc.body))), tc.body...)
			m, n, err := protocol.ParseMessage(wire)
			if !errors.Is(err, protocol.ErrBadMessage) || m != nil || n != 0 {
				t.Errorf("ParseMessage = %v, %d, %v; want ErrBadMessage", m, n, err)
			}
			if _, err := protocol.NewReader(bytes.NewReader(wire)).Read(); !errors.Is(err, protocol.ErrBadMessage) {
				t.Errorf("Reader.Read = %v, want ErrBadMessage", err)
			}
		})
	}
}

// A message type from a newer peer decodes with no Body, so a receiver can
// tell that it does not know it and answer ERROR_UNSUPPORTED.
func TestUnknownMessageType(t *testing.T) {
	withID := func(fields ...[]byte) []byte {
		b := protowire.AppendTag(nil, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, 9)
		for _, f := range fields {
			b = append(b, f...)
		}
		return b
	}
	cases := []struct {
		name string
		body []byte
	}{
		{"message at tag 99", withID(
			protowire.AppendBytes(protowire.AppendTag(nil, 99, protowire.BytesType), []byte{0x08, 0x01}))},
		{"varint at tag 99", withID(
			protowire.AppendVarint(protowire.AppendTag(nil, 99, protowire.VarintType), 1))},
		{"several unknown fields", withID(
			protowire.AppendBytes(protowire.AppendTag(nil, 99, protowire.BytesType), nil),
			protowire.AppendFixed32(protowire.AppendTag(nil, 100, protowire.Fixed32Type), 5),
			protowire.AppendVarint(protowire.AppendTag(nil, 1<<29-1, protowire.VarintType), 1))},
		// A known body field of the wrong wire type is kept as unknown too.
		{"hello as a varint", withID(
			protowire.AppendVarint(protowire.AppendTag(nil, 10, protowire.VarintType), 1))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wire := append(binary.AppendUvarint(nil, uint64(len(tc.body))), tc.body...)
			check := func(t *testing.T, m *pb.Envelope) {
				t.Helper()
				if m.GetBody() != nil {
					t.Errorf("Body = %T, want nil for an unknown type", m.GetBody())
				}
				if m.GetId() != 9 {
					t.Errorf("Id = %d, want 9", m.GetId())
				}
				if len(m.ProtoReflect().GetUnknown()) == 0 {
					t.Errorf("unknown fields were dropped")
				}
			}

			m, n, err := protocol.ParseMessage(wire)
			if err != nil {
				t.Fatalf("ParseMessage: %v", err)
			}
			if n != len(wire) {
				t.Errorf("ParseMessage used %d bytes, want %d", n, len(wire))
			}
			check(t, m)

			m, err = protocol.NewReader(bytes.NewReader(wire)).Read()
			if err != nil {
				t.Fatalf("Reader.Read: %v", err)
			}
			check(t, m)
		})
	}
}

func BenchmarkParseMessage(b *testing.B) {
	wire := mustAppend(b, nil, sampleMessages()[3].msg)
	b.ReportAllocs()
	b.SetBytes(int64(len(wire)))
	for b.Loop() {
		if _, _, err := protocol.ParseMessage(wire); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendMessage(b *testing.B) {
	m := sampleMessages()[3].msg
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = protocol.AppendMessage(buf[:0], m); err != nil {
			b.Fatal(err)
		}
	}
}

// A kmf connection's Reader accepts messages up to MaxKMFMessageSize; the
// default Reader refuses them.
func TestReaderLimit(t *testing.T) {
	big := &pb.Envelope{Id: 3, Body: &pb.Envelope_PutKeyBundle{PutKeyBundle: &pb.PutKeyBundle{
		Talkgroup: 100, Epoch: 2, KmfCertificate: bytes.Repeat([]byte{7}, 200<<10),
	}}}
	if _, err := protocol.AppendMessage(nil, big); !errors.Is(err, protocol.ErrTooLarge) {
		t.Fatalf("AppendMessage of 200 KiB: %v, want ErrTooLarge", err)
	}
	b, err := protocol.AppendMessageLimit(nil, big, protocol.MaxKMFMessageSize)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := protocol.NewReader(bytes.NewReader(b)).Read(); !errors.Is(err, protocol.ErrTooLarge) {
		t.Fatalf("default Reader: %v, want ErrTooLarge", err)
	}
	r := protocol.NewReader(bytes.NewReader(b))
	r.SetLimit(protocol.MaxKMFMessageSize)
	got, err := r.Read()
	if err != nil || !proto.Equal(got, big) {
		t.Fatalf("kmf Reader: %v", err)
	}
}
