package tui

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/varta-ptt/varta/codec"
	"github.com/varta-ptt/varta/radio"
	"github.com/varta-ptt/varta/server/store"
)

// The console against a real relay, end to end encrypted: it talks on two
// talkgroups at once (multiselect) and a radio on each receives exactly
// what it sent; it plays a radio's transmission, keeps it for recall and
// replays it; a muted talkgroup is not played; it lists the units; a
// private call reaches its unit alone.
func TestRunConsoleWithRelay(t *testing.T) {
	r := startTestRelay(t)
	got100, lcr100 := r.listenerOn(t, 102, "P-102", 100)
	got200, lcr200 := r.listenerOn(t, 104, "P-104", 200)

	id := r.enrol(900, "DISPATCH-1", store.RoleDispatcher, 100, 200)
	clip := tonePCM(50)
	spk := &speaker{}
	watch := newMsgWatch()
	keys, typeKeys := io.Pipe()
	errc := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	go func() {
		errc <- RunConsole(ctx, ConsoleRun{
			Identity: id, TxClip: clip, Input: keys, Output: io.Discard, RecallDir: t.TempDir(),
			ProgramOptions: []tea.ProgramOption{tea.WithFilter(watch.filter), tea.WithWindowSize(100, 30)},
			speaker:        spk.write, retryMin: 50 * time.Millisecond,
		})
	}()
	for _, tg := range []uint32{100, 200} {
		watch.wait(t, "a key", func(m tea.Msg) bool {
			k, ok := m.(KeyState)
			return ok && k.Talkgroup == tg && k.Have
		})
	}
	r.waitKeys(t, 100, lcr100, nil)
	r.waitKeys(t, 200, lcr200, nil)
	watch.wait(t, "the unit list", func(m tea.Msg) bool { u, ok := m.(UnitsMsg); return ok && len(u.Units) >= 4 })

	// Talkgroup 100 transmits (the default); 200 is multiselected.
	io.WriteString(typeKeys, "js ")
	watch.wait(t, "the grant", func(m tea.Msg) bool {
		f, ok := m.(FloorResultMsg)
		if ok && f.Err != nil {
			t.Fatalf("PTT: %v", f.Err)
		}
		return ok && f.Result.GetStatus() == 1
	})
	watch.wait(t, "the end of the transmission", func(m tea.Msg) bool { _, ok := m.(PTTEndedMsg); return ok })
	want, err := radio.Reference(clip, codec.EncoderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for tg, got := range map[uint16]<-chan radio.Transmission{100: got100, 200: got200} {
		select {
		case tx := <-got:
			if tx.Talker != 900 || tx.Talkgroup != tg || !tx.Complete || !tx.Verification.Verified {
				t.Fatalf("heard %d on %d, complete %v, %v", tx.Talker, tx.Talkgroup, tx.Complete, tx.Verification)
			}
			if len(tx.PCM) != len(want) || codec.SNR(want, tx.PCM) < 1e9 {
				t.Fatalf("tg %d received %d samples (want %d), SNR %.1f dB against the local decode", tg, len(tx.PCM), len(want), codec.SNR(want, tx.PCM))
			}
		case <-time.After(3 * waitLimit):
			t.Fatalf("the listener on %d heard nothing", tg)
		}
	}

	// Unit 103 talks on 100: the console plays it and keeps it.
	tc, tcr := r.talkingUnit(ctx, t, watch, 103, "P-103", 100)
	speech := tonePCM(75)
	talk := func() {
		t.Helper()
		if _, err := radio.Transmit(ctx, tc, tc.Events(), tcr, speech, radio.TxConfig{Talkgroup: 100}); err != nil {
			t.Fatal(err)
		}
	}
	played := func() (time.Duration, float64) {
		spk.mu.Lock()
		defer spk.mu.Unlock()
		return time.Duration(len(spk.pcm)) * time.Second / codec.SampleRate, energy(spk.pcm) / energy(speech)
	}
	talk()
	rc := watch.wait(t, "the recall of P-103", func(m tea.Msg) bool { c, ok := m.(RecallMsg); return ok && c.Unit == 103 }).(RecallMsg)
	if rc.Talkgroup != 100 || rc.Alias != "P-103" || rc.Duration < 1400*time.Millisecond || rc.Duration > 1600*time.Millisecond || !rc.Verified {
		t.Fatalf("recall %+v, want 1.5 s of P-103 on 100", rc)
	}
	if d, e := played(); d < 1400*time.Millisecond || d > 1700*time.Millisecond || e < 0.7 || e > 1.3 {
		t.Fatalf("the speaker played %v at %.2f of the energy sent, want about 1.5 s at 1", d, e)
	}

	// Back to talkgroup 100 and replay: the speaker plays it again.
	io.WriteString(typeKeys, "kr")
	deadline := time.Now().Add(waitLimit)
	for d, _ := played(); d < 2900*time.Millisecond; d, _ = played() {
		if time.Now().After(deadline) {
			t.Fatalf("the replay played %v, want about 1.5 s more", d-1500*time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	before, _ := played()

	// Muted, talkgroup 100 is followed on screen but not played.
	io.WriteString(typeKeys, "m")
	watch.wait(t, "the mute", func(m tea.Msg) bool { k, ok := m.(tea.KeyPressMsg); return ok && k.String() == "m" })
	talk()
	watch.wait(t, "the second transmission's end", func(m tea.Msg) bool {
		h, ok := m.(TalkerMsg)
		return ok && !h.Active && h.Unit == 103 && h.Heard > time.Second
	})
	if after, _ := played(); after != before {
		t.Fatalf("a muted talkgroup played %v", after-before)
	}

	// A private call to P-102 (first in the units table): the call's
	// talkgroup becomes the transmit talkgroup and P-102 hears the console
	// on it.
	io.WriteString(typeKeys, "2P")
	call := watch.wait(t, "the private call", func(m tea.Msg) bool {
		a, ok := m.(ActionResult)
		if ok && a.Err != nil {
			t.Fatalf("private call: %v", a.Err)
		}
		return ok && a.Talkgroup != 0
	}).(ActionResult)
	watch.wait(t, "the call's key", func(m tea.Msg) bool {
		k, ok := m.(KeyState)
		return ok && k.Talkgroup == call.Talkgroup && k.Have
	})
	io.WriteString(typeKeys, " ")
	watch.wait(t, "the grant on the call", func(m tea.Msg) bool {
		f, ok := m.(FloorResultMsg)
		if ok && f.Err != nil {
			t.Fatalf("PTT on the call: %v", f.Err)
		}
		return ok && f.Talkgroup == call.Talkgroup && f.Result.GetStatus() == 1
	})
	timeout := time.After(3 * waitLimit)
	for heard := false; !heard; {
		select {
		case tx := <-got100:
			if tx.Talker == 103 {
				continue // P-103's transmissions on 100, heard before
			}
			// The console talks the moment its own key arrives; P-102's
			// may land a frame or two later, and those frames it cannot
			// open.
			if tx.Talker != 900 || uint32(tx.Talkgroup) != call.Talkgroup || !tx.Complete || len(tx.PCM) < len(want)*9/10 {
				t.Fatalf("P-102 heard %d on %d (complete %v, %d samples), want the console on %d", tx.Talker, tx.Talkgroup, tx.Complete, len(tx.PCM), call.Talkgroup)
			}
			heard = true
		case <-timeout:
			t.Fatal("P-102 did not hear the private call")
		}
	}
	select {
	case tx := <-got200:
		t.Fatalf("P-104 heard %d on %d: not a party to the call", tx.Talker, tx.Talkgroup)
	default:
	}

	io.WriteString(typeKeys, "q")
	watch.wait(t, "the quit question", func(m tea.Msg) bool { k, ok := m.(tea.KeyPressMsg); return ok && k.String() == "q" })
	io.WriteString(typeKeys, "y")
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("RunConsole: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("q y did not end the console")
	}
	watch.mu.Lock()
	watch.console.view = viewTalkgroups
	screen := ansi.Strip(watch.console.render())
	watch.console.view = viewLog
	watch.console.height = 100
	log := ansi.Strip(watch.console.render())
	watch.mu.Unlock()
	for _, s := range []string{"DISPATCH-1 (900)", "mute", "100 Patrol North", "200 Patrol South"} {
		if !strings.Contains(screen, s) {
			t.Errorf("final screen lacks %q:\n%s", s, screen)
		}
	}
	for _, s := range []string{"heard P-103 (103) for 1.5 s", "replaying P-103 (103)", "multiselect: 100 Patrol North +200", "tg 100 Patrol North: muted", "(private call)"} {
		if !strings.Contains(log, s) {
			t.Errorf("the event log lacks %q:\n%s", s, log)
		}
	}
}
