package audiodev

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Capture is an open microphone. Frames arrive on Frames until Close.
type Capture struct {
	cfg     Config
	frames  chan []int16
	dropped atomic.Uint64
	stop    func() // stops and frees the device; after it returns no frame is delivered
	once    sync.Once
}

// OpenCapture opens and starts the default capture device (mono, signed
// 16-bit, cfg.SampleRate). It fails within cfg.Timeout with an error
// wrapping ErrNoDevice when there is none; see Sentence for the message a
// person should see.
func OpenCapture(cfg Config) (*Capture, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	c := &Capture{cfg: cfg, frames: make(chan []int16, cfg.Buffer)}
	f := newFramer(cfg.FrameSamples, c.deliver)
	stop, err := openWithin(cfg, kindCapture, backendCallbacks{capture: f.write})
	if err != nil {
		return nil, err
	}
	c.stop = stop
	return c, nil
}

// Frames delivers the captured audio, FrameSamples samples per frame; each
// slice is the receiver's to keep. When the reader falls behind by more
// than Config.Buffer frames the oldest frame is dropped (Dropped counts
// them). The channel is closed by Close.
func (c *Capture) Frames() <-chan []int16 { return c.frames }

// Dropped counts frames dropped because the reader was behind.
func (c *Capture) Dropped() uint64 { return c.dropped.Load() }

// Flush drops the frames waiting in Frames, so that a transmission starts
// with live audio rather than what was said before the key was pressed.
func (c *Capture) Flush() {
	for {
		select {
		case <-c.frames:
		default:
			return
		}
	}
}

// deliver hands a frame to the reader, dropping the oldest one when the
// channel is full. Called only from the device's callback.
func (c *Capture) deliver(f []int16) {
	select {
	case c.frames <- f:
		return
	default:
	}
	select {
	case <-c.frames:
		c.dropped.Add(1)
	default:
	}
	select {
	case c.frames <- f:
	default:
		c.dropped.Add(1)
	}
}

// Close stops the device and closes Frames. It is safe to call more than
// once.
func (c *Capture) Close() error {
	c.once.Do(func() {
		c.stop()
		close(c.frames)
	})
	return nil
}

// Playback is an open speaker fed by Write.
type Playback struct {
	cfg  Config
	ring *ring
	stop func()
	once sync.Once
}

// PlaybackStats counts what a Playback did.
type PlaybackStats struct {
	Held      time.Duration // audio waiting in the ring now
	Played    time.Duration // audio played so far
	Dropped   time.Duration // audio dropped because the ring was full
	Underruns uint64        // times the ring ran dry while audio was flowing
}

// OpenPlayback opens and starts the default playback device (mono, signed
// 16-bit, cfg.SampleRate). It fails within cfg.Timeout with an error
// wrapping ErrNoDevice when there is none.
func OpenPlayback(cfg Config) (*Playback, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	p := &Playback{cfg: cfg, ring: newRing(cfg.Buffer*cfg.FrameSamples, cfg.StartFrames*cfg.FrameSamples)}
	stop, err := openWithin(cfg, kindPlayback, backendCallbacks{playback: p.ring.read})
	if err != nil {
		return nil, err
	}
	p.stop = stop
	return p, nil
}

// Write queues pcm for playing and returns at once; it copies pcm, so the
// caller may reuse it. When the ring is full the oldest audio is dropped;
// when it runs dry the device plays silence. Safe for concurrent use.
func (p *Playback) Write(pcm []int16) { p.ring.write(pcm) }

// Stats returns the playback counters.
func (p *Playback) Stats() PlaybackStats {
	held, dropped, underruns, played := p.ring.stats()
	d := func(n uint64) time.Duration { return time.Duration(n) * time.Second / time.Duration(p.cfg.SampleRate) }
	return PlaybackStats{Held: d(uint64(held)), Played: d(played), Dropped: d(dropped), Underruns: underruns}
}

// Close stops the device. It is safe to call more than once; Write after
// Close does nothing audible.
func (p *Playback) Close() error {
	p.once.Do(p.stop)
	return nil
}

// Available reports whether this machine has a capture and a playback
// device, by opening and closing each. why is empty when both are there,
// and otherwise a sentence for a person that says what is missing and what
// the radio can do instead. It returns within about twice Config's default
// timeout at the worst, and within milliseconds on a machine without audio.
func Available() (capture, playback bool, why string) {
	c, capErr := OpenCapture(Config{})
	if capErr == nil {
		c.Close()
	}
	p, playErr := OpenPlayback(Config{})
	if playErr == nil {
		p.Close()
	}
	return capErr == nil, playErr == nil, Why(capErr, playErr)
}

// Why turns the errors of OpenCapture and OpenPlayback (nil for a device
// that opened) into one sentence for a person, or "" when both opened.
func Why(capErr, playErr error) string {
	var c, p *noDeviceError
	switch {
	case capErr == nil && playErr == nil:
		return ""
	case errors.As(capErr, &c) && errors.As(playErr, &p) && c.reason == p.reason:
		return "no audio capture or playback device: " + c.reason + "; " + Fallback
	case capErr == nil:
		return Sentence(playErr)
	case playErr == nil:
		return Sentence(capErr)
	}
	return Sentence(capErr) + ". " + Sentence(playErr)
}

type deviceKind int

const (
	kindCapture deviceKind = iota
	kindPlayback
)

func (k deviceKind) String() string {
	if k == kindCapture {
		return "capture"
	}
	return "playback"
}

// backendCallbacks are called from the device's own thread: capture with
// the captured bytes, playback to fill the samples to play.
type backendCallbacks struct {
	capture  func(b []byte)
	playback func(p []int16) int
}

// backendOpener opens a device: openBackend, or a stand-in in tests.
var backendOpener = openBackend

// openWithin opens the device in a goroutine and gives up after
// cfg.Timeout, so that an audio server that does not answer cannot hang
// the radio. A device that opens after the deadline is closed at once.
func openWithin(cfg Config, kind deviceKind, cb backendCallbacks) (stop func(), err error) {
	type result struct {
		stop func()
		err  error
	}
	done := make(chan result, 1)
	go func() {
		stop, err := backendOpener(cfg, kind, cb)
		done <- result{stop, err}
	}()
	t := time.NewTimer(cfg.Timeout)
	defer t.Stop()
	select {
	case r := <-done:
		return r.stop, r.err
	case <-t.C:
		go func() {
			if r := <-done; r.err == nil {
				r.stop()
			}
		}()
		return nil, &noDeviceError{kind: kind.String(), reason: fmt.Sprintf("the audio system did not answer within %v", cfg.Timeout)}
	}
}
