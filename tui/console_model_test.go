package tui

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/varta-ptt/varta/protocol/pb"
)

// What the console's I/O functions were asked, as recorded by consoleIO.
// Act's calls are recorded as the Action itself and SetGain's as the
// TalkgroupGain.
type (
	callDown   PTTRequest
	callUp     PTTRequest
	callReplay uint64
	callSave   uint64
)

// consoleIO records the calls of the console's I/O functions, in order.
// The model must never make them itself: only the commands it returns do.
type consoleIO struct {
	mu    sync.Mutex
	calls []any
	n     int // calls ever made
	// What PTTDown, PTTUp and Act answer; nil answers nil.
	down   func(PTTRequest) tea.Msg
	up     func(PTTRequest) tea.Msg
	answer func(Action) tea.Msg
}

func (f *consoleIO) record(c any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
	f.n++
}

func (f *consoleIO) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// take returns the calls recorded since the last take.
func (f *consoleIO) take() []any {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

func (f *consoleIO) config(cfg ConsoleConfig) ConsoleConfig {
	cfg.PTTDown = func(r PTTRequest) tea.Msg {
		f.record(callDown(noAlso(r)))
		if f.down != nil {
			return f.down(r)
		}
		return nil
	}
	cfg.PTTUp = func(r PTTRequest) tea.Msg {
		f.record(callUp(noAlso(r)))
		if f.up != nil {
			return f.up(r)
		}
		return nil
	}
	cfg.Act = func(a Action) tea.Msg {
		f.record(a)
		if f.answer != nil {
			return f.answer(a)
		}
		return nil
	}
	cfg.SetGain = func(g TalkgroupGain) tea.Msg { f.record(g); return nil }
	cfg.Replay = func(id uint64) tea.Msg { f.record(callReplay(id)); return nil }
	cfg.Save = func(id uint64) tea.Msg { f.record(callSave(id)); return nil }
	return cfg
}

// noAlso makes an empty Also nil, for comparisons.
func noAlso(r PTTRequest) PTTRequest {
	if len(r.Also) == 0 {
		r.Also = nil
	}
	return r
}

// consoleTest drives a ConsoleModel through Update, as radioTest drives
// the radio, and checks that Update itself never does I/O.
type consoleTest struct {
	t     testing.TB
	m     *ConsoleModel
	io    *consoleIO
	clock *fakeClock
}

// The talkgroups of the tests: two patrol channels patched together, and
// one more.
var testTalkgroups = []Talkgroup{
	{ID: 100, Name: "Patrol North"},
	{ID: 65535, Name: "patch:100,200"},
	{ID: 200, Name: "Patrol South"},
	{ID: 300, Name: "Traffic"},
}

var testStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// newConsoleTest returns a connected console of dispatcher Disp-1 (900)
// on a 160x40 terminal that knows testTalkgroups; the calls made so far
// are taken.
func newConsoleTest(t testing.TB) *consoleTest {
	t.Helper()
	clock := &fakeClock{t: testStart}
	fio := &consoleIO{}
	m := NewConsole(fio.config(ConsoleConfig{Unit: 900, Alias: "Disp-1", Now: clock.now}))
	// A tick command would sleep; this one answers at once (and exec
	// drops its message).
	m.tickCmd = func() tea.Cmd { return func() tea.Msg { return consoleTickMsg(clock.now()) } }
	ct := &consoleTest{t: t, m: m, io: fio, clock: clock}
	ct.noBlink()
	ct.send(tea.WindowSizeMsg{Width: 160, Height: 40})
	ct.send(ConnState{Up: true})
	ct.do(WelcomeMsg{Alias: "Disp-1", Talkgroups: testTalkgroups, MaxTalk: time.Minute})
	fio.take()
	return ct
}

// noBlink stops the prompt's cursor from blinking: a blink command
// sleeps, and exec runs commands in line.
func (ct *consoleTest) noBlink() {
	s := ct.m.input.Styles()
	s.Cursor.Blink = false
	ct.m.input.SetStyles(s)
}

// send runs Update and returns its command, failing if Update called an
// I/O function by itself.
func (ct *consoleTest) send(msg tea.Msg) tea.Cmd {
	ct.t.Helper()
	before := ct.io.count()
	_, cmd := ct.m.Update(msg)
	if after := ct.io.count(); after != before {
		ct.t.Fatalf("Update(%T) made %d I/O calls itself; they must run only in the returned tea.Cmd", msg, after-before)
	}
	return cmd
}

// exec runs cmd as Bubble Tea would and returns the messages it produced,
// tick messages left out.
func (ct *consoleTest) exec(cmd tea.Cmd) []tea.Msg {
	ct.t.Helper()
	return runCmd(cmd, func(m tea.Msg) bool { _, tick := m.(consoleTickMsg); return tick })
}

// do sends msg, runs the command and feeds what it produced back, as the
// program would. It returns the messages the command produced.
func (ct *consoleTest) do(msg tea.Msg) []tea.Msg {
	ct.t.Helper()
	msgs := ct.exec(ct.send(msg))
	for _, m := range msgs {
		switch m.(type) {
		case tea.QuitMsg, tea.RawMsg:
			continue
		}
		ct.do(m)
	}
	return msgs
}

// keys presses each key in turn ("space", "enter", "up" or one character).
func (ct *consoleTest) keys(ks ...string) {
	ct.t.Helper()
	for _, k := range ks {
		ct.do(consoleKey(k))
	}
}

// typeText types s into the prompt, a key per character.
func (ct *consoleTest) typeText(s string) {
	ct.t.Helper()
	for _, r := range s {
		ct.do(consoleKey(string(r)))
	}
}

// consoleKey is key with the keys the console uses beyond the radio's.
func consoleKey(s string) tea.KeyPressMsg {
	codes := map[string]rune{
		"enter": tea.KeyEnter, "up": tea.KeyUp, "down": tea.KeyDown,
		"pgup": tea.KeyPgUp, "pgdown": tea.KeyPgDown, "home": tea.KeyHome, "end": tea.KeyEnd,
		"backspace": tea.KeyBackspace, "left": tea.KeyLeft, "right": tea.KeyRight,
	}
	if c, ok := codes[s]; ok {
		return tea.KeyPressMsg{Code: c}
	}
	if s == " " {
		return key("space")
	}
	return key(s)
}

// wantCalls checks the I/O calls made since the last check.
func (ct *consoleTest) wantCalls(want ...any) {
	ct.t.Helper()
	got := ct.io.take()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		ct.t.Errorf("I/O calls:\n got %s\nwant %s", callsText(got), callsText(want))
	}
}

func callsText(cs []any) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = fmt.Sprintf("%T%+v", c, c)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// screen is the view's text without styling.
func (ct *consoleTest) screen() string { return ansi.Strip(ct.m.View().Content) }

func (ct *consoleTest) wantScreen(subs ...string) {
	ct.t.Helper()
	wantScreen(ct.t, ct.screen(), subs...)
}

func (ct *consoleTest) notScreen(subs ...string) {
	ct.t.Helper()
	notScreen(ct.t, ct.screen(), subs...)
}

// line returns the first screen line that contains sub.
func (ct *consoleTest) line(sub string) string {
	ct.t.Helper()
	for _, l := range strings.Split(ct.screen(), "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	ct.t.Errorf("no screen line shows %q:\n%s", sub, ct.screen())
	return ""
}

// row returns the talkgroups table's row of a talkgroup ("100 Patrol
// North", "65535 PATCH 100+200").
func (ct *consoleTest) row(name string) string {
	ct.t.Helper()
	re := regexp.MustCompile(`^[› ] (mute| on ) +\d+ (TX| \+|  )  ` + regexp.QuoteMeta(name) + ` `)
	for _, l := range strings.Split(ct.screen(), "\n") {
		if re.MatchString(l) {
			return l
		}
	}
	ct.t.Errorf("no row of talkgroup %q:\n%s", name, ct.screen())
	return ""
}

// wantOrder checks that the subs appear on screen in this order.
func (ct *consoleTest) wantOrder(subs ...string) {
	ct.t.Helper()
	s := ct.screen()
	at := -1
	for _, sub := range subs {
		i := strings.Index(s, sub)
		if i < 0 || i < at {
			ct.t.Errorf("screen does not show %q in order (after the one before):\n%s", subs, s)
			return
		}
		at = i
	}
}

// footer is the screen's last line.
func (ct *consoleTest) footer() string {
	lines := strings.Split(ct.screen(), "\n")
	return lines[len(lines)-1]
}

func taken(tg, unit uint32, alias string, em pb.Emergency) FloorMsg {
	return FloorMsg{Event: &pb.FloorEvent{Kind: pb.FloorEventKind_FLOOR_EVENT_TAKEN, Talkgroup: tg, Talker: unit, TalkerAlias: alias, Emergency: em}}
}

func floorEvent(kind pb.FloorEventKind, tg uint32) FloorMsg {
	return FloorMsg{Event: &pb.FloorEvent{Kind: kind, Talkgroup: tg}}
}

// The units of the tests, around Berlin's centre.
func testUnits() []*pb.UnitInfo {
	fix := testStart.Add(-30 * time.Second).UnixMilli()
	return []*pb.UnitInfo{
		{Unit: 101, Alias: "Alpha-1", Role: "patrol", Talkgroups: []uint32{100}, Online: true, Status: "available",
			Position: &pb.Position{Lat: 52.52, Lon: 13.405, TimeMs: fix}, LastHeardMs: fix},
		{Unit: 102, Alias: "Bravo-2", Role: "patrol", Talkgroups: []uint32{100, 200}, Online: true, Status: "available",
			Position: &pb.Position{Lat: 52.53, Lon: 13.42, TimeMs: fix}},
		{Unit: 103, Alias: "Charlie-3", Role: "traffic", Talkgroups: []uint32{300}, Online: true, Status: "busy",
			Position: &pb.Position{Lat: 52.51, Lon: 13.39, TimeMs: fix}},
		{Unit: 104, Alias: "Delta-4", Role: "patrol", Talkgroups: []uint32{200}, Online: false, Status: "available"},
		{Unit: 105, Alias: "Echo-5", Role: "patrol", Talkgroups: []uint32{200}, Online: false, Stunned: true},
	}
}

func alarm(unit uint32, alias string, state pb.EmergencyState) *pb.EmergencyAlarm {
	return &pb.EmergencyAlarm{Unit: unit, Alias: alias, Level: pb.Emergency_EMERGENCY_EMERGENCY, Talkgroup: 100,
		Position: &pb.Position{Lat: 52.52, Lon: 13.405}, State: state, RaisedMs: testStart.Add(-5 * time.Second).UnixMilli()}
}

// bells counts the terminal bells among msgs.
func bells(msgs []tea.Msg) int {
	n := 0
	for _, m := range msgs {
		if r, ok := m.(tea.RawMsg); ok && r.Msg == "\a" {
			n++
		}
	}
	return n
}

func TestConsoleTalkgroupRows(t *testing.T) {
	clock := &fakeClock{t: testStart}
	fio := &consoleIO{}
	ct := &consoleTest{t: t, io: fio, clock: clock,
		m: NewConsole(fio.config(ConsoleConfig{Unit: 900, Alias: "Disp-1", Now: clock.now}))}
	ct.m.tickCmd = func() tea.Cmd { return nil }
	ct.noBlink()
	ct.send(tea.WindowSizeMsg{Width: 160, Height: 40})
	ct.wantScreen("No talkgroups yet")

	// Every talkgroup is heard at first, as received.
	ct.do(WelcomeMsg{Alias: "Disp-1", Talkgroups: testTalkgroups})
	ct.wantCalls(TalkgroupGain{100, 1}, TalkgroupGain{65535, 1}, TalkgroupGain{200, 1}, TalkgroupGain{300, 1})
	ct.wantOrder("100 Patrol North", "200 Patrol South", "300 Traffic", "65535 PATCH 100+200")
	for _, tg := range []string{"100 Patrol North", "200 Patrol South"} {
		if l := ct.row(tg); !strings.Contains(l, "patched 65535") {
			t.Errorf("patched talkgroup's row lacks %q: %q", "patched 65535", l)
		}
	}
	if l := ct.row("300 Traffic"); strings.Contains(l, "patched") {
		t.Errorf("unpatched talkgroup's row says patched: %q", l)
	}
	// The first talkgroup that is not a patch is the one to talk on.
	ct.wantScreen("TX 100 Patrol North")
	if l := ct.row("100 Patrol North"); !strings.Contains(l, " TX ") {
		t.Errorf("transmit talkgroup's row lacks TX: %q", l)
	}

	// The relay makes another patch and drops talkgroup 300: what the
	// dispatcher set stays, only the new talkgroup gets a gain.
	ct.keys("enter")
	ct.wantCalls(TalkgroupGain{100, 0})
	ct.do(TalkgroupsMsg{Reason: "patch 65534 made", Talkgroups: []Talkgroup{
		{ID: 100, Name: "Patrol North"}, {ID: 200, Name: "Patrol South"}, {ID: 65535, Name: "patch:100,200"}, {ID: 65534, Name: "patch:100,200,300"}}})
	ct.wantCalls(TalkgroupGain{65534, 1})
	ct.wantScreen("talkgroups changed: patch 65534 made", "65534 PATCH 100+200…")
	ct.notScreen("300 Traffic")
	if l := ct.row("100 Patrol North"); !strings.Contains(l, "mute") || !strings.Contains(l, "patched 65534,65535") {
		t.Errorf("row of talkgroup 100 after the change: %q", l)
	}
}

func TestConsoleFloorStates(t *testing.T) {
	tests := []struct {
		name  string
		setup func(ct *consoleTest)
		row   string // the talkgroup row checked
		want  []string
		not   []string
	}{
		{"idle", func(ct *consoleTest) {}, "100 Patrol North", []string{"idle"}, []string{"TALKING", "last"}},
		{"talking", func(ct *consoleTest) {
			ct.do(taken(100, 101, "Alpha-1", pb.Emergency_EMERGENCY_NONE))
			ct.clock.advance(3 * time.Second)
		}, "100 Patrol North", []string{"TALKING Alpha-1 (101) 0:03"}, []string{"EMERGENCY", "idle"}},
		{"emergency call", func(ct *consoleTest) {
			ct.do(taken(200, 102, "Bravo-2", pb.Emergency_EMERGENCY_EMERGENCY))
		}, "200 Patrol South", []string{"EMERGENCY TALKING Bravo-2 (102)"}, nil},
		{"idle after a talker", func(ct *consoleTest) {
			ct.do(taken(100, 101, "Alpha-1", pb.Emergency_EMERGENCY_NONE))
			ct.clock.advance(5 * time.Second)
			ct.do(floorEvent(pb.FloorEventKind_FLOOR_EVENT_IDLE, 100))
			ct.clock.advance(7 * time.Second)
		}, "100 Patrol North", []string{"idle · last Alpha-1 (101) 12s ago"}, []string{"TALKING"}},
		{"call end", func(ct *consoleTest) {
			ct.do(taken(300, 103, "Charlie-3", pb.Emergency_EMERGENCY_NONE))
			ct.do(floorEvent(pb.FloorEventKind_FLOOR_EVENT_CALL_END, 300))
		}, "300 Traffic", []string{"idle · last Charlie-3 (103)"}, []string{"TALKING"}},
		{"audio before the floor event", func(ct *consoleTest) {
			ct.do(TalkerMsg{Talkgroup: 300, Unit: 103, Alias: "Charlie-3", Active: true})
		}, "300 Traffic", []string{"TALKING Charlie-3 (103)"}, nil},
		{"the console itself", func(ct *consoleTest) {
			ct.do(taken(100, 900, "Disp-1", pb.Emergency_EMERGENCY_NONE))
		}, "100 Patrol North", []string{"YOU ARE ON AIR"}, []string{"TALKING"}},
		{"talker lost with the connection", func(ct *consoleTest) {
			ct.do(taken(100, 101, "Alpha-1", pb.Emergency_EMERGENCY_NONE))
			ct.do(ConnState{Err: "timeout"})
		}, "100 Patrol North", []string{"idle"}, []string{"TALKING"}},
		{"no key", func(ct *consoleTest) {
			ct.do(KeyState{Talkgroup: 200, Have: false})
		}, "200 Patrol South", []string{"NO KEY"}, nil},
		{"key", func(ct *consoleTest) {
			ct.do(KeyState{Talkgroup: 200, Have: false})
			ct.do(KeyState{Talkgroup: 200, Have: true, Epoch: 2})
		}, "200 Patrol South", nil, []string{"NO KEY"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := newConsoleTest(t)
			tt.setup(ct)
			l := ct.row(tt.row)
			for _, w := range tt.want {
				if !strings.Contains(l, w) {
					t.Errorf("row lacks %q: %q", w, l)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(l, n) {
					t.Errorf("row shows %q: %q", n, l)
				}
			}
			ct.wantCalls()
		})
	}
}

func TestConsoleMonitorAndVolume(t *testing.T) {
	ct := newConsoleTest(t)
	steps := []struct {
		key  string
		gain float64 // asked of SetGain for talkgroup 100
		row  string  // on talkgroup 100's row: hear and volume
	}{
		{"enter", 0, "mute   5"},
		{"m", 1, " on    5"},
		{"+", 1.2, " on    6"},
		{"-", 1, " on    5"},
		{"-", 0.8, " on    4"},
		{"m", 0, "mute   4"},
		{"+", 0, "mute   5"}, // muted stays muted
		{"enter", 1, " on    5"},
	}
	for _, s := range steps {
		ct.keys(s.key)
		ct.wantCalls(TalkgroupGain{Talkgroup: 100, Gain: s.gain})
		if l := ct.row("100 Patrol North"); !strings.Contains(l, s.row) {
			t.Errorf("after %q: row lacks %q: %q", s.key, s.row, l)
		}
	}
	for range 8 {
		ct.keys("+")
	}
	if calls := ct.io.take(); !reflect.DeepEqual(calls[len(calls)-1], TalkgroupGain{100, 2}) {
		t.Errorf("volume up to the top: last call %s, want gain 2", callsText(calls))
	}
	ct.wantScreen(" on   10")
	// Volume and monitor act on the row under the cursor.
	ct.keys("j", "m")
	ct.wantCalls(TalkgroupGain{200, 0})
}

func TestConsoleTransmitTalkgroups(t *testing.T) {
	ct := newConsoleTest(t)
	ct.io.down = granted
	ct.keys("j", "t")
	ct.wantScreen("TX 200 Patrol South", "transmit on tg 200 Patrol South")
	if l := ct.row("200 Patrol South"); !strings.Contains(l, " TX ") {
		t.Errorf("row lacks TX: %q", l)
	}
	ct.keys("s")
	ct.wantScreen("tg 200 Patrol South is the transmit talkgroup already")
	ct.keys("j", "s")
	ct.wantScreen("TX 200 Patrol South +300", "multiselect: 200 Patrol South +300")
	ct.keys("k", "k", "s")
	ct.wantScreen("TX 200 Patrol South +100 +300")
	ct.keys("s")
	ct.wantScreen("TX 200 Patrol South +300")

	ct.keys("space")
	ct.wantCalls(callDown{Seq: 1, Talkgroup: 200, Also: []uint32{300}})
	ct.wantScreen("ON AIR tg 200 Patrol South +300")
	// The talkgroups cannot change on air.
	ct.keys("j", "t", "j", "s")
	ct.wantScreen("TX 200 Patrol South +300", "release push-to-talk before changing the transmit talkgroup",
		"release push-to-talk before changing the multiselect")
	ct.wantCalls()
}

func TestConsoleToggleTalk(t *testing.T) {
	ct := newConsoleTest(t)
	ct.io.down = granted
	ct.wantScreen("standby: press space to talk, again to stop on tg 100 Patrol North")
	ct.keys("space")
	ct.wantCalls(callDown{Seq: 1, Talkgroup: 100})
	ct.wantScreen("● ON AIR tg 100 Patrol North 0:00 / 1:00")
	ct.do(TxLevel{Level: 0.5})
	ct.clock.advance(300 * time.Millisecond)
	ct.wantScreen("█████░░░░░")

	// A second press within toggleGuard is the key bouncing or repeating.
	ct.keys("space")
	ct.wantCalls()
	ct.clock.advance(toggleGuard)
	ct.wantScreen("ON AIR")
	ct.keys("space")
	ct.wantCalls(callUp{Seq: 1, Talkgroup: 100})
	ct.wantScreen("standby")
	ct.notScreen("ON AIR")

	ct.clock.advance(toggleGuard)
	ct.keys("space")
	ct.wantCalls(callDown{Seq: 2, Talkgroup: 100})
}

func TestConsoleHoldToTalk(t *testing.T) {
	ct := newConsoleTest(t)
	ct.io.down = granted
	ct.do(tea.KeyboardEnhancementsMsg{Flags: ansi.KittyDisambiguateEscapeCodes | ansi.KittyReportEventTypes})
	ct.wantScreen("standby: hold space to talk on tg 100 Patrol North")
	for i := range 2 {
		seq := uint64(i + 1)
		ct.keys("space")
		ct.do(spaceRepeat)
		ct.wantCalls(callDown{Seq: seq, Talkgroup: 100})
		ct.wantScreen("ON AIR")
		ct.do(spaceRelease)
		ct.wantCalls(callUp{Seq: seq, Talkgroup: 100})
		ct.notScreen("ON AIR")
	}
	// Releasing while queued gives up the place in the queue.
	ct.io.down = queued(1)
	ct.keys("space")
	ct.wantScreen("QUEUED #1")
	ct.do(spaceRelease)
	ct.wantCalls(callDown{Seq: 3, Talkgroup: 100}, callUp{Seq: 3, Talkgroup: 100})
	ct.wantScreen("standby")
}

// A terminal that reports a key release without saying so first: the
// release ends the transmission begun in toggle mode, and hold mode
// begins.
func TestConsoleReleaseDetectsHoldMode(t *testing.T) {
	ct := newConsoleTest(t)
	ct.io.down = granted
	ct.keys("space")
	ct.do(spaceRelease)
	ct.wantCalls(callDown{Seq: 1, Talkgroup: 100}, callUp{Seq: 1, Talkgroup: 100})
	ct.wantScreen("standby: hold space to talk", "the terminal reported a key release")
}

func TestConsoleTalkStates(t *testing.T) {
	denied := func(req PTTRequest) tea.Msg {
		return FloorResultMsg{Seq: req.Seq, Talkgroup: req.Talkgroup, Result: &pb.FloorResult{
			Talkgroup: req.Talkgroup, Status: pb.FloorStatus_FLOOR_DENIED, Reason: "an emergency call is in progress"}}
	}
	failed := func(req PTTRequest) tea.Msg {
		return FloorResultMsg{Seq: req.Seq, Talkgroup: req.Talkgroup, Err: errors.New("no answer from the relay")}
	}
	tests := []struct {
		name  string
		down  func(PTTRequest) tea.Msg
		setup func(ct *consoleTest)
		want  []string
		not   []string
	}{
		{"requesting", nil, func(ct *consoleTest) { ct.keys("space") },
			[]string{"requesting the floor on tg 100 Patrol North"}, []string{"ON AIR"}},
		{"granted", granted, func(ct *consoleTest) { ct.keys("space") },
			[]string{"● ON AIR tg 100 Patrol North"}, nil},
		{"granted by the floor event", nil, func(ct *consoleTest) {
			ct.keys("space")
			ct.do(FloorMsg{Event: &pb.FloorEvent{Kind: pb.FloorEventKind_FLOOR_EVENT_GRANTED, Talkgroup: 100, MaxTalkMs: 30000}})
		}, []string{"ON AIR tg 100 Patrol North 0:00 / 0:30"}, nil},
		{"queued", queued(2), func(ct *consoleTest) { ct.keys("space") },
			[]string{"QUEUED #2 on tg 100 Patrol North", "tg 100 Patrol North busy: queued #2"}, []string{"ON AIR"}},
		{"queued then granted", queued(2), func(ct *consoleTest) {
			ct.keys("space")
			ct.do(FloorMsg{Event: &pb.FloorEvent{Kind: pb.FloorEventKind_FLOOR_EVENT_QUEUED, Talkgroup: 100, Position: 1}})
			ct.wantScreen("QUEUED #1")
			ct.do(FloorMsg{Event: &pb.FloorEvent{Kind: pb.FloorEventKind_FLOOR_EVENT_GRANTED, Talkgroup: 100}})
		}, []string{"ON AIR"}, []string{"QUEUED"}},
		{"denied", denied, func(ct *consoleTest) { ct.keys("space") },
			[]string{"DENIED on tg 100 Patrol North: an emergency call is in progress"}, []string{"ON AIR"}},
		{"dropped from the queue", queued(1), func(ct *consoleTest) {
			ct.keys("space")
			ct.do(FloorMsg{Event: &pb.FloorEvent{Kind: pb.FloorEventKind_FLOOR_EVENT_DENIED, Talkgroup: 100, Cause: pb.Cause_CAUSE_QUEUE_TIMEOUT}})
		}, []string{"DENIED on tg 100 Patrol North: waited in the queue too long"}, []string{"QUEUED"}},
		{"revoked", granted, func(ct *consoleTest) {
			ct.keys("space")
			ct.do(FloorMsg{Event: &pb.FloorEvent{Kind: pb.FloorEventKind_FLOOR_EVENT_REVOKED, Talkgroup: 100, Cause: pb.Cause_CAUSE_PREEMPTED}})
		}, []string{"REVOKED on tg 100 Patrol North: a higher-priority call took the floor", "floor revoked on tg 100 Patrol North"}, []string{"ON AIR"}},
		{"revoked on another talkgroup", granted, func(ct *consoleTest) {
			ct.keys("space")
			ct.do(FloorMsg{Event: &pb.FloorEvent{Kind: pb.FloorEventKind_FLOOR_EVENT_REVOKED, Talkgroup: 200, Cause: pb.Cause_CAUSE_PREEMPTED}})
		}, []string{"ON AIR"}, []string{"REVOKED"}},
		{"failed", failed, func(ct *consoleTest) { ct.keys("space") },
			[]string{"CANNOT TALK: no answer from the relay"}, []string{"ON AIR"}},
		{"not connected", granted, func(ct *consoleTest) {
			ct.do(ConnState{Err: "relay unreachable"})
			ct.keys("space")
		}, []string{"CANNOT TALK: not connected to the relay", "OFFLINE", "disconnected: relay unreachable"}, []string{"ON AIR"}},
		{"connection lost on air", granted, func(ct *consoleTest) {
			ct.keys("space")
			ct.do(ConnState{Err: "relay unreachable"})
		}, []string{"CANNOT TALK: the connection to the relay was lost"}, []string{"ON AIR"}},
		{"ended by the relay", granted, func(ct *consoleTest) {
			ct.keys("space")
			ct.do(PTTEndedMsg{Seq: 1, Talkgroup: 100, Reason: "maximum talk time reached"})
		}, []string{"standby", "transmission ended: maximum talk time reached"}, []string{"ON AIR"}},
		{"late answer to an abandoned request", nil, func(ct *consoleTest) {
			ct.keys("space")
			ct.clock.advance(toggleGuard)
			ct.keys("space")
			ct.do(granted(PTTRequest{Seq: 1, Talkgroup: 100}))
		}, []string{"standby"}, []string{"ON AIR"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := newConsoleTest(t)
			ct.io.down = tt.down
			tt.setup(ct)
			ct.wantScreen(tt.want...)
			ct.notScreen(tt.not...)
		})
	}
}

func TestConsoleAudioStatus(t *testing.T) {
	ct := newConsoleTest(t)
	ct.do(AudioStatus{Capture: true, Why: "no audio playback device: this machine has no sound card"})
	if h := strings.SplitN(ct.screen(), "\n", 2)[0]; !strings.Contains(h, "● online  no speaker") {
		t.Errorf("header lacks %q: %q", "no speaker", h)
	}
	ct.wantScreen("audio: no audio playback device: this machine has no sound card")
	ct.do(AudioStatus{Capture: true, Playback: true})
	ct.notScreen("no speaker")
}

func TestConsoleRecall(t *testing.T) {
	ct := newConsoleTest(t)
	ct.keys("r", "w")
	ct.wantCalls()
	ct.wantScreen("Recall tg 100 Patrol North (0 kept)", "nothing heard yet",
		"tg 100 Patrol North: nothing to recall yet", "tg 100 Patrol North: nothing to save yet")

	at := func(s int) time.Time { return testStart.Add(time.Duration(s) * time.Second) }
	ct.do(RecallMsg{ID: 11, Talkgroup: 100, Unit: 101, Alias: "Alpha-1", At: at(1), Duration: 3200 * time.Millisecond})
	ct.do(RecallMsg{ID: 12, Talkgroup: 100, Unit: 102, Alias: "Bravo-2", At: at(10), Duration: 1500 * time.Millisecond, Emergency: true})
	ct.do(RecallMsg{ID: 13, Talkgroup: 100, Unit: 103, Alias: "Charlie-3", At: at(20), Duration: 2 * time.Second, Verified: true})
	ct.do(RecallMsg{ID: 14, Talkgroup: 200, Unit: 104, Alias: "Delta-4", At: at(25), Duration: time.Second})
	ct.wantScreen("Recall tg 100 Patrol North (3 kept)", "1.5 s  unverified EMERGENCY", "2.0 s  signed")
	ct.wantOrder("12:00:20  Charlie-3 (103)", "12:00:10  Bravo-2 (102)", "12:00:01  Alpha-1 (101)")
	ct.notScreen("Delta-4")
	if l := ct.line("Charlie-3 (103)"); !strings.HasPrefix(l, " ›") {
		t.Errorf("the newest is not selected: %q", l)
	}

	ct.keys("r")
	ct.wantCalls(callReplay(13))
	ct.wantScreen("replaying Charlie-3 (103) on tg 100, 12:00:20")
	ct.keys("[")
	if l := ct.line("Bravo-2 (102)"); !strings.HasPrefix(l, " ›") {
		t.Errorf("[ did not select the older one: %q", l)
	}
	ct.keys("r", "w")
	ct.wantCalls(callReplay(12), callSave(12))
	// A new transmission does not move the selection.
	ct.do(RecallMsg{ID: 15, Talkgroup: 100, Unit: 101, Alias: "Alpha-1", At: at(30), Duration: time.Second})
	ct.keys("r", "[", "[", "r", "[", "r", "]", "]", "]", "]", "r", "o")
	ct.wantCalls(callReplay(12), callReplay(11), callReplay(11), callReplay(15), callReplay(0))

	// The recall list follows the cursor.
	ct.keys("j", "r")
	ct.wantCalls(callReplay(14))
	ct.wantScreen("Recall tg 200 Patrol South (1 kept)", "Delta-4 (104)")
}

// More recalls than rows: the selected one stays in sight, and only the
// last recallPerTalkgroup are kept.
func TestConsoleRecallScrolls(t *testing.T) {
	ct := newConsoleTest(t)
	for i := range recallPerTalkgroup + 2 {
		ct.do(RecallMsg{ID: uint64(i + 1), Talkgroup: 100, Unit: 101, Alias: fmt.Sprintf("Unit-%02d", i+1),
			At: testStart.Add(time.Duration(i) * time.Second), Duration: time.Second})
	}
	ct.wantScreen(fmt.Sprintf("(%d kept)", recallPerTalkgroup), "Unit-12")
	for range recallPerTalkgroup + 2 {
		ct.keys("[")
	}
	if l := ct.line("Unit-03"); !strings.HasPrefix(l, " ›") {
		t.Errorf("the oldest kept is not selected: %q", l)
	}
	ct.notScreen("Unit-02", "Unit-12")
	ct.keys("r")
	ct.wantCalls(callReplay(3))
}

func TestConsoleQuit(t *testing.T) {
	quits := func(msgs []tea.Msg) bool {
		return slices.ContainsFunc(msgs, func(m tea.Msg) bool { _, ok := m.(tea.QuitMsg); return ok })
	}
	ct := newConsoleTest(t)
	if quits(ct.do(key("q"))) {
		t.Fatal("q quit without asking")
	}
	if f := ct.footer(); !strings.Contains(f, "Quit the console?  y = yes, any other key = no") {
		t.Errorf("q asks no question: %q", f)
	}
	if quits(ct.do(key("n"))) {
		t.Fatal("n quit")
	}
	ct.wantScreen("cancelled: Quit the console")
	ct.do(key("q"))
	if !quits(ct.do(key("y"))) {
		t.Error("q, y did not quit")
	}

	// Space answers no to a question: push-to-talk comes first.
	ct = newConsoleTest(t)
	ct.io.down = granted
	ct.do(key("q"))
	ct.keys("space")
	ct.wantCalls(callDown{Seq: 1, Talkgroup: 100})
	ct.notScreen("Quit the console?")
	ct.wantScreen("ON AIR")

	// ctrl+c quits at once, ending the transmission first.
	ct.io.up = func(r PTTRequest) tea.Msg { return PTTEndedMsg{Seq: r.Seq, Talkgroup: r.Talkgroup} }
	msgs := ct.exec(ct.send(key("ctrl+c")))
	if want := []tea.Msg{PTTEndedMsg{Seq: 1, Talkgroup: 100}, tea.QuitMsg{}}; !reflect.DeepEqual(msgs, want) {
		t.Errorf("ctrl+c on air: messages %v, want %v (PTTUp before quitting)", msgs, want)
	}
	ct.wantCalls(callUp{Seq: 1, Talkgroup: 100})

	// ctrl+c quits from a prompt too.
	ct = newConsoleTest(t)
	ct.keys("2", "/")
	if !quits(ct.do(key("ctrl+c"))) {
		t.Error("ctrl+c in a prompt did not quit")
	}
	ct.wantCalls()
}

// b switches space to broadcast group calls, shown before and on air.
func TestConsoleBroadcastCalls(t *testing.T) {
	ct := newConsoleTest(t)
	ct.io.down = granted
	ct.keys("b")
	ct.wantScreen("BROADCAST: only you talk until the call ends", "broadcast calls: space talks")
	ct.keys("space")
	ct.wantCalls(callDown{Seq: 1, Talkgroup: 100, Broadcast: true})
	ct.wantScreen("ON AIR BROADCAST tg 100 Patrol North")
	ct.keys("b")
	ct.wantScreen("release push-to-talk before changing the call type")
	ct.clock.advance(time.Second)
	ct.keys("space")
	ct.io.take()
	ct.keys("b")
	ct.notScreen("BROADCAST:")
	ct.clock.advance(time.Second)
	ct.keys("space")
	ct.wantCalls(callDown{Seq: 2, Talkgroup: 100})
}
