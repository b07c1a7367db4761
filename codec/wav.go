package codec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"time"
)

// WAV input limits.
const (
	MinWAVRate     = 8000   // Hz
	MaxWAVRate     = 192000 // Hz
	MaxWAVChannels = 8      // mixed down to mono
	// MaxWAVDuration bounds what ReadWAV accepts, and so the memory it uses:
	// far above any transmission (the talk limit is a minute or so), far
	// below what would exhaust a handheld.
	MaxWAVDuration = 10 * time.Minute
)

// WAVE format tags (the fmt chunk's first field).
const (
	wavPCM        = 0x0001
	wavFloat      = 0x0003
	wavALaw       = 0x0006
	wavMuLaw      = 0x0007
	wavExtensible = 0xfffe
)

// compressedWAV names format tags a user may meet, for the error message.
var compressedWAV = map[uint16]string{
	0x0002: "Microsoft ADPCM",
	0x0011: "IMA ADPCM",
	0x0031: "GSM 6.10",
	0x0040: "G.721 ADPCM",
	0x0050: "MPEG audio",
	0x0055: "MP3",
	0x0064: "G.726 ADPCM",
	0x0160: "WMA",
	0x0161: "WMA",
	0x1610: "AAC",
	0x704f: "Opus",
	0xf1ac: "FLAC",
}

// ksdataformatSubtype is the GUID suffix shared by the WAVE_FORMAT_EXTENSIBLE
// subformats (after the 2-byte format tag).
var ksdataformatSubtype = []byte{0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71}

const convertHint = "convert it with: sox IN.wav -e signed-integer -b 16 OUT.wav"

// ReadWAVFile reads the WAV file at path as ReadWAV does; errors name the file.
func ReadWAVFile(path string) ([]int16, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("codec: %w", err)
	}
	defer f.Close()
	return readWAV(f, path)
}

// ReadWAV reads a WAV stream and returns its audio as 48 kHz mono PCM. It
// accepts integer PCM of 8, 16, 24 or 32 bits, IEEE float of 32 or 64 bits,
// G.711 A-law and mu-law, plain or WAVE_FORMAT_EXTENSIBLE, 1 to 8 channels
// (averaged to mono), at any rate from 8 to 192 kHz (resampled with a
// windowed-sinc interpolator). It reads r sequentially, so a pipe will do. A
// data chunk that claims more bytes than the stream holds (a recording that
// was cut short) yields the whole frames present. Errors wrap ErrNotWAV,
// ErrUnsupportedWAV, ErrMalformedWAV, ErrEmptyWAV or ErrWAVTooLong and say
// what to do.
func ReadWAV(r io.Reader) ([]int16, error) {
	return readWAV(r, "WAV input")
}

// wavFormat is what ReadWAV needs from the fmt chunk.
type wavFormat struct {
	tag        uint16 // wavPCM, wavFloat, wavALaw or wavMuLaw after resolving extensible
	channels   int
	rate       int
	blockAlign int
	bits       int // container bits per sample
}

func readWAV(r io.Reader, name string) ([]int16, error) {
	fail := func(kind error, format string, args ...any) error {
		return &wavError{name: name, problem: fmt.Sprintf(format, args...), kind: kind}
	}
	ioFail := func(err error) error {
		return fmt.Errorf("codec: %s: %w", name, err)
	}

	var hdr [12]byte
	n, err := io.ReadFull(r, hdr[:])
	switch {
	case n == 0 && (err == io.EOF || err == nil):
		return nil, fail(ErrEmptyWAV, "is empty (0 bytes)")
	case err == io.ErrUnexpectedEOF:
		return nil, fail(ErrNotWAV, "is only %d bytes long, too short for a WAV file", n)
	case err != nil:
		return nil, ioFail(err)
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return nil, fail(ErrNotWAV, "%s", sniff(hdr[:]))
	}

	var format *wavFormat
	for {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				if format == nil {
					return nil, fail(ErrMalformedWAV, "has no fmt chunk (the file is truncated or not really WAV)")
				}
				return nil, fail(ErrEmptyWAV, "has no data chunk, so no audio")
			}
			return nil, ioFail(err)
		}
		id := string(ch[0:4])
		size := binary.LittleEndian.Uint32(ch[4:8])
		switch id {
		case "fmt ":
			if format != nil {
				return nil, fail(ErrMalformedWAV, "has two fmt chunks")
			}
			f, err := readFmt(r, size, fail)
			if err != nil {
				return nil, err
			}
			format = f
		case "data":
			if format == nil {
				return nil, fail(ErrMalformedWAV, "has its data chunk before the fmt chunk")
			}
			return readData(r, size, format, fail, ioFail)
		default:
			skip := int64(size) + int64(size&1) // chunks are padded to even length
			if _, err := io.CopyN(io.Discard, r, skip); err != nil {
				if err == io.EOF {
					return nil, fail(ErrMalformedWAV, "ends inside its %q chunk before any audio", id)
				}
				return nil, ioFail(err)
			}
		}
	}
}

// sniff says what a non-WAV file looks like, for the error message.
func sniff(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("RIFF")):
		return fmt.Sprintf("is a RIFF file of type %q, not WAVE", b[8:12])
	case bytes.HasPrefix(b, []byte("RIFX")):
		return "is a big-endian (RIFX) WAV file, which is not supported; " + convertHint
	case bytes.HasPrefix(b, []byte("RF64")), bytes.HasPrefix(b, []byte("BW64")):
		return "is an RF64 (over 4 GB) WAV file, which is not supported; " + convertHint
	case bytes.HasPrefix(b, []byte("fLaC")):
		return "is a FLAC file, not WAV; " + convertHint
	case bytes.HasPrefix(b, []byte("OggS")):
		return "is an Ogg file (Opus or Vorbis), not WAV; " + convertHint
	case bytes.HasPrefix(b, []byte("ID3")), b[0] == 0xff && b[1]&0xe0 == 0xe0:
		return "looks like an MP3 file, not WAV; " + convertHint
	case bytes.HasPrefix(b, []byte("FORM")):
		return "is an AIFF file, not WAV; " + convertHint
	case bytes.HasPrefix(b, []byte(".snd")):
		return "is a Sun/NeXT .au file, not WAV; " + convertHint
	case string(b[4:8]) == "ftyp":
		return "is an MP4/M4A file, not WAV; " + convertHint
	}
	return "is not a WAV file (it does not start with a RIFF/WAVE header)"
}

// readFmt parses a fmt chunk of the given size.
func readFmt(r io.Reader, size uint32, fail func(error, string, ...any) error) (*wavFormat, error) {
	if size < 16 {
		return nil, fail(ErrMalformedWAV, "has a %d-byte fmt chunk; it needs at least 16", size)
	}
	var b [40]byte
	keep := min(size, uint32(len(b)))
	if _, err := io.ReadFull(r, b[:keep]); err != nil {
		return nil, fail(ErrMalformedWAV, "ends inside its fmt chunk")
	}
	if _, err := io.CopyN(io.Discard, r, int64(size-keep)+int64(size&1)); err != nil {
		return nil, fail(ErrMalformedWAV, "ends inside its fmt chunk")
	}
	le := binary.LittleEndian
	f := &wavFormat{
		tag:        le.Uint16(b[0:2]),
		channels:   int(le.Uint16(b[2:4])),
		rate:       int(le.Uint32(b[4:8])),
		blockAlign: int(le.Uint16(b[12:14])),
		bits:       int(le.Uint16(b[14:16])),
	}
	if f.tag == wavExtensible {
		if size < 40 {
			return nil, fail(ErrMalformedWAV, "has an extensible fmt chunk of %d bytes; it needs 40", size)
		}
		if !bytes.Equal(b[26:40], ksdataformatSubtype) {
			return nil, fail(ErrUnsupportedWAV, "has an extensible format with an unknown subformat GUID; %s", convertHint)
		}
		f.tag = le.Uint16(b[24:26])
	}
	switch f.tag {
	case wavPCM:
		if f.bits != 8 && f.bits != 16 && f.bits != 24 && f.bits != 32 {
			return nil, fail(ErrUnsupportedWAV, "has %d-bit integer samples; 8, 16, 24 and 32-bit are supported; %s", f.bits, convertHint)
		}
	case wavFloat:
		if f.bits != 32 && f.bits != 64 {
			return nil, fail(ErrUnsupportedWAV, "has %d-bit float samples; 32 and 64-bit are supported; %s", f.bits, convertHint)
		}
	case wavALaw, wavMuLaw:
		if f.bits != 8 {
			return nil, fail(ErrUnsupportedWAV, "has %d-bit G.711 samples; G.711 is 8-bit", f.bits)
		}
	default:
		what, ok := compressedWAV[f.tag]
		if !ok {
			what = fmt.Sprintf("format 0x%04x", f.tag)
		}
		return nil, fail(ErrUnsupportedWAV, "is compressed (%s), which is not supported; %s", what, convertHint)
	}
	switch {
	case f.channels == 0:
		return nil, fail(ErrMalformedWAV, "declares 0 channels")
	case f.channels > MaxWAVChannels:
		return nil, fail(ErrUnsupportedWAV, "has %d channels; up to %d are supported (mixed down to mono)", f.channels, MaxWAVChannels)
	case f.rate < MinWAVRate || f.rate > MaxWAVRate:
		return nil, fail(ErrUnsupportedWAV, "has a sample rate of %d Hz; %d to %d Hz is supported; resample it with: sox IN.wav -r 48000 OUT.wav",
			f.rate, MinWAVRate, MaxWAVRate)
	case f.blockAlign != f.channels*f.bits/8:
		return nil, fail(ErrMalformedWAV, "has a block size of %d bytes, which does not match %d channels of %d bits",
			f.blockAlign, f.channels, f.bits)
	}
	return f, nil
}

// readData reads a data chunk of the given size (0 or 0xffffffff: up to the
// end of the stream, as streaming writers leave it) and returns it as 48 kHz
// mono.
func readData(r io.Reader, size uint32, f *wavFormat, fail func(error, string, ...any) error, ioFail func(error) error) ([]int16, error) {
	maxFrames := int64(MaxWAVDuration/time.Second) * int64(f.rate)
	limit := int64(size)
	if size == 0 || size == 0xffffffff {
		limit = math.MaxInt64
	}
	// Writers that cannot seek back (sox to a pipe) leave a placeholder size,
	// so a large size is not trusted: the length is checked while reading,
	// and memory grows only with the data actually present.
	lr := io.LimitReader(r, limit)
	decode := sampleDecoder(f)
	buf := make([]byte, f.blockAlign*max(1, 65536/f.blockAlign))
	mono := make([]float32, 0, min(limit/int64(f.blockAlign), 1<<16))
	scale := 1 / float64(f.channels)
	for {
		n, err := io.ReadFull(lr, buf)
		whole := n - n%f.blockAlign
		for off := 0; off < whole; off += f.blockAlign {
			var sum float64
			for c := range f.channels {
				sum += decode(buf[off+c*f.bits/8:])
			}
			mono = append(mono, float32(sum*scale))
		}
		if int64(len(mono)) > maxFrames {
			return nil, fail(ErrWAVTooLong, "is longer than %v; cut it with: sox IN.wav OUT.wav trim 0 %d",
				MaxWAVDuration, int(MaxWAVDuration.Seconds()))
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return nil, ioFail(err)
		}
	}
	if len(mono) == 0 {
		return nil, fail(ErrEmptyWAV, "has no audio samples (its data chunk is empty)")
	}
	return resample(mono, f.rate, SampleRate), nil
}

// sampleDecoder returns a function reading one sample from the front of b as
// a value on the int16 scale (full scale 32768).
func sampleDecoder(f *wavFormat) func(b []byte) float64 {
	le := binary.LittleEndian
	switch {
	case f.tag == wavALaw:
		return func(b []byte) float64 { return float64(alawTable[b[0]]) }
	case f.tag == wavMuLaw:
		return func(b []byte) float64 { return float64(mulawTable[b[0]]) }
	case f.tag == wavFloat && f.bits == 32:
		return func(b []byte) float64 { return floatSample(float64(math.Float32frombits(le.Uint32(b)))) }
	case f.tag == wavFloat:
		return func(b []byte) float64 { return floatSample(math.Float64frombits(le.Uint64(b))) }
	case f.bits == 8: // unsigned, offset 128
		return func(b []byte) float64 { return float64(int(b[0])-128) * 256 }
	case f.bits == 16:
		return func(b []byte) float64 { return float64(int16(le.Uint16(b))) }
	case f.bits == 24:
		return func(b []byte) float64 {
			v := int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24) >> 8
			return float64(v) / 256
		}
	default: // 32-bit integer
		return func(b []byte) float64 { return float64(int32(le.Uint32(b))) / 65536 }
	}
}

// floatSample scales a float sample to the int16 scale, clipping to full
// scale and mapping NaN to silence.
func floatSample(v float64) float64 {
	if v != v {
		return 0
	}
	return max(-1, min(1, v)) * 32768
}

// G.711 expansion tables (ITU-T G.711), on the 16-bit scale.
var alawTable, mulawTable = g711Tables()

func g711Tables() (alaw, mulaw [256]int16) {
	for i := range 256 {
		a := byte(i) ^ 0x55
		t := int(a&0x0f) << 4
		seg := int(a&0x70) >> 4
		switch seg {
		case 0:
			t += 8
		case 1:
			t += 0x108
		default:
			t = (t + 0x108) << (seg - 1)
		}
		if a&0x80 == 0 {
			t = -t
		}
		alaw[i] = int16(t)

		u := ^byte(i)
		t = (int(u&0x0f)<<3 + 0x84) << (int(u&0x70) >> 4)
		if u&0x80 != 0 {
			t = 0x84 - t
		} else {
			t -= 0x84
		}
		mulaw[i] = int16(t)
	}
	return alaw, mulaw
}

// WriteWAVFile writes pcm, sampled at rate Hz, as a 16-bit mono WAV file at
// path, replacing it. A new file is readable by its owner only: what radios
// and consoles record is decrypted voice.
func WriteWAVFile(path string, pcm []int16, rate int) error {
	if err := checkWrite(pcm, rate, path); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("codec: %w", err)
	}
	if err := writeWAV(f, pcm, rate, path); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("codec: %w", err)
	}
	return nil
}

// WriteWAV writes pcm, sampled at rate Hz, to w as a 16-bit mono PCM WAV
// stream. It writes sequentially, so any io.Writer will do.
func WriteWAV(w io.Writer, pcm []int16, rate int) error {
	if err := checkWrite(pcm, rate, "WAV"); err != nil {
		return err
	}
	return writeWAV(w, pcm, rate, "WAV")
}

func checkWrite(pcm []int16, rate int, name string) error {
	if rate < MinWAVRate || rate > MaxWAVRate {
		return fmt.Errorf("codec: write %s: %w: sample rate %d Hz is outside %d..%d", name, ErrConfig, rate, MinWAVRate, MaxWAVRate)
	}
	if int64(len(pcm))*2 > math.MaxUint32-36 {
		return fmt.Errorf("codec: write %s: %w: %d samples do not fit in a WAV file", name, ErrConfig, len(pcm))
	}
	return nil
}

func writeWAV(w io.Writer, pcm []int16, rate int, name string) error {
	dataLen := uint32(len(pcm) * 2)
	le := binary.LittleEndian
	b := make([]byte, 0, 32<<10)
	b = append(b, "RIFF"...)
	b = le.AppendUint32(b, 36+dataLen)
	b = append(b, "WAVEfmt "...)
	b = le.AppendUint32(b, 16)
	b = le.AppendUint16(b, wavPCM)
	b = le.AppendUint16(b, 1) // channels
	b = le.AppendUint32(b, uint32(rate))
	b = le.AppendUint32(b, uint32(rate)*2) // bytes per second
	b = le.AppendUint16(b, 2)              // block align
	b = le.AppendUint16(b, 16)             // bits per sample
	b = append(b, "data"...)
	b = le.AppendUint32(b, dataLen)
	for _, v := range pcm {
		if len(b)+2 > cap(b) {
			if _, err := w.Write(b); err != nil {
				return fmt.Errorf("codec: write %s: %w", name, err)
			}
			b = b[:0]
		}
		b = le.AppendUint16(b, uint16(v))
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("codec: write %s: %w", name, err)
	}
	return nil
}
