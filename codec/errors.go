package codec

import "errors"

// ErrFrameSize is returned by Encoder.Encode when the PCM it is given is not
// exactly FrameSamples (960) samples long.
var ErrFrameSize = errors.New("codec: PCM frame must be 960 samples (20 ms at 48 kHz)")

// ErrBadFrame is returned (wrapped) when an Opus frame is empty, malformed, or
// rejected by libopus. A receiver conceals such a frame like a lost one.
var ErrBadFrame = errors.New("codec: bad Opus frame")

// ErrFrameDuration is returned (wrapped) when a well-formed Opus frame does not
// hold exactly 20 ms of audio: Varta sends one 20 ms frame per datagram.
var ErrFrameDuration = errors.New("codec: Opus frame is not 20 ms")

// ErrConfig is returned (wrapped) by the constructors when a Config field is
// out of range.
var ErrConfig = errors.New("codec: invalid configuration")

// ErrNotWAV is returned (wrapped) when the input is not a RIFF/WAVE file.
var ErrNotWAV = errors.New("codec: not a WAV file")

// ErrUnsupportedWAV is returned (wrapped) when the input is a WAV file whose
// encoding, sample size, rate or channel count this package cannot read.
var ErrUnsupportedWAV = errors.New("codec: unsupported WAV file")

// ErrEmptyWAV is returned (wrapped) when a WAV file holds no audio samples.
var ErrEmptyWAV = errors.New("codec: WAV file has no audio")

// ErrMalformedWAV is returned (wrapped) when a WAV file's structure is broken:
// missing or short chunks, sizes that disagree with the format.
var ErrMalformedWAV = errors.New("codec: malformed WAV file")

// ErrWAVTooLong is returned (wrapped) when a WAV file is longer than
// MaxWAVDuration.
var ErrWAVTooLong = errors.New("codec: WAV file too long")

// wavError names the WAV input and says what is wrong with it, in a sentence
// a user can act on. It unwraps to one of the ErrXxxWAV sentinels.
type wavError struct {
	name    string // file name, or "WAV input" for a bare reader
	problem string // what is wrong and what to do
	kind    error  // sentinel
}

func (e *wavError) Error() string { return "codec: " + e.name + ": " + e.problem }

func (e *wavError) Unwrap() error { return e.kind }
