package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var commonRates = []int{8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000, 96000}

// TestReadWAVFormats reads a 1 s 440 Hz tone at half scale written by sox
// in every supported encoding and common rate, and checks the result is
// 48 kHz mono of the right length and shape.
func TestReadWAVFormats(t *testing.T) {
	needTool(t, "sox")
	dir := t.TempDir()
	encodings := []struct {
		name   string
		args   []string
		minSNR float64 // against an ideal 48 kHz tone
	}{
		{"u8", []string{"-b", "8", "-e", "unsigned-integer"}, 40},
		{"s16", []string{"-b", "16", "-e", "signed-integer"}, 80},
		{"s24", []string{"-b", "24", "-e", "signed-integer"}, 80},
		{"s32", []string{"-b", "32", "-e", "signed-integer"}, 80},
		{"f32", []string{"-b", "32", "-e", "floating-point"}, 80},
		{"f64", []string{"-b", "64", "-e", "floating-point"}, 80},
		{"ulaw", []string{"-e", "u-law"}, 35},
		{"alaw", []string{"-e", "a-law"}, 35},
		{"s16-stereo", []string{"-c", "2", "-b", "16", "-e", "signed-integer"}, 80},
		{"s16-4ch", []string{"-c", "4", "-b", "16", "-e", "signed-integer"}, 80},
	}
	want := sine(SampleRate, 440, SampleRate, 16384)
	// Compare away from the ends, where the resampler sees silence beyond.
	const edge = SampleRate / 100
	for _, enc := range encodings {
		for _, rate := range commonRates {
			name := fmt.Sprintf("%s-%d", enc.name, rate)
			t.Run(name, func(t *testing.T) {
				args := append([]string{"-D", "-n", "-r", fmt.Sprint(rate)}, enc.args...)
				path := filepath.Join(dir, name+".wav")
				run(t, "sox", append(args, path, "synth", "1", "sine", "440", "vol", "0.5")...)
				pcm, err := ReadWAVFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if d := len(pcm) - SampleRate; d < -FrameSamples || d > FrameSamples {
					t.Fatalf("%d samples, want 48000 +- 960", len(pcm))
				}
				n := min(len(pcm), len(want)) - edge
				snr := SNR(want[edge:n], pcm[edge:n])
				if snr < enc.minSNR {
					t.Errorf("SNR against an ideal tone %.1f dB, want at least %.0f dB", snr, enc.minSNR)
				}
			})
		}
	}
}

func TestReadWAVPipe(t *testing.T) {
	needTool(t, "sox")
	// sox cannot seek back on a pipe and leaves a placeholder data size.
	cmd := exec.Command("sox", "-D", "-n", "-r", "16000", "-b", "16", "-t", "wav", "-", "synth", "0.5", "sine", "300")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	pcm, err := ReadWAV(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(pcm) != SampleRate/2 {
		t.Errorf("%d samples, want %d", len(pcm), SampleRate/2)
	}
}

// TestReadWAVG711MatchesSox checks the G.711 tables against sox's decoder.
func TestReadWAVG711MatchesSox(t *testing.T) {
	needTool(t, "sox")
	dir := t.TempDir()
	for _, enc := range []string{"u-law", "a-law"} {
		law := sox(t, dir, enc+".wav", "-r 8000 -e "+enc, "synth 0.2 sine 300-3000")
		lin := filepath.Join(dir, enc+"-s16.wav")
		run(t, "sox", law, "-e", "signed-integer", "-b", "16", lin)
		a, err := ReadWAVFile(law)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ReadWAVFile(lin)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(a, b) {
			t.Errorf("%s: decoding differs from sox's (SNR %.1f dB)", enc, SNR(b, a))
		}
	}
}

func TestReadWAVDownmix(t *testing.T) {
	tone := sine(4800, 1000, 48000, 10000)
	var left, opposite []byte
	for _, v := range tone {
		left = binary.LittleEndian.AppendUint16(left, uint16(v))
		left = binary.LittleEndian.AppendUint16(left, 0)
		opposite = binary.LittleEndian.AppendUint16(opposite, uint16(v))
		opposite = binary.LittleEndian.AppendUint16(opposite, uint16(-v))
	}
	pcm, err := ReadWAV(bytes.NewReader(buildWAV(wavPCM, 2, 48000, 16, left)))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range pcm {
		if d := int(v) - int(tone[i])/2; d < -1 || d > 1 {
			t.Fatalf("sample %d = %d, want half the left channel %d", i, v, tone[i]/2)
		}
	}
	pcm, err = ReadWAV(bytes.NewReader(buildWAV(wavPCM, 2, 48000, 16, opposite)))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range pcm {
		if v != 0 {
			t.Fatalf("sample %d = %d: opposite channels should cancel", i, v)
		}
	}
}

// extensible builds a WAVE_FORMAT_EXTENSIBLE fmt chunk body.
func extensible(sub uint16, channels, rate, bits int) []byte {
	le := binary.LittleEndian
	var b []byte
	b = le.AppendUint16(b, wavExtensible)
	b = le.AppendUint16(b, uint16(channels))
	b = le.AppendUint32(b, uint32(rate))
	b = le.AppendUint32(b, uint32(rate*channels*bits/8))
	b = le.AppendUint16(b, uint16(channels*bits/8))
	b = le.AppendUint16(b, uint16(bits))
	b = le.AppendUint16(b, 22)
	b = le.AppendUint16(b, uint16(bits))
	b = le.AppendUint32(b, 0)
	b = le.AppendUint16(b, sub)
	return append(b, ksdataformatSubtype...)
}

func TestReadWAVChunks(t *testing.T) {
	samples := []int16{0, 1000, -1000, 32767, -32768}
	var data []byte
	for _, v := range samples {
		data = binary.LittleEndian.AppendUint16(data, uint16(v))
	}
	fmt16 := buildWAV(wavPCM, 1, 48000, 16, nil)[20:36] // the fmt chunk body
	var fdata []byte
	for _, v := range []float32{0, 0.5, -0.5, float32(math.NaN()), float32(math.Inf(1))} {
		fdata = binary.LittleEndian.AppendUint32(fdata, math.Float32bits(v))
	}
	cases := []struct {
		name string
		file []byte
		want []int16
	}{
		{"plain", riff(chunk("fmt ", fmt16), chunk("data", data)), samples},
		{"LIST and odd JUNK chunks first", riff(chunk("LIST", []byte("INFOxxxx")), chunk("JUNK", []byte{1, 2, 3}), chunk("fmt ", fmt16), chunk("data", data)), samples},
		{"chunks after data", riff(chunk("fmt ", fmt16), chunk("data", data), chunk("LIST", []byte("abcd"))), samples},
		{"truncated data", riff(chunk("fmt ", fmt16), chunk("data", data))[:44+7], samples[:3]},
		{"extensible PCM", riff(chunk("fmt ", extensible(wavPCM, 1, 48000, 16)), chunk("data", data)), samples},
		{"float with NaN and Inf", riff(chunk("fmt ", extensible(wavFloat, 1, 48000, 32)), chunk("data", fdata)), []int16{0, 16384, -16384, 0, 32767}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadWAV(bytes.NewReader(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestReadWAVErrors(t *testing.T) {
	needTool(t, "sox")
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pcm16 := buildWAV(wavPCM, 1, 48000, 16, make([]byte, 100))
	fmtBody := func(tag uint16, ch, rate, bits, align int) []byte {
		b := buildWAV(tag, ch, rate, bits, nil)[20:36]
		binary.LittleEndian.PutUint16(b[12:], uint16(align))
		return b
	}
	long := buildWAV(wavPCM, 1, 8000, 8, nil)
	long = append(long[:len(long)-8], chunk("data", make([]byte, 8000*int(MaxWAVDuration/time.Second)+10))...)
	cases := []struct {
		name string
		path string
		want error
		text string // in the message
	}{
		{"empty.wav", write("empty.wav", nil), ErrEmptyWAV, "is empty"},
		{"short.wav", write("short.wav", []byte("RIFF")), ErrNotWAV, "too short"},
		{"text.wav", write("text.wav", []byte("hello, this is not audio at all")), ErrNotWAV, "not a WAV file"},
		{"flac.wav", write("flac.wav", append([]byte("fLaC"), make([]byte, 40)...)), ErrNotWAV, "FLAC"},
		{"ogg.wav", write("ogg.wav", append([]byte("OggS"), make([]byte, 40)...)), ErrNotWAV, "Ogg"},
		{"mp3.wav", write("mp3.wav", append([]byte("ID3\x04"), make([]byte, 40)...)), ErrNotWAV, "MP3"},
		{"avi.wav", write("avi.wav", append([]byte("RIFF\x00\x00\x00\x00AVI "), make([]byte, 40)...)), ErrNotWAV, `"AVI "`},
		{"adpcm.wav", sox(t, dir, "adpcm.wav", "-r 8000 -e ima-adpcm", "synth 0.1 sine 440"), ErrUnsupportedWAV, "IMA ADPCM"},
		{"msadpcm.wav", sox(t, dir, "msadpcm.wav", "-r 8000 -e ms-adpcm", "synth 0.1 sine 440"), ErrUnsupportedWAV, "Microsoft ADPCM"},
		{"gsm.wav", sox(t, dir, "gsm.wav", "-r 8000 -c 1 -e gsm-full-rate", "synth 0.1 sine 440"), ErrUnsupportedWAV, "GSM"},
		{"rate.wav", write("rate.wav", buildWAV(wavPCM, 1, 1000, 16, make([]byte, 100))), ErrUnsupportedWAV, "1000 Hz"},
		{"hugerate.wav", write("hugerate.wav", buildWAV(wavPCM, 1, 4_000_000, 16, make([]byte, 100))), ErrUnsupportedWAV, "4000000 Hz"},
		{"0ch.wav", write("0ch.wav", riff(chunk("fmt ", fmtBody(wavPCM, 0, 8000, 16, 0)), chunk("data", nil))), ErrMalformedWAV, "0 channels"},
		{"12ch.wav", write("12ch.wav", buildWAV(wavPCM, 12, 8000, 16, make([]byte, 96))), ErrUnsupportedWAV, "12 channels"},
		{"12bit.wav", write("12bit.wav", riff(chunk("fmt ", fmtBody(wavPCM, 1, 8000, 12, 2)), chunk("data", make([]byte, 10)))), ErrUnsupportedWAV, "12-bit"},
		{"align.wav", write("align.wav", riff(chunk("fmt ", fmtBody(wavPCM, 1, 8000, 16, 3)), chunk("data", make([]byte, 10)))), ErrMalformedWAV, "block size"},
		{"float16.wav", write("float16.wav", buildWAV(wavFloat, 1, 8000, 16, make([]byte, 10))), ErrUnsupportedWAV, "16-bit float"},
		{"shortfmt.wav", write("shortfmt.wav", riff(chunk("fmt ", make([]byte, 14)), chunk("data", make([]byte, 10)))), ErrMalformedWAV, "14-byte fmt"},
		{"datafirst.wav", write("datafirst.wav", riff(chunk("data", make([]byte, 10)), pcm16[12:36])), ErrMalformedWAV, "before the fmt"},
		{"nodata.wav", write("nodata.wav", pcm16[:36]), ErrEmptyWAV, "no data chunk"},
		{"nofmt.wav", write("nofmt.wav", riff(chunk("LIST", []byte("abcd")))), ErrMalformedWAV, "no fmt chunk"},
		{"emptydata.wav", write("emptydata.wav", buildWAV(wavPCM, 1, 48000, 16, []byte{1})), ErrEmptyWAV, "no audio samples"},
		{"long.wav", write("long.wav", long), ErrWAVTooLong, "longer than 10m0s"},
		{"badguid.wav", write("badguid.wav", riff(chunk("fmt ", append(extensible(wavPCM, 1, 8000, 16)[:26], make([]byte, 14)...)), chunk("data", make([]byte, 10)))), ErrUnsupportedWAV, "GUID"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadWAVFile(tc.path)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "codec: "+tc.path+": ") || !strings.Contains(msg, tc.text) {
				t.Errorf("error %q should name the file and say %q", msg, tc.text)
			}
		})
	}
	if _, err := ReadWAVFile(filepath.Join(dir, "missing.wav")); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing.wav") {
		t.Errorf("missing file: %v", err)
	}
}

func TestWriteReadWAV(t *testing.T) {
	pcm := speech(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "out.wav")
	if err := WriteWAVFile(path, pcm, SampleRate); err != nil {
		t.Fatal(err)
	}
	got, err := ReadWAVFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, pcm) {
		t.Errorf("round trip changed the audio (%d -> %d samples)", len(pcm), len(got))
	}
	// sox agrees on what was written.
	needTool(t, "soxi")
	info := string(run(t, "soxi", path))
	for _, want := range []string{"Channels       : 1", "Sample Rate    : 48000", "Precision      : 16-bit", fmt.Sprintf("%d samples", len(pcm))} {
		if !strings.Contains(info, want) {
			t.Errorf("soxi does not report %q:\n%s", want, info)
		}
	}

	// At another rate the reader resamples to 48 kHz.
	tone := sine(16000, 500, 16000, 12000)
	var buf bytes.Buffer
	if err := WriteWAV(&buf, tone, 16000); err != nil {
		t.Fatal(err)
	}
	got, err = ReadWAV(&buf)
	if err != nil {
		t.Fatal(err)
	}
	want := sine(48000, 500, 48000, 12000)
	if len(got) != 48000 || SNR(want[480:47520], got[480:47520]) < 60 {
		t.Errorf("16 kHz round trip: %d samples, SNR %.1f dB", len(got), SNR(want, got))
	}

	if err := WriteWAV(&buf, pcm, 100); !errors.Is(err, ErrConfig) {
		t.Errorf("WriteWAV at 100 Hz: %v, want ErrConfig", err)
	}
	if err := WriteWAVFile(filepath.Join(dir, "no", "such", "dir.wav"), pcm, SampleRate); err == nil || !strings.Contains(err.Error(), "dir.wav") {
		t.Errorf("WriteWAVFile into a missing directory: %v", err)
	}
}

func TestResampleResponse(t *testing.T) {
	// In band: a 3 kHz tone through 8 kHz -> 48 kHz keeps its level.
	in := sine(8000, 3000, 8000, 10000)
	f := make([]float32, len(in))
	for i, v := range in {
		f[i] = float32(v)
	}
	out := resample(f, 8000, 48000)
	want := sine(48000, 3000, 48000, 10000)
	if snr := SNR(want[960:47040], out[960:47040]); snr < 45 {
		t.Errorf("3 kHz at 8 kHz -> 48 kHz: SNR %.1f dB, want >= 45", snr)
	}
	// Out of band: a 30 kHz tone at 96 kHz must not alias into 48 kHz.
	in = sine(96000, 30000, 96000, 10000)
	f = make([]float32, len(in))
	for i, v := range in {
		f[i] = float32(v)
	}
	out = resample(f, 96000, 48000)
	var e float64
	for _, v := range out[960 : len(out)-960] {
		e += float64(v) * float64(v)
	}
	rms := math.Sqrt(e / float64(len(out)-1920))
	if db := 20 * math.Log10(rms/(10000/math.Sqrt2)); db > -60 {
		t.Errorf("30 kHz tone leaks into 48 kHz output at %.1f dB, want below -60 dB", db)
	}
}
