package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRunSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("real QUIC load run")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := Run(ctx, Config{Units: 20, Talkgroups: 4, Talkers: 2, Duration: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if r.RelaySeparate {
		t.Error("in-process run reports a separate relay process")
	}
	checkReport(t, r, "RelaySeparate")
}

// TestRunVartad runs a small load against a vartad child process built
// from this tree, and checks that the child is gone afterwards.
func TestRunVartad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds vartad and runs a real QUIC load")
	}
	bin := buildVartad(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	prof := filepath.Join(t.TempDir(), "cpu.pprof")
	r, err := Run(ctx, Config{Units: 20, Talkgroups: 4, Talkers: 2, Duration: 2 * time.Second, Vartad: bin, RelayCPUProfile: prof})
	if err != nil {
		t.Fatal(err)
	}
	if !r.RelaySeparate || !strings.Contains(r.Relay, "vartad child process") {
		t.Errorf("relay = %q, separate = %v", r.Relay, r.RelaySeparate)
	}
	checkReport(t, r)
	if fi, err := os.Stat(prof); err != nil || fi.Size() == 0 {
		t.Errorf("relay CPU profile: %v", err)
	}
	// The child was stopped: no process runs the binary any more.
	if ents, err := os.ReadDir("/proc"); err == nil {
		for _, e := range ents {
			if exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && exe == bin {
				t.Errorf("vartad (pid %s) still runs after the bench", e.Name())
			}
		}
	}
}

// buildVartad builds vartad from this tree into a temporary directory.
func buildVartad(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "vartad")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/vartad")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build vartad: %v\n%s", err, out)
	}
	return bin
}

func TestProcReaders(t *testing.T) {
	if procRSS("self") <= 0 {
		t.Error("procRSS(self) is not positive")
	}
	// Burn a little CPU so that the 10 ms ticks move.
	for start := time.Now(); procCPU(os.Getpid()) == 0 && time.Since(start) < 5*time.Second; {
		for i := range 1 << 20 {
			_ = i * i
		}
	}
	if procCPU(os.Getpid()) <= 0 {
		t.Error("procCPU(self) stayed 0")
	}
}

func checkReport(t *testing.T, r *Report, zeroAlso ...string) {
	t.Helper()
	var buf bytes.Buffer
	if err := r.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + buf.String())
	if r.Delivered <= 0 {
		t.Errorf("delivered = %d", r.Delivered)
	}
	if r.Lost != 0 {
		t.Errorf("lost %d of %d", r.Lost, r.Expected)
	}
	// Every field is filled, except those that are zero on a clean run.
	zeroOK := map[string]bool{"Lost": true, "LossRatio": true, "Denied": true, "QueuedGrants": true}
	for _, f := range zeroAlso {
		zeroOK[f] = true
	}
	v := reflect.ValueOf(*r)
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		if !zeroOK[name] && v.Field(i).IsZero() {
			t.Errorf("report field %s is empty", name)
		}
	}
	buf.Reset()
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if _, ok := back["latency_p999_ms"]; !ok || !strings.Contains(buf.String(), "delivered_per_second") {
		t.Errorf("JSON lacks fields: %s", buf.String())
	}
}

// TestRunDefault runs the default load when VARTA_BENCH_DEFAULT is set.
func TestRunDefault(t *testing.T) {
	if os.Getenv("VARTA_BENCH_DEFAULT") == "" {
		t.Skip("set VARTA_BENCH_DEFAULT=1 to run the default load")
	}
	r, err := Run(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	r.WriteTable(&buf)
	r.WriteJSON(&buf)
	t.Log("\n" + buf.String())
}

func TestConfigBounds(t *testing.T) {
	for _, c := range []Config{{Units: 1}, {Units: MaxUnits + 1}, {Duration: time.Hour}, {Units: 10, Talkgroups: 6}} {
		if _, err := Run(context.Background(), c); err == nil {
			t.Errorf("Run(%+v) accepted", c)
		}
	}
}

func TestMouthToEar(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time voice through the codec and a relay")
	}
	r, err := MouthToEar(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	r.WriteTable(&buf)
	t.Log("\n" + buf.String())
	if r.Found != r.Markers || r.Found == 0 {
		t.Errorf("found %d of %d markers in the played audio", r.Found, r.Markers)
	}
	// The delay can only be positive: a marker cannot play before it is spoken.
	if r.MouthToEarMs.Min <= r.FrameMs {
		t.Errorf("mouth-to-ear minimum %.1f ms is under one frame", r.MouthToEarMs.Min)
	}
}
