package protocol_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/varta-ptt/varta/protocol"
)

// Seed corpora are also committed under testdata/fuzz/<FuzzName>.

// addMessageSeeds seeds f with each sample message alone, all of them back to
// back, and a few malformed prefixes.
func addMessageSeeds(f *testing.F) {
	var stream []byte
	for _, tc := range sampleMessages() {
		wire := mustAppend(f, nil, tc.msg)
		f.Add(wire)
		f.Add(wire[:len(wire)-1])
		stream = append(stream, wire...)
	}
	f.Add(stream)
	f.Add([]byte{})
	f.Add([]byte{0x00})
	f.Add([]byte{0x80, 0x80, 0x80, 0x00})
	f.Add([]byte{0x81, 0x80, 0x04})             // MaxMessageSize+1
	f.Add([]byte{0x80, 0x80, 0x40, 'x', 'x'})   // 1 MiB
	f.Add([]byte{0x06, 0x98, 0x06, 0x02, 0x08}) // unknown field 99, cut short
	f.Add([]byte{0x05, 0x98, 0x06, 0x01, 0x08, 0x01})
}

func FuzzParseMessage(f *testing.F) {
	addMessageSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, n, err := protocol.ParseMessage(b)
		if err != nil {
			if m != nil || n != 0 {
				t.Fatalf("ParseMessage failed (%v) but returned %v, %d", err, m, n)
			}
			return
		}
		if n < 1 || n > len(b) {
			t.Fatalf("ParseMessage used %d of %d bytes", n, len(b))
		}
		if n > protocol.MaxMessageSize+3 {
			t.Fatalf("ParseMessage accepted a %d-byte message", n)
		}

		wire, err := protocol.AppendMessage(nil, m)
		if err != nil {
			t.Fatalf("AppendMessage of a parsed message %v: %v", m, err)
		}
		m2, n2, err := protocol.ParseMessage(wire)
		if err != nil {
			t.Fatalf("ParseMessage(AppendMessage(%v)): %v", m, err)
		}
		if n2 != len(wire) {
			t.Fatalf("re-parse used %d of %d bytes", n2, len(wire))
		}
		if !proto.Equal(m, m2) {
			t.Fatalf("round trip changed the message:\n%v\n%v", m, m2)
		}
	})
}

var messageErrors = []error{protocol.ErrShort, protocol.ErrTooLarge, protocol.ErrBadLength, protocol.ErrBadMessage}

func FuzzReader(f *testing.F) {
	addMessageSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		r := protocol.NewReader(bytes.NewReader(b))
		rest := b
		// Every message uses at least one byte, so a Reader that is not
		// stuck stops within len(b)+1 reads.
		for i := 0; ; i++ {
			if i > len(b) {
				t.Fatalf("Reader returned %d messages from %d bytes", i, len(b))
			}
			m, err := r.Read()

			// The Reader and ParseMessage agree on the stream.
			pm, n, perr := protocol.ParseMessage(rest)
			if err != nil {
				if m != nil {
					t.Fatalf("Read failed (%v) but returned %v", err, m)
				}
				if err == io.EOF {
					if len(rest) != 0 {
						t.Fatalf("Read = io.EOF with %d bytes left", len(rest))
					}
					return
				}
				if errors.Is(err, protocol.ErrShort) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("Read = %v, want it to wrap io.ErrUnexpectedEOF too", err)
				}
				for _, sentinel := range messageErrors {
					if errors.Is(err, sentinel) != errors.Is(perr, sentinel) {
						t.Fatalf("Read = %v but ParseMessage = %v", err, perr)
					}
				}
				return
			}
			if perr != nil {
				t.Fatalf("Read = %v but ParseMessage = %v", m, perr)
			}
			if !proto.Equal(m, pm) {
				t.Fatalf("Read = %v but ParseMessage = %v", m, pm)
			}
			rest = rest[n:]
		}
	})
}

func FuzzParseVoiceHeader(f *testing.F) {
	for _, h := range []protocol.VoiceHeader{
		{Kind: protocol.KindGroupVoice, Talkgroup: 1, Sender: 1},
		{Kind: protocol.KindGroupVoice, Flags: protocol.FlagEndOfBurst, Talkgroup: 200, Sender: 1042},
		{Kind: protocol.KindGroupVoice, Flags: protocol.FlagEmergency | protocol.FlagSignature, Talkgroup: protocol.MaxTalkgroupID, Sender: protocol.MaxUnitID},
		{Kind: 2, Talkgroup: 200, Sender: 1042},
		{Kind: protocol.KindGroupVoice, Flags: flagReserved, Talkgroup: 200, Sender: 1042},
		{Kind: protocol.KindGroupVoice, Sender: 1042},
	} {
		f.Add(datagram(h, protocol.VoiceHeaderLen+protocol.MinSealedLen))
		f.Add(datagram(h, 80))
	}
	f.Add([]byte{0x10, 0x00, 0x01, 0x00, 0x00, 0x01})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := protocol.ParseVoiceHeader(b)
		if err != nil {
			if n != 0 {
				t.Fatalf("ParseVoiceHeader failed (%v) but used %d bytes", err, n)
			}
			return
		}
		if n != protocol.VoiceHeaderLen {
			t.Fatalf("ParseVoiceHeader used %d bytes, want %d", n, protocol.VoiceHeaderLen)
		}
		if sealed := len(b) - n; sealed < protocol.MinSealedLen || len(b) > protocol.MaxVoiceDatagram {
			t.Fatalf("ParseVoiceHeader accepted a %d-byte datagram with %d sealed bytes", len(b), sealed)
		}
		if h.Kind != protocol.KindGroupVoice || !protocol.ValidTalkgroupID(uint32(h.Talkgroup)) || !protocol.ValidUnitID(h.Sender) {
			t.Fatalf("ParseVoiceHeader accepted %v", h)
		}
		if got := protocol.AppendVoiceHeader(nil, h); !bytes.Equal(got, b[:protocol.VoiceHeaderLen]) {
			t.Fatalf("AppendVoiceHeader(%v) = % x, want % x", h, got, b[:protocol.VoiceHeaderLen])
		}
	})
}
