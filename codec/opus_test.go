package codec

import (
	"errors"
	"strings"
	"testing"
)

// opusDelay bounds the codec's algorithmic delay (look-ahead) in samples:
// libopus delays its output by 6.5 ms (312 samples at 48 kHz).
const opusDelay = 600

func TestEncodeDecodeSpeech(t *testing.T) {
	pcm := speech(t)
	cases := []struct {
		name    string
		cfg     EncoderConfig
		minSNR  float64 // waveform SNR against the input, after aligning the delay
		wantFEC bool    // most frames carry FEC (libopus only sends it from ~19 kbit/s)
	}{
		{"default (24 kbit/s)", EncoderConfig{}, 5, true},
		{"16kbps has no FEC", EncoderConfig{Bitrate: 16000}, 5, false},
		{"24kbps-no-FEC", EncoderConfig{Bitrate: FECBitrate, DisableFEC: true}, 5, false},
		{"complexity-1", EncoderConfig{Complexity: 1}, 3, true},
		{"complexity-10", EncoderConfig{Complexity: 10}, 5, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			frames, err := EncodeAll(pcm, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if want := (len(pcm) + FrameSamples - 1) / FrameSamples; len(frames) != want {
				t.Fatalf("EncodeAll gave %d frames, want %d", len(frames), want)
			}
			var bytes, sent, fec int
			bw := map[Bandwidth]int{}
			for _, f := range frames {
				if f == nil {
					continue
				}
				sent++
				bytes += len(f)
				info, err := Inspect(f)
				if err != nil {
					t.Fatalf("Inspect(encoded frame): %v", err)
				}
				if info.Samples != FrameSamples || info.Mode != ModeSILK && info.Mode != ModeHybrid {
					t.Errorf("frame info %+v: want 960-sample SILK or hybrid", info)
				}
				bw[info.Bandwidth]++
				if info.FEC {
					fec++
				}
			}
			out, err := DecodeAll(frames)
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != len(frames)*FrameSamples {
				t.Fatalf("decoded %d samples, want %d", len(out), len(frames)*FrameSamples)
			}
			snr, lag := alignedSNR(pcm, out, opusDelay)
			kbps := float64(bytes*8) / (float64(sent) * 0.02) / 1000
			t.Logf("%d frames, %d sent (DTX dropped %d), %.1f kbit/s while talking, bandwidths %v, FEC in %d frames; SNR %.1f dB at delay %d samples",
				len(frames), sent, len(frames)-sent, kbps, bw, fec, snr, lag)
			if tc.wantFEC != (fec > sent/2) {
				t.Errorf("FEC in %d of %d frames, want FEC in most: %v", fec, sent, tc.wantFEC)
			}
			if snr < tc.minSNR {
				t.Errorf("SNR %.1f dB, want at least %.1f dB", snr, tc.minSNR)
			}
		})
	}
}

func TestDTXFramesNotSent(t *testing.T) {
	silence := make([]int16, 2*SampleRate)
	talk := sine(SampleRate, 440, SampleRate, 8000)
	for _, disable := range []bool{false, true} {
		enc, err := NewEncoder(EncoderConfig{DisableDTX: disable})
		if err != nil {
			t.Fatal(err)
		}
		var dtx, silent int
		for i, f := range SplitFrames(silence) {
			frame, send, err := enc.Encode(f)
			if err != nil {
				t.Fatal(err)
			}
			if send != (len(frame) > 2) {
				t.Fatalf("frame %d: send=%v for a %d-byte frame", i, send, len(frame))
			}
			if i >= 25 { // DTX starts after ~200 ms of silence
				silent++
				if !send {
					dtx++
				}
			}
		}
		for i, f := range SplitFrames(talk) {
			_, send, err := enc.Encode(f)
			if err != nil {
				t.Fatal(err)
			}
			if i > 2 && !send {
				t.Fatalf("DisableDTX=%v: frame %d of a tone was flagged DTX", disable, i)
			}
		}
		t.Logf("DisableDTX=%v: %d of %d silent frames not sent", disable, dtx, silent)
		if disable && dtx != 0 {
			t.Errorf("DTX disabled but %d frames flagged DTX", dtx)
		}
		if !disable && dtx < silent*8/10 {
			t.Errorf("DTX on: only %d of %d silent frames flagged DTX, want at least 80%%", dtx, silent)
		}
	}
}

// lossStream encodes speech with DTX off (every frame is sent) and FEC on, at
// a bitrate where libopus actually sends FEC.
func lossStream(t *testing.T) (frames [][]byte, lossless []int16) {
	t.Helper()
	frames, err := EncodeAll(speech(t), EncoderConfig{Bitrate: FECBitrate, DisableDTX: true})
	if err != nil {
		t.Fatal(err)
	}
	lossless, err = DecodeAll(frames)
	if err != nil {
		t.Fatal(err)
	}
	return frames, lossless
}

// decodeLossy decodes frames with the ones in lost missing, recovering them
// with FEC from the next frame when useFEC, else with PLC.
func decodeLossy(t *testing.T, frames [][]byte, lost map[int]bool, useFEC bool) []int16 {
	t.Helper()
	dec, err := NewDecoder()
	if err != nil {
		t.Fatal(err)
	}
	var out []int16
	for i, f := range frames {
		var pcm []int16
		switch {
		case !lost[i]:
			pcm, err = dec.Decode(f)
		case useFEC && i+1 < len(frames) && !lost[i+1]:
			pcm, err = dec.DecodeFEC(frames[i+1])
		default:
			pcm, err = dec.PLC()
		}
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		out = append(out, pcm...)
	}
	return out
}

func TestFECBeatsPLC(t *testing.T) {
	frames, lossless := lossStream(t)
	// Every tenth frame lost: 10% loss, never two in a row.
	lost := map[int]bool{}
	withFEC := 0
	for i := 5; i < len(frames)-1; i += 10 {
		lost[i] = true
		if hasFEC(frames[i+1]) {
			withFEC++
		}
	}
	fecOut := decodeLossy(t, frames, lost, true)
	plcOut := decodeLossy(t, frames, lost, false)
	fecSNR, plcSNR := SNR(lossless, fecOut), SNR(lossless, plcOut)

	// The lost frames alone.
	var ref, fecLost, plcLost []int16
	for i := range lost {
		a, b := i*FrameSamples, (i+1)*FrameSamples
		ref = append(ref, lossless[a:b]...)
		fecLost = append(fecLost, fecOut[a:b]...)
		plcLost = append(plcLost, plcOut[a:b]...)
	}
	t.Logf("10%% periodic loss (%d frames, %d with FEC in the next frame): whole stream SNR vs lossless decode: FEC %.1f dB, PLC %.1f dB; lost frames only: FEC %.1f dB, PLC %.1f dB",
		len(lost), withFEC, fecSNR, plcSNR, SNR(ref, fecLost), SNR(ref, plcLost))
	if withFEC < len(lost)/2 {
		t.Errorf("only %d of %d frames after a loss carry FEC data", withFEC, len(lost))
	}
	if fecSNR < plcSNR+3 {
		t.Errorf("FEC recovery (%.1f dB) is not clearly better than PLC (%.1f dB)", fecSNR, plcSNR)
	}
}

func TestCodecErrors(t *testing.T) {
	enc, err := NewEncoder(EncoderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := enc.Encode(make([]int16, 959)); !errors.Is(err, ErrFrameSize) {
		t.Errorf("Encode(959 samples) = %v, want ErrFrameSize", err)
	}
	if got := enc.Config(); got.Bitrate != 24000 || got.Complexity != 5 || got.PacketLossPercent != 10 || got.DisableFEC || got.DisableDTX {
		t.Errorf("default config %+v", got)
	}
	for _, cfg := range []EncoderConfig{{Bitrate: 5000}, {Bitrate: 100000}, {Complexity: 11}, {Complexity: -1}, {PacketLossPercent: 101}} {
		if _, err := NewEncoder(cfg); !errors.Is(err, ErrConfig) || !strings.HasPrefix(err.Error(), "codec: ") {
			t.Errorf("NewEncoder(%+v) = %v, want ErrConfig", cfg, err)
		}
	}

	dec, err := NewDecoder()
	if err != nil {
		t.Fatal(err)
	}
	frame40ms := []byte{0x02<<3 | 0, 0xff, 0xff, 0xff} // SILK NB 40 ms
	cases := []struct {
		name  string
		frame []byte
		want  error
	}{
		{"empty", nil, ErrBadFrame},
		{"40ms", frame40ms, ErrFrameDuration},
		{"two 20ms frames", []byte{0x01<<3 | 1, 0xff, 0xff}, ErrFrameDuration},
		{"code 3 no count", []byte{0x01<<3 | 3}, ErrBadFrame},
		{"code 3 zero frames", []byte{0x01<<3 | 3, 0}, ErrBadFrame},
		{"code 3 over 120ms", []byte{0x01<<3 | 3, 7}, ErrBadFrame},
		{"code 2 bad length", []byte{0x1b<<3 | 2, 0xff}, ErrFrameDuration},
	}
	for _, tc := range cases {
		if _, err := dec.Decode(tc.frame); !errors.Is(err, tc.want) {
			t.Errorf("Decode(%s) = %v, want %v", tc.name, err, tc.want)
		}
		if _, err := dec.DecodeFEC(tc.frame); !errors.Is(err, tc.want) {
			t.Errorf("DecodeFEC(%s) = %v, want %v", tc.name, err, tc.want)
		}
	}
	// 20 ms TOCs with impossible framing: libopus must refuse them.
	for _, frame := range [][]byte{
		{0x00<<3 | 1, 0xff},       // two equal 10 ms frames in an odd length
		{0x00<<3 | 2, 0xff, 0x01}, // first of two frames longer than the packet
	} {
		if _, err := dec.Decode(frame); !errors.Is(err, ErrBadFrame) {
			t.Errorf("Decode(% x) = %v, want ErrBadFrame", frame, err)
		}
	}
	if pcm, err := dec.PLC(); err != nil || len(pcm) != FrameSamples {
		t.Errorf("PLC() = %d samples, %v", len(pcm), err)
	}
}

func TestInspect(t *testing.T) {
	cases := []struct {
		frame []byte
		want  FrameInfo
	}{
		{[]byte{0x01 << 3}, FrameInfo{Samples: 960, Mode: ModeSILK, Bandwidth: Narrowband, DTX: true}},
		{[]byte{0x09 << 3, 0x40, 0}, FrameInfo{Samples: 960, Mode: ModeSILK, Bandwidth: Wideband, FEC: true}},
		{[]byte{0x09 << 3, 0x80, 0}, FrameInfo{Samples: 960, Mode: ModeSILK, Bandwidth: Wideband}},
		{[]byte{0x0f<<3 | 4, 0x40, 0}, FrameInfo{Samples: 960, Mode: ModeHybrid, Bandwidth: Fullband, Stereo: true, FEC: true}},
		{[]byte{0x1f << 3, 0x40, 0}, FrameInfo{Samples: 960, Mode: ModeCELT, Bandwidth: Fullband}},
		{[]byte{0x10<<3 | 3, 0x05, 0}, FrameInfo{Samples: 600, Mode: ModeCELT, Bandwidth: Narrowband}},
		{[]byte{0x0b<<3 | 1, 0x40, 0}, FrameInfo{Samples: 5760, Mode: ModeSILK, Bandwidth: Wideband}},
	}
	for _, tc := range cases {
		got, err := Inspect(tc.frame)
		if err != nil || got != tc.want {
			t.Errorf("Inspect(% x) = %+v, %v; want %+v", tc.frame, got, err, tc.want)
		}
	}
}

func TestSplitFramesAndSNR(t *testing.T) {
	pcm := sine(2*FrameSamples+10, 440, SampleRate, 1000)
	frames := SplitFrames(pcm)
	if len(frames) != 3 || len(frames[2]) != FrameSamples {
		t.Fatalf("SplitFrames(1930 samples) = %d frames", len(frames))
	}
	if &frames[1][0] != &pcm[FrameSamples] {
		t.Error("whole frames should alias the input")
	}
	for i, v := range frames[2] {
		if i < 10 && v != pcm[2*FrameSamples+i] || i >= 10 && v != 0 {
			t.Fatalf("last frame sample %d = %d: want the input then silence", i, v)
		}
	}
	if len(SplitFrames(nil)) != 0 {
		t.Error("SplitFrames(nil) should be empty")
	}
	if s := SNR(pcm, pcm); s < 1e9 {
		t.Errorf("SNR(x, x) = %v, want +Inf", s)
	}
	half := make([]int16, len(pcm))
	for i, v := range pcm {
		half[i] = v / 2
	}
	if s := SNR(pcm, half); s < 5.9 || s > 6.1 {
		t.Errorf("SNR(x, x/2) = %.2f dB, want 6.02", s)
	}
}
