package codec

import "fmt"

// Mode is the Opus coding mode of a frame (RFC 6716 section 3.1).
type Mode uint8

// Opus coding modes.
const (
	ModeSILK   Mode = iota + 1 // linear prediction, speech up to wideband
	ModeHybrid                 // SILK below 8 kHz, CELT above
	ModeCELT                   // MDCT, music and low delay
)

func (m Mode) String() string {
	switch m {
	case ModeSILK:
		return "SILK"
	case ModeHybrid:
		return "hybrid"
	case ModeCELT:
		return "CELT"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// Bandwidth is the audio bandwidth coded in an Opus frame.
type Bandwidth uint8

// Opus audio bandwidths, by passband.
const (
	Narrowband    Bandwidth = iota + 1 // 4 kHz
	Mediumband                         // 6 kHz
	Wideband                           // 8 kHz
	SuperWideband                      // 12 kHz
	Fullband                           // 20 kHz
)

func (b Bandwidth) String() string {
	switch b {
	case Narrowband:
		return "narrowband"
	case Mediumband:
		return "mediumband"
	case Wideband:
		return "wideband"
	case SuperWideband:
		return "super-wideband"
	case Fullband:
		return "fullband"
	}
	return fmt.Sprintf("Bandwidth(%d)", uint8(b))
}

// FrameInfo describes an Opus frame from its TOC byte, without decoding it.
type FrameInfo struct {
	Samples   int       // audio in the frame at 48 kHz; 960 for Varta's 20 ms frames
	Mode      Mode      // coding mode
	Bandwidth Bandwidth // coded bandwidth
	Stereo    bool      // stereo flag of the TOC byte
	// FEC reports that the frame carries in-band FEC (SILK LBRR) data for the
	// frame before it. Only determined for single-frame (code 0) packets.
	FEC bool
	// DTX reports a 1-2 byte frame that an encoder in DTX emits and that is
	// not sent.
	DTX bool
}

// Inspect reads an Opus frame's TOC byte (RFC 6716 section 3.1) and, for
// SILK and hybrid frames, the LBRR flag. It validates only what it reads;
// libopus validates the rest when the frame is decoded.
func Inspect(frame []byte) (FrameInfo, error) {
	if len(frame) == 0 {
		return FrameInfo{}, fmt.Errorf("%w: empty", ErrBadFrame)
	}
	toc := frame[0]
	config := toc >> 3
	info := FrameInfo{Stereo: toc&0x04 != 0, DTX: len(frame) <= 2}
	var per int // samples per Opus frame at 48 kHz
	switch {
	case config < 12:
		info.Mode = ModeSILK
		info.Bandwidth = Narrowband + Bandwidth(config/4)
		per = [4]int{480, 960, 1920, 2880}[config%4]
	case config < 16:
		info.Mode = ModeHybrid
		info.Bandwidth = SuperWideband + Bandwidth((config-12)/2)
		per = [2]int{480, 960}[config%2]
	default:
		info.Mode = ModeCELT
		info.Bandwidth = [4]Bandwidth{Narrowband, Wideband, SuperWideband, Fullband}[(config-16)/4]
		per = [4]int{120, 240, 480, 960}[config%4]
	}
	count := 1
	switch toc & 0x03 {
	case 0:
	case 1, 2:
		count = 2
	case 3:
		if len(frame) < 2 {
			return FrameInfo{}, fmt.Errorf("%w: code 3 packet without frame count", ErrBadFrame)
		}
		count = int(frame[1] & 0x3f)
		if count == 0 {
			return FrameInfo{}, fmt.Errorf("%w: code 3 packet with zero frames", ErrBadFrame)
		}
	}
	info.Samples = per * count
	if info.Samples > 5760 { // 120 ms, the Opus maximum
		return FrameInfo{}, fmt.Errorf("%w: %d samples is over 120 ms", ErrBadFrame, info.Samples)
	}
	// The SILK layer opens with one VAD bit per SILK frame and then the LBRR
	// flag, coded as equiprobable bits, which the range coder leaves as the
	// top bits of the first byte after the TOC. A 10 or 20 ms Opus frame holds
	// one SILK frame, so the LBRR flag is bit 6.
	if toc&0x03 == 0 && info.Mode != ModeCELT && per <= 960 && len(frame) > 2 {
		info.FEC = frame[1]&0x40 != 0
	}
	return info, nil
}
