package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/varta-ptt/varta/client"
	"github.com/varta-ptt/varta/crypto/pki"
	"github.com/varta-ptt/varta/protocol"
)

// These tests run the real vartad and varta binaries, as an administrator
// and a radio would.

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vartad-test-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	for _, b := range []struct{ out, pkg, cgo string }{{"vartad", ".", "0"}, {"varta", "../varta", "1"}} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, b.out), b.pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED="+b.cgo)
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", b.pkg, err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// vartad runs the vartad binary and returns its combined output.
func vartad(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(binDir, "vartad"), args...).CombinedOutput()
	return string(out), err
}

func mustVartad(t *testing.T, args ...string) string {
	t.Helper()
	out, err := vartad(t, args...)
	if err != nil {
		t.Fatalf("vartad %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func freeUDPAddr(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

// newAgency runs vartad init and adds talkgroups 100 and 200.
func newAgency(t *testing.T, listen string) string {
	t.Helper()
	data := filepath.Join(t.TempDir(), "agency")
	mustVartad(t, "init", "--data", data, "--advertise", listen)
	mustVartad(t, "talkgroup", "add", "--data", data, "--id", "100", "--name", "Patrol North", "--priority", "5")
	mustVartad(t, "talkgroup", "add", "--data", data, "--id", "200", "--name", "Patrol South")
	return data
}

type relayProc struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan error
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) WriteString(p string) {
	s.Write([]byte(p))
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listeningRE = regexp.MustCompile(`relay listening on (\S+)`)

// serve starts `vartad serve` and waits until it listens.
func serve(t *testing.T, data, listen string, extra ...string) *relayProc {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "vartad"), append([]string{"serve", "--data", data, "--listen", listen}, extra...)...)
	pr, pw, _ := os.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	p := &relayProc{cmd: cmd, stderr: new(syncBuffer), done: make(chan error, 1)}
	ready := make(chan struct{})
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	go func() {
		once := false
		for l := range lines {
			p.stderr.WriteString(l + "\n")
			if !once && listeningRE.MatchString(l) {
				once = true
				close(ready)
			}
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.done
		}
	})
	select {
	case <-ready:
	case err := <-p.done:
		t.Fatalf("vartad serve exited: %v\n%s", err, p.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("vartad serve did not start\n%s", p.stderr)
	}
	return p
}

func (p *relayProc) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-p.done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("vartad serve did not exit")
		return nil
	}
}

func dial(t *testing.T, identityFile, addr string) (*client.Client, error) {
	t.Helper()
	id, err := pki.LoadIdentityFile(identityFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{Identity: id, Addr: addr})
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func TestInitRefusesToOverwrite(t *testing.T) {
	data := newAgency(t, "127.0.0.1:7700")
	before, _ := os.ReadFile(filepath.Join(data, "ca.key"))
	out, err := vartad(t, "init", "--data", data)
	if err == nil || !strings.Contains(out, "refusing to overwrite") {
		t.Fatalf("second init: %v\n%s", err, out)
	}
	after, _ := os.ReadFile(filepath.Join(data, "ca.key"))
	if !bytes.Equal(before, after) {
		t.Fatal("the CA key changed")
	}
}

func TestRosterCommandsOffline(t *testing.T) {
	data := newAgency(t, "127.0.0.1:7700")
	bundle := filepath.Join(t.TempDir(), "p101.pem")
	out := mustVartad(t, "unit", "add", "--data", data, "--id", "101", "--alias", "P-101", "--role", "officer", "--talkgroups", "100,200", "--out", bundle)
	if !strings.Contains(out, "enrolled") {
		t.Fatalf("unit add said %q", out)
	}
	fi, err := os.Stat(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("identity file mode %o, want 600", fi.Mode().Perm())
	}
	id, err := pki.LoadIdentityFile(bundle)
	if err != nil || id.UnitID != 101 || id.Server != "127.0.0.1:7700" {
		t.Fatalf("bundle: %v %+v", err, id)
	}

	tests := []struct {
		args []string
		fail bool
		want string
	}{
		{[]string{"talkgroup", "list"}, false, "Patrol North"},
		{[]string{"unit", "list"}, false, "P-101"},
		{[]string{"unit", "set-talkgroups", "--id", "101", "--talkgroups", "200"}, false, "unit 101 talkgroups: 200"},
		{[]string{"unit", "set-talkgroups", "--id", "101", "--talkgroups", "300"}, true, "300"},
		{[]string{"unit", "add", "--id", "101", "--alias", "X", "--out", filepath.Join(t.TempDir(), "x.pem")}, true, "exists"},
		{[]string{"unit", "add", "--id", "102", "--alias", "P-102", "--role", "janitor", "--out", filepath.Join(t.TempDir(), "y.pem")}, true, "officer"},
		{[]string{"unit", "add", "--id", "102", "--alias", "P-102", "--talkgroups", "999", "--out", filepath.Join(t.TempDir(), "z.pem")}, true, "999"},
		{[]string{"talkgroup", "add", "--id", "100", "--name", "Again"}, true, "exists"},
		{[]string{"talkgroup", "remove", "--id", "200"}, false, "removed"},
		{[]string{"unit", "list"}, false, "-"},
		{[]string{"unit", "remove", "--id", "101"}, false, "removed"},
		{[]string{"unit", "remove", "--id", "101"}, true, "not"},
	}
	for _, tt := range tests {
		args := append([]string{tt.args[0], tt.args[1], "--data", data}, tt.args[2:]...)
		out, err := vartad(t, args...)
		if (err != nil) != tt.fail || !strings.Contains(out, tt.want) {
			t.Errorf("vartad %s: err=%v, output %q, want fail=%v containing %q", strings.Join(tt.args, " "), err, out, tt.fail, tt.want)
		}
	}
	// A refused unit add leaves no identity file behind.
	if _, err := os.Stat(filepath.Join(filepath.Dir(bundle), "z.pem")); err == nil {
		t.Error("a refused enrolment left an identity file")
	}
}

// While the relay runs, roster commands go through it and take effect at
// once; an acknowledged change survives kill -9.
func TestLiveAdminAndKill9(t *testing.T) {
	listen := freeUDPAddr(t)
	data := newAgency(t, listen)
	p := serve(t, data, listen)

	bundle := filepath.Join(t.TempDir(), "p101.pem")
	mustVartad(t, "unit", "add", "--data", data, "--id", "101", "--alias", "P-101", "--role", "officer", "--talkgroups", "100", "--out", bundle)
	c, err := dial(t, bundle, listen)
	if err != nil {
		t.Fatalf("a unit enrolled while the relay runs cannot connect: %v", err)
	}
	if _, err := c.Affiliate(context.Background(), 100); err != nil {
		t.Fatal(err)
	}
	mustVartad(t, "talkgroup", "add", "--data", data, "--id", "300", "--name", "Operation Nightjar")
	mustVartad(t, "unit", "set-talkgroups", "--data", data, "--id", "101", "--talkgroups", "100,300")
	res, err := c.Affiliate(context.Background(), 100, 300)
	if err != nil || !res.Results[1].Ok {
		t.Fatalf("new talkgroup not usable at once: %v %v", err, res)
	}

	// Re-issuing the identity cuts off the old file at once.
	fresh := filepath.Join(t.TempDir(), "p101-new.pem")
	mustVartad(t, "unit", "reissue", "--data", data, "--id", "101", "--out", fresh)
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the unit on the old identity stayed connected")
	}
	if _, err := dial(t, bundle, listen); err == nil || !strings.Contains(err.Error(), "replaced by a newer one") {
		t.Fatalf("old identity after reissue: %v", err)
	}
	if _, err := dial(t, fresh, listen); err != nil {
		t.Fatalf("new identity: %v", err)
	}
	bundle = fresh

	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait(t)

	out := mustVartad(t, "unit", "list", "--data", data)
	if !strings.Contains(out, "P-101") || !strings.Contains(out, "100,300") {
		t.Fatalf("acknowledged changes lost after kill -9:\n%s", out)
	}
	if out := mustVartad(t, "talkgroup", "list", "--data", data); !strings.Contains(out, "Operation Nightjar") {
		t.Fatalf("talkgroup lost after kill -9:\n%s", out)
	}
	// The relay starts again on the same files.
	serve(t, data, listen)
	if _, err := dial(t, bundle, listen); err != nil {
		t.Fatal(err)
	}
}

// vartad serve --metrics serves Prometheus metrics on loopback.
func TestServeMetrics(t *testing.T) {
	listen := freeUDPAddr(t)
	data := newAgency(t, listen)
	p := serve(t, data, listen, "--metrics", "127.0.0.1:0")
	m := regexp.MustCompile(`Prometheus metrics on (http://\S+)`).FindStringSubmatch(p.stderr.String())
	if m == nil {
		t.Fatalf("no metrics address in:\n%s", p.stderr)
	}
	resp, err := http.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"varta_sessions ", "varta_ptt_access_seconds_bucket", `varta_datagrams_dropped_total{reason="not-floor-holder"}`, "process_resident_memory_bytes"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// SIGTERM tells connected units and closes the stores.
func TestSIGTERMGraceful(t *testing.T) {
	listen := freeUDPAddr(t)
	data := newAgency(t, listen)
	bundle := filepath.Join(t.TempDir(), "p101.pem")
	mustVartad(t, "unit", "add", "--data", data, "--id", "101", "--alias", "P-101", "--talkgroups", "100", "--out", bundle)
	p := serve(t, data, listen)
	c, err := dial(t, bundle, listen)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(t); err != nil {
		t.Fatalf("vartad exited with %v\n%s", err, p.stderr)
	}
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the radio was not told")
	}
	var closed *client.ClosedError
	if !errors.As(c.Err(), &closed) || closed.Code != protocol.CloseShutdown {
		t.Fatalf("radio told %v, want a shutdown notice", c.Err())
	}
	t.Logf("radio shows: %s", c.Err())
	if !strings.Contains(p.stderr.String(), "stores closed") {
		t.Fatalf("no clean close in the log:\n%s", p.stderr)
	}
	// The store is unlocked: an offline command works.
	mustVartad(t, "unit", "list", "--data", data)
}

// A damaged store is refused at start with a message that names the file
// and how to restore it; the file is left as it was.
func TestDamagedStoreRefused(t *testing.T) {
	listen := freeUDPAddr(t)
	data := newAgency(t, listen)
	mustVartad(t, "unit", "add", "--data", data, "--id", "101", "--alias", "P-101", "--talkgroups", "100", "--out", filepath.Join(t.TempDir(), "a.pem"))
	mustVartad(t, "snapshot", "--data", data)
	roster := filepath.Join(data, "roster.db")
	b, err := os.ReadFile(roster)
	if err != nil {
		t.Fatal(err)
	}
	copy(b[len(b)/2:], "#### this is not a buntdb record ####")
	if err := os.WriteFile(roster, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := vartad(t, "serve", "--data", data, "--listen", listen)
	if err == nil {
		t.Fatal("vartad served a damaged store")
	}
	for _, want := range []string{roster, "snapshot"} {
		if !strings.Contains(out, want) {
			t.Errorf("message does not name %q:\n%s", want, out)
		}
	}
	t.Logf("administrator sees: %s", out)
	after, _ := os.ReadFile(roster)
	if !bytes.Equal(b, after) {
		t.Fatal("the damaged file was changed")
	}
}

// The README's `make run` flow: scripts/run.sh creates a demo agency and
// starts a relay that a radio's identity connects to.
func TestRunScript(t *testing.T) {
	listen := freeUDPAddr(t)
	data := filepath.Join(t.TempDir(), "agency")
	cmd := exec.Command("bash", "../../scripts/run.sh")
	cmd.Env = append(os.Environ(), "DATA="+data, "LISTEN="+listen, "BIN="+binDir)
	var out syncBuffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "relay listening") {
		if time.Now().After(deadline) {
			t.Fatalf("run.sh did not start a relay:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	check := exec.Command(filepath.Join(binDir, "varta"), "check", "--identity", filepath.Join(data, "units", "p102.pem"))
	got, err := check.CombinedOutput()
	if err != nil || !strings.Contains(string(got), `unit 102 "P-102"`) || !strings.Contains(string(got), "affiliated to talkgroup 100") {
		t.Fatalf("varta check: %v\n%s\nrelay:\n%s", err, got, out.String())
	}
	t.Logf("varta check:\n%s", got)
}

// startRunScript starts scripts/run.sh (what `make run` runs) on a free
// loopback port and returns the data directory and the address.
func startRunScript(t *testing.T) (data, listen string, out *syncBuffer) {
	t.Helper()
	listen = freeUDPAddr(t)
	data = filepath.Join(t.TempDir(), "agency")
	cmd := exec.Command("bash", "../../scripts/run.sh")
	cmd.Env = append(os.Environ(), "DATA="+data, "LISTEN="+listen, "BIN="+binDir)
	out = new(syncBuffer)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "relay listening") {
		if time.Now().After(deadline) {
			t.Fatalf("run.sh did not start a relay:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return data, listen, out
}

func speechWAV(t *testing.T, text string) string {
	t.Helper()
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("espeak-ng is missing: scripts/deps.sh should have installed it")
		}
		t.Skip("espeak-ng is not installed; `make test` installs it")
	}
	path := filepath.Join(t.TempDir(), "speech.wav")
	if out, err := exec.Command("espeak-ng", "-w", path, text).CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v\n%s", err, out)
	}
	return path
}

// The radio's two headless commands, exactly as README.md shows them,
// against the relay of `make run`: one radio records, another transmits a
// speech file; the recording names the talker; a pre-empted transmission
// exits 2 with the reason.
func TestRadioCommandsAgainstRunScript(t *testing.T) {
	data, _, relayOut := startRunScript(t)
	units := filepath.Join(data, "units")
	recDir := filepath.Join(t.TempDir(), "rec")
	var recOut syncBuffer
	rec := exec.Command(filepath.Join(binDir, "varta"), "radio", "--identity", filepath.Join(units, "p102.pem"), "--talkgroup", "100", "--record", recDir, "--for", "25s")
	rec.Stdout, rec.Stderr = &recOut, &recOut
	if err := rec.Start(); err != nil {
		t.Fatal(err)
	}
	defer rec.Process.Kill()
	waitOutput(t, &recOut, "listening on talkgroups 100")

	wav := speechWAV(t, "Dispatch, P one oh one, show me on scene.")
	tx := exec.Command(filepath.Join(binDir, "varta"), "radio", "--identity", filepath.Join(units, "p101.pem"), "--talkgroup", "100", "--tx", wav)
	got, err := tx.CombinedOutput()
	if err != nil {
		t.Fatalf("varta radio --tx: %v\n%s\nrelay:\n%s", err, got, relayOut.String())
	}
	t.Logf("transmitter:\n%s", got)
	waitOutput(t, &recOut, "P-101 (unit 101)")
	// P-101 signed its burst; the recorder checked it with P-101's
	// certificate, fetched from the relay and checked against the CA.
	waitOutput(t, &recOut, "signature verified")
	files, _ := filepath.Glob(filepath.Join(recDir, "*-tg100-unit101.wav"))
	if len(files) != 1 {
		t.Fatalf("recordings: %v\n%s", files, recOut.String())
	}
	t.Logf("recorder:\n%s", recOut.String())

	// Pre-emption: a long transmission is cut by an emergency call and
	// exits 2 with the reason in words.
	long := speechWAV(t, "This is a long routine transmission about the weather and the traffic on the bypass, which goes on and on for quite a while.")
	slow := exec.Command(filepath.Join(binDir, "varta"), "radio", "--identity", filepath.Join(units, "p101.pem"), "--talkgroup", "100", "--tx", long)
	var slowOut syncBuffer
	slow.Stdout, slow.Stderr = &slowOut, &slowOut
	if err := slow.Start(); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, &slowOut, "on air")
	emerg := exec.Command(filepath.Join(binDir, "varta"), "radio", "--identity", filepath.Join(units, "p103.pem"), "--talkgroup", "100", "--tx", wav, "--emergency")
	if out, err := emerg.CombinedOutput(); err != nil {
		t.Fatalf("emergency transmission: %v\n%s", err, out)
	}
	err = slow.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(slowOut.String(), "pre-empted by an emergency call from P-103") {
		t.Fatalf("pre-empted transmission: %v\n%s", err, slowOut.String())
	}
	t.Logf("pre-empted radio:\n%s", slowOut.String())
}

func waitOutput(t *testing.T, b *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(b.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("output never said %q:\n%s", want, b.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The KMF can run on its own host: with the embedded one off, a radio finds
// no key and says why; `vartad kmf` then keys the talkgroup and the same
// transmission goes through.
func TestStandaloneKMF(t *testing.T) {
	listen := freeUDPAddr(t)
	data := newAgency(t, listen)
	units := t.TempDir()
	for _, u := range []struct{ id, alias string }{{"101", "P-101"}, {"102", "P-102"}} {
		mustVartad(t, "unit", "add", "--data", data, "--id", u.id, "--alias", u.alias, "--talkgroups", "100", "--out", filepath.Join(units, u.id+".pem"))
	}
	serve(t, data, listen, "--kmf=false")
	wav := speechWAV(t, "Radio check.")
	tx := func() (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, filepath.Join(binDir, "varta"), "radio", "--identity", filepath.Join(units, "101.pem"), "--talkgroup", "100", "--tx", wav, "--key-wait", "2s").CombinedOutput()
		return string(out), err
	}
	if out, err := tx(); err == nil || !strings.Contains(out, "is the key management facility running") {
		t.Fatalf("without a KMF: %v\n%s", err, out)
	}
	kmf := exec.Command(filepath.Join(binDir, "vartad"), "kmf", "--identity", filepath.Join(data, "kmf.pem"), "--server", listen)
	var kmfOut syncBuffer
	kmf.Stdout, kmf.Stderr = &kmfOut, &kmfOut
	if err := kmf.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { kmf.Process.Signal(syscall.SIGTERM); kmf.Wait() }()
	waitOutput(t, &kmfOut, "new epoch")
	if out, err := tx(); err != nil {
		t.Fatalf("with the standalone KMF: %v\n%s\nkmf:\n%s", err, out, kmfOut.String())
	}
}

// The dispatcher's command line against the run.sh relay: units with
// --json, a status with a position, radio check, message, stun and revive,
// emergencies.
func TestDispatchCommandLine(t *testing.T) {
	data, _, _ := startRunScript(t)
	units := filepath.Join(data, "units")
	varta := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, filepath.Join(binDir, "varta"), args...).CombinedOutput()
		return string(out), err
	}
	dispatch := func(args ...string) string {
		t.Helper()
		out, err := varta(append([]string{"dispatch", "--identity", filepath.Join(units, "dispatch1.pem")}, args...)...)
		if err != nil {
			t.Fatalf("varta dispatch %v: %v\n%s", args, err, out)
		}
		return out
	}
	// P-101 is on the air as a recording radio with a position and a status.
	var recOut syncBuffer
	rec := exec.Command(filepath.Join(binDir, "varta"), "radio", "--identity", filepath.Join(units, "p101.pem"), "--talkgroup", "100",
		"--record", t.TempDir(), "--for", "30s", "--position", "51.5077,-0.1290", "--status", "available")
	rec.Stdout, rec.Stderr = &recOut, &recOut
	if err := rec.Start(); err != nil {
		t.Fatal(err)
	}
	defer rec.Process.Kill()
	waitOutput(t, &recOut, "listening on talkgroups 100")
	deadline := time.Now().Add(10 * time.Second)
	var near string
	for time.Now().Before(deadline) {
		near = dispatch("units", "--near", "51.5080,-0.1281", "--available")
		if strings.Contains(near, "P-101") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(near, "P-101") || !strings.Contains(near, " m") {
		t.Fatalf("units --near:\n%s", near)
	}
	var list struct {
		Units []struct {
			Unit   uint32 `json:"unit"`
			Alias  string `json:"alias"`
			Online bool   `json:"online"`
		} `json:"units"`
	}
	if err := json.Unmarshal([]byte(dispatch("--json", "units")), &list); err != nil || len(list.Units) < 4 {
		t.Fatalf("units --json: %v %+v", err, list)
	}
	// P-102 reads its position from a GNSS receiver's NMEA sentences.
	nmea := filepath.Join(t.TempDir(), "gnss.nmea")
	os.WriteFile(nmea, []byte("$GPGSV,3,1,11,03,03,111,00\n$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\n"), 0o600)
	gnss := exec.Command(filepath.Join(binDir, "varta"), "radio", "--identity", filepath.Join(units, "p102.pem"), "--talkgroup", "100",
		"--record", t.TempDir(), "--for", "20s", "--nmea", nmea)
	if err := gnss.Start(); err != nil {
		t.Fatal(err)
	}
	defer gnss.Process.Kill()
	deadline = time.Now().Add(10 * time.Second)
	var st string
	for time.Now().Before(deadline) {
		if st = dispatch("status", "102"); strings.Contains(st, "48.11730,11.51667") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(st, "48.11730,11.51667") {
		t.Fatalf("NMEA position not reported:\n%s", st)
	}
	if out := dispatch("check", "101"); !strings.Contains(out, "answered") {
		t.Fatalf("check: %s", out)
	}
	if out := dispatch("message", "101", "Return", "to", "base"); !strings.Contains(out, "1 delivered now") {
		t.Fatalf("message: %s", out)
	}
	if out := dispatch("stun", "103"); !strings.Contains(out, "stunned") {
		t.Fatalf("stun: %s", out)
	}
	if out := dispatch("status", "103"); !strings.Contains(out, "STUNNED") {
		t.Fatalf("status after stun: %s", out)
	}
	if out, err := varta("radio", "--identity", filepath.Join(units, "p103.pem"), "--talkgroup", "100", "--record", t.TempDir(), "--for", "2s"); err == nil || !strings.Contains(out, "stunned") {
		t.Fatalf("stunned radio: %v\n%s", err, out)
	}
	dispatch("revive", "103")
	if out := dispatch("emergencies"); !strings.Contains(out, "no emergencies") {
		t.Fatalf("emergencies: %s", out)
	}
	// An officer's identity may not stun, and is told why.
	out, err := varta("dispatch", "--identity", filepath.Join(units, "p102.pem"), "stun", "101")
	if err == nil || !strings.Contains(out, "officer may not") {
		t.Fatalf("officer stun: %v\n%s", err, out)
	}
}
