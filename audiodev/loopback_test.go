package audiodev

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// startPulseAudio runs a private PulseAudio server whose only device is a
// null sink, paced in real time; its monitor is the default source, so
// what is played can be captured. It skips the test where pulseaudio is
// not installed (scripts/deps.sh does not install it).
func startPulseAudio(t *testing.T) {
	t.Helper()
	bin, err := exec.LookPath("pulseaudio")
	if err != nil {
		t.Skip("pulseaudio is not installed; the loopback test needs it (apt-get install pulseaudio)")
	}
	dir, err := os.MkdirTemp("", "pa") // short: a socket path is limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "native")
	// The sink is loaded before the socket opens, so that the socket says
	// the server is ready; D-Bus is pointed nowhere, or the server stalls
	// for seconds trying to start one.
	cmd := exec.Command(bin, "-n", "--daemonize=no", "--exit-idle-time=-1", "--disable-shm=yes", "--use-pid-file=no", "--system=false",
		"-L", "module-null-sink sink_name=varta rate=48000 channels=1",
		"-L", "module-native-protocol-unix socket="+sock+" auth-anonymous=1")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_RUNTIME_DIR="+dir, "XDG_CONFIG_HOME="+dir,
		"DBUS_SESSION_BUS_ADDRESS=unix:path="+filepath.Join(dir, "no-dbus"), "DISPLAY=")
	if err := cmd.Start(); err != nil {
		t.Skipf("pulseaudio does not start: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Skip("pulseaudio did not open its socket within 10 s; it does not run here")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Setenv("PULSE_SERVER", "unix:"+sock)
}

// Real devices through miniaudio: a tone written to the speaker comes
// back from the microphone (the null sink's monitor) in 20 ms frames, in
// real time.
func TestLoopbackPulseAudio(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	startPulseAudio(t)
	c, p, why := Available()
	if !c || !p || why != "" {
		t.Fatalf("Available: capture %v, playback %v: %s", c, p, why)
	}
	pb, err := OpenPlayback(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer pb.Close()
	cp, err := OpenCapture(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()

	// The tone plays until the test has heard a second of it. (A null
	// sink takes a second or two to start rendering.)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for n := 0; ; n++ {
			f := make([]int16, 960)
			for i := range f {
				f[i] = int16(10000 * math.Sin(2*math.Pi*1000*float64(n*960+i)/48000))
			}
			pb.Write(f)
			select {
			case <-tick.C:
			case <-stop:
				return
			}
		}
	}()
	loud := func(f []int16) bool {
		peak := 0
		for _, s := range f {
			peak = max(peak, int(s))
		}
		return peak > 8000
	}
	timeout := time.After(10 * time.Second)
	for heard := false; !heard; {
		select {
		case f := <-cp.Frames():
			heard = loud(f)
		case <-timeout:
			t.Fatal("the tone never came back")
		}
	}
	start := time.Now()
	frames, tone := 0, 0
	for time.Since(start) < time.Second {
		select {
		case f := <-cp.Frames():
			if len(f) != 960 {
				t.Fatalf("frame of %d samples", len(f))
			}
			frames++
			if loud(f) {
				tone++
			}
		case <-timeout:
			t.Fatal("the microphone stopped")
		}
	}
	elapsed := time.Since(start)
	if want := int(elapsed / (20 * time.Millisecond)); frames < want*8/10 || frames > want*12/10 {
		t.Errorf("%d frames in %v, want about %d", frames, elapsed, want)
	}
	if tone < frames*9/10 {
		t.Errorf("the tone was in %d of %d frames", tone, frames)
	}
	st := pb.Stats()
	if st.Played < time.Second {
		t.Errorf("played %v", st.Played)
	}
	t.Logf("%d frames (%d with the tone) in %v; playback %+v; capture dropped %d", frames, tone, elapsed, st, cp.Dropped())
	start = time.Now()
	cp.Close()
	pb.Close()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v", d)
	}
	for range cp.Frames() {
		// Close closed the channel after the frames queued before it.
	}
}
