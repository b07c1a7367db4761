package tui

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/varta-ptt/varta/protocol/pb"
)

// waitOutput waits until the program has written each of subs. Output
// read while waiting is gone for the next wait: what one input shows is
// waited for at once.
func waitOutput(t *testing.T, tm *teatest.TestModel, subs ...string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		for _, s := range subs {
			if !bytes.Contains(b, []byte(s)) {
				return false
			}
		}
		return true
	}, teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
}

// The console inside a real Bubble Tea program (teatest's virtual
// terminal): the relay's messages and the dispatcher's keys go in, the
// screen and the bell come out, and the I/O functions run in the
// program's command goroutines.
func TestConsoleProgram(t *testing.T) {
	fio := &consoleIO{down: granted}
	fio.up = func(r PTTRequest) tea.Msg { return PTTEndedMsg{Seq: r.Seq, Talkgroup: r.Talkgroup} }
	fio.answer = func(a Action) tea.Msg {
		switch a := a.(type) {
		case ActQueryUnits:
			return UnitsMsg{Units: testUnits()}
		case ActEmergencies:
			return EmergenciesMsg{}
		case ActAck:
			return ActionResult{Action: a, Text: fmt.Sprintf("emergency of unit %d acknowledged", a.Unit)}
		}
		return nil
	}
	m := NewConsole(fio.config(ConsoleConfig{Unit: 900, Alias: "Disp-1"}))
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(120, 30))
	wait := func(subs ...string) { t.Helper(); waitOutput(t, tm, subs...) }

	tm.Send(ConnState{Up: true})
	tm.Send(WelcomeMsg{Alias: "Disp-1", Talkgroups: testTalkgroups})
	wait("PATCH 100+200")
	tm.Send(taken(100, 101, "Alpha-1", pb.Emergency_EMERGENCY_NONE))
	wait("TALKING Alpha-1")

	tm.Send(AlarmMsg{Alarm: alarm(101, "Alpha-1", pb.EmergencyState_EMERGENCY_RAISED)})
	wait("\a", "[a ack]")
	tm.Type("a")
	wait("acknowledged")

	tm.Type("2")
	wait("Units 5 of 5")
	tm.Type("S")
	wait("STUN Alpha-1")
	tm.Type("y")
	wait("stun unit 101")

	tm.Type(" ")
	wait("ON AIR")
	tm.Send(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*ConsoleModel)

	if final.OnAir() || final.view != viewUnits {
		t.Errorf("final: on air %v, view %d", final.OnAir(), final.view)
	}
	calls := fio.take()
	for _, want := range []any{ActAck{Unit: 101}, ActStun{Unit: 101}, callDown{Seq: 1, Talkgroup: 100}, callUp{Seq: 1, Talkgroup: 100}} {
		if !slices.ContainsFunc(calls, func(c any) bool { return fmt.Sprint(c) == fmt.Sprint(want) }) {
			t.Errorf("calls lack %s: %s", callsText([]any{want}), callsText(calls))
		}
	}
}
