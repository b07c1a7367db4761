package tui

import (
	"errors"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/varta-ptt/varta/protocol/pb"
)

// fakeClock is the model's clock in tests.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// radioIO records the calls of the radio's I/O functions. The model must
// never make them itself: only the commands it returns do.
type radioIO struct {
	mu     sync.Mutex
	calls  []string
	down   []PTTRequest
	up     []PTTRequest
	emerg  []PTTRequest
	sel    []uint32
	answer func(PTTRequest) tea.Msg // what PTTDown and Emergency return
}

func (f *radioIO) record(kind string, req PTTRequest, list *[]PTTRequest) tea.Msg {
	f.mu.Lock()
	f.calls = append(f.calls, kind)
	*list = append(*list, req)
	answer := f.answer
	f.mu.Unlock()
	if answer != nil && kind != "up" {
		return answer(req)
	}
	return nil
}

func (f *radioIO) n() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *radioIO) config(cfg RadioConfig) RadioConfig {
	cfg.PTTDown = func(r PTTRequest) tea.Msg { return f.record("down", r, &f.down) }
	cfg.PTTUp = func(r PTTRequest) tea.Msg { return f.record("up", r, &f.up) }
	cfg.Emergency = func(r PTTRequest) tea.Msg { return f.record("emergency", r, &f.emerg) }
	cfg.SelectTalkgroup = func(tg uint32) tea.Msg {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.calls = append(f.calls, "select")
		f.sel = append(f.sel, tg)
		return nil
	}
	return cfg
}

// radioTest drives a RadioModel through Update and checks that Update
// itself never does I/O.
type radioTest struct {
	t     *testing.T
	m     *RadioModel
	io    *radioIO
	clock *fakeClock
}

func newRadioTest(t *testing.T) *radioTest {
	t.Helper()
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	fio := &radioIO{}
	m := NewRadio(fio.config(RadioConfig{
		Unit: 101, Alias: "P-101", Now: clock.now,
		Talkgroups: []Talkgroup{{ID: 100, Name: "Patrol North"}, {ID: 200, Name: "Patrol South"}},
	}))
	// A tick command would sleep; this one answers at once (and exec
	// drops its message).
	m.tickCmd = func() tea.Cmd { return func() tea.Msg { return tickMsg(clock.now()) } }
	rt := &radioTest{t: t, m: m, io: fio, clock: clock}
	rt.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	rt.send(ConnState{Up: true})
	return rt
}

// send runs Update and returns its command, failing if Update called an
// I/O function by itself.
func (rt *radioTest) send(msg tea.Msg) tea.Cmd {
	rt.t.Helper()
	before := rt.io.n()
	_, cmd := rt.m.Update(msg)
	if after := rt.io.n(); after != before {
		rt.t.Fatalf("Update(%T) made %d I/O calls itself; they must run only in the returned tea.Cmd", msg, after-before)
	}
	return cmd
}

// exec runs cmd as Bubble Tea would, flattening batches and sequences,
// and returns the messages it produced, tick messages left out (a tick
// command would sleep).
func (rt *radioTest) exec(cmd tea.Cmd) []tea.Msg {
	rt.t.Helper()
	return runCmd(cmd, func(m tea.Msg) bool { _, tick := m.(tickMsg); return tick })
}

// runCmd runs cmd as Bubble Tea would, flattening batches and sequences in
// order, and returns the messages it produced except those skip drops.
func runCmd(cmd tea.Cmd, skip func(tea.Msg) bool) []tea.Msg {
	if cmd == nil {
		return nil
	}
	msg := cmd()
	if msg == nil {
		return nil
	}
	if b, ok := msg.(tea.BatchMsg); ok {
		var out []tea.Msg
		for _, c := range b {
			out = append(out, runCmd(c, skip)...)
		}
		return out
	}
	// tea.Sequence's message type is unexported: a slice of commands.
	if v := reflect.ValueOf(msg); v.Kind() == reflect.Slice && v.Type().Elem() == reflect.TypeOf(tea.Cmd(nil)) {
		var out []tea.Msg
		for i := range v.Len() {
			out = append(out, runCmd(v.Index(i).Interface().(tea.Cmd), skip)...)
		}
		return out
	}
	if skip(msg) {
		return nil
	}
	return []tea.Msg{msg}
}

// do sends msg, runs the command and feeds what it produced back, as the
// program would. It returns the messages the command produced.
func (rt *radioTest) do(msg tea.Msg) []tea.Msg {
	rt.t.Helper()
	msgs := rt.exec(rt.send(msg))
	for _, m := range msgs {
		if _, quit := m.(tea.QuitMsg); quit {
			continue
		}
		rt.send(m)
	}
	return msgs
}

// screen is the view's text without styling.
func (rt *radioTest) screen() string {
	return ansi.Strip(rt.m.View().Content)
}

// words joins s's words with single spaces, so that text wrapped over
// lines compares with the sentence.
func words(s string) string { return strings.Join(strings.Fields(s), " ") }

func (rt *radioTest) wantScreen(subs ...string) {
	rt.t.Helper()
	wantScreen(rt.t, rt.screen(), subs...)
}

func (rt *radioTest) notScreen(subs ...string) {
	rt.t.Helper()
	notScreen(rt.t, rt.screen(), subs...)
}

// wantScreen fails t unless screen shows each of subs, as they are or
// wrapped over lines.
func wantScreen(t testing.TB, screen string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(screen, sub) && !strings.Contains(words(screen), words(sub)) {
			t.Errorf("screen lacks %q:\n%s", sub, screen)
		}
	}
}

// notScreen fails t if screen shows any of subs.
func notScreen(t testing.TB, screen string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if strings.Contains(screen, sub) {
			t.Errorf("screen shows %q, it should not:\n%s", sub, screen)
		}
	}
}

func key(s string) tea.KeyPressMsg {
	switch s {
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "shift+tab":
		return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(s)[0]
	return tea.KeyPressMsg{Code: r, Text: s}
}

var spaceRepeat = tea.KeyPressMsg{Code: tea.KeySpace, Text: " ", IsRepeat: true}
var spaceRelease = tea.KeyReleaseMsg{Code: tea.KeySpace}

func granted(req PTTRequest) tea.Msg {
	return FloorResultMsg{Seq: req.Seq, Talkgroup: req.Talkgroup, Result: &pb.FloorResult{
		Talkgroup: req.Talkgroup, Status: pb.FloorStatus_FLOOR_GRANTED, MaxTalkMs: 60000}}
}

func queued(pos uint32) func(PTTRequest) tea.Msg {
	return func(req PTTRequest) tea.Msg {
		return FloorResultMsg{Seq: req.Seq, Talkgroup: req.Talkgroup, Result: &pb.FloorResult{
			Talkgroup: req.Talkgroup, Status: pb.FloorStatus_FLOOR_QUEUED, Position: pos}}
	}
}

func TestRadioScreenFits(t *testing.T) {
	for _, size := range []struct{ w, h int }{{80, 24}, {40, 24}, {40, 30}} {
		rt := newRadioTest(t)
		rt.send(tea.WindowSizeMsg{Width: size.w, Height: size.h})
		rt.send(AudioStatus{Why: "no audio capture or playback device: this machine has no sound card (/dev/snd is missing) and no PulseAudio or PipeWire server is running; the radio can still transmit a WAV file with --tx and record with --record"})
		rt.send(KeyState{Talkgroup: 100, Have: true, Epoch: 3})
		rt.send(FloorMsg{Event: &pb.FloorEvent{Kind: pb.FloorEventKind_FLOOR_EVENT_TAKEN, Talkgroup: 100, Talker: 102, TalkerAlias: "P-102", Emergency: pb.Emergency_EMERGENCY_EMERGENCY}})
		rt.send(key("e"))
		rt.send(key("e"))
		for i := range 8 {
			rt.send(EventMsg{Text: strings.Repeat("long event text ", 3) + string(rune('a'+i))})
		}
		lines := strings.Split(rt.screen(), "\n")
		if len(lines) > size.h {
			t.Errorf("%dx%d: %d lines:\n%s", size.w, size.h, len(lines), rt.screen())
		}
		for _, l := range lines {
			if w := ansi.StringWidth(l); w > size.w {
				t.Errorf("%dx%d: line of %d cells: %q", size.w, size.h, w, l)
			}
		}
		// What matters most is on screen even at 40 columns.
		rt.wantScreen("P-101 (101)", "TG 100", "Patrol North", "P-102 (102)", "EMERGENCY", "no sound card", "--tx", "--record")
	}
}

func TestRadioScreenStates(t *testing.T) {
	taken := func(tg, unit uint32, alias string, em pb.Emergency) FloorMsg {
		return FloorMsg{Event: &pb.FloorEvent{Kind: pb.FloorEventKind_FLOOR_EVENT_TAKEN, Talkgroup: tg, Talker: unit, TalkerAlias: alias, Emergency: em}}
	}
	tests := []struct {
		name  string
		setup func(rt *radioTest)
		want  []string
		not   []string
	}{
		{"start", func(rt *radioTest) {}, []string{"VARTA", "P-101 (101)", "● connected", "TG 100", "Patrol North", "[1/2]", "RX   idle", "PTT  idle", "toggle mode", "Audio  checking", "waiting for the voice key"}, nil},
		{"connecting", func(rt *radioTest) { rt.m.connKnown = false }, []string{"○ connecting"}, nil},
		{"offline", func(rt *radioTest) { rt.send(ConnState{Err: "the relay stopped answering"}) }, []string{"OFFLINE, reconnecting", "connection lost: the relay stopped answering"}, []string{"● connected"}},
		{"refused", func(rt *radioTest) {
			rt.send(ConnState{Err: "the relay refused this radio: unit 101 is stunned", Fatal: true})
		}, []string{"OFF THE NETWORK", "unit 101 is stunned"}, nil},
		{"key", func(rt *radioTest) { rt.send(KeyState{Talkgroup: 100, Have: true, Epoch: 7}) }, []string{"epoch 7, end-to-end encrypted"}, nil},
		{"no key", func(rt *radioTest) { rt.send(KeyState{Talkgroup: 100}) }, []string{"NONE: cannot talk or hear"}, nil},
		{"talker", func(rt *radioTest) { rt.send(taken(100, 102, "P-102", 0)) }, []string{"P-102 (102) talking 0:00", "tg 100: P-102 (102) talking"}, []string{"RX   idle"}},
		{"talker clock", func(rt *radioTest) {
			rt.send(taken(100, 102, "P-102", 0))
			rt.clock.advance(4 * time.Second)
		}, []string{"talking 0:04"}, nil},
		{"talker heard", func(rt *radioTest) {
			rt.send(taken(100, 102, "P-102", 0))
			rt.send(TalkerMsg{Talkgroup: 100, Unit: 102, Alias: "P-102", Active: true})
		}, []string{"talking 0:00 ♪"}, nil},
		{"talker on other talkgroup", func(rt *radioTest) { rt.send(taken(200, 103, "P-103", 0)) }, []string{"RX   idle", "tg 200: P-103 (103) talking"}, nil},
		{"emergency talker", func(rt *radioTest) { rt.send(taken(100, 102, "P-102", pb.Emergency_EMERGENCY_EMERGENCY)) }, []string{"P-102 (102) EMERGENCY talking 0:00", "tg 100: EMERGENCY call from P-102 (102)"}, nil},
		{"idle again", func(rt *radioTest) {
			rt.send(taken(100, 102, "P-102", 0))
			rt.send(FloorMsg{Event: &pb.FloorEvent{Kind: pb.FloorEventKind_FLOOR_EVENT_IDLE, Talkgroup: 100}})
		}, []string{"RX   idle"}, []string{"talking 0"}},
		{"heard summary", func(rt *radioTest) {
			rt.send(TalkerMsg{Talkgroup: 100, Unit: 102, Alias: "P-102", Heard: 3200 * time.Millisecond, Concealed: 2})
		}, []string{"tg 100: heard P-102 (102) for 3.2 s, 2 lost frames concealed"}, nil},
		{"requesting", func(rt *radioTest) { rt.send(key("space")) }, []string{"requesting the floor", "press space again to stop (toggle mode)"}, nil},
		{"queued", func(rt *radioTest) {
			rt.io.answer = queued(2)
			rt.do(key("space"))
		}, []string{"QUEUED #2, waiting for the floor", "floor busy: queued #2"}, nil},
		{"queue moves", func(rt *radioTest) {
			rt.io.answer = queued(2)
			rt.do(key("space"))
			rt.send(FloorMsg{Event: &pb.FloorEvent{Kind: pb.FloorEventKind_FLOOR_EVENT_QUEUED, Talkgroup: 100, Position: 1}})
		}, []string{"QUEUED #1"}, nil},
		{"on air", func(rt *radioTest) {
			rt.io.answer = granted
			rt.do(key("space"))
			rt.clock.advance(12 * time.Second)
			rt.send(TxLevel{Level: 0.5})
		}, []string{"ON AIR  0:12 / 1:00", "mic  ██████████░░░░░░░░░░"}, []string{"PTT  idle"}},
		{"granted from queue", func(rt *radioTest) {
			rt.io.answer = queued(1)
			rt.do(key("space"))
			rt.send(FloorMsg{Event: &pb.FloorEvent{Kind: pb.FloorEventKind_FLOOR_EVENT_GRANTED, Talkgroup: 100, MaxTalkMs: 30000}})
		}, []string{"ON AIR  0:00 / 0:30"}, []string{"QUEUED"}},
		{"denied", func(rt *radioTest) {
			rt.io.answer = func(req PTTRequest) tea.Msg {
				return FloorResultMsg{Seq: req.Seq, Talkgroup: req.Talkgroup, Result: &pb.FloorResult{Status: pb.FloorStatus_FLOOR_DENIED, Cause: pb.Cause_CAUSE_QUEUE_FULL}}
			}
			rt.do(key("space"))
		}, []string{"DENIED: the queue is full", "floor denied: the queue is full"}, nil},
		{"denied from queue", func(rt *radioTest) {
			rt.io.answer = queued(3)
			rt.do(key("space"))
			rt.send(FloorMsg{Event: &pb.FloorEvent{Kind: pb.FloorEventKind_FLOOR_EVENT_DENIED, Talkgroup: 100, Cause: pb.Cause_CAUSE_QUEUE_TIMEOUT}})
		}, []string{"DENIED: waited in the queue too long"}, nil},
		{"revoked", func(rt *radioTest) {
			rt.io.answer = granted
			rt.do(key("space"))
			rt.send(FloorMsg{Event: &pb.FloorEvent{Kind: pb.FloorEventKind_FLOOR_EVENT_REVOKED, Talkgroup: 100, Cause: pb.Cause_CAUSE_MAX_TALK_TIME}})
		}, []string{"REVOKED: maximum talk time reached", "floor revoked: maximum talk time reached"}, []string{"ON AIR"}},
		{"revoked with reason", func(rt *radioTest) {
			rt.io.answer = granted
			rt.do(key("space"))
			rt.send(FloorMsg{Event: &pb.FloorEvent{Kind: pb.FloorEventKind_FLOOR_EVENT_REVOKED, Talkgroup: 100, Cause: pb.Cause_CAUSE_PREEMPTED, Reason: "DISPATCH-1 took the floor"}})
		}, []string{"REVOKED: DISPATCH-1 took the floor"}, nil},
		{"request failed", func(rt *radioTest) {
			rt.io.answer = func(req PTTRequest) tea.Msg {
				return FloorResultMsg{Seq: req.Seq, Talkgroup: req.Talkgroup, Err: errors.New("no voice key for talkgroup 100 yet")}
			}
			rt.do(key("space"))
		}, []string{"cannot talk: no voice key for talkgroup 100 yet"}, nil},
		{"offline refuses", func(rt *radioTest) {
			rt.send(ConnState{Err: "network unreachable"})
			if cmd := rt.send(key("space")); len(rt.exec(cmd)) != 0 || rt.io.n() != 0 {
				rt.t.Error("PTT while offline made a request")
			}
		}, []string{"cannot talk: not connected to the relay"}, nil},
		{"connection lost on air", func(rt *radioTest) {
			rt.io.answer = granted
			rt.do(key("space"))
			rt.send(ConnState{Err: "the relay stopped answering"})
		}, []string{"cannot talk: the connection was lost"}, []string{"ON AIR"}},
		{"emergency", func(rt *radioTest) {
			rt.send(key("e"))
			rt.send(key("e"))
		}, []string{"!! EMERGENCY DECLARED !!", "EMERGENCY declared on talkgroup 100"}, nil},
		{"audio missing", func(rt *radioTest) {
			rt.send(AudioStatus{Why: "no audio capture device: this machine has no sound card; the radio can still transmit a WAV file with --tx and record with --record"})
		}, []string{"no audio capture device: this machine has no sound card; the radio can still transmit a WAV file with --tx and record with --record"}, nil},
		{"audio ready", func(rt *radioTest) { rt.send(AudioStatus{Capture: true, Playback: true}) }, []string{"microphone and speaker ready"}, nil},
		{"welcome names", func(rt *radioTest) {
			rt.m.tgs[0].Name = ""
			rt.send(WelcomeMsg{Alias: "P-101B", Talkgroups: []Talkgroup{{ID: 100, Name: "North"}}})
		}, []string{"P-101B (101)", "North"}, nil},
		{"help", func(rt *radioTest) { rt.send(key("?")) }, []string{"push-to-talk", "next talkgroup", "declare or clear an emergency"}, nil},
		{"events keep the last five", func(rt *radioTest) {
			for _, s := range []string{"one", "two", "three", "four", "five", "six"} {
				rt.send(EventMsg{Text: "event " + s})
			}
		}, []string{"event two", "event six"}, []string{"event one"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := newRadioTest(t)
			tt.setup(rt)
			rt.wantScreen(tt.want...)
			rt.notScreen(tt.not...)
		})
	}
}

// The ON AIR bar and the emergency banner are in reverse video.
func TestRadioOnAirIsReverseVideo(t *testing.T) {
	rt := newRadioTest(t)
	rt.io.answer = granted
	rt.do(key("space"))
	rt.send(key("e"))
	rt.send(key("e"))
	reverse := regexp.MustCompile(`\x1b\[(?:[0-9]*;)*7(?:;[0-9]*)*m`)
	var onAir, banner bool
	for _, l := range strings.Split(rt.m.View().Content, "\n") {
		plain := ansi.Strip(l)
		switch {
		case strings.Contains(plain, "ON AIR"):
			onAir = reverse.MatchString(l)
			if w := ansi.StringWidth(l); w != 80 {
				t.Errorf("ON AIR bar is %d cells wide, want the whole line (80)", w)
			}
		case strings.Contains(plain, "EMERGENCY DECLARED"):
			banner = reverse.MatchString(l)
		}
	}
	if !onAir || !banner {
		t.Errorf("reverse video: ON AIR %v, emergency banner %v:\n%q", onAir, banner, rt.m.View().Content)
	}
	v := rt.m.View()
	if !v.AltScreen || !v.KeyboardEnhancements.ReportEventTypes {
		t.Errorf("view: alt screen %v, key release reports requested %v", v.AltScreen, v.KeyboardEnhancements.ReportEventTypes)
	}
}

func TestRadioToggleTalk(t *testing.T) {
	rt := newRadioTest(t)
	rt.wantScreen("space to talk, space again to stop (toggle mode")

	cmd := rt.send(key("space"))
	if rt.io.n() != 0 {
		t.Fatal("I/O before the command ran")
	}
	rt.io.answer = granted
	for _, m := range rt.exec(cmd) {
		rt.send(m)
	}
	if len(rt.io.down) != 1 || !reflect.DeepEqual(rt.io.down[0], PTTRequest{Seq: 1, Talkgroup: 100}) {
		t.Fatalf("PTTDown calls %+v, want one for talkgroup 100", rt.io.down)
	}
	rt.wantScreen("ON AIR")

	// A held key repeats in a terminal that reports no releases: the
	// repeats must not switch the transmitter off.
	for range 10 {
		rt.clock.advance(40 * time.Millisecond)
		if cmd := rt.send(key("space")); cmd != nil {
			if msgs := rt.exec(cmd); len(msgs) > 0 || rt.io.n() != 1 {
				t.Fatalf("a repeated space within the guard made %v", rt.io.calls)
			}
		}
	}
	rt.wantScreen("ON AIR")

	// A second press after a pause stops.
	rt.clock.advance(2 * time.Second)
	rt.do(key("space"))
	if len(rt.io.up) != 1 || rt.io.up[0].Seq != 1 || rt.io.up[0].Talkgroup != 100 {
		t.Fatalf("PTTUp calls %+v", rt.io.up)
	}
	rt.wantScreen("PTT  idle")
	rt.notScreen("ON AIR")

	// An answer to the ended request changes nothing.
	rt.send(granted(PTTRequest{Seq: 1, Talkgroup: 100}))
	rt.notScreen("ON AIR")
}

func TestRadioHoldToTalk(t *testing.T) {
	rt := newRadioTest(t)
	rt.send(tea.KeyboardEnhancementsMsg{Flags: ansi.KittyDisambiguateEscapeCodes | ansi.KittyReportEventTypes})
	if !rt.m.HoldToTalk() {
		t.Fatal("key release reports did not switch to hold-to-talk")
	}
	rt.wantScreen("hold space to talk")
	rt.notScreen("toggle mode")

	rt.io.answer = granted
	rt.do(key("space"))
	if len(rt.io.down) != 1 {
		t.Fatalf("PTTDown calls %d", len(rt.io.down))
	}
	rt.wantScreen("ON AIR")
	// Repeats while held do nothing.
	for range 5 {
		if msgs := rt.exec(rt.send(spaceRepeat)); len(msgs) != 0 {
			t.Fatalf("repeat produced %v", msgs)
		}
	}
	rt.clock.advance(3 * time.Second)
	if msgs := rt.exec(rt.send(key("space"))); len(msgs) != 0 || rt.io.n() != 1 {
		t.Fatal("a second press while held made a request")
	}
	rt.do(spaceRelease)
	if len(rt.io.up) != 1 || rt.io.up[0].Seq != 1 {
		t.Fatalf("PTTUp calls %+v", rt.io.up)
	}
	rt.notScreen("ON AIR")

	// Released before the answer: the request is withdrawn, and the late
	// grant is ignored.
	rt.io.answer = nil
	grant := rt.send(key("space"))
	rt.exec(grant)
	rt.do(spaceRelease)
	if len(rt.io.up) != 2 || rt.io.up[1].Seq != 2 {
		t.Fatalf("withdraw: PTTUp calls %+v", rt.io.up)
	}
	rt.send(granted(PTTRequest{Seq: 2, Talkgroup: 100}))
	rt.notScreen("ON AIR")
	rt.wantScreen("PTT  idle")
}

// A terminal that reports releases without saying so switches to hold
// mode on the first release.
func TestRadioReleaseDetectsHoldMode(t *testing.T) {
	rt := newRadioTest(t)
	rt.io.answer = granted
	rt.do(key("space"))
	rt.wantScreen("ON AIR")
	rt.do(spaceRelease)
	if !rt.m.HoldToTalk() {
		t.Fatal("still toggle mode after a release")
	}
	if len(rt.io.up) != 1 {
		t.Fatalf("the release did not end the transmission: %+v", rt.io.up)
	}
	rt.wantScreen("hold space to talk", "push-to-talk: hold space to talk (the terminal reported a key release)")
}

func TestRadioTalkgroupKeys(t *testing.T) {
	rt := newRadioTest(t)
	cmd := rt.send(key("t"))
	if rt.io.n() != 0 {
		t.Fatal("I/O before the command ran")
	}
	rt.exec(cmd)
	rt.wantScreen("TG 200", "Patrol South", "[2/2]")
	rt.do(key("tab"))
	rt.wantScreen("TG 100", "[1/2]")
	rt.do(key("shift+tab"))
	rt.wantScreen("TG 200")
	if !reflect.DeepEqual(rt.io.sel, []uint32{200, 100, 200}) {
		t.Fatalf("SelectTalkgroup calls %v", rt.io.sel)
	}
	// PTT talks on the selected talkgroup.
	rt.io.answer = granted
	rt.clock.advance(time.Second)
	rt.do(key("space"))
	if len(rt.io.down) != 1 || rt.io.down[0].Talkgroup != 200 {
		t.Fatalf("PTT on talkgroup %d, want 200", rt.io.down[0].Talkgroup)
	}
	// No change of talkgroup on air.
	rt.do(key("t"))
	rt.wantScreen("TG 200", "release the key before changing talkgroup")
	if len(rt.io.sel) != 3 {
		t.Fatal("changed talkgroup on air")
	}
}

func TestRadioEmergency(t *testing.T) {
	rt := newRadioTest(t)
	// One press only asks.
	if cmd := rt.send(key("e")); cmd != nil && len(rt.exec(cmd)) > 0 {
		t.Fatal("the first e did something")
	}
	rt.wantScreen("EMERGENCY? press e again to declare")
	rt.notScreen("EMERGENCY DECLARED")
	// Any other key cancels.
	rt.send(key("x"))
	rt.notScreen("EMERGENCY?")
	// The prompt expires.
	rt.send(key("e"))
	rt.clock.advance(6 * time.Second)
	rt.send(tickMsg(rt.clock.now()))
	rt.notScreen("EMERGENCY?")
	rt.send(key("e"))
	rt.wantScreen("EMERGENCY?")

	// Confirmed: an emergency call with the hot mic.
	cmd := rt.send(key("e"))
	if rt.io.n() != 0 {
		t.Fatal("I/O before the command ran")
	}
	rt.io.answer = granted
	for _, m := range rt.exec(cmd) {
		rt.send(m)
	}
	if len(rt.io.emerg) != 1 || !reflect.DeepEqual(rt.io.emerg[0], PTTRequest{Seq: 1, Talkgroup: 100, Emergency: true, HotMic: true}) {
		t.Fatalf("Emergency calls %+v", rt.io.emerg)
	}
	rt.wantScreen("!! EMERGENCY DECLARED !!", "ON AIR", "HOT MIC")
	if !rt.m.Emergency() {
		t.Fatal("Emergency() false")
	}

	// The key during the hot mic takes it over: same transmission.
	rt.clock.advance(time.Second)
	rt.do(key("space"))
	if len(rt.io.down) != 1 || !reflect.DeepEqual(rt.io.down[0], PTTRequest{Seq: 1, Talkgroup: 100, Emergency: true}) {
		t.Fatalf("take-over PTTDown calls %+v", rt.io.down)
	}
	rt.wantScreen("ON AIR", "EMERGENCY")
	rt.notScreen("HOT MIC")
	rt.clock.advance(2 * time.Second)
	rt.do(key("space"))
	if len(rt.io.up) != 1 {
		t.Fatalf("PTTUp calls %+v", rt.io.up)
	}

	// Later transmissions are emergency calls too.
	rt.clock.advance(2 * time.Second)
	rt.do(key("space"))
	if got := rt.io.down[len(rt.io.down)-1]; !got.Emergency || got.HotMic {
		t.Fatalf("PTT after the declaration: %+v", got)
	}
	rt.clock.advance(2 * time.Second)
	rt.do(key("space"))

	// Clearing asks too.
	rt.send(key("e"))
	rt.wantScreen("Clear the emergency?")
	rt.do(key("e"))
	rt.notScreen("EMERGENCY DECLARED")
	rt.wantScreen("emergency cleared on this radio")
}

// The hot mic ends by itself; the runner says so.
func TestRadioHotMicEnds(t *testing.T) {
	rt := newRadioTest(t)
	rt.io.answer = granted
	rt.send(key("e"))
	rt.do(key("e"))
	rt.wantScreen("HOT MIC")
	rt.send(PTTEndedMsg{Seq: 1, Talkgroup: 100, Reason: "the emergency hot mic closed after 10s"})
	rt.notScreen("ON AIR")
	rt.wantScreen("PTT  idle", "transmission ended: the emergency hot mic closed after 10s")
	// A stale end does not touch a new transmission.
	rt.clock.advance(time.Second)
	rt.do(key("space"))
	rt.send(PTTEndedMsg{Seq: 1, Talkgroup: 100})
	rt.wantScreen("ON AIR")
}

func TestRadioQuit(t *testing.T) {
	for _, k := range []string{"q", "ctrl+c"} {
		rt := newRadioTest(t)
		msgs := rt.exec(rt.send(key(k)))
		if len(msgs) != 1 || msgs[0] != (tea.QuitMsg{}) {
			t.Fatalf("%s: %v, want quit", k, msgs)
		}
		// On air, quitting ends the transmission first.
		rt = newRadioTest(t)
		rt.io.answer = granted
		rt.do(key("space"))
		msgs = rt.exec(rt.send(key(k)))
		if len(rt.io.up) != 1 || len(msgs) == 0 || msgs[len(msgs)-1] != (tea.QuitMsg{}) {
			t.Fatalf("%s on air: PTTUp %d, messages %v", k, len(rt.io.up), msgs)
		}
		rt.wantScreen("signing off")
	}
}

// Without a configured list the radio takes the relay's, on every
// Welcome, and keeps the selection when it can.
func TestRadioTalkgroupsFromRelay(t *testing.T) {
	fio := &radioIO{}
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	m := NewRadio(fio.config(RadioConfig{Unit: 101, Alias: "P-101", Now: clock.now}))
	rt := &radioTest{t: t, m: m, io: fio, clock: clock}
	rt.send(ConnState{Up: true})
	rt.wantScreen("waiting for the relay's list of talkgroups")
	rt.do(key("space"))
	rt.wantScreen("cannot talk: no talkgroup to talk on")
	if len(fio.down) != 0 {
		t.Fatal("PTT without a talkgroup made a request")
	}

	rt.do(WelcomeMsg{Talkgroups: []Talkgroup{{ID: 100, Name: "Patrol North"}, {ID: 200, Name: "Patrol South"}}, MaxTalk: 30 * time.Second})
	rt.wantScreen("TG 100", "Patrol North", "[1/2]")
	if !reflect.DeepEqual(fio.sel, []uint32{100}) {
		t.Fatalf("SelectTalkgroup calls %v", fio.sel)
	}
	rt.do(key("t"))
	// A reconnect with a changed list keeps talkgroup 200.
	rt.do(WelcomeMsg{Talkgroups: []Talkgroup{{ID: 300, Name: "Traffic"}, {ID: 200, Name: "Patrol South"}}})
	rt.wantScreen("TG 200", "[2/2]")
	if !reflect.DeepEqual(fio.sel, []uint32{100, 200}) {
		t.Fatalf("SelectTalkgroup calls %v", fio.sel)
	}
	rt.io.answer = granted
	rt.clock.advance(time.Second)
	rt.do(key("space"))
	if len(rt.io.down) != 1 || rt.io.down[0].Talkgroup != 200 {
		t.Fatalf("PTT on %d", rt.io.down[0].Talkgroup)
	}
}

// Update returns quickly with nothing to do when the I/O functions are
// missing, rather than crashing.
func TestRadioWithoutIO(t *testing.T) {
	m := NewRadio(RadioConfig{Unit: 1, Talkgroups: []Talkgroup{{ID: 1}}})
	for _, msg := range []tea.Msg{key("space"), key("space"), key("t"), key("e"), key("e"), spaceRelease} {
		m.Update(msg)
	}
	_ = m.View()
}
