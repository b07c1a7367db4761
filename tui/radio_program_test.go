package tui

import (
	"bytes"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"
)

// The radio screen inside a real Bubble Tea program (teatest's virtual
// terminal): keys go in, the screen comes out, and the I/O functions run
// in the program's command goroutines.
func TestRadioProgram(t *testing.T) {
	fio := &radioIO{answer: granted}
	m := NewRadio(fio.config(RadioConfig{
		Unit: 101, Alias: "P-101",
		Talkgroups: []Talkgroup{{ID: 100, Name: "Patrol North"}, {ID: 200, Name: "Patrol South"}},
	}))
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24))
	wait := func(s string) {
		t.Helper()
		teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(s)) },
			teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
	}
	tm.Send(ConnState{Up: true})
	tm.Send(AudioStatus{Why: "no audio capture device: no sound card; " + "the radio can still transmit a WAV file with --tx and record with --record"})
	wait("connected")

	// This virtual terminal reports no key releases: toggle mode.
	tm.Type(" ")
	wait("ON AIR")
	tm.Type("t") // refused on air
	wait("release the key before changing talkgroup")

	// A release switches to hold mode and ends the transmission.
	tm.Send(tea.KeyReleaseMsg{Code: tea.KeySpace})
	wait("hold space to talk")
	tm.Type("t")
	wait("Patrol South")
	tm.Type("q")
	final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*RadioModel)

	if final.OnAir() || !final.HoldToTalk() || final.Selected() != 200 {
		t.Errorf("final: on air %v, hold-to-talk %v, talkgroup %d", final.OnAir(), final.HoldToTalk(), final.Selected())
	}
	fio.mu.Lock()
	defer fio.mu.Unlock()
	if len(fio.down) != 1 || fio.down[0].Talkgroup != 100 || len(fio.up) != 1 || len(fio.sel) != 1 || fio.sel[0] != 200 {
		t.Errorf("I/O calls: %v (down %+v, up %+v, select %v)", fio.calls, fio.down, fio.up, fio.sel)
	}
}
