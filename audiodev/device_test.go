package audiodev

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	var c Config
	if err := c.fill(); err != nil {
		t.Fatal(err)
	}
	if c.SampleRate != 48000 || c.FrameSamples != 960 || c.Buffer != 8 || c.StartFrames != 2 || c.Timeout != 3*time.Second {
		t.Fatalf("defaults %+v", c)
	}
	for _, bad := range []Config{{SampleRate: 100}, {FrameSamples: -1}, {Buffer: 2, StartFrames: 3}, {Timeout: -time.Second}} {
		if err := bad.fill(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// A slow reader loses the oldest frames, never the newest.
func TestCaptureDropsOldest(t *testing.T) {
	c := &Capture{frames: make(chan []int16, 2)}
	for i := range 5 {
		c.deliver(seq(i, 1))
	}
	if a, b := <-c.frames, <-c.frames; a[0] != 3 || b[0] != 4 || c.Dropped() != 3 {
		t.Fatalf("kept %v %v, dropped %d", a, b, c.Dropped())
	}
	c.deliver(seq(7, 1))
	c.Flush()
	if len(c.frames) != 0 {
		t.Fatal("Flush left frames")
	}
}

// An audio system that does not answer cannot hang the radio: Open gives
// up after the timeout, and a device that opens later is closed.
func TestOpenTimesOut(t *testing.T) {
	release := make(chan struct{})
	var stopped atomic.Bool
	backendOpener = func(Config, deviceKind, backendCallbacks) (func(), error) {
		<-release
		return func() { stopped.Store(true) }, nil
	}
	defer func() { backendOpener = openBackend }()
	start := time.Now()
	_, err := OpenCapture(Config{Timeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrNoDevice) || !strings.Contains(err.Error(), "did not answer within 50ms") || !strings.Contains(err.Error(), Fallback) {
		t.Fatalf("error %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %v", d)
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for !stopped.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the late device was never closed")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestWhy(t *testing.T) {
	capErr := &noDeviceError{kind: "capture", reason: "no sound card"}
	playErr := &noDeviceError{kind: "playback", reason: "no sound card"}
	if got := Why(capErr, playErr); got != "no audio capture or playback device: no sound card; "+Fallback {
		t.Errorf("both: %q", got)
	}
	if got := Why(capErr, nil); got != "no audio capture device: no sound card; "+Fallback {
		t.Errorf("capture: %q", got)
	}
	if got := Why(nil, nil); got != "" {
		t.Errorf("none: %q", got)
	}
	if got := Sentence(capErr); strings.HasPrefix(got, "audiodev:") {
		t.Errorf("sentence %q", got)
	}
}

// On a machine without audio (none here, none in CI; elsewhere the test
// hides the devices from a child process), every call fails fast, says so
// in a sentence, and keeps ALSA's complaints off the terminal.
func TestNoDevice(t *testing.T) {
	if os.Getenv("AUDIODEV_NO_DEVICE_CHILD") == "1" {
		noDeviceChild(t)
		return
	}
	if runtime.GOOS != "linux" {
		t.Skip("hiding the audio devices is done for Linux only")
	}
	dir := t.TempDir()
	alsaConf := filepath.Join(dir, "alsa.conf")
	if err := os.WriteFile(alsaConf, []byte("# no devices\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoDevice$", "-test.v")
	cmd.Env = append(os.Environ(),
		"AUDIODEV_NO_DEVICE_CHILD=1",
		"HOME="+dir,
		"XDG_RUNTIME_DIR="+dir,
		"PULSE_SERVER=unix:"+filepath.Join(dir, "no-pulse-here"),
		"ALSA_CONFIG_PATH="+alsaConf,
	)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s\n%s", err, out, stderr.String())
	}
	t.Logf("child:\n%s", out)
	if strings.Contains(stderr.String(), "ALSA lib") || strings.Contains(string(out), "ALSA lib") {
		t.Errorf("ALSA wrote to the terminal:\n%s%s", out, stderr.String())
	}
}

func noDeviceChild(t *testing.T) {
	start := time.Now()
	c, p, why := Available()
	if c || p {
		t.Fatalf("Available found devices: capture %v, playback %v", c, p)
	}
	if !strings.HasPrefix(why, "no audio capture or playback device: ") || !strings.HasSuffix(why, Fallback) {
		t.Errorf("why: %q", why)
	}
	_, capErr := OpenCapture(Config{})
	_, playErr := OpenPlayback(Config{})
	for _, err := range []error{capErr, playErr} {
		if !errors.Is(err, ErrNoDevice) || !strings.HasSuffix(err.Error(), Fallback) || !strings.HasPrefix(err.Error(), "audiodev: no audio ") {
			t.Errorf("error %v", err)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the no-device path took %v", d)
	}
	t.Logf("why: %s (in %v)", why, time.Since(start))
}
