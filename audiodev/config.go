package audiodev

import (
	"fmt"
	"time"
)

// Config configures a capture or playback device. The zero value is what
// Varta's radio uses: 48 kHz mono, 20 ms frames.
type Config struct {
	// SampleRate in Hz. Default 48000. miniaudio converts from the
	// device's own rate when it differs.
	SampleRate int
	// FrameSamples is the number of samples in each frame that Capture
	// delivers. Default 960 (20 ms at 48 kHz). Playback accepts any length.
	FrameSamples int
	// Buffer is, in frames, how much audio waits for the reader before the
	// oldest is dropped: the Frames channel of a Capture, the ring of a
	// Playback. Default 8 (160 ms at the defaults).
	Buffer int
	// StartFrames is how much audio a Playback collects, in frames, before
	// it starts to play after silence, to ride over the device's and the
	// writer's clocks beating against each other. Default 2 (40 ms).
	StartFrames int
	// Timeout bounds how long Open and Available wait for the audio system
	// to answer. Default 3 s.
	Timeout time.Duration
}

func (c *Config) fill() error {
	if c.SampleRate == 0 {
		c.SampleRate = 48000
	}
	if c.FrameSamples == 0 {
		c.FrameSamples = c.SampleRate / 50
	}
	if c.Buffer == 0 {
		c.Buffer = 8
	}
	if c.StartFrames == 0 {
		c.StartFrames = 2
	}
	if c.Timeout == 0 {
		c.Timeout = 3 * time.Second
	}
	switch {
	case c.SampleRate < 8000 || c.SampleRate > 192000:
		return fmt.Errorf("audiodev: sample rate %d Hz is outside 8000..192000", c.SampleRate)
	case c.FrameSamples < 1 || c.FrameSamples > c.SampleRate:
		return fmt.Errorf("audiodev: frame of %d samples is outside 1..%d", c.FrameSamples, c.SampleRate)
	case c.Buffer < 1 || c.Buffer > 1000:
		return fmt.Errorf("audiodev: buffer of %d frames is outside 1..1000", c.Buffer)
	case c.StartFrames < 1 || c.StartFrames > c.Buffer:
		return fmt.Errorf("audiodev: start depth of %d frames is outside 1..%d (the buffer)", c.StartFrames, c.Buffer)
	case c.Timeout < 0:
		return fmt.Errorf("audiodev: negative timeout %v", c.Timeout)
	}
	return nil
}
