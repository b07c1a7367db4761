package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/varta-ptt/varta/internal/agency"
)

// runningRelay is a `vartad serve` started by a test, as an operator would
// run it, on a fresh agency in a temporary directory.
type runningRelay struct {
	bin, dir, addr string
	pid            int
}

// startRunningRelay builds vartad, creates an agency advertising a free
// 127.0.0.1 port with talkgroup 100 and unit 101 of its own, and serves it
// there until the test ends.
func startRunningRelay(t *testing.T) *runningRelay {
	t.Helper()
	r := &runningRelay{bin: buildVartad(t), dir: filepath.Join(t.TempDir(), "agency")}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = pc.LocalAddr().String()
	pc.Close()
	r.vartad(t, "init", "--data", r.dir, "--advertise", r.addr)
	r.vartad(t, "talkgroup", "add", "--data", r.dir, "--id", "100", "--name", "Patrol")
	r.vartad(t, "unit", "add", "--data", r.dir, "--id", "101", "--alias", "P-101", "--talkgroups", "100", "--out", filepath.Join(t.TempDir(), "p101.pem"))

	cmd := exec.Command(r.bin, "serve", "--data", r.dir, "--listen", r.addr, "--log-level", "warn")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	ready := make(chan struct{})
	var tail lastLines
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			tail.add(sc.Text())
			if strings.Contains(sc.Text(), "relay listening on ") {
				close(ready)
			}
		}
		io.Copy(io.Discard, stderr)
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	select {
	case <-ready:
	case <-exited:
		t.Fatalf("vartad serve exited: %s", tail.String())
	case <-time.After(readyLimit):
		t.Fatalf("vartad serve did not start: %s", tail.String())
	}
	r.pid = cmd.Process.Pid
	return r
}

// vartad runs a vartad administration command and returns its output.
func (r *runningRelay) vartad(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(r.bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("vartad %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// listed returns the IDs in the first column of `vartad unit|talkgroup list`.
func (r *runningRelay) listed(t *testing.T, what string) []int {
	t.Helper()
	var ids []int
	for _, line := range strings.Split(r.vartad(t, what, "list", "--data", r.dir), "\n")[1:] {
		if f := strings.Fields(line); len(f) > 0 {
			id, err := strconv.Atoi(f[0])
			if err != nil {
				t.Fatalf("vartad %s list: line %q", what, line)
			}
			ids = append(ids, id)
		}
	}
	return ids
}

// TestRunRunningRelay loads a vartad that was already running, then checks
// that its roster is as before: the bench's units and talkgroups are gone
// and the agency's own are still there.
func TestRunRunningRelay(t *testing.T) {
	if testing.Short() {
		t.Skip("builds vartad and runs a real QUIC load")
	}
	rr := startRunningRelay(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := Run(ctx, Config{Units: 10, Talkgroups: 2, Talkers: 2, Duration: time.Second, Burst: 500 * time.Millisecond, RelayData: rr.dir})
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("running relay pid %d at %s", rr.pid, rr.addr); !strings.Contains(r.Relay, want) {
		t.Errorf("relay = %q, want it to say %q", r.Relay, want)
	}
	if r.RelayMode != modeRunning || !r.RelaySeparate {
		t.Errorf("mode %q, separate %v", r.RelayMode, r.RelaySeparate)
	}
	// No metrics endpoint is known for a running relay; its RSS may not
	// grow measurably for 10 units.
	checkReport(t, r, "RelayHeapKiBPerUnit", "RelayStackKiBPerUnit", "RelayGoroutinesPerUnit", "RelayRSSPerUnitKiB")

	for what, want := range map[string]string{"unit": "[101 16777214]", "talkgroup": "[100]"} {
		if got := fmt.Sprint(rr.listed(t, what)); got != want {
			t.Errorf("after the bench, vartad %s list gives %s, want %s", what, got, want)
		}
	}
}

// TestRunRunningRelayRefuses checks the refusals that come before any load,
// and that a leftover of a killed run can be removed.
func TestRunRunningRelayRefuses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs vartad")
	}
	rr := startRunningRelay(t)
	run := func(cfg Config) error {
		t.Helper()
		if cfg.RelayData == "" {
			cfg.RelayData = rr.dir
		}
		cfg.Units, cfg.Talkgroups, cfg.Duration = 4, 2, time.Second
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		r, err := Run(ctx, cfg)
		if r != nil {
			t.Errorf("Run gave a report: %+v", r)
		}
		return err
	}
	expect := func(err error, words ...string) {
		t.Helper()
		if err == nil {
			t.Fatalf("Run succeeded, want an error saying %q", words)
		}
		t.Log(err)
		for _, w := range words {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not say %q", err, w)
			}
		}
	}

	for _, addr := range []string{"10.1.2.3:7700", "relay.example.org:7700", "127.0.0.1"} {
		expect(run(Config{RelayAddr: addr}), "127.0.0.1:PORT")
	}
	expect(run(Config{RelayData: t.TempDir()}), "holds no agency")

	caKey := filepath.Join(rr.dir, "ca.key")
	if err := os.Rename(caKey, caKey+".away"); err != nil {
		t.Fatal(err)
	}
	expect(run(Config{}), "holds no ca.key", "put the agency CA key back")
	if err := os.Rename(caKey+".away", caKey); err != nil {
		t.Fatal(err)
	}

	id := strconv.Itoa(agency.BenchUnitFirst + 3)
	rr.vartad(t, "unit", "add", "--data", rr.dir, "--id", id, "--alias", "Bench "+id, "--out", filepath.Join(t.TempDir(), "left.pem"))
	expect(run(Config{}), "earlier bench run", "--relay-cleanup")
	if nu, nt, err := RemoveLeftovers(rr.dir); err != nil || nu != 1 || nt != 0 {
		t.Errorf("RemoveLeftovers = %d units, %d talkgroups, %v; want 1, 0, nil", nu, nt, err)
	}

	rr.vartad(t, "talkgroup", "add", "--data", rr.dir, "--id", strconv.Itoa(agency.BenchTalkgroupFirst), "--name", "Harbour")
	expect(run(Config{}), `talkgroup 58000 "Harbour"`, "will not run beside")
	if _, _, err := RemoveLeftovers(rr.dir); err == nil {
		t.Error("RemoveLeftovers removed an agency talkgroup in the bench range")
	}
	if got := fmt.Sprint(rr.listed(t, "talkgroup")); got != "[100 58000]" {
		t.Errorf("talkgroups = %s", got)
	}
}
