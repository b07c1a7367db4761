package codec

import (
	"fmt"
	"time"

	"github.com/hraban/opus"
)

// Audio format shared by every Varta radio and console (DESIGN section 8).
const (
	SampleRate    = 48000                 // Hz, mono
	FrameSamples  = 960                   // samples per frame
	FrameDuration = 20 * time.Millisecond // one frame, one datagram
)

// MaxFrameBytes bounds an encoded frame: the largest single Opus frame
// (RFC 6716 section 3.4, R2).
const MaxFrameBytes = 1275

// Defaults for EncoderConfig.
const (
	// DefaultBitrate is 24 kbit/s, not DESIGN section 8's 16: at 16 kbit/s
	// libopus 1.3 never sends in-band FEC (see EncoderConfig.Bitrate), and
	// the design asks for FEC recovery. docs/AUDIO.md records the choice.
	DefaultBitrate           = FECBitrate // bit/s
	DefaultComplexity        = 5          // of 1..10: a handheld's CPU budget
	DefaultPacketLossPercent = 10
	// FECBitrate is the lowest bitrate at which libopus codes wideband
	// speech with in-band FEC at the default 10% expected loss.
	FECBitrate = 24000
)

// EncoderConfig configures an Encoder. The zero value is Varta's default:
// 24 kbit/s VoIP, complexity 5, in-band FEC sized for 10% loss, DTX on.
type EncoderConfig struct {
	// Bitrate is the target bitrate in bit/s, 6000..64000. Default
	// FECBitrate (24000). Note that libopus spends bits on in-band FEC only
	// when the rate can carry it: with 10% expected loss it needs at least
	// 19 kbit/s (and then codes mediumband) and codes wideband with FEC from
	// 24 kbit/s. At 16 kbit/s it codes super-wideband and sends no FEC
	// whatever PacketLossPercent says, so lost frames are concealed by PLC.
	// FECBitrate is the lowest rate at which FEC and wideband coexist.
	Bitrate int
	// Complexity trades CPU for quality, 1..10. Default 5, chosen for
	// handhelds. (libopus's complexity 0 is not offered: it saves little.)
	Complexity int
	// PacketLossPercent is the loss the encoder expects, 1..100; libopus sizes
	// the in-band FEC from it. Default 10.
	PacketLossPercent int
	// DisableFEC turns in-band FEC (SILK LBRR) off. FEC is on by default.
	DisableFEC bool
	// DisableDTX turns discontinuous transmission off. DTX is on by default:
	// during silence the encoder emits 1-2 byte frames that are not sent.
	DisableDTX bool
}

func (c *EncoderConfig) fill() error {
	if c.Bitrate == 0 {
		c.Bitrate = DefaultBitrate
	}
	if c.Complexity == 0 {
		c.Complexity = DefaultComplexity
	}
	if c.PacketLossPercent == 0 {
		c.PacketLossPercent = DefaultPacketLossPercent
	}
	switch {
	case c.Bitrate < 6000 || c.Bitrate > 64000:
		return fmt.Errorf("%w: bitrate %d bit/s is outside 6000..64000", ErrConfig, c.Bitrate)
	case c.Complexity < 1 || c.Complexity > 10:
		return fmt.Errorf("%w: complexity %d is outside 1..10", ErrConfig, c.Complexity)
	case c.PacketLossPercent < 1 || c.PacketLossPercent > 100:
		return fmt.Errorf("%w: expected packet loss %d%% is outside 1..100", ErrConfig, c.PacketLossPercent)
	}
	return nil
}

// Encoder encodes 20 ms frames of 48 kHz mono PCM into Opus. It is not safe
// for concurrent use; one talker's send path owns it.
type Encoder struct {
	enc *opus.Encoder
	cfg EncoderConfig
	out [MaxFrameBytes]byte
}

// NewEncoder returns an Encoder configured by cfg (zero fields take their
// defaults).
func NewEncoder(cfg EncoderConfig) (*Encoder, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	enc, err := opus.NewEncoder(SampleRate, 1, opus.AppVoIP)
	if err != nil {
		return nil, fmt.Errorf("codec: create Opus encoder: %w", err)
	}
	e := &Encoder{enc: enc, cfg: cfg}
	steps := []struct {
		what string
		err  error
	}{
		{"bitrate", enc.SetBitrate(cfg.Bitrate)},
		{"complexity", enc.SetComplexity(cfg.Complexity)},
		{"in-band FEC", enc.SetInBandFEC(!cfg.DisableFEC)},
		{"expected packet loss", enc.SetPacketLossPerc(cfg.PacketLossPercent)},
		{"DTX", enc.SetDTX(!cfg.DisableDTX)},
	}
	for _, s := range steps {
		if s.err != nil {
			return nil, fmt.Errorf("codec: set Opus encoder %s: %w", s.what, s.err)
		}
	}
	return e, nil
}

// Config returns the encoder's configuration with defaults filled in.
func (e *Encoder) Config() EncoderConfig { return e.cfg }

// Encode encodes one frame of exactly FrameSamples samples. send is false for
// a DTX frame (1-2 bytes), which must not be transmitted: the receiver
// conceals the gap. The returned frame aliases a buffer inside the Encoder
// and is valid until the next call to Encode; copy it (sealing it does) to
// keep it. Encode does not allocate.
func (e *Encoder) Encode(pcm []int16) (frame []byte, send bool, err error) {
	if len(pcm) != FrameSamples {
		return nil, false, ErrFrameSize
	}
	n, err := e.enc.Encode(pcm, e.out[:])
	if err != nil {
		return nil, false, fmt.Errorf("codec: encode: %w", err)
	}
	return e.out[:n], n > 2, nil
}
