//go:build cgo

package audiodev

import (
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/gen2brain/malgo"
)

// backends are the audio systems tried, best first. miniaudio's "null"
// backend, a fake device that hears silence and plays to nowhere, is never
// used: a radio must not pretend to have a microphone.
func backends() []malgo.Backend {
	switch runtime.GOOS {
	case "linux":
		// PipeWire serves the PulseAudio protocol; JACK is left out, as
		// its client library prints to the terminal when no server runs.
		return []malgo.Backend{malgo.BackendPulseaudio, malgo.BackendAlsa}
	case "android":
		return []malgo.Backend{malgo.BackendAaudio, malgo.BackendOpensl}
	case "darwin", "ios":
		return []malgo.Backend{malgo.BackendCoreaudio}
	case "windows":
		return []malgo.Backend{malgo.BackendWasapi, malgo.BackendDsound, malgo.BackendWinmm}
	case "freebsd", "openbsd", "netbsd", "dragonfly":
		return []malgo.Backend{malgo.BackendSndio, malgo.BackendAudio4, malgo.BackendOss}
	}
	return []malgo.Backend{malgo.BackendPulseaudio, malgo.BackendAlsa, malgo.BackendOss}
}

// logBook collects miniaudio's log lines during an open, to explain a
// failure.
type logBook struct {
	mu    sync.Mutex
	lines []string
}

func (l *logBook) add(m string) {
	m = strings.TrimSpace(m)
	if m == "" {
		return
	}
	l.mu.Lock()
	if len(l.lines) < 400 {
		l.lines = append(l.lines, m)
	}
	l.mu.Unlock()
}

func (l *logBook) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.lines {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// lastFailure returns the last line that reports a failure.
func (l *logBook) lastFailure() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.lines) - 1; i >= 0; i-- {
		if strings.Contains(strings.ToLower(l.lines[i]), "fail") {
			return l.lines[i]
		}
	}
	return ""
}

// setupMu serialises opening and closing devices: miniaudio's backends
// are not all safe to set up from several threads at once (two PulseAudio
// contexts set up in parallel were seen to stall for two seconds).
var setupMu sync.Mutex

// openBackend opens and starts one device on its own miniaudio context.
// stop stops it and frees everything.
func openBackend(cfg Config, kind deviceKind, cb backendCallbacks) (stop func(), err error) {
	setupMu.Lock()
	defer setupMu.Unlock()
	quietAudioLibraries()
	logs := &logBook{}
	ctx, err := malgo.InitContext(backends(), malgo.ContextConfig{}, logs.add)
	if err != nil {
		return nil, explain(kind, err, logs)
	}
	freeCtx := func() {
		_ = ctx.Uninit()
		ctx.Free()
	}
	var dc malgo.DeviceConfig
	var callbacks malgo.DeviceCallbacks
	switch kind {
	case kindCapture:
		dc = malgo.DefaultDeviceConfig(malgo.Capture)
		dc.Capture.Format = malgo.FormatS16
		dc.Capture.Channels = 1
		callbacks.Data = func(_, in []byte, _ uint32) { cb.capture(in) }
	case kindPlayback:
		dc = malgo.DefaultDeviceConfig(malgo.Playback)
		dc.Playback.Format = malgo.FormatS16
		dc.Playback.Channels = 1
		var scratch []int16
		callbacks.Data = func(out, _ []byte, _ uint32) {
			n := len(out) / 2
			if cap(scratch) < n {
				scratch = make([]int16, n)
			}
			s := scratch[:n]
			cb.playback(s)
			putSamples(out, s)
		}
	}
	dc.SampleRate = uint32(cfg.SampleRate)
	dc.Alsa.NoMMap = 1 // mmap is the first thing that fails on odd ALSA setups
	dev, err := malgo.InitDevice(ctx.Context, dc, callbacks)
	if err != nil {
		freeCtx()
		return nil, explain(kind, err, logs)
	}
	if err := dev.Start(); err != nil {
		dev.Uninit()
		freeCtx()
		return nil, explain(kind, err, logs)
	}
	return func() {
		setupMu.Lock()
		defer setupMu.Unlock()
		dev.Uninit()
		freeCtx()
	}, nil
}

// explain turns a miniaudio failure into a reason a person understands.
func explain(kind deviceKind, err error, logs *logBook) error {
	reason := err.Error()
	if f := logs.lastFailure(); f != "" && !strings.Contains(reason, f) {
		reason += " (" + strings.TrimSuffix(f, ".") + ")"
	}
	if runtime.GOOS == "linux" {
		_, statErr := os.Stat("/dev/snd")
		noCard := os.IsNotExist(statErr)
		noServer := logs.has("Failed to initialize PulseAudio backend") || logs.has("Failed to connect PulseAudio")
		switch {
		case noCard && noServer:
			reason = "this machine has no sound card (/dev/snd is missing) and no PulseAudio or PipeWire server is running"
		case noServer:
			reason = "no PulseAudio or PipeWire server is running and ALSA has no default " + kind.String() + " device: " + reason
		}
	}
	return &noDeviceError{kind: kind.String(), reason: reason}
}
