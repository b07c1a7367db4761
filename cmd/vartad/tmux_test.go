package main

// The interactive screens, driven in tmux as a person would drive them.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The interactive handheld, driven like a person would in a terminal
// (tmux): it connects, shows the talkgroup and its key, goes ON AIR on
// space (toggle mode: tmux reports no key releases) and another radio
// records the transmission under this radio's alias.
func TestInteractiveRadioInTmux(t *testing.T) {
	data, _, _ := startRunScript(t)
	units := filepath.Join(data, "units")
	wav := speechWAV(t, "Dispatch, P one oh two, en route.")
	recDir := filepath.Join(t.TempDir(), "rec")
	var recOut syncBuffer
	rec := exec.Command(filepath.Join(binDir, "varta"), "radio", "--identity", filepath.Join(units, "p101.pem"), "--talkgroup", "100", "--record", recDir, "--for", "30s")
	rec.Stdout, rec.Stderr = &recOut, &recOut
	if err := rec.Start(); err != nil {
		t.Fatal(err)
	}
	defer rec.Process.Kill()
	waitOutput(t, &recOut, "listening on talkgroups 100")

	term := startTerminal(t, 80, 24, fmt.Sprintf("%s radio --identity %s --ptt-file %s", filepath.Join(binDir, "varta"), filepath.Join(units, "p102.pem"), wav))
	s := term.wait("connected")
	for _, want := range []string{"P-102", "Patrol North", "end-to-end encrypted"} {
		if !strings.Contains(s, want) {
			s = term.wait(want)
		}
	}
	term.keys("Space")
	s = term.wait("ON AIR")
	t.Logf("on air:\n%s", s)
	waitOutput(t, &recOut, "P-102 (unit 102)")
	term.wait("PTT  idle")
	term.keys("q")
}

// The dispatcher's console, driven like a dispatcher would in a terminal
// (tmux) against the relay of `make run` and real radios: a radio's
// transmission shows the talker's alias and lands in instant recall (saved
// to a WAV file); the console talks (a radio records it under the
// console's alias); a radio's emergency raises the banner, the dispatcher
// acknowledges it; the dispatcher finds a unit and stuns it.
func TestConsoleInTmux(t *testing.T) {
	data, _, relayOut := startRunScript(t)
	units := filepath.Join(data, "units")
	varta := filepath.Join(binDir, "varta")
	speech := speechWAV(t, "Dispatch, P one oh one, show me on scene at the station.")
	recallDir := t.TempDir()

	cmdline := fmt.Sprintf("%s console --identity %s --no-audio --ptt-file %s --recall-dir %s", varta, filepath.Join(units, "dispatch1.pem"), speech, recallDir)
	term := startTerminal(t, 100, 30, cmdline)
	keys := term.keys
	screen := func(want string) string {
		t.Helper()
		return term.wait(want, func() string { return "relay:\n" + relayOut.String() })
	}
	screen("online")
	screen("Patrol South")

	// P-103 listens and records; P-101 talks.
	var recOut syncBuffer
	rec := exec.Command(varta, "radio", "--identity", filepath.Join(units, "p103.pem"), "--talkgroup", "100", "--record", t.TempDir(), "--for", "60s")
	rec.Stdout, rec.Stderr = &recOut, &recOut
	if err := rec.Start(); err != nil {
		t.Fatal(err)
	}
	defer rec.Process.Kill()
	waitOutput(t, &recOut, "listening on talkgroups 100")
	tx := exec.Command(varta, "radio", "--identity", filepath.Join(units, "p101.pem"), "--talkgroup", "100", "--tx", speech, "--position", "51.5077,-0.1290", "--status", "available")
	var txOut syncBuffer
	tx.Stdout, tx.Stderr = &txOut, &txOut
	if err := tx.Start(); err != nil {
		t.Fatal(err)
	}
	s := screen("TALKING P-101 (101)")
	t.Logf("talker shown:\n%s", s)
	if err := tx.Wait(); err != nil {
		t.Fatalf("P-101 transmit: %v\n%s", err, txOut.String())
	}
	s = screen("heard P-101 (101)")
	if !strings.Contains(s, "Recall tg 100 Patrol North (1 kept)") {
		s = screen("Recall tg 100 Patrol North (1 kept)")
	}
	keys("w")
	screen("saved P-101 (101)")
	files, _ := filepath.Glob(filepath.Join(recallDir, "recall-*-tg100-unit101.wav"))
	if len(files) != 1 {
		t.Fatalf("recall files: %v", files)
	}
	fi, err := os.Stat(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Size() < 44+48000*2 {
		t.Fatalf("saved recall: mode %v, %d bytes; want 0600 and over a second of audio", fi.Mode(), fi.Size())
	}

	// The dispatcher talks on talkgroup 100 (toggle: tmux reports no key
	// releases); P-103 records it under the console's alias.
	keys("Space")
	s = screen("ON AIR")
	t.Logf("console on air:\n%s", s)
	waitOutput(t, &recOut, "DISPATCH-1 (unit 900)")
	screen("standby")

	// P-102 raises an emergency: the banner names it; a acknowledges.
	em := exec.Command(varta, "radio", "--identity", filepath.Join(units, "p102.pem"), "--talkgroup", "100", "--tx", speech, "--emergency", "--position", "51.5080,-0.1281")
	// The alarm reaches dispatchers before the emergency call starts; how
	// the call itself fares is not what this test is about.
	if out, err := em.CombinedOutput(); err != nil {
		t.Logf("emergency radio: %v\n%s", err, out)
	}
	s = screen("!! EMERGENCY P-102 (102)")
	t.Logf("emergency banner:\n%s", s)
	keys("a")
	s = screen("ACKNOWLEDGED by DISPATCH-1 (900)")

	// The units table: search for P-103 and stun it, confirming.
	keys("2")
	screen("Units")
	keys("/")
	keys("-l", "P-103")
	keys("Enter")
	screen("Units 1 of")
	keys("S")
	screen("STUN P-103 (103)?")
	keys("y")
	s = screen("STUNNED unit 103")
	t.Logf("after the stun:\n%s", s)
	if err := rec.Wait(); err == nil || !strings.Contains(recOut.String(), "stunned") {
		t.Fatalf("the stunned radio went on: %v\n%s", err, recOut.String())
	}
	keys("q")
	screen("Quit the console?")
	keys("y")
	deadline := time.Now().Add(10 * time.Second)
	for term.running() {
		if time.Now().After(deadline) {
			t.Fatal("the console did not quit")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// terminal is a program running in a tmux session of its own (its own
// server socket), read with capture-pane as a person would read it.
type terminal struct {
	t       *testing.T
	sock    string
	session string
}

// startTerminal runs cmdline in a w x h tmux session; it is killed when the
// test ends. It skips the test where tmux is missing (fails under CI).
func startTerminal(t *testing.T, w, h int, cmdline string) *terminal {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tmux is missing: scripts/deps.sh should have installed it")
		}
		t.Skip("tmux is not installed")
	}
	term := &terminal{t: t, sock: filepath.Join(t.TempDir(), "tmux.sock"), session: fmt.Sprintf("varta-test-%d", os.Getpid())}
	term.tmux("new-session", "-d", "-s", term.session, "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), cmdline)
	t.Cleanup(func() { exec.Command("tmux", "-S", term.sock, "kill-server").Run() })
	return term
}

func (term *terminal) tmux(args ...string) string {
	term.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", term.sock}, args...)...).CombinedOutput()
	if err != nil {
		term.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// keys types keys (tmux key names, or -l and literal text).
func (term *terminal) keys(k ...string) {
	term.t.Helper()
	term.tmux(append([]string{"send-keys", "-t", term.session}, k...)...)
}

// wait waits until the screen shows want, and returns the screen; extra
// is added to the failure message.
func (term *terminal) wait(want string, extra ...func() string) string {
	term.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s := term.tmux("capture-pane", "-p", "-t", term.session)
		if strings.Contains(s, want) {
			return s
		}
		if time.Now().After(deadline) {
			more := ""
			for _, e := range extra {
				more += "\n" + e()
			}
			term.t.Fatalf("the screen never showed %q:\n%s%s", want, s, more)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// running reports whether the program is still running.
func (term *terminal) running() bool {
	return exec.Command("tmux", "-S", term.sock, "has-session", "-t", term.session).Run() == nil
}
