package codec

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// FuzzReadWAV: any input gives 48 kHz audio or a codec error, never a
// panic, a hang or a huge allocation. Seeds: testdata/fuzz/FuzzReadWAV and
// the files built here.
func FuzzReadWAV(f *testing.F) {
	var pcm []byte
	for i := range 64 {
		pcm = append(pcm, byte(i*7), byte(i))
	}
	f.Add(buildWAV(wavPCM, 1, 8000, 16, pcm))
	f.Add(buildWAV(wavPCM, 2, 44100, 8, pcm))
	f.Add(buildWAV(wavPCM, 1, 22050, 24, pcm[:120]))
	f.Add(buildWAV(wavFloat, 1, 48000, 32, pcm))
	f.Add(buildWAV(wavMuLaw, 1, 8000, 8, pcm))
	f.Add(riff(chunk("fmt ", extensible(wavFloat, 2, 96000, 64)), chunk("data", pcm)))
	f.Add(riff(chunk("LIST", []byte("INFOabc")), chunk("fmt ", extensible(wavPCM, 1, 11025, 32)), chunk("data", pcm)))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := ReadWAV(bytes.NewReader(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "codec: ") {
				t.Fatalf("error without the package prefix: %v", err)
			}
			if !errors.Is(err, ErrNotWAV) && !errors.Is(err, ErrUnsupportedWAV) && !errors.Is(err, ErrMalformedWAV) &&
				!errors.Is(err, ErrEmptyWAV) && !errors.Is(err, ErrWAVTooLong) {
				t.Fatalf("error with no sentinel: %v", err)
			}
			return
		}
		if len(out) == 0 {
			t.Fatal("no error and no audio")
		}
		// Output is at most the input's bytes, times the upsampling ratio.
		if len(out) > len(data)*SampleRate/MinWAVRate+1 {
			t.Fatalf("%d samples from %d bytes", len(out), len(data))
		}
	})
}

// FuzzDecode: libopus is handed arbitrary bytes through every Decoder entry
// point and must return an error or one frame of audio, never crash.
// Seeds: testdata/fuzz/FuzzDecode (real frames) and the ones here.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{0x08})
	f.Add([]byte{0x4b, 0x41, 0x10, 0x00})
	f.Add([]byte{0xfc, 0xff, 0xfe})
	f.Add([]byte{0x0b, 0x03, 0x01, 0x02})
	dec, err := NewDecoder()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pcm, err := dec.Decode(data)
		if err == nil && len(pcm) != FrameSamples {
			t.Fatalf("Decode: %d samples", len(pcm))
		}
		if err != nil && !errors.Is(err, ErrBadFrame) && !errors.Is(err, ErrFrameDuration) {
			t.Fatalf("Decode error with no sentinel: %v", err)
		}
		if pcm, err = dec.DecodeFEC(data); err == nil && len(pcm) != FrameSamples {
			t.Fatalf("DecodeFEC: %d samples", len(pcm))
		}
		if pcm, err = dec.PLC(); err != nil || len(pcm) != FrameSamples {
			t.Fatalf("PLC: %d samples, %v", len(pcm), err)
		}
		if _, err := Inspect(data); err == nil && len(data) == 0 {
			t.Fatal("Inspect accepted an empty frame")
		}
	})
}
