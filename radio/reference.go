package radio

import "github.com/varta-ptt/varta/codec"

// Reference returns what a receiver plays for pcm sent with enc when
// nothing is lost: the same encoder and DTX decisions, the sent frames
// decoded in order by a fresh decoder, DTX pauses as silence, trailing
// silence dropped. It is the yardstick for end-to-end tests and quality
// measurements (codec.SNR against it).
func Reference(pcm []int16, enc codec.EncoderConfig) ([]int16, error) {
	e, err := codec.NewEncoder(enc)
	if err != nil {
		return nil, err
	}
	d, err := codec.NewDecoder()
	if err != nil {
		return nil, err
	}
	var out []int16
	gap := 0
	for _, f := range codec.SplitFrames(pcm) {
		frame, send, err := e.Encode(f)
		if err != nil {
			return nil, err
		}
		if !send && gap < 255 {
			gap++
			continue
		}
		dec, err := d.Decode(frame)
		if err != nil {
			return nil, err
		}
		out = append(out, make([]int16, gap*codec.FrameSamples)...)
		out = append(out, dec...)
		gap = 0
	}
	return out, nil
}
