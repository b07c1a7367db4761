package tui

// Emergencies and messages on the console. The harness is in
// console_model_test.go.

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/varta-ptt/varta/protocol/pb"
)

func TestConsoleEmergency(t *testing.T) {
	ct := newConsoleTest(t)
	raised := alarm(101, "Alpha-1", pb.EmergencyState_EMERGENCY_RAISED)
	msgs := ct.do(AlarmMsg{Alarm: raised})
	if bells(msgs) != 1 {
		t.Errorf("a raised emergency rang %d bells, want 1 (messages %v)", bells(msgs), msgs)
	}
	ct.wantScreen("!! EMERGENCY Alpha-1 (101) [a ack] [x clear] [e map] tg 100 Patrol North at 52.52000,13.40500 raised 5s ago",
		" 1 EMERGENCY ", "EMERGENCY: Alpha-1 (101) on tg 100 Patrol North at 52.52000,13.40500")
	if l := ct.row("100 Patrol North"); !strings.Contains(l, "EMERG") {
		t.Errorf("the talkgroup's row is not flagged: %q", l)
	}
	// The same alarm again (a refresh) does not ring again.
	if msgs := ct.do(AlarmMsg{Alarm: raised}); bells(msgs) != 0 {
		t.Errorf("a repeated alarm rang the bell")
	}

	ct.keys("a")
	ct.wantCalls(ActAck{Unit: 101})
	ct.wantScreen("acknowledge the emergency of unit 101 ...")
	ack := alarm(101, "Alpha-1", pb.EmergencyState_EMERGENCY_ACKNOWLEDGED)
	ack.By, ack.ByAlias = 900, "Disp-1"
	if msgs := ct.do(AlarmMsg{Alarm: ack}); bells(msgs) != 0 {
		t.Errorf("an acknowledgement rang the bell")
	}
	ct.wantScreen("!! EMERGENCY Alpha-1 (101) ACKNOWLEDGED by Disp-1 (900) [x clear]", " 1 EMERGENCY ")
	ct.notScreen("[a ack]")
	ct.keys("a")
	ct.wantCalls()
	ct.wantScreen("no emergency waiting for acknowledgement")

	ct.keys("x")
	if f := ct.footer(); !strings.Contains(f, "Clear the emergency of Alpha-1 (101)?  y = yes, any other key = no") {
		t.Errorf("x asks no question: %q", f)
	}
	ct.keys("n")
	ct.wantCalls()
	ct.wantScreen("cancelled: Clear the emergency of Alpha-1 (101)")
	ct.notScreen("y = yes")
	ct.keys("x", "y")
	ct.wantCalls(ActClear{Unit: 101})

	// The relay answers; the console asks for the emergencies again.
	ct.do(ActionResult{Action: ActClear{Unit: 101}, Text: "emergency of unit 101 cleared"})
	ct.wantCalls(ActEmergencies{})
	cleared := alarm(101, "Alpha-1", pb.EmergencyState_EMERGENCY_CLEARED)
	cleared.By, cleared.ByAlias = 900, "Disp-1"
	ct.do(AlarmMsg{Alarm: cleared})
	ct.wantScreen("emergency of Alpha-1 (101) cleared by Disp-1 (900)")
	ct.notScreen("!! EMERGENCY", " 1 EMERGENCY ", "EMERG ")
	ct.keys("x")
	ct.notScreen("y = yes")
}

func TestConsoleEmergencyList(t *testing.T) {
	ct := newConsoleTest(t)
	ct.do(AlarmMsg{Alarm: alarm(101, "Alpha-1", pb.EmergencyState_EMERGENCY_RAISED)})
	bravo := alarm(102, "Bravo-2", pb.EmergencyState_EMERGENCY_RAISED)
	bravo.RaisedMs++
	ct.do(AlarmMsg{Alarm: bravo})
	ct.wantScreen(" 2 EMERGENCY ")
	ct.wantOrder("!! EMERGENCY Alpha-1 (101)", "!! EMERGENCY Bravo-2 (102)")

	// The list replaces the set: 101 was cleared meanwhile, 103 is new.
	peril := alarm(103, "Charlie-3", pb.EmergencyState_EMERGENCY_RAISED)
	peril.Level, peril.Position, peril.Talkgroup = pb.Emergency_EMERGENCY_IMMINENT_PERIL, nil, 300
	peril.RaisedMs += 10
	msgs := ct.do(EmergenciesMsg{Alarms: []*pb.EmergencyAlarm{bravo, peril}})
	if bells(msgs) != 1 {
		t.Errorf("the list rang %d bells, want 1 for the new alarm", bells(msgs))
	}
	ct.wantScreen(" 2 EMERGENCY ", "!! IMMINENT PERIL Charlie-3 (103) [a ack] [x clear] [e map] tg 300 Traffic no known location")
	ct.notScreen("Alpha-1 (101) [a ack]")
	// a acknowledges the oldest raised one.
	ct.keys("a")
	ct.wantCalls(ActAck{Unit: 102})

	// More than three: the banner says how many more.
	for u := uint32(104); u <= 106; u++ {
		ct.do(AlarmMsg{Alarm: alarm(u, fmt.Sprintf("Unit-%d", u), pb.EmergencyState_EMERGENCY_RAISED)})
	}
	ct.wantScreen(" 5 EMERGENCY ", "... and 2 more emergencies")
	ct.do(EmergenciesMsg{Err: errors.New("relay busy")})
	ct.wantScreen(" 5 EMERGENCY ", "emergency list: relay busy")
	ct.do(EmergenciesMsg{})
	ct.notScreen("!! ", "EMERGENCY ")
}

func TestConsoleTextMessages(t *testing.T) {
	ct := newConsoleTest(t)
	msgs := ct.do(TextMsg{Message: &pb.TextMessage{From: 101, FromAlias: "Alpha-1", Text: "suspect heading\nnorth\x1b[2J"}})
	if bells(msgs) != 1 {
		t.Error("a unit's text message did not ring the bell")
	}
	// Control characters are shown as spaces, never sent to the terminal.
	ct.wantScreen("MESSAGE from Alpha-1 (101): suspect heading north [2J", " 1 NEW MESSAGE: 4 ")
	if v := ct.m.View().Content; strings.Contains(v, "\x1b[2J") || strings.Count(v, "\n") != 39 {
		t.Errorf("the text's control characters reached the screen (%d lines)", strings.Count(v, "\n")+1)
	}
	msgs = ct.do(TextMsg{Message: &pb.TextMessage{From: 102, FromAlias: "Bravo-2", Alert: true}})
	if bells(msgs) != 1 {
		t.Error("a call alert did not ring the bell")
	}
	ct.wantScreen("CALL ALERT from Bravo-2 (102)", " 2 NEW MESSAGES: 4 ")
	ct.do(ReceiptMsg{Receipt: &pb.DeliveryReceipt{Id: 7, Unit: 101, Alias: "Alpha-1"}})
	ct.wantScreen("message 7 delivered to Alpha-1 (101)")
	// Reading the log clears the count; messages stand out there.
	ct.keys("4")
	ct.notScreen("NEW MESSAGE")
	if l := ct.line("MESSAGE from Alpha-1"); !strings.Contains(l, "suspect heading") {
		t.Errorf("log line %q", l)
	}
	if v := ct.m.View().Content; !strings.Contains(v, styleAlert.Render("MESSAGE from Alpha-1 (101): suspect heading north [2J")) {
		t.Error("the message is not in bold in the log")
	}
	ct.do(TextMsg{Message: &pb.TextMessage{From: 101, FromAlias: "Alpha-1", Text: "on scene"}})
	ct.notScreen("NEW MESSAGE") // seen as it arrives
}

// On a narrow terminal the emergency banner takes two lines rather than
// cut off where the unit is; the screen still fits.
func TestConsoleEmergencyBannerNarrow(t *testing.T) {
	ct := newConsoleTest(t)
	a := alarm(101, "Alpha-1", pb.EmergencyState_EMERGENCY_RAISED)
	ct.do(AlarmMsg{Alarm: a})
	ct.wantScreen("!! EMERGENCY Alpha-1 (101) [a ack] [x clear] [e map] tg 100 Patrol North at 52.52000,13.40500")
	ct.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	lines := strings.Split(ct.screen(), "\n")
	if len(lines) != 24 {
		t.Fatalf("%d lines on a 24-line terminal", len(lines))
	}
	if !strings.HasPrefix(lines[2], "!! EMERGENCY Alpha-1 (101) [a ack]") || !strings.HasPrefix(lines[3], "   at 52.52000,13.40500") {
		t.Errorf("banner lines:\n%s\n%s", lines[2], lines[3])
	}
}
