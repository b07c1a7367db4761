package tui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/varta-ptt/varta/protocol/pb"
)

// The console under load: a large agency's 1,000 units and 50
// talkgroups. Speed is measured by the benchmarks, never asserted.

// bigUnits is a large agency's roster: 1,000 units within some 10 km of
// Berlin's centre, in every state.
func bigUnits() []*pb.UnitInfo {
	statuses := []string{"available", "busy", "en-route", "on-scene", "out-of-service"}
	fix := testStart.Add(-time.Minute).UnixMilli()
	us := make([]*pb.UnitInfo, 1000)
	for i := range us {
		us[i] = &pb.UnitInfo{
			Unit: uint32(1000 + i), Alias: fmt.Sprintf("Unit-%04d", 1000+i), Role: []string{"patrol", "traffic", "k9"}[i%3],
			Talkgroups: []uint32{uint32(100 + i%50), uint32(100 + (i+7)%50)}, Online: i%7 != 0, Status: statuses[i%len(statuses)],
			Stunned: i%97 == 0, LastHeardMs: fix,
			Position: &pb.Position{Lat: 52.52 + float64(i%40-20)*0.004, Lon: 13.405 + float64(i/40-12)*0.006, TimeMs: fix},
		}
	}
	return us
}

// bigConsole is the console of a large agency on a w×h terminal: 50
// talkgroups and a patch, 1,000 units, five emergencies, talkers, recalls,
// a nearest-units list and a full event log.
func bigConsole(tb testing.TB, w, h int) *consoleTest {
	tb.Helper()
	ct := newConsoleTest(tb)
	tgs := []Talkgroup{{ID: 65535, Name: "patch:100,101,102"}}
	for i := range 50 {
		tgs = append(tgs, Talkgroup{ID: uint32(100 + i), Name: fmt.Sprintf("District %02d Operations Channel", i+1)})
	}
	ct.do(TalkgroupsMsg{Talkgroups: tgs})
	units := bigUnits()
	ct.do(UnitsMsg{Units: units})
	for i := range 5 {
		u := units[i*100+3]
		a := alarm(u.Unit, u.Alias, pb.EmergencyState_EMERGENCY_RAISED)
		a.Position, a.RaisedMs = u.Position, a.RaisedMs+int64(i)
		ct.do(AlarmMsg{Alarm: a})
	}
	for i := range 10 {
		ct.do(taken(uint32(100+i*3), units[i].Unit, units[i].Alias, pb.Emergency(i%2)))
		ct.do(RecallMsg{ID: uint64(i + 1), Talkgroup: 100, Unit: units[i].Unit, Alias: units[i].Alias,
			At: testStart.Add(time.Duration(i) * time.Second), Duration: time.Second})
	}
	ct.do(KeyState{Talkgroup: 101, Have: false})
	ct.do(AudioStatus{Capture: true, Why: "no audio playback device: this machine has no sound card"})
	for i := range 1000 {
		ct.do(EventMsg{Text: fmt.Sprintf("event %d: %s", i, strings.Repeat("words ", i%40))})
	}
	// A radio's text may hold anything.
	ct.do(TextMsg{Message: &pb.TextMessage{From: 1001, FromAlias: "Unit-1001", Text: "two\nlines\tand a\x1b[2J clear-screen"}})
	ct.keys("3", "/")
	ct.typeText("52.52,13.405")
	ct.keys("enter")
	ct.do(NearestMsg{Lat: 52.52, Lon: 13.405, Units: units[:5]})
	ct.keys("1")
	ct.send(tea.WindowSizeMsg{Width: w, Height: h})
	ct.io.take()
	return ct
}

// The screen fits the terminal exactly in every view, with the footer on
// the last line, however much there is to show.
func TestConsoleScreenFits(t *testing.T) {
	views := []struct {
		name   string
		keys   []string
		footer string // on the last line
	}{
		{"talkgroups", []string{"1"}, "move"},
		{"units", []string{"2"}, "search"},
		{"units scrolled", []string{"2", "pgdown", "pgdown", "j"}, "search"},
		{"map", []string{"3"}, "LAT,LON"},
		{"map zoomed out", []string{"3", "-", "-", "-", "-"}, "LAT,LON"},
		{"log", []string{"4"}, "scroll"},
		{"log scrolled", []string{"4", "pgup"}, "scroll"},
		{"help", []string{"?"}, "help"},
		{"prompt", []string{"2", "/"}, "search:"},
		{"question", []string{"2", "S"}, "STUN"},
		{"on air", []string{"space"}, "move"},
	}
	for _, size := range []struct{ w, h int }{{80, 24}, {200, 60}} {
		for _, v := range views {
			t.Run(fmt.Sprintf("%dx%d %s", size.w, size.h, v.name), func(t *testing.T) {
				ct := bigConsole(t, size.w, size.h)
				ct.io.down = granted
				ct.keys(v.keys...)
				lines := strings.Split(ct.screen(), "\n")
				if len(lines) != size.h {
					t.Errorf("%d lines, want %d:\n%s", len(lines), size.h, ct.screen())
				}
				for i, l := range lines {
					if w := ansi.StringWidth(l); w > size.w {
						t.Errorf("line %d is %d cells wide: %q", i, w, l)
					}
				}
				if !strings.Contains(lines[0], "VARTA CONSOLE") || !strings.Contains(lines[1], "5 EMERGENCY") {
					t.Errorf("header lines: %q, %q", lines[0], lines[1])
				}
				if last := lines[len(lines)-1]; !strings.Contains(last, v.footer) {
					t.Errorf("last line %q, want the footer with %q:\n%s", last, v.footer, ct.screen())
				}
			})
		}
	}
}

// BenchmarkConsoleView renders each view of a large agency's console on a
// 200x60 terminal.
func BenchmarkConsoleView(b *testing.B) {
	for _, v := range []struct{ name, key string }{
		{"talkgroups", "1"}, {"units", "2"}, {"map", "3"}, {"log", "4"}, {"help", "?"},
	} {
		b.Run(v.name, func(b *testing.B) {
			ct := bigConsole(b, 200, 60)
			ct.keys(v.key)
			b.ReportAllocs()
			for b.Loop() {
				_ = ct.m.View()
			}
		})
	}
}

// BenchmarkConsoleUpdate takes in a roster of 1,000 units (the poll every
// 2 s), and a cursor key in the units table.
func BenchmarkConsoleUpdate(b *testing.B) {
	b.Run("units", func(b *testing.B) {
		ct := bigConsole(b, 200, 60)
		ct.keys("2")
		msg := UnitsMsg{Units: bigUnits()}
		b.ReportAllocs()
		for b.Loop() {
			ct.m.Update(msg)
		}
	})
	b.Run("key", func(b *testing.B) {
		ct := bigConsole(b, 200, 60)
		ct.keys("2")
		down, up := consoleKey("j"), consoleKey("k")
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if i%2 == 0 {
				ct.m.Update(down)
			} else {
				ct.m.Update(up)
			}
		}
	})
}

// Keys typed faster than the screen redraws are all handled, in order,
// while the roster is refreshed underneath: 300 keys over a console of
// 1,000 units and 50 talkgroups.
func TestConsoleProgramNoDroppedKeys(t *testing.T) {
	fio := &consoleIO{answer: func(a Action) tea.Msg {
		if _, ok := a.(ActQueryUnits); ok {
			return UnitsMsg{Units: bigUnits()}
		}
		return nil
	}}
	m := NewConsole(fio.config(ConsoleConfig{Unit: 900, Alias: "Disp-1", Poll: 20 * time.Millisecond}))
	tgs := make([]Talkgroup, 50)
	for i := range tgs {
		tgs[i] = Talkgroup{ID: uint32(100 + i), Name: fmt.Sprintf("District %02d", i+1)}
	}
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(120, 40))
	tm.Send(WelcomeMsg{Alias: "Disp-1", Talkgroups: tgs})
	tm.Send(UnitsMsg{Units: bigUnits()})
	tm.Send(ConnState{Up: true}) // polls from now on

	// Down two, up one: the cursor never meets an end, so each key counts.
	keys := "2" + strings.Repeat("jjk", 40) + // units: +40
		"1" + strings.Repeat("jjk", 30) + // talkgroups: +30
		"342" + strings.Repeat("jjk", 28) + // units: +28
		"2"
	if len(keys) != 300 {
		t.Fatalf("%d keys", len(keys))
	}
	tm.Type(keys)
	tm.Send(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	final := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(*ConsoleModel)

	if final.view != viewUnits {
		t.Errorf("final view %s, want Units", viewNames[final.view])
	}
	if u := final.selectedUnit(); u == nil || u.Unit != 1000+68 {
		t.Errorf("selected unit %v, want 1068 (68 rows down)", u)
	}
	if tg := final.tgs[final.tgCur].ID; tg != 130 {
		t.Errorf("talkgroup cursor on %d, want 130 (30 rows down)", tg)
	}
	if l := lineWith(ansi.Strip(final.View().Content), "› "); !strings.Contains(l, "1068") {
		t.Errorf("cursor row %q, want unit 1068", l)
	}
}

// lineWith returns the first line of s that contains sub.
func lineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}
