package codec

import (
	"fmt"

	"github.com/hraban/opus"
)

// Decoder decodes one talker's 20 ms Opus frames into 48 kHz mono PCM and
// conceals lost ones. It is not safe for concurrent use.
//
// Every method returns FrameSamples samples in a buffer owned by the Decoder:
// the slice is valid until the next call on the same Decoder; copy it to keep
// it. None of the methods allocate on success.
type Decoder struct {
	dec *opus.Decoder
	pcm [FrameSamples]int16
}

// NewDecoder returns a Decoder for 48 kHz mono.
func NewDecoder() (*Decoder, error) {
	d := &Decoder{}
	if err := d.Reset(); err != nil {
		return nil, err
	}
	return d, nil
}

// Reset forgets the previous talker's state, as at the start of a new burst.
func (d *Decoder) Reset() error {
	dec, err := opus.NewDecoder(SampleRate, 1)
	if err != nil {
		return fmt.Errorf("codec: create Opus decoder: %w", err)
	}
	d.dec = dec
	return nil
}

// check validates a frame before libopus sees it: non-empty and 20 ms long.
func check(frame []byte) error {
	info, err := Inspect(frame)
	if err != nil {
		return err
	}
	if info.Samples != FrameSamples {
		return fmt.Errorf("%w: frame holds %d samples", ErrFrameDuration, info.Samples)
	}
	return nil
}

// Decode decodes one frame. A malformed frame returns an error wrapping
// ErrBadFrame (or ErrFrameDuration), and the caller should conceal it with
// PLC. The returned PCM is valid until the next call on d.
func (d *Decoder) Decode(frame []byte) ([]int16, error) {
	if err := check(frame); err != nil {
		return nil, err
	}
	n, err := d.dec.Decode(frame, d.pcm[:])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadFrame, err)
	}
	if n != FrameSamples {
		return nil, fmt.Errorf("%w: decoded %d samples", ErrFrameDuration, n)
	}
	return d.pcm[:], nil
}

// DecodeFEC recovers the frame that was lost just before next from next's
// in-band FEC data. If next carries no FEC data (FrameInfo.FEC), libopus
// conceals the lost frame as PLC would. next itself is not consumed: pass it
// to Decode afterwards. The returned PCM is valid until the next call on d.
func (d *Decoder) DecodeFEC(next []byte) ([]int16, error) {
	if err := check(next); err != nil {
		return nil, err
	}
	if err := d.dec.DecodeFEC(next, d.pcm[:]); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadFrame, err)
	}
	return d.pcm[:], nil
}

// PLC conceals one lost frame by extrapolating from the previous ones; after
// a few consecutive calls libopus fades to silence. The returned PCM is valid
// until the next call on d.
func (d *Decoder) PLC() ([]int16, error) {
	if err := d.dec.DecodePLC(d.pcm[:]); err != nil {
		return nil, fmt.Errorf("codec: conceal lost frame: %w", err)
	}
	return d.pcm[:], nil
}
