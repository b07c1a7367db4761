package codec

import "math"

// SplitFrames cuts pcm into FrameSamples-sample frames. Whole frames alias
// pcm; a final partial frame is copied and padded with silence. An empty pcm
// gives no frames.
func SplitFrames(pcm []int16) [][]int16 {
	n := (len(pcm) + FrameSamples - 1) / FrameSamples
	frames := make([][]int16, 0, n)
	for len(pcm) >= FrameSamples {
		frames = append(frames, pcm[:FrameSamples:FrameSamples])
		pcm = pcm[FrameSamples:]
	}
	if len(pcm) > 0 {
		last := make([]int16, FrameSamples)
		copy(last, pcm)
		frames = append(frames, last)
	}
	return frames
}

// SNR returns the signal-to-noise ratio of test against ref in dB: the energy
// of ref over the energy of ref-test, on the first min(len(ref), len(test))
// samples. Identical inputs give +Inf; a silent ref with a nonzero difference
// gives -Inf.
func SNR(ref, test []int16) float64 {
	n := min(len(ref), len(test))
	var sig, noise float64
	for i := range n {
		r := float64(ref[i])
		d := r - float64(test[i])
		sig += r * r
		noise += d * d
	}
	if noise == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(sig/noise)
}

// EncodeAll encodes pcm (padded to whole frames) with a new Encoder. It
// returns one entry per 20 ms frame; an entry is nil where the encoder chose
// DTX and a sender would send nothing. Meant for tests and tools.
func EncodeAll(pcm []int16, cfg EncoderConfig) ([][]byte, error) {
	enc, err := NewEncoder(cfg)
	if err != nil {
		return nil, err
	}
	pcmFrames := SplitFrames(pcm)
	out := make([][]byte, len(pcmFrames))
	for i, f := range pcmFrames {
		frame, send, err := enc.Encode(f)
		if err != nil {
			return nil, err
		}
		if send {
			out[i] = append([]byte(nil), frame...)
		}
	}
	return out, nil
}

// DecodeAll decodes frames with a new Decoder into len(frames)*FrameSamples
// samples, as a receiver without jitter would: a nil entry is a missing frame,
// recovered from the next frame's FEC when it has any, else concealed by PLC.
// Meant for tests and tools.
func DecodeAll(frames [][]byte) ([]int16, error) {
	dec, err := NewDecoder()
	if err != nil {
		return nil, err
	}
	out := make([]int16, 0, len(frames)*FrameSamples)
	for i, f := range frames {
		var pcm []int16
		switch {
		case f != nil:
			pcm, err = dec.Decode(f)
		case i+1 < len(frames) && hasFEC(frames[i+1]):
			pcm, err = dec.DecodeFEC(frames[i+1])
		default:
			pcm, err = dec.PLC()
		}
		if err != nil {
			return nil, err
		}
		out = append(out, pcm...)
	}
	return out, nil
}

// hasFEC reports whether frame carries in-band FEC for the frame before it.
func hasFEC(frame []byte) bool {
	info, err := Inspect(frame)
	return err == nil && info.FEC
}
