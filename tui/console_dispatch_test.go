package tui

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/varta-ptt/varta/protocol/pb"
)

// The dispatch side of the console: units, map, patches, help and the
// event log. The harness is in console_model_test.go.

// unitRows lists the unit IDs of the units table, top to bottom.
func (ct *consoleTest) unitRows() []uint32 {
	var ids []uint32
	row := regexp.MustCompile(`^[›! ] (\d+) `)
	for _, l := range strings.Split(ct.screen(), "\n") {
		if m := row.FindStringSubmatch(l); m != nil {
			n, _ := strconv.ParseUint(m[1], 10, 32)
			ids = append(ids, uint32(n))
		}
	}
	return ids
}

func TestConsoleUnitsTable(t *testing.T) {
	ct := newConsoleTest(t)
	ct.keys("2")
	ct.wantScreen("Units 0 of 0 · filter all · not loaded yet", "no unit matches")
	ct.do(UnitsMsg{Units: testUnits()})
	ct.clock.advance(4 * time.Second)
	ct.wantScreen("Units 5 of 5 · filter all · updated 4s ago")
	if got, want := ct.unitRows(), []uint32{101, 102, 103, 104, 105}; !slices.Equal(got, want) {
		t.Errorf("rows %v, want %v", got, want)
	}
	for _, c := range []struct{ unit, want string }{
		{"101", "Alpha-1          patrol     available      yes 100               34s   34s"},
		{"102", "Bravo-2          patrol     available      yes 100,200             -   34s"},
		{"104", "Delta-4          patrol     available       -  200                 -     -"},
		{"105", "Echo-5           patrol     STUNNED         -  200"},
	} {
		if l := ct.line(" " + c.unit + "  "); !strings.Contains(l, c.want) {
			t.Errorf("row of %s lacks %q: %q", c.unit, c.want, l)
		}
	}

	// A status change shows at once; a refresh keeps the cursor on its unit.
	ct.do(UnitStatusMsg{Status: &pb.UnitStatusEvent{Unit: 103, Alias: "Charlie-3", Code: "en-route"}})
	ct.keys("j", "j")
	ct.do(UnitsMsg{Units: testUnits()[1:]})
	if l := ct.line("› "); !strings.Contains(l, "103") {
		t.Errorf("cursor left unit 103 on refresh: %q", l)
	}
	ct.wantScreen("Units 4 of 4")
	ct.do(UnitsMsg{Err: errors.New("relay busy")})
	ct.wantScreen("Units 4 of 4", "refresh failed: relay busy", "unit list not refreshed: relay busy")

	// Units in emergency come first, as soon as the alarm arrives.
	ct.do(UnitsMsg{Units: testUnits()})
	ct.do(AlarmMsg{Alarm: alarm(104, "Delta-4", pb.EmergencyState_EMERGENCY_RAISED)})
	if got, want := ct.unitRows(), []uint32{104, 101, 102, 103, 105}; !slices.Equal(got, want) {
		t.Errorf("rows %v, want %v: unit 104 in emergency first", got, want)
	}
	if l := ct.line(" 104 "); !strings.HasPrefix(l, "! 104") {
		t.Errorf("row of the unit in emergency: %q", l)
	}
	ct.do(EmergenciesMsg{})
	if got, want := ct.unitRows(), []uint32{101, 102, 103, 104, 105}; !slices.Equal(got, want) {
		t.Errorf("rows %v, want %v once the emergency is over", got, want)
	}
}

func TestConsoleUnitsSearchAndFilter(t *testing.T) {
	ct := newConsoleTest(t)
	ct.do(UnitsMsg{Units: testUnits()})
	ct.keys("2", "/")
	ct.typeText("bra")
	ct.wantScreen(`Units 1 of 5 · filter all · search "bra"`, "search: bra")
	if got := ct.unitRows(); !slices.Equal(got, []uint32{102}) {
		t.Errorf("search bra: rows %v, want [102]", got)
	}
	ct.keys("enter")
	ct.wantScreen(`search "bra"`)
	ct.keys("c") // acts on the unit found
	ct.wantCalls(ActMessage{Unit: 102, Alert: true})
	ct.keys("/", "esc")
	ct.wantScreen("Units 5 of 5")

	ct.do(AlarmMsg{Alarm: alarm(103, "Charlie-3", pb.EmergencyState_EMERGENCY_RAISED)})
	filters := []struct {
		name  string
		units []uint32
	}{
		{"online", []uint32{103, 101, 102}},
		{"available", []uint32{101, 102}},
		{"in emergency", []uint32{103}},
		{"stunned", []uint32{105}},
		{"all", []uint32{103, 101, 102, 104, 105}},
	}
	for _, f := range filters {
		ct.keys("f")
		ct.wantScreen(fmt.Sprintf("Units %d of 5 · filter %s", len(f.units), f.name))
		if got := ct.unitRows(); !slices.Equal(got, f.units) {
			t.Errorf("filter %s: rows %v, want %v", f.name, got, f.units)
		}
	}
	// F clears both.
	ct.keys("f", "/")
	ct.typeText("patrol")
	ct.keys("enter")
	ct.wantScreen("Units 2 of 5")
	ct.keys("F")
	ct.wantScreen("Units 5 of 5 · filter all")
	ct.notScreen(`search "`)
}

func TestConsoleUnitActions(t *testing.T) {
	clear := []string{"backspace", "backspace", "backspace"}
	tests := []struct {
		name string
		keys []string // keys, with text typed as one string per key
		want []any
		see  string
	}{
		{"message", []string{"m", "meet at the north gate", "enter"},
			[]any{ActMessage{Unit: 101, Text: "meet at the north gate"}}, "message to unit 101 ..."},
		{"message cancelled", []string{"m", "hi", "esc"}, nil, ""},
		{"empty message", []string{"m", "enter"}, nil, ""},
		{"call alert", []string{"c"}, []any{ActMessage{Unit: 101, Alert: true}}, "call alert to unit 101 ..."},
		{"radio check", []string{"r"}, []any{ActCheck{Unit: 101}}, "radio check of unit 101 ..."},
		{"stun", []string{"S", "y"}, []any{ActStun{Unit: 101}}, "stun unit 101 ..."},
		{"stun not confirmed", []string{"S", "n"}, nil, "cancelled: STUN Alpha-1 (101)"},
		{"stun of the next unit", []string{"j", "S", "Y"}, []any{ActStun{Unit: 102}}, ""},
		{"revive", []string{"j", "j", "j", "j", "V", "y"}, []any{ActRevive{Unit: 105}}, "revive unit 105 ..."},
		{"revive not confirmed", []string{"V", "esc"}, nil, "cancelled: Revive Alpha-1 (101)"},
		{"regroup into the transmit talkgroup", []string{"g", "enter"},
			[]any{ActRegroup{Talkgroup: 100, Units: []uint32{101}}}, "regroup [101] into talkgroup 100 ..."},
		{"regroup", append(append([]string{"g"}, clear...), "300", "enter"),
			[]any{ActRegroup{Talkgroup: 300, Units: []uint32{101}}}, ""},
		{"undo regroup", append(append([]string{"g"}, clear...), "-300", "enter"),
			[]any{ActRegroup{Talkgroup: 300, Units: []uint32{101}, Undo: true}}, "undo regroup of [101] from talkgroup 300 ..."},
		{"regroup into nothing", append(append([]string{"g"}, clear...), "abc", "enter"),
			nil, `regroup: "abc" is not a talkgroup number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := newConsoleTest(t)
			ct.io.down = granted
			ct.do(UnitsMsg{Units: testUnits()})
			ct.keys("2")
			for _, k := range tt.keys {
				if len([]rune(k)) > 1 && !slices.Contains([]string{"enter", "esc", "backspace"}, k) {
					ct.typeText(k)
					continue
				}
				ct.keys(k)
			}
			// Space in the prompt typed a space: no push-to-talk.
			ct.wantCalls(tt.want...)
			if tt.see != "" {
				ct.wantScreen(tt.see)
			}
			ct.notScreen("y = yes", "enter: ok")
		})
	}
}

func TestConsoleUnitPromptAndQuestion(t *testing.T) {
	ct := newConsoleTest(t)
	ct.do(UnitsMsg{Units: testUnits()})
	ct.keys("2", "m")
	ct.typeText("on my way")
	if f := ct.footer(); !strings.Contains(f, "message to Alpha-1 (101): on my way") || !strings.Contains(f, "enter: ok  esc: cancel") {
		t.Errorf("prompt line: %q", f)
	}
	ct.keys("esc", "S")
	if f := ct.footer(); !strings.Contains(f, "STUN Alpha-1 (101)? Its radio will be disabled and wiped of keys.  y = yes") {
		t.Errorf("stun question: %q", f)
	}
	ct.keys("n", "g")
	if f := ct.footer(); !strings.Contains(f, "regroup Alpha-1 (101) into talkgroup (-N undoes): 100") {
		t.Errorf("regroup prompt: %q", f)
	}
}

func TestConsoleUnitActionResults(t *testing.T) {
	ct := newConsoleTest(t)
	ct.do(UnitsMsg{Units: testUnits()})
	ct.keys("2")
	// Stun, revive and regroup change the table: it is asked for at once.
	ct.do(ActionResult{Action: ActStun{Unit: 101}, Text: "unit 101 stunned"})
	ct.wantCalls(ActQueryUnits{})
	ct.wantScreen("unit 101 stunned")
	ct.do(ActionResult{Action: ActCheck{Unit: 101}})
	ct.wantCalls()
	ct.wantScreen("done: radio check of unit 101")
	ct.do(ActionResult{Action: ActStun{Unit: 102}, Err: errors.New("unit 102 is a dispatcher (only radios can be stunned)")})
	ct.wantCalls()
	ct.wantScreen("stun unit 102 failed: unit 102 is a dispatcher (only radios can be stunned)")

	// No action while the relay is away.
	ct.do(ConnState{Err: "timeout"})
	ct.keys("r", "S", "y")
	ct.wantCalls()
	ct.wantScreen("cannot radio check of unit 101: not connected to the relay", "cannot stun unit 101: not connected to the relay")
}

func TestConsoleRosterPoll(t *testing.T) {
	ct := newConsoleTest(t)
	ct.io.answer = func(a Action) tea.Msg {
		if _, ok := a.(ActQueryUnits); ok {
			return UnitsMsg{Units: testUnits()}
		}
		return nil
	}
	ct.do(UnitsMsg{Units: testUnits()[:1]}) // answers the poll on connect
	ct.clock.advance(time.Second)
	ct.do(consoleTickMsg(ct.clock.now()))
	ct.wantCalls()
	ct.clock.advance(time.Second)
	ct.do(consoleTickMsg(ct.clock.now()))
	ct.wantCalls(ActQueryUnits{})
	ct.keys("2")
	ct.wantScreen("Units 5 of 5")
}

func TestConsoleMap(t *testing.T) {
	ct := newConsoleTest(t)
	ct.keys("3")
	ct.wantScreen("No unit has reported a location yet", "Press / to centre the map")
	ct.do(UnitsMsg{Units: testUnits()})
	// Centred on the first unit until the dispatcher chooses.
	ct.wantScreen("Map around 52.52000,13.40500", "A Alpha-1", "A Bravo-2", "B Charlie-3", "Nearest available", "press n to look")
	ct.notScreen("Delta-4", "Echo-5")
	ct.keys("n")
	ct.wantCalls(ActNearest{Lat: 52.52, Lon: 13.405, Count: 5})

	ct.keys("/")
	ct.typeText("52.52,13.405")
	ct.keys("enter")
	ct.wantCalls(ActNearest{Lat: 52.52, Lon: 13.405, Count: 5})
	ct.wantScreen("Map around 52.52000,13.40500")
	ct.do(NearestMsg{Lat: 52.52, Lon: 13.405, Units: []*pb.UnitInfo{
		{Unit: 102, Alias: "Bravo-2", Online: true, Status: "available", Position: &pb.Position{Lat: 52.53, Lon: 13.42}, DistanceM: 1234},
		{Unit: 101, Alias: "Alpha-1", Online: true, Status: "available", Position: &pb.Position{Lat: 52.52, Lon: 13.405}},
	}})
	ct.wantScreen("Nearest available", "1 Bravo-2 (102)", "1.2 km", "NE", "2 Alpha-1 (101)", "0 m")
	ct.wantOrder("1 Bravo-2 (102)", "2 Alpha-1 (101)")
	if l := ct.line("1 Bravo-2 (102)"); !regexp.MustCompile(`1 Bravo-2 \(102\)\s+1\.2 km\s+NE`).MatchString(l) {
		t.Errorf("nearest line: %q", l)
	}

	for _, bad := range []struct{ in, want string }{
		{"abc", `map: "abc": want LAT,LON, e.g. 52.52,13.405`},
		{"95,13", `map: "95": latitude must be a number from -90 to 90`},
		{"52,x", `map: "x": longitude must be a number from -180 to 180`},
	} {
		ct.keys("/")
		ct.typeText(bad.in)
		ct.keys("enter")
		ct.wantCalls()
		ct.wantScreen(bad.want, "Map around 52.52000,13.40500")
	}

	ct.do(NearestMsg{Lat: 52.52, Lon: 13.405})
	ct.wantScreen("none with a fresh fix", "no available unit with a fresh position near 52.52000,13.40500")
	ct.do(NearestMsg{Err: errors.New("relay busy")})
	ct.wantScreen("nearest units: relay busy")
}

// perCell reads the map's scale from its header.
func (ct *consoleTest) perCell() float64 {
	ct.t.Helper()
	m := regexp.MustCompile(`· ([0-9.]+) (m|km) per cell`).FindStringSubmatch(ct.screen())
	if m == nil {
		ct.t.Fatalf("no scale on the map:\n%s", ct.screen())
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	if m[2] == "km" {
		v *= 1000
	}
	return v
}

// centreLon reads the map centre's longitude from its header.
func (ct *consoleTest) centreLon() float64 {
	ct.t.Helper()
	m := regexp.MustCompile(`Map around -?[0-9.]+,(-?[0-9.]+)`).FindStringSubmatch(ct.screen())
	if m == nil {
		ct.t.Fatalf("no centre on the map:\n%s", ct.screen())
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

func TestConsoleMapZoomAndPan(t *testing.T) {
	ct := newConsoleTest(t)
	ct.do(UnitsMsg{Units: testUnits()})
	ct.keys("3")
	fit := ct.perCell()
	ct.keys("+")
	in := ct.perCell()
	ct.keys("-", "-")
	out := ct.perCell()
	if !(in < fit && out > fit) {
		t.Errorf("scale: fit %v m, + %v m, - - %v m per cell", fit, in, out)
	}
	ct.keys("f")
	if got := ct.perCell(); got != fit {
		t.Errorf("f: %v m per cell, want %v", got, fit)
	}

	lon := ct.centreLon()
	ct.keys("right")
	if got := ct.centreLon(); !(got > lon) {
		t.Errorf("right: centre longitude %v, was %v", got, lon)
	}
	ct.keys("left", "left")
	if got := ct.centreLon(); !(got < lon) {
		t.Errorf("left: centre longitude %v, was %v", got, lon)
	}
}

func TestConsoleMapEmergencyAndUnit(t *testing.T) {
	ct := newConsoleTest(t)
	ct.do(UnitsMsg{Units: testUnits()})
	a := alarm(103, "Charlie-3", pb.EmergencyState_EMERGENCY_RAISED)
	a.Position = &pb.Position{Lat: 52.51, Lon: 13.39}
	ct.do(AlarmMsg{Alarm: a})
	ct.keys("3")
	// The emergency centres the map, and shows as '!'.
	ct.wantCalls(ActNearest{Lat: 52.51, Lon: 13.39, Count: 5})
	ct.wantScreen("Map around Charlie-3 (103)", "! Charlie-3")
	ct.notScreen("B Charlie-3")

	// enter on a unit shows it on the map.
	ct.keys("2", "home", "j", "enter")
	ct.wantCalls(ActNearest{Lat: 52.52, Lon: 13.405, Count: 5})
	ct.wantScreen("Map around Alpha-1 (101)")
	ct.keys("2", "home", "j", "j", "j", "enter")
	ct.wantCalls()
	ct.wantScreen("no fresh location for Delta-4 (104)")
	// e goes back to the emergency.
	ct.keys("1", "e")
	ct.wantCalls(ActNearest{Lat: 52.51, Lon: 13.39, Count: 5})
	ct.wantScreen("Map around Charlie-3 (103)")
}

func TestConsolePatches(t *testing.T) {
	ct := newConsoleTest(t)
	ct.keys("j", "s", "p")
	if f := ct.footer(); !strings.Contains(f, "patch talkgroups: 100,200") {
		t.Errorf("patch prompt: %q", f)
	}
	ct.keys("enter")
	ct.wantCalls(ActPatch{Talkgroups: []uint32{100, 200}})
	ct.wantScreen("patch talkgroups 100+200 ...")

	// Without a multiselect, the talkgroup under the cursor is offered.
	ct.keys("s", "j", "p")
	if f := ct.footer(); !strings.Contains(f, "patch talkgroups: 100,300") {
		t.Errorf("patch prompt: %q", f)
	}
	ct.keys("esc")

	for _, bad := range []struct{ in, want string }{
		{"100", "patch: name at least two talkgroups, e.g. 100,200"},
		{"100,abc", `patch: "abc" is not a talkgroup number (1-65535)`},
		{"100,70000", `patch: "70000" is not a talkgroup number (1-65535)`},
	} {
		ct.keys("p")
		for range 10 {
			ct.keys("backspace")
		}
		ct.typeText(bad.in)
		ct.keys("enter")
		ct.wantCalls()
		ct.wantScreen(bad.want)
	}

	ct.keys("end", "u")
	if f := ct.footer(); !strings.Contains(f, "Dissolve patch 65535") {
		t.Errorf("unpatch question: %q", f)
	}
	ct.keys("y")
	ct.wantCalls(ActUnpatch{Patch: 65535})
	ct.wantScreen("dissolve patch 65535 ...")
	ct.keys("end", "u", "n")
	ct.wantCalls()

	ct.keys("home", "u")
	ct.wantCalls()
	ct.wantScreen("tg 100 Patrol North is not a patch")
	ct.notScreen("y = yes")
}

func TestConsoleTalkgroupMessage(t *testing.T) {
	ct := newConsoleTest(t)
	ct.keys("j", "M")
	ct.typeText("all units: road closed")
	ct.keys("enter")
	ct.wantCalls(ActMessage{Talkgroup: 200, Text: "all units: road closed"})
	ct.wantScreen("message to talkgroup 200 ...")
}

func TestConsoleHelp(t *testing.T) {
	sections := []string{"Everywhere", "Talkgroups", "Units", "Map", "Event log"}
	keys := []string{"push-to-talk", "monitor", "volume", "multiselect", "replay", "dissolve", "search", "stun", "revive",
		"regroup", "LAT,LON", "zoom", "pgup/pgdown"}
	for _, size := range []struct{ w, h int }{{160, 40}, {80, 24}} {
		t.Run(fmt.Sprintf("%dx%d", size.w, size.h), func(t *testing.T) {
			ct := newConsoleTest(t)
			ct.send(tea.WindowSizeMsg{Width: size.w, Height: size.h})
			ct.keys("?")
			// What the help showed, scrolled to its end if it is longer
			// than the screen.
			seen := map[string]bool{}
			for range len(consoleHelp) {
				for _, l := range strings.Split(ct.screen(), "\n") {
					seen[strings.TrimSpace(l)] = true
					for _, k := range keys {
						if strings.Contains(l, k) {
							seen[k] = true
						}
					}
				}
				ct.keys("down")
			}
			for _, s := range append(sections, keys...) {
				if !seen[s] {
					t.Errorf("help never shows %q", s)
				}
			}
			ct.keys("esc")
			ct.notScreen("Everywhere")
			ct.keys("?", "?")
			ct.notScreen("Everywhere")
			ct.wantCalls()
		})
	}
}

func TestConsoleEventLog(t *testing.T) {
	ct := newConsoleTest(t)
	for i := range 60 {
		ct.do(EventMsg{Text: fmt.Sprintf("event %02d", i+1)})
	}
	// The last events show under every view.
	ct.wantScreen("event 60", "event 57")
	ct.keys("4")
	ct.wantScreen("Event log: 61 lines", "event 26", "event 60")
	ct.notScreen("event 25", "newer below")

	steps := []struct {
		key         string
		first, last string // the oldest and newest lines shown
		newer       string
	}{
		{"up", "event 25", "event 59", "1 newer below"},
		{"k", "event 24", "event 58", "2 newer below"},
		{"pgup", "connected to the relay", "event 24", "36 newer below"},
		{"down", "connected to the relay", "event 25", "35 newer below"},
		{"end", "event 26", "event 60", ""},
		{"home", "connected to the relay", "connected to the relay", "60 newer below"},
		{"pgdown", "connected to the relay", "event 34", "26 newer below"},
	}
	for _, s := range steps {
		ct.keys(s.key)
		lines := strings.Split(ct.screen(), "\n")
		var shown []string
		for _, l := range lines[4 : len(lines)-1] { // under the log's header
			if l = strings.TrimSpace(l); l != "" {
				shown = append(shown, l)
			}
		}
		if len(shown) == 0 || !strings.HasSuffix(shown[0], s.first) || !strings.HasSuffix(shown[len(shown)-1], s.last) {
			t.Errorf("after %s: log shows %q, want %q .. %q:\n%s", s.key, shown, s.first, s.last, ct.screen())
		}
		if s.newer != "" {
			ct.wantScreen(s.newer)
		} else {
			ct.notScreen("newer below")
		}
	}
	// Scrolled back, the view stays still as lines arrive.
	ct.keys("end", "up")
	ct.do(EventMsg{Text: "event 61"})
	ct.wantScreen("event 59", "2 newer below")
	ct.notScreen("event 61")
	ct.keys("end")
	ct.wantScreen("event 61")

	// The log keeps cfg.Events lines.
	for i := range 1000 {
		ct.do(EventMsg{Text: fmt.Sprintf("more %d", i)})
	}
	ct.wantScreen("Event log: 1000 lines")
}

// A private call from the units table: the console asks for it, and once
// the relay lists the call's talkgroup, space talks on it alone; u on its
// row ends it after a question.
func TestConsolePrivateCall(t *testing.T) {
	ct := newConsoleTest(t)
	ct.io.down = granted
	ct.keys("s") // 100 is TX; multiselect 100 is refused, so select 300
	ct.keys("j", "j", "s")
	ct.wantScreen("TX 100 Patrol North +300")
	ct.keys("2")
	ct.do(UnitsMsg{Units: testUnits()})
	ct.keys("P")
	ct.wantCalls(ActPrivateCall{Unit: 101})
	ct.wantScreen("private call to unit 101 ...")

	// The answer comes before the relay lists the talkgroup.
	ct.do(ActionResult{Action: ActPrivateCall{Unit: 101}, Talkgroup: 59000, Text: "private call with unit 101 on talkgroup 59000"})
	ct.wantScreen("TX 100 Patrol North +300")
	ct.do(TalkgroupsMsg{Talkgroups: append(slices.Clone(testTalkgroups), Talkgroup{ID: 59000, Name: "call:900,101"}), Reason: "private call"})
	ct.wantScreen("TX 59000 call:900,101", "transmit on tg 59000 call:900,101 (private call)")
	ct.keys("1")
	ct.wantOrder("100 Patrol North", "300 Traffic", "59000 CALL 900↔101", "65535 PATCH 100+200")
	ct.io.take()
	ct.keys("space")
	ct.wantCalls(callDown{Seq: 1, Talkgroup: 59000})
	ct.keys("space")
	ct.io.take()

	ct.keys("end", "k", "u")
	if f := ct.footer(); !strings.Contains(f, "End the private call 59000 call:900,101?") {
		t.Errorf("end-call question: %q", f)
	}
	ct.keys("y")
	ct.wantCalls(ActEndCall{Talkgroup: 59000})
	// When the call's talkgroup goes, space talks on the first talkgroup.
	ct.do(TalkgroupsMsg{Talkgroups: testTalkgroups})
	ct.wantScreen("TX 100 Patrol North")
}

// The roster is fetched every 2 s for up to 1,000 units, less often for a
// larger agency (here 3,000 units: every 6 s).
func TestConsolePollsLargeRosterLessOften(t *testing.T) {
	ct := newConsoleTest(t)
	var units []*pb.UnitInfo
	for i := range 3000 {
		units = append(units, &pb.UnitInfo{Unit: uint32(1000 + i), Alias: fmt.Sprintf("U-%d", i)})
	}
	ct.io.answer = func(a Action) tea.Msg {
		if _, ok := a.(ActQueryUnits); ok {
			return UnitsMsg{Units: units}
		}
		return nil
	}
	ct.do(UnitsMsg{Units: testUnits()}) // the answer to the poll on connect
	polls := func() int {
		n := 0
		for _, c := range ct.io.take() {
			if _, ok := c.(ActQueryUnits); ok {
				n++
			}
		}
		return n
	}
	tick := func(d time.Duration) int {
		ct.clock.advance(d)
		ct.do(consoleTickMsg(ct.clock.now()))
		return polls()
	}
	if n := tick(2 * time.Second); n != 1 {
		t.Fatalf("%d polls 2 s after connecting with 5 units, want 1", n)
	}
	ct.wantScreen("TX 100") // still responsive
	for i, want := range []int{0, 0, 1} {
		if n := tick(2 * time.Second); n != want {
			t.Fatalf("%d polls %d s after the 3,000-unit roster arrived, want %d", n, 2*(i+1), want)
		}
	}
}
