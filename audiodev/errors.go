package audiodev

import "errors"

// ErrNoDevice is wrapped by every error that Open and Available return
// when the machine has no usable audio device of the kind asked for (no
// sound card, no audio server, the device is busy or refuses the format).
// The wrapping error's message says why, for a person.
var ErrNoDevice = errors.New("audiodev: no audio device")

// Fallback is what the radio can do without audio devices; it ends every
// no-device message.
const Fallback = "the radio can still transmit a WAV file with --tx and record with --record"

// noDeviceError is an ErrNoDevice with the reason for a person.
type noDeviceError struct {
	kind   string // "capture" or "playback"
	reason string
}

func (e *noDeviceError) Error() string {
	return "audiodev: " + e.Sentence()
}

// Sentence is the message without the package prefix, as the radio's
// screen shows it.
func (e *noDeviceError) Sentence() string {
	return "no audio " + e.kind + " device: " + e.reason + "; " + Fallback
}

func (e *noDeviceError) Unwrap() error { return ErrNoDevice }

// Sentence returns err's message for a person: for a no-device error the
// sentence without the "audiodev: " prefix, otherwise err.Error().
func Sentence(err error) string {
	var nd *noDeviceError
	if errors.As(err, &nd) {
		return nd.Sentence()
	}
	return err.Error()
}
