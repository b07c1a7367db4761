package codec

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The speech sample every audio test uses: a dispatch call in espeak-ng's
// voice, about 9 s at 22050 Hz, read through ReadWAVFile to 48 kHz.
const speechText = "Unit twelve, respond to a reported burglary at four five six Main Street. " +
	"Suspect is a male in a blue jacket, last seen heading north on foot. Backup is en route."

var speechOnce struct {
	sync.Mutex
	pcm []int16
}

// needTool skips the test when a program it drives is missing.
func needTool(tb testing.TB, name string) {
	tb.Helper()
	if _, err := exec.LookPath(name); err != nil {
		tb.Skipf("%s is not installed; `make test` installs it (scripts/deps.sh)", name)
	}
}

// run runs a program and fails the test with its output if it fails.
func run(tb testing.TB, name string, args ...string) []byte {
	tb.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		tb.Fatalf("%s %v: %v\n%s", name, args, err, stderr)
	}
	return out
}

// speech returns real speech at 48 kHz mono, made once with espeak-ng.
func speech(tb testing.TB) []int16 {
	tb.Helper()
	needTool(tb, "espeak-ng")
	speechOnce.Lock()
	defer speechOnce.Unlock()
	if speechOnce.pcm == nil {
		dir, err := os.MkdirTemp("", "varta-codec-speech")
		if err != nil {
			tb.Fatal(err)
		}
		defer os.RemoveAll(dir)
		path := filepath.Join(dir, "speech.wav")
		run(tb, "espeak-ng", "-w", path, speechText)
		pcm, err := ReadWAVFile(path)
		if err != nil {
			tb.Fatalf("read espeak-ng output: %v", err)
		}
		speechOnce.pcm = pcm
	}
	return speechOnce.pcm
}

// sox makes a WAV file with sox in dir: format holds the output options
// ("-r 8000 -e u-law"), effects the synthesis ("synth 0.1 sine 440").
func sox(tb testing.TB, dir, name, format, effects string) string {
	tb.Helper()
	needTool(tb, "sox")
	path := filepath.Join(dir, name)
	args := append([]string{"-D", "-n"}, strings.Fields(format)...)
	args = append(append(args, path), strings.Fields(effects)...)
	run(tb, "sox", args...)
	return path
}

// buildWAV assembles a WAV file from raw chunks: fmt fields then data bytes.
func buildWAV(tag uint16, channels, rate, bits int, data []byte) []byte {
	le := binary.LittleEndian
	var fmtc []byte
	fmtc = le.AppendUint16(fmtc, tag)
	fmtc = le.AppendUint16(fmtc, uint16(channels))
	fmtc = le.AppendUint32(fmtc, uint32(rate))
	fmtc = le.AppendUint32(fmtc, uint32(rate*channels*bits/8))
	fmtc = le.AppendUint16(fmtc, uint16(channels*bits/8))
	fmtc = le.AppendUint16(fmtc, uint16(bits))
	return riff(chunk("fmt ", fmtc), chunk("data", data))
}

func chunk(id string, body []byte) []byte {
	b := append([]byte(id), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...)
	b = append(b, body...)
	if len(body)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

func riff(chunks ...[]byte) []byte {
	body := append([]byte("WAVE"), bytes.Join(chunks, nil)...)
	return append(append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...), body...)
}

// sine returns n samples of a sine of freq Hz at rate, amplitude amp (full
// scale 32767).
func sine(n int, freq, rate, amp float64) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(math.Round(amp * math.Sin(2*math.Pi*freq*float64(i)/rate)))
	}
	return out
}

// alignedSNR returns the SNR of test against ref after shifting test by the
// lag in [0, maxLag] samples that makes them match best (a codec delays its
// output by its look-ahead). The lag is searched on one second from the
// middle; the SNR covers everything.
func alignedSNR(ref, test []int16, maxLag int) (snr float64, lag int) {
	mid := min(len(ref), len(test)-maxLag) / 2
	a, b := max(0, mid-SampleRate/2), max(0, mid+SampleRate/2)
	best := math.Inf(-1)
	for l := 0; l <= maxLag && b+l <= len(test); l++ {
		if s := SNR(ref[a:b], test[a+l:b+l]); s > best {
			best, lag = s, l
		}
	}
	return SNR(ref, test[lag:]), lag
}

// copyPCM returns a copy of a buffer owned by a Decoder or JitterBuffer.
func copyPCM(pcm []int16) []int16 { return append([]int16(nil), pcm...) }
